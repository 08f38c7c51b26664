//! What each client saw: per message, how many attempts and whether one
//! was acknowledged (SMTP `250` after the data, IMAP tagged `OK`, the
//! terminating `.` of a POP3 `RETR`).

use std::collections::BTreeMap;

/// The four ways into the daemon the soak drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Path {
    /// `[[smtp_proxy]]` in front of the sink.
    SmtpProxy,
    /// `[[journal]]`.
    Journal,
    /// `[[imap_proxy]]` in front of Dovecot (APPEND).
    ImapProxy,
    /// `[[pop3_proxy]]` in front of Dovecot (RETR).
    Pop3Proxy,
}

impl Path {
    /// The source kind the archive names for this way in.
    pub fn source_kind(self) -> &'static str {
        match self {
            Path::SmtpProxy => "smtp-proxy",
            Path::Journal => "journal",
            Path::ImapProxy => "imap-proxy",
            Path::Pop3Proxy => "pop3-proxy",
        }
    }
}

/// How one attempt ended.
#[derive(Debug, Clone)]
pub enum Attempt {
    /// `250` at the end of data, the APPEND's tagged `OK`, or a RETR's
    /// terminating `.` after the whole message.
    Acked,
    /// A reply that refused (4xx/5xx, `NO`/`BAD`), with its text.
    Refused(String),
    /// No usable reply: connection refused, reset, closed, timed out.
    Failed(String),
}

/// One message and what became of it.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The message number.
    pub n: u64,
    /// SHA-256 of the content.
    pub sha256: String,
    /// Content size in bytes.
    pub size: usize,
    /// Every attempt, in order; at most one is `Acked` (the last).
    pub attempts: Vec<Attempt>,
}

impl Sent {
    /// True when some attempt was acknowledged.
    pub fn acked(&self) -> bool {
        matches!(self.attempts.last(), Some(Attempt::Acked))
    }
}

/// One client's record.
#[derive(Debug, Clone)]
pub struct Lane {
    /// Which way in it used.
    pub path: Path,
    /// Every message it tried, in order.
    pub sent: Vec<Sent>,
    /// Connections that could not be opened or did not get through the
    /// greeting (and login).
    pub connect_failures: u64,
}

/// Figures for one way in, summed over its clients.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    /// Distinct messages tried.
    pub messages: u64,
    /// Attempts (messages times tries).
    pub attempts: u64,
    /// Messages acknowledged.
    pub acked: u64,
    /// Attempts refused by a reply.
    pub refused: u64,
    /// Attempts without a usable reply.
    pub failed: u64,
    /// Messages given up on after the last try.
    pub abandoned: u64,
    /// Connections that failed before a transaction could start.
    pub connect_failures: u64,
}

/// Totals per way in.
pub fn totals(lanes: &[Lane]) -> BTreeMap<Path, Totals> {
    let mut out: BTreeMap<Path, Totals> = BTreeMap::new();
    for lane in lanes {
        let t = out.entry(lane.path).or_default();
        t.connect_failures += lane.connect_failures;
        for s in &lane.sent {
            t.messages += 1;
            t.attempts += s.attempts.len() as u64;
            for a in &s.attempts {
                match a {
                    Attempt::Acked => t.acked += 1,
                    Attempt::Refused(_) => t.refused += 1,
                    Attempt::Failed(_) => t.failed += 1,
                }
            }
            t.abandoned += u64::from(!s.acked());
        }
    }
    out
}
