//! Just enough MIME to unwrap a journal report: the header fields of an
//! entity, Content-Type parameters, the top-level multipart split at its
//! boundary with exact byte ranges, and transfer decoding.
//!
//! Only the report's own structure is parsed. The original message inside
//! the `message/rfc822` part is never looked into, so its bytes (and its own
//! nested boundaries) come out exactly as they went in.

use std::borrow::Cow;
use std::ops::Range;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use memchr::{memchr, memmem};

/// One header field, unfolded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Field {
    /// The field name in lowercase (names are case-insensitive).
    pub name: String,
    /// The value with folding line breaks removed and outer blanks trimmed.
    pub value: Vec<u8>,
}

/// Splits an entity into its header block and the offset where its body
/// starts. The header block ends at the first empty line (CRLF or bare LF);
/// an entity without one is all headers and has an empty body.
pub(super) fn split_entity(bytes: &[u8]) -> (&[u8], usize) {
    let mut line_start = 0;
    while line_start < bytes.len() {
        let Some(lf) = memchr(b'\n', &bytes[line_start..]) else {
            break;
        };
        let line_end = line_start + lf + 1;
        let line = &bytes[line_start..line_end];
        if line == b"\n" || line == b"\r\n" {
            return (&bytes[..line_start], line_end);
        }
        line_start = line_end;
    }
    (bytes, bytes.len())
}

/// Parses a header block into fields. Lines starting with a blank continue
/// the previous field; lines without a colon are skipped.
pub(super) fn parse_headers(block: &[u8]) -> Vec<Field> {
    let mut fields: Vec<Field> = Vec::new();
    let mut continuing = false;
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if matches!(line[0], b' ' | b'\t') {
            if let (true, Some(last)) = (continuing, fields.last_mut()) {
                last.value.extend_from_slice(line);
            }
            continue;
        }
        continuing = false;
        let Some(colon) = memchr(b':', line) else {
            continue;
        };
        let name = String::from_utf8_lossy(line[..colon].trim_ascii()).to_ascii_lowercase();
        fields.push(Field {
            name,
            value: line[colon + 1..].to_vec(),
        });
        continuing = true;
    }
    for field in &mut fields {
        field.value = field.value.trim_ascii().to_vec();
    }
    fields
}

/// The value of the first field called `name` (lowercase).
pub(super) fn header<'f>(fields: &'f [Field], name: &str) -> Option<&'f [u8]> {
    fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.value.as_slice())
}

/// A parsed Content-Type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ContentType {
    /// `type/subtype` in lowercase.
    pub mime: String,
    /// Parameters, names in lowercase, values unquoted.
    pub params: Vec<(String, String)>,
}

impl ContentType {
    /// The value of a parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The Content-Type of an entity; RFC 2045's default is text/plain.
    pub fn of(fields: &[Field]) -> ContentType {
        match header(fields, "content-type") {
            Some(value) => parse_content_type(&String::from_utf8_lossy(value)),
            None => ContentType {
                mime: "text/plain".to_owned(),
                params: Vec::new(),
            },
        }
    }
}

/// Parses `type/subtype; name=value; name="quoted \" value"`.
fn parse_content_type(value: &str) -> ContentType {
    let (mime, mut rest) = value.split_once(';').unwrap_or((value, ""));
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        let Some(eq) = rest.find('=') else {
            break;
        };
        let name = rest[..eq].trim().to_ascii_lowercase();
        let (value, tail) = param_value(rest[eq + 1..].trim_start());
        params.push((name, value));
        rest = tail;
    }
    ContentType {
        mime: mime.trim().to_ascii_lowercase(),
        params,
    }
}

/// Reads a token or quoted string; returns it and the rest after it.
fn param_value(s: &str) -> (String, &str) {
    let Some(quoted) = s.strip_prefix('"') else {
        let end = s.find([';', ' ', '\t']).unwrap_or(s.len());
        return (s[..end].to_owned(), &s[end..]);
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (value, &quoted[i + 1..]),
            '\\' => value.extend(chars.next().map(|(_, c)| c)),
            c => value.push(c),
        }
    }
    (value, "")
}

/// Why a multipart body could not be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SplitError {
    /// No delimiter line at all.
    NoParts,
    /// The close delimiter (`--boundary--`) never came: truncated.
    Unclosed,
}

/// Splits a multipart body into the byte ranges of its parts (relative to
/// `body`). A delimiter is `--boundary` at the start of a line, followed
/// by blanks or by `--` (the close delimiter). As RFC 2046 says, the line
/// break before a delimiter belongs to the delimiter, not to the part.
pub(super) fn split_multipart(
    body: &[u8],
    boundary: &[u8],
) -> Result<Vec<Range<usize>>, SplitError> {
    let dash_boundary = [b"--".as_slice(), boundary].concat();
    let mut parts = Vec::new();
    let mut open: Option<usize> = None;
    for hit in memmem::find_iter(body, &dash_boundary) {
        if (hit > 0 && body[hit - 1] != b'\n') || open.is_some_and(|start| hit < start) {
            continue;
        }
        let after = hit + dash_boundary.len();
        let line_end = memchr(b'\n', &body[after..]).map_or(body.len(), |i| after + i + 1);
        let rest = body[after..line_end].trim_ascii_end();
        let closing = rest.starts_with(b"--");
        if !closing && !rest.iter().all(|&b| b == b' ' || b == b'\t') {
            continue;
        }
        if let Some(start) = open {
            parts.push(start..part_end(body, start, hit));
        }
        if closing {
            return if open.is_some() {
                Ok(parts)
            } else {
                Err(SplitError::NoParts)
            };
        }
        open = Some(line_end);
    }
    Err(if open.is_some() {
        SplitError::Unclosed
    } else {
        SplitError::NoParts
    })
}

