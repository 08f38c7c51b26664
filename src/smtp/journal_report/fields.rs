//! The report's text: the envelope fields Exchange writes one per line.
//!
//! Exchange 2007 and later (Microsoft 365 too) write, per Microsoft's
//! "Journal report format" ABNF:
//!
//! ```text
//! Sender: alice@contoso.com
//! Subject: Q3 numbers
//! Message-Id: <abc@contoso.com>
//! On-Behalf-Of: boss@contoso.com
//! To: bob@contoso.com
//! Cc: member@contoso.com, Expanded: sales@contoso.com
//! Bcc: fwd@contoso.com, Forwarded: carol@contoso.com
//! Recipient: dave@fabrikam.com
//! ```
//!
//! `To`/`Cc`/`Bcc` appear when Exchange could verify how a recipient was
//! addressed, `Recipient` when it could not (anonymous or Exchange 2003
//! submission). `Expanded:` names the distribution list the recipient was
//! expanded from; `Forwarded:` the recipient it was redirected from.
//!
//! Exchange 2003 writes `Sender: "Name" <smtp:alice@contoso.com>`, a
//! `Message-ID:` that may wrap onto the next line, and a `Recipients:` block
//! with one `"Name" <smtp:addr>,` per line (non-SMTP address types such as
//! `<EX:/o=...>` are kept with their type prefix, as Exchange itself does).
//!
//! Field names are matched case-insensitively; lines that are no field are
//! ignored, so a localized or chatty preamble does no harm.

use crate::archive::record::{JournalEnvelope, JournalRecipient};

/// The fields the report body carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    Sender,
    Subject,
    MessageId,
    OnBehalfOf,
    /// `To`, `Cc`, `Bcc` or `Recipient`, with the record's spelling.
    Recipient(&'static str),
    /// Exchange 2003's `Recipients:` block.
    Recipients2003,
}

fn name_of(text: &str) -> Option<Name> {
    let name = text.trim().to_ascii_lowercase();
    Some(match name.as_str() {
        "sender" => Name::Sender,
        "subject" => Name::Subject,
        "message-id" => Name::MessageId,
        "on-behalf-of" => Name::OnBehalfOf,
        "to" => Name::Recipient("to"),
        "cc" => Name::Recipient("cc"),
        "bcc" => Name::Recipient("bcc"),
        "recipient" => Name::Recipient("recipient"),
        "recipients" => Name::Recipients2003,
        _ => return None,
    })
}

/// One field with the lines that continue it.
struct Logical<'t> {
    /// Which field.
    name: Name,
    /// The text after the colon on the first line.
    first: &'t str,
    /// Following lines that belong to the field, line breaks removed.
    more: Vec<&'t str>,
}

/// Parses the report text into an envelope (`decrypted_copy` false,
/// `malformed` none). Fields missing from the text stay empty.
pub(super) fn parse_fields(text: &str) -> JournalEnvelope {
    let mut envelope = JournalEnvelope::default();
    for field in logical_fields(text) {
        apply(&mut envelope, field);
    }
    envelope
}

/// True when the text yielded any envelope information at all.
pub(super) fn has_fields(envelope: &JournalEnvelope) -> bool {
    envelope.sender.is_some() || envelope.message_id.is_some() || !envelope.recipients.is_empty()
}

/// Groups lines into fields. A line starting with a blank continues the
/// current field (header folding); inside an Exchange 2003 `Recipients:`
/// block every non-field line does. A blank line ends the current field.
fn logical_fields(text: &str) -> Vec<Logical<'_>> {
    let mut out: Vec<Logical<'_>> = Vec::new();
    let mut open = false;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            open = false;
            continue;
        }
        let field = line
            .split_once(':')
            .filter(|_| !line.starts_with([' ', '\t']))
            .and_then(|(name, rest)| name_of(name).map(|n| (n, rest)));
        match (field, out.last_mut()) {
            (Some((name, first)), _) => {
                out.push(Logical {
                    name,
                    first,
                    more: Vec::new(),
                });
                open = true;
            }
            (None, Some(last))
                if open && (line.starts_with([' ', '\t']) || last.name == Name::Recipients2003) =>
            {
                last.more.push(line);
            }
            (None, _) => open = false,
        }
    }
    out
}

