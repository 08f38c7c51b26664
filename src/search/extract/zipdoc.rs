//! Text of zip-based documents: DOCX, XLSX, PPTX (Office Open XML) and
//! ODT, ODS, ODP (OpenDocument); any other zip gives its file names.
//!
//! Zip bombs stop at two caps: the entry count is read from the
//! end-of-central-directory record before the zip crate builds its table,
//! and every entry is read through one shared budget of unpacked bytes, so
//! neither a lying size field nor overlapping entries get past it.

use std::io::{Cursor, Read};

use quick_xml::events::BytesStart;
use zip::ZipArchive;
use zip::result::ZipError;

use super::limits::Limits;
use super::problem::ProblemKind;
use super::textbuf::TextBuf;
use super::xmltext::{self, Handler, Simple, Stop};

/// The document formats inside a zip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Docx,
    Xlsx,
    Pptx,
    OpenDocument,
    Plain,
}

/// Extracts the text of the zip-based document `bytes` into `out`.
pub(crate) fn text(
    bytes: &[u8],
    limits: &Limits,
    out: &mut TextBuf,
    problems: &mut Vec<ProblemKind>,
) {
    let max_entries = limits.max_zip_entries.min(usize::from(u16::MAX) - 1);
    match entry_count(bytes) {
        Some(n) if n <= max_entries => {}
        Some(_) => {
            problems.push(ProblemKind::TooManyEntries { limit: max_entries });
            return;
        }
        None => return problems.push(damaged("no zip directory")),
    }
    let mut archive = match ZipArchive::new(Cursor::new(bytes)) {
        Ok(a) => a,
        Err(_) => return problems.push(damaged("unreadable zip directory")),
    };
    let names: Vec<String> = archive
        .file_names()
        .filter_map(Result::ok)
        .map(String::from)
        .collect();
    let mut doc = Doc {
        archive: &mut archive,
        budget: limits.max_unpacked,
        limits,
        problems,
    };
    match kind(&names) {
        Kind::Docx => {
            let mut parts = vec!["word/document.xml".to_string()];
            parts.extend(sorted(&names, "word/footnotes", ""));
            parts.extend(sorted(&names, "word/endnotes", ""));
            parts.extend(sorted(&names, "word/comments", ""));
            parts.extend(sorted(&names, "word/header", ".xml"));
            parts.extend(sorted(&names, "word/footer", ".xml"));
            for part in parts {
                let mut h = Simple::new(
                    &[b"t"],
                    &[b"p"],
                    &[b"tab", b"br", b"cr"],
                    &[b"delText", b"instrText"],
                );
                if !doc.xml(&part, &mut h, out) {
                    break;
                }
            }
        }
        Kind::Xlsx => {
            // Sheet names, then every string cell (shared strings), then
            // the numbers and inline strings of each sheet.
            let mut strings = Simple::new(&[b"t"], &[b"si"], &[], &[b"rPh"]);
            if doc.xml("xl/workbook.xml", &mut SheetNames, out)
                && doc.xml("xl/sharedStrings.xml", &mut strings, out)
            {
                for part in sorted(&names, "xl/worksheets/sheet", ".xml") {
                    if !doc.xml(&part, &mut CellValues::default(), out) {
                        break;
                    }
                }
            }
        }
        Kind::Pptx => {
            let mut parts = sorted(&names, "ppt/slides/slide", ".xml");
            parts.extend(sorted(&names, "ppt/notesSlides/notesSlide", ".xml"));
            for part in parts {
                let mut h = Simple::new(&[b"t"], &[b"p"], &[b"tab", b"br"], &[]);
                if !doc.xml(&part, &mut h, out) {
                    break;
                }
            }
        }
        Kind::OpenDocument => {
            let mut h = Simple::new(
                &[],
                &[b"p", b"h", b"table-row", b"list-item"],
                &[b"s", b"tab", b"line-break", b"table-cell"],
                &[
                    b"annotation",
                    b"tracked-changes",
                    b"bookmark-ref",
                    b"note-citation",
                ],
            );
            doc.xml("content.xml", &mut h, out);
        }
        Kind::Plain => {
            for name in &names {
                if !out.push(name) || !out.newline() {
                    break;
                }
            }
        }
    }
}

/// What reading one document's entries needs.
struct Doc<'a, 'b> {
    /// The open archive.
    archive: &'a mut ZipArchive<Cursor<&'b [u8]>>,
    /// Unpacked bytes left for the rest of the document.
    budget: u64,
    /// The caps (XML depth).
    limits: &'a Limits,
    /// Where problems go.
    problems: &'a mut Vec<ProblemKind>,
}

impl Doc<'_, '_> {
    /// Walks the XML entry `name` (if present) with `handler`; false when
    /// the document should not be read further (budget spent, text full,
    /// encrypted).
    fn xml(&mut self, name: &str, handler: &mut dyn Handler, out: &mut TextBuf) -> bool {
        let Some(xml) = self.read(name) else {
            return self.budget > 0 && !out.is_full();
        };
        match xmltext::walk(&xml, handler, self.limits.max_xml_depth, out) {
            Ok(()) => {}
            Err(Stop::TooDeep) => {
                self.problems.push(ProblemKind::XmlTooDeep {
                    limit: self.limits.max_xml_depth,
                });
                return false;
            }
            Err(Stop::Malformed) => self.problems.push(damaged("malformed XML")),
        }
        out.newline();
        self.budget > 0 && !out.is_full()
    }

