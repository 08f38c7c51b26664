//! The job's secret: a LOGIN password or an OAuth2 access token.
//!
//! Secrets are read afresh at every run, so a rotated password file or a
//! token refreshed by the admin's tooling is picked up without a restart.
//! They live only in memory, never in logs or error messages (`Debug` is
//! redacted), and never come from the command line.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::ImapCredential;

/// Longest a token command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Most bytes of a token command's stderr quoted in an error.
const STDERR_QUOTE: usize = 300;

/// A secret ready for login.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// For `LOGIN user password`.
    Password(String),
    /// For `AUTHENTICATE XOAUTH2`.
    Token(String),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Password(_) => f.write_str("Password(<redacted>)"),
            Secret::Token(_) => f.write_str("Token(<redacted>)"),
        }
    }
}

/// Why the secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The password or token file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The environment variable is missing or not UTF-8.
    #[error("environment variable {0} is not set (or not valid UTF-8)")]
    Env(String),
    /// The source gave an empty secret.
    #[error("{0} gave an empty secret")]
    Empty(String),
    /// The token command failed, timed out or printed nothing usable.
    #[error("token command {command:?} failed: {reason}")]
    Command {
        /// The command as configured (a path and arguments, no secret).
        command: String,
        /// Exit status and the start of its stderr.
        reason: String,
    },
}

/// Reads the secret of a job now.
pub async fn read(credential: &ImapCredential) -> Result<Secret, SecretError> {
    match credential {
        ImapCredential::PasswordFile(path) => {
            let text = read_file(path).await?;
            let password = strip_one_newline(&text);
            non_empty(password, path.display().to_string()).map(Secret::Password)
        }
        ImapCredential::PasswordEnv(var) => {
            let value = std::env::var(var).map_err(|_| SecretError::Env(var.clone()))?;
            non_empty(&value, format!("${var}")).map(Secret::Password)
        }
        ImapCredential::OAuth2TokenFile(path) => {
            let text = read_file(path).await?;
            non_empty(text.trim(), path.display().to_string()).map(Secret::Token)
        }
        ImapCredential::OAuth2TokenCommand(command) => {
            run_command(command).await.map(Secret::Token)
        }
    }
}

async fn read_file(path: &PathBuf) -> Result<String, SecretError> {
    tokio::fs::read_to_string(path)
        .await
        .map_err(|source| SecretError::File {
            path: path.clone(),
            source,
        })
}

/// A password file written by `echo` ends in a newline that is not part of
/// the password; any other whitespace is.
fn strip_one_newline(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
}

fn non_empty(secret: &str, source: String) -> Result<String, SecretError> {
    if secret.is_empty() {
        return Err(SecretError::Empty(source));
    }
    Ok(secret.to_owned())
}

/// Runs the token command with `sh -c` and takes its trimmed stdout.
async fn run_command(command: &str) -> Result<String, SecretError> {
    let failed = |reason: String| SecretError::Command {
        command: command.to_owned(),
        reason,
    };
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("cannot start sh: {e}")))?;
    let out = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| failed(format!("no answer within {COMMAND_TIMEOUT:?}")))?
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let quote: String = stderr.trim().chars().take(STDERR_QUOTE).collect();
        return Err(failed(format!("{}: {quote}", out.status)));
    }
    let token = String::from_utf8(out.stdout).map_err(|_| failed("output is not UTF-8".into()))?;
    non_empty(token.trim(), format!("token command {command:?}"))
}

/// `AUTHENTICATE XOAUTH2` (Google, Microsoft 365): one initial response,
/// then an empty one if the server answers with an error challenge, so it
/// can finish with a tagged `NO`.
pub struct XOAuth2 {
    /// The login name.
    user: String,
    /// The access token.
    token: String,
    /// True once the initial response went out.
    sent: bool,
}

impl XOAuth2 {
    /// The mechanism for `user` with `token`.
    pub fn new(user: &str, token: &str) -> XOAuth2 {
        XOAuth2 {
            user: user.to_owned(),
            token: token.to_owned(),
            sent: false,
        }
    }

    /// The initial client response (before base64).
    pub fn initial_response(&self) -> Vec<u8> {
        format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token).into_bytes()
    }
}

impl async_imap::Authenticator for XOAuth2 {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        if self.sent {
            return Vec::new();
        }
        self.sent = true;
        self.initial_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_imap::Authenticator as _;

    #[tokio::test]
    async fn reads_every_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret \n").unwrap();
        let pw = read(&ImapCredential::PasswordFile(file.clone()))
            .await
            .unwrap();
        assert_eq!(
            pw,
            Secret::Password("s3cret ".into()),
            "only the newline goes"
        );

        std::fs::write(&file, "\n").unwrap();
        let empty = read(&ImapCredential::PasswordFile(file.clone())).await;
        assert!(matches!(empty, Err(SecretError::Empty(_))));

        let token = dir.path().join("token");
        std::fs::write(&token, "  ya29.abc\n").unwrap();
        let t = read(&ImapCredential::OAuth2TokenFile(token)).await.unwrap();
        assert_eq!(t, Secret::Token("ya29.abc".into()));

        let t = read(&ImapCredential::OAuth2TokenCommand(
            "echo tok-1; echo ok >&2".into(),
        ))
        .await
        .unwrap();
        assert_eq!(t, Secret::Token("tok-1".into()));

        let e = read(&ImapCredential::OAuth2TokenCommand(
            "echo nope >&2; exit 3".into(),
        ))
        .await
        .unwrap_err()
        .to_string();
        assert!(e.contains("nope") && e.contains('3'), "{e}");

        let e = read(&ImapCredential::PasswordEnv(
            "MAILSEAL_TEST_UNSET_VARIABLE".into(),
        ))
        .await;
        assert!(matches!(e, Err(SecretError::Env(_))));

        let missing = read(&ImapCredential::PasswordFile(dir.path().join("none"))).await;
        assert!(matches!(missing, Err(SecretError::File { .. })));
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let s = format!("{:?}", Secret::Password("hunter2".into()));
        assert!(!s.contains("hunter2"));
    }

    #[test]
    fn xoauth2_sends_the_bearer_string_once() {
        let mut x = XOAuth2::new("a@example.com", "tok");
        assert_eq!(
            x.process(b""),
            b"user=a@example.com\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(x.process(b"{\"status\":\"401\"}"), b"");
    }
}
