//! Reaching the IMAP server an import reads from: TCP, implicit TLS or
//! STARTTLS (rustls, certificate checked against the job's roots) and the
//! greeting through [`crate::imap::upstream`], as the IMAP proxy does;
//! then the login with a password or an OAuth2 token.
//!
//! Every step has a deadline, so a server that stops answering ends the
//! attempt with a timeout the caller can retry, never a hang.

use std::time::Duration;

use super::ImapImportError;
use super::secret::{Secret, XOAuth2};
use crate::config::ImapImportConfig;
use crate::imap::upstream::{self, CONNECT_TIMEOUT, Upstream, UpstreamError};
use crate::transport::Stream;

/// A logged-in session.
pub type Session = async_imap::Session<Stream>;

/// Longest wait for the login answer (servers delay failed logins).
const LOGIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the server is and how to talk to it.
pub struct Server {
    /// Address, TLS mode and roots; connects and reads the greeting.
    upstream: Upstream,
}

impl Server {
    /// The server of a job; builds its TLS configuration (roots, or the
    /// lab-only accept-anything verifier).
    pub fn new(job: &ImapImportConfig) -> Result<Server, ImapImportError> {
        let address = if job.host.contains(':') {
            format!("[{}]:{}", job.host, job.port)
        } else {
            format!("{}:{}", job.host, job.port)
        };
        let upstream = Upstream::new(address, job.tls, job.server_name.clone(), || {
            crate::tls::client_config(&job.upstream_ca, job.tls_insecure)
        })?;
        Ok(Server { upstream })
    }

    /// `host:port`.
    pub fn address(&self) -> &str {
        self.upstream.address()
    }

    /// Connects (TCP, TLS, greeting, STARTTLS, within
    /// [`CONNECT_TIMEOUT`]) and logs in.
    pub async fn open(&self, user: &str, secret: &Secret) -> Result<Session, ImapImportError> {
        let (stream, greeting) = self.upstream.connect().await?;
        // PREAUTH and the like: the import logs in as the job's user.
        if !upstream::starts_with_ignore_case(&greeting, b"* OK") {
            return Err(self.refused(&greeting));
        }
        tokio::time::timeout(LOGIN_TIMEOUT, self.login(stream, user, secret))
            .await
            .map_err(|_| self.timeout(LOGIN_TIMEOUT))?
    }

    async fn login(
        &self,
        stream: Stream,
        user: &str,
        secret: &Secret,
    ) -> Result<Session, ImapImportError> {
        let client = async_imap::Client::new(stream);
        let result = match secret {
            Secret::Password(password) => client.login(user, password).await,
            Secret::Token(token) => {
                client
                    .authenticate("XOAUTH2", XOAuth2::new(user, token))
                    .await
            }
        };
        result.map_err(|(error, _)| match error {
            async_imap::error::Error::No(reply) | async_imap::error::Error::Bad(reply) => {
                ImapImportError::Auth {
                    address: self.address().to_owned(),
                    user: user.to_owned(),
                    reply: super::server_text(&reply),
                }
            }
            other => ImapImportError::from_imap(self.address(), "LOGIN", other),
        })
    }

    fn timeout(&self, after: Duration) -> ImapImportError {
        ImapImportError::Timeout {
            address: self.address().to_owned(),
            secs: after.as_secs(),
        }
    }

    fn refused(&self, line: &[u8]) -> ImapImportError {
        ImapImportError::Refused {
            address: self.address().to_owned(),
            reply: String::from_utf8_lossy(line).trim_end().to_owned(),
        }
    }
}

impl From<UpstreamError> for ImapImportError {
    fn from(error: UpstreamError) -> ImapImportError {
        match error {
            UpstreamError::Connect { address, source } => ImapImportError::Unreachable {
                address,
                cause: source,
            },
            UpstreamError::Greeting { address, source } => ImapImportError::Connection {
                address,
                detail: source.to_string(),
            },
            UpstreamError::Refused { address, reply } => {
                ImapImportError::Refused { address, reply }
            }
            UpstreamError::Tls { address, source } => ImapImportError::Tls {
                address,
                cause: source,
            },
            UpstreamError::Timeout { address } => ImapImportError::Timeout {
                address,
                secs: CONNECT_TIMEOUT.as_secs(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ImapCredential, ImapImportConfig};
    use base64::Engine as _;
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    use tokio::net::TcpListener;

    /// A one-connection fake server that speaks `script`: for each line it
    /// expects (a substring), the lines to answer, with `TAG` replaced by the
    /// tag of the last command; returns what the client sent.
    async fn fake(
        script: Vec<(&'static str, Vec<String>)>,
    ) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut conn = BufReader::new(tcp);
            conn.get_mut()
                .write_all(b"* OK fake ready\r\n")
                .await
                .unwrap();
            let mut seen = Vec::new();
            let mut tag = String::new();
            for (expect, answers) in script {
                let mut line = String::new();
                conn.read_line(&mut line).await.unwrap();
                assert!(line.contains(expect), "expected {expect:?}, got {line:?}");
                if !expect.is_empty() {
                    tag = line.split(' ').next().unwrap().to_owned();
                }
                seen.push(line.trim_end().to_owned());
                for a in answers {
                    let a = a.replace("TAG", &tag);
                    conn.get_mut().write_all(a.as_bytes()).await.unwrap();
                }
            }
            seen
        });
        (port, task)
    }

    fn job(port: u16) -> ImapImportConfig {
        ImapImportConfig::for_test(
            "t",
            ([127, 0, 0, 1], port).into(),
            "alice@example.com",
            ImapCredential::PasswordEnv("UNUSED".into()),
        )
    }

    #[tokio::test]
    async fn xoauth2_sends_user_and_bearer_token() {
        let (port, server) = fake(vec![
            ("AUTHENTICATE XOAUTH2", vec!["+ \r\n".into()]),
            ("", vec!["TAG OK logged in\r\n".into()]),
        ])
        .await;
        let s = Server::new(&job(port)).unwrap();
        let session = s
            .open("alice@example.com", &Secret::Token("tok".into()))
            .await;
        assert!(session.is_ok(), "{:?}", session.err());
        let seen = server.await.unwrap();
        let sent = base64::engine::general_purpose::STANDARD
            .decode(&seen[1])
            .unwrap();
        assert_eq!(sent, b"user=alice@example.com\x01auth=Bearer tok\x01\x01");
    }

    #[tokio::test]
    async fn refused_tokens_and_passwords_are_auth_errors() {
        let error = "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n".to_string();
        let (port, _server) = fake(vec![
            ("AUTHENTICATE XOAUTH2", vec!["+ \r\n".into()]),
            ("", vec![error]),
            (
                "",
                vec!["TAG NO [AUTHENTICATIONFAILED] bad token\r\n".into()],
            ),
        ])
        .await;
        let s = Server::new(&job(port)).unwrap();
        let e = s.open("a", &Secret::Token("t".into())).await.unwrap_err();
        assert!(matches!(e, ImapImportError::Auth { .. }), "{e:?}");

        let (port, _server) = fake(vec![("LOGIN", vec!["TAG NO wrong\r\n".into()])]).await;
        let s = Server::new(&job(port)).unwrap();
        let e = s
            .open("a", &Secret::Password("hunter2".into()))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("rejected the login of a"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let s = Server::new(&job(port)).unwrap();
        let e = s
            .open("a", &Secret::Password("p".into()))
            .await
            .unwrap_err();
        assert!(matches!(e, ImapImportError::Unreachable { .. }), "{e:?}");
    }
}