    /// The unpacked bytes of entry `name`, at most what the budget allows;
    /// `None` when it is absent or unreadable.
    fn read(&mut self, name: &str) -> Option<Vec<u8>> {
        if self.budget == 0 {
            return None;
        }
        let entry = match self.archive.by_name(name) {
            Ok(e) => e,
            Err(ZipError::FileNotFound) => return None,
            Err(ZipError::UnsupportedArchive(_) | ZipError::InvalidPassword) => {
                self.problems.push(ProblemKind::Encrypted {
                    format: "zip document",
                });
                self.budget = 0;
                return None;
            }
            Err(_) => {
                self.problems.push(damaged("unreadable zip entry"));
                return None;
            }
        };
        let mut data = Vec::new();
        let read = entry
            .take(self.budget.saturating_add(1))
            .read_to_end(&mut data);
        if data.len() as u64 > self.budget {
            data.truncate(self.budget as usize);
            self.budget = 0;
            self.problems.push(ProblemKind::UnpackLimit {
                limit: self.limits.max_unpacked,
            });
        } else {
            self.budget -= data.len() as u64;
        }
        if read.is_err() {
            self.problems.push(damaged("corrupt zip entry"));
        }
        Some(data)
    }
}

/// Which document a zip holds, by the entries each format requires.
fn kind(names: &[String]) -> Kind {
    let has = |n: &str| names.iter().any(|x| x == n);
    if has("word/document.xml") {
        Kind::Docx
    } else if has("xl/workbook.xml") {
        Kind::Xlsx
    } else if has("ppt/presentation.xml") {
        Kind::Pptx
    } else if has("content.xml") && (has("mimetype") || has("META-INF/manifest.xml")) {
        Kind::OpenDocument
    } else {
        Kind::Plain
    }
}

/// The entries `prefix<number><suffix>` in numeric order (`slide2` before
/// `slide10`); an empty suffix matches any ending.
fn sorted(names: &[String], prefix: &str, suffix: &str) -> Vec<String> {
    let mut found: Vec<(u64, &String)> = names
        .iter()
        .filter_map(|n| {
            let rest = n.strip_prefix(prefix)?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let tail = &rest[digits.len()..];
            let ok = if suffix.is_empty() {
                !tail.contains('/')
            } else {
                tail == suffix
            };
            ok.then(|| (digits.parse().unwrap_or(0), n))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, n)| n.clone()).collect()
}

/// The entry count the end-of-central-directory record declares: `None`
/// when there is none. 0xFFFF (a ZIP64 archive) is returned as is, which
/// is above every allowed count.
fn entry_count(bytes: &[u8]) -> Option<usize> {
    const EOCD: &[u8] = b"PK\x05\x06";
    // The record is 22 bytes plus a comment of at most 65,535.
    let start = bytes.len().saturating_sub(22 + 65_535);
    let at = memchr::memmem::rfind(&bytes[start..], EOCD)? + start;
    let field = bytes.get(at + 10..at + 12)?;
    Some(usize::from(u16::from_le_bytes([field[0], field[1]])))
}

fn damaged(detail: &'static str) -> ProblemKind {
    ProblemKind::Damaged {
        format: "zip document",
        detail,
    }
}

/// Sheet names from `xl/workbook.xml` (`<sheet name="...">`).
struct SheetNames;

impl Handler for SheetNames {
    fn start(&mut self, name: &[u8], element: &BytesStart<'_>, out: &mut TextBuf) {
        if name == b"sheet"
            && let Ok(Some(a)) = element.try_get_attribute("name")
            && let Ok(v) = a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
        {
            out.space();
            out.push(&v);
        }
    }
    fn end(&mut self, _: &[u8], _: &mut TextBuf) {}
    fn text(&mut self, _: &str, _: &mut TextBuf) {}
}

/// Cell values of a worksheet that are not in the shared strings: numbers,
/// formula results and inline strings (`<c t="s">` holds only an index).
#[derive(Default)]
struct CellValues {
    /// The open cell's value is a shared-string index or a boolean.
    skip_value: bool,
    /// Inside `<v>` or an inline string's `<t>`.
    inside: bool,
}

impl Handler for CellValues {
    fn start(&mut self, name: &[u8], element: &BytesStart<'_>, _: &mut TextBuf) {
        match name {
            b"c" => {
                self.skip_value = element
                    .try_get_attribute("t")
                    .ok()
                    .flatten()
                    .is_some_and(|t| matches!(&*t.value, "s" | "b"));
            }
            b"v" => self.inside = !self.skip_value,
            b"t" => self.inside = true,
            _ => {}
        }
    }

    fn end(&mut self, name: &[u8], out: &mut TextBuf) {
        match name {
            b"v" | b"t" => self.inside = false,
            b"c" => {
                out.space();
            }
            b"row" => {
                out.newline();
            }
            _ => {}
        }
    }

    fn text(&mut self, text: &str, out: &mut TextBuf) {
        if self.inside {
            out.push(text);
        }
    }
}
