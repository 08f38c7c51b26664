//! Semantic checks shared by the sections: required keys, names, sizes,
//! hostnames, files and folder lists. The checks of a whole group of keys
//! live with the group (`client_tls`, `upstream`).
//!
//! Every check records what is wrong in [`Problems`] and returns `None` when
//! the value is unusable, so a section can run all its checks before giving
//! up and the admin sees every mistake at once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::problem::{At, Problems};

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
