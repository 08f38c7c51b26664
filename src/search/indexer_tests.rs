//! The indexer thread follows the archive, survives a deleted index and
//! stops cleanly.

use std::time::{Duration, Instant};

use super::*;
use crate::archive::record::{MessageMeta, Source, SourceKind};
use crate::archive::{Archive, NewMessage, SpooledContent};
use crate::search::searcher::{SearchRequest, Sort};

fn append(archive: &Archive, i: u64) -> u64 {
    let raw = format!("From: a@example.org\r\nSubject: Auftrag {i}\r\n\r\nText\r\n");
    archive
        .append_blocking(NewMessage {
            meta: MessageMeta {
                source: Source {
                    kind: SourceKind::Journal,
                    name: "j".into(),
                },
                ..Default::default()
            },
            content: SpooledContent::from_bytes(raw.into_bytes()),
            evidence: None,
        })
        .unwrap_or_else(|e| panic!("append: {e}"))
        .seq
}

/// Waits (with a deadline) until the indexer has committed `seq`.
fn wait_indexed(indexer: &Indexer, seq: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while indexer.status().indexed.load(Ordering::Relaxed) < seq {
        assert!(
            Instant::now() < deadline,
            "indexer stuck at {:?}",
            indexer.status()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(dir: &std::path::Path, q: &str) -> usize {
    let index = SearchIndex::open(dir, Default::default()).unwrap_or_else(|e| panic!("{e}"));
    let req = SearchRequest {
        query: q.into(),
        limit: 1000,
        sort: Sort::Date,
        cursor: None,
    };
    index.search(&req).unwrap_or_else(|e| panic!("{e}")).total
}

#[test]
fn follows_the_archive_and_rebuilds_a_deleted_index() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let archive = Archive::open_dir(&tmp.path().join("archive")).unwrap_or_else(|e| panic!("{e}"));
    for i in 1..=3 {
        append(&archive, i);
    }
    let dir = tmp.path().join("archive/search");
    let config = || Config {
        dir: dir.clone(),
        local: LocalDomains::default(),
        writer: Default::default(),
    };
    let indexer = Indexer::spawn(config(), archive.reader(), 3).unwrap_or_else(|e| panic!("{e}"));
    wait_indexed(&indexer, 3);
    for i in 4..=10 {
        let seq = append(&archive, i);
        indexer.notify(seq);
    }
    wait_indexed(&indexer, 10);
    assert_eq!(indexer.status().lag(), 0);

    // Deleted under the running indexer: the next commit fails, the
    // indexer opens a new index and indexes everything again.
    std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let seq = append(&archive, 11);
    indexer.notify(seq);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(dir.join("meta.json").exists()
        && indexer.status().indexed.load(Ordering::Relaxed) == 11)
    {
        assert!(
            Instant::now() < deadline,
            "no rebuild: {:?}",
            indexer.status()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    indexer.stop();
    assert_eq!(count(&dir, "auftrag"), 11);
    archive.close().unwrap_or_else(|e| panic!("{e}"));
}
