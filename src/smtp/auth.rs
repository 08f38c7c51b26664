//! SASL PLAIN and LOGIN without I/O: the server side of the exchange, and
//! decoding helpers a relay uses to learn the user name it records.
//!
//! Passwords never leave this module except inside [`Credentials`], whose
//! `Debug` output hides them, so they cannot reach a log by accident.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::reply::Reply;

/// Why an AUTH exchange failed; each maps to one reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The mechanism is not PLAIN or LOGIN.
    #[error("unsupported mechanism")]
    Mechanism,
    /// The client sent `*`.
    #[error("authentication cancelled")]
    Cancelled,
    /// Not base64, not UTF-8, or not the mechanism's layout.
    #[error("malformed SASL response")]
    Malformed,
}

impl SaslError {
    /// The reply the client gets.
    pub fn reply(&self) -> Reply {
        match self {
            SaslError::Mechanism => Reply::new(504, "5.5.4 unrecognized authentication type"),
            SaslError::Cancelled => Reply::new(501, "5.7.0 authentication cancelled"),
            SaslError::Malformed => Reply::new(501, "5.5.2 cannot decode response"),
        }
    }
}

/// A user name and password from PLAIN or LOGIN.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The identity to act as (PLAIN's authzid), when given and different.
    pub authzid: Option<String>,
    /// The authentication identity: the recorded user name.
    pub user: String,
    /// The password; never logged.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("authzid", &self.authzid)
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// What the server does next in an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslStep {
    /// Send this `334` challenge and feed the client's next line.
    Challenge(Reply),
    /// The client has sent its credentials; check them.
    Done(Credentials),
}

/// The server side of one PLAIN or LOGIN exchange.
#[derive(Debug)]
pub enum SaslServer {
    /// PLAIN, waiting for the response after an empty challenge.
    Plain,
    /// LOGIN, waiting for the user name.
    LoginUser,
    /// LOGIN, waiting for the password of this user.
    LoginPassword(String),
}

impl SaslServer {
    /// Starts an exchange for `AUTH mechanism [initial]`.
    pub fn start(
        mechanism: &str,
        initial: Option<&str>,
    ) -> Result<(SaslServer, SaslStep), SaslError> {
        match (mechanism, initial) {
            ("PLAIN", Some(i)) => Ok((SaslServer::Plain, SaslStep::Done(decode_plain(i)?))),
            ("PLAIN", None) => Ok((SaslServer::Plain, SaslStep::Challenge(Reply::new(334, "")))),
            ("LOGIN", Some(i)) => {
                let user = decode_text(i)?;
                Ok((SaslServer::LoginPassword(user), password_challenge()))
            }
            ("LOGIN", None) => Ok((
                SaslServer::LoginUser,
                SaslStep::Challenge(Reply::new(334, STANDARD.encode("Username:"))),
            )),
            _ => Err(SaslError::Mechanism),
        }
    }

    /// Feeds the client's response line.
    pub fn next(self, line: &str) -> Result<(SaslServer, SaslStep), SaslError> {
        if line == "*" {
            return Err(SaslError::Cancelled);
        }
        match self {
            SaslServer::Plain => Ok((SaslServer::Plain, SaslStep::Done(decode_plain(line)?))),
            SaslServer::LoginUser => {
                let user = decode_text(line)?;
                Ok((SaslServer::LoginPassword(user), password_challenge()))
            }
            SaslServer::LoginPassword(user) => {
                let password = decode_text(line)?;
                let done = Credentials {
                    authzid: None,
                    user,
                    password,
                };
                Ok((SaslServer::Plain, SaslStep::Done(done)))
            }
        }
    }
}

fn password_challenge() -> SaslStep {
    SaslStep::Challenge(Reply::new(334, STANDARD.encode("Password:")))
}

/// Decodes a base64 response to UTF-8 text (`=` is the empty response).
pub fn decode_text(b64: &str) -> Result<String, SaslError> {
    let bytes = if b64 == "=" {
        Vec::new()
    } else {
        STANDARD
            .decode(b64.trim())
            .map_err(|_| SaslError::Malformed)?
    };
    String::from_utf8(bytes).map_err(|_| SaslError::Malformed)
}

/// Decodes a PLAIN response: `authzid NUL authcid NUL password`.
pub fn decode_plain(b64: &str) -> Result<Credentials, SaslError> {
    let text = decode_text(b64)?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed);
    };
    if user.is_empty() {
        return Err(SaslError::Malformed);
    }
    let authzid = (!authzid.is_empty() && authzid != user).then(|| authzid.to_owned());
    Ok(Credentials {
        authzid,
        user: user.to_owned(),
        password: password.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn plain_with_and_without_initial_response() {
        let (_, step) = SaslServer::start("PLAIN", Some(&b64("\0alice\0secret"))).unwrap();
        let SaslStep::Done(c) = step else {
            panic!("not done")
        };
        assert_eq!(
            (c.user.as_str(), c.password.as_str(), c.authzid.as_deref()),
            ("alice", "secret", None)
        );
        assert!(!format!("{c:?}").contains("secret"));

        let (server, step) = SaslServer::start("PLAIN", None).unwrap();
        assert_eq!(step, SaslStep::Challenge(Reply::new(334, "")));
        let (_, step) = server.next(&b64("admin\0bob\0pw")).unwrap();
        let SaslStep::Done(c) = step else {
            panic!("not done")
        };
        assert_eq!(
            (c.user.as_str(), c.authzid.as_deref()),
            ("bob", Some("admin"))
        );
    }

    #[test]
    fn login_asks_user_then_password() {
        let (server, step) = SaslServer::start("LOGIN", None).unwrap();
        assert_eq!(step, SaslStep::Challenge(Reply::new(334, "VXNlcm5hbWU6")));
        let (server, step) = server.next(&b64("carol")).unwrap();
        assert_eq!(step, SaslStep::Challenge(Reply::new(334, "UGFzc3dvcmQ6")));
        let (_, step) = server.next(&b64("pw")).unwrap();
        let SaslStep::Done(c) = step else {
            panic!("not done")
        };
        assert_eq!((c.user.as_str(), c.password.as_str()), ("carol", "pw"));
    }

    #[test]
    fn bad_responses() {
        assert_eq!(
            SaslServer::start("CRAM-MD5", None).err(),
            Some(SaslError::Mechanism)
        );
        assert_eq!(decode_plain("!!!").err(), Some(SaslError::Malformed));
        assert_eq!(
            decode_plain(&b64("alice")).err(),
            Some(SaslError::Malformed)
        );
        assert_eq!(
            decode_plain(&b64("\0\0pw")).err(),
            Some(SaslError::Malformed)
        );
        assert_eq!(decode_plain("=").err(), Some(SaslError::Malformed));
        let (server, _) = SaslServer::start("LOGIN", None).unwrap();
        assert_eq!(server.next("*").err(), Some(SaslError::Cancelled));
        assert_eq!(SaslError::Cancelled.reply().code(), 501);
    }
}
