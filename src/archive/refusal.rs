//! Why the archive refuses a lifecycle command, or a purge skips a record.
//!
//! Each reason is a value, not a sentence: `Display` gives the English the
//! command line prints, and the web pages translate the value itself, so a
//! person reading German is told the reason in German too.

use std::fmt;

use super::lifecycle::Purged;

/// Why a record cannot be purged now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Obstacle {
    /// No record has this id.
    NoRecord,
    /// The record is not a message.
    NotMessage {
        /// The record.
        of: u64,
        /// Its kind.
        kind: String,
    },
    /// It was purged before.
    Purged(Purged),
    /// Legal holds keep it.
    Held {
        /// Their case ids.
        cases: Vec<String>,
    },
    /// Its content or fields were stored before encryption: deleting them
    /// would mean rewriting segments.
    Clear,
}

impl Obstacle {
    /// Whether only legal holds stand in the way (a request may still be
    /// made: it is carried out once they are released).
    pub fn is_hold(&self) -> bool {
        matches!(self, Obstacle::Held { .. })
    }
}

impl fmt::Display for Obstacle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Obstacle::NoRecord => f.write_str("no such record"),
            Obstacle::NotMessage { of, kind } => {
                write!(f, "record {of} is not a message but {kind}")
            }
            Obstacle::Purged(p) => write!(f, "already {}", p.describe()),
            Obstacle::Held { cases } => write!(f, "held (case {})", cases.join(", ")),
            Obstacle::Clear => f.write_str("stored in clear"),
        }
    }
}

/// Why a lifecycle command was refused; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A required text field is empty.
    Empty {
        /// `case` or `reason`.
        field: &'static str,
    },
    /// A hold, request or extension names no record.
    NoRecords {
        /// `hold`, `request` or `extension`.
        what: &'static str,
    },
    /// A hold names a record that is no message.
    NotMessage {
        /// The record.
        of: u64,
        /// Its kind.
        kind: String,
    },
    /// A hold names a purged message.
    AlreadyPurged {
        /// The record.
        of: u64,
        /// Its purge.
        purged: Purged,
    },
    /// A release names a case with no active hold.
    NoActiveHold {
        /// The case id given.
        case: String,
    },
    /// A request names a record that cannot be purged.
    CannotPurge {
        /// The record.
        of: u64,
        /// Why.
        why: Obstacle,
    },
    /// An approval names a record that is no request.
    NotRequest {
        /// The record.
        request: u64,
    },
    /// An approval names a request approved before.
    AlreadyApproved {
        /// The request.
        request: u64,
        /// Who approved it.
        by: String,
        /// The approval record.
        seq: u64,
    },
    /// The requester tries to approve their own request.
    OwnRequest {
        /// The requester.
        actor: String,
        /// The request.
        request: u64,
    },
    /// An extension names a record that is no live message.
    NotLive {
        /// The record.
        of: u64,
    },
    /// An extension names a record kept for ever.
    KeptForever {
        /// The record.
        of: u64,
    },
    /// An extension would not lengthen a record's retention.
    AlreadyLonger {
        /// The record.
        of: u64,
        /// Its keep-until date.
        until: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Empty { field } => write!(f, "{field} must not be empty"),
            Refusal::NoRecords { what } => write!(f, "a {what} needs at least one record"),
            Refusal::NotMessage { of, kind } => {
                write!(f, "record {of} is a {kind} record, not a message")
            }
            Refusal::AlreadyPurged { of, purged } => {
                write!(f, "record {of} is already {}", purged.describe())
            }
            Refusal::NoActiveHold { case } => write!(f, "no active hold for case {case:?}"),
            Refusal::CannotPurge { of, why } => write!(f, "record {of} cannot be purged: {why}"),
            Refusal::NotRequest { request } => {
                write!(f, "record {request} is not a purge request")
            }
            Refusal::AlreadyApproved { request, by, seq } => {
                write!(
                    f,
                    "request {request} was already approved by {by} (record {seq})"
                )
            }
            Refusal::OwnRequest { actor, request } => write!(
                f,
                "{actor} made request {request} and cannot approve it: a second person must"
            ),
            Refusal::NotLive { of } => write!(f, "record {of} is not a live message record"),
            Refusal::KeptForever { of } => write!(
                f,
                "record {of} has no keep-until (it is kept for ever); an extension would shorten that"
            ),
            Refusal::AlreadyLonger { of, until } => write!(
                f,
                "record {of} is already kept until {until}; an extension never shortens"
            ),
        }
    }
}
