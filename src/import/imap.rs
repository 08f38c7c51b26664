//! Importing mailboxes from IMAP servers (`mailseal import imap`, and the
//! `[[imap_import]]` jobs of `mailseal run`).
//!
//! One run: read the secret, log in (`connection`, `secret`), list the
//! folders and pick them (`folders`, names decoded by `utf7`), then for each
//! folder EXAMINE it and work out which UIDs are not archived yet at its
//! UIDVALIDITY (`mailbox`, `plan`: from the archive index, so resuming needs
//! no state of its own; the index is asked through an
//! [`ImportSink`](crate::import::ImportSink), the archive itself or the
//! daemon that owns it), fetch them in batches with `BODY.PEEK[]` (`fetch`;
//! very large messages in slices, `partial`) and append each message as it
//! arrives (`delivery`, `window`). The server is only ever read: EXAMINE and
//! PEEK leave every flag, `\Seen` and `\Recent` included, as it was. A
//! broken connection is re-opened and the batch resumed (`link`).
//! `schedule` runs the configured jobs inside the daemon.
//!
//! A UIDVALIDITY change means the folder's UIDs name other messages now:
//! nothing is archived at the new UIDVALIDITY, so the folder is scanned in
//! full. Every message then gets a new record (its UIDVALIDITY and UID are
//! new facts), but content the archive already holds is only referenced, not
//! stored again; the summary counts those as duplicates.

mod connection;
mod delivery;
mod fetch;
pub mod folders;
mod link;
mod mailbox;
mod partial;
pub mod plan;
pub mod schedule;
pub mod secret;
pub mod utf7;
mod window;

use tokio_util::sync::CancellationToken;

use crate::archive::ArchiveError;
use crate::config::ImapImportConfig;
use crate::import::{ImportFailure, ImportSink, ImportSummary, NoProgress, Progress};
use crate::tls::TlsError;

use connection::Server;
use folders::{Selection, Verdict};
use link::Link;
use secret::SecretError;
use window::Window;

/// Why an import run stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImapImportError {
    // Causes are part of the message and deliberately not `source`s: logs
    // print `Display` only, and `{:#}` in the CLI would repeat them.
    /// The TLS configuration could not be built (CA file).
    #[error("TLS setup: {0}")]
    TlsConfig(TlsError),
    /// TCP connect failed.
    #[error("cannot reach {address}: {cause}")]
    Unreachable {
        /// `host:port`.
        address: String,
        /// The cause.
        cause: std::io::Error,
    },
    /// The server did not answer in time.
    #[error("{address} did not answer within {secs} s")]
    Timeout {
        /// `host:port`.
        address: String,
        /// The deadline.
        secs: u64,
    },
    /// The TLS handshake failed (certificate, protocol, not a TLS port).
    #[error("TLS with {address} failed: {cause}")]
    Tls {
        /// `host:port`.
        address: String,
        /// What rustls said.
        cause: std::io::Error,
    },
    /// The server refused the session (BYE greeting, STARTTLS refused).
    #[error("{address} refused the session: {reply}")]
    Refused {
        /// `host:port`.
        address: String,
        /// What it said.
        reply: String,
    },
    /// The password or token could not be read.
    #[error("cannot read the credential: {0}")]
    Secret(SecretError),
    /// The server rejected the login (wrong password, expired token).
    #[error("{address} rejected the login of {user}: {reply}")]
    Auth {
        /// `host:port`.
        address: String,
        /// The login name.
        user: String,
        /// What the server said.
        reply: String,
    },
    /// The connection broke or the server's answer did not parse.
    #[error("connection to {address} lost: {detail}")]
    Connection {
        /// `host:port`.
        address: String,
        /// What happened.
        detail: String,
    },
    /// The server refused a command (NO or BAD).
    #[error("{address}: {command} failed: {reply}")]
    Command {
        /// `host:port`.
        address: String,
        /// The command.
        command: String,
        /// What the server said.
        reply: String,
    },
    /// The folder's UIDVALIDITY changed while it was being imported.
    #[error("folder {folder}: UIDVALIDITY changed during the import; the next run rescans it")]
    UidValidityChanged {
        /// The decoded folder name.
        folder: String,
    },
    /// A message could not be spooled (disk full?).
    #[error("cannot spool a message: {0}")]
    Spool(std::io::Error),
    /// The archive refused an append; nothing more is imported.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The run was asked to stop.
    #[error("import stopped")]
    Cancelled,
}

