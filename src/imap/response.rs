//! Server responses the proxy learns from: response codes (`UIDVALIDITY`,
//! `APPENDUID`), special-use attributes in `LIST`, and the items of `FETCH`
//! responses, scanned fragment by fragment as they stream past.

use super::special_use;
use super::token::{Token, lex};

/// Most UIDs taken from one `APPENDUID` set (MULTIAPPEND of many messages).
const MAX_APPENDUIDS: usize = 100_000;

/// The response code of a status response (`* OK [CODE args] text`,
/// `tag OK [CODE args] text`): its name in upper case and its arguments.
pub fn code(text: &[u8]) -> Option<(String, &[u8])> {
    let mut rest = text;
    for _ in 0..2 {
        let space = rest.iter().position(|&b| b == b' ')?;
        rest = &rest[space + 1..];
    }
    let inner = rest.strip_prefix(b"[")?;
    let inner = &inner[..inner.iter().position(|&b| b == b']')?];
    let (name, args) = match inner.iter().position(|&b| b == b' ') {
        Some(sp) => (&inner[..sp], &inner[sp + 1..]),
        None => (inner, &inner[inner.len()..]),
    };
    Some((String::from_utf8_lossy(name).to_ascii_uppercase(), args))
}

/// `[UIDVALIDITY n]` in a status response.
pub fn uidvalidity(text: &[u8]) -> Option<u32> {
    match code(text)? {
        (name, args) if name == "UIDVALIDITY" => number(args),
        _ => None,
    }
}

/// `[APPENDUID uidvalidity uid-set]` (RFC 4315) in a tagged OK: the
/// UIDVALIDITY and the UIDs, in the order the messages were appended.
pub fn appenduid(text: &[u8]) -> Option<(u32, Vec<u32>)> {
    let (name, args) = code(text)?;
    if name != "APPENDUID" {
        return None;
    }
    let mut words = args.split(|&b| b == b' ');
    let validity = number(words.next()?)?;
    let mut uids = Vec::new();
    for range in words.next()?.split(|&b| b == b',') {
        let mut ends = range.split(|&b| b == b':');
        let first = number(ends.next()?)?;
        let last = ends.next().map_or(Some(first), number)?;
        let (lo, hi) = (first.min(last), first.max(last));
        for uid in lo..=hi {
            if uids.len() >= MAX_APPENDUIDS {
                return Some((validity, uids));
            }
            uids.push(uid);
        }
    }
    Some((validity, uids))
}

fn number(bytes: &[u8]) -> Option<u32> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

/// The special-use attributes (RFC 6154) a `* LIST` response gives a
/// mailbox, as [`special_use::of`] names them: `* LIST (\HasNoChildren
/// \Drafts) "/" Drafts` gives `("Drafts", ["\Drafts"])`. Other attributes
/// are left out.
pub fn list_special_use(tokens: &[Token]) -> Option<(String, Vec<String>)> {
    if !tokens.get(1)?.is_atom("LIST") || tokens.get(2) != Some(&Token::Open) {
        return None;
    }
    // The attribute list's own `)`: a server's `)` before the `(` (as in
    // `) LIST (`) must not be taken for it.
    let close = 3 + tokens[3..].iter().position(|t| *t == Token::Close)?;
    let attributes = tokens[3..close]
        .iter()
        .filter_map(|t| match t {
            Token::Atom(a) => special_use::of(a).map(str::to_owned),
            _ => None,
        })
        .collect();
    let mailbox = tokens.get(close + 2)?.astring()?;
    Some((mailbox, attributes))
}

/// True for a FETCH item whose value is the whole message: `BODY[]`
/// (`BODY.PEEK[]` is answered as `BODY[]`), `RFC822` and `BINARY[]`. A
/// partial fetch comes back with an origin (`BODY[]<0>`) and is not whole.
pub fn whole_message_item(item: &str) -> bool {
    ["BODY[]", "RFC822", "BINARY[]"]
        .iter()
        .any(|w| w.eq_ignore_ascii_case(item))
}

/// Follows the items of one `* n FETCH (...)` response across its
/// fragments: which item a literal belongs to, and the message's UID.
#[derive(Debug, Default)]
pub struct FetchScan {
    /// Parenthesis depth; the items live at depth 1.
    depth: u32,
    /// The item name whose value comes next.
    item: Option<String>,
    /// The `UID` item's value.
    uid: Option<u32>,
}

impl FetchScan {
    /// Takes the text of one fragment.
    pub fn text(&mut self, text: &[u8]) {
        for token in lex(text) {
            self.token(token);
        }
    }

