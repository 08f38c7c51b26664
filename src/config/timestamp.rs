//! `[[timestamp]]`: RFC 3161 time-stamp authorities that stamp every seal.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::check;
use super::problem::{At, Problems};
use super::value;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// `[[timestamp]]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimestamp {
    /// Name in time-stamp frames, logs and metrics.
    #[serde(default)]
    name: Option<String>,
    /// The authority's URL (http or https).
    #[serde(default)]
    url: Option<String>,
    /// PEM CA certificate(s) the authority's signing certificate chains to.
    #[serde(default)]
    ca_file: Option<PathBuf>,
    /// File holding `user:password` for HTTP basic authentication.
    #[serde(default)]
    credentials_file: Option<PathBuf>,
    /// How long one request may take.
    #[serde(default = "default_timeout", deserialize_with = "value::duration")]
    timeout: Duration,
    /// First wait after a failure (doubles, up to an hour).
    #[serde(default = "default_retry", deserialize_with = "value::duration")]
    retry: Duration,
}

fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}
fn default_retry() -> Duration {
    Duration::from_secs(30)
}

/// A time-stamp authority, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampConfig {
    /// Name in time-stamp frames, logs and metrics.
    pub name: String,
    /// Where time-stamp requests are POSTed.
    pub url: String,
    /// CA certificate(s) that must sign the authority's certificate.
    pub ca_file: PathBuf,
    /// `user:password` for HTTP basic authentication, read at start.
    pub credentials_file: Option<PathBuf>,
    /// How long one request may take.
    pub timeout: Duration,
    /// First wait after a failure.
    pub retry: Duration,
}

impl RawTimestamp {
    /// The name, for the uniqueness check.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub(crate) fn validate(self, p: &mut Problems, at: &At) -> Option<TimestampConfig> {
        let name = check::name(p, at, self.name.as_deref());
        let url = check::required(p, at.key("url"), self.url).and_then(|u| {
            let ok = (u.starts_with("http://") || u.starts_with("https://"))
                && u.parse::<hyper::Uri>()
                    .is_ok_and(|uri| uri.host().is_some());
            if !ok {
                p.push(
                    at.key("url"),
                    format!("{u:?} is not an http:// or https:// URL"),
                );
            }
            ok.then_some(u)
        });
        let ca_file =
            check::required(p, at.key("ca_file"), self.ca_file).and_then(
                |f| match std::fs::read(&f)
                    .map_err(|e| e.to_string())
                    .and_then(|pem| mailseal_tsp::Trust::from_pem(&pem).map_err(|e| e.to_string()))
                {
                    Ok(_) => Some(f),
                    Err(e) => {
                        p.push(at.key("ca_file"), format!("{}: {e}", f.display()));
                        None
                    }
                },
            );
        let credentials_file = match self.credentials_file {
            Some(f) => Some(check::readable_file(p, at.key("credentials_file"), &f)?),
            None => None,
        };
        let timeout = check::nonzero(p, at.key("timeout"), self.timeout);
        let retry = check::nonzero(p, at.key("retry"), self.retry);
        Some(TimestampConfig {
            name: name?,
            url: url?,
            ca_file: ca_file?,
            credentials_file,
            timeout: timeout?,
            retry: retry?,
        })
    }
}
