//! The query grammar, by recursive descent over [`lexer`] tokens:
//!
//! ```text
//! query   := or END
//! or      := and ("OR" and)*
//! and     := unary (["AND"] unary)*        (a space is AND)
//! unary   := ("NOT" | "-") unary | primary
//! primary := "(" or ")" | FIELD ":" value | WORD | "PHRASE"
//! value   := WORD | "PHRASE" | "(" or ")"  (the field applies inside)
//! ```
//!
//! NOT binds tighter than AND, AND tighter than OR: `a b OR c` is
//! `(a AND b) OR c`.

use super::ast::{AddressField, KeywordField, Node, ParseError, RangeField, Text, TextScope};
use super::lexer::{self, Spanned, Tok, describe};
use super::value;
use crate::search::analysis;
use crate::search::direction;

/// What a field name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Text(TextScope),
    Address(AddressField),
    Keyword(KeywordField),
    Range(RangeField),
    Has,
}

/// Every field name of the language.
const KEYS: &[(&str, Key)] = &[
    ("from", Key::Address(AddressField::From)),
    ("to", Key::Address(AddressField::To)),
    ("cc", Key::Address(AddressField::Cc)),
    ("bcc", Key::Address(AddressField::Bcc)),
    ("rcpt", Key::Address(AddressField::Rcpt)),
    ("reply-to", Key::Address(AddressField::ReplyTo)),
    ("subject", Key::Text(TextScope::Subject)),
    ("body", Key::Text(TextScope::Body)),
    ("attachment", Key::Text(TextScope::Attachment)),
    ("filename", Key::Text(TextScope::Filename)),
    ("type", Key::Keyword(KeywordField::Type)),
    ("message-id", Key::Keyword(KeywordField::MessageId)),
    ("thread", Key::Keyword(KeywordField::Thread)),
    ("folder", Key::Keyword(KeywordField::Folder)),
    ("user", Key::Keyword(KeywordField::User)),
    ("source", Key::Keyword(KeywordField::Source)),
    ("listener", Key::Keyword(KeywordField::Listener)),
    ("direction", Key::Keyword(KeywordField::Direction)),
    ("date", Key::Range(RangeField::Date)),
    ("received", Key::Range(RangeField::Received)),
    ("size", Key::Range(RangeField::Size)),
    ("attachment-size", Key::Range(RangeField::AttachmentSize)),
    ("has", Key::Has),
];

/// The source kinds `source:` accepts.
const SOURCES: &[&str] = &[
    "smtp-proxy",
    "journal",
    "imap-proxy",
    "pop3-proxy",
    "import",
];

/// Parses a query.
pub fn parse(query: &str) -> Result<Node, ParseError> {
    let mut p = Parser {
        query,
        toks: lexer::lex(query)?,
        i: 0,
    };
    let node = p.or(None)?;
    match &p.peek().tok {
        Tok::End => Ok(node),
        other => Err(p.err_here(
            "a term, an operator (AND, OR, NOT) or the end of the query",
            &describe(other),
        )),
    }
}

