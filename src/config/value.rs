//! Value types shared by several sections, and how they are read from TOML.
//!
//! Each type parses itself while serde reads the file, so a malformed value
//! (`listen = "localhost"`, `timeout_command = "5 minutes please"`) is
//! reported with its key path and line like any other serde error.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono::NaiveDate;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, de::Error as _};

use crate::tls::UpstreamCa;

/// One MiB, for size defaults.
pub(crate) const MIB: u64 = 1024 * 1024;

/// TLS on a connection we accept (or, for IMAP upstreams, make).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain text; the peer may upgrade with STARTTLS.
    Starttls,
    /// TLS from the first byte (ports 465, 993).
    Implicit,
    /// Never encrypted.
    None,
}

/// A server as `host:port` (`[v6]:port` for IPv6 literals): where an
/// upstream is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// DNS name or IP literal (without brackets); resolved at connect time.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl FromStr for HostPort {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || format!("expected host:port such as mail.example.com:25, got {s:?}");
        let (host, port) = s.rsplit_once(':').ok_or_else(usage)?;
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.strip_suffix(']').ok_or_else(usage)?,
            None if host.contains(':') => return Err(usage()),
            None => host,
        };
        let port: u16 = port.parse().map_err(|_| usage())?;
        if host.is_empty() || port == 0 || host.chars().any(|c| c.is_whitespace()) {
            return Err(usage());
        }
        Ok(HostPort {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl<'de> Deserialize<'de> for HostPort {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}

/// Reads the roots that verify an upstream: `"system"` or a PEM file's path.
pub(crate) fn upstream_ca<'de, D: Deserializer<'de>>(d: D) -> Result<UpstreamCa, D::Error> {
    let text = String::deserialize(d)?;
    match text.as_str() {
        "system" => Ok(UpstreamCa::System),
        "" => Err(D::Error::custom(
            "expected \"system\" or the path of a PEM CA file",
        )),
        path => Ok(UpstreamCa::File(PathBuf::from(path))),
    }
}

/// Reads a humantime duration such as `"30s"`, `"5m"` or `"1h 30m"`.
pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        D::Error::custom(format!(
            "invalid duration {text:?} ({e}); use a number with a unit, such as \"30s\", \"5m\" or \"1h\""
        ))
    })
}

/// Reads an optional humantime duration (absent: `None`).
pub(crate) fn optional_duration<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

/// Reads `IP:port`.
pub(crate) fn socket_addr<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<std::net::SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map(Some).map_err(|_| {
        D::Error::custom(format!(
            "invalid address {text:?}; expected IP:port such as 127.0.0.1:2525 or [::1]:2525"
        ))
    })
}

/// Reads a list of networks in CIDR form; a bare IP means that one host.
pub(crate) fn networks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|text| {
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    D::Error::custom(format!(
                        "invalid network {text:?}; expected CIDR such as 10.0.0.0/8 or 2001:db8::/32"
                    ))
                })
        })
        .collect()
}

/// Reads an optional calendar date, as a TOML date (`2024-01-31`) or a
/// string (`"2024-01-31"`).
pub(crate) fn date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    let text = match toml::Value::deserialize(d)? {
        toml::Value::String(s) => s,
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => dt.to_string(),
        other => {
            return Err(D::Error::custom(format!(
                "expected a date YYYY-MM-DD, got {other}"
            )));
        }
    };
    NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| D::Error::custom(format!("invalid date {text:?}; expected YYYY-MM-DD")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_parses_host_port_forms() {
        let up: HostPort = "mail.example.com:25".parse().unwrap();
        assert_eq!((up.host.as_str(), up.port), ("mail.example.com", 25));
        let up: HostPort = "[::1]:143".parse().unwrap();
        assert_eq!((up.host.as_str(), up.port), ("::1", 143));
        assert_eq!(up.to_string(), "[::1]:143");
        for bad in [
            "mail.example.com",
            ":25",
            "host:0",
            "host:x",
            "::1:25",
            "[::1:25",
            "a b:25",
        ] {
            assert!(bad.parse::<HostPort>().is_err(), "{bad} accepted");
        }
    }
}
