//! Journal reports built from Microsoft's format, and the fixture files.

use base64::Engine as _;

use super::*;
use crate::archive::record::JournalRecipient;

/// Builds a journal report the way Exchange lays it out.
struct Builder {
    /// Line ending of the report's own structure.
    nl: &'static str,
    /// Top-level header lines (marker included).
    headers: Vec<String>,
    /// The boundary, written quoted unless `bare_boundary`.
    boundary: &'static str,
    /// Write `boundary=value` without quotes.
    bare_boundary: bool,
    /// Text before the first delimiter.
    preamble: &'static str,
    /// Report text part: its extra header lines and its body.
    text: Option<(Vec<String>, Vec<u8>)>,
    /// `message/rfc822` parts: transfer encoding and the original bytes.
    messages: Vec<(Option<&'static str>, Vec<u8>)>,
    /// Write the close delimiter.
    close: bool,
    /// Text after the close delimiter.
    epilogue: &'static str,
}

impl Builder {
    fn new(report_text: &str) -> Builder {
        Builder {
            nl: "\r\n",
            headers: vec![
                "From: Microsoft Outlook <MicrosoftExchange329e@contoso.com>".into(),
                "To: journal@archive.test".into(),
                "Subject: Journal report".into(),
                "X-MS-Journal-Report:".into(),
                "MIME-Version: 1.0".into(),
            ],
            boundary: "_journal_boundary_0123",
            bare_boundary: false,
            preamble: "",
            text: Some((
                vec!["Content-Type: text/plain; charset=\"us-ascii\"".into()],
                report_text.as_bytes().to_vec(),
            )),
            messages: vec![(None, original())],
            close: true,
            epilogue: "",
        }
    }

