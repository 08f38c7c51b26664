//! `[seal_mail]`: seals mailed to witnesses (a daily digest, or each seal).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::check;
use super::problem::{At, Problems};
use super::upstream;
use super::value;
use crate::tls::UpstreamCa;

/// TLS towards the SMTP server that takes the seal mails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SealMailTls {
    /// STARTTLS, required (port 587 or 25).
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// Plain text (a relay on the same host only).
    None,
}

/// When seal mails go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SealMailMode {
    /// One mail a day with the seals made since the last one.
    Daily,
    /// One mail per seal.
    Each,
}

/// `[seal_mail]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSealMail {
    /// The SMTP server.
    #[serde(default)]
    host: Option<String>,
    /// Its port.
    #[serde(default = "default_port")]
    port: u16,
    /// `starttls`, `implicit` or `none`.
    #[serde(default = "default_tls")]
    tls: SealMailTls,
    /// Roots that verify the server: "system" or a PEM file.
    #[serde(default, deserialize_with = "value::upstream_ca")]
    ca: UpstreamCa,
    /// File holding `user:password` for SMTP AUTH.
    #[serde(default)]
    credentials_file: Option<PathBuf>,
    /// The sender address.
    #[serde(default)]
    from: Option<String>,
    /// The witnesses.
    #[serde(default)]
    to: Vec<String>,
    /// `daily` or `each`.
    #[serde(default = "default_mode")]
    mode: SealMailMode,
    /// UTC time of the daily mail, `HH:MM`.
    #[serde(default = "default_daily_at")]
    daily_at: String,
    /// First wait before a failed mail is tried again (doubles, up to an hour).
    #[serde(default = "default_retry", deserialize_with = "value::duration")]
    retry: Duration,
}

fn default_port() -> u16 {
    587
}
fn default_tls() -> SealMailTls {
    SealMailTls::Starttls
}
fn default_mode() -> SealMailMode {
    SealMailMode::Daily
}
fn default_daily_at() -> String {
    "23:55".into()
}
fn default_retry() -> Duration {
    Duration::from_secs(60)
}

/// `[seal_mail]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealMailConfig {
    /// The SMTP server.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// TLS towards it.
    pub tls: SealMailTls,
    /// Roots that verify it.
    pub ca: UpstreamCa,
    /// `user:password` for SMTP AUTH, read at start.
    pub credentials_file: Option<PathBuf>,
    /// The sender address.
    pub from: String,
    /// The witnesses.
    pub to: Vec<String>,
    /// Daily digest or each seal.
    pub mode: SealMailMode,
    /// UTC hour and minute of the daily mail.
    pub daily_at: (u32, u32),
    /// First retry wait.
    pub retry: Duration,
}

fn address(p: &mut Problems, path: String, a: &str) -> bool {
    let ok = a.parse::<lettre::Address>().is_ok();
    if !ok {
        p.push(path, format!("{a:?} is not a mail address"));
    }
    ok
}

impl RawSealMail {
    pub(crate) fn validate(self, p: &mut Problems) -> Option<SealMailConfig> {
        let at = At::section("seal_mail", None);
        let host = check::required(p, at.key("host"), self.host.clone())
            .and_then(|h| check::hostname(p, at.key("host"), Some(h)));
        let ca = upstream::ca(p, at.key("ca"), self.ca);
        let credentials_file = match self.credentials_file {
            Some(f) => Some(check::readable_file(p, at.key("credentials_file"), &f)?),
            None => None,
        };
        if credentials_file.is_some() && self.tls == SealMailTls::None {
            p.push(
                at.key("credentials_file"),
                "SMTP AUTH sends the password: use tls = \"starttls\" or \"implicit\"",
            );
        }
        let from =
            check::required(p, at.key("from"), self.from).filter(|f| address(p, at.key("from"), f));
        let mut to_ok = !self.to.is_empty();
        if self.to.is_empty() {
            p.push(at.key("to"), "no witness: list at least one address");
        }
        for (i, a) in self.to.iter().enumerate() {
            to_ok &= address(p, format!("seal_mail.to[{i}]"), a);
        }
        let daily_at = self
            .daily_at
            .split_once(':')
            .and_then(|(h, m)| Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)))
            .filter(|&(h, m)| h < 24 && m < 60);
        if daily_at.is_none() {
            p.push(at.key("daily_at"), "expected a UTC time HH:MM");
        }
        let retry = check::nonzero(p, at.key("retry"), self.retry);
        let tls = self.tls;
        if !to_ok {
            return None;
        }
        Some(SealMailConfig {
            host: host?,
            port: self.port,
            tls,
            ca: ca?,
            credentials_file,
            from: from?,
            to: self.to,
            mode: self.mode,
            daily_at: daily_at?,
            retry: retry?,
        })
    }
}
