//! The client's POP3 commands (RFC 1939, 2449, 2595, 5034, 6856), read
//! from one line without I/O: the keyword, its arguments, and whether the
//! server's `+OK` to it starts a multi-line response.

/// The commands the proxy treats differently; everything else is relayed
/// as it came and answered with one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name`.
    User(String),
    /// `PASS secret` (never logged).
    Pass,
    /// `APOP name digest`.
    Apop(String),
    /// `AUTH [mechanism [initial-response]]`.
    Auth {
        /// The SASL mechanism; `None` asks for the list (a multi-line
        /// answer on the servers that support it).
        mechanism: Option<String>,
        /// The initial response (RFC 5034), base64.
        initial: Option<String>,
    },
    /// `STLS`: answered by mailseal, never relayed.
    Stls,
    /// `CAPA`: relayed, the answer filtered.
    Capa,
    /// `RETR msg`: the download that is archived.
    Retr(u32),
    /// `TOP msg n`: a partial download.
    Top(u32),
    /// `UIDL [msg]`.
    Uidl(Option<u32>),
    /// `LIST [msg]`.
    List(Option<u32>),
    /// `QUIT`.
    Quit,
    /// Any other command (STAT, DELE, NOOP, RSET, UTF8, LANG, ...), or one
    /// with arguments that do not parse; the server judges it.
    Other,
}

impl Command {
    /// Reads one command line (with or without its CRLF).
    pub fn parse(line: &[u8]) -> Command {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']);
        let mut words = text.split(' ').filter(|w| !w.is_empty());
        let Some(keyword) = words.next() else {
            return Command::Other;
        };
        let args: Vec<&str> = words.collect();
        let number = |i: usize| args.get(i).and_then(|a| a.parse::<u32>().ok());
        match (keyword.to_ascii_uppercase().as_str(), args.len()) {
            ("USER", 1) => Command::User(args[0].to_owned()),
            ("PASS", _) => Command::Pass,
            ("APOP", 2) => Command::Apop(args[0].to_owned()),
            ("AUTH", 0..=2) => Command::Auth {
                mechanism: args.first().map(|m| m.to_ascii_uppercase()),
                initial: args.get(1).map(|s| (*s).to_owned()),
            },
            ("STLS", 0) => Command::Stls,
            ("CAPA", 0) => Command::Capa,
            ("RETR", 1) => number(0).map_or(Command::Other, Command::Retr),
            ("TOP", 2) if number(1).is_some() => number(0).map_or(Command::Other, Command::Top),
            ("UIDL", 0) => Command::Uidl(None),
            ("UIDL", 1) => number(0).map_or(Command::Other, |n| Command::Uidl(Some(n))),
            ("LIST", 0) => Command::List(None),
            ("LIST", 1) => number(0).map_or(Command::Other, |n| Command::List(Some(n))),
            ("QUIT", 0) => Command::Quit,
            _ => Command::Other,
        }
    }

    /// True when a `+OK` to this command is followed by lines up to a
    /// terminating `.`.
    pub fn multiline(&self) -> bool {
        matches!(
            self,
            Command::Capa
                | Command::Retr(_)
                | Command::Top(_)
                | Command::Uidl(None)
                | Command::List(None)
                | Command::Auth {
                    mechanism: None,
                    ..
                }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_read_like_the_rfc() {
        let cases: &[(&[u8], Command)] = &[
            (b"USER alice\r\n", Command::User("alice".into())),
            (b"pass s e c r e t\r\n", Command::Pass),
            (
                b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
                Command::Apop("mrose".into()),
            ),
            (b"retr 12\r\n", Command::Retr(12)),
            (b"TOP 3 0\r\n", Command::Top(3)),
            (b"TOP 3\r\n", Command::Other),
            (b"RETR x\r\n", Command::Other),
            (b"RETR 99999999999\r\n", Command::Other),
            (b"UIDL\r\n", Command::Uidl(None)),
            (b"UIDL 4\r\n", Command::Uidl(Some(4))),
            (b"LIST\n", Command::List(None)),
            (b"STLS\r\n", Command::Stls),
            (b"CAPA\r\n", Command::Capa),
            (b"QUIT\r\n", Command::Quit),
            (b"DELE 1\r\n", Command::Other),
            (b"\r\n", Command::Other),
            (b"\xff\xfe\r\n", Command::Other),
        ];
        for (line, want) in cases {
            assert_eq!(
                &Command::parse(line),
                want,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn auth_keeps_mechanism_and_initial_response() {
        assert_eq!(
            Command::parse(b"AUTH plain AGFsaWNlAHNlY3JldA==\r\n"),
            Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some("AGFsaWNlAHNlY3JldA==".into())
            }
        );
        assert!(Command::parse(b"AUTH\r\n").multiline());
        assert!(!Command::parse(b"AUTH LOGIN\r\n").multiline());
    }

    #[test]
    fn only_listing_commands_are_multiline() {
        for (line, multi) in [
            (&b"RETR 1"[..], true),
            (b"TOP 1 5", true),
            (b"UIDL", true),
            (b"UIDL 1", false),
            (b"LIST", true),
            (b"LIST 1", false),
            (b"CAPA", true),
            (b"STAT", false),
            (b"DELE 1", false),
        ] {
            assert_eq!(Command::parse(line).multiline(), multi, "{line:?}");
        }
    }
}