    fn build(&self) -> Vec<u8> {
        let nl = self.nl.as_bytes();
        let mut out = Vec::new();
        let line = |out: &mut Vec<u8>, text: &[u8]| {
            out.extend_from_slice(text);
            out.extend_from_slice(nl);
        };
        for h in &self.headers {
            line(&mut out, h.as_bytes());
        }
        let b = self.boundary;
        let param = if self.bare_boundary {
            b.to_owned()
        } else {
            format!("\"{b}\"")
        };
        line(
            &mut out,
            format!(
                "Content-Type: multipart/mixed;{}\tboundary={param}",
                self.nl
            )
            .as_bytes(),
        );
        line(&mut out, b"");
        out.extend_from_slice(self.preamble.as_bytes());
        let delimiter = format!("--{b}");
        if let Some((headers, body)) = &self.text {
            line(&mut out, delimiter.as_bytes());
            headers.iter().for_each(|h| line(&mut out, h.as_bytes()));
            line(&mut out, b"");
            line(&mut out, body);
        }
        for (encoding, message) in &self.messages {
            line(&mut out, delimiter.as_bytes());
            line(&mut out, b"Content-Type: message/rfc822");
            if let Some(encoding) = encoding {
                line(
                    &mut out,
                    format!("Content-Transfer-Encoding: {encoding}").as_bytes(),
                );
            }
            line(&mut out, b"");
            match *encoding {
                Some("base64") => line(&mut out, &base64_wrapped(message)),
                _ => line(&mut out, message),
            }
        }
        if self.close {
            line(&mut out, format!("--{b}--").as_bytes());
        }
        out.extend_from_slice(self.epilogue.as_bytes());
        out
    }
}

/// Base64 in 76-character lines, as MIME writers do.
fn base64_wrapped(bytes: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let lines: Vec<&[u8]> = encoded.as_bytes().chunks(76).collect();
    lines.join(b"\r\n".as_slice())
}

/// An original message with its own nested multipart, 8-bit text, a
/// dot-leading line and a line that starts like the report's boundary.
fn original() -> Vec<u8> {
    "From: Alice <alice@contoso.com>\r\nTo: Sales <sales@contoso.com>\r\n\
     Subject: =?utf-8?Q?Angebot_f=C3=BCr_Q3?=\r\nMessage-ID: <orig-1@contoso.com>\r\n\
     MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n\
     --inner\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
     Grüße aus Köln\r\n.leading dot\r\n--_journal_boundary_0123x not a delimiter\r\n\
     --inner\r\nContent-Type: text/html\r\n\r\n<p>Hi</p>\r\n--inner--\r\n"
        .as_bytes()
        .to_vec()
}

const EXTENDED: &str = "Sender: alice@contoso.com\r\nSubject: Angebot für Q3\r\n\
    Message-Id: <orig-1@contoso.com>\r\nTo: bob@contoso.com\r\n\
    To: carol@contoso.com, Expanded: sales@contoso.com\r\n\
    Cc: fwd@contoso.com, Forwarded: dave@contoso.com\r\nBcc: eve@contoso.com\r\n";

fn report(parsed: JournalParse) -> JournalReport {
    match parsed {
        JournalParse::Report(r) => r,
        other => panic!("expected a report, got {other:?}"),
    }
}

fn malformed(parsed: JournalParse) -> String {
    match parsed {
        JournalParse::Malformed { reason } => reason,
        other => panic!("expected malformed, got {other:?}"),
    }
}

fn addresses(env: &JournalEnvelope) -> Vec<(&str, &str)> {
    env.recipients
        .iter()
        .map(|r| (r.field.as_str(), r.address.as_str()))
        .collect()
}

#[test]
fn extended_fields_with_expanded_forwarded_and_bcc() {
    let mut b = Builder::new(EXTENDED);
    b.text = Some((
        vec!["Content-Type: text/plain; charset=utf-8".into()],
        EXTENDED.as_bytes().to_vec(),
    ));
    let r = report(parse(&b.build()));
    assert_eq!(r.version, ReportVersion::Exchange2007);
    assert_eq!(r.inner, original());
    assert_eq!(r.decrypted, None);
    let env = &r.envelope;
    assert_eq!(env.sender.as_deref(), Some("alice@contoso.com"));
    assert_eq!(env.subject.as_deref(), Some("Angebot für Q3"));
    assert_eq!(env.message_id.as_deref(), Some("<orig-1@contoso.com>"));
    assert_eq!(
        addresses(env),
        [
            ("to", "bob@contoso.com"),
            ("to", "carol@contoso.com"),
            ("cc", "fwd@contoso.com"),
            ("bcc", "eve@contoso.com"),
        ]
    );
    assert_eq!(env.recipients[1].expanded, ["sales@contoso.com"]);
    assert_eq!(
        env.recipients[2].forwarded.as_deref(),
        Some("dave@contoso.com")
    );
    assert!(!env.decrypted_copy && env.malformed.is_none());
}

#[test]
fn recipient_only_and_on_behalf_of() {
    let text = "Sender: assistant@contoso.com\r\nSubject: x\r\nMessage-Id: <m@f>\r\n\
        On-Behalf-Of: boss@contoso.com\r\nRecipient: a@fabrikam.com\r\nRecipient: b@fabrikam.com\r\n";
    let r = report(parse(&Builder::new(text).build()));
    assert_eq!(r.envelope.on_behalf_of.as_deref(), Some("boss@contoso.com"));
    assert_eq!(
        addresses(&r.envelope),
        [
            ("recipient", "a@fabrikam.com"),
            ("recipient", "b@fabrikam.com")
        ]
    );
    assert_eq!(r.inner, original());
}

#[test]
fn non_ascii_subjects_in_every_encoding() {
    let latin1 = b"Sender: a@b.c\r\nSubject: Gr=FC=DFe aus K=F6ln\r\nTo: x@y.z\r\n".to_vec();
    let mut b = Builder::new("");
    b.text = Some((
        vec![
            "Content-Type: text/plain; charset=iso-8859-1".into(),
            "Content-Transfer-Encoding: quoted-printable".into(),
        ],
        latin1,
    ));
    assert_eq!(
        report(parse(&b.build())).envelope.subject.as_deref(),
        Some("Grüße aus Köln")
    );

    let words = "Sender: a@b.c\r\nSubject: =?iso-8859-1?Q?Gr=FC=DFe?= aus =?utf-8?B?S8O2bG4=?=\r\nTo: x@y.z\r\n";
    let r = report(parse(&Builder::new(words).build()));
    assert_eq!(r.envelope.subject.as_deref(), Some("Grüße aus Köln"));

    let mut b = Builder::new("");
    let utf8 = "Sender: a@b.c\r\nSubject: 見積書 №7\r\nTo: x@y.z\r\n";
    b.text = Some((
        vec![
            "Content-Type: text/plain; charset=utf-8".into(),
            "Content-Transfer-Encoding: base64".into(),
        ],
        base64_wrapped(utf8.as_bytes()),
    ));
    assert_eq!(
        report(parse(&b.build())).envelope.subject.as_deref(),
        Some("見積書 №7")
    );
}

#[test]
fn base64_and_8bit_message_parts_come_out_exact() {
    let binary: Vec<u8> = [
        b"Subject: bin\r\n\r\n".as_slice(),
        &(0u8..=255).collect::<Vec<_>>(),
        b"\r\n",
    ]
    .concat();
    for (encoding, message) in [
        (Some("base64"), original()),
        (Some("base64"), binary.clone()),
        (Some("8bit"), original()),
        (Some("binary"), binary.clone()),
        (Some("7bit"), b"Subject: no final newline".to_vec()),
    ] {
        let mut b = Builder::new(EXTENDED);
        b.messages = vec![(encoding, message.clone())];
        assert_eq!(report(parse(&b.build())).inner, message, "{encoding:?}");
    }
}

#[test]
fn missing_or_broken_message_part_is_malformed() {
    let mut b = Builder::new(EXTENDED);
    b.messages.clear();
    let reason = malformed(parse(&b.build()));
    assert!(
        reason.contains("no message/rfc822 part (parts: text/plain)"),
        "{reason}"
    );

    let mut b = Builder::new(EXTENDED);
    b.messages = vec![(Some("base64"), b"hello world".to_vec())];
    let bytes = b.build();
    let encoded = memchr::memmem::find(&bytes, b"aGVsbG8gd29ybGQ=").unwrap();
    let mut broken = bytes.clone();
    broken[encoded + 4] = b'*';
    assert_eq!(report(parse(&bytes)).inner, b"hello world");
    assert!(malformed(parse(&broken)).contains("invalid base64"));

    let mut b = Builder::new(EXTENDED);
    b.messages = vec![(Some("x-uuencode"), b"begin 644 x".to_vec())];
    assert!(malformed(parse(&b.build())).contains("unsupported transfer encoding"));

    let mut b = Builder::new(EXTENDED);
    b.close = false;
    assert!(malformed(parse(&b.build())).contains("truncated"));

    let reason = malformed(parse(&Builder::new("Nothing to see here.\r\n").build()));
    assert!(reason.contains("no journal report fields"), "{reason}");

    let reason = malformed(parse(
        b"X-MS-Journal-Report:\r\nContent-Type: text/plain\r\n\r\nhello\r\n",
    ));
    assert!(reason.contains("not multipart"), "{reason}");
}

#[test]
fn exchange_2003_form_both_spellings() {
    let text = "Sender: \"Alice\" <smtp:alice@contoso.com>\r\nMessage-ID: <orig-1@contoso.com>\r\n\
        Recipients:\r\n\t\"Bob\" <smtp:bob@contoso.com>,\r\n\t<smtp:hidden-bcc@contoso.com>\r\n";
    for marker in [
        "Content-Identifer: ExJournalReport",
        "content-identifier: exjournalreport",
    ] {
        let mut b = Builder::new(text);
        b.headers.retain(|h| !h.starts_with("X-MS"));
        b.headers.push(marker.into());
        let r = report(parse(&b.build()));
        assert_eq!(r.version, ReportVersion::Exchange2003);
        assert_eq!(r.envelope.sender.as_deref(), Some("alice@contoso.com"));
        assert_eq!(
            addresses(&r.envelope),
            [
                ("recipient", "bob@contoso.com"),
                ("recipient", "hidden-bcc@contoso.com")
            ]
        );
        assert_eq!(r.inner, original());
    }
}

#[test]
fn bare_lf_report_unquoted_boundary_preamble_and_epilogue() {
    let mut b = Builder::new("Sender: a@b.c\nTo: x@y.z\n");
    b.nl = "\n";
    b.bare_boundary = true;
    b.preamble = "This is a multi-part message in MIME format.\n";
    b.epilogue = "trailing words\n";
    let inner_lf = String::from_utf8(original())
        .unwrap()
        .replace("\r\n", "\n")
        .into_bytes();
    b.messages = vec![(None, inner_lf.clone())];
    let r = report(parse(&b.build()));
    assert_eq!(r.inner, inner_lf);
    assert_eq!(addresses(&r.envelope), [("to", "x@y.z")]);
}

#[test]
fn decrypted_copy_is_returned_and_marked() {
    let mut b = Builder::new(EXTENDED);
    let protected = b"Subject: protected\r\nContent-Class: rpmsg.message\r\n\r\nrpmsg\r\n".to_vec();
    let clear = b"Subject: protected\r\n\r\nthe clear text\r\n".to_vec();
    b.messages = vec![(None, protected.clone()), (Some("base64"), clear.clone())];
    let r = report(parse(&b.build()));
    assert_eq!(r.decrypted.as_deref(), Some(clear.as_slice()));
    let messages = r.into_messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        (messages[0].0.as_slice(), messages[0].1.decrypted_copy),
        (protected.as_slice(), false)
    );
    assert_eq!(
        (messages[1].0.as_slice(), messages[1].1.decrypted_copy),
        (clear.as_slice(), true)
    );
    assert_eq!(messages[1].1.recipients, messages[0].1.recipients);
}

