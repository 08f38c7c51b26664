//! Raw TOML -> validated [`Config`]; the heart of `check-config`.
//!
//! The file is one serde tree (`Raw*` structs, `deny_unknown_fields`
//! everywhere, each default next to its field). It is read once, at this
//! boundary, into typed values (`SocketAddr`, `Duration`, `IpNet`, enums,
//! loaded-and-checked TLS files); the rest of mailseal never sees TOML.
//! Every problem is collected, not just the first, each with its key path
//! and line: see [`ConfigErrors`].
//!
//! Relative paths in the file (archive, certificates, secrets) are relative
//! to the working directory of the process, not to the file.
//!
//! Modules: `document` (TOML with positions, tolerant deserialization),
//! `problem` (error reporting), `value` (shared value types), `check`
//! (shared semantic checks), `client_tls` and `upstream` (the groups of keys
//! every listener or proxy shares), one module per section, `password`
//! (Argon2).
//!
//! Dependencies point one way: `config` uses `tls` (to load and check
//! certificates, and for [`crate::tls::UpstreamCa`]) and `retention` (to
//! check the rules) and nothing above it; the protocols use `config`.

mod archive;
mod check;
mod client_tls;
mod control;
mod document;
mod http;
mod imap_import;
mod imap_proxy;
mod intercept;
mod intercept_tls;
mod journal;
mod log;
mod password;
mod pop3;
mod problem;
mod replica;
mod retention;
mod seal_mail;
mod search;
mod smtp_proxy;
mod timestamp;
mod upstream;
mod value;
mod web;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

pub use archive::{ArchiveConfig, Compression};
pub use client_tls::{ClientTls, TlsFiles};
pub use control::ControlConfig;
pub use http::HttpConfig;
pub use imap_import::{ImapCredential, ImapImportConfig};
pub use imap_proxy::ImapProxyConfig;
pub use intercept::{DestinationRule, Intercept, InterceptMode};
pub use intercept_tls::{InterceptCertificate, InterceptTls, UnknownTls};
pub use journal::{AuthUser, JournalConfig};
pub use log::{LogConfig, LogFormat};
pub use password::{PasswordError, hash_password, verify_password};
pub use pop3::Pop3ProxyConfig;
pub use problem::{ConfigErrors, Problem};
pub use replica::{ObjectLock, ReplicaConfig};
pub use retention::{Purge, RetentionConfig};
pub use seal_mail::{SealMailConfig, SealMailMode, SealMailTls};
pub use search::SearchConfig;
pub use smtp_proxy::{DEFAULT_MIN_DATA_RATE, SmtpProxyConfig, SmtpUpstreamTls};
pub use timestamp::TimestampConfig;
pub use upstream::{LegTls, Target, Upstream};
pub use value::{HostPort, TlsMode};
pub use web::{DEFAULT_USERS_FILE, ImapLoginConfig, LoginTls, WebConfig, WebTls};

use document::Document;
use problem::{At, Problems};

/// The repository's documented default configuration.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/mailseal.toml");

