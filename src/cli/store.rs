//! Commands that write: `import`, `export`, `reindex`, `hash-password`.
//!
//! `import`, `export` and `reindex` are carried out by the running daemon
//! when one listens on the control socket (see [`Target`]): the CLI reads
//! the files to import and writes the export's files, the daemon appends
//! and reads the archive. Without a daemon they open the archive here.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::archive::chain::parse_hex;
use crate::archive::{Archive, ArchiveError};
use crate::config::Config;
use crate::control::ClientError;
use crate::control::client::ExportStream;
use crate::control::remote::BlockingSink;
use crate::export::{self, ChainHead, ContentSource, ExportOptions};
use crate::import::{self, Appender, ImportKind};

use super::load::archive_options;
use super::progress::Bar;
use super::target::Target;
use super::{ExportFormat, Filter, ImportCommand};

fn open(config: &Config) -> anyhow::Result<Archive> {
    Archive::open(&archive_options(config))
        .with_context(|| format!("opening archive {}", config.archive.path.display()))
}

/// `mailseal import eml|mbox|maildir`.
pub fn import(target: &Target, what: ImportCommand) -> anyhow::Result<u8> {
    target.refuse_copy("import")?;
    let (kind, paths) = match what {
        ImportCommand::Eml { paths } => (ImportKind::Eml, paths),
        ImportCommand::Mbox { paths } => (ImportKind::Mbox, paths),
        ImportCommand::Maildir { paths } => (ImportKind::Maildir, paths),
        ImportCommand::Imap(_) => anyhow::bail!("IMAP imports are run by `imap_import::run`"),
    };
    if let Some(client) = target.client() {
        match target.block_on(client.import()) {
            Err(ClientError::NoDaemon(_)) => {}
            Err(e) => return Err(e.into()),
            Ok(sink) => {
                let result = import_all(
                    &BlockingSink {
                        sink: &sink,
                        runtime: target.runtime(),
                    },
                    kind,
                    &paths,
                );
                // What was imported is durable either way; a failure that
                // ended the import is the one to report.
                let finished = target.block_on(sink.finish());
                return result.and_then(|code| finished.map(|()| code).map_err(Into::into));
            }
        }
    }
    let archive = open(target.config)?;
    let result = import_all(&archive, kind, &paths);
    archive.close()?;
    result
}

