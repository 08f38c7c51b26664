//! Roles and what each may see: the one place that decides whether a
//! logged-in person may open a given message.
//!
//! - `auditor`: search, read and export all mail, or only mail touching the
//!   domains listed for them; legal holds, and asking for early deletion;
//! - `user`: only mail where one of their own addresses is the sender or a
//!   recipient (envelope, headers and the journal report's recipients, Bcc
//!   and expanded lists included), plus what the IMAP/POP3 proxy captured
//!   under one of their mail logins;
//! - `admin`: users, status and settings, no mail content;
//! - `data-officer`: approves early deletions others asked for (and asks
//!   for them), places legal holds by record id; no mail.

use serde::{Deserialize, Serialize};

use crate::archive::record::MessageMeta;

/// What a person may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Reads and exports mail (possibly limited to domains), reads the audit log.
    Auditor,
    /// Reads their own mail.
    User,
    /// Manages users and sees the status; no mail content.
    Admin,
    /// Approves early deletions and keeps legal holds; no mail content.
    DataOfficer,
}

/// Who may ask for an early deletion (`purge request`).
pub const MAY_REQUEST_PURGE: &[Role] = &[Role::Auditor, Role::DataOfficer];
/// Who may approve one (`purge approve`), never the requester.
pub const MAY_APPROVE_PURGE: &[Role] = &[Role::DataOfficer];
/// Who may see, place and release legal holds on the web pages (on the
/// command line, whoever may run `mailseal hold`).
pub const MAY_HOLD: &[Role] = &[Role::Auditor, Role::DataOfficer];

impl Role {
    /// The name in the users file, on the command line and in audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Auditor => "auditor",
            Role::User => "user",
            Role::Admin => "admin",
            Role::DataOfficer => "data-officer",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Role> {
        [Role::Auditor, Role::User, Role::Admin, Role::DataOfficer]
            .into_iter()
            .find(|r| r.as_str() == s)
    }

    /// May search and read mail at all.
    pub fn reads_mail(self) -> bool {
        matches!(self, Role::Auditor | Role::User)
    }

    /// May read the audit trail.
    pub fn reads_audit(self) -> bool {
        matches!(self, Role::Auditor | Role::Admin | Role::DataOfficer)
    }

    /// May see the status page.
    pub fn sees_status(self) -> bool {
        matches!(self, Role::Auditor | Role::Admin)
    }

    /// May use the legal holds page.
    pub fn holds(self) -> bool {
        MAY_HOLD.contains(&self)
    }

    /// May see the early-deletion page (to ask, or to approve).
    pub fn sees_deletions(self) -> bool {
        MAY_REQUEST_PURGE.contains(&self) || MAY_APPROVE_PURGE.contains(&self)
    }

    /// May name message records by id in holds and deletion requests
    /// without being able to read them: a data officer decides about mail
    /// they never see. Everyone else names only what their scope shows.
    pub fn names_unseen_mail(self) -> bool {
        self == Role::DataOfficer
    }

    /// May confirm another person's four-eyes login.
    pub fn confirms_sessions(self) -> bool {
        matches!(self, Role::Auditor | Role::Admin | Role::DataOfficer)
    }
}

/// Which mail a logged-in person may see, fixed at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every message.
    Everything,
    /// Messages with a sender or recipient in one of these domains (lowercase).
    Domains(Vec<String>),
    /// Messages where one of these addresses (lowercase) takes part, or that
    /// the IMAP/POP3 proxy captured under one of these logins.
    Own {
        /// The person's addresses.
        addresses: Vec<String>,
        /// The person's IMAP/POP3 login names.
        mail_logins: Vec<String>,
    },
    /// No mail at all.
    Nothing,
}

impl Scope {
    /// The scope of a role with the lists kept for the person.
    pub fn of(
        role: Role,
        addresses: &[String],
        mail_logins: &[String],
        domains: &[String],
    ) -> Scope {
        let lower = |v: &[String]| v.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>();
        match role {
            Role::Auditor if domains.is_empty() => Scope::Everything,
            Role::Auditor => Scope::Domains(lower(domains)),
            Role::User => Scope::Own {
                addresses: lower(addresses),
                mail_logins: lower(mail_logins),
            },
            Role::Admin | Role::DataOfficer => Scope::Nothing,
        }
    }

