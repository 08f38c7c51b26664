//! The `audit` record body: who looked at or changed what, sealed in the
//! same chain as the mail (record format 2, `docs/archive-format.md` 2.2).
//!
//! One body type serves every access path: the web interface (login,
//! logout, search, view, download, export, user changes) and the CLI's
//! reading commands through the daemon's control socket. Fields that do
//! not apply are `null` or empty, so the JSON is the same shape for every
//! action and an auditor's tool can read it without knowing them all.

use serde::{Deserialize, Serialize};

/// One access or change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// What happened: `login`, `login-failed`, `login-failures` (a summary),
    /// `login-confirmed` (four eyes), `logout`, `search`, `view`,
    /// `download`, `export`, `denied`, `user-change`, `audit-read`.
    pub action: String,
    /// Whether it was allowed: `ok`, `denied` or `failed`.
    pub outcome: String,
    /// `web` or `cli`.
    pub via: String,
    /// The web login name, or the Unix user of a CLI command; for failed
    /// logins the name that was tried.
    pub actor: String,
    /// The actor's role at the time (web), if known.
    pub role: Option<String>,
    /// The client address (web) or `uid N` (CLI).
    pub peer: Option<String>,
    /// A short hash naming the web session (never the cookie itself).
    pub session: Option<String>,
    /// The search query, as run (scope restrictions not included).
    pub query: Option<String>,
    /// The message records concerned (viewed, downloaded, exported).
    pub records: Vec<u64>,
    /// Anything else that says what exactly: the export format and file
    /// count, the attachment downloaded, the user change made.
    pub detail: Option<String>,
    /// For summaries: how many events this record stands for.
    pub count: Option<u64>,
    /// For summaries: the first and last time covered, RFC 3339.
    pub span: Option<[String; 2]>,
    /// `actor`, `peer`, `session`, `query` and `detail` sealed under the
    /// year's audit key (format 2.3); those fields are then stored empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<super::crypt::SealedFields>,
}

impl AuditEvent {
    /// Whether the personal fields are sealed and were not opened: read
    /// with the key store, this means their key is destroyed (the audit
    /// year was purged) and they stay empty for ever; read without it
    /// (a copy without the master key), only that they are closed.
    pub fn purged(&self) -> bool {
        self.sealed.is_some() && self.actor.is_empty()
    }
}

/// The actions, as stored.
pub mod action {
    /// A successful login (password checked).
    pub const LOGIN: &str = "login";
    /// A failed login (wrong name or password, disabled, locked out).
    pub const LOGIN_FAILED: &str = "login-failed";
    /// Failed logins from one address summarised in one record.
    pub const LOGIN_FAILURES: &str = "login-failures";
    /// A second person confirmed a four-eyes session.
    pub const LOGIN_CONFIRMED: &str = "login-confirmed";
    /// A logout.
    pub const LOGOUT: &str = "logout";
    /// A search.
    pub const SEARCH: &str = "search";
    /// A message opened.
    pub const VIEW: &str = "view";
    /// A message's `.eml` or an attachment downloaded.
    pub const DOWNLOAD: &str = "download";
    /// An export.
    pub const EXPORT: &str = "export";
    /// Something refused (a message outside the person's scope, a bad CSRF token).
    pub const DENIED: &str = "denied";
    /// A user added, changed, disabled, or their password set.
    pub const USER_CHANGE: &str = "user-change";
    /// The audit trail itself read or exported.
    pub const AUDIT_READ: &str = "audit-read";
    /// The legal holds page read.
    pub const HOLDS_READ: &str = "holds-read";
    /// A legal hold placed (or refused) on the web page; a placed hold's
    /// `hold` record comes just before.
    pub const HOLD_ADD: &str = "hold-add";
    /// A legal hold released (or refused) on the web page.
    pub const HOLD_RELEASE: &str = "hold-release";
    /// The early-deletion page read.
    pub const REQUESTS_READ: &str = "requests-read";
    /// An early deletion asked for (or refused) on the web page.
    pub const PURGE_REQUEST: &str = "purge-request";
    /// An early deletion approved on the web page (or refused, a wrong
    /// password included).
    pub const PURGE_APPROVE: &str = "purge-approve";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_refused() {
        let json = r#"{"action":"view","outcome":"ok","via":"web","actor":"a","role":null,
            "peer":null,"session":null,"query":null,"records":[3],"detail":null,"count":null,
            "span":null,"extra":1}"#;
        assert!(serde_json::from_str::<AuditEvent>(json).is_err());
        let ok = json.replace(r#","extra":1"#, "");
        let e: AuditEvent = serde_json::from_str(&ok).unwrap();
        assert_eq!(e.records, vec![3]);
    }
}
