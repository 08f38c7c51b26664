//! Who authenticated, learned from a relayed SASL exchange. No I/O.
//!
//! The proxy relays AUTH lines verbatim and the upstream decides; this
//! module only watches the client's side of the exchange to learn the user
//! name the archive records, for mechanisms that show it: PLAIN (authcid,
//! with the authzid when the client asks to act as someone else), LOGIN
//! (the user name), CRAM-MD5 (the name before the digest) and XOAUTH2
//! (`user=`). Passwords, digests and tokens are decoded only to skip them
//! and are never kept.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::smtp::auth::{decode_plain, decode_text};

/// Mechanisms whose exchanges name the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mechanism {
    /// RFC 4616: one response, `authzid NUL authcid NUL password`.
    Plain,
    /// Draft LOGIN: the first response is the user name.
    Login,
    /// RFC 2195: one response after the challenge, `user digest`.
    CramMd5,
    /// Google/Microsoft XOAUTH2: `user=... ^A auth=Bearer ... ^A^A`.
    XOauth2,
    /// Anything else: relayed, but nothing is learned.
    Other,
}

/// Watches one AUTH exchange from the client's side.
#[derive(Debug)]
pub(super) struct SaslWatch {
    /// The mechanism the client chose.
    mechanism: Mechanism,
    /// True once the response that names the user has been seen.
    seen: bool,
    /// The user name, when the mechanism showed it.
    user: Option<String>,
}

impl SaslWatch {
    /// Starts watching `AUTH mechanism [initial]` (`mechanism` uppercased).
    pub fn start(mechanism: &str, initial: Option<&str>) -> SaslWatch {
        let mechanism = match mechanism {
            "PLAIN" => Mechanism::Plain,
            "LOGIN" => Mechanism::Login,
            "CRAM-MD5" => Mechanism::CramMd5,
            "XOAUTH2" => Mechanism::XOauth2,
            _ => Mechanism::Other,
        };
        let mut watch = SaslWatch {
            mechanism,
            seen: false,
            user: None,
        };
        if let Some(initial) = initial {
            watch.response(initial.as_bytes());
        }
        watch
    }

    /// Feeds one client response line (base64, `=` or `*`).
    pub fn response(&mut self, line: &[u8]) {
        if self.seen || self.mechanism == Mechanism::Other {
            return;
        }
        self.seen = true;
        let Ok(text) = std::str::from_utf8(line) else {
            return;
        };
        self.user = match self.mechanism {
            Mechanism::Plain => decode_plain(text).ok().map(|c| match c.authzid {
                Some(authzid) => format!("{} as {authzid}", c.user),
                None => c.user,
            }),
            Mechanism::Login => decode_text(text).ok().filter(|u| !u.is_empty()),
            Mechanism::CramMd5 => decode_text(text)
                .ok()
                .and_then(|t| t.rsplit_once(' ').map(|(user, _)| user.to_owned()))
                .filter(|u| !u.is_empty()),
            Mechanism::XOauth2 => xoauth2_user(text),
            Mechanism::Other => None,
        };
    }

    /// The user name, when the mechanism showed it.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
}

/// The `user=` field of an XOAUTH2 response (fields split by `^A`).
fn xoauth2_user(b64: &str) -> Option<String> {
    let bytes = STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.split('\u{1}')
        .find_map(|field| field.strip_prefix("user="))
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn plain_initial_or_after_the_challenge() {
        let w = SaslWatch::start("PLAIN", Some(&b64("\0alice\0secret")));
        assert_eq!(w.user(), Some("alice"));
        let mut w = SaslWatch::start("PLAIN", None);
        assert_eq!(w.user(), None);
        w.response(b64("sales@example.com\0bob\0pw").as_bytes());
        assert_eq!(w.user(), Some("bob as sales@example.com"));
        let mut w = SaslWatch::start("PLAIN", None);
        w.response(b"*");
        assert_eq!(w.user(), None);
    }

    #[test]
    fn login_takes_the_first_response_only() {
        let mut w = SaslWatch::start("LOGIN", None);
        w.response(b64("carol").as_bytes());
        w.response(b64("her password").as_bytes());
        assert_eq!(w.user(), Some("carol"));
        let mut w = SaslWatch::start("LOGIN", Some(&b64("dave")));
        w.response(b64("pw").as_bytes());
        assert_eq!(w.user(), Some("dave"));
    }

    #[test]
    fn cram_md5_and_xoauth2_name_their_user() {
        let mut w = SaslWatch::start("CRAM-MD5", None);
        w.response(b64("tim b913a602c7eda7a495b4e6e7334d3890").as_bytes());
        assert_eq!(w.user(), Some("tim"));
        let token = b64("user=erin@example.com\u{1}auth=Bearer abc\u{1}\u{1}");
        assert_eq!(
            SaslWatch::start("XOAUTH2", Some(&token)).user(),
            Some("erin@example.com")
        );
    }

    #[test]
    fn unknown_mechanisms_and_garbage_name_nobody() {
        let mut w = SaslWatch::start("SCRAM-SHA-256", Some(&b64("n,,n=frank,r=abc")));
        w.response(b"anything");
        assert_eq!(w.user(), None);
        let mut w = SaslWatch::start("LOGIN", None);
        w.response(b"!!not base64!!");
        assert_eq!(w.user(), None);
        let mut w = SaslWatch::start("PLAIN", None);
        w.response(&[0xff, 0xfe]);
        assert_eq!(w.user(), None);
    }
}
