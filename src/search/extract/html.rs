//! HTML to searchable text, on html5gum's WHATWG tokenizer: text outside
//! `<head>`, scripts and styles, character references decoded, white space
//! collapsed, and a line break at every block element, so that
//! `<td>Hello</td><td>World</td>` gives two words, not "HelloWorld".

use html5gum::emitters::callback::{CallbackEmitter, CallbackEvent};
use html5gum::{Span, Tokenizer};

use super::textbuf::TextBuf;

/// Appends the text of `html` to `out`, until `out` is full.
pub(crate) fn to_text(html: &str, out: &mut TextBuf) {
    let mut state = State {
        out,
        skip: None,
        in_head: false,
        pending_space: false,
    };
    let mut emitter = CallbackEmitter::new(|event: CallbackEvent<'_>, _: Span<()>| -> Option<()> {
        state.event(event)
    });
    // Scripts and styles are raw text: without this their contents would
    // be read as markup.
    emitter.naively_switch_states(true);
    // The callback yields an item only once the text is full, with more
    // HTML to go.
    let stopped = Tokenizer::new_with_emitter(html, emitter).next().is_some();
    if stopped {
        state.out.mark_truncated();
    }
}

/// Where the converter is in the document.
struct State<'a> {
    /// Where the text goes.
    out: &'a mut TextBuf,
    /// The element whose content is being skipped (`script`, `style`, ...),
    /// until its end tag.
    skip: Option<&'static [u8]>,
    /// Inside `<head>` (until `</head>` or `<body>`): titles and meta are
    /// not body text.
    in_head: bool,
    /// White space was seen since the last word: the next word needs a
    /// separating space.
    pending_space: bool,
}

/// Elements whose content is never shown as text.
const SKIPPED: [&[u8]; 8] = [
    b"script",
    b"style",
    b"noscript",
    b"noembed",
    b"noframes",
    b"iframe",
    b"template",
    b"object",
];

/// Elements that start a new line of text.
const BLOCKS: [&[u8]; 37] = [
    b"address",
    b"article",
    b"aside",
    b"blockquote",
    b"br",
    b"caption",
    b"center",
    b"dd",
    b"details",
    b"dialog",
    b"div",
    b"dl",
    b"dt",
    b"fieldset",
    b"figcaption",
    b"figure",
    b"footer",
    b"form",
    b"h1",
    b"h2",
    b"h3",
    b"h4",
    b"h5",
    b"h6",
    b"header",
    b"hr",
    b"li",
    b"main",
    b"nav",
    b"ol",
    b"p",
    b"pre",
    b"section",
    b"summary",
    b"table",
    b"tr",
    b"ul",
];

impl State<'_> {
    /// Handles one tokenizer event; `Some` stops the tokenizer.
    fn event(&mut self, event: CallbackEvent<'_>) -> Option<()> {
        match event {
            CallbackEvent::OpenStartTag { name } => self.start_tag(name),
            CallbackEvent::EndTag { name } => self.end_tag(name),
            CallbackEvent::String { value } if self.skip.is_none() && !self.in_head => {
                self.text(value)
            }
            _ => {}
        }
        self.out.is_full().then_some(())
    }

    fn start_tag(&mut self, name: &[u8]) {
        if self.skip.is_some() {
            return;
        }
        if let Some(s) = SKIPPED.iter().find(|s| **s == name) {
            self.skip = Some(s);
        } else if name == b"head" {
            self.in_head = true;
        } else if name == b"body" {
            self.in_head = false;
        } else {
            self.separate(name);
        }
    }

    fn end_tag(&mut self, name: &[u8]) {
        match self.skip {
            Some(s) if s == name => self.skip = None,
            Some(_) => {}
            None if name == b"head" => self.in_head = false,
            None => self.separate(name),
        }
    }

    /// A block element breaks the line, a table cell separates words.
    fn separate(&mut self, name: &[u8]) {
        if BLOCKS.contains(&name) {
            self.out.newline();
            self.pending_space = false;
        } else if name == b"td" || name == b"th" || name == b"img" {
            self.pending_space = true;
        }
    }

    /// Appends text with its white space collapsed to single spaces.
    fn text(&mut self, value: &[u8]) {
        let text = String::from_utf8_lossy(value);
        for (i, word) in text.split(char::is_whitespace).enumerate() {
            if i > 0 {
                self.pending_space = true;
            }
            if word.is_empty() {
                continue;
            }
            if self.pending_space {
                self.out.space();
                self.pending_space = false;
            }
            self.out.push(word);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(html: &str) -> String {
        let mut out = TextBuf::new(1 << 20);
        to_text(html, &mut out);
        out.into_string()
    }

    #[test]
    fn blocks_break_lines_and_inline_tags_do_not_split_words() {
        assert_eq!(
            text("<p>Hello <b>Wor</b>ld</p><div>Zweite&nbsp;Zeile &amp; mehr</div>"),
            "Hello World\nZweite Zeile & mehr"
        );
        assert_eq!(
            text("<table><tr><td>Rechnung</td><td>4711</td></tr><tr><td>x</td></tr></table>"),
            "Rechnung 4711\nx"
        );
    }

    #[test]
    fn head_scripts_styles_and_comments_are_not_text() {
        let html = "<html><head><title>T</title><style>p{color:red}</style></head>\
                    <body><script>if (a < b) { x = '</p>'; }</script>\
                    <!-- hidden --><p title=\"a>b\">Visible</p></body></html>";
        assert_eq!(text(html), "Visible");
        // A head that is never closed ends at <body>.
        assert_eq!(text("<head><meta charset=utf-8><body>Text"), "Text");
    }

    #[test]
    fn stops_when_full() {
        let mut out = TextBuf::new(10);
        to_text(&"<p>word</p>".repeat(1000), &mut out);
        assert!(out.truncated());
        assert_eq!(out.into_string(), "word\nword");
    }
}
