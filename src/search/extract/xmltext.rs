//! Text out of the XML inside office documents (WordprocessingML,
//! SpreadsheetML, PresentationML, OpenDocument), on quick-xml's streaming
//! reader: no tree is built, no DTD entity is expanded (so no "billion
//! laughs"), and nesting deeper than the limit stops the walk.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::textbuf::TextBuf;

/// What a format does with the elements and text of its XML.
pub(crate) trait Handler {
    /// An element opens (an empty element opens, then closes).
    fn start(&mut self, name: &[u8], element: &BytesStart<'_>, out: &mut TextBuf);
    /// An element closes.
    fn end(&mut self, name: &[u8], out: &mut TextBuf);
    /// Character data (entities resolved) inside the current element.
    fn text(&mut self, text: &str, out: &mut TextBuf);
}

/// Why a walk ended before the end of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Elements nested deeper than the limit.
    TooDeep,
    /// The XML is not well-formed (or was cut short).
    Malformed,
}

/// Walks `xml`, handing elements and text to `handler`, until the end, the
/// text buffer is full, or a [`Stop`]. Names are local (no prefix), so
/// `w:t` and `t` are the same element.
pub(crate) fn walk(
    xml: &[u8],
    handler: &mut dyn Handler,
    max_depth: usize,
    out: &mut TextBuf,
) -> Result<(), Stop> {
    let xml = String::from_utf8_lossy(xml);
    let mut reader = Reader::from_str(&xml);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_dangling_amp = true;
    config.allow_unmatched_ends = true;
    let mut depth = 0usize;
    while !out.is_full() {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                depth += 1;
                if depth > max_depth {
                    return Err(Stop::TooDeep);
                }
                handler.start(e.local_name().into_inner().as_bytes(), &e, out);
            }
            Ok(Event::Empty(e)) => {
                let name = e.local_name();
                handler.start(name.into_inner().as_bytes(), &e, out);
                handler.end(name.into_inner().as_bytes(), out);
            }
            Ok(Event::End(e)) => {
                depth = depth.saturating_sub(1);
                handler.end(e.local_name().into_inner().as_bytes(), out);
            }
            Ok(Event::Text(t)) => handler.text(&t.xml10_content(), out),
            Ok(Event::CData(t)) => handler.text(&t.xml10_content(), out),
            Ok(Event::GeneralRef(r)) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    Ok(None) => quick_xml::escape::resolve_predefined_entity(&r).map(String::from),
                    Err(_) => None,
                };
                if let Some(s) = resolved {
                    handler.text(&s, out);
                }
            }
            Ok(Event::Eof) => return Ok(()),
            Ok(_) => {}
            Err(_) => return Err(Stop::Malformed),
        }
    }
    Ok(())
}

/// A handler for formats whose text sits in known elements: the text of
/// `text_in` elements is kept, `breaks` end a line, `spaces` separate
/// words, and nothing inside `skip` elements counts.
pub(crate) struct Simple {
    /// Elements whose character data is document text (`w:t`, `a:t`); an
    /// empty list keeps all character data.
    pub text_in: &'static [&'static [u8]],
    /// Elements whose end ends a line (paragraphs, rows, headings).
    pub breaks: &'static [&'static [u8]],
    /// Elements that stand for white space (tabs, cells, `text:s`).
    pub spaces: &'static [&'static [u8]],
    /// Elements whose content is not text (deleted runs, field codes).
    pub skip: &'static [&'static [u8]],
    /// How many `text_in` elements are open.
    pub inside: usize,
    /// How many `skip` elements are open.
    pub skipping: usize,
}

impl Simple {
    /// A handler with the given element sets.
    pub(crate) fn new(
        text_in: &'static [&'static [u8]],
        breaks: &'static [&'static [u8]],
        spaces: &'static [&'static [u8]],
        skip: &'static [&'static [u8]],
    ) -> Simple {
        Simple {
            text_in,
            breaks,
            spaces,
            skip,
            inside: 0,
            skipping: 0,
        }
    }
}

impl Handler for Simple {
    fn start(&mut self, name: &[u8], _: &BytesStart<'_>, out: &mut TextBuf) {
        if self.skip.contains(&name) {
            self.skipping += 1;
        } else if self.text_in.contains(&name) {
            self.inside += 1;
        } else if self.spaces.contains(&name) && self.skipping == 0 {
            out.space();
        }
    }

    fn end(&mut self, name: &[u8], out: &mut TextBuf) {
        if self.skip.contains(&name) {
            self.skipping = self.skipping.saturating_sub(1);
        } else if self.text_in.contains(&name) {
            self.inside = self.inside.saturating_sub(1);
        } else if self.breaks.contains(&name) && self.skipping == 0 {
            out.newline();
        }
    }

    fn text(&mut self, text: &str, out: &mut TextBuf) {
        if self.skipping == 0 && (self.text_in.is_empty() || self.inside > 0) {
            out.push(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docx_like(xml: &str, max_depth: usize) -> (String, Result<(), Stop>) {
        let mut h = Simple::new(&[b"t"], &[b"p"], &[b"tab"], &[b"delText"]);
        let mut out = TextBuf::new(1 << 20);
        let r = walk(xml.as_bytes(), &mut h, max_depth, &mut out);
        (out.into_string(), r)
    }

    #[test]
    fn keeps_text_elements_resolves_entities_and_breaks_paragraphs() {
        let xml = r#"<?xml version="1.0"?><w:document xmlns:w="x"><w:body>
            <w:p><w:r><w:t>Rechnung &amp; Mahnung</w:t></w:r><w:r><w:tab/><w:t>&#x4E2D;</w:t></w:r></w:p>
            <w:p><w:r><w:delText>gel&#246;scht</w:delText><w:t xml:space="preserve">Nr. 4711</w:t></w:r></w:p>
            <w:p><w:r><w:instr>ignored</w:instr></w:r></w:p></w:body></w:document>"#;
        let (text, r) = docx_like(xml, 64);
        assert_eq!(r, Ok(()));
        assert_eq!(text, "Rechnung & Mahnung 中\nNr. 4711");
    }

    #[test]
    fn depth_and_malformed_xml_stop_with_the_text_so_far() {
        let deep = format!("<p><t>kept</t>{}", "<x>".repeat(100));
        assert_eq!(docx_like(&deep, 50), ("kept".into(), Err(Stop::TooDeep)));
        let (text, r) = docx_like("<p><t>part</t></p><t>cut <", 50);
        assert_eq!(text, "part\ncut");
        assert_eq!(r, Err(Stop::Malformed));
    }
}