#[test]
fn plain_messages_are_not_reports() {
    assert_eq!(parse(&original()), JournalParse::NotAReport);
    assert_eq!(parse(b""), JournalParse::NotAReport);
    // A marker inside the body is not a marker.
    assert_eq!(
        parse(b"Subject: x\r\n\r\nX-MS-Journal-Report:\r\n"),
        JournalParse::NotAReport
    );
    assert_eq!(
        parse(b"Content-Identifier: other\r\n\r\n"),
        JournalParse::NotAReport
    );
    let env = malformed_envelope("why");
    assert_eq!(env.malformed.as_deref(), Some("why"));
}

#[test]
fn garbage_never_panics() {
    let good = Builder::new(EXTENDED).build();
    for cut in (0..good.len()).step_by(7) {
        let _ = parse(&good[..cut]);
        let mut flipped = good.clone();
        flipped[cut] ^= 0x55;
        let _ = parse(&flipped);
    }
}

/// Every fixture file parses to its `.inner.eml` companion and lists the
/// recipients its README promises.
#[test]
fn fixture_files() {
    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/journal/",
                $name
            ))
        };
    }
    let r = report(parse(fixture!("m365-extended.eml")));
    assert_eq!(r.inner, fixture!("m365-extended.inner.eml"));
    let bcc = JournalRecipient {
        field: "bcc".into(),
        address: "legal@contoso.com".into(),
        ..Default::default()
    };
    assert!(r.envelope.recipients.contains(&bcc));
    assert_eq!(r.envelope.recipients.len(), 5);

    let r = report(parse(fixture!("exchange-base64-recipient.eml")));
    assert_eq!(r.inner, fixture!("exchange-base64-recipient.inner.eml"));
    assert_eq!(r.envelope.recipients.len(), 2);

    let r = report(parse(fixture!("exchange-2003.eml")));
    assert_eq!(r.version, ReportVersion::Exchange2003);
    assert_eq!(r.inner, fixture!("exchange-2003.inner.eml"));
    assert_eq!(r.envelope.recipients.len(), 3);

    let r = report(parse(fixture!("m365-decrypted.eml")));
    assert_eq!(r.inner, fixture!("m365-decrypted.inner.eml"));
    assert_eq!(
        r.decrypted.as_deref(),
        Some(fixture!("m365-decrypted.decrypted.eml").as_slice())
    );

    malformed(parse(fixture!("malformed-no-rfc822.eml")));
}
