//! `[[journal]]`: an SMTP receiver that only archives (journal rules, BCC
//! copies), open to allowed peers only.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use super::check;
use super::client_tls::{ClientTls, raw_client_tls};
use super::password;
use super::problem::{At, Problems};
use super::smtp_proxy::{
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MIN_DATA_RATE,
    DEFAULT_TIMEOUT_COMMAND, DEFAULT_TIMEOUT_DATA_BLOCK, default_max_connections,
    default_max_message_size, default_min_data_rate, default_timeout_command,
    default_timeout_data_block,
};
use super::value::{self, TlsMode};

/// `[[journal]]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJournal {
    /// Listener name.
    #[serde(default)]
    name: Option<String>,
    /// Address journaling servers connect to.
    #[serde(default, deserialize_with = "value::socket_addr")]
    listen: Option<SocketAddr>,
    /// Name in greetings; default the machine's hostname.
    #[serde(default)]
    hostname: Option<String>,
    /// Certificate chain (PEM).
    #[serde(default)]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM).
    #[serde(default)]
    tls_key: Option<PathBuf>,
    /// TLS mode; default starttls with a certificate, else none.
    #[serde(default)]
    tls_mode: Option<TlsMode>,
    /// Refuse MAIL FROM before TLS.
    #[serde(default)]
    require_tls: bool,
    /// Peers allowed to connect.
    #[serde(
        default = "default_allowed_networks",
        deserialize_with = "value::networks"
    )]
    allowed_networks: Vec<IpNet>,
    /// SMTP AUTH users with Argon2 hashes.
    #[serde(default)]
    auth_users: Vec<RawAuthUser>,
    /// More users, one `user:$argon2id$...` per line.
    #[serde(default)]
    auth_users_file: Option<PathBuf>,
    /// Largest message accepted, in bytes.
    #[serde(default = "default_max_message_size")]
    max_message_size: u64,
    /// Concurrent connections.
    #[serde(default = "default_max_connections")]
    max_connections: usize,
    /// Archiving nothing for this long degrades `/healthz` (a silent source).
    #[serde(default, deserialize_with = "value::optional_duration")]
    expect_mail_within: Option<Duration>,
    /// Waiting for a command.
    #[serde(
        default = "default_timeout_command",
        deserialize_with = "value::duration"
    )]
    timeout_command: Duration,
    /// Between two chunks of DATA.
    #[serde(
        default = "default_timeout_data_block",
        deserialize_with = "value::duration"
    )]
    timeout_data_block: Duration,
    /// Bytes per second a DATA sender must average (0: no minimum).
    #[serde(default = "default_min_data_rate")]
    min_data_rate: u64,
}

/// One `auth_users` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuthUser {
    /// Login name.
    #[serde(default)]
    user: Option<String>,
    /// Argon2 PHC string.
    #[serde(default)]
    password_hash: Option<String>,
}

fn default_allowed_networks() -> Vec<IpNet> {
    ["127.0.0.0/8", "::1/128"]
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// A user allowed to authenticate to a journal listener.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthUser {
    /// Login name.
    pub user: String,
    /// Argon2 PHC string; check with [`crate::config::verify_password`].
    pub password_hash: String,
}

impl fmt::Debug for AuthUser {
    /// Leaves the hash out of logs and test output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthUser")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// One `[[journal]]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalConfig {
    /// Listener name, unique across all listeners and jobs.
    pub name: String,
    /// Address journaling servers connect to.
    pub listen: SocketAddr,
    /// Name used in greetings and replies.
    pub hostname: String,
    /// TLS towards the journaling servers.
    pub tls: ClientTls,
    /// Refuse mail on unencrypted connections (implies TLS is offered).
    pub require_tls: bool,
    /// Peers allowed to connect; everyone else is refused at connect.
    pub allowed_networks: Vec<IpNet>,
    /// Users for SMTP AUTH (inline and from `auth_users_file`); empty means
    /// AUTH is not offered.
    pub auth_users: Vec<AuthUser>,
    /// Largest message accepted, in bytes.
    pub max_message_size: u64,
    /// Concurrent connections; more are refused with 421.
    pub max_connections: usize,
    /// No mail archived through this listener for this long is a
    /// problem (`/healthz` degraded, the status page, `/metrics`).
    pub expect_mail_within: Option<Duration>,
    /// Waiting for a command.
    pub timeout_command: Duration,
    /// Between two reads of DATA.
    pub timeout_data_block: Duration,
    /// Bytes per second a DATA sender must average; 0 turns it off.
    pub min_data_rate: u64,
}

