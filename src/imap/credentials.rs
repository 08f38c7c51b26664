//! The credentials a client logged in with, kept in memory for the session
//! only, so the proxy's completion fetches can log in as the same user.
//!
//! They are never logged: `Debug` shows the mechanism and nothing else.

use super::command::sasl_response;

/// Most bytes of SASL responses kept for one exchange (OAuth tokens fit).
const MAX_SASL_BYTES: usize = 16 * 1024;

/// How a session authenticated.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `LOGIN user password`.
    Login {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// `AUTHENTICATE`: the mechanism and every client response, decoded, in
    /// order, so the exchange can be replayed.
    Sasl {
        /// Mechanism name in upper case.
        mechanism: String,
        /// The client's responses (the initial response first, if any).
        responses: Vec<Vec<u8>>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Login { .. } => f.write_str("Credentials(LOGIN)"),
            Credentials::Sasl { mechanism, .. } => write!(f, "Credentials({mechanism})"),
        }
    }
}

impl Credentials {
    /// The user the session acts as, when the mechanism shows it: the
    /// authorization identity if one was given, else the login name.
    pub fn user(&self) -> Option<String> {
        let (mechanism, responses) = match self {
            Credentials::Login { user, .. } => return Some(user.clone()),
            Credentials::Sasl {
                mechanism,
                responses,
            } => (mechanism.as_str(), responses),
        };
        let first = responses.first()?;
        let text = String::from_utf8_lossy(first);
        let found = match mechanism {
            "PLAIN" => {
                let mut fields = text.split('\0');
                let authz = fields.next().unwrap_or_default();
                let authc = fields.next().unwrap_or_default();
                if authz.is_empty() { authc } else { authz }.to_owned()
            }
            "LOGIN" => text.into_owned(),
            // `user=alice@example.com\x01auth=Bearer ...\x01\x01`
            "XOAUTH2" => text.strip_prefix("user=")?.split('\x01').next()?.to_owned(),
            // GS2 header `n,a=alice@example.com,\x01...`
            "OAUTHBEARER" => text
                .split(',')
                .find_map(|f| f.strip_prefix("a="))?
                .to_owned(),
            _ => return None,
        };
        (!found.is_empty()).then_some(found)
    }

    /// True when the proxy can replay these credentials on its own
    /// connection (mechanisms with a fixed exchange).
    pub fn replayable(&self) -> bool {
        match self {
            Credentials::Login { .. } => true,
            Credentials::Sasl { mechanism, .. } => {
                matches!(
                    mechanism.as_str(),
                    "PLAIN" | "LOGIN" | "XOAUTH2" | "OAUTHBEARER"
                )
            }
        }
    }
}

/// An `AUTHENTICATE` exchange in progress.
#[derive(Clone)]
pub struct SaslExchange {
    /// Mechanism name in upper case.
    mechanism: String,
    /// Decoded client responses so far.
    responses: Vec<Vec<u8>>,
    /// Bytes kept so far, against [`MAX_SASL_BYTES`].
    size: usize,
    /// A response was cancelled, undecodable or too large: nothing to keep.
    spoiled: bool,
}

impl SaslExchange {
    /// Starts an exchange, with the SASL-IR initial response if one came.
    pub fn new(mechanism: &str, initial: Option<Vec<u8>>) -> SaslExchange {
        let mut exchange = SaslExchange {
            mechanism: mechanism.to_owned(),
            responses: Vec::new(),
            size: 0,
            spoiled: false,
        };
        if let Some(initial) = initial {
            exchange.keep(initial);
        }
        exchange
    }

    /// Takes one client response line (base64).
    pub fn response(&mut self, line: &[u8]) {
        match sasl_response(line) {
            Some(decoded) => self.keep(decoded),
            None => self.spoiled = true,
        }
    }

    fn keep(&mut self, response: Vec<u8>) {
        self.size += response.len();
        if self.size > MAX_SASL_BYTES {
            self.spoiled = true;
            self.responses.clear();
        } else if !self.spoiled {
            self.responses.push(response);
        }
    }

    /// The credentials, once the server accepted the exchange.
    pub fn finish(self) -> Option<Credentials> {
        (!self.spoiled && !self.responses.is_empty()).then_some(Credentials::Sasl {
            mechanism: self.mechanism,
            responses: self.responses,
        })
    }
}

impl std::fmt::Debug for SaslExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SaslExchange({}, {} responses)",
            self.mechanism,
            self.responses.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sasl(mechanism: &str, responses: &[&[u8]]) -> Credentials {
        let mut ex = SaslExchange::new(mechanism, None);
        for r in responses {
            use base64::Engine as _;
            ex.response(
                base64::engine::general_purpose::STANDARD
                    .encode(r)
                    .as_bytes(),
            );
        }
        ex.finish().unwrap()
    }

    #[test]
    fn users_come_from_each_mechanism() {
        let login = Credentials::Login {
            user: "alice".into(),
            password: "pw".into(),
        };
        assert_eq!(login.user().as_deref(), Some("alice"));
        assert_eq!(
            sasl("PLAIN", &[b"\0alice\0pw"]).user().as_deref(),
            Some("alice")
        );
        assert_eq!(
            sasl("PLAIN", &[b"bob\0admin\0pw"]).user().as_deref(),
            Some("bob")
        );
        assert_eq!(
            sasl("LOGIN", &[b"alice", b"pw"]).user().as_deref(),
            Some("alice")
        );
        let xoauth = b"user=a@example.com\x01auth=Bearer tok\x01\x01";
        assert_eq!(
            sasl("XOAUTH2", &[xoauth]).user().as_deref(),
            Some("a@example.com")
        );
        let bearer = b"n,a=a@example.com,\x01auth=Bearer tok\x01\x01";
        assert_eq!(
            sasl("OAUTHBEARER", &[bearer]).user().as_deref(),
            Some("a@example.com")
        );
        assert_eq!(sasl("CRAM-MD5", &[b"alice abc"]).user(), None);
        assert!(!sasl("CRAM-MD5", &[b"alice abc"]).replayable());
    }

    #[test]
    fn cancelled_or_oversized_exchanges_keep_nothing() {
        let mut ex = SaslExchange::new("PLAIN", None);
        ex.response(b"*");
        assert!(ex.finish().is_none());
        let mut ex = SaslExchange::new("PLAIN", Some(vec![0; MAX_SASL_BYTES + 1]));
        ex.response(b"YWxpY2U=");
        assert!(ex.finish().is_none());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = sasl("PLAIN", &[b"\0alice\0hunter2"]);
        let shown = format!(
            "{c:?} {:?}",
            Credentials::Login {
                user: "u".into(),
                password: "hunter2".into()
            }
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
