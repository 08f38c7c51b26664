//! What the upstream offers (its EHLO capabilities) and what mailseal tells
//! it about the real client (XCLIENT / XFORWARD attributes). No I/O.
//!
//! XCLIENT and XFORWARD follow Postfix's XCLIENT_README and
//! XFORWARD_README: `XCLIENT NAME=... ADDR=...`, values xtext-encoded
//! (RFC 1891), IPv6 addresses prefixed `IPV6:`, unknown values sent as
//! `[UNAVAILABLE]`, only attributes the server lists in its EHLO line, and
//! no command longer than 512 bytes (attributes are split over several
//! commands when needed).

use std::net::IpAddr;

use crate::smtp::reply::Reply;

/// The longest command line we send, CRLF excluded (RFC 5321: 512 with it).
const MAX_COMMAND: usize = 510;

/// The extensions an upstream advertised in its EHLO reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Keyword (uppercase) and its parameters, one entry per EHLO line.
    entries: Vec<(String, Vec<String>)>,
}

impl Capabilities {
    /// Reads the lines after the first of a `250` EHLO reply.
    pub fn parse(reply: &Reply) -> Capabilities {
        let entries = reply
            .lines()
            .iter()
            .skip(1)
            .filter_map(|line| {
                let text = String::from_utf8_lossy(line);
                let mut words = text.split_ascii_whitespace();
                let keyword = words.next()?.to_ascii_uppercase();
                Some((keyword, words.map(str::to_owned).collect()))
            })
            .collect();
        Capabilities { entries }
    }

    /// True when `keyword` (any case) was advertised.
    pub fn has(&self, keyword: &str) -> bool {
        self.params(keyword).is_some()
    }

    /// The parameters of an advertised extension (`XCLIENT NAME ADDR`).
    pub fn params(&self, keyword: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
            .map(|(_, p)| p.as_slice())
    }

    /// The upstream's `SIZE` limit; `None` when absent or unlimited (0).
    pub fn size(&self) -> Option<u64> {
        self.params("SIZE")?
            .first()?
            .parse()
            .ok()
            .filter(|&n| n > 0)
    }
}

/// The real client, as the upstream should see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's IP address (`[UNAVAILABLE]` when unknown).
    pub addr: Option<IpAddr>,
    /// The client's TCP port.
    pub port: Option<u16>,
    /// The client's verified host name (`[UNAVAILABLE]` when none).
    pub name: Option<String>,
    /// The HELO/EHLO argument the client gave.
    pub helo: Option<String>,
    /// `SMTP` or `ESMTP`: which greeting the client used.
    pub proto: Option<String>,
    /// The SASL login name, once the client authenticated (XCLIENT only).
    pub login: Option<String>,
}

const UNAVAILABLE: &str = "[UNAVAILABLE]";

impl ClientInfo {
    /// `XCLIENT` command lines carrying the attributes the server listed.
    pub fn xclient_lines(&self, supported: &[String]) -> Vec<String> {
        command_lines("XCLIENT", &self.attributes(true), supported)
    }

    /// `XFORWARD` command lines carrying the attributes the server listed.
    pub fn xforward_lines(&self, supported: &[String]) -> Vec<String> {
        command_lines("XFORWARD", &self.attributes(false), supported)
    }

    /// Attribute names and raw values; XCLIENT knows LOGIN, XFORWARD
    /// knows SOURCE.
    fn attributes(&self, xclient: bool) -> Vec<(&'static str, String)> {
        let or_unavailable = |v: Option<String>| v.unwrap_or_else(|| UNAVAILABLE.to_owned());
        let addr = self.addr.map(|a| match a.to_canonical() {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("IPV6:{v6}"),
        });
        let mut attrs = vec![
            ("NAME", or_unavailable(self.name.clone())),
            ("ADDR", or_unavailable(addr)),
            ("PORT", or_unavailable(self.port.map(|p| p.to_string()))),
            ("HELO", or_unavailable(self.helo.clone())),
        ];
        attrs.extend(self.proto.clone().map(|p| ("PROTO", p)));
        if xclient {
            attrs.extend(self.login.clone().map(|l| ("LOGIN", l)));
        } else {
            attrs.push(("SOURCE", "REMOTE".to_owned()));
        }
        attrs
    }
}

