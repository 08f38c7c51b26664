//! The index over a small synthetic set: every field, the operators,
//! sorting and cursors, reopening, deleting for good, and damage.

use super::*;
use crate::archive::record::{
    ContentRef, MessageMeta, Rcpt, Record, RecordBody, Source, SourceKind,
};
use crate::search::LocalDomains;
use crate::search::catchup::index_record;
use crate::search::document::tests::journal_meta;
use crate::search::searcher::{SearchRequest, Sort};

fn record(seq: u64, time: &str, meta: MessageMeta) -> Record {
    Record {
        format: 1,
        seq,
        time: time.into(),
        prev_hash: "00".repeat(32),
        body: RecordBody::Message(Box::new(meta)),
    }
}

fn smtp(from: &str, to: &str, size: u64) -> MessageMeta {
    MessageMeta {
        source: Source {
            kind: SourceKind::SmtpProxy,
            name: "mx-in".into(),
        },
        mail_from: Some(from.into()),
        rcpts: vec![Rcpt {
            address: to.into(),
            reply: None,
        }],
        content: ContentRef {
            sha256: "00".repeat(32),
            size,
            ..Default::default()
        },
        ..Default::default()
    }
}

const PDF_MAIL: &str = "From: Lieferant <info@lieferant.de>\r\nTo: einkauf@example.com\r\n\
Subject: Rechnungen Januar\r\nDate: Mon, 15 Jan 2024 10:00:00 +0100\r\nMessage-ID: <r1@lieferant.de>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nAnbei die Rechnung von Herrn Müller.\r\n--b\r\n\
Content-Type: application/pdf; name=\"Rechnung-2024-001.pdf\"\r\n\
Content-Disposition: attachment; filename=\"Rechnung-2024-001.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";

const REPLY: &str = "From: Einkauf <einkauf@example.com>\r\nTo: info@lieferant.de\r\n\
Subject: Re: Rechnungen Januar\r\nDate: Tue, 16 Jan 2024 09:00:00 +0100\r\n\
Message-ID: <a2@example.com>\r\nIn-Reply-To: <r1@lieferant.de>\r\n\r\n\
Thanks, the invoices arrived. Mr Mueller will pay.\r\n";

const ENGLISH: &str = "From: bob@partner.co.uk\r\nTo: alice@example.com\r\nCc: carol@example.com\r\n\
Reply-To: billing@partner.co.uk\r\nSubject: Contract renewal\r\nDate: Fri, 01 Mar 2024 12:00:00 +0000\r\n\
Message-ID: <c3@partner.co.uk>\r\n\r\nPlease find the invoice for the contract attached soon.\r\n";

const INTERNAL: &str = "From: alice@example.com\r\nTo: carol@example.com\r\n\
Subject: Mittagessen\r\nDate: Sat, 01 Jun 2024 12:00:00 +0000\r\n\r\nGehen wir zum Café?\r\n";

/// Seq 1..=6: the PDF mail, the reply, an English mail, an internal one, a
/// journal report, and junk.
fn fixture(dir: &std::path::Path) -> SearchIndex {
    let index = SearchIndex::open(dir, Default::default()).unwrap_or_else(|e| panic!("{e}"));
    let local = LocalDomains::new(["example.com"]);
    let journal = journal_meta();
    let items: Vec<(Record, &[u8])> = vec![
        (
            record(
                1,
                "2024-01-15T09:00:05Z",
                smtp("info@lieferant.de", "einkauf@example.com", 900_000),
            ),
            PDF_MAIL.as_bytes(),
        ),
        (
            record(
                2,
                "2024-01-16T08:00:05Z",
                smtp("einkauf@example.com", "info@lieferant.de", 400),
            ),
            REPLY.as_bytes(),
        ),
        (
            record(
                3,
                "2024-03-01T12:00:05Z",
                smtp("bob@partner.co.uk", "alice@example.com", 2_000_000),
            ),
            ENGLISH.as_bytes(),
        ),
        (
            record(
                4,
                "2024-06-01T12:00:05Z",
                smtp("alice@example.com", "carol@example.com", 300),
            ),
            INTERNAL.as_bytes(),
        ),
        (
            record(5, "2025-02-01T00:00:00Z", journal),
            b"From: ceo@example.com\r\nSubject: Vertrag\r\n\r\nGeheim" as &[u8],
        ),
        (
            record(
                6,
                "2025-03-01T00:00:00Z",
                smtp("junk@spam.example", "x@example.com", 10),
            ),
            b"\x00\xff\xfe" as &[u8],
        ),
    ];
    for (r, raw) in &items {
        assert!(index_record(&index, r, Some(raw), &local).unwrap_or_else(|e| panic!("{e}")));
    }
    index.commit(6).unwrap_or_else(|e| panic!("{e}"));
    index
}

fn seqs(index: &SearchIndex, q: &str) -> Vec<u64> {
    let req = SearchRequest {
        query: q.into(),
        limit: 100,
        sort: Sort::Date,
        cursor: None,
    };
    let hits = index.search(&req).unwrap_or_else(|e| panic!("{q}: {e}"));
    assert_eq!(hits.total, hits.hits.len(), "{q}");
    hits.hits.iter().map(|h| h.seq).collect()
}

