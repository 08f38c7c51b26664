//! EHLO capabilities: which ones a client is shown.
//!
//! Both the journal (its own list) and the proxy (the upstream's list) pass
//! their EHLO reply through [`filter`], so one function decides what mailseal
//! advertises. Only extensions known to survive a per-command relay with
//! byte-exact DATA are kept (an allowlist: an unknown extension might change
//! the protocol in ways the relay cannot follow). STARTTLS is never relayed:
//! it is mailseal's own and added when a certificate is configured. AUTH is
//! shown only when [`EhloPolicy::offer_auth`] says so. SIZE is lowered to
//! mailseal's own limit.

use super::reply::Reply;

/// Extensions that pass through the relay unchanged (keyword, uppercase).
const RELAYABLE: &[&str] = &[
    "PIPELINING",
    "8BITMIME",
    "SMTPUTF8",
    "DSN",
    "ENHANCEDSTATUSCODES",
    "HELP",
    "VRFY",
    "EXPN",
    "DELIVERBY",
    "MT-PRIORITY",
    "FUTURERELEASE",
    "NO-SOLICITING",
    "RRVS",
];

/// What the client may be offered beyond the relayable extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EhloPolicy {
    /// Add `STARTTLS` (a certificate is configured and the leg is plain).
    pub offer_starttls: bool,
    /// Keep `AUTH` lines (the leg is encrypted, or plain AUTH is allowed).
    pub offer_auth: bool,
    /// mailseal's own message size limit; `SIZE` is never above it.
    pub max_size: u64,
}

/// The EHLO reply the client sees, built from the backend's reply. A
/// non-250 reply (an upstream refusing EHLO) is returned unchanged.
pub fn filter(reply: &Reply, policy: &EhloPolicy) -> Reply {
    if reply.code() != 250 {
        return reply.clone();
    }
    let mut lines = reply.lines().iter();
    let mut out: Vec<Vec<u8>> = vec![lines.next().cloned().unwrap_or_default()];
    let mut size_seen = false;
    for line in lines {
        let text = String::from_utf8_lossy(line);
        let keyword = text
            .split([' ', '='])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match keyword.as_str() {
            "SIZE" => {
                size_seen = true;
                out.push(size_line(&text, policy.max_size));
            }
            // `AUTH=LOGIN PLAIN` is the pre-RFC form Outlook still reads.
            "AUTH" if policy.offer_auth => out.push(line.clone()),
            k if RELAYABLE.contains(&k) && !out.iter().any(|l| same_keyword(l, k)) => {
                out.push(line.clone());
            }
            _ => {}
        }
    }
    if !size_seen {
        out.push(format!("SIZE {}", policy.max_size).into_bytes());
    }
    if policy.offer_starttls {
        out.push(b"STARTTLS".to_vec());
    }
    Reply::multiline(250, out)
}

/// `SIZE n` with `n` lowered to `max`; `SIZE` or `SIZE 0` (no limit
/// upstream) becomes mailseal's limit.
fn size_line(text: &str, max: u64) -> Vec<u8> {
    let upstream = text
        .split(' ')
        .nth(1)
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|&n| n > 0);
    let size = upstream.map_or(max, |n| n.min(max));
    format!("SIZE {size}").into_bytes()
}

fn same_keyword(line: &[u8], keyword: &str) -> bool {
    let text = String::from_utf8_lossy(line);
    text.split(' ')
        .next()
        .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
}

/// True when the (filtered) reply offers AUTH.
pub fn offers_auth(reply: &Reply) -> bool {
    reply.code() == 250
        && reply.lines().iter().skip(1).any(|l| {
            let text = String::from_utf8_lossy(l).to_ascii_uppercase();
            text.starts_with("AUTH ") || text.starts_with("AUTH=")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream() -> Reply {
        let lines = [
            "mx.example",
            "PIPELINING",
            "SIZE 10240000",
            "VRFY",
            "ETRN",
            "STARTTLS",
            "AUTH PLAIN LOGIN",
            "AUTH=PLAIN LOGIN",
            "ENHANCEDSTATUSCODES",
            "8BITMIME",
            "DSN",
            "SMTPUTF8",
            "CHUNKING",
            "BINARYMIME",
            "XCLIENT NAME ADDR PROTO HELO",
            "XFORWARD NAME ADDR",
            "X-EXPS GSSAPI NTLM",
            "XEXCH50",
            "REQUIRETLS",
        ];
        Reply::multiline(250, lines.iter().map(|l| l.as_bytes().to_vec()).collect())
    }

    fn text(r: &Reply) -> Vec<String> {
        r.lines()
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    #[test]
    fn keeps_relayable_drops_the_rest() {
        let policy = EhloPolicy {
            offer_starttls: true,
            offer_auth: false,
            max_size: 5_000_000,
        };
        let r = filter(&upstream(), &policy);
        assert_eq!(
            text(&r),
            [
                "mx.example",
                "PIPELINING",
                "SIZE 5000000",
                "VRFY",
                "ENHANCEDSTATUSCODES",
                "8BITMIME",
                "DSN",
                "SMTPUTF8",
                "STARTTLS"
            ]
        );
        assert!(!offers_auth(&r));
    }

    #[test]
    fn auth_shown_when_allowed_and_size_added_when_missing() {
        let policy = EhloPolicy {
            offer_starttls: false,
            offer_auth: true,
            max_size: 20_000_000,
        };
        let r = filter(&upstream(), &policy);
        let t = text(&r);
        assert!(t.contains(&"AUTH PLAIN LOGIN".to_owned()));
        assert!(t.contains(&"AUTH=PLAIN LOGIN".to_owned()));
        assert!(t.contains(&"SIZE 10240000".to_owned()));
        assert!(!t.contains(&"STARTTLS".to_owned()));
        assert!(offers_auth(&r));

        let bare = Reply::multiline(250, vec![b"h".to_vec(), b"SIZE".to_vec()]);
        assert_eq!(text(&filter(&bare, &policy)), ["h", "SIZE 20000000"]);
        let none = Reply::multiline(250, vec![b"h".to_vec()]);
        assert_eq!(text(&filter(&none, &policy)), ["h", "SIZE 20000000"]);
        let refused = Reply::new(550, "5.7.1 go away");
        assert_eq!(filter(&refused, &policy), refused);
    }
}