/// Where a part that starts at `start` ends, given the delimiter at `hit`:
/// before the CRLF (or bare LF) that precedes the delimiter.
fn part_end(body: &[u8], start: usize, hit: usize) -> usize {
    let mut end = hit;
    if end > start && body[end - 1] == b'\n' {
        end -= 1;
        if end > start && body[end - 1] == b'\r' {
            end -= 1;
        }
    }
    end
}

/// Undoes a Content-Transfer-Encoding. Identity encodings borrow.
pub(super) fn decode_transfer<'b>(
    encoding: Option<&[u8]>,
    body: &'b [u8],
) -> Result<Cow<'b, [u8]>, String> {
    let encoding = encoding
        .map(|e| String::from_utf8_lossy(e).trim().to_ascii_lowercase())
        .unwrap_or_default();
    match encoding.as_str() {
        "" | "7bit" | "8bit" | "binary" => Ok(Cow::Borrowed(body)),
        "base64" => base64_decode(body).map(Cow::Owned),
        "quoted-printable" => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(body)
                .map(Cow::Owned)
                .ok_or_else(|| "invalid quoted-printable".to_owned())
        }
        other => Err(format!("unsupported transfer encoding {other:?}")),
    }
}

/// Base64 with line breaks and other blanks ignored, padding optional.
fn base64_decode(body: &[u8]) -> Result<Vec<u8>, String> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    LENIENT
        .decode(compact)
        .map_err(|e| format!("invalid base64: {e}"))
}

/// Decodes text in a MIME charset to a string; unknown charsets and
/// invalid bytes degrade to replacement characters rather than failing.
pub(super) fn decode_charset(bytes: &[u8], charset: Option<&str>) -> String {
    let charset = charset.unwrap_or("us-ascii").trim();
    let utf8_family = ["utf-8", "utf8", "us-ascii", "ascii"];
    let utf8 = utf8_family.iter().any(|c| c.eq_ignore_ascii_case(charset));
    let decoder = mail_parser::decoders::charsets::map::charset_decoder(charset.as_bytes());
    if let (false, Some(decoder)) = (utf8, decoder) {
        return decoder(bytes);
    }
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_unfold_and_ignore_case() {
        let block = b"Content-Type: multipart/mixed;\r\n\tboundary=\"b 1\"\r\nX-MS-Journal-Report:\r\nbad line\r\n";
        let fields = parse_headers(block);
        assert_eq!(fields.len(), 2);
        let ct = ContentType::of(&fields);
        assert_eq!(ct.mime, "multipart/mixed");
        assert_eq!(ct.param("boundary"), Some("b 1"));
        assert_eq!(header(&fields, "x-ms-journal-report"), Some(b"".as_slice()));
    }

    #[test]
    fn content_type_parameters() {
        let ct = parse_content_type(r#"Text/Plain; Charset=ISO-8859-1 ; name="a \"q\"; b""#);
        assert_eq!(ct.mime, "text/plain");
        assert_eq!(ct.param("charset"), Some("ISO-8859-1"));
        assert_eq!(ct.param("name"), Some(r#"a "q"; b"#));
    }

    #[test]
    fn split_entity_finds_the_blank_line() {
        assert_eq!(
            split_entity(b"A: 1\r\n\r\nbody"),
            (b"A: 1\r\n".as_slice(), 8)
        );
        assert_eq!(split_entity(b"A: 1\n\nbody"), (b"A: 1\n".as_slice(), 6));
        assert_eq!(split_entity(b"\r\nbody"), (b"".as_slice(), 2));
        assert_eq!(split_entity(b"A: 1\r\n"), (b"A: 1\r\n".as_slice(), 6));
    }

    #[test]
    fn multipart_ranges_exclude_the_delimiter_line_break() {
        let body = b"pre\r\n--b\r\none\r\n--bx\r\n--b \r\ntwo\n--b--\r\nepilogue";
        let parts = split_multipart(body, b"b").unwrap();
        let texts: Vec<&[u8]> = parts.iter().map(|r| &body[r.clone()]).collect();
        assert_eq!(texts, [b"one\r\n--bx".as_slice(), b"two"]);
        assert_eq!(
            split_multipart(b"--b\r\nx\r\n", b"b"),
            Err(SplitError::Unclosed)
        );
        assert_eq!(split_multipart(b"no parts", b"b"), Err(SplitError::NoParts));
        let empty = split_multipart(b"--b\r\n--b--", b"b").unwrap();
        assert_eq!(empty.len(), 1);
        assert_eq!(empty[0], 5..5);
    }

    #[test]
    fn transfer_encodings() {
        let b64 = decode_transfer(Some(b"Base64"), b"aGVs\r\nbG8=\r\n").unwrap();
        assert_eq!(&*b64, b"hello");
        let qp = decode_transfer(Some(b"quoted-printable"), b"caf=C3=A9 =\r\nok").unwrap();
        assert_eq!(&*qp, "café ok".as_bytes());
        assert!(decode_transfer(Some(b"base64"), b"!!!!").is_err());
        assert!(decode_transfer(Some(b"x-uuencode"), b"").is_err());
        assert!(matches!(
            decode_transfer(None, b"x").unwrap(),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            decode_charset(&[0x63, 0x61, 0x66, 0xe9], Some("iso-8859-1")),
            "café"
        );
    }
}
