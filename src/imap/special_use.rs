//! Special-use mailbox attributes (RFC 6154, and RFC 8457's `\Important`):
//! the LIST attributes that say what a mailbox is for. The proxy reads them
//! to leave APPENDs to such folders uncaptured, the importer to leave such
//! folders out; both match them against a configured skip list, so an
//! attribute missing here could not be skipped by anyone. No I/O here.

/// The special-use attributes, spelled as their RFCs spell them.
pub const SPECIAL_USE: &[&str] = &[
    "\\All",
    "\\Archive",
    "\\Drafts",
    "\\Flagged",
    "\\Junk",
    "\\Sent",
    "\\Trash",
    "\\Important",
];

/// The special use a LIST attribute names, in the RFC's spelling, or
/// `None` for any other attribute (`\HasChildren`, `\Noselect`).
/// Attributes are case-insensitive; XLIST's `\Spam` (still sent by some
/// servers) is `\Junk`.
pub fn of(attribute: &str) -> Option<&'static str> {
    if attribute.eq_ignore_ascii_case("\\Spam") {
        return Some("\\Junk");
    }
    SPECIAL_USE
        .iter()
        .copied()
        .find(|s| s.eq_ignore_ascii_case(attribute))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_special_uses_in_the_rfc_spelling() {
        let cases = [
            ("\\Drafts", Some("\\Drafts")),
            ("\\drafts", Some("\\Drafts")),
            ("\\SENT", Some("\\Sent")),
            ("\\Important", Some("\\Important")),
            ("\\Spam", Some("\\Junk")),
            ("\\spam", Some("\\Junk")),
            ("\\HasNoChildren", None),
            ("\\Noselect", None),
            ("Drafts", None),
            ("\\Draft", None),
            ("", None),
        ];
        for (attribute, expected) in cases {
            assert_eq!(of(attribute), expected, "{attribute}");
        }
        for name in SPECIAL_USE {
            assert_eq!(of(name), Some(*name));
        }
    }
}