#[test]
fn every_field_and_operator() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ix = fixture(&dir.path().join("search"));
    for (q, want) in [
        // Addresses: whole, local part, domain, parent domain, name.
        ("from:info@lieferant.de", vec![1]),
        ("from:lieferant.de", vec![1]),
        ("from:einkauf", vec![2]),
        ("from:co.uk", vec![3]),
        ("from:lieferant", vec![1]),
        ("to:alice@example.com", vec![3]),
        ("cc:carol", vec![3]),
        ("reply-to:billing@partner.co.uk", vec![3]),
        // Journal recipients: Bcc, expanded list, forwarded, in rcpt.
        ("bcc:hidden@example.com", vec![5]),
        ("rcpt:hidden@example.com", vec![5]),
        ("rcpt:board@example.com", vec![5]),
        ("rcpt:old@example.com", vec![5]),
        ("to:supplier@other.org", vec![5]),
        ("rcpt:x@example.com", vec![6]),
        // Text: stems, umlauts, exact phrases, prefixes.
        ("rechnung", vec![1, 2]),
        ("subject:rechnung", vec![1, 2]),
        ("body:rechnung", vec![1]),
        ("\"rechnungen\"", vec![1, 2]),
        ("body:\"Rechnungen\"", vec![]),
        ("invoice", vec![2, 3]),
        ("\"invoices\"", vec![2]),
        ("müller", vec![1, 2]),
        ("Muller", vec![1, 2]),
        ("\"herrn mueller\"", vec![1]),
        ("cafe", vec![4]),
        ("rech*", vec![1, 2]),
        ("subject:mittag*", vec![4]),
        // Attachments.
        ("filename:rechnung", vec![1]),
        ("filename:\"Rechnung-2024-001.pdf\"", vec![1]),
        ("type:pdf", vec![1]),
        ("type:application/pdf", vec![1]),
        ("has:attachment", vec![1]),
        ("attachment:2024", vec![1]),
        // Ids and threads.
        ("message-id:<r1@lieferant.de>", vec![1]),
        ("thread:r1@lieferant.de", vec![1, 2]),
        // Context.
        ("source:journal", vec![5]),
        ("listener:mx-in", vec![1, 2, 3, 4, 6]),
        ("direction:inbound", vec![1, 3, 6]),
        ("direction:outbound", vec![2, 5]),
        ("direction:internal", vec![4]),
        // Dates, sizes.
        ("date:2024-01", vec![1, 2]),
        ("date:2024-01-16", vec![2]),
        ("date:2024-02..2024-06-01", vec![3, 4]),
        ("received:2025", vec![5, 6]),
        ("date:>=2025-03", vec![6]),
        ("size:>1M", vec![3]),
        ("size:100k..1M", vec![1]),
        ("size:<=300", vec![4, 6]),
        // Operators.
        ("rechnung -from:einkauf", vec![1]),
        ("rechnung AND NOT has:attachment", vec![2]),
        ("vertrag OR mittagessen", vec![4, 5]),
        ("(from:alice OR from:bob) date:2024-03", vec![3]),
        ("from:(alice OR bob)", vec![3, 4]),
        ("-date:2024", vec![5, 6]),
        // Free words find senders and recipients too.
        ("lieferant", vec![1, 2]),
    ] {
        assert_eq!(seqs(&ix, q), want, "{q}");
    }
}

#[test]
fn sorts_and_cursors() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ix = fixture(&dir.path().join("search"));
    let page = |sort, cursor: Option<String>| {
        let req = SearchRequest {
            query: "-has:attachment".into(),
            limit: 2,
            sort,
            cursor,
        };
        ix.search(&req).unwrap_or_else(|e| panic!("{e}"))
    };
    for (sort, want) in [
        (Sort::Date, vec![2, 3, 4, 5, 6]),
        (Sort::DateDesc, vec![6, 5, 4, 3, 2]),
    ] {
        let mut got = Vec::new();
        let mut cursor = None;
        loop {
            let p = page(sort, cursor);
            assert_eq!(p.total, 5);
            got.extend(p.hits.iter().map(|h| h.seq));
            match p.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(got, want, "{sort:?}");
    }
    let req = SearchRequest {
        query: "rechnung".into(),
        limit: 10,
        sort: Sort::Relevance,
        cursor: None,
    };
    let hits = ix.search(&req).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(hits.hits.len(), 2);
    assert!(hits.hits[0].score >= hits.hits[1].score);
    let bad = SearchRequest {
        cursor: Some("date.1.2".into()),
        ..req
    };
    assert!(matches!(ix.search(&bad), Err(SearchError::Cursor)));
}

#[test]
fn reopen_keeps_the_indexed_seq_and_damage_starts_over() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("search");
    drop(fixture(&path));
    let ix = SearchIndex::open(&path, Default::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ix.indexed_seq(), 6);
    assert_eq!(ix.all_seqs().ok(), Some(vec![1, 2, 3, 4, 5, 6]));
    drop(ix);
    std::fs::write(path.join("meta.json"), b"{ not json").unwrap_or_else(|e| panic!("{e}"));
    let ix = SearchIndex::open(&path, Default::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((ix.indexed_seq(), ix.num_docs()), (0, 0));
}

#[test]
fn purged_documents_leave_no_terms_behind() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ix = fixture(&dir.path().join("search"));
    let has_term = |word: &str| {
        let term = tantivy::Term::from_field_text(ix.fields().body, word);
        ix.searcher().segment_readers().iter().any(|r| {
            r.inverted_index(ix.fields().body)
                .ok()
                .and_then(|inv| inv.get_term_info(&term).ok().flatten())
                .is_some()
        })
    };
    assert!(has_term("geheim"));
    ix.delete(5).unwrap_or_else(|e| panic!("{e}"));
    ix.commit(6).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seqs(&ix, "geheim"), Vec::<u64>::new());
    ix.purge_deleted().unwrap_or_else(|e| panic!("{e}"));
    assert!(!has_term("geheim"));
    assert_eq!(ix.all_seqs().ok(), Some(vec![1, 2, 3, 4, 6]));
    ix.clear().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((ix.indexed_seq(), ix.num_docs()), (0, 0));
}
