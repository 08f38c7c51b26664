//! Semantic checks shared by the sections: required keys, names, sizes,
//! hostnames and both TLS legs.
//!
//! Every check records what is wrong in [`Problems`] and returns `None` when
//! the value is unusable, so a section can run all its checks before giving
//! up and the admin sees every mistake at once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls_pki_types::ServerName;

use super::problem::{At, Problems};
use super::value::{TlsFiles, TlsMode, UpstreamCa};
use crate::tls::{self, TlsError};

/// A required key; `None` (with a problem) when it is absent.
pub(crate) fn required<T>(p: &mut Problems, path: String, value: Option<T>) -> Option<T> {
    if value.is_none() {
        p.push(path, "missing required key");
    }
    value
}

/// A listener or job name: used in records, logs and metrics.
pub(crate) fn name(p: &mut Problems, at: &At, raw: Option<&str>) -> Option<String> {
    let name = required(p, at.key("name"), raw)?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || !name.chars().all(allowed) {
        p.push(
            at.key("name"),
            format!("invalid name {name:?}: use letters, digits, '-', '_' and '.'"),
        );
        return None;
    }
    Some(name.to_owned())
}

/// A size or count that must be at least one.
pub(crate) fn positive<T: Default + PartialEq + Copy>(
    p: &mut Problems,
    path: String,
    value: T,
) -> Option<T> {
    if value == T::default() {
        p.push(path, "must be greater than zero");
        return None;
    }
    Some(value)
}

/// A timeout or interval that must not be zero.
pub(crate) fn nonzero(p: &mut Problems, path: String, value: Duration) -> Option<Duration> {
    if value.is_zero() {
        p.push(path, "must be longer than zero");
        return None;
    }
    Some(value)
}

/// The name mailseal announces in greetings; defaults to the machine's.
pub(crate) fn hostname(p: &mut Problems, path: String, raw: Option<String>) -> Option<String> {
    let name = match raw {
        Some(name) => name,
        None => match gethostname::gethostname().into_string() {
            Ok(name) => name,
            Err(_) => {
                p.push(
                    path,
                    "the machine's hostname is not valid UTF-8; set hostname",
                );
                return None;
            }
        },
    };
    let valid = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !valid {
        p.push(
            path,
            format!("invalid hostname {name:?}: expected a DNS name such as mx.example.com"),
        );
        return None;
    }
    Some(name)
}

/// The certificate and key of a listener: both or neither, and loadable.
/// Outer `None` means a problem was recorded.
pub(crate) fn tls_files(
    p: &mut Problems,
    at: &At,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Option<Option<TlsFiles>> {
    let (cert, key) = match (cert, key) {
        (None, None) => return Some(None),
        (Some(_), None) => {
            p.push(at.key("tls_key"), "tls_cert is set, so tls_key is required");
            return None;
        }
        (None, Some(_)) => {
            p.push(
                at.key("tls_cert"),
                "tls_key is set, so tls_cert is required",
            );
            return None;
        }
        (Some(cert), Some(key)) => (cert, key),
    };
    match tls::server_config(&cert, &key) {
        Ok(_) => Some(Some(TlsFiles { cert, key })),
        Err(error) => {
            let blame = match &error {
                TlsError::Read { path, .. }
                | TlsError::NoCertificate { path }
                | TlsError::Pem { path, .. }
                    if *path == cert =>
                {
                    "tls_cert"
                }
                _ => "tls_key",
            };
            p.push(at.key(blame), error.to_string());
            None
        }
    }
}

/// The client-leg TLS mode: defaults to STARTTLS when a certificate is
/// configured, and needs one unless it is `none`.
pub(crate) fn tls_mode(
    p: &mut Problems,
    at: &At,
    mode: Option<TlsMode>,
    cert_given: bool,
) -> Option<TlsMode> {
    let mode = mode.unwrap_or(if cert_given {
        TlsMode::Starttls
    } else {
        TlsMode::None
    });
    if mode != TlsMode::None && !cert_given {
        p.push(
            at.key("tls_mode"),
            "TLS needs a certificate: set tls_cert and tls_key, or tls_mode = \"none\"",
        );
        return None;
    }
    Some(mode)
}

/// A CA file must hold at least one usable certificate.
pub(crate) fn upstream_ca(p: &mut Problems, path: String, ca: UpstreamCa) -> Option<UpstreamCa> {
    if let UpstreamCa::File(file) = &ca
        && let Err(error) = tls::load_roots(file)
    {
        p.push(path, error.to_string());
        return None;
    }
    Some(ca)
}

/// The name the upstream certificate must carry; defaults to its host.
pub(crate) fn server_name(
    p: &mut Problems,
    path: String,
    raw: Option<String>,
    host: Option<&str>,
) -> Option<ServerName<'static>> {
    let name = match raw {
        Some(name) => name,
        None => host?.to_owned(),
    };
    match ServerName::try_from(name.clone()) {
        Ok(server_name) => Some(server_name),
        Err(_) => {
            p.push(
                path,
                format!("{name:?} is not a valid DNS name or IP address"),
            );
            None
        }
    }
}

/// A file that must exist and be readable now (secrets, user lists).
pub(crate) fn readable_file(p: &mut Problems, path: String, file: &Path) -> Option<PathBuf> {
    match std::fs::File::open(file) {
        Ok(_) => Some(file.to_path_buf()),
        Err(e) => {
            p.push(path, format!("cannot read {}: {e}", file.display()));
            None
        }
    }
}

/// Folder names and special-use flags: no empty entries, flags start with `\`.
pub(crate) fn folder_list(p: &mut Problems, path: String, list: &[String], flags: bool) {
    for entry in list {
        if entry.is_empty() {
            p.push(path, "entries must not be empty");
            return;
        }
        if flags && !entry.starts_with('\\') {
            p.push(
                path,
                format!("{entry:?} is not a special-use flag; these start with a backslash, as in \"\\\\Drafts\""),
            );
            return;
        }
    }
}
