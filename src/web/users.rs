//! The web interface's users file: who may log in, how, and with which role.
//!
//! The file is TOML (readable by an admin with `less`, diffable in backups)
//! and holds only Argon2 hashes, never passwords. It lives where the
//! hardened unit lets the daemon write (`/var/lib/mailseal/users.toml`).
//! Every change is written whole to a temporary file beside it, fsync'd,
//! renamed over the old file and the directory fsync'd, so a crash leaves
//! either the old or the new file, never a torn one.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::role::Role;

/// Layout version of the users file.
pub const USERS_FORMAT: u32 = 1;

/// The default place of the users file.
pub const DEFAULT_USERS_FILE: &str = crate::config::DEFAULT_USERS_FILE;

/// Why the users file could not be read, changed or written.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// Reading or writing the file failed.
    #[error("users file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file does not parse.
    #[error("users file {path} is damaged: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (it never contains a hash: hashes are strings
        /// the parser does not quote back).
        reason: String,
    },
    /// A newer mailseal wrote the file.
    #[error("users file format {0} is newer than this mailseal understands")]
    Format(u32),
    /// The name is taken.
    #[error("user {0:?} exists already")]
    Exists(String),
    /// No such user.
    #[error("no user {0:?}")]
    Unknown(String),
    /// A name or address that cannot be right.
    #[error("{0}")]
    Invalid(String),
    /// Hashing the password failed.
    #[error(transparent)]
    Hash(#[from] crate::config::PasswordError),
}

/// How a user proves who they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoginMethod {
    /// The Argon2 hash in this file.
    #[default]
    Local,
    /// A LOGIN against the configured IMAP server with the mailbox password.
    Imap,
}

impl LoginMethod {
    /// The name in the file and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::Local => "local",
            LoginMethod::Imap => "imap",
        }
    }
}

/// One person who may log in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Login name, unique, compared case-insensitively.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// How the password is checked.
    #[serde(default)]
    pub login: LoginMethod,
    /// Argon2 PHC hash, for local users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A disabled user cannot log in; the entry stays so the audit trail's
    /// names keep their meaning.
    #[serde(default)]
    pub disabled: bool,
    /// Mail addresses that are this user's own (role `user`): they see mail
    /// where one of these is sender or recipient.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// IMAP/POP3 login names whose proxied mail is theirs too (role `user`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mail_logins: Vec<String>,
    /// For auditors: only mail touching these domains (empty: all mail).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// For auditors: a second person must confirm each session.
    #[serde(default)]
    pub four_eyes: bool,
    /// When the entry last changed, RFC 3339 UTC.
    #[serde(default)]
    pub changed: String,
}

impl User {
    /// A new enabled user with no addresses.
    pub fn new(name: &str, role: Role, login: LoginMethod) -> User {
        User {
            name: name.to_owned(),
            role,
            login,
            password: None,
            disabled: false,
            addresses: Vec::new(),
            mail_logins: Vec::new(),
            domains: Vec::new(),
            four_eyes: false,
            changed: now(),
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Users {
    /// [`USERS_FORMAT`] when written.
    #[serde(default)]
    pub format: u32,
    /// Every user, in the order they were added.
    #[serde(default, rename = "user")]
    pub users: Vec<User>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Checks a login name: printable, no spaces, not too long.
pub fn check_name(name: &str) -> Result<(), UsersError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@' | '+'));
    if ok {
        Ok(())
    } else {
        Err(UsersError::Invalid(format!(
            "user name {name:?}: use 1 to 128 letters, digits and . - _ @ +"
        )))
    }
}

/// Checks a mail address or domain given for a user.
pub fn check_address(value: &str, domain_only: bool) -> Result<String, UsersError> {
    let v = value.trim().to_lowercase();
    let at = v.matches('@').count();
    let ok = !v.is_empty()
        && v.len() <= 254
        && !v.chars().any(|c| c.is_whitespace() || c.is_control())
        && if domain_only { at == 0 } else { at == 1 };
    if ok {
        Ok(v)
    } else {
        Err(UsersError::Invalid(format!(
            "{value:?} is not a {}",
            if domain_only {
                "domain"
            } else {
                "mail address"
            }
        )))
    }
}

impl Users {
    /// Reads the file; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<Users, UsersError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Users::default()),
            Err(source) => {
                return Err(UsersError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let users: Users = toml::from_str(&text).map_err(|e| UsersError::Parse {
            path: path.to_owned(),
            reason: e.message().to_owned(),
        })?;
        if users.format > USERS_FORMAT {
            return Err(UsersError::Format(users.format));
        }
        Ok(users)
    }

    /// Writes the file atomically and durably (mode 0600).
    pub fn save(&self, path: &Path) -> Result<(), UsersError> {
        let io = |source| UsersError::Io {
            path: path.to_owned(),
            source,
        };
        let mut copy = self.clone();
        copy.format = USERS_FORMAT;
        let text = toml::to_string(&copy).map_err(|e| UsersError::Invalid(e.to_string()))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".users.")
            .tempfile_in(dir)
            .map_err(io)?;
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io)?;
        }
        tmp.write_all(b"# mailseal web users; change with `mailseal user ...`.\n")
            .and_then(|()| tmp.write_all(text.as_bytes()))
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        Ok(())
    }

    /// The user called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))
    }