/// The whole file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// `[archive]`.
    #[serde(default)]
    archive: archive::RawArchive,
    /// `[[smtp_proxy]]` listeners.
    #[serde(default)]
    smtp_proxy: Vec<smtp_proxy::RawSmtpProxy>,
    /// `[[journal]]` listeners.
    #[serde(default)]
    journal: Vec<journal::RawJournal>,
    /// `[[imap_proxy]]` listeners.
    #[serde(default)]
    imap_proxy: Vec<imap_proxy::RawImapProxy>,
    /// `[[pop3_proxy]]` listeners.
    #[serde(default)]
    pop3_proxy: Vec<pop3::RawPop3Proxy>,
    /// `[[imap_import]]` jobs.
    #[serde(default)]
    imap_import: Vec<imap_import::RawImapImport>,
    /// `[http]`.
    #[serde(default)]
    http: http::RawHttp,
    /// `[log]`.
    #[serde(default)]
    log: log::RawLog,
    /// `[control]`.
    #[serde(default)]
    control: control::RawControl,
    /// `[search]`.
    #[serde(default)]
    search: search::RawSearch,
    /// `[[timestamp]]` authorities.
    #[serde(default)]
    timestamp: Vec<timestamp::RawTimestamp>,
    /// `[seal_mail]`.
    #[serde(default)]
    seal_mail: Option<seal_mail::RawSealMail>,
    /// `[web]`.
    #[serde(default)]
    web: web::RawWeb,
    /// `[[replica]]` buckets.
    #[serde(default)]
    replica: Vec<replica::RawReplica>,
    /// `[retention]` and its `[[retention.rule]]`s.
    #[serde(default)]
    retention: Option<retention::RawRetention>,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where and how messages are archived.
    pub archive: ArchiveConfig,
    /// Transparent SMTP proxies.
    pub smtp_proxy: Vec<SmtpProxyConfig>,
    /// Journal receivers.
    pub journal: Vec<JournalConfig>,
    /// Transparent IMAP proxies.
    pub imap_proxy: Vec<ImapProxyConfig>,
    /// Transparent POP3 proxies.
    pub pop3_proxy: Vec<Pop3ProxyConfig>,
    /// Scheduled IMAP imports.
    pub imap_import: Vec<ImapImportConfig>,
    /// Health and metrics endpoint.
    pub http: HttpConfig,
    /// Logging.
    pub log: LogConfig,
    /// The local socket the CLI reaches the daemon through.
    pub control: ControlConfig,
    /// The search index's health bound.
    pub search: SearchConfig,
    /// RFC 3161 authorities that stamp every seal.
    pub timestamp: Vec<TimestampConfig>,
    /// Seals mailed to witnesses; `None` when off.
    pub seal_mail: Option<SealMailConfig>,
    /// The web interface.
    pub web: WebConfig,
    /// S3 buckets that hold an off-box copy of the archive.
    pub replica: Vec<ReplicaConfig>,
    /// Retention rules and the purge; `None`: retention is off.
    pub retention: Option<RetentionConfig>,
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Config::from_str_named(&text, &name),
            Err(e) => Err(ConfigErrors {
                file: name,
                problems: vec![Problem {
                    path: String::new(),
                    message: format!("cannot read the configuration file: {e}"),
                    line: None,
                    column: None,
                }],
            }),
        }
    }

    /// Validates `text`; `name` labels the problems (usually the file name).
    pub fn from_str_named(text: &str, name: &str) -> Result<Config, ConfigErrors> {
        let fail = |problems| ConfigErrors {
            file: name.to_owned(),
            problems,
        };
        let doc = Document::parse(text).map_err(|problem| fail(vec![problem]))?;
        let mut problems = Problems::default();
        let config = doc
            .deserialize::<RawConfig>(&mut problems)
            .and_then(|raw| raw.validate(&mut problems));
        match config {
            Some(config) if problems.is_empty() => Ok(config),
            _ => {
                let mut list = problems.into_vec();
                for problem in &mut list {
                    if problem.line.is_none() {
                        problem.line = doc.line_of(&problem.path);
                    }
                }
                list.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
                Err(fail(list))
            }
        }
    }

    /// Defaults with the archive at `archive_dir` and no listeners (tests).
    pub fn for_test(archive_dir: &Path) -> Config {
        Config {
            archive: ArchiveConfig::at(archive_dir),
            smtp_proxy: Vec::new(),
            journal: Vec::new(),
            imap_proxy: Vec::new(),
            pop3_proxy: Vec::new(),
            imap_import: Vec::new(),
            http: HttpConfig::default(),
            log: LogConfig::default(),
            control: ControlConfig::default(),
            search: SearchConfig::default(),
            timestamp: Vec::new(),
            seal_mail: None,
            web: WebConfig::default(),
            replica: Vec::new(),
            retention: None,
        }
    }
}

impl RawConfig {
    /// Section checks, then checks across sections.
    fn validate(self, p: &mut Problems) -> Option<Config> {
        self.check_names(p);
        self.check_addresses(p);
        let archive = self.archive.validate(p);
        let mut all_ok = true;
        let at = |name: &str, i: usize| At::section(name, Some(i));
        let smtp_proxy: Vec<_> = enumerate(self.smtp_proxy, &mut all_ok, |i, raw| {
            raw.validate(p, &at("smtp_proxy", i))
        });
        let journal: Vec<_> = enumerate(self.journal, &mut all_ok, |i, raw| {
            raw.validate(p, &at("journal", i))
        });
        let imap_proxy: Vec<_> = enumerate(self.imap_proxy, &mut all_ok, |i, raw| {
            raw.validate(p, &at("imap_proxy", i))
        });
        let pop3_proxy: Vec<_> = enumerate(self.pop3_proxy, &mut all_ok, |i, raw| {
            raw.validate(p, &at("pop3_proxy", i))
        });
        let imap_import: Vec<_> = enumerate(self.imap_import, &mut all_ok, |i, raw| {
            raw.validate(p, &at("imap_import", i))
        });
        let http = self.http.validate();
        let log = self.log.validate(p);
        let control = self.control.validate(p);
        let timestamp: Vec<_> = enumerate(self.timestamp, &mut all_ok, |i, raw| {
            raw.validate(p, &at("timestamp", i))
        });
        let seal_mail = match self.seal_mail.map(|raw| raw.validate(p)) {
            Some(None) => {
                all_ok = false;
                None
            }
            Some(some) => some,
            None => None,
        };
        let web = self.web.validate(p);
        let replica: Vec<_> = enumerate(self.replica, &mut all_ok, |i, raw| {
            raw.validate(p, &at("replica", i))
        });
        let own_domains = archive.as_ref().map(|a| a.local_domains.as_slice());
        let retention = match self.retention.map(|raw| raw.validate(p, own_domains)) {
            Some(None) => {
                all_ok = false;
                None
            }
            Some(some) => some,
            None => None,
        };
        if !all_ok {
            return None;
        }
        Some(Config {
            archive: archive?,
            smtp_proxy,
            journal,
            imap_proxy,
            pop3_proxy,
            imap_import,
            http: http?,
            log: log?,
            control: control?,
            search: self.search.validate(),
            timestamp,
            seal_mail,
            web: web?,
            replica,
            retention,
        })
    }