impl JournalConfig {
    /// File defaults for a plain-text journal on `listen` (tests):
    /// loopback peers only, no AUTH, hostname `mailseal.test`.
    pub fn for_test(name: &str, listen: SocketAddr) -> JournalConfig {
        JournalConfig {
            name: name.to_owned(),
            listen,
            hostname: "mailseal.test".to_owned(),
            tls: ClientTls::default(),
            require_tls: false,
            allowed_networks: default_allowed_networks(),
            auth_users: Vec::new(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            expect_mail_within: None,
            timeout_command: DEFAULT_TIMEOUT_COMMAND,
            timeout_data_block: DEFAULT_TIMEOUT_DATA_BLOCK,
            min_data_rate: DEFAULT_MIN_DATA_RATE,
        }
    }
}

impl RawJournal {
    /// The name as written, for duplicate checks across sections.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The listen address as written, for conflict checks.
    pub(crate) fn listen(&self) -> Option<SocketAddr> {
        self.listen
    }

    /// Validates one journal listener; `at` is its path such as `journal[0]`.
    pub(crate) fn validate(self, p: &mut Problems, at: &At) -> Option<JournalConfig> {
        let name = check::name(p, at, self.name.as_deref());
        let listen = check::required(p, at.key("listen"), self.listen);
        let hostname = check::hostname(p, at.key("hostname"), self.hostname);
        let cert_given = self.tls_cert.is_some();
        let plain_text = !cert_given || self.tls_mode == Some(TlsMode::None);
        let tls = raw_client_tls!(self).validate(p, at);
        if self.require_tls && plain_text {
            p.push(
                at.key("require_tls"),
                "require_tls needs TLS: set tls_cert and tls_key (and leave tls_mode on)",
            );
        }
        if self.allowed_networks.is_empty() {
            p.push(
                at.key("allowed_networks"),
                "empty: no peer could deliver; list the journaling servers' networks",
            );
        }
        let auth_users = auth_users(p, at, self.auth_users, self.auth_users_file.as_deref());
        let max_message_size =
            check::positive(p, at.key("max_message_size"), self.max_message_size);
        let max_connections = check::positive(p, at.key("max_connections"), self.max_connections);
        if self.expect_mail_within.is_some_and(|d| d.is_zero()) {
            p.push(at.key("expect_mail_within"), "must be longer than zero");
        }
        let timeout_command = check::nonzero(p, at.key("timeout_command"), self.timeout_command);
        let timeout_data_block =
            check::nonzero(p, at.key("timeout_data_block"), self.timeout_data_block);
        if self.allowed_networks.is_empty() || (self.require_tls && !cert_given) {
            return None;
        }
        Some(JournalConfig {
            name: name?,
            listen: listen?,
            hostname: hostname?,
            tls: tls?,
            require_tls: self.require_tls,
            allowed_networks: self.allowed_networks,
            auth_users: auth_users?,
            max_message_size: max_message_size?,
            max_connections: max_connections?,
            expect_mail_within: self.expect_mail_within,
            timeout_command: timeout_command?,
            timeout_data_block: timeout_data_block?,
            min_data_rate: self.min_data_rate,
        })
    }
}

/// Inline users plus the users file; every hash checked, names unique.
fn auth_users(
    p: &mut Problems,
    at: &At,
    inline: Vec<RawAuthUser>,
    file: Option<&Path>,
) -> Option<Vec<AuthUser>> {
    let mut ok = true;
    let mut users: Vec<AuthUser> = Vec::new();
    for (i, raw) in inline.into_iter().enumerate() {
        let entry = At::section(&at.key("auth_users"), Some(i));
        let user = check::required(p, entry.key("user"), raw.user);
        let hash = check::required(p, entry.key("password_hash"), raw.password_hash);
        if let Some(Err(message)) = hash.as_deref().map(password::check_hash) {
            p.push(entry.key("password_hash"), message);
            ok = false;
        }
        match (user, hash) {
            (Some(user), Some(password_hash)) if !user.is_empty() => users.push(AuthUser {
                user,
                password_hash,
            }),
            (Some(_), _) => {
                p.push(entry.key("user"), "must not be empty");
                ok = false;
            }
            _ => ok = false,
        }
    }
    if let Some(file) = file {
        ok &= users_file(p, at.key("auth_users_file"), file, &mut users);
    }
    let mut seen = std::collections::HashSet::new();
    for user in &users {
        if !seen.insert(user.user.as_str()) {
            p.push(
                at.key("auth_users"),
                format!("user {:?} is defined more than once", user.user),
            );
            ok = false;
        }
    }
    ok.then_some(users)
}

/// Reads `user:hash` lines; blank lines and `#` comments are skipped.
fn users_file(p: &mut Problems, path: String, file: &Path, users: &mut Vec<AuthUser>) -> bool {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            p.push(path, format!("cannot read {}: {e}", file.display()));
            return false;
        }
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = match line.split_once(':') {
            Some((user, hash)) if !user.is_empty() => {
                password::check_hash(hash).map(|()| (user, hash))
            }
            _ => Err("expected user:$argon2id$...".to_owned()),
        };
        match parsed {
            Ok((user, hash)) => users.push(AuthUser {
                user: user.to_owned(),
                password_hash: hash.to_owned(),
            }),
            Err(message) => {
                p.push(
                    path,
                    format!("{} line {}: {message}", file.display(), n + 1),
                );
                return false;
            }
        }
    }
    true
}
