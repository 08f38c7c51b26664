//! `MAIL FROM` and `RCPT TO` arguments: the path and its ESMTP parameters.
//!
//! Written here rather than taken from `smtp-proto` because an archive and a
//! relay need three things it does not do: addresses are kept exactly as
//! the client wrote them (quotes and source routes included; `smtp-proto`
//! strips them), invalid UTF-8 is an error (`smtp-proto` replaces it with
//! U+FFFD, which would archive an address nobody sent), and parameters the
//! parser does not know are kept rather than refused, so the proxy can pass
//! the upstream's extensions through. Known parameters (SIZE, BODY,
//! SMTPUTF8, RET, ENVID, AUTH, NOTIFY, ORCPT) are checked and typed.

/// Longest path accepted, brackets excluded (RFC 5321 4.5.3.1.3 says 256;
/// SMTPUTF8 addresses count bytes, so allow some slack).
pub const MAX_PATH: usize = 512;

/// Why a MAIL or RCPT argument was rejected; each maps to one reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The `FROM:` / `TO:` keyword or the brackets are missing.
    #[error("syntax error in {0}")]
    Syntax(&'static str),
    /// The address has control characters, unbalanced quotes or is too long.
    #[error("invalid address")]
    Address,
    /// The line is not valid UTF-8.
    #[error("invalid UTF-8 in address or parameters")]
    Utf8,
    /// A parameter is malformed, repeated, or has an invalid value.
    #[error("invalid parameter {0}")]
    Parameter(String),
}

/// One ESMTP parameter as written (`SIZE=1000`, `SMTPUTF8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The keyword, uppercased.
    pub keyword: String,
    /// The value after `=`, as written.
    pub value: Option<String>,
}

/// `BODY=` values (RFC 6152, RFC 3030).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// `7BIT`.
    SevenBit,
    /// `8BITMIME`.
    EightBitMime,
    /// `BINARYMIME` (with CHUNKING).
    BinaryMime,
}

/// The parsed argument of `MAIL FROM:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFrom {
    /// The reverse path without brackets; empty for the null sender `<>`.
    pub address: String,
    /// `SIZE=`: the size the client announces.
    pub size: Option<u64>,
    /// `BODY=`.
    pub body: Option<Body>,
    /// `SMTPUTF8` was given.
    pub smtputf8: bool,
    /// Every parameter as written, in order, known ones included.
    pub params: Vec<Param>,
}

/// The parsed argument of `RCPT TO:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcptTo {
    /// The forward path without brackets.
    pub address: String,
    /// Every parameter as written, in order, known ones included.
    pub params: Vec<Param>,
}

/// Parameters of MAIL whose syntax is checked here.
const MAIL_KNOWN: &[&str] = &["SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH"];
/// Parameters of RCPT whose syntax is checked here.
const RCPT_KNOWN: &[&str] = &["NOTIFY", "ORCPT"];

impl MailFrom {
    /// Parses what follows `MAIL ` (`FROM:<a@b> SIZE=10`).
    pub fn parse(arg: &[u8]) -> Result<MailFrom, EnvelopeError> {
        let (address, params) = split_path(arg, "FROM:", "MAIL FROM:<address>")?;
        let mut mail = MailFrom {
            address,
            size: None,
            body: None,
            smtputf8: false,
            params,
        };
        for p in &mail.params {
            let bad = || EnvelopeError::Parameter(p.keyword.clone());
            let value = p.value.as_deref();
            match (p.keyword.as_str(), value) {
                ("SIZE", Some(v)) => mail.size = Some(digits(v).ok_or_else(bad)?),
                ("BODY", Some(v)) => mail.body = Some(body(v).ok_or_else(bad)?),
                ("SMTPUTF8", None) => mail.smtputf8 = true,
                ("RET", Some(v)) if v.eq_ignore_ascii_case("FULL") => {}
                ("RET", Some(v)) if v.eq_ignore_ascii_case("HDRS") => {}
                ("ENVID" | "AUTH", Some(v)) if is_xtext(v) => {}
                (k, _) if MAIL_KNOWN.contains(&k) => return Err(bad()),
                _ => {}
            }
        }
        Ok(mail)
    }

    /// Parameters this parser does not know (a journal refuses them).
    pub fn unknown_params(&self) -> impl Iterator<Item = &Param> {
        self.params
            .iter()
            .filter(|p| !MAIL_KNOWN.contains(&p.keyword.as_str()))
    }
}

