//! A generated multi-charset corpus that knows its own truth: each message
//! is written from plain source data (senders, subject, body words,
//! attachment texts) into ISO-8859-1, Windows-1252, UTF-8, Shift_JIS or
//! ISO-2022-JP, as 8bit, quoted-printable or base64, with RFC 2047 encoded
//! words in Subject and From, and as plain text, HTML-only mail, or mixed
//! mail with a PDF, a DOCX, a CSV or a nested `message/rfc822`. The search
//! comparison reads the source data, never the encoded bytes, so a
//! decoding mistake in mailseal's extractor shows up as a difference.

use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use encoding_rs::{Encoding, WINDOWS_1252};

use super::docs;

mod charsets;

use charsets::{CHARSETS, Charset, TOPICS_ASCII, TOPICS_LATIN};

/// One mailbox of the source data.
#[derive(Debug, Clone)]
pub struct Mailbox {
    /// Display name, if any.
    pub name: Option<String>,
    /// The address.
    pub address: String,
}

/// One attachment of the source data.
#[derive(Debug, Clone)]
pub struct TruthAttachment {
    /// File name, if any.
    pub name: Option<String>,
    /// `type/subtype`.
    pub mime_type: String,
    /// Decoded size in bytes.
    pub size: u64,
    /// The text a reader sees in it.
    pub text: String,
}

/// A generated message: its bytes and what was written into them.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The message as sent.
    pub raw: Vec<u8>,
    /// From.
    pub from: Vec<Mailbox>,
    /// To.
    pub to: Vec<Mailbox>,
    /// Cc.
    pub cc: Vec<Mailbox>,
    /// Reply-To.
    pub reply_to: Vec<Mailbox>,
    /// Subject.
    pub subject: String,
    /// Body text (for HTML mail: the visible text).
    pub body: String,
    /// Attachments in order.
    pub attachments: Vec<TruthAttachment>,
    /// Message-ID without brackets.
    pub message_id: String,
    /// In-Reply-To and References ids without brackets.
    pub thread: Vec<String>,
    /// The Date header, if the message has one.
    pub date: Option<DateTime<Utc>>,
}

const SENDER_ADDRESSES: [&str; 5] = [
    "joerg.mueller@fabrikam.com",
    "einkauf@contoso.com",
    "yamada@example.jp",
    "billing@lieferant.de",
    "ceo@contoso.com",
];
const RCPT_ADDRESSES: [&str; 4] = [
    "bob@contoso.com",
    "alice.m@mail.contoso.com",
    "partner@fabrikam.com",
    "kunde@beispiel.de",
];

/// Encodes `text` in `enc`, failing on characters it cannot carry.
fn encode(enc: &'static Encoding, text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = enc.encode(text);
    assert!(!unmappable, "{text} is not representable in {}", enc.name());
    bytes.into_owned()
}

/// An RFC 2047 encoded word: Q for the Latin charsets, B otherwise.
fn encoded_word(cs: &Charset, text: &str) -> String {
    let bytes = encode(cs.enc, text);
    if cs.latin && cs.label != "utf-8" {
        let mut q = String::new();
        for b in bytes {
            match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => q.push(b as char),
                b' ' => q.push('_'),
                _ => q.push_str(&format!("={b:02X}")),
            }
        }
        format!("=?{}?Q?{q}?=", cs.label)
    } else {
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        format!("=?{}?B?{b64}?=", cs.label)
    }
}

/// `text` in `cs` under transfer encoding `cte`: (CTE label, body bytes).
fn body_bytes(cs: &Charset, cte: usize, text: &str) -> (&'static str, Vec<u8>) {
    let raw = encode(cs.enc, text);
    match cte {
        0 if cs.label == "iso-2022-jp" => ("7bit", raw),
        0 => ("8bit", raw),
        1 => (
            "quoted-printable",
            docs::quoted_printable(&raw).into_bytes(),
        ),
        _ => ("base64", docs::base64_lines(&raw).into_bytes()),
    }
}

fn header_mailbox(cs: &Charset, m: &Mailbox) -> String {
    match &m.name {
        Some(n) => format!("{} <{}>", encoded_word(cs, n), m.address),
        None => m.address.clone(),
    }
}

fn list(cs: &Charset, boxes: &[Mailbox]) -> String {
    boxes
        .iter()
        .map(|m| header_mailbox(cs, m))
        .collect::<Vec<_>>()
        .join(", ")
}

