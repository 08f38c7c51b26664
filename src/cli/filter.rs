//! Record filter flags shared by `list` and `export`; the matching itself is
//! [`crate::archive::filter::Filter`], which the daemon applies too.

use clap::Args;

use crate::archive::filter;

/// Which records a command looks at. All given conditions must hold.
#[derive(Debug, Clone, Default, Args)]
pub struct Filter {
    /// Envelope or header address (sender or recipient), case-insensitive.
    #[arg(long, value_name = "ADDR")]
    pub address: Option<String>,
    /// Envelope sender or From header.
    #[arg(long, value_name = "ADDR")]
    pub from: Option<String>,
    /// Envelope recipient or To/Cc header.
    #[arg(long, value_name = "ADDR")]
    pub to: Option<String>,
    /// Subject contains this text (case-insensitive).
    #[arg(long, value_name = "TEXT")]
    pub subject: Option<String>,
    /// Message-ID (with or without angle brackets).
    #[arg(long, value_name = "ID")]
    pub message_id: Option<String>,
    /// Source kind: smtp-proxy, journal, imap-proxy, pop3-proxy or import.
    #[arg(long, value_name = "KIND")]
    pub source: Option<String>,
    /// Received at or after this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Received before this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only these record ids (repeatable; `A-B` for a range).
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
}

impl Filter {
    /// The conditions, as the archive (and the daemon) applies them.
    pub fn conditions(&self) -> filter::Filter {
        filter::Filter {
            address: self.address.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            subject: self.subject.clone(),
            message_id: self.message_id.clone(),
            source: self.source.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
            ids: self.ids.clone(),
        }
    }
}
