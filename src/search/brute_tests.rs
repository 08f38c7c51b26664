//! The index against a brute-force scan over CPython's `test_email`
//! corpus: for each field and operator, the index must return the same
//! ids as evaluating the query on every message directly, in the same
//! order for date sorts.

use std::collections::HashSet;

use super::analysis;
use super::catchup::index_record;
use super::document::MessageDoc;
use super::extract;
use super::query::ast::{AddressField, KeywordField, Node, RangeField, Text, TextScope};
use super::query::parse;
use super::searcher::{SearchRequest, Sort};
use super::{LocalDomains, SearchIndex};
use crate::archive::record::{
    ContentRef, ImapContext, JournalEnvelope, JournalRecipient, MessageMeta, Rcpt, Record,
    RecordBody, Source, SourceKind,
};

/// A message as the brute-force scan sees it.
struct Doc {
    d: MessageDoc,
}

fn words(text: &str) -> Vec<String> {
    analysis::terms(text).map(|(_, _, t)| t).collect()
}

fn stems_of(texts: &[&str]) -> HashSet<String> {
    let mut out = HashSet::new();
    for t in texts {
        for w in words(t) {
            let (de, en) = analysis::stems(&w);
            out.insert(de);
            out.extend(en);
        }
    }
    out
}

fn contains_seq(hay: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

impl Doc {
    fn texts(&self, scope: TextScope) -> (Vec<String>, Vec<String>) {
        // (values with exact words, values whose stems count)
        let names: Vec<String> = self
            .d
            .attachments
            .iter()
            .filter_map(|a| a.name.clone())
            .collect();
        let att: Vec<String> = self.d.attachments.iter().map(|a| a.text.clone()).collect();
        let subject = vec![self.d.subject.clone()];
        let body = vec![self.d.body.clone()];
        match scope {
            TextScope::Any => {
                let all: Vec<String> = [subject, body, att, names].concat();
                (all.clone(), all)
            }
            TextScope::Subject => (subject.clone(), subject),
            TextScope::Body => (body.clone(), body),
            TextScope::Attachment => {
                let all = [att, names].concat();
                (all.clone(), all)
            }
            TextScope::Filename => (names, Vec::new()),
        }
    }

    fn addresses(&self, field: AddressField) -> HashSet<String> {
        let values = match field {
            AddressField::From => &self.d.from,
            AddressField::To => &self.d.to,
            AddressField::Cc => &self.d.cc,
            AddressField::Bcc => &self.d.bcc,
            AddressField::Rcpt => &self.d.rcpt,
            AddressField::ReplyTo => &self.d.reply_to,
        };
        values
            .iter()
            .flat_map(|v| analysis::address_terms(v))
            .collect()
    }

    fn address_match(&self, field: AddressField, text: &Text) -> bool {
        let set = self.addresses(field);
        match text {
            Text::Prefix(p) => set.iter().any(|t| t.starts_with(p.as_str())),
            Text::Word(v) | Text::Phrase(v) => {
                if v.contains('@') || v.contains('.') {
                    set.contains(&analysis::address_query_term(v))
                } else {
                    let ws = words(v);
                    !ws.is_empty() && ws.iter().all(|w| set.contains(w))
                }
            }
        }
    }

    fn keywords(&self, field: KeywordField) -> HashSet<String> {
        let fold = |v: &Vec<String>| v.iter().map(|x| analysis::normalize(x.trim())).collect();
        match field {
            KeywordField::Type => self
                .d
                .attachments
                .iter()
                .flat_map(|a| analysis::type_terms(&a.mime_type, a.name.as_deref()))
                .collect(),
            KeywordField::MessageId => self
                .d
                .message_id
                .iter()
                .map(|m| analysis::keyword(m))
                .collect(),
            KeywordField::Thread => self.d.thread.iter().map(|m| analysis::keyword(m)).collect(),
            KeywordField::Folder => fold(&self.d.folders),
            KeywordField::User => fold(&self.d.users),
            KeywordField::Source => [self.d.source.clone()].into(),
            KeywordField::Listener => [analysis::keyword(&self.d.listener)].into(),
            KeywordField::Direction => self
                .d
                .direction
                .iter()
                .map(|d| d.as_str().to_string())
                .collect(),
        }
    }

    fn matches(&self, node: &Node) -> bool {
        match node {
            Node::And(p) => p.iter().all(|n| self.matches(n)),
            Node::Or(p) => p.iter().any(|n| self.matches(n)),
            Node::Not(n) => !self.matches(n),
            Node::Text { scope, text } => {
                let (exact, stemmed) = self.texts(*scope);
                let hit = match text {
                    Text::Prefix(p) => exact
                        .iter()
                        .any(|v| words(v).iter().any(|w| w.starts_with(p.as_str()))),
                    Text::Word(w) | Text::Phrase(w) => {
                        let q = words(w);
                        if q.len() == 1
                            && matches!(text, Text::Word(_))
                            && *scope != TextScope::Filename
                        {
                            let want = stems_of(&[w]);
                            let have =
                                stems_of(&stemmed.iter().map(String::as_str).collect::<Vec<_>>());
                            exact.iter().any(|v| words(v).contains(&q[0]))
                                || !want.is_disjoint(&have)
                        } else {
                            exact.iter().any(|v| contains_seq(&words(v), &q))
                        }
                    }
                };
                let addr = *scope == TextScope::Any
                    && match text {
                        Text::Prefix(_) => [AddressField::From, AddressField::Rcpt]
                            .iter()
                            .any(|f| self.address_match(*f, text)),
                        Text::Word(w) | Text::Phrase(w) => [AddressField::From, AddressField::Rcpt]
                            .iter()
                            .any(|f| self.address_match(*f, &Text::Word(w.clone()))),
                    };
                hit || addr
            }
            Node::Address { field, text } => self.address_match(*field, text),
            Node::Keyword {
                field,
                value,
                prefix,
            } => {
                let set = self.keywords(*field);
                if *prefix {
                    set.iter().any(|k| k.starts_with(value.as_str()))
                } else {
                    set.contains(value)
                }
            }
            Node::Range { field, lo, hi } => {
                let values: Vec<i64> = match field {
                    RangeField::Date => vec![self.d.date],
                    RangeField::Received => vec![self.d.received],
                    RangeField::Size => vec![self.d.size as i64],
                    RangeField::AttachmentSize => {
                        self.d.attachments.iter().map(|a| a.size as i64).collect()
                    }
                };
                values
                    .iter()
                    .any(|v| lo.is_none_or(|l| *v >= l) && hi.is_none_or(|h| *v < h))
            }
            Node::HasAttachment => self.d.has_attachment,
        }
    }
}

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
        },
        ..Default::default()
    }
}

