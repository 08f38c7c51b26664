//! The analysis functions as tantivy tokenizers, registered under the names
//! the schema uses. tantivy calls them when it indexes a document and when
//! the snippet generator looks for the words to highlight.

use std::collections::HashMap;

use tantivy::Index;
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};

use super::analysis;

/// Tokenizer name of the text fields (words, normalised, with positions).
pub const TEXT: &str = "mailseal_text";
/// Tokenizer name of the stemmed copies (German and English stems).
pub const STEM: &str = "mailseal_stem";

/// What a [`Words`] tokenizer emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    /// The normalised word.
    Normalized,
    /// Its stems, at the word's position.
    Stems,
}

/// Splits text into [`analysis::terms`], or their stems.
#[derive(Debug, Clone)]
struct Words {
    /// Normalised words or stems.
    output: Output,
    /// Stems of recent words: two Snowball runs per word were a quarter of
    /// the indexing time, and mail repeats its words.
    stems: HashMap<String, (String, Option<String>)>,
}

/// Words whose stems [`Words`] remembers before it starts over.
const STEM_CACHE: usize = 100_000;

impl Words {
    fn new(output: Output) -> Words {
        Words {
            output,
            stems: HashMap::new(),
        }
    }

    fn stems(&mut self, term: &str) -> (String, Option<String>) {
        if let Some(s) = self.stems.get(term) {
            return s.clone();
        }
        let s = analysis::stems(term);
        if self.stems.len() >= STEM_CACHE {
            self.stems.clear();
        }
        self.stems.insert(term.to_string(), s.clone());
        s
    }
}

impl Tokenizer for Words {
    type TokenStream<'a> = VecTokens;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokens {
        let mut tokens = Vec::new();
        for (position, (from, to, term)) in analysis::terms(text).enumerate() {
            let token = |text: String| Token {
                offset_from: from,
                offset_to: to,
                position,
                text,
                position_length: 1,
            };
            match self.output {
                Output::Normalized => tokens.push(token(term)),
                Output::Stems => {
                    let (first, second) = self.stems(&term);
                    tokens.push(token(first));
                    if let Some(s) = second {
                        tokens.push(token(s));
                    }
                }
            }
        }
        VecTokens { tokens, next: 0 }
    }
}

/// The tokens of one text, computed at once.
struct VecTokens {
    /// All tokens.
    tokens: Vec<Token>,
    /// Index of the token after the current one.
    next: usize,
}

impl TokenStream for VecTokens {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// Registers mailseal's tokenizers with an index (opened or created).
pub fn register(index: &Index) {
    let manager = index.tokenizers();
    manager.register(TEXT, TextAnalyzer::from(Words::new(Output::Normalized)));
    manager.register(STEM, TextAnalyzer::from(Words::new(Output::Stems)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(output: Output, text: &str) -> Vec<(usize, String)> {
        let mut t = Words::new(output);
        let mut s = t.token_stream(text);
        let mut out = Vec::new();
        while s.advance() {
            out.push((s.token().position, s.token().text.clone()));
        }
        out
    }

    #[test]
    fn stems_share_the_word_position() {
        let words = run(Output::Normalized, "Müller invoices");
        assert_eq!(words, vec![(0, "muller".into()), (1, "invoices".into())]);
        let stems = run(Output::Stems, "Rechnungen invoices");
        assert!(stems.contains(&(0, "rechnung".into())), "{stems:?}");
        assert!(stems.iter().all(|(p, _)| *p <= 1));
        assert!(
            stems
                .iter()
                .any(|(p, s)| *p == 1 && s.starts_with("invoic"))
        );
    }
}
