//! What the proxy changes in the server's capability lists, and nothing
//! else: `* CAPABILITY ...` lines and `[CAPABILITY ...]` response codes
//! (greeting, login OK).
//!
//! - `COMPRESS=*` goes: the proxy must read the stream to capture messages.
//! - SASL `*-PLUS` mechanisms go: they bind to a TLS channel that ends here.
//! - `STARTTLS` is the proxy's own: the upstream's is removed, and it is
//!   offered while the client leg can still be upgraded.

/// Rewrites a server line (`raw`, line ending included) if it carries a
/// capability list that needs a change; `None` when it is to be relayed as is.
pub fn rewrite(raw: &[u8], offer_starttls: bool) -> Option<Vec<u8>> {
    let (start, end) = locate(raw)?;
    let caps: Vec<&[u8]> = raw[start..end]
        .split(|&b| b == b' ')
        .filter(|c| !c.is_empty())
        .collect();
    let kept: Vec<&[u8]> = caps.iter().copied().filter(|cap| keep(cap)).collect();
    let had_starttls = caps.iter().any(|c| c.eq_ignore_ascii_case(b"STARTTLS"));
    let others_dropped = kept.len() + usize::from(had_starttls) != caps.len();
    if !others_dropped && had_starttls == offer_starttls {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len() + 9);
    out.extend_from_slice(&raw[..start]);
    let mut first = true;
    for cap in &kept {
        if !first {
            out.push(b' ');
        }
        out.extend_from_slice(cap);
        first = false;
    }
    if offer_starttls {
        out.extend_from_slice(b" STARTTLS");
    }
    out.extend_from_slice(&raw[end..]);
    Some(out)
}

/// Removes a `[CAPABILITY ...]` code (and the space after it) from a status
/// line, for a greeting whose list predates the upstream's STARTTLS.
pub fn strip_code(raw: &[u8]) -> Option<Vec<u8>> {
    let (start, end) = locate(raw)?;
    if !raw[..start].to_ascii_uppercase().ends_with(b"[CAPABILITY ") {
        return None;
    }
    let open = start - b"[CAPABILITY ".len();
    let mut close = end + 1;
    if raw.get(close) == Some(&b' ') {
        close += 1;
    }
    let mut out = raw[..open].to_vec();
    out.extend_from_slice(&raw[close..]);
    Some(out)
}

/// True for a capability the client may see.
fn keep(cap: &[u8]) -> bool {
    let upper = cap.to_ascii_uppercase();
    let sasl_plus = upper.starts_with(b"AUTH=") && upper.ends_with(b"-PLUS");
    !(upper.starts_with(b"COMPRESS=") || sasl_plus || upper == b"STARTTLS")
}

/// The byte range of the capability names in `raw`, if it has a list.
fn locate(raw: &[u8]) -> Option<(usize, usize)> {
    let text_end = raw
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(raw.len());
    let text = &raw[..text_end];
    let upper = text.to_ascii_uppercase();
    if upper.starts_with(b"* CAPABILITY ") {
        return Some((b"* CAPABILITY ".len(), text_end));
    }
    // A status response with a code: `* OK [CAPABILITY a b] text`.
    let mut at = 0;
    for _ in 0..2 {
        at += text[at..].iter().position(|&b| b == b' ')? + 1;
    }
    let code = b"[CAPABILITY ";
    if !upper[at..].starts_with(code) {
        return None;
    }
    let start = at + code.len();
    let end = start + text[start..].iter().position(|&b| b == b']')?;
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(line: &str, offer: bool) -> Option<String> {
        rewrite(line.as_bytes(), offer).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn removes_compress_plus_mechanisms_and_upstream_starttls() {
        assert_eq!(
            rw("* CAPABILITY IMAP4rev1 COMPRESS=DEFLATE AUTH=SCRAM-SHA-256-PLUS AUTH=PLAIN IDLE\r\n", false)
                .as_deref(),
            Some("* CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE\r\n")
        );
        assert_eq!(
            rw(
                "* OK [CAPABILITY IMAP4rev1 STARTTLS LITERAL+] Dovecot ready.\r\n",
                false
            )
            .as_deref(),
            Some("* OK [CAPABILITY IMAP4rev1 LITERAL+] Dovecot ready.\r\n")
        );
        assert_eq!(
            rw(
                "a1 OK [CAPABILITY IMAP4rev1 compress=deflate] Logged in\r\n",
                false
            )
            .as_deref(),
            Some("a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n")
        );
    }

    #[test]
    fn offers_the_proxys_own_starttls() {
        assert_eq!(
            rw("* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n", true).as_deref(),
            Some("* OK [CAPABILITY IMAP4rev1 IDLE STARTTLS] ready\r\n")
        );
        assert_eq!(rw("* CAPABILITY IMAP4rev1 STARTTLS\r\n", true), None);
        assert_eq!(
            rw("* CAPABILITY STARTTLS IMAP4rev1 COMPRESS=DEFLATE\r\n", true).as_deref(),
            Some("* CAPABILITY IMAP4rev1 STARTTLS\r\n")
        );
    }

    #[test]
    fn strips_stale_greeting_capabilities() {
        let stripped = strip_code(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n").unwrap();
        assert_eq!(stripped, b"* OK ready\r\n");
        assert_eq!(strip_code(b"* OK ready\r\n"), None);
        assert_eq!(strip_code(b"* CAPABILITY IMAP4rev1\r\n"), None);
    }

    #[test]
    fn leaves_everything_else_alone() {
        for line in [
            "* CAPABILITY IMAP4rev1 IDLE QRESYNC NOTIFY ID\r\n",
            "* OK [UIDVALIDITY 5] ok\r\n",
            "* 1 FETCH (BODY[] \"[CAPABILITY COMPRESS=DEFLATE]\")\r\n",
            "a OK done\r\n",
            "* OK [CAPABILITY unterminated\r\n",
        ] {
            assert_eq!(rw(line, false), None, "{line}");
        }
    }
}
