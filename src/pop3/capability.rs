//! The `CAPA` list (RFC 2449) the client sees, without I/O: the server's
//! capabilities minus those mailseal does not relay as the server means
//! them, plus mailseal's own `STLS`.
//!
//! - `STLS` is the client leg's business: mailseal offers its own when it
//!   has a certificate and the leg is still plain, and never relays the
//!   server's (the upstream leg's TLS is configured, not negotiated by the
//!   client).
//! - `PIPELINING` is dropped: the session relays one command at a time,
//!   and holds back a `RETR`'s terminating `.` until the archive commit,
//!   so a client that pipelines gains nothing and one that relies on the
//!   capability must not see it.

/// Rewrites one capability listing (the dot-unstuffed lines of the
/// response body) for the client; returns the lines to send, each with
/// CRLF, without the terminating `.`.
pub fn filter(lines: &[u8], offer_stls: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.len() + 6);
    for line in lines.split_inclusive(|&b| b == b'\n') {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let name = text
            .split(|b| !b.is_ascii_graphic())
            .next()
            .unwrap_or_default();
        if name.eq_ignore_ascii_case(b"STLS") || name.eq_ignore_ascii_case(b"PIPELINING") {
            continue;
        }
        if text.is_empty() {
            continue;
        }
        // A listing line starting with `.` would need stuffing; no
        // capability does, so such a line is dropped rather than relayed
        // ambiguously.
        if text.starts_with(b".") {
            continue;
        }
        out.extend_from_slice(text);
        out.extend_from_slice(b"\r\n");
    }
    if offer_stls {
        out.extend_from_slice(b"STLS\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_ends_at_any_non_graphic_byte() {
        // Found by fuzzing: a bare CR must not smuggle PIPELINING through.
        assert_eq!(filter(b"PIPELINING\rAIN\r\nUSER\r\n", false), b"USER\r\n");
        assert_eq!(filter(b"STLS\tX\r\n", false), b"");
    }

    #[test]
    fn drops_stls_and_pipelining_and_offers_its_own() {
        let dovecot = b"CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nUSER\r\nSASL PLAIN LOGIN\r\n";
        let plain = filter(dovecot, false);
        assert_eq!(
            plain,
            b"CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nUSER\r\nSASL PLAIN LOGIN\r\n"
        );
        let offered = filter(dovecot, true);
        assert!(offered.ends_with(b"SASL PLAIN LOGIN\r\nSTLS\r\n"));
        assert_eq!(
            filter(b"stls\npipelining x\nUTF8 USER\n", false),
            b"UTF8 USER\r\n"
        );
    }
}
