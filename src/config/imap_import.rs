//! `[[imap_import]]`: scheduled, incremental imports from IMAP mailboxes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use rustls_pki_types::ServerName;
use serde::Deserialize;

use super::check;
use super::problem::{At, Problems};
use super::upstream;
use super::value::{self, TlsMode};
use crate::tls::UpstreamCa;

const DEFAULT_PORT: u16 = 993;
const DEFAULT_INTERVAL: Duration = Duration::from_secs(15 * 60);
const DEFAULT_BATCH_SIZE: u32 = 200;

/// `[[imap_import]]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawImapImport {
    /// Job name (records, checkpoints, logs).
    #[serde(default)]
    name: Option<String>,
    /// IMAP server.
    #[serde(default)]
    host: Option<String>,
    /// IMAP port.
    #[serde(default = "default_port")]
    port: u16,
    /// TLS towards the server.
    #[serde(default = "default_tls")]
    tls: TlsMode,
    /// Roots that verify the server: "system" or a PEM file.
    #[serde(default, deserialize_with = "value::upstream_ca")]
    upstream_ca: UpstreamCa,
    /// Skip certificate verification (lab only).
    #[serde(default)]
    tls_insecure: bool,
    /// Login name.
    #[serde(default)]
    user: Option<String>,
    /// File holding the password.
    #[serde(default)]
    password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    #[serde(default)]
    password_env: Option<String>,
    /// File holding an OAuth2 access token.
    #[serde(default)]
    oauth2_token_file: Option<PathBuf>,
    /// Command printing an OAuth2 access token.
    #[serde(default)]
    oauth2_token_command: Option<String>,
    /// Folder patterns to import.
    #[serde(default = "default_folders_include")]
    folders_include: Vec<String>,
    /// Folder patterns to leave out.
    #[serde(default)]
    folders_exclude: Vec<String>,
    /// Folders with these special-use flags are left out.
    #[serde(default = "default_skip_special_use")]
    skip_special_use: Vec<String>,
    /// Only messages on or after this date.
    #[serde(default, deserialize_with = "value::date")]
    since: Option<NaiveDate>,
    /// Only messages before this date.
    #[serde(default, deserialize_with = "value::date")]
    before: Option<NaiveDate>,
    /// Time between runs.
    #[serde(default = "default_interval", deserialize_with = "value::duration")]
    interval: Duration,
    /// Messages fetched per round trip.
    #[serde(default = "default_batch_size")]
    batch_size: u32,
}

fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_tls() -> TlsMode {
    TlsMode::Implicit
}
fn default_folders_include() -> Vec<String> {
    vec!["*".to_owned()]
}
fn default_skip_special_use() -> Vec<String> {
    ["\\Junk", "\\Trash", "\\Drafts"]
        .map(str::to_owned)
        .to_vec()
}
fn default_interval() -> Duration {
    DEFAULT_INTERVAL
}
fn default_batch_size() -> u32 {
    DEFAULT_BATCH_SIZE
}

/// Where an import job gets its secret from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImapCredential {
    /// LOGIN password read from this file (trailing newline ignored).
    PasswordFile(PathBuf),
    /// LOGIN password taken from this environment variable.
    PasswordEnv(String),
    /// XOAUTH2 access token read from this file at every run.
    OAuth2TokenFile(PathBuf),
    /// XOAUTH2 access token printed by this shell command at every run.
    OAuth2TokenCommand(String),
}

/// One `[[imap_import]]` job, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapImportConfig {
    /// Job name, unique across all listeners and jobs.
    pub name: String,
    /// IMAP server host name or IP.
    pub host: String,
    /// IMAP port.
    pub port: u16,
    /// TLS towards the server.
    pub tls: TlsMode,
    /// Roots that verify the server's certificate.
    pub upstream_ca: UpstreamCa,
    /// Accept any certificate (lab only; logged loudly).
    pub tls_insecure: bool,
    /// Name the server's certificate must carry: `host`.
    pub server_name: ServerName<'static>,
    /// Login name.
    pub user: String,
    /// Exactly one configured secret source.
    pub credential: ImapCredential,
    /// Folder patterns to import (`*` and `%` wildcards as in IMAP LIST).
    pub folders_include: Vec<String>,
    /// Folder patterns to leave out, applied after `folders_include`.
    pub folders_exclude: Vec<String>,
    /// Folders with these special-use flags are left out.
    pub skip_special_use: Vec<String>,
    /// Only messages on or after this date (IMAP SEARCH SINCE).
    pub since: Option<NaiveDate>,
    /// Only messages before this date (IMAP SEARCH BEFORE).
    pub before: Option<NaiveDate>,
    /// Time between runs.
    pub interval: Duration,
    /// Messages fetched per round trip.
    pub batch_size: u32,
}

