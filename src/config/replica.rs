//! `[[replica]]`: S3 buckets (Object Lock) that hold an off-box copy of the
//! segments, seals and public key (see `src/replica` and
//! docs/operations.md, "Replication").

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::check;
use super::problem::{At, Problems};
use super::value;

/// `[[replica]]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReplica {
    /// Name in logs, metrics and the checkpoint file.
    #[serde(default)]
    name: Option<String>,
    /// The S3 endpoint URL (http or https).
    #[serde(default)]
    endpoint: Option<String>,
    /// The region requests are signed for.
    #[serde(default = "default_region")]
    region: String,
    /// The bucket.
    #[serde(default)]
    bucket: Option<String>,
    /// Folder in the bucket this gateway writes under.
    #[serde(default)]
    prefix: String,
    /// File with `ACCESS_KEY:SECRET`; the environment when absent.
    #[serde(default)]
    credentials_file: Option<PathBuf>,
    /// `endpoint/bucket/key` instead of `bucket.endpoint/key`.
    #[serde(default = "default_true")]
    path_style: bool,
    /// PEM CA certificate(s) for an https endpoint with a private CA.
    #[serde(default)]
    ca_file: Option<PathBuf>,
    /// `compliance`, `governance` or `none`.
    #[serde(default = "default_lock")]
    object_lock: String,
    /// Days every object is locked for, counted from its upload.
    #[serde(default = "default_retain_days")]
    retain_days: u32,
    /// How often the open segment's new bytes go up (and at every seal).
    #[serde(default = "default_interval", deserialize_with = "value::duration")]
    interval: Duration,
    /// A replica further behind than this degrades `/healthz`.
    #[serde(default = "default_max_lag", deserialize_with = "value::duration")]
    max_lag: Duration,
}

fn default_region() -> String {
    "us-east-1".to_owned()
}
fn default_true() -> bool {
    true
}
fn default_lock() -> String {
    "compliance".to_owned()
}
fn default_retain_days() -> u32 {
    3650
}
fn default_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_max_lag() -> Duration {
    Duration::from_secs(3600)
}

/// The Object Lock retention mode every uploaded object gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectLock {
    /// Nobody, not even the bucket owner, can delete or shorten it.
    Compliance,
    /// Users with `s3:BypassGovernanceRetention` can.
    Governance,
    /// No lock headers (a bucket without Object Lock).
    None,
}

impl ObjectLock {
    /// The `x-amz-object-lock-mode` value, `None` without a lock.
    pub fn header(self) -> Option<&'static str> {
        match self {
            ObjectLock::Compliance => Some("COMPLIANCE"),
            ObjectLock::Governance => Some("GOVERNANCE"),
            ObjectLock::None => None,
        }
    }
}

/// A replication target, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaConfig {
    /// Name in logs, metrics and the checkpoint file.
    pub name: String,
    /// The S3 endpoint (`http://host:port` or `https://…`), no trailing `/`.
    pub endpoint: String,
    /// The region requests are signed for.
    pub region: String,
    /// The bucket.
    pub bucket: String,
    /// Folder in the bucket, without slashes at either end (may be empty).
    pub prefix: String,
    /// `ACCESS_KEY:SECRET` file; `None`: `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` from the environment.
    pub credentials_file: Option<PathBuf>,
    /// Path-style addressing.
    pub path_style: bool,
    /// CA certificates for https; `None`: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Lock mode of every object.
    pub object_lock: ObjectLock,
    /// Days every object is locked for from its upload.
    pub retain_days: u32,
    /// Upload interval for the open segment.
    pub interval: Duration,
    /// Health bound on the lag.
    pub max_lag: Duration,
}

impl RawReplica {
    /// The name, for the uniqueness check.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub(crate) fn validate(self, p: &mut Problems, at: &At) -> Option<ReplicaConfig> {
        let name = check::name(p, at, self.name.as_deref());
        let endpoint = check::required(p, at.key("endpoint"), self.endpoint).and_then(|u| {
            let ok = (u.starts_with("http://") || u.starts_with("https://"))
                && u.parse::<hyper::Uri>().is_ok_and(|uri| {
                    uri.host().is_some() && uri.path().trim_matches('/').is_empty()
                });
            if !ok {
                p.push(
                    at.key("endpoint"),
                    format!("{u:?} is not an http:// or https:// URL without a path"),
                );
            }
            ok.then(|| u.trim_end_matches('/').to_owned())
        });
        let bucket = check::required(p, at.key("bucket"), self.bucket).and_then(|b| {
            let ok = (3..=63).contains(&b.len())
                && b.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
            if !ok {
                p.push(
                    at.key("bucket"),
                    format!("invalid bucket name {b:?}: 3 to 63 of a-z, 0-9, '-' and '.'"),
                );
            }
            ok.then_some(b)
        });
        let prefix = self.prefix.trim_matches('/').to_owned();
        let prefix_ok = prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
        if !prefix_ok || prefix.contains("//") {
            p.push(
                at.key("prefix"),
                format!("invalid prefix {prefix:?}: use letters, digits, '-', '_', '.' and '/'"),
            );
        }
        if self.region.is_empty() {
            p.push(at.key("region"), "must not be empty");
        }
        // `Err` for a file that is set but unusable; every key is still
        // checked before giving up.
        let credentials_file = match self.credentials_file {
            Some(f) => check::readable_file(p, at.key("credentials_file"), &f)
                .map(Some)
                .ok_or(()),
            None => Ok(None),
        };
        let ca_file = match self.ca_file {
            Some(f) => match crate::tls::load_roots(&f) {
                Ok(_) => Ok(Some(f)),
                Err(e) => {
                    p.push(at.key("ca_file"), e.to_string());
                    Err(())
                }
            },
            None => Ok(None),
        };
        let object_lock = match self.object_lock.as_str() {
            "compliance" => Some(ObjectLock::Compliance),
            "governance" => Some(ObjectLock::Governance),
            "none" => Some(ObjectLock::None),
            other => {
                p.push(
                    at.key("object_lock"),
                    format!("{other:?}: use \"compliance\", \"governance\" or \"none\""),
                );
                None
            }
        };
        if object_lock.is_some_and(|l| l != ObjectLock::None) && self.retain_days == 0 {
            p.push(
                at.key("retain_days"),
                "must be greater than zero with an Object Lock",
            );
        }
        let interval = check::nonzero(p, at.key("interval"), self.interval);
        let max_lag = check::nonzero(p, at.key("max_lag"), self.max_lag);
        let (Ok(credentials_file), Ok(ca_file)) = (credentials_file, ca_file) else {
            return None;
        };
        if !prefix_ok || self.region.is_empty() {
            return None;
        }
        Some(ReplicaConfig {
            name: name?,
            endpoint: endpoint?,
            region: self.region,
            bucket: bucket?,
            prefix,
            credentials_file,
            path_style: self.path_style,
            ca_file,
            object_lock: object_lock?,
            retain_days: self.retain_days,
            interval: interval?,
            max_lag: max_lag?,
        })
    }
}
