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
use crate::archive::{seal, verify};
use crate::config::Config;

use super::Filter;
use super::target::Target;

/// `mailseal verify`.
pub fn verify(config: &Config, public_key: Option<&Path>, json: bool) -> anyhow::Result<u8> {
    let trusted: Option<VerifyingKey> =
        match public_key {
            Some(p) => {
                let pem = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                Some(VerifyingKey::from_public_key_pem(&pem).map_err(|e| {
                    anyhow::anyhow!("{}: not an Ed25519 public key: {e}", p.display())
                })?)
            }
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
    let report = verify::verify(&segments, trusted.as_ref())
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
    } else {
        writeln!(out, "FAILED: first broken place: {}", report.problems[0])?;
        for p in &report.problems[1..] {
            writeln!(out, "  also: {p}")?;
        }
    }
    tracing::info!(bytes = report.content_bytes, secs, "verified");
    Ok(if report.ok() { 0 } else { 1 })
}

/// `mailseal stats`.
pub fn stats(target: &Target, json: bool) -> anyhow::Result<u8> {
    let st = match target.ask(|client| async move { client.stats().await })? {
        Some(st) => st,
        None => target.reader()?.stats()?,
    };
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &st)?;
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
    writeln!(out, "chain head:       {} {}", st.head_seq, st.head_hash)?;
    match &st.last_seal {
        Some(s) => writeln!(out, "last seal:        record {} at {}", s.seq, s.time)?,
        None => writeln!(out, "last seal:        none")?,
    }
    Ok(0)
}

/// `mailseal list`.
pub fn list(target: &Target, filter: &Filter, json: bool) -> anyhow::Result<u8> {
    let mut listing = Listing {
        out: std::io::BufWriter::new(std::io::stdout().lock()),
        json,
        header: false,
    };
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

/// `list`'s output: a header line before the first row, then one line (or
/// one JSON object) per record.
struct Listing<W: Write> {
    /// Where lines go.
    out: W,
    /// One JSON object per line instead of columns.
    json: bool,
    /// The header line is out.
    header: bool,
}

impl<W: Write> Listing<W> {
    fn head(&mut self) -> std::io::Result<()> {
        if !self.json && !self.header {
            writeln!(
                self.out,
                "{:>8}  {:<27}  {:<22}  {:<28}  {:<28}  {:<30}  {:>9}  hash",
                "id", "time", "source", "from", "to", "subject", "size"
            )?;
        }
        self.header = true;
        Ok(())
    }

    fn row(&mut self, s: &Summary) -> std::io::Result<()> {
        self.head()?;
        let out = &mut self.out;
        if self.json {
            serde_json::to_writer(&mut *out, s)?;
            return writeln!(out);
        }
        let source = format!(
            "{}:{}",
            s.source_kind.map(|k| k.as_str()).unwrap_or("-"),
            s.source_name
        );
        let from = s
            .headers
            .from
            .clone()
            .or_else(|| s.mail_from.clone())
            .unwrap_or_default();
        let to = s
            .headers
            .to
            .first()
            .or(s.rcpts.first())
            .cloned()
            .unwrap_or_default();
        let subject = s.headers.subject.clone().unwrap_or_default();
        writeln!(
            out,
            "{:>8}  {:<27}  {:<22}  {:<28}  {:<28}  {:<30}  {:>9}  {}",
            s.seq,
            s.time,
            clip(&source, 22),
            clip(&from, 28),
            clip(&to, 28),
            clip(&subject, 30),
            s.size,
            &s.sha256[..s.sha256.len().min(16)]
        )
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.head()?;
        self.out.flush()
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut c: String = s.chars().take(n - 1).collect();
    c.push('…');
    c
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
            r.write_content(&m.content.sha256, &mut out)?;
        }
        out.flush()?;
        return Ok(0);
    }
    let doc = match target.ask(|client| async move { client.show(id).await })? {
        Some(s) => {
            serde_json::json!({ "record": s.record, "hash": s.hash, "headers": s.headers, "segment": s.segment, "offset": s.offset })
        }
        None => {
            let r = target.reader()?;
            let (record, hash) = r.record(id)?;
            let summary = r.summary(id)?;
            serde_json::json!({ "record": record, "hash": hash, "headers": summary.headers, "segment": summary.segment, "offset": summary.offset })
        }
    };
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