fn apply(envelope: &mut JournalEnvelope, field: Logical<'_>) {
    let unfolded = || {
        let mut value = field.first.to_owned();
        field.more.iter().for_each(|l| value.push_str(l));
        value
    };
    match field.name {
        Name::Sender if envelope.sender.is_none() => {
            envelope.sender = Some(address_of(&unfolded())).filter(|a| !a.is_empty());
        }
        Name::Subject if envelope.subject.is_none() => {
            envelope.subject = Some(decode_words(unfolded().trim()));
        }
        Name::MessageId if envelope.message_id.is_none() => {
            let id: String = unfolded().split_whitespace().collect();
            envelope.message_id = Some(id).filter(|id| !id.is_empty());
        }
        Name::OnBehalfOf if envelope.on_behalf_of.is_none() => {
            envelope.on_behalf_of = Some(address_of(&unfolded())).filter(|a| !a.is_empty());
        }
        Name::Recipient(kind) => {
            envelope
                .recipients
                .extend(parse_recipients(kind, &unfolded()));
        }
        Name::Recipients2003 => {
            for line in std::iter::once(field.first).chain(field.more.iter().copied()) {
                envelope
                    .recipients
                    .extend(parse_recipients("recipient", line));
            }
        }
        _ => {}
    }
}

/// Parses `addr[, Expanded: list][, Forwarded: orig]`. Further plain
/// addresses on the same line become recipients of the same kind, so a
/// line written by a lenient generator loses nobody.
fn parse_recipients(kind: &str, value: &str) -> Vec<JournalRecipient> {
    let mut out: Vec<JournalRecipient> = Vec::new();
    for item in split_list(value) {
        let (key, rest) = item.split_once(':').unwrap_or(("", item));
        let key = key.trim().to_ascii_lowercase();
        match (key.as_str(), out.last_mut()) {
            ("expanded", Some(last)) => last.expanded.push(address_of(rest)),
            ("forwarded", Some(last)) => last.forwarded = Some(address_of(rest)),
            _ => {
                let address = address_of(item);
                if !address.is_empty() {
                    out.push(JournalRecipient {
                        field: kind.to_owned(),
                        address,
                        ..Default::default()
                    });
                }
            }
        }
    }
    out
}

/// Splits at commas that are outside quotes and angle brackets.
fn split_list(value: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                items.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&value[start..]);
    items.retain(|item| !item.trim().is_empty());
    items
}

/// The address in `"Name" <smtp:addr>`, `<addr>` or `addr`; the `smtp:`
/// address type is dropped, other types are kept (`EX:/o=...`).
fn address_of(text: &str) -> String {
    let text = text.trim();
    let inner = match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => &text[open + 1..close],
        _ => text,
    };
    let inner = inner.trim();
    match inner.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("smtp:") => inner[5..].trim().to_owned(),
        _ => inner.to_owned(),
    }
}

/// Decodes RFC 2047 encoded-words (`=?utf-8?B?...?=`) if there are any.
fn decode_words(text: &str) -> String {
    if !text.contains("=?") {
        return text.to_owned();
    }
    let line = format!("{text}\r\n");
    match mail_parser::parsers::MessageStream::new(line.as_bytes()).parse_unstructured() {
        mail_parser::HeaderValue::Text(decoded) => decoded.trim().to_owned(),
        _ => text.to_owned(),
    }
}

