//! Read-only commands: `verify`, `stats`, `list`, `show`, `key show`.
//!
//! `stats`, `list` and `show` are answered by the running daemon when one
//! listens on the control socket (see [`Target`]), else from the archive's
//! files; the output is the same. `verify` and `key show` read files only.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use ed25519_dalek::VerifyingKey;
use ed25519_dalek::pkcs8::DecodePublicKey;

use crate::archive::index::Summary;
use crate::archive::reader::ProofFigures;
use crate::archive::{seal, verify};
use crate::config::Config;

use super::Filter;
use super::listing::Listing;
use super::target::Target;

/// Which master key `verify` decrypts with (format 2.3).
pub enum Decrypt {
    /// `[archive] master_key_file`, when the archive has a key store.
    Configured,
    /// This file (`--master-key`).
    With(std::path::PathBuf),
    /// None (`--no-decrypt`): ciphertext hashes only.
    Not,
}

impl Decrypt {
    /// From the command line's options.
    pub fn choose(master_key: Option<std::path::PathBuf>, no_decrypt: bool) -> Decrypt {
        match (master_key, no_decrypt) {
            (_, true) => Decrypt::Not,
            (Some(f), false) => Decrypt::With(f),
            (None, false) => Decrypt::Configured,
        }
    }

    /// The key store opened read-only with the chosen master key.
    fn keys(
        &self,
        config: &Config,
    ) -> anyhow::Result<Option<std::sync::Arc<crate::keystore::KeyStore>>> {
        let archive = &config.archive.path;
        let master = match self {
            Decrypt::Not => return Ok(None),
            Decrypt::With(f) => f,
            Decrypt::Configured if !crate::keystore::KeyStore::exists(archive) => return Ok(None),
            Decrypt::Configured => &config.archive.master_key_file,
        };
        crate::keystore::KeyStore::open_read_only(archive, master)
            .map(|k| Some(std::sync::Arc::new(k)))
            .with_context(|| format!("opening the key store with {}", master.display()))
    }
}

/// `mailseal verify`.
pub fn verify(
    config: &Config,
    public_key: Option<&Path>,
    json: bool,
    seals: &[std::path::PathBuf],
    tsa_ca: &[std::path::PathBuf],
    decrypt: Decrypt,
) -> anyhow::Result<u8> {
    let trusted: Option<VerifyingKey> = match public_key {
        Some(p) => Some(read_public_key(p)?),
        None => seal::load_key(&config.archive.key_file)
            .ok()
            .map(|k| k.verifying_key()),
    };
    let segments = config.archive.path.join("segments");
    if !segments.is_dir() {
        anyhow::bail!(
            "{} holds no archive (no segments/)",
            config.archive.path.display()
        );
    }
    let started = Instant::now();
    let mut options = verify_options(config, seals, tsa_ca)?;
    options.keys = decrypt.keys(config)?;
    let report = verify::verify_with(&segments, trusted.as_ref(), &options)
        .with_context(|| format!("reading {}", segments.display()))?;
    let secs = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else if report.ok() {
        writeln!(
            out,
            "ok: {} records, {} contents ({} bytes), {} seals; head {} {}",
            report.records,
            report.contents,
            report.content_bytes,
            report.seals,
            report.head_seq,
            report.head_hash
        )?;
        match report.sealed_seq {
            Some(s) if s < report.head_seq => writeln!(
                out,
                "note: records {}..{} are not sealed yet",
                s + 1,
                report.head_seq
            )?,
            None if report.head_seq > 0 => writeln!(out, "note: no seal yet")?,
            _ => {}
        }
        if trusted.is_none() {
            writeln!(
                out,
                "note: no trusted public key; seals were checked against the keys they name"
            )?;
        }
        if report.encrypted > 0 && report.decrypted {
            writeln!(
                out,
                "{} encrypted contents decrypted and checked with the master key",
                report.encrypted
            )?;
        } else if report.encrypted > 0 {
            writeln!(
                out,
                "note: {} encrypted contents checked by their ciphertext hashes only (not decrypted: no master key)",
                report.encrypted
            )?;
        }
        if report.purged_contents + report.purged_records > 0 {
            writeln!(
                out,
                "purged: {} contents, {} records (their keys are destroyed)",
                report.purged_contents, report.purged_records
            )?;
        }
        if report.purged_audit > 0 {
            writeln!(
                out,
                "purged: the personal fields of {} audit records (their years' audit keys are destroyed)",
                report.purged_audit
            )?;
        }
        let t = &report.tree;
        writeln!(out, "tree root {} over {} records", t.root, report.head_seq)?;
        if t.key_rotations > 0 {
            writeln!(
                out,
                "seal key rotated {} times; history followed",
                t.key_rotations
            )?;
        }
        if t.timestamps > 0 {
            writeln!(
                out,
                "{} time stamps, {} checked against a time-stamp authority's CA",
                t.timestamps, t.timestamps_checked
            )?;
        }
        if t.kept_seals > 0 {
            writeln!(
                out,
                "{} kept seals: the archive holds what they sealed",
                t.kept_seals
            )?;
        }
    } else {
        writeln!(out, "FAILED: first broken place: {}", report.problems[0])?;
        for p in &report.problems[1..] {
            writeln!(out, "  also: {p}")?;
        }
    }
    tracing::info!(bytes = report.content_bytes, secs, "verified");
    Ok(if report.ok() { 0 } else { 1 })
}