    /// The user called `name`, for changing.
    pub fn get_mut(&mut self, name: &str) -> Result<&mut User, UsersError> {
        self.users
            .iter_mut()
            .find(|u| u.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| UsersError::Unknown(name.to_owned()))
    }

    /// Adds `user`; the name must be new.
    pub fn add(&mut self, user: User) -> Result<(), UsersError> {
        check_name(&user.name)?;
        if self.get(&user.name).is_some() {
            return Err(UsersError::Exists(user.name));
        }
        self.users.push(user);
        Ok(())
    }

    /// Sets a local user's password.
    pub fn set_password(&mut self, name: &str, password: &str) -> Result<(), UsersError> {
        if password.chars().count() < 10 {
            return Err(UsersError::Invalid(
                "a password needs at least 10 characters".into(),
            ));
        }
        let hash = crate::config::hash_password(password)?;
        let user = self.get_mut(name)?;
        user.login = LoginMethod::Local;
        user.password = Some(hash);
        user.changed = now();
        Ok(())
    }

    /// Disables (or enables again) a user.
    pub fn set_disabled(&mut self, name: &str, disabled: bool) -> Result<(), UsersError> {
        let user = self.get_mut(name)?;
        user.disabled = disabled;
        user.changed = now();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_an_atomic_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        assert_eq!(Users::load(&path).unwrap(), Users::default());
        let mut users = Users::default();
        let mut anna = User::new("anna", Role::Auditor, LoginMethod::Local);
        anna.domains = vec!["example.com".into()];
        users.add(anna).unwrap();
        users.set_password("ANNA", "correct horse battery").unwrap();
        users.save(&path).unwrap();
        let back = Users::load(&path).unwrap();
        assert_eq!(back.format, USERS_FORMAT);
        let anna = back.get("anna").unwrap();
        assert!(crate::config::verify_password(
            anna.password.as_deref().unwrap(),
            "correct horse battery"
        ));
        assert!(!std::fs::read_to_string(&path).unwrap().contains("horse"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn refuses_duplicates_bad_names_and_short_passwords() {
        let mut users = Users::default();
        users
            .add(User::new("bob", Role::User, LoginMethod::Local))
            .unwrap();
        assert!(matches!(
            users.add(User::new("Bob", Role::Admin, LoginMethod::Local)),
            Err(UsersError::Exists(_))
        ));
        assert!(
            users
                .add(User::new("a b", Role::User, LoginMethod::Local))
                .is_err()
        );
        assert!(users.set_password("bob", "short").is_err());
        assert!(matches!(
            users.set_disabled("carl", true),
            Err(UsersError::Unknown(_))
        ));
        assert!(check_address("x@y.org", false).is_ok());
        assert!(check_address("y.org", false).is_err());
        assert!(check_address("y.org", true).is_ok());
    }

    #[test]
    fn a_damaged_or_newer_file_is_an_error_not_an_empty_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        std::fs::write(&path, "[[user]]\nname = 3\n").unwrap();
        assert!(matches!(Users::load(&path), Err(UsersError::Parse { .. })));
        std::fs::write(&path, "format = 9\n").unwrap();
        assert!(matches!(Users::load(&path), Err(UsersError::Format(9))));
    }
}