    /// True when the person may see the message described by `facts`.
    pub fn allows(&self, facts: &MailFacts) -> bool {
        match self {
            Scope::Everything => true,
            Scope::Nothing => false,
            Scope::Domains(domains) => facts.addresses.iter().any(|a| {
                a.rsplit_once('@')
                    .is_some_and(|(_, d)| domains.iter().any(|x| x == d))
            }),
            Scope::Own {
                addresses,
                mail_logins,
            } => {
                facts.addresses.iter().any(|a| addresses.contains(a))
                    || facts
                        .mail_login
                        .as_ref()
                        .is_some_and(|l| mail_logins.contains(l))
            }
        }
    }
}

/// The parts of a message record that decide who may see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailFacts {
    /// Every sender and recipient address, lowercase: envelope sender and
    /// recipients, header From/To/Cc/Bcc, and the journal report's sender,
    /// recipients, expanded lists and forwarders.
    pub addresses: Vec<String>,
    /// The IMAP (or POP3) login the proxy captured the message under.
    pub mail_login: Option<String>,
}

impl MailFacts {
    /// Collects the facts of a message record and its parsed header addresses.
    pub fn collect(meta: &MessageMeta, header_addresses: &[String]) -> MailFacts {
        let mut addresses: Vec<String> = Vec::new();
        let mut push = |a: &str| {
            let a = a.trim().trim_matches(['<', '>']).to_lowercase();
            if !a.is_empty() && !addresses.contains(&a) {
                addresses.push(a);
            }
        };
        if let Some(f) = &meta.mail_from {
            push(f);
        }
        meta.rcpts.iter().for_each(|r| push(&r.address));
        header_addresses.iter().for_each(|a| push(a));
        if let Some(j) = &meta.journal {
            if let Some(s) = &j.sender {
                push(s);
            }
            for r in &j.recipients {
                push(&r.address);
                r.expanded.iter().for_each(|e| push(e));
                if let Some(f) = &r.forwarded {
                    push(f);
                }
            }
        }
        MailFacts {
            addresses,
            mail_login: meta
                .imap
                .as_ref()
                .and_then(|i| i.user.as_ref())
                .map(|u| u.to_lowercase()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::record::{ImapContext, JournalEnvelope, JournalRecipient, Rcpt};

    fn journal_bcc_to(bcc: &str) -> MessageMeta {
        MessageMeta {
            mail_from: Some("boss@corp.example".into()),
            rcpts: vec![Rcpt {
                address: "journal@archive.example".into(),
                reply: None,
            }],
            journal: Some(JournalEnvelope {
                recipients: vec![JournalRecipient {
                    field: "bcc".into(),
                    address: bcc.into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_user_sees_a_journal_bcc_copy_addressed_to_them_and_nothing_else() {
        let meta = journal_bcc_to("Eve@Corp.Example");
        let facts = MailFacts::collect(&meta, &["partner@supplier.example".into()]);
        let eve = Scope::of(Role::User, &["eve@corp.example".into()], &[], &[]);
        let mallory = Scope::of(Role::User, &["mallory@corp.example".into()], &[], &[]);
        assert!(eve.allows(&facts));
        assert!(!mallory.allows(&facts));
    }

    #[test]
    fn imap_captures_belong_to_the_login() {
        let meta = MessageMeta {
            imap: Some(ImapContext {
                user: Some("Eve".into()),
                direction: "fetch".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let facts = MailFacts::collect(&meta, &[]);
        assert!(Scope::of(Role::User, &[], &["eve".into()], &[]).allows(&facts));
        assert!(!Scope::of(Role::User, &["eve@x".into()], &[], &[]).allows(&facts));
    }

    #[test]
    fn auditors_may_be_limited_to_domains_and_admins_see_no_mail() {
        let facts = MailFacts::collect(&journal_bcc_to("eve@corp.example"), &[]);
        assert!(Scope::of(Role::Auditor, &[], &[], &[]).allows(&facts));
        assert!(Scope::of(Role::Auditor, &[], &[], &["CORP.example".into()]).allows(&facts));
        assert!(!Scope::of(Role::Auditor, &[], &[], &["other.example".into()]).allows(&facts));
        assert!(!Scope::of(Role::Admin, &[], &[], &[]).allows(&facts));
        assert!(!Scope::of(Role::DataOfficer, &[], &[], &[]).allows(&facts));
    }
}
