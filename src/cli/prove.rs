//! `mailseal prove`, `export --with-proofs` and `key rotate-seal`.
//!
//! When a daemon answers on the control socket it does all three: it
//! proves from its own tree file (O(log n) per proof) and rotates the key
//! with the writer it holds. Without a daemon this process opens the
//! archive: proofs come from the tree file (caught up first), or from a
//! tree built in memory on a copy (`--archive`); the rotation opens the
//! archive for writing.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::archive::Archive;
use crate::archive::seal::Seal;
use crate::control::protocol::MAX_PROVE;
use crate::proof::{InclusionProof, ProofError, Prover, source};

use super::load::archive_options;
use super::target::Target;

/// Runs `make` with a prover, and once more over a rebuilt tree file when
/// the stored one gave a proof that does not verify.
fn with_prover<T>(
    target: &Target,
    make: impl Fn(&Prover<'_, source::TreeSource>) -> Result<T, ProofError>,
) -> anyhow::Result<T> {
    let r = target.reader()?;
    let path = &target.config.archive.path;
    let tree = source::open(&r, path, false)?;
    let prover = Prover::new(&r, tree)?;
    match make(&prover) {
        Err(ProofError::Damaged(why)) if !r.in_memory() => {
            tracing::warn!(%why, "tree file gave a bad proof; rebuilding it");
            let tree = source::open(&r, path, true)?;
            Ok(make(&Prover::new(&r, tree)?)?)
        }
        other => Ok(other?),
    }
}

/// `mailseal prove ID`.
pub fn prove(target: &Target, id: u64) -> anyhow::Result<u8> {
    let asked = target.ask(|client| async move {
        let mut proofs = Vec::new();
        let mut keep = |p: InclusionProof| -> std::io::Result<()> {
            proofs.push(p);
            Ok(())
        };
        client.prove(vec![id], None, &mut keep).await?;
        Ok(proofs)
    })?;
    let proof = match asked.and_then(|mut p| p.pop()) {
        Some(proof) => proof,
        None => with_prover(target, |p| p.inclusion(id, p.head_for(id)?))?,
    };
    print_json(&proof)
}

/// Reads a seal an auditor kept: a seal JSON object, or a seal mail's
/// attachment (`{"seals": [...]}`, whose newest seal is taken).
pub fn read_seal(path: &Path) -> anyhow::Result<Seal> {
    read_seals(path)?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("{}: holds no seal", path.display()))
}

/// Every seal in a kept file (one seal, or a seal mail's attachment).
pub fn read_seals(path: &Path) -> anyhow::Result<Vec<Seal>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let seals = match value.get("seals") {
        Some(list) => serde_json::from_value(list.clone()),
        None => serde_json::from_value(value).map(|s| vec![s]),
    };
    seals.with_context(|| format!("{}: not a mailseal seal", path.display()))
}

/// `mailseal prove --consistency OLD_SEAL`.
pub fn prove_consistency(target: &Target, old: &Path) -> anyhow::Result<u8> {
    let old = read_seal(old)?;
    let kept = old.clone();
    if let Some(proof) = target.ask(|client| async move { client.prove_consistency(kept).await })? {
        return print_json(&proof);
    }
    let proof = with_prover(target, |p| {
        let new = p
            .newest_head()
            .ok_or_else(|| ProofError::Unprovable("the archive has no tree head yet".into()))?;
        p.consistency(&old, new)
    })?;
    print_json(&proof)
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(0)
}

/// Writes `<seq>.proof.json` beside each exported `<seq>.eml`, all
/// against one tree head (the newest that covers every message).
pub fn write_proofs(target: &Target, out: &Path, seqs: &[u64]) -> anyhow::Result<()> {
    let Some(&last) = seqs.iter().max() else {
        return Ok(());
    };
    if write_remote(target, out, seqs)? {
        return Ok(());
    }
    let proofs = with_prover(target, |p| {
        let head = p.head_for(last)?.clone();
        seqs.iter()
            .map(|&seq| p.inclusion(seq, &head))
            .collect::<Result<Vec<_>, _>>()
    })?;
    for proof in proofs {
        write_proof(out, &proof)?;
    }
    Ok(())
}

/// The proofs of `seqs` from the daemon, in requests of at most
/// `MAX_PROVE` records; false when no daemon answers. The request holding
/// the newest record goes first and fixes the tree head for the others.
fn write_remote(target: &Target, out: &Path, seqs: &[u64]) -> anyhow::Result<bool> {
    let mut sorted = seqs.to_vec();
    sorted.sort_unstable();
    let mut tree_size = None;
    for chunk in sorted.rchunks(MAX_PROVE) {
        let mut head = None;
        let asked = target.ask(|client| {
            let head = &mut head;
            async move {
                client
                    .prove(chunk.to_vec(), tree_size, &mut |proof: InclusionProof| {
                        *head = Some(proof.tree_head.seq);
                        write_proof(out, &proof).map_err(std::io::Error::other)
                    })
                    .await
            }
        })?;
        if asked.is_none() {
            // No daemon: fine before the first request (this process
            // proves instead), not between two (proofs of two heads).
            anyhow::ensure!(tree_size.is_none(), "the daemon stopped during the export");
            return Ok(false);
        }
        tree_size = tree_size.or(head);
    }
    Ok(true)
}

/// Writes `<seq>.proof.json` into `out`.
fn write_proof(out: &Path, proof: &InclusionProof) -> anyhow::Result<()> {
    let path = out.join(format!("{}.proof.json", proof.record.seq));
    let mut f =
        std::fs::File::create_new(&path).with_context(|| format!("creating {}", path.display()))?;
    serde_json::to_writer_pretty(&mut f, proof)?;
    writeln!(f)?;
    Ok(())
}

/// `mailseal key rotate-master`: through the daemon when it runs (it
/// holds the key store), else on the archive directly.
pub fn rotate_master(target: &Target) -> anyhow::Result<u8> {
    target.refuse_copy("key rotate-master")?;
    let r = match target.ask(|client| async move { client.rotate_master().await })? {
        Some(done) => done,
        None => {
            let config = target.config;
            let archive = Archive::open(&archive_options(config))
                .with_context(|| format!("opening archive {}", config.archive.path.display()))?;
            let r = archive.rotate_master_blocking();
            archive.close()?;
            r?
        }
    };
    println!(
        "master key rotated: {} -> {}; {} data keys re-wrapped, {} destroyed slots kept destroyed",
        hex::encode(r.old_id),
        hex::encode(r.new_id),
        r.live,
        r.destroyed
    );
    println!(
        "back up {} now and destroy every escrowed copy of the old master key",
        target.config.archive.master_key_file.display()
    );
    Ok(0)
}

/// `mailseal key rotate-seal`.
pub fn rotate_seal(target: &Target) -> anyhow::Result<u8> {
    target.refuse_copy("key rotate-seal")?;
    let (seq, seal) = match target.ask(|client| async move { client.rotate_seal().await })? {
        Some(done) => done,
        None => {
            let config = target.config;
            let archive = Archive::open(&archive_options(config))
                .with_context(|| format!("opening archive {}", config.archive.path.display()))?;
            let (appended, seal) = archive.rotate_key_blocking()?;
            archive.close()?;
            (appended.seq, seal)
        }
    };
    println!(
        "seal key rotated at record {seq}; new key ed25519 {}",
        seal.public_key
    );
    println!(
        "sealed {} records with it; keep the old public key: auditors follow the history from it",
        seal.seq
    );
    Ok(0)
}
