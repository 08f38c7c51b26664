//! `mailseal search` (a page of hits, in `list`'s columns), `search
//! --check` (the index against the segments, with `--repair`), and the
//! index side of `export --query` and `reindex`.
//!
//! While the daemon runs, its indexer owns the index and these go through
//! the control socket. Without a daemon the command opens the index
//! itself and first brings it up to the archive's head (building it when
//! there is none), so an answer never comes from a scan of the segments
//! and never misses a record.

use std::io::Write;

use anyhow::Context;

use crate::archive::index::Summary;
use crate::archive::reader::Reader;
use crate::control::client::SearchPage;
use crate::search::check as completeness;
use crate::search::{LocalDomains, SearchIndex, SearchRequest, Sort, catchup};

use super::listing::Listing;
use super::progress::Bar;
use super::target::Target;

/// What `mailseal search` was asked.
pub struct SearchArgs {
    /// The query.
    pub query: String,
    /// One JSON object per line.
    pub json: bool,
    /// Most hits.
    pub limit: usize,
    /// `date`, `-date` or `relevance`.
    pub sort: String,
    /// Continue after this cursor.
    pub cursor: Option<String>,
}

/// `mailseal search QUERY`.
pub fn search(target: &Target, args: SearchArgs) -> anyhow::Result<u8> {
    let sort = Sort::parse(&args.sort)
        .with_context(|| format!("unknown sort {:?}; use date, -date or relevance", args.sort))?;
    let mut listing = Listing::stdout(args.json);
    let page = SearchPage {
        query: args.query.clone(),
        limit: args.limit,
        sort: args.sort.clone(),
        cursor: args.cursor.clone(),
    };
    let remote = {
        let each = &mut |s: Summary| listing.row(&s);
        target.ask(|client| async move { client.search(page, each).await })?
    };
    let (total, next) = match remote {
        Some(end) => (end.total, end.next_cursor),
        None => {
            let (index, reader) = open_local(target)?;
            let hits = index.search(&SearchRequest {
                query: args.query,
                limit: args.limit,
                sort,
                cursor: args.cursor,
            })?;
            for hit in &hits.hits {
                listing.row(&reader.summary(hit.seq)?)?;
            }
            (hits.total as u64, hits.next_cursor)
        }
    };
    listing.finish()?;
    if !args.json {
        let more = next.map(|c| format!("; more with --cursor {c}"));
        eprintln!("{total} matching{}", more.unwrap_or_default());
    }
    Ok(0)
}

/// `mailseal search --check [--repair]`: exit 1 when the index was not
/// complete (and not repaired).
pub fn check(target: &Target, repair: bool, json: bool) -> anyhow::Result<u8> {
    let (report, repaired) =
        match target.ask(|client| async move { client.search_check(repair).await })? {
            Some(answer) => answer,
            None => {
                let (index, reader) = open_local(target)?;
                let report = completeness::check(&index, &reader)?;
                let repaired = repair && !report.is_clean();
                if repaired {
                    completeness::repair(&index, &reader, &report, &local_domains(target))?;
                }
                (serde_json::to_value(&report)?, repaired)
            }
        };
    let count = |k: &str| {
        report
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    let clean = count("missing") == 0 && count("extra") == 0 && count("stale") == 0;
    let mut out = std::io::stdout().lock();
    if json {
        let answer = serde_json::json!({ "report": report, "clean": clean, "repaired": repaired });
        serde_json::to_writer_pretty(&mut out, &answer)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "search index: {} documents for {} message records; indexed up to {} of {}",
            count("indexed"),
            count("expected"),
            count("indexed_seq"),
            count("head")
        )?;
        writeln!(
            out,
            "missing {}, extra {}, stale {}{}",
            count("missing"),
            count("extra"),
            count("stale"),
            if repaired { " (repaired)" } else { "" }
        )?;
    }
    Ok(if clean || repaired { 0 } else { 1 })
}

/// The search section of `mailseal stats`: the index compared with the
/// segments (through the daemon, else on the index here, without
/// catching it up first).
pub fn stats_section(target: &Target, out: &mut dyn Write) -> anyhow::Result<()> {
    let report = match target.ask(|client| async move { client.search_check(false).await })? {
        Some((report, _)) => report,
        None => {
            let dir = crate::search::index_dir(&target.config.archive.path);
            if !dir.join("meta.json").exists() {
                writeln!(
                    out,
                    "search index:     none yet (the first search builds it)"
                )?;
                return Ok(());
            }
            let reader = target.reader()?;
            serde_json::to_value(completeness::check(&open_index(target)?, &reader)?)?
        }
    };
    let count = |k: &str| {
        report
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    writeln!(
        out,
        "search index:     {} documents, indexed up to record {} of {}",
        count("indexed"),
        count("indexed_seq"),
        count("head")
    )?;
    writeln!(
        out,
        "  missing {}, extra {}, stale {} (mailseal search --check --repair)",
        count("missing"),
        count("extra"),
        count("stale")
    )?;
    Ok(())
}

/// The ids `export --query` exports, from the index opened here (no
/// daemon).
pub fn matching(target: &Target, query: &str) -> anyhow::Result<Vec<u64>> {
    let (index, _) = open_local(target)?;
    Ok(index.matching(query)?)
}

/// Brings the search index up to the archive's head here (no daemon):
/// after a purge, its tombstones take the purged messages out.
pub fn catch_up_local(target: &Target) -> anyhow::Result<()> {
    open_local(target).map(drop)
}

/// `reindex` without a daemon: the search index is built again from the
/// segments, with a progress bar on a terminal.
pub fn rebuild_local(target: &Target) -> anyhow::Result<u64> {
    let reader = target.reader()?;
    let index = open_index(target)?;
    let bar = Bar::records("search index");
    let seq = catchup::rebuild(&index, &reader, &local_domains(target), &mut |d, t| {
        bar.set(d, t)
    })?;
    bar.finish();
    Ok(seq)
}

fn local_domains(target: &Target) -> LocalDomains {
    LocalDomains::new(&target.config.archive.local_domains)
}

fn open_index(target: &Target) -> anyhow::Result<SearchIndex> {
    let dir = crate::search::index_dir(&target.config.archive.path);
    SearchIndex::open(&dir, Default::default())
        .with_context(|| format!("opening the search index in {}", dir.display()))
}

/// The index, brought up to the archive's head (built when missing).
fn open_local(target: &Target) -> anyhow::Result<(SearchIndex, Reader)> {
    let reader = target.reader()?;
    let index = open_index(target)?;
    let bar = Bar::records("indexing");
    catchup::catch_up(&index, &reader, &local_domains(target), &mut |d, t| {
        bar.set(d, t)
    })?;
    bar.finish();
    Ok((index, reader))
}