impl From<TlsError> for ImapImportError {
    fn from(e: TlsError) -> Self {
        ImapImportError::TlsConfig(e)
    }
}

impl From<SecretError> for ImapImportError {
    fn from(e: SecretError) -> Self {
        ImapImportError::Secret(e)
    }
}

impl ImapImportError {
    /// True for failures that a new connection may cure.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ImapImportError::Unreachable { .. }
                | ImapImportError::Timeout { .. }
                | ImapImportError::Refused { .. }
                | ImapImportError::Connection { .. }
        )
    }

    /// Maps an async-imap error of `command`.
    pub(crate) fn from_imap(address: &str, command: &str, e: async_imap::error::Error) -> Self {
        use async_imap::error::Error;
        let address = address.to_owned();
        match e {
            Error::No(reply) | Error::Bad(reply) => ImapImportError::Command {
                address,
                command: command.to_owned(),
                reply: server_text(&reply),
            },
            Error::Validate(v) => ImapImportError::Command {
                address,
                command: command.to_owned(),
                reply: v.to_string(),
            },
            other => ImapImportError::Connection {
                address,
                detail: safe_detail(&other.to_string()),
            },
        }
    }
}

/// Longest error detail taken from async-imap.
const DETAIL_LIMIT: usize = 200;

/// async-imap's parse errors quote the raw response, message bodies
/// included; those never go into logs or summaries.
fn safe_detail(text: &str) -> String {
    if text.contains("during parsing of") {
        return "a server response did not parse".to_owned();
    }
    text.chars().take(DETAIL_LIMIT).collect()
}

/// The server's text out of async-imap's `code: .., info: Some("..")`.
pub(crate) fn server_text(reply: &str) -> String {
    let info = reply
        .split_once("info: Some(\"")
        .and_then(|(_, rest)| rest.strip_suffix("\")"));
    match info {
        Some(text) => text.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => reply.to_owned(),
    }
}

/// Receives progress: the file importers' [`Progress`] (bytes fetched,
/// messages appended, failures) plus the start of each folder.
pub trait ImapProgress: Progress + Send + Sync {
    /// A folder starts: how many messages and bytes will be fetched.
    fn folder(&self, _name: &str, _messages: u64, _bytes: u64) {}
}

impl ImapProgress for NoProgress {}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImapSummary {
    /// Folders walked.
    pub folders: u64,
    /// Messages the server delivered.
    pub fetched: u64,
    /// Records appended (`imported`, duplicates among them), bytes, and the
    /// messages that could not be fetched (path = origin, position = UID).
    pub archive: ImportSummary,
    /// True when the run was stopped before it finished.
    pub interrupted: bool,
}

/// State of one run: the connection, and everything else (kept apart so a
/// response stream can borrow the one while messages go to the other).
pub(crate) struct Run<'a> {
    /// The connection.
    link: Link<'a>,
    /// The job, the archive side and the counts.
    ctx: Ctx<'a>,
}

/// The run's job, where its messages go, and what it did so far.
pub(crate) struct Ctx<'a> {
    /// The job.
    job: &'a ImapImportConfig,
    /// Where messages go: the archive, or the daemon that owns it.
    archive: &'a dyn ImportSink,
    /// Where progress goes.
    progress: &'a dyn ImapProgress,
    /// Stops the run between messages.
    cancel: &'a CancellationToken,
    /// Appends in flight.
    window: Window,
    /// Counts so far.
    summary: ImapSummary,
}

