//! The head of an IMAP line: who sent it and what it starts (a tagged
//! command, an untagged or tagged response, a continuation request).
//!
//! Only the first words are parsed; arguments are left to the command and
//! response parsers, so any garbage still yields a head and is relayed.

/// Which peer sends a stream of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The IMAP client: commands, literals, SASL responses, `DONE`.
    Client,
    /// The IMAP server: responses and continuation requests.
    Server,
}

/// The first words of a command or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// A client line: `tag NAME ...`. SASL responses and `DONE` come out as
    /// a tag with an empty name; the session knows when to expect them.
    Command {
        /// The command tag, as sent.
        tag: String,
        /// The command name in upper case (`UID` for UID commands).
        name: String,
    },
    /// `* [n] NAME ...` from the server.
    Untagged {
        /// The message number of `* 12 FETCH`, `* 3 EXPUNGE`, `* 5 EXISTS`.
        number: Option<u32>,
        /// The response name in upper case (`OK`, `FETCH`, `CAPABILITY`).
        name: String,
    },
    /// `+ ...`: the server asks for more (a literal, a SASL step, IDLE).
    Continuation,
    /// `tag STATUS ...` from the server, ending a command.
    Tagged {
        /// The tag of the command it completes.
        tag: String,
        /// `OK`, `NO` or `BAD` in upper case.
        status: String,
    },
}

impl Head {
    /// Parses the head of a line's text (without its line ending).
    pub fn parse(side: Side, text: &[u8]) -> Head {
        let mut words = text.split(|&b| b == b' ');
        let first = words.next().unwrap_or_default();
        match side {
            Side::Client => Head::Command {
                tag: lossy(first),
                name: upper(words.next().unwrap_or_default()),
            },
            Side::Server if first == b"*" => {
                let word = words.next().unwrap_or_default();
                match std::str::from_utf8(word)
                    .ok()
                    .and_then(|w| w.parse::<u32>().ok())
                {
                    Some(n) => Head::Untagged {
                        number: Some(n),
                        name: upper(words.next().unwrap_or_default()),
                    },
                    None => Head::Untagged {
                        number: None,
                        name: upper(word),
                    },
                }
            }
            Side::Server if text.first() == Some(&b'+') => Head::Continuation,
            Side::Server => Head::Tagged {
                tag: lossy(first),
                status: upper(words.next().unwrap_or_default()),
            },
        }
    }

    /// The tag of a command or tagged response.
    pub fn tag(&self) -> Option<&str> {
        match self {
            Head::Command { tag, .. } | Head::Tagged { tag, .. } => Some(tag),
            _ => None,
        }
    }

    /// True for an untagged response of the given name (upper case).
    pub fn is_untagged(&self, want: &str) -> bool {
        matches!(self, Head::Untagged { name, .. } if name == want)
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn upper(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_and_responses() {
        let cmd = |t: &str| Head::parse(Side::Client, t.as_bytes());
        let rsp = |t: &str| Head::parse(Side::Server, t.as_bytes());
        assert_eq!(
            cmd("a1 uid fetch 1:* (FLAGS)"),
            Head::Command {
                tag: "a1".into(),
                name: "UID".into()
            }
        );
        assert_eq!(
            cmd("DONE"),
            Head::Command {
                tag: "DONE".into(),
                name: String::new()
            }
        );
        assert_eq!(
            rsp("* 12 FETCH (UID 3)"),
            Head::Untagged {
                number: Some(12),
                name: "FETCH".into()
            }
        );
        assert_eq!(
            rsp("* OK [UIDVALIDITY 5] ok"),
            Head::Untagged {
                number: None,
                name: "OK".into()
            }
        );
        assert_eq!(rsp("+ idling"), Head::Continuation);
        assert_eq!(rsp("+"), Head::Continuation);
        assert_eq!(
            rsp("a1 no [TRYCREATE] x"),
            Head::Tagged {
                tag: "a1".into(),
                status: "NO".into()
            }
        );
        assert_eq!(
            rsp(""),
            Head::Tagged {
                tag: String::new(),
                status: String::new()
            }
        );
        assert!(rsp("* capability IMAP4rev1").is_untagged("CAPABILITY"));
    }
}