    /// Names identify sources in records, logs and metrics: unique overall.
    fn check_names(&self, p: &mut Problems) {
        let names = each("smtp_proxy", &self.smtp_proxy, |r| r.name())
            .chain(each("journal", &self.journal, |r| r.name()))
            .chain(each("imap_proxy", &self.imap_proxy, |r| r.name()))
            .chain(each("pop3_proxy", &self.pop3_proxy, |r| r.name()))
            .chain(each("imap_import", &self.imap_import, |r| r.name()))
            .chain(each("timestamp", &self.timestamp, |r| r.name()))
            .chain(each("replica", &self.replica, |r| r.name()));
        let mut seen: HashMap<&str, String> = HashMap::new();
        for (at, name) in names {
            let Some(name) = name.filter(|n| !n.is_empty()) else {
                continue;
            };
            match seen.get(name) {
                Some(first) => p.push(
                    format!("{at}.name"),
                    format!("duplicate name {name:?}, already used by {first}"),
                ),
                None => {
                    seen.insert(name, at);
                }
            }
        }
    }

    /// Two listeners cannot bind the same address (port 0 picks a free one).
    fn check_addresses(&self, p: &mut Problems) {
        let listens = std::iter::once(("http".to_owned(), self.http.active_listen()))
            .chain(std::iter::once((
                "web".to_owned(),
                self.web.active_listen(),
            )))
            .chain(each("smtp_proxy", &self.smtp_proxy, |r| r.listen()))
            .chain(each("journal", &self.journal, |r| r.listen()))
            .chain(each("imap_proxy", &self.imap_proxy, |r| r.listen()))
            .chain(each("pop3_proxy", &self.pop3_proxy, |r| r.listen()));
        let mut bound: Vec<(SocketAddr, String)> = Vec::new();
        for (at, addr) in listens {
            let Some(addr) = addr.filter(|a| a.port() != 0) else {
                continue;
            };
            if let Some((_, first)) = bound.iter().find(|(other, _)| overlaps(*other, addr)) {
                p.push(
                    format!("{at}.listen"),
                    format!("{addr} is already used by {first}.listen"),
                );
            } else {
                bound.push((addr, at));
            }
        }
    }
}

/// `(path, value)` for every element of a `[[section]]` array.
fn each<'a, R, T>(
    section: &'a str,
    items: &'a [R],
    value: impl Fn(&'a R) -> T + 'a,
) -> impl Iterator<Item = (String, T)> + 'a {
    let path = move |i| format!("{section}[{i}]");
    items
        .iter()
        .enumerate()
        .map(move |(i, r)| (path(i), value(r)))
}

/// Same port and the same IP, or a wildcard IP of the same family.
fn overlaps(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port()
        && (a.ip() == b.ip()
            || (a.is_ipv4() == b.is_ipv4() && (a.ip().is_unspecified() || b.ip().is_unspecified())))
}

/// Validates every element; `ok` turns false if any element failed.
fn enumerate<R, T>(
    raws: Vec<R>,
    ok: &mut bool,
    mut validate: impl FnMut(usize, R) -> Option<T>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(raws.len());
    for (i, raw) in raws.into_iter().enumerate() {
        match validate(i, raw) {
            Some(value) => out.push(value),
            None => *ok = false,
        }
    }
    out
}

#[cfg(test)]
mod tests;
