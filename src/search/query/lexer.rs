//! Cuts a query into tokens with their byte positions. No I/O, no index.

use super::ast::ParseError;

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// `(`
    Open,
    /// `)`
    Close,
    /// `-` directly before a term.
    Minus,
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `NOT`
    Not,
    /// `name:` (the name as written).
    Field(String),
    /// A bare word (may end in `*`).
    Word(String),
    /// A `"quoted phrase"`, unescaped.
    Quoted(String),
    /// The end of the query.
    End,
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned {
    /// The token.
    pub tok: Tok,
    /// Byte offset of its first character.
    pub at: usize,
    /// Byte offset just past it.
    pub end: usize,
}

/// A syntax error at byte `offset` of `query`.
pub fn error(query: &str, offset: usize, expected: &str, found: &str) -> ParseError {
    let offset = offset.min(query.len());
    ParseError {
        offset,
        position: query[..offset].chars().count(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// What a token is called in an error message.
pub fn describe(t: &Tok) -> String {
    match t {
        Tok::Open => "`(`".into(),
        Tok::Close => "`)`".into(),
        Tok::Minus => "`-`".into(),
        Tok::And => "`AND`".into(),
        Tok::Or => "`OR`".into(),
        Tok::Not => "`NOT`".into(),
        Tok::Field(f) => format!("`{f}:`"),
        Tok::Word(w) => format!("`{w}`"),
        Tok::Quoted(q) => format!("\"{q}\""),
        Tok::End => "the end of the query".into(),
    }
}

fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

/// The tokens of `query`, ending with [`Tok::End`].
pub fn lex(query: &str) -> Result<Vec<Spanned>, ParseError> {
    let mut out = Vec::new();
    let mut chars = query.char_indices().peekable();
    let push = |out: &mut Vec<Spanned>, tok, at, end| out.push(Spanned { tok, at, end });
    while let Some(&(at, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' => {
                chars.next();
                let tok = if c == '(' { Tok::Open } else { Tok::Close };
                push(&mut out, tok, at, at + 1);
            }
            '"' => {
                chars.next();
                let mut text = String::new();
                let mut closed = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '"' => {
                            closed = Some(i + 1);
                            break;
                        }
                        '\\' => {
                            if let Some((_, e)) = chars.next() {
                                text.push(e);
                            }
                        }
                        c => text.push(c),
                    }
                }
                let Some(end) = closed else {
                    return Err(error(
                        query,
                        at,
                        "a closing `\"` for this phrase",
                        "the end of the query",
                    ));
                };
                push(&mut out, Tok::Quoted(text), at, end);
            }
            '-' => {
                chars.next();
                match chars.peek() {
                    Some(&(_, n)) if !n.is_whitespace() && n != ')' => {
                        push(&mut out, Tok::Minus, at, at + 1)
                    }
                    _ => {
                        return Err(error(
                            query,
                            at,
                            "a term right after `-` (as in -word)",
                            "`-` alone",
                        ));
                    }
                }
            }
            _ => {
                let mut end = at;
                while let Some(&(i, c)) = chars.peek() {
                    if ends_word(c) {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                let word = &query[at..end];
                match word {
                    "AND" => push(&mut out, Tok::And, at, end),
                    "OR" => push(&mut out, Tok::Or, at, end),
                    "NOT" => push(&mut out, Tok::Not, at, end),
                    _ => match field_name(word) {
                        Some(name) => {
                            let colon = at + name.len();
                            push(&mut out, Tok::Field(name.to_string()), at, colon + 1);
                            if end > colon + 1 {
                                push(
                                    &mut out,
                                    Tok::Word(query[colon + 1..end].into()),
                                    colon + 1,
                                    end,
                                );
                            }
                        }
                        None => push(&mut out, Tok::Word(word.into()), at, end),
                    },
                }
            }
        }
    }
    push(&mut out, Tok::End, query.len(), query.len());
    Ok(out)
}

/// `from` of `from:alice`: letters and inner hyphens before the first `:`.
fn field_name(word: &str) -> Option<&str> {
    let (name, _) = word.split_once(':')?;
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphabetic() || c == '-');
    ok.then_some(name)
}
