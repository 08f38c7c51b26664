//! Snippets: the part of a text where the query's words are, with the
//! matching words marked. The index stores no text, so callers pass the
//! text (the subject, or the body extracted again from the archive); the
//! words are matched with the same analysis as the index, stems included,
//! so a search for `Rechnung` marks `Rechnungen` too.

use std::collections::HashSet;

use serde::Serialize;

use super::analysis;
use super::query::Node;
use super::query::ast::{Text, TextScope};

/// A piece of text with the matched words marked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snippet {
    /// The excerpt (whole words, `…` where it was cut).
    pub text: String,
    /// Byte ranges of matched words within `text`.
    pub highlights: Vec<(usize, usize)>,
}

/// The words a query looks for in message text.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    /// Normalised words and phrase words.
    exact: HashSet<String>,
    /// Stems of free words.
    stems: HashSet<String>,
    /// Normalised prefixes.
    prefixes: Vec<String>,
}

impl Wanted {
    /// The text words of `node` that a hit can contain (words under NOT
    /// are not wanted).
    pub fn of(node: &Node) -> Wanted {
        let mut w = Wanted::default();
        w.collect(node);
        w
    }

    fn collect(&mut self, node: &Node) {
        match node {
            Node::And(parts) | Node::Or(parts) => parts.iter().for_each(|p| self.collect(p)),
            Node::Text { scope, text } if *scope != TextScope::Filename => match text {
                Text::Prefix(p) => self.prefixes.push(p.clone()),
                Text::Word(w) | Text::Phrase(w) => {
                    let stem = matches!(text, Text::Word(_));
                    for (_, _, t) in analysis::terms(w) {
                        if stem {
                            let (de, en) = analysis::stems(&t);
                            self.stems.insert(de);
                            self.stems.extend(en);
                        }
                        self.exact.insert(t);
                    }
                }
            },
            _ => {}
        }
    }

    /// Whether nothing is looked for.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.stems.is_empty() && self.prefixes.is_empty()
    }

    fn matches(&self, term: &str) -> bool {
        if self.exact.contains(term) || self.prefixes.iter().any(|p| term.starts_with(p.as_str())) {
            return true;
        }
        if self.stems.is_empty() {
            return false;
        }
        let (de, en) = analysis::stems(term);
        self.stems.contains(&de) || en.is_some_and(|e| self.stems.contains(&e))
    }
}

/// The window of about `max_chars` characters of `text` with the most
/// wanted words, or `None` if no word matches.
pub fn snippet(wanted: &Wanted, text: &str, max_chars: usize) -> Option<Snippet> {
    if wanted.is_empty() {
        return None;
    }
    let hits: Vec<(usize, usize)> = analysis::terms(text)
        .filter(|(_, _, t)| wanted.matches(t))
        .map(|(a, b, _)| (a, b))
        .collect();
    if hits.is_empty() {
        return None;
    }
    // Window in bytes, approximating characters by bytes of the text's mix.
    let ratio = text.len().max(1) as f64 / text.chars().count().max(1) as f64;
    let width = ((max_chars as f64) * ratio) as usize;
    let (mut best, mut best_count, mut j) = (0, 0, 0);
    for i in 0..hits.len() {
        while j < hits.len() && hits[j].1 <= hits[i].0 + width {
            j += 1;
        }
        if j - i > best_count {
            (best, best_count) = (i, j - i);
        }
    }
    let first = hits[best].0;
    // Start a little before the first hit, at a word boundary.
    let mut start = first.saturating_sub(width / 5);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    if start > 0 {
        start = text[start..first]
            .find(char::is_whitespace)
            .map_or(first, |i| start + i + 1);
    }
    let mut end = (start + width).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if end < text.len() {
        end = text[start..end]
            .rfind(char::is_whitespace)
            .map_or(end, |i| start + i);
    }
    let end = end.max(hits[best].1.min(text.len()));
    let prefix = if start > 0 { "…" } else { "" };
    let mut out = String::from(prefix);
    out.push_str(&collapse(&text[start..end]));
    let highlights = recompute(wanted, &out);
    if end < text.len() {
        out.push('…');
    }
    Some(Snippet {
        text: out,
        highlights,
    })
}

/// Whitespace runs (line breaks of the body) become single spaces.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn recompute(wanted: &Wanted, text: &str) -> Vec<(usize, usize)> {
    analysis::terms(text)
        .filter(|(_, _, t)| wanted.matches(t))
        .map(|(a, b, _)| (a, b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::query::parse;

    fn marked(s: &Snippet) -> Vec<&str> {
        s.highlights.iter().map(|&(a, b)| &s.text[a..b]).collect()
    }

    #[test]
    fn marks_exact_stemmed_and_prefixed_words() {
        let q = parse("rechnung OR zahl* -mahnung").unwrap_or_else(|e| panic!("{e}"));
        let w = Wanted::of(&q);
        let s = snippet(
            &w,
            "Anbei die Rechnungen.\nBitte Zahlung bis Freitag. Keine Mahnung.",
            200,
        );
        let s = s.unwrap_or_else(|| panic!("no snippet"));
        assert_eq!(marked(&s), vec!["Rechnungen", "Zahlung"]);
        assert_eq!(
            s.text,
            "Anbei die Rechnungen. Bitte Zahlung bis Freitag. Keine Mahnung."
        );
        assert_eq!(snippet(&w, "nothing here", 200), None);
    }

    #[test]
    fn cuts_around_the_densest_place() {
        let q = parse("\"Müller\"").unwrap_or_else(|e| panic!("{e}"));
        let filler = "lorem ipsum dolor sit amet ".repeat(20);
        let text = format!("{filler}Herr Mueller schreibt. {filler}");
        let s = snippet(&Wanted::of(&q), &text, 60).unwrap_or_else(|| panic!("no snippet"));
        assert!(
            s.text.starts_with('…') && s.text.ends_with('…'),
            "{}",
            s.text
        );
        assert!(s.text.chars().count() <= 80, "{}", s.text);
        assert_eq!(marked(&s), vec!["Mueller"]);
    }
}
