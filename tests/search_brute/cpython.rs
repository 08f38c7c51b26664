//! The index against a brute-force scan over CPython's `test_email`
//! corpus: for each field and operator, the index must return the same
//! ids as evaluating the query on every message directly, in the same
//! order for date sorts. The corpus has no truth of its own, so the
//! brute-force side reads the messages with mailseal's extractor; the
//! envelope, journal and IMAP context vary per message to exercise every
//! field. (Moved here from `src/search/brute_tests.rs` so that the
//! generated corpus shares the same oracle.)

use mailseal::archive::record::{
    ContentRef, ImapContext, JournalEnvelope, JournalRecipient, MessageMeta, Rcpt, Record,
    RecordBody, Source, SourceKind,
};
use mailseal::search::catchup::index_record;
use mailseal::search::document::MessageDoc;
use mailseal::search::query::parse;
use mailseal::search::{LocalDomains, SearchIndex, SearchRequest, Sort, extract};

use crate::support::corpus;
use crate::support::search_oracle::{matches, words};

fn meta(i: u64, size: u64) -> MessageMeta {
    let kind = [
        SourceKind::Journal,
        SourceKind::SmtpProxy,
        SourceKind::ImapProxy,
        SourceKind::Import,
    ][i as usize % 4];
    MessageMeta {
        source: Source {
            kind,
            name: format!("listener-{}", i % 3),
        },
        mail_from: Some(format!("env{}@sender{}.example", i % 5, i % 2)),
        rcpts: vec![Rcpt {
            address: format!("box{}@example.com", i % 4),
            reply: None,
        }],
        journal: (kind == SourceKind::Journal).then(|| JournalEnvelope {
            sender: Some(format!("env{}@sender{}.example", i % 5, i % 2)),
            recipients: vec![
                JournalRecipient {
                    field: "to".into(),
                    address: format!("box{}@example.com", i % 4),
                    ..Default::default()
                },
                JournalRecipient {
                    field: "bcc".into(),
                    address: format!("secret{}@example.com", i % 3),
                    expanded: vec!["all@example.com".into()],
                    ..Default::default()
                },
            ],
            ..Default::default()
        }),
        imap: (kind == SourceKind::ImapProxy).then(|| ImapContext {
            user: Some(format!("user{}", i % 2)),
            mailbox: Some(["INBOX", "Gesendete Objekte", "Archiv/2024"][i as usize % 3].into()),
            direction: "fetch".into(),
            ..Default::default()
        }),
        content: ContentRef {
            sha256: format!("{i:064x}"),
            size,
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn index_agrees_with_a_brute_force_scan_of_the_cpython_corpus() {
    let files = corpus::cpython_messages();
    assert!(files.len() >= 40, "{}", files.len());
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(&dir.path().join("search"), Default::default()).unwrap();
    let local = LocalDomains::new(["example.com", "python.org"]);
    let mut docs = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let seq = i as u64 + 1;
        let raw = std::fs::read(path).unwrap();
        // Receive times a day apart, some on equal seconds to test ties.
        let time = chrono::DateTime::from_timestamp(1_600_000_000 + (seq as i64 / 2) * 86_400, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            .unwrap_or_default();
        let m = meta(seq, raw.len() as u64);
        let record = Record {
            format: 1,
            seq,
            time,
            prev_hash: String::new(),
            body: RecordBody::Message(Box::new(m.clone())),
        };
        index_record(&index, &record, Some(&raw), &local).unwrap();
        docs.push(MessageDoc::new(
            &record,
            &m,
            extract::extract(&raw, &Default::default()),
            &local,
        ));
    }
    index.commit(docs.len() as u64).unwrap();

    let mut queries: Vec<String> = [
        "from:python.org",
        "from:barry",
        "to:python.org",
        "cc:python.org",
        "bcc:secret1@example.com",
        "rcpt:all@example.com",
        "rcpt:box2",
        "reply-to:python.org",
        "subject:test",
        "subject:\"dingus\"",
        "body:dingus",
        "body:message*",
        "attachment:text",
        "filename:txt",
        "type:text",
        "type:image",
        "type:application/octet-stream",
        "has:attachment",
        "-has:attachment",
        "message-id:*",
        "thread:python.org",
        "folder:inbox",
        "folder:\"gesendete objekte\"",
        "folder:archiv*",
        "user:user1",
        "source:journal",
        "source:imap-proxy",
        "listener:listener-1",
        "direction:inbound",
        "direction:outbound",
        "direction:external",
        "date:2001",
        "date:2001-01..2002-06",
        "date:<2000",
        "received:2020-09..2020-10-15",
        "received:>=2020-10",
        "size:>2k",
        "size:<1k",
        "size:1k..4k",
        "attachment-size:>100",
        "the",
        "\"the\"",
        "messages",
        "\"this is\"",
        "hello world",
        "hello OR world",
        "(test OR dingus) -from:barry",
        "NOT subject:test",
        "mult*",
        "python AND NOT date:2002",
        "from:(barry OR guido)",
        "text/plain",
        "\"Müller\"",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Words drawn from the messages themselves: subject and body words.
    for d in docs.iter().step_by(3) {
        if let Some(w) = words(&d.subject).into_iter().max_by_key(|w| w.len()) {
            queries.push(format!("subject:{w}"));
            queries.push(w);
        }
        if let Some(w) = words(&d.body).into_iter().filter(|w| w.len() > 3).nth(5) {
            queries.push(format!("body:{w}*"));
            queries.push(w);
        }
        if let Some(a) = d.from.first().filter(|a| a.contains('@')) {
            queries.push(format!("from:{a}"));
        }
    }
    queries.retain(|q| !q.starts_with("message-id:*"));
    let mut nonempty = 0;
    for q in &queries {
        let node = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let mut want: Vec<&MessageDoc> = docs.iter().filter(|d| matches(d, &node)).collect();
        for sort in [Sort::Date, Sort::DateDesc] {
            want.sort_by_key(|d| (d.date, d.seq));
            if sort == Sort::DateDesc {
                want.reverse();
            }
            let req = SearchRequest {
                query: q.clone(),
                limit: 1000,
                sort,
                cursor: None,
            };
            let got = index.search(&req).unwrap_or_else(|e| panic!("{q}: {e}"));
            let got: Vec<u64> = got.hits.iter().map(|h| h.seq).collect();
            let want: Vec<u64> = want.iter().map(|d| d.seq).collect();
            assert_eq!(got, want, "{q} ({sort:?})");
        }
        nonempty += usize::from(docs.iter().any(|d| matches(d, &node)));
    }
    // The comparison means something only if most queries find mail.
    assert!(
        nonempty * 4 >= queries.len() * 3,
        "{nonempty} of {} queries match",
        queries.len()
    );
}
