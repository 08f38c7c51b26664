//! `mailseal audit [--since] [--user] [--json]`: lists the sealed `audit`
//! records, oldest first. Through the running daemon the reading is itself
//! recorded, naming the Unix user; without one (or on a copy, `--archive`)
//! the records are read from the files.

use std::io::Write;

use crate::archive::record::{Record, RecordBody};

use super::target::Target;

/// Runs the command.
pub fn run(
    target: &Target<'_>,
    since: Option<String>,
    user: Option<String>,
    json: bool,
) -> anyhow::Result<u8> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // The daemon reads with the key store: sealed fields it cannot open are
    // purged ones.
    let mut each = |record: Record, hash: String| print(&mut out, &record, &hash, json, true);
    let asked = {
        let (since, user, each) = (since.clone(), user.clone(), &mut each);
        target.ask(|client| async move { client.audit(since, user, each).await })?
    };
    if asked.is_some() {
        return Ok(0);
    }
    let reader = target.reader()?;
    let user = user.map(|u| u.to_lowercase());
    for summary in reader.iter_summaries() {
        let summary = summary?;
        if summary.kind != "audit" || since.as_deref().is_some_and(|s| summary.time.as_str() < s) {
            continue;
        }
        let (record, hash) = reader.record(summary.seq)?;
        let RecordBody::Audit(e) = &record.body else {
            continue;
        };
        if user
            .as_deref()
            .is_some_and(|u| !e.actor.to_lowercase().contains(u))
        {
            continue;
        }
        print(&mut out, &record, &hash, json, reader.keys().is_some())?;
    }
    Ok(0)
}

/// One line: tab-separated fields, or a JSON object.
/// `keys`: the record was read with the key store, so sealed fields left
/// empty were purged (without it they are only closed).
fn print(
    out: &mut impl Write,
    record: &Record,
    hash: &str,
    json: bool,
    keys: bool,
) -> std::io::Result<()> {
    let RecordBody::Audit(e) = &record.body else {
        return Ok(());
    };
    if json {
        let line = serde_json::json!({
            "seq": record.seq,
            "time": record.time,
            "hash": hash,
            "event": e,
        });
        return writeln!(out, "{line}");
    }
    let mut what = Vec::new();
    if let Some(q) = &e.query {
        what.push(format!("query {q}"));
    }
    if !e.records.is_empty() {
        let ids: Vec<String> = e.records.iter().map(u64::to_string).collect();
        what.push(format!("records {}", ids.join(",")));
    }
    if let Some(count) = e.count {
        what.push(format!("{count} times"));
    }
    if let Some(d) = &e.detail {
        what.push(d.clone());
    }
    writeln!(
        out,
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        record.seq,
        record.time,
        e.via,
        match (e.purged(), keys) {
            (false, _) => &e.actor,
            (true, true) => "(purged)",
            (true, false) => "(sealed: no master key)",
        },
        e.action,
        e.outcome,
        e.peer.as_deref().unwrap_or("-"),
        what.join("; ")
    )
}