impl RcptTo {
    /// Parses what follows `RCPT ` (`TO:<a@b> NOTIFY=NEVER`).
    pub fn parse(arg: &[u8]) -> Result<RcptTo, EnvelopeError> {
        let (address, params) = split_path(arg, "TO:", "RCPT TO:<address>")?;
        if address.is_empty() {
            return Err(EnvelopeError::Address);
        }
        for p in &params {
            let bad = || EnvelopeError::Parameter(p.keyword.clone());
            match (p.keyword.as_str(), p.value.as_deref()) {
                ("NOTIFY", Some(v)) if is_notify(v) => {}
                ("ORCPT", Some(v)) if is_orcpt(v) => {}
                (k, _) if RCPT_KNOWN.contains(&k) => return Err(bad()),
                _ => {}
            }
        }
        Ok(RcptTo { address, params })
    }

    /// Parameters this parser does not know (a journal refuses them).
    pub fn unknown_params(&self) -> impl Iterator<Item = &Param> {
        self.params
            .iter()
            .filter(|p| !RCPT_KNOWN.contains(&p.keyword.as_str()))
    }
}

/// Splits `FROM:<path> params` into the path and the parameter list.
fn split_path(
    arg: &[u8],
    keyword: &str,
    syntax: &'static str,
) -> Result<(String, Vec<Param>), EnvelopeError> {
    let arg = std::str::from_utf8(arg).map_err(|_| EnvelopeError::Utf8)?;
    let head = arg
        .get(..keyword.len())
        .ok_or(EnvelopeError::Syntax(syntax))?;
    if !head.eq_ignore_ascii_case(keyword) {
        return Err(EnvelopeError::Syntax(syntax));
    }
    // Postfix accepts a space after the colon; so do many clients' peers.
    let rest = arg[keyword.len()..].trim_start_matches(' ');
    let (address, rest) = match rest.strip_prefix('<') {
        Some(inner) => {
            let end = closing_bracket(inner).ok_or(EnvelopeError::Syntax(syntax))?;
            (&inner[..end], &inner[end + 1..])
        }
        // Without brackets (RFC 821 style), the path runs to the next space.
        None => rest.split_at(rest.find(' ').unwrap_or(rest.len())),
    };
    check_address(address)?;
    if !rest.is_empty() && !rest.starts_with(' ') {
        return Err(EnvelopeError::Syntax(syntax));
    }
    Ok((address.to_owned(), parse_params(rest)?))
}

/// Position of the `>` closing a path, skipping quoted strings.
fn closing_bracket(inner: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in inner.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn check_address(address: &str) -> Result<(), EnvelopeError> {
    let bad_char = address.chars().any(char::is_control);
    // A space is only legal inside a quoted local part.
    let bad_space = address.contains(' ') && !address.contains('"');
    if address.len() > MAX_PATH || bad_char || bad_space {
        return Err(EnvelopeError::Address);
    }
    Ok(())
}

/// Parses ` KEY=value KEY2` into parameters; repeated keywords are errors.
fn parse_params(rest: &str) -> Result<Vec<Param>, EnvelopeError> {
    let mut params: Vec<Param> = Vec::new();
    for word in rest.split(' ').filter(|w| !w.is_empty()) {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v.to_owned())),
            None => (word, None),
        };
        let keyword = key.to_ascii_uppercase();
        let key_ok = key.starts_with(|c: char| c.is_ascii_alphanumeric())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        let value_ok = value
            .as_deref()
            .is_none_or(|v| !v.is_empty() && !v.contains('='));
        if !key_ok || !value_ok || params.iter().any(|p| p.keyword == keyword) {
            return Err(EnvelopeError::Parameter(keyword));
        }
        params.push(Param { keyword, value });
    }
    Ok(params)
}

fn digits(v: &str) -> Option<u64> {
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

fn body(v: &str) -> Option<Body> {
    match v.to_ascii_uppercase().as_str() {
        "7BIT" => Some(Body::SevenBit),
        "8BITMIME" => Some(Body::EightBitMime),
        "BINARYMIME" => Some(Body::BinaryMime),
        _ => None,
    }
}

/// RFC 3461 xtext: printable ASCII except `+` and `=`, or `+XX` hex.
fn is_xtext(v: &str) -> bool {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                let hex = b.get(i + 1..i + 3);
                if !hex.is_some_and(|h| h.iter().all(|c| matches!(c, b'0'..=b'9' | b'A'..=b'F'))) {
                    return false;
                }
                i += 3;
            }
            b'!'..=b'~' if b[i] != b'=' => i += 1,
            // SMTPUTF8 (RFC 6533) allows UTF-8 in these values.
            0x80.. => i += 1,
            _ => return false,
        }
    }
    !b.is_empty()
}