#[test]
fn index_agrees_with_a_brute_force_scan_of_the_cpython_corpus() {
    let Some(corpus) = crate::import::eml::tests::cpython_corpus() else {
        panic!("CPython test_email data not found; install python3 with its test package");
    };
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("msg_"))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 40, "{}", files.len());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let index = SearchIndex::open(&dir.path().join("search"), Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let local = LocalDomains::new(["example.com", "python.org"]);
    let mut docs = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let seq = i as u64 + 1;
        let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{e}"));
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
        index_record(&index, &record, Some(&raw), &local).unwrap_or_else(|e| panic!("{e}"));
        docs.push(Doc {
            d: MessageDoc::new(
                &record,
                &m,
                extract::extract(&raw, &Default::default()),
                &local,
            ),
        });
    }
    index
        .commit(docs.len() as u64)
        .unwrap_or_else(|e| panic!("{e}"));

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
        if let Some(w) = words(&d.d.subject).into_iter().max_by_key(|w| w.len()) {
            queries.push(format!("subject:{w}"));
            queries.push(w);
        }
        if let Some(w) = words(&d.d.body).into_iter().filter(|w| w.len() > 3).nth(5) {
            queries.push(format!("body:{w}*"));
            queries.push(w);
        }
        if let Some(a) = d.d.from.first().filter(|a| a.contains('@')) {
            queries.push(format!("from:{a}"));
        }
    }
    queries.retain(|q| !q.starts_with("message-id:*"));
    let mut nonempty = 0;
    for q in &queries {
        let node = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let mut want: Vec<&Doc> = docs.iter().filter(|d| d.matches(&node)).collect();
        for sort in [Sort::Date, Sort::DateDesc] {
            want.sort_by_key(|d| (d.d.date, d.d.seq));
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
            let want: Vec<u64> = want.iter().map(|d| d.d.seq).collect();
            assert_eq!(got, want, "{q} ({sort:?})");
        }
        nonempty += usize::from(docs.iter().any(|d| d.matches(&node)));
    }
    // The comparison means something only if most queries find mail.
    assert!(
        nonempty * 4 >= queries.len() * 3,
        "{nonempty} of {} queries match",
        queries.len()
    );
}
