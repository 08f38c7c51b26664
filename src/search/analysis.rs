//! How text becomes search terms, without tantivy: word splitting, the
//! normalisation every term gets (case, accents, German umlauts), the
//! stemmed forms, and the terms of an address or a MIME type.
//!
//! The index and the query side call the same functions, so a word is
//! always looked up in the form it was indexed in.

use frostem::{Algorithm, Stemmer};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Words longer than this (in bytes, after normalisation) are not indexed:
/// they are base64 runs, hashes or URLs glued together, which nobody
/// searches for and which would bloat the term dictionary.
pub const MAX_TERM_BYTES: usize = 64;

/// The byte ranges of the words of `text`: runs of letters and digits
/// (with their combining marks); every CJK character is a word of its own,
/// because those scripts do not separate words and a phrase of single
/// characters then finds any sequence of them.
pub fn words(text: &str) -> Words<'_> {
    Words {
        text,
        chars: text.char_indices().peekable(),
    }
}

/// Iterator returned by [`words`].
pub struct Words<'a> {
    /// The whole text, for slicing.
    text: &'a str,
    /// Where the scan is.
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
}

impl<'a> Iterator for Words<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        let (start, first) = loop {
            let (i, c) = self.chars.next()?;
            if c.is_alphanumeric() {
                break (i, c);
            }
        };
        let mut end = start + first.len_utf8();
        if !is_cjk(first) {
            while let Some(&(i, c)) = self.chars.peek() {
                if (c.is_alphanumeric() && !is_cjk(c)) || is_combining_mark(c) {
                    end = i + c.len_utf8();
                    self.chars.next();
                } else {
                    break;
                }
            }
        }
        Some((start, &self.text[start..end]))
    }
}

/// Han, Hiragana, Katakana, Hangul: scripts written without spaces.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF
        | 0xAC00..=0xD7AF | 0xFF66..=0xFF9F | 0x20000..=0x2FA1F)
}

/// The form every word is indexed and searched in: lowercase, German
/// umlauts and their transcriptions folded (Müller, Mueller and Muller all
/// become `muller`, as Lucene's GermanNormalizationFilter does), other
/// accents removed (`café` → `cafe`).
pub fn normalize(word: &str) -> String {
    if word.is_ascii() {
        let lower = word.to_ascii_lowercase();
        return german(lower.chars());
    }
    let lower: String = word.chars().flat_map(char::to_lowercase).nfc().collect();
    let german = german(lower.chars());
    let mut out = String::with_capacity(german.len());
    for c in german.chars() {
        fold_char(c, &mut out);
    }
    out
}

/// Lucene's GermanNormalizationFilter: `ß` → `ss`; `ä ö ü` → `a o u`;
/// `ae oe` → `a o`, and `ue` → `u` unless the `u` follows a vowel or `q`
/// (`queue` and `blaue` keep their `e`).
fn german(chars: impl Iterator<Item = char>) -> String {
    #[derive(PartialEq)]
    enum State {
        /// Nothing special before.
        N,
        /// A vowel or `q` before: a following `ue` is not an umlaut.
        V,
        /// `a`, `o` or a `u` that may take the `e` of an umlaut.
        U,
    }
    let mut state = State::N;
    let mut out = String::new();
    for c in chars {
        match c {
            'a' | 'o' => {
                state = State::U;
                out.push(c);
            }
            'u' => {
                state = if state == State::N {
                    State::U
                } else {
                    State::V
                };
                out.push(c);
            }
            'e' => {
                if state != State::U {
                    out.push(c);
                }
                state = State::V;
            }
            'i' | 'q' | 'y' => {
                state = State::V;
                out.push(c);
            }
            'ä' | 'ö' | 'ü' => {
                out.push(match c {
                    'ä' => 'a',
                    'ö' => 'o',
                    _ => 'u',
                });
                state = State::V;
            }
            'ß' => {
                out.push_str("ss");
                state = State::N;
            }
            _ => {
                state = State::N;
                out.push(c);
            }
        }
    }
    out
}