impl ImapImportConfig {
    /// File defaults for a job against the plain-text server at `server`
    /// (tests).
    pub fn for_test(
        name: &str,
        server: SocketAddr,
        user: &str,
        credential: ImapCredential,
    ) -> ImapImportConfig {
        ImapImportConfig {
            name: name.to_owned(),
            host: server.ip().to_string(),
            port: server.port(),
            tls: TlsMode::None,
            upstream_ca: UpstreamCa::System,
            tls_insecure: false,
            server_name: ServerName::IpAddress(server.ip().into()),
            user: user.to_owned(),
            credential,
            folders_include: default_folders_include(),
            folders_exclude: Vec::new(),
            skip_special_use: default_skip_special_use(),
            since: None,
            before: None,
            interval: DEFAULT_INTERVAL,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl RawImapImport {
    /// The name as written, for duplicate checks across sections.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Validates one job; `at` is its path such as `imap_import[0]`.
    pub(crate) fn validate(self, p: &mut Problems, at: &At) -> Option<ImapImportConfig> {
        let name = check::name(p, at, self.name.as_deref());
        let host = check::required(p, at.key("host"), self.host);
        let server_name = upstream::server_name(p, at.key("host"), None, host.as_deref());
        let port = check::positive(p, at.key("port"), self.port);
        let upstream_ca = upstream::ca(p, at.key("upstream_ca"), self.upstream_ca);
        let user = check::required(p, at.key("user"), self.user);
        if user.as_deref() == Some("") {
            p.push(at.key("user"), "must not be empty");
        }
        let credential = credential(
            p,
            at,
            self.password_file,
            self.password_env,
            self.oauth2_token_file,
            self.oauth2_token_command,
        );
        check::folder_list(p, at.key("folders_include"), &self.folders_include, false);
        check::folder_list(p, at.key("folders_exclude"), &self.folders_exclude, false);
        check::folder_list(p, at.key("skip_special_use"), &self.skip_special_use, true);
        if let (Some(since), Some(before)) = (self.since, self.before)
            && since >= before
        {
            p.push(
                at.key("before"),
                format!("must be later than since ({since})"),
            );
        }
        let interval = check::nonzero(p, at.key("interval"), self.interval);
        let batch_size = check::positive(p, at.key("batch_size"), self.batch_size);
        Some(ImapImportConfig {
            name: name?,
            host: host?,
            port: port?,
            tls: self.tls,
            upstream_ca: upstream_ca?,
            tls_insecure: self.tls_insecure,
            server_name: server_name?,
            user: user?,
            credential: credential?,
            folders_include: self.folders_include,
            folders_exclude: self.folders_exclude,
            skip_special_use: self.skip_special_use,
            since: self.since,
            before: self.before,
            interval: interval?,
            batch_size: batch_size?,
        })
    }
}

/// Exactly one secret source, and it must be usable now (files readable).
fn credential(
    p: &mut Problems,
    at: &At,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    token_file: Option<PathBuf>,
    token_command: Option<String>,
) -> Option<ImapCredential> {
    let mut given = Vec::new();
    if let Some(file) = password_file {
        given.push(("password_file", ImapCredential::PasswordFile(file)));
    }
    if let Some(var) = password_env {
        given.push(("password_env", ImapCredential::PasswordEnv(var)));
    }
    if let Some(file) = token_file {
        given.push(("oauth2_token_file", ImapCredential::OAuth2TokenFile(file)));
    }
    if let Some(command) = token_command {
        given.push((
            "oauth2_token_command",
            ImapCredential::OAuth2TokenCommand(command),
        ));
    }
    let (key, credential) = match given.len() {
        1 => given.remove(0),
        0 => {
            p.push(
                at.key("password_file"),
                "one credential is required: password_file, password_env, \
                 oauth2_token_file or oauth2_token_command",
            );
            return None;
        }
        _ => {
            let keys: Vec<_> = given.iter().map(|(k, _)| *k).collect();
            p.push(
                at.key(keys[1]),
                format!("set exactly one credential, not {}", keys.join(" and ")),
            );
            return None;
        }
    };
    match &credential {
        ImapCredential::PasswordFile(file) | ImapCredential::OAuth2TokenFile(file) => {
            check::readable_file(p, at.key(key), file)?;
        }
        ImapCredential::PasswordEnv(var) if var.is_empty() || var.contains(['=', '\0']) => {
            p.push(
                at.key(key),
                format!("{var:?} is not an environment variable name"),
            );
            return None;
        }
        ImapCredential::OAuth2TokenCommand(command) if command.trim().is_empty() => {
            p.push(at.key(key), "must not be empty");
            return None;
        }
        _ => {}
    }
    Some(credential)
}
