//! Checking a login: the Argon2 hash in the users file, or the person's
//! mailbox password against the configured IMAP server.
//!
//! The answer is only yes or no; why a login failed (unknown name, wrong
//! password, disabled, server down) goes to the log and the audit record,
//! never to the browser, so the page does not tell a guesser which names
//! exist. Unknown names still cost one Argon2 verification, for the same
//! reason.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::users::{LoginMethod, User};

/// Longest wait for the IMAP server to connect, greet and answer LOGIN.
const IMAP_TIMEOUT: Duration = Duration::from_secs(20);

/// A hash of a password nobody has, verified for unknown names so that
/// they take as long as known ones.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4tVQqtuKjx0yx9yL0pBfu/1aQbD5wHDmLxdWa8M1YZA";

/// Where mailbox passwords are checked.
#[derive(Clone)]
pub struct ImapLogin {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Implicit TLS with this client configuration; `None` is plain IMAP,
    /// which configuration allows only on loopback.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The name the server's certificate must carry.
    pub server_name: ServerName<'static>,
}

impl std::fmt::Debug for ImapLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapLogin")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// Why a login was refused (for the log and the audit record only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such user.
    Unknown,
    /// Wrong password.
    Password,
    /// The user is disabled.
    Disabled,
    /// Too many failures: locked out for a while.
    LockedOut,
    /// The directory or IMAP server could not be asked.
    Unavailable,
    /// The login method is not configured on this appliance.
    NotConfigured,
}

impl Refusal {
    /// The reason as written to the audit record.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Unknown => "unknown user",
            Refusal::Password => "wrong password",
            Refusal::Disabled => "user disabled",
            Refusal::LockedOut => "locked out",
            Refusal::Unavailable => "login server unavailable",
            Refusal::NotConfigured => "login method not configured",
        }
    }
}

/// Checks `password` for `user` (`None`: no such user).
pub async fn check(
    user: Option<&User>,
    password: &str,
    imap: Option<&ImapLogin>,
) -> Result<(), Refusal> {
    let Some(user) = user else {
        let password = password.to_owned();
        let _ = tokio::task::spawn_blocking(move || {
            crate::config::verify_password(DUMMY_HASH, &password)
        })
        .await;
        return Err(Refusal::Unknown);
    };
    if user.disabled {
        return Err(Refusal::Disabled);
    }
    match user.login {
        LoginMethod::Local => {
            let hash = user.password.clone().unwrap_or_else(|| DUMMY_HASH.into());
            let password = password.to_owned();
            let ok = tokio::task::spawn_blocking(move || {
                crate::config::verify_password(&hash, &password)
            })
            .await
            .unwrap_or(false);
            if ok && user.password.is_some() {
                Ok(())
            } else {
                Err(Refusal::Password)
            }
        }
        LoginMethod::Imap => match imap {
            Some(server) => imap_login(server, &user.name, password).await,
            None => Err(Refusal::NotConfigured),
        },
    }
}

/// Checks a web user's password and role for the four-eyes commands
/// (`purge request`, `purge approve`) the CLI sends: the users file at
/// `users_file` must hold `name` with one of `roles`, and `password` must
/// be theirs (local logins only: no IMAP server is asked). The error says
/// why, for the command line.
pub async fn authenticate(
    users_file: &std::path::Path,
    name: &str,
    password: &str,
    roles: &[super::role::Role],
) -> Result<(), String> {
    let users = super::users::Users::load(users_file)
        .map_err(|e| format!("reading {}: {e}", users_file.display()))?;
    let user = users.get(name);
    if let Err(why) = check(user, password, None).await {
        tracing::warn!(
            user = name,
            reason = why.as_str(),
            "four-eyes login refused"
        );
        return Err(format!("{name}: login refused ({})", why.as_str()));
    }
    match user.map(|u| u.role) {
        Some(r) if roles.contains(&r) => Ok(()),
        role => Err(format!(
            "{name} has role {}; this needs {}",
            role.map_or("none", super::role::Role::as_str),
            roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        )),
    }
}

/// Logs in to the IMAP server as `name` and out again.
async fn imap_login(server: &ImapLogin, name: &str, password: &str) -> Result<(), Refusal> {
    let attempt = async {
        let tcp = TcpStream::connect((server.host.as_str(), server.port))
            .await
            .map_err(|e| unavailable(server, &e))?;
        match &server.tls {
            None => login_on(tcp, name, password, server).await,
            Some(config) => {
                let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
                    .connect(server.server_name.clone(), tcp)
                    .await
                    .map_err(|e| unavailable(server, &e))?;
                login_on(tls, name, password, server).await
            }
        }
    };
    tokio::time::timeout(IMAP_TIMEOUT, attempt)
        .await
        .map_err(|_| {
            tracing::warn!(host = %server.host, port = server.port, "imap login: no answer in time");
            Refusal::Unavailable
        })?
}

fn unavailable(server: &ImapLogin, e: &dyn std::fmt::Display) -> Refusal {
    tracing::warn!(host = %server.host, port = server.port, error = %e, "imap login: server unreachable");
    Refusal::Unavailable
}

async fn login_on<S>(
    stream: S,
    name: &str,
    password: &str,
    server: &ImapLogin,
) -> Result<(), Refusal>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug,
{
    let mut client = async_imap::Client::new(stream);
    match client.read_response().await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(unavailable(server, &"closed before its greeting")),
        Err(e) => return Err(unavailable(server, &e)),
    }
    match client.login(name, password).await {
        Ok(mut session) => {
            let _ = session.logout().await;
            Ok(())
        }
        Err((async_imap::error::Error::No(_), _)) | Err((async_imap::error::Error::Bad(_), _)) => {
            Err(Refusal::Password)
        }
        Err((e, _)) => Err(unavailable(server, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::role::Role;

    #[tokio::test]
    async fn local_passwords_unknown_names_and_disabled_users() {
        let mut users = crate::web::users::Users::default();
        users
            .add(User::new("anna", Role::Auditor, LoginMethod::Local))
            .unwrap();
        users.set_password("anna", "correct horse battery").unwrap();
        let anna = users.get("anna").cloned();
        assert_eq!(
            check(anna.as_ref(), "correct horse battery", None).await,
            Ok(())
        );
        assert_eq!(
            check(anna.as_ref(), "wrong horse battery", None).await,
            Err(Refusal::Password)
        );
        assert_eq!(check(None, "x", None).await, Err(Refusal::Unknown));
        let mut disabled = anna.unwrap();
        disabled.disabled = true;
        assert_eq!(
            check(Some(&disabled), "correct horse battery", None).await,
            Err(Refusal::Disabled)
        );
        let imap_user = User::new("eve", Role::User, LoginMethod::Imap);
        assert_eq!(
            check(Some(&imap_user), "pw", None).await,
            Err(Refusal::NotConfigured)
        );
        assert!(argon2::PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
