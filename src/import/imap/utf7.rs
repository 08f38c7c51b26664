//! Modified UTF-7 (RFC 3501 section 5.1.3): how IMAP servers spell folder
//! names on the wire (`Gesch&AOQ-ft` is `Geschäft`).
//!
//! The importer keeps the wire name for commands (EXAMINE must get exactly
//! what LIST returned) and uses the decoded name for patterns, records and
//! logs. Decoding is strict: a name that is not valid modified UTF-7 is an
//! error, and the caller falls back to the wire name so nothing is lost.

use base64::Engine as _;
use base64::alphabet::Alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Why a name is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Utf7Error {
    /// A byte outside printable US-ASCII appeared outside a shift sequence.
    #[error("byte {0:#04x} is not allowed in a modified UTF-7 name")]
    NotAscii(u8),
    /// A `&` shift sequence has no closing `-`.
    #[error("unterminated &...- sequence")]
    Unterminated,
    /// The base64 of a shift sequence does not decode.
    #[error("bad base64 in &{0}-")]
    Base64(String),
    /// The UTF-16 inside a shift sequence is not valid (odd length, lone
    /// surrogate) or encodes plain ASCII, which must not be shifted.
    #[error("bad UTF-16 in &{0}-")]
    Utf16(String),
}

/// RFC 3501's base64 variant: `,` instead of `/`, no padding.
fn engine() -> GeneralPurpose {
    // The alphabet is a constant with 64 distinct printable characters, so
    // building it cannot fail; fall back to standard base64 to avoid a panic
    // path anyway.
    let alphabet =
        Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")
            .unwrap_or(base64::alphabet::STANDARD);
    let config = GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false);
    GeneralPurpose::new(&alphabet, config)
}

/// Decodes a wire name into Unicode.
pub fn decode(wire: &str) -> Result<String, Utf7Error> {
    let engine = engine();
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if !(0x20..=0x7e).contains(&b) {
            return Err(Utf7Error::NotAscii(b));
        }
        if b != b'&' {
            out.push(char::from(b));
            rest = tail;
            continue;
        }
        let end = tail
            .iter()
            .position(|&c| c == b'-')
            .ok_or(Utf7Error::Unterminated)?;
        let (encoded, after) = (&tail[..end], &tail[end + 1..]);
        rest = after;
        if encoded.is_empty() {
            out.push('&');
            continue;
        }
        let text = String::from_utf8_lossy(encoded).into_owned();
        let bytes = engine
            .decode(encoded)
            .map_err(|_| Utf7Error::Base64(text.clone()))?;
        out.push_str(&utf16(&bytes).ok_or(Utf7Error::Utf16(text))?);
    }
    Ok(out)
}

/// UTF-16BE bytes of a shift sequence as a string; `None` when invalid or
/// when it holds printable ASCII (which RFC 3501 says must be written
/// directly, so its presence means the name is not what it seems).
fn utf16(bytes: &[u8]) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units = bytes
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]));
    let text: String = char::decode_utf16(units).collect::<Result<_, _>>().ok()?;
    if text.chars().any(|c| (' '..='~').contains(&c)) {
        return None;
    }
    Some(text)
}

/// Encodes a Unicode name for the wire (tests and `--folder` hints).
pub fn encode(name: &str) -> String {
    let engine = engine();
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&engine.encode(bytes));
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_rfc_examples_and_common_names() {
        let cases = [
            ("INBOX", "INBOX"),
            ("Gesch&AOQ-ft", "Geschäft"),
            ("~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語"),
            ("&-", "&"),
            ("Tom &- Jerry", "Tom & Jerry"),
            ("&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-", "Отправленные"),
            ("&2D3eAA-", "😀"),
            ("Entw&APw-rfe/&ANY-ffentlich", "Entwürfe/Öffentlich"),
            ("", ""),
        ];
        for (wire, name) in cases {
            assert_eq!(decode(wire).as_deref(), Ok(name), "{wire}");
            assert_eq!(encode(name), wire, "{name}");
        }
    }

    #[test]
    fn rejects_what_is_not_modified_utf7() {
        assert_eq!(decode("a&AOQ"), Err(Utf7Error::Unterminated));
        assert_eq!(decode("Geschäft"), Err(Utf7Error::NotAscii(0xc3)));
        assert_eq!(decode("tab\there"), Err(Utf7Error::NotAscii(b'\t')));
        // `/` belongs to standard base64, not to the modified alphabet.
        assert!(matches!(decode("&U/BTFw-"), Err(Utf7Error::Base64(_))));
        // Odd number of bytes (one byte of UTF-16).
        assert!(matches!(
            decode("&AO-"),
            Err(Utf7Error::Base64(_) | Utf7Error::Utf16(_))
        ));
        // A lone high surrogate.
        assert!(matches!(decode("&2D0-"), Err(Utf7Error::Utf16(_))));
        // Shifted ASCII ("A") must be written directly.
        assert!(matches!(decode("&AEE-"), Err(Utf7Error::Utf16(_))));
    }

    #[test]
    fn round_trips_arbitrary_text() {
        let samples = [
            "a&b",
            "&&&",
            "日本語 & more",
            "ß/ä/ö",
            "x-y&-z",
            "\u{10ffff}",
        ];
        for s in samples {
            assert_eq!(decode(&encode(s)).as_deref(), Ok(s), "{s}");
        }
    }
}
