//! SMTP commands: one framed line in, one typed [`Command`] out, no I/O.
//!
//! Errors map to the client's reply in [`CommandError::reply`], the one
//! place where parse failures become SMTP codes.

use super::envelope::{EnvelopeError, MailFrom, RcptTo};
use super::line::LineError;
use super::reply::Reply;

/// A command from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `EHLO domain`.
    Ehlo(String),
    /// `HELO domain`.
    Helo(String),
    /// `MAIL FROM:<path> params`.
    Mail(MailFrom),
    /// `RCPT TO:<path> params`.
    Rcpt(RcptTo),
    /// `DATA`.
    Data,
    /// `BDAT`; not offered (no CHUNKING), so always refused.
    Bdat,
    /// `RSET`.
    Rset,
    /// `NOOP [string]`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `STARTTLS`.
    StartTls,
    /// `AUTH mechanism [initial-response]`.
    Auth {
        /// The SASL mechanism, uppercased.
        mechanism: String,
        /// The initial response as sent (`=` stands for an empty one).
        initial: Option<String>,
    },
    /// `VRFY string`.
    Vrfy(String),
    /// `EXPN string`.
    Expn(String),
    /// `HELP [topic]`.
    Help,
    /// `XCLIENT ...` / `XFORWARD ...`: only mailseal may send these upstream.
    Xclient,
    /// Anything else; the uppercased verb.
    Unknown(String),
}

impl Command {
    /// Parses a command line (without its line ending).
    pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
        let (verb, arg) = match line.iter().position(|&b| b == b' ') {
            Some(sp) => (&line[..sp], &line[sp + 1..]),
            None => (line, &[][..]),
        };
        let verb = String::from_utf8_lossy(verb).to_ascii_uppercase();
        let no_arg = |cmd: Command, syntax: &'static str| {
            if arg.iter().all(|&b| b == b' ') {
                Ok(cmd)
            } else {
                Err(CommandError::Syntax(syntax))
            }
        };
        match verb.as_str() {
            "EHLO" => Ok(Command::Ehlo(domain(arg, "EHLO domain")?)),
            "HELO" => Ok(Command::Helo(domain(arg, "HELO domain")?)),
            "MAIL" => Ok(Command::Mail(MailFrom::parse(arg)?)),
            "RCPT" => Ok(Command::Rcpt(RcptTo::parse(arg)?)),
            "DATA" => no_arg(Command::Data, "DATA"),
            "BDAT" => Ok(Command::Bdat),
            "RSET" => no_arg(Command::Rset, "RSET"),
            "NOOP" => Ok(Command::Noop),
            "QUIT" => Ok(Command::Quit),
            "STARTTLS" => no_arg(Command::StartTls, "STARTTLS"),
            "AUTH" => auth(arg),
            "VRFY" => Ok(Command::Vrfy(text(arg)?)),
            "EXPN" => Ok(Command::Expn(text(arg)?)),
            "HELP" => Ok(Command::Help),
            "XCLIENT" | "XFORWARD" => Ok(Command::Xclient),
            _ => Ok(Command::Unknown(verb)),
        }
    }

    /// The verb, for logs.
    pub fn verb(&self) -> &str {
        match self {
            Command::Ehlo(_) => "EHLO",
            Command::Helo(_) => "HELO",
            Command::Mail(_) => "MAIL",
            Command::Rcpt(_) => "RCPT",
            Command::Data => "DATA",
            Command::Bdat => "BDAT",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
            Command::Vrfy(_) => "VRFY",
            Command::Expn(_) => "EXPN",
            Command::Help => "HELP",
            Command::Xclient => "XCLIENT",
            Command::Unknown(v) => v,
        }
    }
}

