//! What a session knows about its IMAP conversation: who logged in, which
//! mailbox is selected (with its UIDVALIDITY), which folders are special,
//! and the commands still waiting for their tagged response.
//!
//! Both directions of the relay update it: the client's commands open
//! expectations, the server's responses settle them. No I/O here.

use std::collections::HashMap;

use super::command::Command;
use super::credentials::{Credentials, SaslExchange};
use super::head::Head;
use super::response;
use crate::archive::SpooledContent;

/// Most commands tracked at once; a client pipelining more than this only
/// loses capture context for the excess, never relaying.
const MAX_PENDING: usize = 4096;

/// A mailbox and its UIDVALIDITY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// Name as the client spelled it in SELECT.
    pub name: String,
    /// From the `[UIDVALIDITY n]` code of the SELECT response.
    pub uidvalidity: Option<u32>,
}

/// A command waiting for its tagged response.
enum Pending {
    /// LOGIN with its credentials, kept if the server says OK.
    Login(Credentials),
    /// SELECT/EXAMINE of this mailbox.
    Select(Mailbox),
    /// APPEND: captured messages held until the server accepts them.
    Append {
        /// Target mailbox.
        mailbox: String,
        /// One spooled content per message literal, in order.
        messages: Vec<SpooledContent>,
    },
    /// CLOSE/UNSELECT.
    Close,
}

/// What a tagged response settled.
pub enum Settled {
    /// Nothing the proxy acts on.
    Nothing,
    /// The session is now authenticated with these credentials.
    LoggedIn(Credentials),
    /// The server accepted an APPEND: archive these messages.
    Appended {
        /// Target mailbox.
        mailbox: String,
        /// From `[APPENDUID]`, when the server sent it.
        uidvalidity: Option<u32>,
        /// UIDs of the messages, in order, from `[APPENDUID]`.
        uids: Vec<u32>,
        /// The messages.
        messages: Vec<SpooledContent>,
    },
    /// An APPEND was accepted but its folder is not captured.
    Skipped {
        /// The folder.
        mailbox: String,
    },
}

/// The conversation state of one session.
pub struct Context {
    /// Folder names whose APPENDs are not captured.
    skip_folders: Vec<String>,
    /// Special-use attributes whose folders' APPENDs are not captured.
    skip_special_use: Vec<String>,
    /// The logged-in user, once known.
    pub user: Option<String>,
    /// The selected mailbox, once the server confirmed it.
    pub selected: Option<Mailbox>,
    /// Commands waiting for their tagged response, by tag.
    pending: HashMap<String, Pending>,
    /// Tag of the latest SELECT, which `[UIDVALIDITY]` codes belong to.
    selecting: Option<String>,
    /// An AUTHENTICATE exchange in progress: its tag and the responses.
    auth: Option<(String, SaslExchange)>,
    /// Tag of an IDLE in progress.
    idle: Option<String>,
    /// Special-use attributes learned from LIST responses, by mailbox.
    special_use: HashMap<String, Vec<String>>,
}

impl Context {
    /// A fresh session that skips APPENDs to these folders and special uses.
    pub fn new(skip_folders: Vec<String>, skip_special_use: Vec<String>) -> Context {
        Context {
            skip_folders,
            skip_special_use,
            user: None,
            selected: None,
            pending: HashMap::new(),
            selecting: None,
            auth: None,
            idle: None,
            special_use: HashMap::new(),
        }
    }

    /// A client command is about to be relayed.
    pub fn command(&mut self, tag: &str, command: &Command) {
        let pending = match command {
            Command::Login { user, password } => Pending::Login(Credentials::Login {
                user: user.clone(),
                password: password.clone(),
            }),
            Command::Authenticate { mechanism, initial } => {
                self.auth = Some((
                    tag.to_owned(),
                    SaslExchange::new(mechanism, initial.clone()),
                ));
                return;
            }
            Command::Select { mailbox } => {
                self.selecting = Some(tag.to_owned());
                Pending::Select(Mailbox {
                    name: mailbox.clone(),
                    uidvalidity: None,
                })
            }
            Command::Close => Pending::Close,
            Command::Idle => {
                self.idle = Some(tag.to_owned());
                return;
            }
            _ => return,
        };
        self.track(tag, pending);
    }

    fn track(&mut self, tag: &str, pending: Pending) {
        if self.pending.len() < MAX_PENDING {
            self.pending.insert(tag.to_owned(), pending);
        }
    }