/// Runs `job` once. On error, `summary` still tells what was done before.
pub async fn run(
    job: &ImapImportConfig,
    archive: &dyn ImportSink,
    progress: &dyn ImapProgress,
    cancel: &CancellationToken,
    summary: &mut ImapSummary,
) -> Result<(), ImapImportError> {
    let server = Server::new(job)?;
    let secret = secret::read(&job.credential).await?;
    let mut run = Run {
        link: Link::new(&server, &job.user, &secret, cancel),
        ctx: Ctx {
            job,
            archive,
            progress,
            cancel,
            window: Window::new(),
            summary: std::mem::take(summary),
        },
    };
    let result = walk(&mut run).await;
    run.ctx.summary.interrupted = cancel.is_cancelled();
    *summary = std::mem::take(&mut run.ctx.summary);
    run.link.logout().await;
    match result {
        Err(ImapImportError::Cancelled) => Ok(()),
        other => other,
    }
}

/// Runs `job` once and returns what it did.
pub async fn import(
    job: &ImapImportConfig,
    archive: &dyn ImportSink,
    cancel: &CancellationToken,
) -> Result<ImapSummary, ImapImportError> {
    let mut summary = ImapSummary::default();
    run(job, archive, &NoProgress, cancel, &mut summary).await?;
    Ok(summary)
}

async fn walk(run: &mut Run<'_>) -> Result<(), ImapImportError> {
    let mut attempt = 0;
    let folders = loop {
        match run.link.folders().await {
            Ok(folders) => break folders,
            Err(e) => run.link.recover(e, &mut attempt).await?,
        }
    };
    let selection = Selection::of(run.ctx.job);
    for folder in folders {
        if run.ctx.cancel.is_cancelled() {
            break;
        }
        match selection.verdict(&folder) {
            Verdict::Import => {}
            verdict => {
                tracing::debug!(folder = %folder.name, ?verdict, "folder skipped");
                continue;
            }
        }
        run.ctx.summary.folders += 1;
        match mailbox::import(run, &folder).await {
            Err(e @ ImapImportError::UidValidityChanged { .. }) => {
                tracing::warn!(error = %e, "folder left for the next run");
            }
            // The server refused a command for this folder (it vanished
            // after LIST, or cannot be read): the other folders go on.
            Err(e @ ImapImportError::Command { .. }) => {
                tracing::warn!(folder = %folder.name, error = %e, "folder not imported");
                let job = run.ctx.job;
                let origin = plan::origin(&job.user, &job.host, &folder.name);
                run.ctx.summary.archive.failed.push(ImportFailure {
                    path: origin.clone().into(),
                    position: None,
                    reason: format!("{origin}: folder not imported: {e}"),
                });
            }
            other => other?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_unwraps_async_imap_replies() {
        let reply =
            r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication \"failed\".")"#;
        assert_eq!(
            server_text(reply),
            r#"[AUTHENTICATIONFAILED] Authentication "failed"."#
        );
        assert_eq!(server_text("plain words"), "plain words");
    }

    #[test]
    fn parse_errors_do_not_quote_message_bodies() {
        let e = async_imap::error::Error::Io(std::io::Error::other(
            "Error(..) during parsing of \"* 5 FETCH (UID 5 BODY[] {x3}\\r\\nsecret body\"",
        ));
        let text = ImapImportError::from_imap("h:1", "UID FETCH", e).to_string();
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("did not parse"), "{text}");
    }

    #[test]
    fn only_connection_trouble_is_retried() {
        let lost = ImapImportError::Connection {
            address: "h:1".into(),
            detail: "reset".into(),
        };
        let auth = ImapImportError::Auth {
            address: "h:1".into(),
            user: "u".into(),
            reply: "no".into(),
        };
        assert!(lost.is_transient());
        assert!(!auth.is_transient());
        assert!(!ImapImportError::Cancelled.is_transient());
    }
}