fn rfc2822(d: &DateTime<Utc>) -> String {
    d.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

fn single_part(ctype: &str, cs: &Charset, cte: &'static str, body: Vec<u8>) -> Vec<u8> {
    let mut m = format!(
        "Content-Type: {ctype}; charset={}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n",
        cs.label
    )
    .into_bytes();
    m.extend_from_slice(&body);
    m
}

/// A nested message (ASCII headers, Latin-1 quoted-printable body) and the
/// attachment text the truth expects for it: its header lines, then its
/// body.
fn nested(i: usize) -> (Vec<u8>, String) {
    let date = Utc
        .with_ymd_and_hms(2022, 7, 1 + (i % 28) as u32, 8, 0, 0)
        .unwrap();
    let subject = format!("Weitergeleitet Protokoll {i}");
    let body = format!("Protokoll der Sitzung über Fördermittel, Punkt {i}.");
    let raw = format!(
        "From: Archiv Stelle <archiv@stadtwerke.de>\r\nTo: <team@contoso.com>\r\n\
         Subject: {subject}\r\nDate: {}\r\nMessage-ID: <inner{i}@stadtwerke.de>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\r\n{}",
        rfc2822(&date),
        docs::quoted_printable(&encode(WINDOWS_1252, &body))
    );
    let text = format!(
        "From: Archiv Stelle <archiv@stadtwerke.de>\nTo: <team@contoso.com>\n\
         Date: {}\nSubject: {subject}\n\n{body}",
        date.to_rfc3339()
    );
    (raw.into_bytes(), text)
}

/// One mixed message: a text body part and one attachment part.
fn mixed(head: &str, text_part: Vec<u8>, attachment: &[u8], i: usize) -> Vec<u8> {
    let boundary = format!("=_gen_{i}_boundary");
    let mut m = format!(
        "{head}Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
         This is a multi-part message in MIME format.\r\n--{boundary}\r\n"
    )
    .into_bytes();
    m.extend_from_slice(&text_part);
    m.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    m.extend_from_slice(attachment);
    m.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    m
}

fn attachment_part(ctype: &str, disposition: &str, data: &[u8]) -> Vec<u8> {
    format!(
        "Content-Type: {ctype}\r\nContent-Disposition: attachment; {disposition}\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}",
        docs::base64_lines(data)
    )
    .into_bytes()
}

/// Message `i` of the corpus (charset `i % 5`, structure `(i / 5) % 6`,
/// transfer encoding `i % 3`).
pub fn message(i: usize) -> Generated {
    let cs = &CHARSETS[i % 5];
    let structure = (i / 5) % 6;
    let cte = i % 3;
    let topic = if cs.latin {
        TOPICS_LATIN[i % TOPICS_LATIN.len()]
    } else {
        TOPICS_ASCII[i % TOPICS_ASCII.len()]
    };
    let from = vec![Mailbox {
        name: Some(cs.names[i % 2].to_string()),
        address: SENDER_ADDRESSES[i % SENDER_ADDRESSES.len()].to_string(),
    }];
    let to = vec![Mailbox {
        name: None,
        address: RCPT_ADDRESSES[i % RCPT_ADDRESSES.len()].to_string(),
    }];
    let cc: Vec<Mailbox> = (i % 4 == 2)
        .then(|| Mailbox {
            name: Some(cs.names[(i + 1) % 2].to_string()),
            address: RCPT_ADDRESSES[(i + 1) % RCPT_ADDRESSES.len()].to_string(),
        })
        .into_iter()
        .collect();
    let reply_to: Vec<Mailbox> = (i % 7 == 3)
        .then(|| Mailbox {
            name: None,
            address: format!("antwort{}@lieferant.de", i % 2),
        })
        .into_iter()
        .collect();
    let subject = format!("{} {topic} m{i}", cs.subjects[i % 2]);
    let body = format!(
        "{}\n{topic} Zeile{i} {}\n",
        cs.sentences[i % 2],
        cs.sentences[(i + 1) % 2]
    );
    let message_id = format!("m{i}@gen.contoso.com");
    let thread: Vec<String> = if i >= 10 && i % 4 == 1 {
        vec![
            format!("m{}@gen.contoso.com", i - 10),
            format!("m{}@gen.contoso.com", i - 5),
        ]
    } else {
        Vec::new()
    };
    // Dates 9 days apart from 2023-01-02; every eleventh repeats the one
    // before (ties sort by id); every seventeenth has no Date header.
    let day = |k: usize| {
        Utc.with_ymd_and_hms(2023, 1, 2, 9, 30, 0).unwrap() + chrono::Duration::days(9 * k as i64)
    };
    let date = (i % 17 != 16).then(|| day(if i % 11 == 10 { i - 1 } else { i }));

    let mut head = format!("From: {}\r\nTo: {}\r\n", list(cs, &from), list(cs, &to));
    if !cc.is_empty() {
        head.push_str(&format!("Cc: {}\r\n", list(cs, &cc)));
    }
    if !reply_to.is_empty() {
        head.push_str(&format!("Reply-To: {}\r\n", list(cs, &reply_to)));
    }
    head.push_str(&format!("Subject: {}\r\n", encoded_word(cs, &subject)));
    head.push_str(&format!("Message-ID: <{message_id}>\r\n"));
    if let [first, last] = thread.as_slice() {
        head.push_str(&format!(
            "In-Reply-To: <{last}>\r\nReferences: <{first}>\r\n <{last}>\r\n"
        ));
    }
    if let Some(d) = &date {
        head.push_str(&format!("Date: {}\r\n", rfc2822(d)));
    }
    head.push_str("MIME-Version: 1.0\r\n");

    let (cte_label, encoded) = body_bytes(cs, cte, &body);
    let text_part = single_part("text/plain", cs, cte_label, encoded);
    let mut attachments = Vec::new();
    let mut truth_body = body.clone();
    let raw = match structure {
        0 => {
            let mut m = head.into_bytes();
            m.extend_from_slice(&text_part);
            m
        }
        1 => {
            let html = format!(
                "<html><body><p>{}</p><p><b>{topic}</b> Zeile{i} &amp; {}</p></body></html>",
                cs.sentences[i % 2],
                cs.sentences[(i + 1) % 2]
            );
            truth_body = format!(
                "{}\n{topic} Zeile{i} & {}",
                cs.sentences[i % 2],
                cs.sentences[(i + 1) % 2]
            );
            let (cte_label, encoded) = body_bytes(cs, cte, &html);
            let mut m = head.into_bytes();
            m.extend_from_slice(&single_part("text/html", cs, cte_label, encoded));
            m
        }
        2 => {
            let pages = [
                format!("Rechnung Nr. {i} für Öl und Gas\nAnlage Kostenvoranschlag"),
                format!(
                    "Seite zwei {topic_ascii}",
                    topic_ascii = TOPICS_ASCII[i % 5]
                ),
            ];
            let pdf = docs::pdf(&[pages[0].as_str(), pages[1].as_str()], 200 * (i % 4));
            let name = format!("rechnung-{i}.pdf");
            attachments.push(TruthAttachment {
                name: Some(name.clone()),
                mime_type: "application/pdf".into(),
                size: pdf.len() as u64,
                text: pages.join("\n"),
            });
            let part = attachment_part(
                &format!("application/pdf; name=\"{name}\""),
                &format!("filename=\"{name}\""),
                &pdf,
            );
            mixed(&head, text_part, &part, i)
        }
        3 => {
            let paras = [
                format!("Vertragsentwurf Rahmenvereinbarung {i}"),
                "Laufzeit: 24 Monate & Verlängerung, Kündigung schriftlich".to_string(),
            ];
            let docx = docs::docx(&[paras[0].as_str(), paras[1].as_str()]);
            // RFC 2231: a UTF-8 file name with an umlaut.
            let name = format!("Übersicht-{i}.docx");
            let ooxml = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
            attachments.push(TruthAttachment {
                name: Some(name.clone()),
                mime_type: ooxml.into(),
                size: docx.len() as u64,
                text: paras.join("\n"),
            });
            let part = attachment_part(
                ooxml,
                &format!("filename*=utf-8''%C3%9Cbersicht-{i}.docx"),
                &docx,
            );
            mixed(&head, text_part, &part, i)
        }
        4 => {
            let (inner, text) = nested(i);
            attachments.push(TruthAttachment {
                name: None,
                mime_type: "message/rfc822".into(),
                size: inner.len() as u64,
                text,
            });
            let mut part = b"Content-Type: message/rfc822\r\n\r\n".to_vec();
            part.extend_from_slice(&inner);
            mixed(&head, text_part, &part, i)
        }
        _ => {
            let csv = format!("Artikel;Menge;Preis\nSchrauben {topic};{i};0,15 €\n");
            let name = format!("liste-{i}.csv");
            attachments.push(TruthAttachment {
                name: Some(name.clone()),
                mime_type: "text/csv".into(),
                size: csv.len() as u64,
                text: csv.clone(),
            });
            let part = attachment_part(
                &format!("text/csv; charset=utf-8; name=\"{name}\""),
                &format!("filename=\"{name}\""),
                csv.as_bytes(),
            );
            mixed(&head, text_part, &part, i)
        }
    };
    Generated {
        raw,
        from,
        to,
        cc,
        reply_to,
        subject,
        body: truth_body,
        attachments,
        message_id,
        thread,
        date,
    }
}
