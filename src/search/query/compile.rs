//! Turns a parsed query into a tantivy query over the schema. Words are
//! analysed with the same functions the indexer uses
//! ([`crate::search::analysis`]); a free word matches its stemmed forms,
//! a quoted one only itself.

use std::ops::Bound;

use tantivy::DateTime;
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, EmptyQuery, Occur, PhraseQuery, Query, RangeQuery,
    TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use super::ast::{AddressField, KeywordField, Node, RangeField, Text, TextScope};
use crate::search::analysis;
use crate::search::schema::Fields;

/// Exact words in the subject count for more than anywhere else.
const SUBJECT_BOOST: f32 = 2.0;
/// An unstemmed hit counts for more than a hit of another inflection.
const EXACT_BOOST: f32 = 1.5;

/// The tantivy query for `node`.
pub fn compile(node: &Node, f: &Fields) -> Box<dyn Query> {
    match node {
        Node::And(parts) => {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = parts
                .iter()
                .map(|p| match p {
                    Node::Not(inner) => (Occur::MustNot, compile(inner, f)),
                    p => (Occur::Must, compile(p, f)),
                })
                .collect();
            if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
                clauses.push((Occur::Must, Box::new(AllQuery)));
            }
            Box::new(BooleanQuery::new(clauses))
        }
        Node::Or(parts) => any(parts.iter().map(|p| compile(p, f)).collect()),
        Node::Not(inner) => Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
            (Occur::MustNot, compile(inner, f)),
        ])),
        Node::Text { scope, text } => text_query(*scope, text, f),
        Node::Address { field, text } => address_query(address_field(*field, f), text),
        Node::Keyword {
            field,
            value,
            prefix,
        } => {
            let field = keyword_field(*field, f);
            if *prefix {
                prefix_query(field, value)
            } else {
                term(field, value, IndexRecordOption::Basic)
            }
        }
        Node::Range { field, lo, hi } => range_query(*field, *lo, *hi, f),
        Node::HasAttachment => term(f.has, "attachment", IndexRecordOption::Basic),
    }
}

fn any(mut qs: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    match qs.len() {
        0 => Box::new(EmptyQuery),
        1 => qs.remove(0),
        _ => Box::new(BooleanQuery::new(
            qs.into_iter().map(|q| (Occur::Should, q)).collect(),
        )),
    }
}

fn all(mut qs: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    match qs.len() {
        0 => Box::new(EmptyQuery),
        1 => qs.remove(0),
        _ => Box::new(BooleanQuery::new(
            qs.into_iter().map(|q| (Occur::Must, q)).collect(),
        )),
    }
}

fn term(field: Field, text: &str, option: IndexRecordOption) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, text), option))
}

/// Every term of `field` that starts with `prefix`.
fn prefix_query(field: Field, prefix: &str) -> Box<dyn Query> {
    let upper = format!("{prefix}{}", char::MAX);
    Box::new(RangeQuery::new(
        Bound::Included(Term::from_field_text(field, prefix)),
        Bound::Excluded(Term::from_field_text(field, &upper)),
    ))
}

/// `(raw field, stem field, boost)` for each text field in a scope.
fn text_fields(scope: TextScope, f: &Fields) -> Vec<(Field, Option<Field>, f32)> {
    let subject = (f.subject, Some(f.subject_stem), SUBJECT_BOOST);
    let body = (f.body, Some(f.body_stem), 1.0);
    let attachment = (f.attachment, Some(f.attachment_stem), 1.0);
    let filename = (f.filename, Some(f.attachment_stem), 1.0);
    match scope {
        TextScope::Any => vec![subject, body, attachment, filename],
        TextScope::Subject => vec![subject],
        TextScope::Body => vec![body],
        TextScope::Attachment => vec![attachment, filename],
        TextScope::Filename => vec![(f.filename, None, 1.0)],
    }
}

