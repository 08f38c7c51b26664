//! Just enough of Rust's lexer to find paths: identifiers, `::`, brackets
//! and single punctuation, each with its line. Comments (doc comments
//! included), string, char and number literals are dropped, so a path in a
//! comment or a message text is never taken for a dependency; lifetimes are
//! dropped too. Items under `#[cfg(test)]` are removed: tests may reach
//! anywhere.

/// One token of a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// An identifier or keyword (`r#` of a raw identifier removed).
    Ident(String),
    /// `::`
    PathSep,
    /// Any other punctuation or bracket, one character.
    Punct(char),
}

/// A token and the line it starts on (1-based).
#[derive(Debug, Clone)]
pub struct Token {
    /// What it is.
    pub tok: Tok,
    /// Where it is, for the report.
    pub line: usize,
}

impl Token {
    /// The identifier, if this is one.
    pub fn ident(&self) -> Option<&str> {
        match &self.tok {
            Tok::Ident(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is the punctuation `c`.
    pub fn is(&self, c: char) -> bool {
        self.tok == Tok::Punct(c)
    }
}

/// The tokens of `src`, without items under `#[cfg(test)]`.
pub fn tokens(src: &str) -> Vec<Token> {
    strip_test_items(lex(src))
}

fn lex(src: &str) -> Vec<Token> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    // Advances over c[from..to], counting the newlines in it.
    let skip = |from: usize, to: usize, line: &mut usize| {
        *line += c[from..to.min(c.len())]
            .iter()
            .filter(|&&ch| ch == '\n')
            .count();
        to.min(c.len())
    };
    while i < c.len() {
        let at = |k: usize| c.get(k).copied().unwrap_or('\0');
        let ch = c[i];
        if ch.is_whitespace() {
            i = skip(i, i + 1, &mut line);
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            let start = i;
            loop {
                if i >= c.len() {
                    break;
                } else if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            skip(start, i, &mut line);
        } else if let Some(end) = raw_string(&c, i) {
            i = skip(i, end, &mut line);
        } else if ch == '"' || ((ch == 'b' || ch == 'c') && at(i + 1) == '"') {
            let mut k = if ch == '"' { i + 1 } else { i + 2 };
            while k < c.len() && c[k] != '"' {
                k += if c[k] == '\\' { 2 } else { 1 };
            }
            i = skip(i, k + 1, &mut line);
        } else if ch == '\'' || (ch == 'b' && at(i + 1) == '\'') {
            let q = if ch == '\'' { i } else { i + 1 };
            if at(q + 1) == '\\' {
                // An escaped char literal: '\n', '\'', '\u{1F600}'.
                let mut k = q + 3;
                while k < c.len() && c[k] != '\'' {
                    k += 1;
                }
                i = k + 1;
            } else if at(q + 2) == '\'' {
                i = q + 3;
            } else {
                // A lifetime or a loop label.
                i = q + 1;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
            }
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let mut k = i;
            if ch == 'r' && at(i + 1) == '#' {
                k += 2;
            }
            let start = k;
            while k < c.len() && (c[k].is_alphanumeric() || c[k] == '_') {
                k += 1;
            }
            out.push(Token {
                tok: Tok::Ident(c[start..k].iter().collect()),
                line,
            });
            i = k;
        } else if ch == ':' && at(i + 1) == ':' {
            out.push(Token {
                tok: Tok::PathSep,
                line,
            });
            i += 2;
        } else {
            out.push(Token {
                tok: Tok::Punct(ch),
                line,
            });
            i += 1;
        }
    }
    out
}

/// The end (exclusive) of a raw string literal starting at `i`
/// (`r"…"`, `r#"…"#`, `br#"…"#`, `cr"…"`), if one starts there.
fn raw_string(c: &[char], i: usize) -> Option<usize> {
    let mut k = i;
    if matches!(c.get(k), Some('b' | 'c')) {
        k += 1;
    }
    if c.get(k) != Some(&'r') {
        return None;
    }
    k += 1;
    let hashes = c[k..].iter().take_while(|&&ch| ch == '#').count();
    k += hashes;
    if c.get(k) != Some(&'"') {
        return None;
    }
    k += 1;
    while k < c.len() {
        if c[k] == '"'
            && c[k + 1..]
                .iter()
                .take(hashes)
                .filter(|&&h| h == '#')
                .count()
                == hashes
        {
            return Some(k + 1 + hashes);
        }
        k += 1;
    }
    Some(c.len())
}

/// Whether `t[i..]` starts the attribute `#[cfg(test)]` (or `#![cfg(test)]`
/// when `inner`); returns the index after it.
fn cfg_test_at(t: &[Token], i: usize, inner: bool) -> Option<usize> {
    let mut k = i;
    let mut expect = |want: &dyn Fn(&Token) -> bool| {
        let ok = t.get(k).is_some_and(want);
        k += 1;
        ok
    };
    let matched = expect(&|x| x.is('#'))
        && (!inner || expect(&|x| x.is('!')))
        && expect(&|x| x.is('['))
        && expect(&|x| x.ident() == Some("cfg"))
        && expect(&|x| x.is('('))
        && expect(&|x| x.ident() == Some("test"))
        && expect(&|x| x.is(')'))
        && expect(&|x| x.is(']'));
    matched.then_some(k)
}

/// The index after the bracketed group opening at `t[i]`.
fn skip_group(t: &[Token], i: usize) -> usize {
    let mut depth = 0usize;
    let mut k = i;
    while k < t.len() {
        if t[k].is('(') || t[k].is('[') || t[k].is('{') {
            depth += 1;
        } else if t[k].is(')') || t[k].is(']') || t[k].is('}') {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return k + 1;
            }
        }
        k += 1;
    }
    t.len()
}

/// The index after the item starting at `t[i]` (its other attributes
/// included): after its `;`, or after its `{ … }` body. A `use`, `const`
/// or `static` item ends at its `;` even when braces come first.
fn skip_item(t: &[Token], mut i: usize) -> usize {
    while i < t.len() && t[i].is('#') {
        i = skip_group(t, i + 1);
    }
    let ends_at_semicolon = t[i..]
        .iter()
        .take(6)
        .any(|x| matches!(x.ident(), Some("use" | "const" | "static")));
    let mut k = i;
    while k < t.len() {
        if t[k].is(';') {
            return k + 1;
        }
        if t[k].is('{') && !ends_at_semicolon {
            return skip_group(t, k);
        }
        if t[k].is('(') || t[k].is('[') || t[k].is('{') {
            k = skip_group(t, k);
        } else {
            k += 1;
        }
    }
    t.len()
}

fn strip_test_items(t: Vec<Token>) -> Vec<Token> {
    if cfg_test_at(&t, 0, true).is_some() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        match cfg_test_at(&t, i, false) {
            Some(after) => i = skip_item(&t, after),
            None => {
                out.push(t[i].clone());
                i += 1;
            }
        }
    }
    out
}
