//! IMAP tokens: atoms, strings and parentheses, read from the text of line
//! fragments, and [`Parts`], a bounded collection of one command's or
//! response's fragments and small literals.
//!
//! The lexer never fails: anything unexpected becomes an atom, because the
//! proxy only needs to understand well-formed traffic and relays the rest.

/// One token of a fragment's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An atom, number or flag; a `[...]` section inside it (with spaces or
    /// parentheses) stays part of it: `BODY[HEADER.FIELDS (FROM)]<0>`.
    Atom(String),
    /// A quoted string (unescaped) or a small literal's content.
    Str(Vec<u8>),
    /// A literal too large to keep; only its place is known.
    BigLiteral,
    /// `(`
    Open,
    /// `)`
    Close,
}

impl Token {
    /// The token as an astring (atom or string), lossily as text.
    pub fn astring(&self) -> Option<String> {
        match self {
            Token::Atom(a) => Some(a.clone()),
            Token::Str(s) => Some(String::from_utf8_lossy(s).into_owned()),
            _ => None,
        }
    }

    /// True for an atom equal to `word`, ignoring ASCII case.
    pub fn is_atom(&self, word: &str) -> bool {
        matches!(self, Token::Atom(a) if a.eq_ignore_ascii_case(word))
    }
}

/// Splits a fragment's text into tokens.
pub fn lex(text: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b' ' | b'\t' => i += 1,
            b'(' => {
                out.push(Token::Open);
                i += 1;
            }
            b')' => {
                out.push(Token::Close);
                i += 1;
            }
            b'"' => {
                let (s, next) = quoted(text, i + 1);
                out.push(Token::Str(s));
                i = next;
            }
            _ => {
                let next = atom_end(text, i);
                out.push(Token::Atom(
                    String::from_utf8_lossy(&text[i..next]).into_owned(),
                ));
                i = next;
            }
        }
    }
    out
}

/// Reads a quoted string's content from `start` (after the opening quote);
/// returns it and the position after the closing quote.
fn quoted(text: &[u8], start: usize) -> (Vec<u8>, usize) {
    let mut s = Vec::new();
    let mut i = start;
    while i < text.len() {
        match text[i] {
            b'\\' if i + 1 < text.len() => {
                s.push(text[i + 1]);
                i += 2;
            }
            b'"' => return (s, i + 1),
            b => {
                s.push(b);
                i += 1;
            }
        }
    }
    (s, i)
}

/// The end of the atom starting at `start`.
fn atom_end(text: &[u8], start: usize) -> usize {
    let mut i = start;
    let mut bracket = false;
    while i < text.len() {
        match text[i] {
            b'[' => bracket = true,
            b']' => bracket = false,
            b' ' | b'(' | b')' | b'"' if !bracket => break,
            _ => {}
        }
        i += 1;
    }
    i
}

/// The fragments and literals of one command or response, for the parsers.
/// Bounded: past `limit` bytes further text is dropped and [`Parts::full`]
/// says so, so a flood of fragments cannot grow memory.
#[derive(Debug, Default)]
pub struct Parts {
    /// Tokens collected so far.
    tokens: Vec<Token>,
    /// Bytes of text and literals taken in so far.
    size: usize,
    /// Byte budget.
    limit: usize,
    /// Something was dropped because the budget ran out.
    full: bool,
}

impl Parts {
    /// Empty, keeping at most `limit` bytes.
    pub fn new(limit: usize) -> Parts {
        Parts {
            limit,
            ..Parts::default()
        }
    }

    /// Adds a fragment's text.
    pub fn text(&mut self, text: &[u8]) {
        if self.take(text.len()) {
            self.tokens.extend(lex(text));
        }
    }

    /// Adds a literal: its content when it was small enough to keep.
    pub fn literal(&mut self, content: Option<Vec<u8>>) {
        match content {
            Some(c) if self.take(c.len()) => self.tokens.push(Token::Str(c)),
            _ => self.tokens.push(Token::BigLiteral),
        }
    }

    fn take(&mut self, n: usize) -> bool {
        if self.full || self.size + n > self.limit {
            self.full = true;
            return false;
        }
        self.size += n;
        true
    }

    /// Marks a fragment as lost (it was too long to keep).
    pub fn overflow(&mut self) {
        self.full = true;
    }

    /// The tokens so far.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// True when some text was dropped.
    pub fn full(&self) -> bool {
        self.full
    }

    /// Starts over for the next command or response.
    pub fn clear(&mut self) {
        self.tokens.clear();
        self.size = 0;
        self.full = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(s: &str) -> Token {
        Token::Atom(s.into())
    }

    #[test]
    fn lexes_atoms_strings_lists_and_sections() {
        let t = lex(
            br#"* 1 FETCH (UID 7 BODY[HEADER.FIELDS (FROM TO)]<0> "a \"q\" {5}" FLAGS (\Seen))"#,
        );
        assert_eq!(
            t,
            [
                atom("*"),
                atom("1"),
                atom("FETCH"),
                Token::Open,
                atom("UID"),
                atom("7"),
                atom("BODY[HEADER.FIELDS (FROM TO)]<0>"),
                Token::Str(b"a \"q\" {5}".to_vec()),
                atom("FLAGS"),
                Token::Open,
                atom("\\Seen"),
                Token::Close,
                Token::Close,
            ]
        );
        assert_eq!(
            lex(b"\"unterminated"),
            [Token::Str(b"unterminated".to_vec())]
        );
        assert!(lex(b"").is_empty());
    }

    #[test]
    fn parts_stay_within_their_budget() {
        let mut p = Parts::new(10);
        p.text(b"a LOGIN ");
        p.literal(Some(b"alice".to_vec()));
        assert!(p.full());
        assert_eq!(p.tokens(), [atom("a"), atom("LOGIN"), Token::BigLiteral]);
        p.clear();
        p.text(b"b NOOP");
        assert_eq!(p.tokens(), [atom("b"), atom("NOOP")]);
        assert!(!p.full());
    }
}