/// Why a command line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The line itself was bad (too long, NUL, bare CR).
    #[error(transparent)]
    Line(#[from] LineError),
    /// MAIL or RCPT arguments were bad.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// Other arguments were bad; the expected syntax.
    #[error("syntax: {0}")]
    Syntax(&'static str),
}

impl CommandError {
    /// The reply the client gets.
    pub fn reply(&self) -> Reply {
        match self {
            CommandError::Line(LineError::TooLong) => Reply::new(500, "5.5.2 line too long"),
            CommandError::Line(LineError::Nul) => Reply::new(500, "5.5.2 NUL byte not allowed"),
            CommandError::Line(LineError::BareCr) => Reply::new(500, "5.5.2 bare CR not allowed"),
            CommandError::Envelope(EnvelopeError::Syntax(s)) | CommandError::Syntax(s) => {
                Reply::new(501, format!("5.5.4 Syntax: {s}"))
            }
            CommandError::Envelope(EnvelopeError::Address) => {
                Reply::new(501, "5.1.3 bad address syntax")
            }
            CommandError::Envelope(EnvelopeError::Utf8) => {
                Reply::new(501, "5.5.4 invalid UTF-8 in address or parameters")
            }
            CommandError::Envelope(EnvelopeError::Parameter(p)) => {
                Reply::new(555, format!("5.5.4 unsupported or invalid parameter {p}"))
            }
        }
    }
}

/// The domain (or address literal) of EHLO/HELO: one printable token.
fn domain(arg: &[u8], syntax: &'static str) -> Result<String, CommandError> {
    let arg = text(arg).map_err(|_| CommandError::Syntax(syntax))?;
    let token = arg.split(' ').find(|t| !t.is_empty()).unwrap_or_default();
    if token.is_empty() || token.len() > 255 {
        return Err(CommandError::Syntax(syntax));
    }
    Ok(token.to_owned())
}

/// A free-text argument: valid UTF-8 without control characters.
fn text(arg: &[u8]) -> Result<String, CommandError> {
    let s = std::str::from_utf8(arg).map_err(|_| EnvelopeError::Utf8)?;
    if s.chars().any(char::is_control) {
        return Err(CommandError::Syntax("printable text"));
    }
    Ok(s.trim_matches(' ').to_owned())
}

fn auth(arg: &[u8]) -> Result<Command, CommandError> {
    const SYNTAX: &str = "AUTH mechanism [initial-response]";
    let arg = text(arg).map_err(|_| CommandError::Syntax(SYNTAX))?;
    let mut words = arg.split(' ').filter(|w| !w.is_empty());
    let mechanism = words.next().ok_or(CommandError::Syntax(SYNTAX))?;
    let valid = mechanism.len() <= 20
        && mechanism
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let initial = words.next().map(str::to_owned);
    if !valid || words.next().is_some() {
        return Err(CommandError::Syntax(SYNTAX));
    }
    Ok(Command::Auth {
        mechanism: mechanism.to_ascii_uppercase(),
        initial,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_parse_case_insensitively() {
        let cases: &[(&[u8], Command)] = &[
            (
                b"ehlo client.example",
                Command::Ehlo("client.example".into()),
            ),
            (b"HELO [192.0.2.1]", Command::Helo("[192.0.2.1]".into())),
            (b"data", Command::Data),
            (b"RSET", Command::Rset),
            (b"NOOP hello", Command::Noop),
            (b"quit", Command::Quit),
            (b"StartTLS", Command::StartTls),
            (b"BDAT 100 LAST", Command::Bdat),
            (b"HELP", Command::Help),
            (b"VRFY postmaster", Command::Vrfy("postmaster".into())),
            (b"XCLIENT ADDR=1.2.3.4", Command::Xclient),
            (b"XFORWARD PROTO=ESMTP", Command::Xclient),
            (b"ETRN x", Command::Unknown("ETRN".into())),
            (b"", Command::Unknown("".into())),
        ];
        for (line, cmd) in cases {
            assert_eq!(Command::parse(line).as_ref(), Ok(cmd), "{line:?}");
        }
        let Ok(Command::Mail(m)) = Command::parse(b"MAIL FROM:<> SIZE=5") else {
            panic!("MAIL did not parse");
        };
        assert_eq!((m.address.as_str(), m.size), ("", Some(5)));
    }

    #[test]
    fn auth_forms() {
        assert_eq!(
            Command::parse(b"AUTH plain AGEAYg=="),
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("AGEAYg==".into())
            })
        );
        assert_eq!(
            Command::parse(b"AUTH LOGIN"),
            Ok(Command::Auth {
                mechanism: "LOGIN".into(),
                initial: None
            })
        );
        assert!(Command::parse(b"AUTH").is_err());
        assert!(Command::parse(b"AUTH PLAIN a b").is_err());
    }

    #[test]
    fn errors_map_to_replies() {
        let code = |line: &[u8]| Command::parse(line).map_err(|e| e.reply().code());
        assert_eq!(code(b"EHLO"), Err(501));
        assert_eq!(code(b"DATA now"), Err(501));
        assert_eq!(code(b"STARTTLS x"), Err(501));
        assert_eq!(code(b"MAIL FROM:<a\xff>"), Err(501));
        assert_eq!(code(b"MAIL FROM:<a@b> FOO=="), Err(555));
        assert_eq!(code(b"RCPT TO:<>"), Err(501));
        let too_long = CommandError::from(LineError::TooLong).reply();
        assert_eq!(too_long.to_wire(), b"500 5.5.2 line too long\r\n");
    }
}
