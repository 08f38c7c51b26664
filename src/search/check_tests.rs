//! Catch-up, check and repair against a real archive.

use super::*;
use crate::archive::record::{MessageMeta, Rcpt, Source, SourceKind};
use crate::archive::{Archive, NewMessage, SpooledContent};
use crate::search::catchup;
use crate::search::searcher::{SearchRequest, Sort};

fn append(archive: &Archive, i: u64, raw: &[u8]) {
    let meta = MessageMeta {
        source: Source {
            kind: SourceKind::Journal,
            name: "j".into(),
        },
        mail_from: Some(format!("sender{i}@example.org")),
        rcpts: vec![Rcpt {
            address: format!("rcpt{i}@example.com"),
            reply: None,
        }],
        ..Default::default()
    };
    archive
        .append_blocking(NewMessage {
            meta,
            content: SpooledContent::from_bytes(raw.to_vec()),
            evidence: None,
        })
        .unwrap_or_else(|e| panic!("append: {e}"));
}

fn found(index: &SearchIndex, q: &str) -> Vec<u64> {
    let req = SearchRequest {
        query: q.into(),
        limit: 100,
        sort: Sort::Date,
        cursor: None,
    };
    let hits = index.search(&req).unwrap_or_else(|e| panic!("{e}"));
    hits.hits.iter().map(|h| h.seq).collect()
}

#[test]
fn catch_up_check_and_repair() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let archive = Archive::open_dir(&dir.path().join("archive")).unwrap_or_else(|e| panic!("{e}"));
    for i in 1..=5 {
        let raw = format!("From: a{i}@example.org\r\nSubject: Bestellung {i}\r\n\r\nText {i}\r\n");
        append(&archive, i, raw.as_bytes());
    }
    // Malformed content is still found by its envelope and receive time.
    append(&archive, 6, b"\x00\x01\x02 not a message \xff");
    let reader = archive.reader();
    let local = LocalDomains::default();
    let index = SearchIndex::open(&dir.path().join("search"), Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut calls = 0;
    let seq = catchup::catch_up(&index, &reader, &local, &mut |_, _| calls += 1)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((seq, calls), (6, 6));
    assert_eq!(found(&index, "bestellung"), vec![1, 2, 3, 4, 5]);
    assert_eq!(found(&index, "from:sender6@example.org"), vec![6]);
    assert_eq!(
        found(&index, "rcpt:rcpt6@example.com received:2020.."),
        vec![6]
    );
    let report = check(&index, &reader).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.is_clean(), "{report:?}");
    assert_eq!((report.expected, report.indexed, report.head), (6, 6, 6));

    // Lose two documents and invent one: the check sees it, repair fixes it.
    index.delete(2).unwrap_or_else(|e| panic!("{e}"));
    index.delete(6).unwrap_or_else(|e| panic!("{e}"));
    let mut fake = crate::search::document::MessageDoc {
        seq: 40,
        ..Default::default()
    };
    fake.subject = "ghost".into();
    index.add(&fake).unwrap_or_else(|e| panic!("{e}"));
    index.commit(6).unwrap_or_else(|e| panic!("{e}"));
    let report = check(&index, &reader).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.missing, report.extra, report.stale), (2, 1, 0));
    repair(&index, &reader, &report, &local).unwrap_or_else(|e| panic!("{e}"));
    let report = check(&index, &reader).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(found(&index, "ghost"), Vec::<u64>::new());
    assert_eq!(found(&index, "bestellung"), vec![1, 2, 3, 4, 5]);

    // A rebuild from scratch ends where the archive ends.
    let seq =
        catchup::rebuild(&index, &reader, &local, &mut |_, _| {}).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((seq, index.num_docs()), (6, 6));
    archive.close().unwrap_or_else(|e| panic!("{e}"));
}