    fn token(&mut self, token: Token) {
        match token {
            Token::Open => {
                self.depth += 1;
                if self.depth == 2 {
                    // The pending item's value is a list; nothing in it matters.
                    self.item = None;
                }
            }
            Token::Close => self.depth = self.depth.saturating_sub(1),
            _ if self.depth != 1 => {}
            value if self.item.is_some() => {
                if let (Some("UID"), Token::Atom(a)) = (self.item.as_deref(), &value) {
                    self.uid = a.parse().ok();
                }
                self.item = None;
            }
            Token::Atom(name) => self.item = Some(name.to_ascii_uppercase()),
            _ => {}
        }
    }

    /// A literal starts here: the item it is the value of, if it is one.
    pub fn literal(&mut self) -> Option<String> {
        if self.depth == 1 {
            self.item.take()
        } else {
            None
        }
    }

    /// The message's UID, once the `UID` item went past.
    pub fn uid(&self) -> Option<u32> {
        self.uid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_response_codes() {
        assert_eq!(
            uidvalidity(b"* OK [UIDVALIDITY 3857529045] UIDs valid"),
            Some(3857529045)
        );
        assert_eq!(uidvalidity(b"* OK [UIDNEXT 4] next"), None);
        assert_eq!(uidvalidity(b"* OK no code"), None);
        assert_eq!(
            appenduid(b"a OK [APPENDUID 38505 3955] done"),
            Some((38505, vec![3955]))
        );
        assert_eq!(
            appenduid(b"a OK [appenduid 7 3:5,9] done"),
            Some((7, vec![3, 4, 5, 9]))
        );
        assert_eq!(appenduid(b"a OK [APPENDUID 7 x] done"), None);
        let (name, args) = code(b"* OK [CAPABILITY IMAP4rev1 IDLE] hi").unwrap();
        assert_eq!(
            (name.as_str(), args),
            ("CAPABILITY", &b"IMAP4rev1 IDLE"[..])
        );
        assert_eq!(
            appenduid(b"a OK [APPENDUID 1 1:4294967295] x")
                .unwrap()
                .1
                .len(),
            MAX_APPENDUIDS
        );
    }

    #[test]
    fn lists_special_use() {
        let list = |t: &str| list_special_use(&lex(t.as_bytes()));
        assert_eq!(
            list(r#"* LIST (\HasNoChildren \Drafts) "/" Drafts"#),
            Some(("Drafts".into(), vec!["\\Drafts".into()]))
        );
        assert_eq!(
            list(r#"* LIST () "." "Sent Items""#),
            Some(("Sent Items".into(), vec![]))
        );
        assert_eq!(
            list(r#"* LIST (\Sent) NIL Sent"#),
            Some(("Sent".into(), vec!["\\Sent".into()]))
        );
        assert_eq!(
            list(r#"* LIST (\important \Spam) "/" x"#),
            Some(("x".into(), vec!["\\Important".into(), "\\Junk".into()]))
        );
        assert_eq!(list("* LSUB () \"/\" x"), None);
        // Found by the imap_framer fuzz target: a `)` ahead of the list.
        assert_eq!(
            list(") LIST (\\Sent) NIL Sent"),
            Some(("Sent".into(), vec!["\\Sent".into()]))
        );
        assert_eq!(list(") LIST ("), None);
    }

    #[test]
    fn classifies_fetch_items() {
        for whole in ["BODY[]", "body[]", "RFC822", "BINARY[]"] {
            assert!(whole_message_item(whole), "{whole}");
        }
        for part in [
            "BODY[]<0>",
            "BODY[HEADER]",
            "BODY[1]",
            "RFC822.HEADER",
            "RFC822.TEXT",
            "BINARY[1]",
        ] {
            assert!(!whole_message_item(part), "{part}");
        }
    }

    #[test]
    fn fetch_scan_finds_items_and_uid_across_fragments() {
        let mut scan = FetchScan::default();
        scan.text(b"* 3 FETCH (FLAGS (\\Seen) ENVELOPE (\"s\" ");
        assert_eq!(scan.literal(), None, "literal inside ENVELOPE");
        scan.text(b" NIL) BODY[HEADER.FIELDS (FROM)] ");
        assert_eq!(
            scan.literal().as_deref(),
            Some("BODY[HEADER.FIELDS (FROM)]")
        );
        scan.text(b" BODY[] ");
        assert_eq!(scan.literal().as_deref(), Some("BODY[]"));
        assert_eq!(scan.uid(), None);
        scan.text(b" UID 42)");
        assert_eq!(scan.uid(), Some(42));
        let mut scan = FetchScan::default();
        scan.text(b"* 1 FETCH (X-SUBJ \"UID 9\" UID 10 RFC822 ");
        assert_eq!(
            (scan.literal().as_deref(), scan.uid()),
            (Some("RFC822"), Some(10))
        );
    }
}