/// Imports every path into `sink`, reporting each.
fn import_all(sink: &dyn Appender, kind: ImportKind, paths: &[PathBuf]) -> anyhow::Result<u8> {
    let mut failures = 0usize;
    let mut error = None;
    for path in paths {
        let bar = Bar::new(&path.display().to_string());
        let result = import::import_into(sink, kind, path, &bar);
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
    match error {
        Some(e) => Err(e.into()),
        None if failures > 0 => Err(anyhow::anyhow!("{failures} messages could not be imported")),
        None => Ok(0),
    }
}

/// `mailseal export`.
pub fn export(
    target: &Target,
    out: &Path,
    format: ExportFormat,
    filter: &Filter,
    query: Option<&str>,
    with_proofs: bool,
) -> anyhow::Result<u8> {
    if with_proofs && format != ExportFormat::Eml {
        anyhow::bail!("--with-proofs needs --format eml (one proof beside each message)");
    }
    let conditions = filter.conditions();
    let mut options = ExportOptions {
        out: out.to_path_buf(),
        format: match format {
            ExportFormat::Eml => export::ExportFormat::Eml,
            ExportFormat::Mbox => export::ExportFormat::Mbox,
        },
        chain_head: None,
        seal: None,
    };
    let asked = conditions.clone();
    let q = query.map(str::to_string);
    // The exported messages' seqs, for their proofs.
    let mut exported = Vec::new();
    let summary =
        if let Some(stream) = target.ask(|client| async move { client.export(asked, q).await })? {
            export_remote(target, stream, &mut options, &mut exported)?
        } else {
            // The index answers the query (and is closed again before the
            // archive is read for the export).
            let only: Option<std::collections::BTreeSet<u64>> = match query {
                Some(q) => Some(super::search::matching(target, q)?.into_iter().collect()),
                None => None,
            };
            let reader = target.reader()?;
            let head = reader.head()?;
            options.chain_head = parse_hex(&head.hash).map(|hash| ChainHead {
                seq: head.seq,
                hash,
            });
            options.seal = reader.last_seal()?.map(serde_json::to_value).transpose()?;
            let wanted: Vec<u64> = reader
                .summaries()?
                .into_iter()
                .filter(|s| conditions.selects(s))
                .filter(|s| only.as_ref().is_none_or(|o| o.contains(&s.seq)))
                .filter(|s| s.seq <= head.seq)
                .map(|s| s.seq)
                .collect();
            exported.clone_from(&wanted);
            let records = wanted.iter().map(|&seq| {
                let (record, hash) = reader.record(seq)?;
                let hash = parse_hex(&hash)
                    .ok_or_else(|| ArchiveError::Other(format!("record {seq}: bad hash")))?;
                Ok::<_, ArchiveError>((record, hash))
            });
            export::export(records, &reader, &options, &export::NoExportProgress)?
        };
    if with_proofs {
        super::prove::write_proofs(target, out, &exported)?;
    }
    let note = if summary.inexact > 0 {
        format!(
            " ({} not byte-exact in mbox: no final newline; use --format eml)",
            summary.inexact
        )
    } else {
        String::new()
    };
    let purged = if summary.purged > 0 {
        format!("; {} purged (listed in manifest.json)", summary.purged)
    } else {
        String::new()
    };
    println!(
        "{}: {} messages, {} bytes{note}{purged}",
        out.display(),
        summary.messages,
        summary.bytes
    );
    Ok(0)
}

/// An export whose records and contents the daemon streams; the files are
/// written here, as the user running the CLI.
fn export_remote(
    target: &Target,
    stream: ExportStream,
    options: &mut ExportOptions,
    exported: &mut Vec<u64>,
) -> anyhow::Result<export::ExportSummary> {
    options.chain_head = parse_hex(&stream.head_hash).map(|hash| ChainHead {
        seq: stream.head_seq,
        hash,
    });
    options.seal = stream.seal.as_ref().map(serde_json::to_value).transpose()?;
    let stream = RefCell::new(stream);
    let records = std::iter::from_fn(|| {
        let next = target.block_on(stream.borrow_mut().next_record());
        match next {
            Ok(None) => None,
            Ok(Some((record, hash))) => Some(match parse_hex(&hash) {
                Some(hash) => {
                    exported.push(record.seq);
                    Ok((record, hash))
                }
                None => Err(ClientError::Unexpected(format!("record hash {hash:?}"))),
            }),
            Err(e) => Some(Err(e)),
        }
    });
    let source = Streamed {
        stream: &stream,
        target,
    };
    Ok(export::export(
        records,
        &source,
        options,
        &export::NoExportProgress,
    )?)
}

/// The content the daemon sends after each record.
struct Streamed<'a> {
    /// The export's connection.
    stream: &'a RefCell<ExportStream>,
    /// Its runtime.
    target: &'a Target<'a>,
}

impl ContentSource for Streamed<'_> {
    fn write_content(&self, _sha256: &[u8; 32], out: &mut dyn Write) -> std::io::Result<u64> {
        // The export checks the bytes against the record's hash and size.
        let written = self.target.block_on(self.stream.borrow_mut().content(out));
        written.map_err(|e| match e {
            ClientError::Output(io) => io,
            other => std::io::Error::other(other),
        })
    }

    fn purged(&self, seq: u64) -> Option<String> {
        match &self.stream.borrow().purged {
            Some((s, why)) if *s == seq => Some(why.clone()),
            _ => None,
        }
    }
}

/// `mailseal reindex`.
pub fn reindex(target: &Target) -> anyhow::Result<u8> {
    target.refuse_copy("reindex")?;
    let records = match target.ask(|client| async move { client.reindex().await })? {
        Some(records) => records,
        None => {
            let archive =
                Archive::open_reindexing(&archive_options(target.config)).with_context(|| {
                    format!("opening archive {}", target.config.archive.path.display())
                })?;
            let head = archive.reader().head()?;
            archive.close()?;
            let indexed = super::search::rebuild_local(target)?;
            println!("search index rebuilt: up to record {indexed}");
            head.seq
        }
    };
    println!("index rebuilt: {records} records");
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