/// Packs `NAME=xtext` pairs the server supports into as few command lines
/// as fit the length limit. A value too long to fit even alone is sent as
/// `[UNAVAILABLE]`, which is true from the upstream's point of view.
fn command_lines(verb: &str, attrs: &[(&str, String)], supported: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for (name, value) in attrs {
        if !supported.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            continue;
        }
        let mut pair = format!("{name}={}", xtext(value));
        if verb.len() + 1 + pair.len() > MAX_COMMAND {
            pair = format!("{name}={UNAVAILABLE}");
        }
        if !line.is_empty() && line.len() + 1 + pair.len() > MAX_COMMAND {
            lines.push(std::mem::take(&mut line));
        }
        if line.is_empty() {
            line.push_str(verb);
        }
        line.push(' ');
        line.push_str(&pair);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// RFC 1891 xtext: printable ASCII except `+` and `=` as is, everything
/// else as `+XX`. `[UNAVAILABLE]` and friends pass unchanged.
fn xtext(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if (33..=126).contains(&b) && b != b'+' && b != b'=' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &str) -> Vec<String> {
        list.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn capabilities_from_an_ehlo_reply() {
        let lines = [
            "mx.example",
            "PIPELINING",
            "size 10240000",
            "XCLIENT NAME ADDR PROTO HELO",
            "STARTTLS",
        ];
        let reply = Reply::multiline(250, lines.iter().map(|l| l.as_bytes().to_vec()).collect());
        let caps = Capabilities::parse(&reply);
        assert!(caps.has("starttls") && caps.has("PIPELINING") && !caps.has("mx.example"));
        assert_eq!(caps.size(), Some(10_240_000));
        assert_eq!(
            caps.params("xclient"),
            Some(words("NAME ADDR PROTO HELO").as_slice())
        );
        let unlimited = Reply::multiline(250, vec![b"h".to_vec(), b"SIZE 0".to_vec()]);
        assert_eq!(Capabilities::parse(&unlimited).size(), None);
    }

    #[test]
    fn xclient_sends_only_supported_attributes_xtext_encoded() {
        let client = ClientInfo {
            addr: Some("2001:db8::7".parse().unwrap()),
            port: Some(40123),
            name: None,
            helo: Some("odd helo+=".to_owned()),
            proto: Some("ESMTP".to_owned()),
            login: Some("alice".to_owned()),
        };
        assert_eq!(
            client.xclient_lines(&words("NAME ADDR PROTO HELO")),
            ["XCLIENT NAME=[UNAVAILABLE] ADDR=IPV6:2001:db8::7 HELO=odd+20helo+2B+3D PROTO=ESMTP"]
        );
        assert_eq!(
            client.xforward_lines(&words("NAME ADDR PORT PROTO HELO SOURCE")),
            [
                "XFORWARD NAME=[UNAVAILABLE] ADDR=IPV6:2001:db8::7 PORT=40123 HELO=odd+20helo+2B+3D PROTO=ESMTP SOURCE=REMOTE"
            ]
        );
        let mapped = ClientInfo {
            addr: Some("::ffff:192.0.2.77".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(
            mapped.xclient_lines(&words("ADDR")),
            ["XCLIENT ADDR=192.0.2.77"]
        );
        assert!(mapped.xclient_lines(&[]).is_empty());
    }

    #[test]
    fn long_values_are_split_over_commands_within_512_bytes() {
        let client = ClientInfo {
            name: Some("n".repeat(255)),
            helo: Some("h".repeat(255)),
            addr: Some("192.0.2.1".parse().unwrap()),
            ..Default::default()
        };
        let lines = client.xclient_lines(&words("NAME ADDR HELO"));
        assert_eq!(lines.len(), 2);
        assert!(
            lines
                .iter()
                .all(|l| l.len() <= MAX_COMMAND && l.starts_with("XCLIENT "))
        );
        assert!(lines[1].ends_with(&"h".repeat(255)));
        let huge = ClientInfo {
            helo: Some("\u{1}".repeat(200)),
            ..Default::default()
        };
        assert_eq!(
            huge.xclient_lines(&words("HELO")),
            ["XCLIENT HELO=[UNAVAILABLE]"]
        );
    }
}