fn is_notify(v: &str) -> bool {
    let items: Vec<String> = v.split(',').map(str::to_ascii_uppercase).collect();
    if items.len() == 1 && items[0] == "NEVER" {
        return true;
    }
    let known = ["SUCCESS", "FAILURE", "DELAY"];
    items.iter().all(|i| known.contains(&i.as_str()))
        && (1..=3).contains(&items.len())
        && items
            .iter()
            .enumerate()
            .all(|(n, i)| !items[..n].contains(i))
}

/// `ORCPT=addr-type;xtext` (RFC 3461 4.2).
fn is_orcpt(v: &str) -> bool {
    match v.split_once(';') {
        Some((kind, addr)) => {
            !kind.is_empty()
                && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && is_xtext(addr)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_from_forms() {
        let m = MailFrom::parse(b"FROM:<>").unwrap();
        assert_eq!(m.address, "");
        let m = MailFrom::parse(b"from: <a@b.example> SIZE=1000 BODY=8bitmime SMTPUTF8").unwrap();
        assert_eq!(m.address, "a@b.example");
        assert_eq!(m.size, Some(1000));
        assert_eq!(m.body, Some(Body::EightBitMime));
        assert!(m.smtputf8);
        let m = MailFrom::parse(b"FROM:<a@b> RET=HDRS ENVID=QQ+2B314159 AUTH=<>").unwrap();
        assert_eq!(m.params.len(), 3);
        assert_eq!(m.unknown_params().count(), 0);
        let m = MailFrom::parse(b"FROM:a@b XFOO=1").unwrap();
        assert_eq!(m.address, "a@b");
        assert_eq!(
            m.unknown_params().next().map(|p| p.keyword.as_str()),
            Some("XFOO")
        );
    }

    #[test]
    fn addresses_are_kept_as_written() {
        let m = MailFrom::parse(br#"FROM:<"john >doe"@example.com>"#).unwrap();
        assert_eq!(m.address, r#""john >doe"@example.com"#);
        let r = RcptTo::parse(b"TO:<@relay.example:user@example.com>").unwrap();
        assert_eq!(r.address, "@relay.example:user@example.com");
        let r =
            RcptTo::parse("TO:<jörg@bücher.example> NOTIFY=SUCCESS,FAILURE".as_bytes()).unwrap();
        assert_eq!(r.address, "jörg@bücher.example");
        let r = RcptTo::parse(b"TO:<Postmaster> ORCPT=rfc822;a+40b.example").unwrap();
        assert_eq!(r.address, "Postmaster");
    }

    #[test]
    fn bad_arguments_are_rejected() {
        use EnvelopeError::*;
        let cases: &[(&[u8], EnvelopeError)] = &[
            (b"FROM<a@b>", Syntax("MAIL FROM:<address>")),
            (b"FROM:<a@b", Syntax("MAIL FROM:<address>")),
            (b"FROM:<a@b>SIZE=1", Syntax("MAIL FROM:<address>")),
            (b"FROM:<a\x01@b>", Address),
            (b"FROM:<a\xff@b>", Utf8),
            (b"FROM:<a@b> SIZE=abc", Parameter("SIZE".into())),
            (
                b"FROM:<a@b> SIZE=99999999999999999999999",
                Parameter("SIZE".into()),
            ),
            (b"FROM:<a@b> BODY=9BIT", Parameter("BODY".into())),
            (b"FROM:<a@b> SMTPUTF8=yes", Parameter("SMTPUTF8".into())),
            (b"FROM:<a@b> RET=ALL", Parameter("RET".into())),
            (b"FROM:<a@b> ENVID=a+zz", Parameter("ENVID".into())),
            (b"FROM:<a@b> SIZE=1 SIZE=2", Parameter("SIZE".into())),
            (b"FROM:<a@b> =x", Parameter("".into())),
            (b"FROM:<a@b> X=", Parameter("X".into())),
        ];
        for (input, expected) in cases {
            assert_eq!(MailFrom::parse(input).as_ref(), Err(expected), "{input:?}");
        }
        assert_eq!(RcptTo::parse(b"TO:<>"), Err(Address));
        assert_eq!(RcptTo::parse(b"TO:<a\xc3@b>"), Err(Utf8));
        for bad in [
            "NOTIFY=NEVER,SUCCESS",
            "NOTIFY=SOMETIMES",
            "NOTIFY=DELAY,DELAY",
            "ORCPT=a@b",
        ] {
            let line = format!("TO:<a@b> {bad}");
            assert!(RcptTo::parse(line.as_bytes()).is_err(), "{bad}");
        }
    }
}
