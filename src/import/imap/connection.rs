//! Reaching the IMAP server an import reads from: TCP, implicit TLS or
//! STARTTLS (rustls, certificate checked against the job's roots), the
//! greeting, and the login with a password or an OAuth2 token.
//!
//! Every step has a deadline, so a server that stops answering ends the
//! attempt with a timeout the caller can retry, never a hang.

use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::ImapImportError;
use super::secret::{Secret, XOAuth2};
use crate::config::{ImapImportConfig, TlsMode};
use crate::imap::stream::{BoxIo, read_line};

/// A logged-in session.
pub type Session = async_imap::Session<BoxIo>;

/// Longest wait for TCP, TLS and the greeting together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest wait for the login answer (servers delay failed logins).
const LOGIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest greeting or STARTTLS answer line accepted.
const MAX_LINE: usize = 16 * 1024;

/// Tag of our STARTTLS command (sent before async-imap takes over).
const TAG: &str = "ms0";

/// Where the server is and how to talk to it.
pub struct Server {
    /// `host:port`, for connecting, errors and logs.
    address: String,
    /// Plain, implicit TLS or STARTTLS.
    mode: TlsMode,
    /// TLS client setup, unless the mode is plain.
    connector: Option<TlsConnector>,
    /// Name the certificate must carry.
    name: ServerName<'static>,
}

impl Server {
    /// The server of a job; builds its TLS configuration (roots, or the
    /// lab-only accept-anything verifier).
    pub fn new(job: &ImapImportConfig) -> Result<Server, ImapImportError> {
        let connector = match job.tls {
            TlsMode::None => None,
            _ => Some(TlsConnector::from(crate::tls::client_config(
                &job.upstream_ca,
                job.tls_insecure,
            )?)),
        };
        let address = if job.host.contains(':') {
            format!("[{}]:{}", job.host, job.port)
        } else {
            format!("{}:{}", job.host, job.port)
        };
        Ok(Server {
            address,
            mode: job.tls,
            connector,
            name: job.server_name.clone(),
        })
    }

    /// `host:port`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Connects, secures the stream as configured, reads the greeting and
    /// logs in.
    pub async fn open(&self, user: &str, secret: &Secret) -> Result<Session, ImapImportError> {
        let io = tokio::time::timeout(CONNECT_TIMEOUT, self.connect())
            .await
            .map_err(|_| self.timeout(CONNECT_TIMEOUT))??;
        tokio::time::timeout(LOGIN_TIMEOUT, self.login(io, user, secret))
            .await
            .map_err(|_| self.timeout(LOGIN_TIMEOUT))?
    }

    async fn connect(&self) -> Result<BoxIo, ImapImportError> {
        let tcp = TcpStream::connect(self.address.as_str())
            .await
            .map_err(|cause| ImapImportError::Unreachable {
                address: self.address.clone(),
                cause,
            })?;
        let _ = tcp.set_nodelay(true);
        let mut io: BoxIo = match self.mode {
            TlsMode::Implicit => self.handshake(Box::new(tcp)).await?,
            _ => Box::new(tcp),
        };
        let greeting = read_line(&mut io, MAX_LINE)
            .await
            .map_err(|e| self.lost(&e))?;
        if !starts_with_ignore_case(&greeting, b"* OK") {
            return Err(self.refused(&greeting));
        }
        if self.mode == TlsMode::Starttls {
            self.starttls(&mut io).await?;
            io = self.handshake(io).await?;
        }
        Ok(io)
    }

    async fn starttls(&self, io: &mut BoxIo) -> Result<(), ImapImportError> {
        let send = format!("{TAG} STARTTLS\r\n");
        io.write_all(send.as_bytes())
            .await
            .map_err(|e| self.lost(&e))?;
        io.flush().await.map_err(|e| self.lost(&e))?;
        loop {
            let line = read_line(io, MAX_LINE).await.map_err(|e| self.lost(&e))?;
            if let Some(rest) = line.strip_prefix(format!("{TAG} ").as_bytes()) {
                if starts_with_ignore_case(rest, b"OK") {
                    return Ok(());
                }
                return Err(self.refused(&line));
            }
        }
    }

    async fn handshake(&self, io: BoxIo) -> Result<BoxIo, ImapImportError> {
        let Some(connector) = &self.connector else {
            return Ok(io);
        };
        let tls = connector
            .connect(self.name.clone(), io)
            .await
            .map_err(|cause| ImapImportError::Tls {
                address: self.address.clone(),
                cause,
            })?;
        Ok(Box::new(tls))
    }

    async fn login(
        &self,
        io: BoxIo,
        user: &str,
        secret: &Secret,
    ) -> Result<Session, ImapImportError> {
        let client = async_imap::Client::new(io);
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
                    address: self.address.clone(),
                    user: user.to_owned(),
                    reply: super::server_text(&reply),
                }
            }
            other => ImapImportError::from_imap(&self.address, "LOGIN", other),
        })
    }

    fn timeout(&self, after: Duration) -> ImapImportError {
        ImapImportError::Timeout {
            address: self.address.clone(),
            secs: after.as_secs(),
        }
    }

    fn lost(&self, e: &std::io::Error) -> ImapImportError {
        ImapImportError::Connection {
            address: self.address.clone(),
            detail: e.to_string(),
        }
    }

    fn refused(&self, line: &[u8]) -> ImapImportError {
        ImapImportError::Refused {
            address: self.address.clone(),
            reply: String::from_utf8_lossy(line).trim_end().to_owned(),
        }
    }
}

fn starts_with_ignore_case(line: &[u8], prefix: &[u8]) -> bool {
    line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ImapCredential, ImapImportConfig};
    use base64::Engine as _;
    use tokio::io::{AsyncBufReadExt as _, BufReader};
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
