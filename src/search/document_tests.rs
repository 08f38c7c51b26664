//! What a record and its content become as a search document.

use super::*;
use crate::archive::record::{
    ContentRef, ImapContext, ImportContext, JournalEnvelope, JournalRecipient, Rcpt, RecordBody,
    Source, SourceKind,
};
use crate::search::extract;

pub(crate) fn record(seq: u64, meta: MessageMeta) -> Record {
    Record {
        format: 1,
        seq,
        time: "2026-03-01T10:00:00.000000Z".into(),
        prev_hash: "00".repeat(32),
        body: RecordBody::Message(Box::new(meta)),
    }
}

pub(crate) fn journal_meta() -> MessageMeta {
    MessageMeta {
        source: Source {
            kind: SourceKind::Journal,
            name: "exchange".into(),
        },
        mail_from: Some("journal@example.com".into()),
        rcpts: vec![Rcpt {
            address: "archive@example.com".into(),
            reply: None,
        }],
        journal: Some(JournalEnvelope {
            sender: Some("ceo@example.com".into()),
            recipients: vec![
                JournalRecipient {
                    field: "to".into(),
                    address: "supplier@other.org".into(),
                    ..Default::default()
                },
                JournalRecipient {
                    field: "bcc".into(),
                    address: "hidden@example.com".into(),
                    ..Default::default()
                },
                JournalRecipient {
                    field: "recipient".into(),
                    address: "member@example.com".into(),
                    expanded: vec!["board@example.com".into()],
                    forwarded: Some("old@example.com".into()),
                },
            ],
            ..Default::default()
        }),
        content: ContentRef {
            sha256: "ab".repeat(32),
            size: 1234,
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn journal_recipients_land_in_their_fields_and_in_rcpt() {
    let raw = b"From: CEO <ceo@example.com>\r\nTo: supplier@other.org\r\nSubject: Vertrag\r\n\
                Date: Tue, 2 Jan 2024 09:00:00 +0000\r\nMessage-ID: <m1@example.com>\r\n\
                References: <m0@example.com>\r\n\r\nHallo";
    let local = LocalDomains::new(["example.com"]);
    let meta = journal_meta();
    let d = MessageDoc::new(
        &record(5, meta.clone()),
        &meta,
        extract::extract(raw, &Default::default()),
        &local,
    );
    assert_eq!(d.seq, 5);
    assert_eq!(d.source, "journal");
    assert_eq!(d.listener, "exchange");
    assert!(d.bcc.contains(&"hidden@example.com".to_string()));
    for r in [
        "hidden@example.com",
        "board@example.com",
        "old@example.com",
        "member@example.com",
        "archive@example.com",
    ] {
        assert!(d.rcpt.contains(&r.to_string()), "{r} not in {:?}", d.rcpt);
    }
    assert!(d.from.contains(&"CEO".to_string()));
    assert!(d.from.contains(&"journal@example.com".to_string()));
    assert_eq!(d.direction, Some(Direction::Outbound));
    assert_eq!(d.date, 1704186000);
    assert_eq!(d.received, 1772359200);
    assert_eq!(
        d.thread,
        vec!["m1@example.com".to_string(), "m0@example.com".to_string()]
    );
    assert_eq!(d.body.trim(), "Hallo");
}

#[test]
fn junk_is_indexed_by_envelope_and_receive_time() {
    let meta = MessageMeta {
        mail_from: Some("x@y.org".into()),
        ..Default::default()
    };
    let d = MessageDoc::new(
        &record(9, meta.clone()),
        &meta,
        extract::extract(b"\x00\x01\xff binary", &Default::default()),
        &LocalDomains::default(),
    );
    assert_eq!(d.date, d.received);
    assert_eq!(d.from, vec!["x@y.org".to_string()]);
    assert_eq!(d.direction, None);
}

#[test]
fn imap_users_and_folders() {
    let meta = MessageMeta {
        source: Source {
            kind: SourceKind::Import,
            name: "imap".into(),
        },
        import: Some(ImportContext {
            kind: "imap".into(),
            origin: "imap://a%40b.example@h/Projekte/Geschäft".into(),
            ..Default::default()
        }),
        imap: Some(ImapContext {
            user: Some("bob".into()),
            mailbox: Some("Sent".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let d = MessageDoc::new(
        &record(1, meta.clone()),
        &meta,
        Extracted::default(),
        &LocalDomains::default(),
    );
    assert_eq!(d.users, vec!["bob".to_string(), "a@b.example".to_string()]);
    assert_eq!(
        d.folders,
        vec!["Sent".to_string(), "Projekte/Geschäft".to_string()]
    );
}
