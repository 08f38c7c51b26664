//! Client commands the proxy acts on, parsed from a command's tokens.
//!
//! Everything else is [`Command::Other`] and is relayed without a second
//! look; the server stays the judge of what is valid.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::token::Token;

/// A client command, as far as the proxy cares.
#[derive(Clone, PartialEq, Eq)]
pub enum Command {
    /// `LOGIN user password`.
    Login {
        /// The user name.
        user: String,
        /// The password, for the proxy's own completion fetches.
        password: String,
    },
    /// `AUTHENTICATE mechanism [initial-response]`.
    Authenticate {
        /// The SASL mechanism in upper case.
        mechanism: String,
        /// The decoded initial response (SASL-IR), if one was sent.
        initial: Option<Vec<u8>>,
    },
    /// `SELECT` or `EXAMINE`.
    Select {
        /// The mailbox name as the client spelled it (modified UTF-7).
        mailbox: String,
    },
    /// `APPEND mailbox ...`; the message literals follow.
    Append {
        /// The target mailbox.
        mailbox: String,
    },
    /// `CLOSE` or `UNSELECT`: no mailbox is selected afterwards.
    Close,
    /// `STARTTLS`: answered by the proxy itself, never relayed.
    StartTls,
    /// `COMPRESS`: refused by the proxy, never relayed (it could not read a
    /// compressed stream).
    Compress,
    /// `IDLE`: the session may stay silent until `DONE`.
    Idle,
    /// Anything else.
    Other,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Never print credentials, not even in a debug log.
            Command::Login { user, .. } => write!(f, "Login {{ user: {user:?}, .. }}"),
            Command::Authenticate { mechanism, .. } => {
                write!(f, "Authenticate {{ {mechanism}, .. }}")
            }
            Command::Select { mailbox } => write!(f, "Select {{ {mailbox:?} }}"),
            Command::Append { mailbox } => write!(f, "Append {{ {mailbox:?} }}"),
            other => write!(f, "{}", other.kind()),
        }
    }
}

impl Command {
    /// Interprets a whole command: `tag NAME args...`.
    pub fn parse(tokens: &[Token]) -> Command {
        let name = match tokens.get(1) {
            Some(Token::Atom(name)) => name.to_ascii_uppercase(),
            _ => return Command::Other,
        };
        let arg = |i: usize| tokens.get(i).and_then(Token::astring);
        match name.as_str() {
            "LOGIN" => match (arg(2), arg(3)) {
                (Some(user), Some(password)) => Command::Login { user, password },
                _ => Command::Other,
            },
            "AUTHENTICATE" => match arg(2) {
                Some(mechanism) => Command::Authenticate {
                    mechanism: mechanism.to_ascii_uppercase(),
                    initial: arg(3).and_then(|ir| sasl_response(ir.as_bytes())),
                },
                None => Command::Other,
            },
            "SELECT" | "EXAMINE" => {
                arg(2).map_or(Command::Other, |mailbox| Command::Select { mailbox })
            }
            "APPEND" => {
                append_mailbox(tokens).map_or(Command::Other, |mailbox| Command::Append { mailbox })
            }
            "CLOSE" | "UNSELECT" => Command::Close,
            "STARTTLS" => Command::StartTls,
            "COMPRESS" => Command::Compress,
            "IDLE" => Command::Idle,
            _ => Command::Other,
        }
    }

    /// A short name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Login { .. } => "login",
            Command::Authenticate { .. } => "authenticate",
            Command::Select { .. } => "select",
            Command::Append { .. } => "append",
            Command::Close => "close",
            Command::StartTls => "starttls",
            Command::Compress => "compress",
            Command::Idle => "idle",
            Command::Other => "other",
        }
    }
}

/// The target of an APPEND whose tokens so far are `tokens`, once the
/// mailbox argument has been seen: a literal starting now is a message.
/// CATENATE (RFC 4469) builds a message from pieces; none of its literals
/// is a whole message, so it yields `None`.
pub fn append_mailbox(tokens: &[Token]) -> Option<String> {
    if !tokens.get(1)?.is_atom("APPEND") || tokens.iter().any(|t| t.is_atom("CATENATE")) {
        return None;
    }
    tokens.get(2)?.astring()
}

/// Decodes one base64 SASL response line; `=` is the empty response and
/// `*` (cancel) or bad base64 yield `None`.
pub fn sasl_response(line: &[u8]) -> Option<Vec<u8>> {
    let line = line.trim_ascii();
    if line == b"=" {
        return Some(Vec::new());
    }
    STANDARD.decode(line).ok()
}

#[cfg(test)]
mod tests {
    use super::super::token::lex;
    use super::*;

    fn parse(text: &str) -> Command {
        Command::parse(&lex(text.as_bytes()))
    }

    #[test]
    fn parses_the_commands_the_proxy_follows() {
        assert_eq!(
            parse(r#"a LOGIN alice "se\"cret""#),
            Command::Login {
                user: "alice".into(),
                password: "se\"cret".into()
            }
        );
        assert_eq!(parse("a login alice"), Command::Other);
        assert_eq!(
            parse("a AUTHENTICATE plain AGFsaWNlAHNlY3JldA=="),
            Command::Authenticate {
                mechanism: "PLAIN".into(),
                initial: Some(b"\0alice\0secret".to_vec())
            }
        );
        assert_eq!(
            parse("a AUTHENTICATE PLAIN"),
            Command::Authenticate {
                mechanism: "PLAIN".into(),
                initial: None
            }
        );
        assert_eq!(
            parse("a examine \"Sent Items\""),
            Command::Select {
                mailbox: "Sent Items".into()
            }
        );
        assert_eq!(
            parse("a APPEND INBOX (\\Seen)"),
            Command::Append {
                mailbox: "INBOX".into()
            }
        );
        assert_eq!(parse("a UID FETCH 1 BODY[]"), Command::Other);
        assert_eq!(append_mailbox(&lex(b"a APPEND ")), None);
        assert_eq!(
            append_mailbox(&lex(b"a APPEND Sent (\\Seen)")).as_deref(),
            Some("Sent")
        );
        assert_eq!(append_mailbox(&lex(b"a APPEND Sent CATENATE (TEXT")), None);
        assert_eq!(parse("a starttls"), Command::StartTls);
        assert_eq!(parse("a COMPRESS DEFLATE"), Command::Compress);
        assert_eq!(parse("DONE"), Command::Other);
        assert_eq!(parse(""), Command::Other);
    }

    #[test]
    fn debug_output_hides_passwords() {
        let shown = format!("{:?}", parse("a LOGIN alice hunter2"));
        assert!(
            shown.contains("alice") && !shown.contains("hunter2"),
            "{shown}"
        );
        let shown = format!("{:?}", parse("a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA=="));
        assert!(
            !shown.contains("secret") && !shown.contains("AGFsaWNl"),
            "{shown}"
        );
    }

    #[test]
    fn sasl_responses_decode() {
        assert_eq!(sasl_response(b"="), Some(Vec::new()));
        assert_eq!(sasl_response(b"YWxpY2U=\r\n"), Some(b"alice".to_vec()));
        assert_eq!(sasl_response(b"*"), None);
    }
}