    /// A client line during AUTHENTICATE is a SASL response; returns false
    /// when no exchange is in progress (the line is a command).
    pub fn sasl_response(&mut self, line: &[u8]) -> bool {
        match &mut self.auth {
            Some((_, exchange)) => {
                exchange.response(line);
                true
            }
            None => false,
        }
    }

    /// A client line during IDLE: `DONE` ends the client's side of it (its
    /// silence counts again from here). Returns true for `DONE`.
    pub fn idle_done(&mut self, line: &[u8]) -> bool {
        let done = self.idle.is_some() && line.trim_ascii().eq_ignore_ascii_case(b"DONE");
        if done {
            self.idle = None;
        }
        done
    }

    /// True while an IDLE runs: the client may stay silent indefinitely.
    pub fn idling(&self) -> bool {
        self.idle.is_some()
    }

    /// A message literal of the APPEND tagged `tag` was fully received.
    pub fn append_message(&mut self, tag: &str, mailbox: &str, content: SpooledContent) {
        match self.pending.get_mut(tag) {
            Some(Pending::Append { messages, .. }) => messages.push(content),
            Some(_) => {}
            None => self.track(
                tag,
                Pending::Append {
                    mailbox: mailbox.to_owned(),
                    messages: vec![content],
                },
            ),
        }
    }

    /// An untagged status response (`* OK [UIDVALIDITY n]`).
    pub fn untagged_status(&mut self, text: &[u8]) {
        let Some(validity) = response::uidvalidity(text) else {
            return;
        };
        let tag = self.selecting.as_deref().unwrap_or_default();
        if let Some(Pending::Select(mailbox)) = self.pending.get_mut(tag) {
            mailbox.uidvalidity = Some(validity);
        }
    }

    /// A `* LIST` response's special-use attributes for a mailbox.
    pub fn listed(&mut self, mailbox: String, attributes: Vec<String>) {
        if attributes.is_empty() {
            self.special_use.remove(&mailbox);
        } else if self.special_use.len() < MAX_PENDING {
            self.special_use.insert(mailbox, attributes);
        }
    }

    /// The tagged response that ends the command tagged `tag`.
    pub fn tagged(&mut self, head: &Head, text: &[u8]) -> Settled {
        let Head::Tagged { tag, status } = head else {
            return Settled::Nothing;
        };
        let ok = status == "OK";
        if self.idle.as_deref() == Some(tag) {
            self.idle = None;
        }
        if self.auth.as_ref().is_some_and(|(t, _)| t == tag) {
            let exchange = self.auth.take().map(|(_, exchange)| exchange);
            return match exchange.and_then(SaslExchange::finish) {
                Some(credentials) if ok => self.logged_in(credentials),
                _ => Settled::Nothing,
            };
        }
        if self.selecting.as_deref() == Some(tag) {
            self.selecting = None;
        }
        match self.pending.remove(tag) {
            Some(Pending::Login(credentials)) if ok => self.logged_in(credentials),
            Some(Pending::Select(mailbox)) => {
                // A failed SELECT leaves no mailbox selected (RFC 3501 6.3.1).
                self.selected = ok.then_some(mailbox);
                Settled::Nothing
            }
            Some(Pending::Close) if ok => {
                self.selected = None;
                Settled::Nothing
            }
            Some(Pending::Append { mailbox, messages }) if ok => {
                self.appended(mailbox, messages, text)
            }
            _ => Settled::Nothing,
        }
    }

    fn logged_in(&mut self, credentials: Credentials) -> Settled {
        self.user = credentials.user();
        Settled::LoggedIn(credentials)
    }

    fn appended(&self, mailbox: String, messages: Vec<SpooledContent>, text: &[u8]) -> Settled {
        if self.skipped(&mailbox) {
            return Settled::Skipped { mailbox };
        }
        let (uidvalidity, uids) = match response::appenduid(text) {
            Some((validity, uids)) if uids.len() == messages.len() => (Some(validity), uids),
            _ => (None, Vec::new()),
        };
        Settled::Appended {
            mailbox,
            uidvalidity,
            uids,
            messages,
        }
    }

    /// True when APPENDs to `mailbox` are not captured: a configured folder
    /// name, or a folder whose special use (learned from LIST) is skipped.
    pub fn skipped(&self, mailbox: &str) -> bool {
        let same = |a: &str| {
            a == mailbox
                || (a.eq_ignore_ascii_case("INBOX") && mailbox.eq_ignore_ascii_case("INBOX"))
        };
        self.skip_folders.iter().any(|f| same(f))
            || self.special_use.get(mailbox).is_some_and(|uses| {
                uses.iter().any(|u| {
                    self.skip_special_use
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(u))
                })
            })
    }
}

#[cfg(test)]
mod tests;