/// Removes accents from one (lowercase) character; letters that are not
/// decomposable in Unicode get their usual Latin transcription.
fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c);
        return;
    }
    let special = match c {
        'æ' => "ae",
        'œ' => "oe",
        'ø' => "o",
        'ł' => "l",
        'đ' | 'ð' => "d",
        'þ' => "th",
        'ı' => "i",
        'ß' => "ss",
        _ => "",
    };
    if !special.is_empty() {
        out.push_str(special);
        return;
    }
    if is_cjk(c) {
        out.push(c);
        return;
    }
    out.extend(std::iter::once(c).nfkd().filter(|d| !is_combining_mark(*d)));
}

/// The normalised words of `text` with their byte ranges, dropping those
/// longer than [`MAX_TERM_BYTES`].
pub fn terms(text: &str) -> impl Iterator<Item = (usize, usize, String)> + '_ {
    words(text).filter_map(|(at, w)| {
        let t = normalize(w);
        (!t.is_empty() && t.len() <= MAX_TERM_BYTES).then(|| (at, at + w.len(), t))
    })
}

/// The stemmed forms of a normalised term: its German and its English stem,
/// once if they agree. Mail here is German and English mixed, often in one
/// thread, so both are indexed and both are searched. Terms with digits
/// and CJK characters are not stemmed.
pub fn stems(term: &str) -> (String, Option<String>) {
    if !term.chars().all(|c| c.is_alphabetic() && !is_cjk(c)) {
        return (term.to_string(), None);
    }
    let de = Stemmer::new(Algorithm::German).stem(term).into_owned();
    let en = Stemmer::new(Algorithm::English).stem(term);
    if en == de {
        (de, None)
    } else {
        (de, Some(en.into_owned()))
    }
}

/// The terms an address value is indexed under, so that `from:` finds it by
/// the whole address, its local part, the pieces of the local part, the
/// domain, every parent domain and every label but the last
/// (`alice.m@mail.example.com` → the whole, `alice.m`, `alice`, `m`,
/// `mail`, `example`, `mail.example.com`, `example.com`). A value
/// without `@` is a display name: its words.
pub fn address_terms(value: &str) -> Vec<String> {
    let value = value.trim().trim_matches(|c| c == '<' || c == '>');
    let Some((local, domain)) = value.rsplit_once('@') else {
        return terms(value).map(|(_, _, t)| t).collect();
    };
    let mut out = Vec::new();
    let mut push = |t: String| {
        if !t.is_empty() && t.len() <= 2 * MAX_TERM_BYTES && !out.contains(&t) {
            out.push(t);
        }
    };
    push(normalize(value));
    push(normalize(local));
    for (_, _, t) in terms(local) {
        push(t);
    }
    let domain = normalize(domain.trim_end_matches('.'));
    // Every label but the top-level one: `from:lieferant` finds
    // `info@lieferant.de`.
    if let Some((labels, _tld)) = domain.rsplit_once('.') {
        for label in labels.split('.') {
            push(label.to_string());
        }
    }
    let mut rest = domain.as_str();
    while rest.contains('.') {
        push(rest.to_string());
        rest = rest.split_once('.').map_or("", |(_, r)| r);
    }
    out
}

/// The one term an address query value is looked up as: the whole value
/// normalised (a leading `@` dropped, so `from:@example.com` is a domain).
pub fn address_query_term(value: &str) -> String {
    normalize(value.trim().trim_start_matches('@').trim_end_matches('.'))
}

/// The terms of an attachment's MIME type (`application/pdf` → itself,
/// `application`, `pdf`), and of its file name's extension when given.
pub fn type_terms(mime: &str, file_name: Option<&str>) -> Vec<String> {
    let mime = mime.trim().to_ascii_lowercase();
    let mut out = Vec::new();
    if !mime.is_empty() {
        out.push(mime.clone());
        for part in mime.split('/') {
            if !part.is_empty() && !out.iter().any(|t| t == part) {
                out.push(part.to_string());
            }
        }
    }
    let ext = file_name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| normalize(e))
        .filter(|e| !e.is_empty() && e.len() <= 16);
    if let Some(e) = ext
        && !out.contains(&e)
    {
        out.push(e);
    }
    out
}

/// A keyword value as stored and looked up: trimmed, lowercase, and for
/// Message-IDs without angle brackets.
pub fn keyword(value: &str) -> String {
    value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_lowercase()
}

#[cfg(test)]
#[path = "analysis_tests.rs"]
mod tests;
