//! The brute-force side of the search comparisons: a parsed query
//! evaluated on one [`MessageDoc`] directly, with the query language's
//! rules (words, stems, addresses, keywords, ranges) spelled out here
//! instead of asking tantivy. The tests feed it documents built from
//! mailseal's extractor (the CPython corpus, which has no other truth) or
//! from a generator's own source data (the generated corpus).

use std::collections::HashSet;

use mailseal::search::analysis;
use mailseal::search::document::MessageDoc;
use mailseal::search::query::ast::{AddressField, KeywordField, Node, RangeField, Text, TextScope};

/// The words of `text` as the index cuts and folds them.
pub fn words(text: &str) -> Vec<String> {
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

/// (values whose exact words count, values whose stems count) of a scope.
fn texts(d: &MessageDoc, scope: TextScope) -> (Vec<String>, Vec<String>) {
    let names: Vec<String> = d
        .attachments
        .iter()
        .filter_map(|a| a.name.clone())
        .collect();
    let att: Vec<String> = d.attachments.iter().map(|a| a.text.clone()).collect();
    let subject = vec![d.subject.clone()];
    let body = vec![d.body.clone()];
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

fn addresses(d: &MessageDoc, field: AddressField) -> HashSet<String> {
    let values = match field {
        AddressField::From => &d.from,
        AddressField::To => &d.to,
        AddressField::Cc => &d.cc,
        AddressField::Bcc => &d.bcc,
        AddressField::Rcpt => &d.rcpt,
        AddressField::ReplyTo => &d.reply_to,
    };
    values
        .iter()
        .flat_map(|v| analysis::address_terms(v))
        .collect()
}

fn address_match(d: &MessageDoc, field: AddressField, text: &Text) -> bool {
    let set = addresses(d, field);
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

fn keywords(d: &MessageDoc, field: KeywordField) -> HashSet<String> {
    let fold = |v: &Vec<String>| v.iter().map(|x| analysis::normalize(x.trim())).collect();
    match field {
        KeywordField::Type => d
            .attachments
            .iter()
            .flat_map(|a| analysis::type_terms(&a.mime_type, a.name.as_deref()))
            .collect(),
        KeywordField::MessageId => d.message_id.iter().map(|m| analysis::keyword(m)).collect(),
        KeywordField::Thread => d.thread.iter().map(|m| analysis::keyword(m)).collect(),
        KeywordField::Folder => fold(&d.folders),
        KeywordField::User => fold(&d.users),
        KeywordField::Source => [d.source.clone()].into(),
        KeywordField::Listener => [analysis::keyword(&d.listener)].into(),
        KeywordField::Direction => d.direction.iter().map(|d| d.as_str().to_string()).collect(),
    }
}

fn text_match(d: &MessageDoc, scope: TextScope, text: &Text) -> bool {
    let (exact, stemmed) = texts(d, scope);
    let hit = match text {
        Text::Prefix(p) => exact
            .iter()
            .any(|v| words(v).iter().any(|w| w.starts_with(p.as_str()))),
        Text::Word(w) | Text::Phrase(w) => {
            let q = words(w);
            if q.len() == 1 && matches!(text, Text::Word(_)) && scope != TextScope::Filename {
                let want = stems_of(&[w]);
                let have = stems_of(&stemmed.iter().map(String::as_str).collect::<Vec<_>>());
                exact.iter().any(|v| words(v).contains(&q[0])) || !want.is_disjoint(&have)
            } else {
                exact.iter().any(|v| contains_seq(&words(v), &q))
            }
        }
    };
    // A free word also finds senders and recipients.
    let addr = scope == TextScope::Any
        && match text {
            Text::Prefix(_) => [AddressField::From, AddressField::Rcpt]
                .iter()
                .any(|f| address_match(d, *f, text)),
            Text::Word(w) | Text::Phrase(w) => [AddressField::From, AddressField::Rcpt]
                .iter()
                .any(|f| address_match(d, *f, &Text::Word(w.clone()))),
        };
    hit || addr
}

/// Whether `d` matches the parsed query `node`.
pub fn matches(d: &MessageDoc, node: &Node) -> bool {
    match node {
        Node::And(p) => p.iter().all(|n| matches(d, n)),
        Node::Or(p) => p.iter().any(|n| matches(d, n)),
        Node::Not(n) => !matches(d, n),
        Node::Text { scope, text } => text_match(d, *scope, text),
        Node::Address { field, text } => address_match(d, *field, text),
        Node::Keyword {
            field,
            value,
            prefix,
        } => {
            let set = keywords(d, *field);
            if *prefix {
                set.iter().any(|k| k.starts_with(value.as_str()))
            } else {
                set.contains(value)
            }
        }
        Node::Range { field, lo, hi } => {
            let values: Vec<i64> = match field {
                RangeField::Date => vec![d.date],
                RangeField::Received => vec![d.received],
                RangeField::Size => vec![d.size as i64],
                RangeField::AttachmentSize => d.attachments.iter().map(|a| a.size as i64).collect(),
            };
            values
                .iter()
                .any(|v| lo.is_none_or(|l| *v >= l) && hi.is_none_or(|h| *v < h))
        }
        Node::HasAttachment => d.has_attachment,
    }
}

/// The seqs of `docs` matching `query`, oldest Date first (ties by seq),
/// or newest first for `desc`: the order `--sort date` / `-date` prints.
pub fn expected(docs: &[MessageDoc], query: &str, desc: bool) -> Vec<u64> {
    let node = mailseal::search::query::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut want: Vec<&MessageDoc> = docs.iter().filter(|d| matches(d, &node)).collect();
    want.sort_by_key(|d| (d.date, d.seq));
    if desc {
        want.reverse();
    }
    want.iter().map(|d| d.seq).collect()
}