fn text_query(scope: TextScope, text: &Text, f: &Fields) -> Box<dyn Query> {
    let fields = text_fields(scope, f);
    let mut qs: Vec<Box<dyn Query>> = Vec::new();
    let (raw, address_value) = match text {
        Text::Prefix(p) => {
            qs.extend(fields.iter().map(|(raw, _, _)| prefix_query(*raw, p)));
            if scope == TextScope::Any {
                qs.push(prefix_query(f.from, p));
                qs.push(prefix_query(f.rcpt, p));
            }
            return any(qs);
        }
        Text::Word(w) => (w, w),
        Text::Phrase(p) => (p, p),
    };
    let terms: Vec<String> = analysis::terms(raw).map(|(_, _, t)| t).collect();
    let stemmed = matches!(text, Text::Word(_)) && terms.len() == 1;
    for (raw_field, stem_field, boost) in &fields {
        let exact = words_query(*raw_field, &terms);
        match (stemmed, stem_field) {
            (true, Some(stem_field)) => {
                qs.push(Box::new(BoostQuery::new(exact, boost * EXACT_BOOST)));
                let (de, en) = analysis::stems(&terms[0]);
                let mut stems = vec![term(*stem_field, &de, IndexRecordOption::WithFreqs)];
                if let Some(en) = en {
                    stems.push(term(*stem_field, &en, IndexRecordOption::WithFreqs));
                }
                qs.push(Box::new(BoostQuery::new(any(stems), *boost)));
            }
            _ => qs.push(Box::new(BoostQuery::new(exact, *boost))),
        }
    }
    if scope == TextScope::Any {
        for field in [f.from, f.rcpt] {
            qs.push(address_query(field, &Text::Word(address_value.clone())));
        }
    }
    any(qs)
}

/// One term, or the words as a phrase.
fn words_query(field: Field, terms: &[String]) -> Box<dyn Query> {
    match terms {
        [] => Box::new(EmptyQuery),
        [one] => term(field, one, IndexRecordOption::WithFreqs),
        many => Box::new(PhraseQuery::new(
            many.iter()
                .map(|t| Term::from_field_text(field, t))
                .collect(),
        )),
    }
}

/// A whole address or domain is one term; name words must all be there.
fn address_query(field: Field, text: &Text) -> Box<dyn Query> {
    match text {
        Text::Prefix(p) => prefix_query(field, p),
        Text::Word(v) | Text::Phrase(v) => {
            if v.contains('@') || v.contains('.') {
                return term(
                    field,
                    &analysis::address_query_term(v),
                    IndexRecordOption::Basic,
                );
            }
            all(analysis::terms(v)
                .map(|(_, _, t)| term(field, &t, IndexRecordOption::Basic))
                .collect())
        }
    }
}

fn address_field(a: AddressField, f: &Fields) -> Field {
    match a {
        AddressField::From => f.from,
        AddressField::To => f.to,
        AddressField::Cc => f.cc,
        AddressField::Bcc => f.bcc,
        AddressField::Rcpt => f.rcpt,
        AddressField::ReplyTo => f.reply_to,
    }
}

fn keyword_field(k: KeywordField, f: &Fields) -> Field {
    match k {
        KeywordField::Type => f.attachment_type,
        KeywordField::MessageId => f.message_id,
        KeywordField::Thread => f.thread,
        KeywordField::Folder => f.folder,
        KeywordField::User => f.user,
        KeywordField::Source => f.source,
        KeywordField::Listener => f.listener,
        KeywordField::Direction => f.direction,
    }
}

fn range_query(field: RangeField, lo: Option<i64>, hi: Option<i64>, f: &Fields) -> Box<dyn Query> {
    if lo.is_none() && hi.is_none() {
        return Box::new(AllQuery);
    }
    let (field, make): (Field, fn(Field, i64) -> Term) = match field {
        RangeField::Date => (f.date, date_term),
        RangeField::Received => (f.received, date_term),
        RangeField::Size => (f.size, size_term),
        RangeField::AttachmentSize => (f.attachment_size, size_term),
    };
    let bound = |b: Option<i64>, inclusive: bool| match b {
        None => Bound::Unbounded,
        Some(v) if inclusive => Bound::Included(make(field, v)),
        Some(v) => Bound::Excluded(make(field, v)),
    };
    Box::new(RangeQuery::new(bound(lo, true), bound(hi, false)))
}

fn date_term(field: Field, secs: i64) -> Term {
    Term::from_field_date(field, DateTime::from_timestamp_secs(secs))
}

fn size_term(field: Field, bytes: i64) -> Term {
    Term::from_field_u64(field, bytes.max(0) as u64)
}