/// Plain text from an HTML report body (Exchange 2003 could send one):
/// line-breaking tags become line breaks, other tags vanish, and the
/// entities a report uses are decoded.
pub(super) fn html_to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let close = rest[open..].find('>').map_or(rest.len(), |i| open + i + 1);
        let tag = rest[open + 1..close]
            .trim_start_matches('/')
            .to_ascii_lowercase();
        if ["br", "p", "div", "tr", "li"]
            .iter()
            .any(|t| tag.starts_with(t))
        {
            text.push('\n');
        }
        rest = &rest[close..];
    }
    text.push_str(rest);
    let entities = [
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&nbsp;", " "),
    ];
    let mut text = entities
        .iter()
        .fold(text, |t, (entity, plain)| t.replace(entity, plain));
    text = text.replace("&amp;", "&");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rcpt(
        field: &str,
        address: &str,
        expanded: &[&str],
        forwarded: Option<&str>,
    ) -> JournalRecipient {
        JournalRecipient {
            field: field.into(),
            address: address.into(),
            expanded: expanded.iter().map(|s| s.to_string()).collect(),
            forwarded: forwarded.map(str::to_owned),
        }
    }

    #[test]
    fn extended_fields() {
        let text = "Sender: alice@contoso.com\r\nSubject: Q3, final\r\nMessage-Id: <a@b>\r\n\
            On-Behalf-Of: boss@contoso.com\r\nTo: bob@contoso.com\r\n\
            CC: m@contoso.com, Expanded: sales@contoso.com\r\n\
            bcc: fwd@contoso.com, Forwarded: carol@contoso.com\r\nRecipient: d@fabrikam.com\r\n";
        let env = parse_fields(text);
        assert_eq!(env.sender.as_deref(), Some("alice@contoso.com"));
        assert_eq!(env.subject.as_deref(), Some("Q3, final"));
        assert_eq!(env.message_id.as_deref(), Some("<a@b>"));
        assert_eq!(env.on_behalf_of.as_deref(), Some("boss@contoso.com"));
        assert_eq!(
            env.recipients,
            [
                rcpt("to", "bob@contoso.com", &[], None),
                rcpt("cc", "m@contoso.com", &["sales@contoso.com"], None),
                rcpt("bcc", "fwd@contoso.com", &[], Some("carol@contoso.com")),
                rcpt("recipient", "d@fabrikam.com", &[], None),
            ]
        );
        assert!(has_fields(&env));
    }

    #[test]
    fn exchange_2003_block_and_wrapped_message_id() {
        let text = "Sender: \"Doe, Alice\" <smtp:alice@contoso.com>\nMessage-ID: <very-long-id\n @contoso.com>\n\
            Recipients:\n\t\"Bob\" <SMTP:bob@contoso.com>,\n\t<EX:/o=Org/cn=carol>, <smtp:dave@x.org>\n\nfooter\n";
        let env = parse_fields(text);
        assert_eq!(env.sender.as_deref(), Some("alice@contoso.com"));
        assert_eq!(
            env.message_id.as_deref(),
            Some("<very-long-id@contoso.com>")
        );
        let addrs: Vec<&str> = env.recipients.iter().map(|r| r.address.as_str()).collect();
        assert_eq!(
            addrs,
            ["bob@contoso.com", "EX:/o=Org/cn=carol", "dave@x.org"]
        );
        assert!(env.recipients.iter().all(|r| r.field == "recipient"));
    }

    #[test]
    fn encoded_words_preamble_and_nothing() {
        let env =
            parse_fields("This is a journal report.\nSubject: =?utf-8?B?R3LDvMOfZQ==?= aus Köln\n");
        assert_eq!(env.subject.as_deref(), Some("Grüße aus Köln"));
        assert!(!has_fields(&env));
        assert!(!has_fields(&parse_fields("hello\r\nworld: x\r\n")));
    }

    #[test]
    fn html_body() {
        let html = "<html><body>Sender: &quot;A&quot; &lt;smtp:a@b.c&gt;<br>Recipients:<br>&lt;smtp:x@y.z&gt;</body></html>";
        let env = parse_fields(&html_to_text(html));
        assert_eq!(env.sender.as_deref(), Some("a@b.c"));
        assert_eq!(env.recipients[0].address, "x@y.z");
    }
}