/// A public key from a PEM file (`key show`), or a file or argument
/// holding it in hex.
pub(super) fn read_public_key(p: &Path) -> anyhow::Result<VerifyingKey> {
    let given = p.to_string_lossy();
    let text = if given.len() == 64 && hex::decode(given.as_bytes()).is_ok() {
        given.to_string()
    } else {
        std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
    };
    if let Some(k) = crate::archive::keys::parse_key(text.trim()) {
        return Ok(k);
    }
    VerifyingKey::from_public_key_pem(&text)
        .map_err(|e| anyhow::anyhow!("{}: not an Ed25519 public key: {e}", p.display()))
}

/// Kept seals and time-stamp CAs for `verify`.
pub(super) fn verify_options(
    config: &Config,
    seals: &[std::path::PathBuf],
    tsa_ca: &[std::path::PathBuf],
) -> anyhow::Result<verify::TreeOptions> {
    let mut kept = Vec::new();
    for f in seals {
        kept.extend(super::prove::read_seals(f)?);
    }
    let mut trust: Option<mailseal_tsp::Trust> = None;
    for f in tsa_ca
        .iter()
        .chain(config.timestamp.iter().map(|t| &t.ca_file))
    {
        let pem = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let t = mailseal_tsp::Trust::from_pem(&pem)
            .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        trust.get_or_insert_with(Default::default).extend(t);
    }
    Ok(verify::TreeOptions {
        kept,
        tsa: trust,
        keys: None,
    })
}

/// `mailseal stats`.
pub fn stats(target: &Target, json: bool) -> anyhow::Result<u8> {
    let st = match target.ask(|client| async move { client.stats().await })? {
        Some(st) => st,
        None => target.reader()?.stats()?,
    };
    let proofs = proof_status(&st.proofs, target.config);
    let mut out = std::io::stdout().lock();
    if json {
        let mut doc = serde_json::to_value(&st)?;
        doc["proofs"] = serde_json::to_value(&proofs)?;
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
        return Ok(0);
    }
    writeln!(
        out,
        "records:          {} ({} messages)",
        st.records, st.messages
    )?;
    for (source, s) in &st.by_source {
        writeln!(
            out,
            "  {source:<15} {} messages, {} bytes",
            s.messages, s.bytes
        )?;
    }
    writeln!(out, "message bytes:    {}", st.message_bytes)?;
    writeln!(
        out,
        "unique contents:  {} ({} bytes)",
        st.unique_contents, st.unique_bytes
    )?;
    writeln!(out, "stored bytes:     {}", st.stored_bytes)?;
    writeln!(out, "segment bytes:    {}", st.segment_bytes)?;
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    writeln!(
        out,
        "dedup ratio:      {:.2}",
        ratio(st.message_bytes, st.unique_bytes)
    )?;
    writeln!(
        out,
        "compression:      {:.2}",
        ratio(st.unique_bytes, st.stored_bytes)
    )?;
    let r = &st.retention;
    if r.live.messages + r.held.messages + r.purgeable.messages + r.purged.messages > 0 {
        writeln!(
            out,
            "retention:        {} live ({} bytes), {} held ({} bytes), {} past keep-until ({} bytes), {} purged ({} bytes), {} without a rule",
            r.live.messages,
            r.live.bytes,
            r.held.messages,
            r.held.bytes,
            r.purgeable.messages,
            r.purgeable.bytes,
            r.purged.messages,
            r.purged.bytes,
            r.no_rule.messages
        )?;
    }
    if let Some(k) = &st.key_store {
        writeln!(out, "key store:        {} keys, {} bytes", k.slots, k.bytes)?;
    }
    writeln!(out, "chain head:       {} {}", st.head_seq, st.head_hash)?;
    match &st.last_seal {
        Some(s) => writeln!(out, "last seal:        record {} at {}", s.seq, s.time)?,
        None => writeln!(out, "last seal:        none")?,
    }
    super::search::stats_section(target, &mut out)?;
    if let Some(root) = &proofs.tree_root {
        writeln!(out, "tree head:        root {root} (signed)")?;
    }
    writeln!(
        out,
        "seal keys:        {} ({} rotations)",
        proofs.key, proofs.key_rotations
    )?;
    for a in &proofs.timestamps {
        writeln!(
            out,
            "time stamps:      {}: {} of {} tree heads stamped, {} waiting",
            a.authority, a.stamped, proofs.tree_heads, a.unstamped
        )?;
    }
    if let Some(m) = proofs.mailed_seq {
        writeln!(out, "seal mail:        seals up to record {m} mailed")?;
    }
    Ok(0)
}