struct Parser<'q> {
    query: &'q str,
    toks: Vec<Spanned>,
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Spanned {
        // `lex` always ends with `End`, and nothing advances past it.
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Spanned {
        let t = self.peek().clone();
        if t.tok != Tok::End {
            self.i += 1;
        }
        t
    }

    fn err_at(&self, at: usize, expected: &str, found: &str) -> ParseError {
        lexer::error(self.query, at, expected, found)
    }

    fn err_here(&self, expected: &str, found: &str) -> ParseError {
        self.err_at(self.peek().at, expected, found)
    }

    fn or(&mut self, scope: Option<Key>) -> Result<Node, ParseError> {
        let mut parts = vec![self.and(scope)?];
        while self.peek().tok == Tok::Or {
            self.next();
            parts.push(self.and(scope)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Node::Or(parts)
        })
    }

    fn and(&mut self, scope: Option<Key>) -> Result<Node, ParseError> {
        let mut parts = vec![self.unary(scope)?];
        loop {
            match self.peek().tok {
                Tok::Or | Tok::Close | Tok::End => break,
                Tok::And => {
                    self.next();
                    parts.push(self.unary(scope)?);
                }
                _ => parts.push(self.unary(scope)?),
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Node::And(parts)
        })
    }

    fn unary(&mut self, scope: Option<Key>) -> Result<Node, ParseError> {
        if matches!(self.peek().tok, Tok::Not | Tok::Minus) {
            self.next();
            return Ok(Node::Not(Box::new(self.unary(scope)?)));
        }
        self.primary(scope)
    }

    fn group(&mut self, scope: Option<Key>) -> Result<Node, ParseError> {
        let open = self.next();
        let node = self.or(scope)?;
        match self.peek().tok {
            Tok::Close => {
                self.next();
                Ok(node)
            }
            _ => {
                let found = describe(&self.peek().tok);
                Err(self.err_here(
                    &format!(
                        "`)` to close the `(` at character {}",
                        self.query[..open.at].chars().count() + 1
                    ),
                    &found,
                ))
            }
        }
    }

    fn primary(&mut self, scope: Option<Key>) -> Result<Node, ParseError> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Open => self.group(scope),
            Tok::Word(w) => {
                self.next();
                self.term(scope.unwrap_or(Key::Text(TextScope::Any)), &w, false, t.at)
            }
            Tok::Quoted(q) => {
                self.next();
                self.term(scope.unwrap_or(Key::Text(TextScope::Any)), &q, true, t.at)
            }
            Tok::Field(name) => {
                let key = KEYS
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&name))
                    .map(|(_, key)| *key)
                    .ok_or_else(|| {
                        let names: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
                        self.err_at(
                            t.at,
                            &format!(
                                "a field ({}); put text with a colon in quotes",
                                names.join(", ")
                            ),
                            &format!("unknown field `{name}:`"),
                        )
                    })?;
                self.next();
                let v = self.peek().clone();
                if v.at != t.end {
                    return Err(self.err_at(
                        t.end,
                        &format!("a value right after `{name}:`"),
                        &describe_gap(&v.tok),
                    ));
                }
                match v.tok {
                    Tok::Open => self.group(Some(key)),
                    Tok::Word(w) => {
                        self.next();
                        self.term(key, &w, false, v.at)
                    }
                    Tok::Quoted(q) => {
                        self.next();
                        self.term(key, &q, true, v.at)
                    }
                    other => Err(self.err_at(
                        v.at,
                        &format!("a value after `{name}:`"),
                        &describe(&other),
                    )),
                }
            }
            other => Err(self.err_here(
                "a term (a word, a \"phrase\", field:value or `(`)",
                &describe(&other),
            )),
        }
    }

    /// One value for one field.
    fn term(&self, key: Key, v: &str, quoted: bool, at: usize) -> Result<Node, ParseError> {
        let found = || format!("`{v}`");
        let prefix = (!quoted).then(|| v.strip_suffix('*')).flatten();
        match key {
            Key::Text(scope) => {
                let text = match prefix {
                    Some(p) => Text::Prefix(self.word_prefix(p, at)?),
                    None if quoted => Text::Phrase(v.to_string()),
                    None => Text::Word(v.to_string()),
                };
                Ok(Node::Text { scope, text })
            }
            Key::Address(field) => {
                let text = match prefix {
                    Some(p) => {
                        let p = analysis::address_query_term(p);
                        if p.chars().count() < 2 {
                            return Err(self.err_at(
                                at,
                                "at least two characters before `*`",
                                &found(),
                            ));
                        }
                        Text::Prefix(p)
                    }
                    None if quoted => Text::Phrase(v.to_string()),
                    None => Text::Word(v.to_string()),
                };
                Ok(Node::Address { field, text })
            }
            Key::Keyword(field) => {
                let raw = prefix.unwrap_or(v);
                let value = match field {
                    KeywordField::Folder | KeywordField::User => analysis::normalize(raw.trim()),
                    _ => analysis::keyword(raw),
                };
                if value.is_empty() {
                    return Err(self.err_at(at, "a value", &found()));
                }
                if field == KeywordField::Direction && direction::parse(&value).is_none() {
                    return Err(self.err_at(
                        at,
                        "inbound, outbound, internal or external",
                        &found(),
                    ));
                }
                if field == KeywordField::Source && !SOURCES.contains(&value.as_str()) {
                    return Err(self.err_at(at, &SOURCES.join(", "), &found()));
                }
                Ok(Node::Keyword {
                    field,
                    value,
                    prefix: prefix.is_some(),
                })
            }
            Key::Range(field) => {
                let parsed = match field {
                    RangeField::Date | RangeField::Received => value::dates(v),
                    RangeField::Size | RangeField::AttachmentSize => value::sizes(v),
                };
                let (lo, hi) = parsed.map_err(|expected| self.err_at(at, expected, &found()))?;
                Ok(Node::Range { field, lo, hi })
            }
            Key::Has => match v.to_ascii_lowercase().as_str() {
                "attachment" | "attachments" => Ok(Node::HasAttachment),
                _ => Err(self.err_at(at, "`attachment`", &found())),
            },
        }
    }

    /// A text prefix: one word of at least two characters.
    fn word_prefix(&self, p: &str, at: usize) -> Result<String, ParseError> {
        let ok = p.chars().count() >= 2 && p.chars().all(char::is_alphanumeric);
        if !ok {
            return Err(self.err_at(
                at,
                "at least two letters or digits (and nothing else) before `*`",
                &format!("`{p}*`"),
            ));
        }
        Ok(analysis::normalize(p))
    }
}

fn describe_gap(t: &Tok) -> String {
    match t {
        Tok::End => "the end of the query".into(),
        _ => "a space".into(),
    }
}
