//! Commands that write: `import`, `export`, `reindex`, `hash-password`.

use std::io::Read;
use std::path::Path;

use anyhow::Context;

use crate::archive::chain::parse_hex;
use crate::archive::reader::Reader;
use crate::archive::{Archive, ArchiveError};
use crate::config::Config;
use crate::export::{self, ChainHead, ExportOptions};
use crate::import::{self, ImportKind};

use super::load::archive_options;
use super::progress::Bar;
use super::{ExportFormat, Filter, ImportCommand};

fn open(config: &Config) -> anyhow::Result<Archive> {
    Archive::open(&archive_options(&config.archive))
        .with_context(|| format!("opening archive {}", config.archive.path.display()))
}

/// `mailseal import eml|mbox|maildir`.
pub fn import(config: &Config, what: ImportCommand) -> anyhow::Result<u8> {
    let (kind, paths) = match what {
        ImportCommand::Eml { paths } => (ImportKind::Eml, paths),
        ImportCommand::Mbox { paths } => (ImportKind::Mbox, paths),
        ImportCommand::Maildir { paths } => (ImportKind::Maildir, paths),
        ImportCommand::Imap(_) => anyhow::bail!("IMAP imports are run by `imap_import::run`"),
    };
    let archive = open(config)?;
    let mut failures = 0usize;
    let mut error = None;
    for path in &paths {
        let bar = Bar::new(&path.display().to_string());
        let result = import::import_path(&archive, kind, path, &bar);
        bar.finish();
        match result {
            Ok(s) => {
                failures += s.failed.len();
                println!(
                    "{}: {} imported ({} already archived), {} bytes, {} failed",
                    path.display(),
                    s.imported,
                    s.duplicates,
                    s.bytes,
                    s.failed.len()
                );
                for f in &s.failed {
                    eprintln!("mailseal: not imported: {f}");
                }
            }
            Err(e) => {
                eprintln!("mailseal: {e}");
                error.get_or_insert(e);
            }
        }
    }
    archive.close()?;
    match error {
        Some(e) => Err(e.into()),
        None if failures > 0 => Err(anyhow::anyhow!("{failures} messages could not be imported")),
        None => Ok(0),
    }
}

/// `mailseal export`.
pub fn export(
    config: &Config,
    out: &Path,
    format: ExportFormat,
    filter: &Filter,
    with_proofs: bool,
) -> anyhow::Result<u8> {
    if with_proofs && format != ExportFormat::Eml {
        anyhow::bail!("--with-proofs needs --format eml (one proof beside each message)");
    }
    let reader = Reader::open(&archive_options(&config.archive))
        .with_context(|| format!("opening archive {}", config.archive.path.display()))?;
    let head = reader.head()?;
    let options = ExportOptions {
        out: out.to_path_buf(),
        format: match format {
            ExportFormat::Eml => export::ExportFormat::Eml,
            ExportFormat::Mbox => export::ExportFormat::Mbox,
        },
        chain_head: parse_hex(&head.hash).map(|hash| ChainHead {
            seq: head.seq,
            hash,
        }),
        seal: reader.last_seal()?.map(serde_json::to_value).transpose()?,
    };
    let wanted: Vec<u64> = reader
        .summaries()?
        .into_iter()
        .filter(|s| s.kind == "message" && filter.matches(s))
        .map(|s| s.seq)
        .collect();
    let records = wanted.iter().map(|&seq| {
        let (record, hash) = reader.record(seq)?;
        let hash = parse_hex(&hash)
            .ok_or_else(|| ArchiveError::Other(format!("record {seq}: bad hash")))?;
        Ok::<_, ArchiveError>((record, hash))
    });
    let summary = export::export(records, &reader, &options, &export::NoExportProgress)?;
    drop(reader);
    if with_proofs {
        super::prove::write_proofs(config, out, &wanted)?;
    }
    let note = if summary.inexact > 0 {
        format!(
            " ({} not byte-exact in mbox: no final newline; use --format eml)",
            summary.inexact
        )
    } else {
        String::new()
    };
    println!(
        "{}: {} messages, {} bytes{note}",
        out.display(),
        summary.messages,
        summary.bytes
    );
    Ok(0)
}

/// `mailseal reindex`.
pub fn reindex(config: &Config) -> anyhow::Result<u8> {
    let archive = Archive::open_reindexing(&archive_options(&config.archive))
        .with_context(|| format!("opening archive {}", config.archive.path.display()))?;
    let head = archive.reader().head()?;
    archive.close()?;
    println!("index rebuilt: {} records", head.seq);
    Ok(0)
}

/// `mailseal hash-password`: reads one line from stdin.
pub fn hash_password() -> anyhow::Result<u8> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take(4096)
        .read_to_string(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        anyhow::bail!("no password on standard input");
    }
    println!(
        "{}",
        crate::config::hash_password(password).map_err(|e| anyhow::anyhow!("{e}"))?
    );
    Ok(0)
}