/// Tree heads, time stamps and mailed seals for `stats`.
#[derive(serde::Serialize)]
struct ProofStatus {
    /// The newest signed tree head's root.
    tree_root: Option<String>,
    /// Version-2 seals.
    tree_heads: u64,
    /// The seal key now (hex).
    key: String,
    /// Seal-key rotations.
    key_rotations: u64,
    /// Per configured authority.
    timestamps: Vec<AuthorityStatus>,
    /// The newest seal mailed to witnesses, when `[seal_mail]` is on.
    mailed_seq: Option<u64>,
}

/// One time-stamp authority in `stats`.
#[derive(serde::Serialize)]
struct AuthorityStatus {
    /// Its configured name.
    authority: String,
    /// Tree heads it stamped.
    stamped: u64,
    /// Tree heads still waiting for its stamp.
    unstamped: u64,
}

fn proof_status(figures: &ProofFigures, config: &Config) -> ProofStatus {
    let mut names: Vec<String> = config.timestamp.iter().map(|t| t.name.clone()).collect();
    for name in figures.stamped.keys() {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let timestamps = names
        .into_iter()
        .map(|name| {
            let stamped = figures.stamped.get(&name).copied().unwrap_or(0);
            AuthorityStatus {
                unstamped: figures.tree_heads.saturating_sub(stamped),
                stamped,
                authority: name,
            }
        })
        .collect();
    let mailed_seq = config.seal_mail.as_ref().map(|_| {
        std::fs::read(config.archive.path.join("seal-mail.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("mailed_seq")?.as_u64())
            .unwrap_or(0)
    });
    ProofStatus {
        tree_root: figures.tree_root.clone(),
        tree_heads: figures.tree_heads,
        key: figures.key.clone(),
        key_rotations: figures.key_rotations,
        timestamps,
        mailed_seq,
    }
}

/// `mailseal list`.
pub fn list(target: &Target, filter: &Filter, json: bool) -> anyhow::Result<u8> {
    let mut listing = Listing::stdout(json);
    let conditions = filter.conditions();
    let remote = {
        let conditions = conditions.clone();
        let each = &mut |s: Summary| listing.row(&s);
        target.ask(|client| async move { client.list(conditions, each).await })?
    };
    if remote.is_none() {
        for s in target.reader()?.iter_summaries() {
            let s = s?;
            if conditions.selects(&s) {
                listing.row(&s)?;
            }
        }
    }
    listing.finish()?;
    Ok(0)
}

/// `mailseal show`.
pub fn show(target: &Target, id: u64, raw: bool) -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    if raw {
        let out_ref = &mut out;
        let remote = target.ask(|client| async move { client.show_raw(id, out_ref).await })?;
        if remote.is_none() {
            let r = target.reader()?;
            let (record, _) = r.record(id)?;
            let m = record.message().ok_or_else(|| {
                anyhow::anyhow!("record {id} is an outcome record and holds no message")
            })?;
            if let Some(p) = r.summary(id)?.purged {
                anyhow::bail!("record {id} was {}", p.describe());
            }
            r.write_content(&m.content.sha256, &mut out)?;
        }
        out.flush()?;
        return Ok(0);
    }
    let doc = match target.ask(|client| async move { client.show(id).await })? {
        Some(s) => {
            serde_json::json!({ "record": s.record, "hash": s.hash, "headers": s.headers, "segment": s.segment, "offset": s.offset, "purged": s.purged })
        }
        None => {
            let r = target.reader()?;
            let (record, hash) = r.record(id)?;
            let summary = r.summary(id)?;
            let purged = summary.purged.as_ref().map(|p| p.describe());
            serde_json::json!({ "record": record, "hash": hash, "headers": summary.headers, "segment": summary.segment, "offset": summary.offset, "purged": purged })
        }
    };
    if let Some(p) = doc.get("purged").and_then(|p| p.as_str()) {
        eprintln!("record {id} was {p}: its personal fields and content are gone");
    }
    serde_json::to_writer_pretty(&mut out, &doc)?;
    writeln!(out)?;
    Ok(0)
}

/// `mailseal key show`.
pub fn key_show(config: &Config) -> anyhow::Result<u8> {
    let key = seal::load_key(&config.archive.key_file)?;
    let public = key.verifying_key();
    let mut out = std::io::stdout().lock();
    write!(out, "{}", seal::public_pem(&public))?;
    writeln!(out, "ed25519 {}", hex::encode(public.as_bytes()))?;
    Ok(0)
}
