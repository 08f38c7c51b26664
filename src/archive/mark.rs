//! The mark on mailseal's own seal mails, and recognising one that comes
//! back.
//!
//! Where the mail server journals everything, each seal mail returns into
//! the archive as a message record. That record moves the chain, and if it
//! called for a seal, that seal would be mailed, return, and so on. So a
//! seal mail carries `X-Mailseal-Seal: <archive id>; sig=<hex>`, where the
//! signature is the seal key's Ed25519 signature over [`signed_bytes`]
//! (archive id and the mail's Message-ID). The archive recognises its own
//! mark with its keys and appends such a record as *quiet*: archived and
//! sealed with the next seal, but never the reason for one. A forged mark
//! fails the signature check; a copied one (same Message-ID) can at most
//! delay a seal until other mail arrives. Which records were quiet is not
//! kept across a restart: records after the newest seal then count as new,
//! so a restart can cause one more seal (and mail), never a loop.
//!
//! Here, not in `seal_mail`, because the archive checks the mark on every
//! message it appends; `seal_mail` makes marks with these functions.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// The header that marks a seal mail.
pub const HEADER: &str = "X-Mailseal-Seal";

/// The bytes the mark signs.
pub fn signed_bytes(archive_id: &str, message_id: &str) -> Vec<u8> {
    format!("mailseal seal mail v2\n{archive_id}\n{message_id}\n").into_bytes()
}

/// The header value for a mail with `message_id` (as in its `Message-ID`
/// field, angle brackets included).
pub fn value(key: &SigningKey, archive_id: &str, message_id: &str) -> String {
    let sig = key.sign(&signed_bytes(archive_id, message_id));
    format!("{archive_id}; sig={}", hex::encode(sig.to_bytes()))
}

/// True when the header block at the start of `head` has a field named
/// [`HEADER`]: the cheap test every archived message passes through.
pub fn has_mark_field(head: &[u8]) -> bool {
    let name = HEADER.as_bytes();
    let mut rest = head;
    loop {
        if rest.first().is_none_or(|&b| b == b'\r' || b == b'\n') {
            return false;
        }
        if rest.len() > name.len()
            && rest[..name.len()].eq_ignore_ascii_case(name)
            && rest[name.len()] == b':'
        {
            return true;
        }
        match memchr::memchr(b'\n', rest) {
            Some(i) => rest = &rest[i + 1..],
            None => return false,
        }
    }
}

/// True when `head` (the start of a message) carries a valid mark of
/// `archive_id` signed by one of `keys`.
pub fn is_marked(head: &[u8], archive_id: &str, keys: &[VerifyingKey]) -> bool {
    let (Some(mark), Some(message_id)) = (field(head, HEADER), field(head, "Message-ID")) else {
        return false;
    };
    let Some((id, sig)) = mark.split_once(';') else {
        return false;
    };
    let Some(sig) = sig.trim().strip_prefix("sig=") else {
        return false;
    };
    let mut bytes = [0u8; 64];
    if id.trim() != archive_id || hex::decode_to_slice(sig.trim(), &mut bytes).is_err() {
        return false;
    }
    let sig = Signature::from_bytes(&bytes);
    let msg = signed_bytes(archive_id, message_id.trim());
    keys.iter().any(|k| k.verify(&msg, &sig).is_ok())
}

/// The unfolded value of the first header field `name` (case-insensitive)
/// in the header block at the start of `head`.
fn field(head: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let mut found: Option<String> = None;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(v) = found.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if found.is_some() {
            break;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.trim().eq_ignore_ascii_case(name)
        {
            found = Some(v.trim().to_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_marks_are_recognised_and_others_are_not() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let other = SigningKey::from_bytes(&[6; 32]);
        let keys = [other.verifying_key(), key.verifying_key()];
        let v = value(&key, "aa11", "<s.1@mailseal>");
        // Folded where a mail writer folds: at the space.
        let (id, sig) = v.split_once(' ').unwrap();
        let mail = format!(
            "From: a@b\r\nX-Mailseal-Seal: {id}\r\n {sig}\r\nMessage-ID: <s.1@mailseal>\r\n\r\nbody"
        );
        assert!(is_marked(mail.as_bytes(), "aa11", &keys));
        assert!(has_mark_field(mail.as_bytes()));
        assert!(!has_mark_field(
            b"From: a@b\r\nSubject: x\r\n\r\nX-Mailseal-Seal: x\r\n"
        ));
        assert!(!is_marked(mail.as_bytes(), "aa12", &keys));
        assert!(!is_marked(mail.as_bytes(), "aa11", &keys[..1]));
        let moved = mail.replace("<s.1@mailseal>", "<s.2@mailseal>");
        assert!(!is_marked(moved.as_bytes(), "aa11", &keys));
        let in_body =
            format!("From: a@b\r\nMessage-ID: <s.1@mailseal>\r\n\r\nX-Mailseal-Seal: {v}\r\n");
        assert!(!is_marked(in_body.as_bytes(), "aa11", &keys));
        assert!(!is_marked(b"garbage\xff", "aa11", &keys));
    }
}
