//! `mailseal restore --from-replica DIR`, `mailseal verify --replica`
//! and the replicas' lines of `mailseal stats`.
//!
//! Both commands read the bucket of a `[[replica]]` block with its
//! credentials (an auditor's configuration may hold nothing else) and
//! never need the gateway's archive. `verify --replica` downloads each
//! gateway's segments one at a time into a scratch directory (each removed
//! once checked) and runs the one verifier (`archive::verify`) over them,
//! so the bucket is checked by exactly the rules a local archive is, with
//! the disk space of one segment.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::archive::{segment, verify};
use crate::config::{Config, ReplicaConfig};
use crate::replica::checkpoint::{self, Checkpoint};
use crate::replica::{S3, restore};

/// What `verify --replica` was asked.
pub struct VerifyReplica<'a> {
    /// `--replica NAME` (empty: the only or first `[[replica]]`).
    pub name: &'a str,
    /// `--all`: every gateway prefix in the bucket.
    pub all: bool,
    /// `--prefix`: this gateway's prefix instead of the block's.
    pub prefix: Option<&'a str>,
    /// `--public-key`.
    pub public_key: Option<&'a Path>,
    /// `--seal`.
    pub seals: &'a [PathBuf],
    /// `--tsa-ca`.
    pub tsa_ca: &'a [PathBuf],
    /// `--json`.
    pub json: bool,
}

/// The `[[replica]]` named `name` (empty: the first).
fn replica<'c>(config: &'c Config, name: &str) -> anyhow::Result<&'c ReplicaConfig> {
    let found = if name.is_empty() {
        config.replica.first()
    } else {
        config.replica.iter().find(|r| r.name == name)
    };
    found.ok_or_else(|| {
        if name.is_empty() {
            anyhow::anyhow!("no [[replica]] in the configuration")
        } else {
            anyhow::anyhow!("no [[replica]] named {name:?} in the configuration")
        }
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")
}

/// `mailseal restore --from-replica DIR`.
pub fn restore(
    config: &Config,
    into: &Path,
    name: &str,
    prefix: Option<&str>,
) -> anyhow::Result<u8> {
    let r = replica(config, name)?;
    let prefix = prefix.map_or(r.prefix.as_str(), |p| p.trim_matches('/'));
    let s3 = crate::replica::client(r)?;
    let started = std::time::Instant::now();
    let done = runtime()?
        .block_on(restore::restore(&s3, prefix, into))
        .with_context(|| format!("restoring {:?} from bucket {}", prefix, r.bucket))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "restored {} segments ({} joined from chunks), {} bytes, {} public keys into {} in {secs:.1} s; \
         the bucket holds {} seals",
        done.segments,
        done.joined,
        done.bytes,
        done.keys,
        into.display(),
        done.seals
    );
    println!(
        "next: mailseal verify --archive {} --public-key KEY; the index is rebuilt when the archive is opened \
         (the seal key is not in the bucket: put seal.key back from its backup before `mailseal run`)",
        into.display()
    );
    Ok(0)
}

/// `mailseal verify --replica`: one line per gateway.
pub fn verify(config: &Config, ask: &VerifyReplica<'_>) -> anyhow::Result<u8> {
    let r = replica(config, ask.name)?;
    let s3 = crate::replica::client(r)?;
    let rt = runtime()?;
    let prefixes = if ask.all {
        rt.block_on(restore::gateways(&s3))?
    } else {
        vec![
            ask.prefix
                .map_or(r.prefix.clone(), |p| p.trim_matches('/').to_owned()),
        ]
    };
    if prefixes.is_empty() {
        anyhow::bail!("bucket {} holds no mailseal archive", r.bucket);
    }
    let trusted = ask
        .public_key
        .map(super::inspect::read_public_key)
        .transpose()?;
    let options = super::inspect::verify_options(config, ask.seals, ask.tsa_ca)?;
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    let mut docs = Vec::new();
    for prefix in &prefixes {
        let shown = if prefix.is_empty() {
            "(no prefix)"
        } else {
            prefix
        };
        let result = verify_one(&rt, &s3, prefix, trusted.as_ref(), &options);
        match result {
            Ok(report) => {
                failed |= !report.ok();
                if ask.json {
                    docs.push(serde_json::json!({ "prefix": prefix, "report": report }));
                } else if report.ok() {
                    writeln!(
                        out,
                        "{shown}: ok: {} records, {} contents ({} bytes), {} seals; head {} {}",
                        report.records,
                        report.contents,
                        report.content_bytes,
                        report.seals,
                        report.head_seq,
                        report.head_hash
                    )?;
                } else {
                    writeln!(
                        out,
                        "{shown}: FAILED: first broken place: {}",
                        report.problems[0]
                    )?;
                    for p in &report.problems[1..] {
                        writeln!(out, "  also: {p}")?;
                    }
                }
            }
            Err(e) => {
                failed = true;
                if ask.json {
                    docs.push(serde_json::json!({ "prefix": prefix, "error": format!("{e:#}") }));
                } else {
                    writeln!(out, "{shown}: FAILED: {e:#}")?;
                }
            }
        }
    }
    if ask.json {
        serde_json::to_writer_pretty(&mut out, &docs)?;
        writeln!(out)?;
    } else if trusted.is_none() {
        writeln!(
            out,
            "note: no trusted public key; seals were checked against the keys they name"
        )?;
    }
    Ok(u8::from(failed))
}

fn verify_one(
    rt: &tokio::runtime::Runtime,
    s3: &S3,
    prefix: &str,
    trusted: Option<&ed25519_dalek::VerifyingKey>,
    options: &verify::TreeOptions,
) -> anyhow::Result<verify::Report> {
    let scratch = restore::scratch().context("creating a scratch directory")?;
    let inv = rt.block_on(restore::inventory(s3, prefix))?;
    let last = restore::last_segment(&inv, prefix)?;
    let numbers: Vec<u32> = (1..=last).collect();
    let dir = scratch.path();
    let fetch = |n| {
        rt.block_on(restore::fetch_segment(s3, prefix, &inv, n, dir))
            .map(drop)
            .map_err(std::io::Error::other)
    };
    let release = |n| {
        let _ = std::fs::remove_file(dir.join(segment::file_name(n)));
    };
    verify::verify_fetched(dir, &numbers, fetch, release, trusted, options)
        .with_context(|| format!("verifying {prefix:?} from the bucket"))
}

/// The replicas' lines of `mailseal stats`, from their checkpoints (the
/// lag is on `/metrics` and `/healthz`, which know the durable head).
pub fn stats_lines(config: &Config, out: &mut impl Write) -> anyhow::Result<()> {
    for r in &config.replica {
        let path = checkpoint::path(&config.archive.path, &r.name);
        match Checkpoint::load(&path) {
            Ok(c) => writeln!(
                out,
                "replica {}:{}replicated to record {} (segment {} offset {}); {} objects, {} bytes uploaded",
                r.name,
                " ".repeat(8usize.saturating_sub(r.name.len())),
                c.seq,
                c.segment,
                c.offset,
                c.objects,
                c.bytes
            )?,
            Err(e) => writeln!(out, "replica {}: checkpoint unreadable: {e}", r.name)?,
        }
    }
    Ok(())
}
