//! A generated multi-charset corpus: bodies and subjects in ISO-8859-1,
//! Windows-1252, UTF-8, Shift_JIS and ISO-2022-JP, as 8bit, quoted-printable
//! and base64; RFC 2047 encoded words and RFC 2231 parameters; HTML-only
//! and alternative bodies.

use encoding_rs::{Encoding, ISO_2022_JP, SHIFT_JIS, UTF_8, WINDOWS_1252};

use super::{addrs, ex, head, kinds};
use crate::support::docs::{Part, base64_lines, multipart, quoted_printable};

/// Encodes `text` in `enc` (the bytes a mail client in that charset sends).
fn encode(enc: &'static Encoding, text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = enc.encode(text);
    assert!(!unmappable, "{text} is not representable in {}", enc.name());
    bytes.into_owned()
}

/// An RFC 2047 B-encoded word of `text` in `label`.
fn word_b(label: &str, enc: &'static Encoding, text: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(encode(enc, text));
    format!("=?{label}?B?{b64}?=")
}

/// A single-part message whose body is `text` in charset `label`, with
/// the given transfer encoding, and a subject encoded the same way.
fn single(label: &str, enc: &'static Encoding, cte: &str, subject: &str, text: &str) -> Vec<u8> {
    let raw = encode(enc, text);
    let body = match cte {
        "base64" => base64_lines(&raw).into_bytes(),
        "quoted-printable" => quoted_printable(&raw).into_bytes(),
        _ => raw,
    };
    let mut m = head(
        &word_b(label, enc, subject),
        &format!(
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset={label}\r\n\
             Content-Transfer-Encoding: {cte}\r\n\r\n"
        ),
    )
    .into_bytes();
    m.extend_from_slice(&body);
    m
}

#[test]
fn bodies_and_subjects_in_every_charset_and_transfer_encoding() {
    let cases: [(&str, &'static Encoding, &str, &str); 6] = [
        (
            "iso-8859-1",
            WINDOWS_1252,
            "Grüße aus München",
            "Die Rechnung für Jürgen Müller liegt bei. Maß: 3½ m².",
        ),
        (
            "windows-1252",
            WINDOWS_1252,
            "Angebot „Sommer“ – 20 €",
            "Preis: 1.234,50 € — „gültig“ bis Ende März.",
        ),
        (
            "utf-8",
            UTF_8,
            "Κόσμε Привет 世界",
            "Grüße, привет мир, γειά σου, 你好世界, emoji 📎.",
        ),
        (
            "shift_jis",
            SHIFT_JIS,
            "請求書のご案内",
            "山田様、請求書を添付いたします。よろしくお願いいたします。",
        ),
        (
            "iso-2022-jp",
            ISO_2022_JP,
            "会議の議事録",
            "本日の会議の議事録を送付します。ご確認ください。",
        ),
        (
            "ISO-8859-1",
            WINDOWS_1252,
            "Élève français",
            "Ça coûte très cher, dit l'élève à la crèmerie.",
        ),
    ];
    for (label, enc, subject, text) in cases {
        for cte in ["8bit", "quoted-printable", "base64"] {
            if label.eq_ignore_ascii_case("iso-2022-jp") && cte == "8bit" {
                continue; // 7bit by design; its quoted-printable form covers it
            }
            let x = ex(&single(label, enc, cte, subject, text));
            assert_eq!(x.headers.subject.as_deref(), Some(subject), "{label} {cte}");
            assert_eq!(x.body, text, "{label} {cte}");
            assert!(x.problems.is_empty(), "{label} {cte}: {:?}", x.problems);
            assert!(x.attachments.is_empty() && !x.has_attachment);
        }
    }
}

#[test]
fn quoted_printable_encoded_words_and_names_decode() {
    let raw = "From: =?iso-8859-1?Q?J=FCrgen_M=FCller?= <Juergen.Mueller@Example.DE>\r\n\
               To: =?utf-8?B?0JjQstCw0L0=?= <ivan@example.ru>, plain@example.org\r\n\
               Cc: =?shift_jis?B?jlKTYw==?= <yamada@example.jp>\r\n\
               Subject: =?utf-8?q?Re=3A_Bestellung_Nr=2E_4711_=E2=80=93_?=\r\n =?utf-8?q?Lieferung?=\r\n\
               \r\nDanke!\r\n";
    let x = ex(raw.as_bytes());
    assert_eq!(
        x.headers.subject.as_deref(),
        Some("Re: Bestellung Nr. 4711 – Lieferung")
    );
    assert_eq!(x.headers.from[0].name.as_deref(), Some("Jürgen Müller"));
    assert_eq!(addrs(&x.headers.from), ["juergen.mueller@example.de"]);
    assert_eq!(x.headers.to[0].name.as_deref(), Some("Иван"));
    assert_eq!(
        addrs(&x.headers.to),
        ["ivan@example.ru", "plain@example.org"]
    );
    assert_eq!(x.headers.cc[0].name.as_deref(), Some("山田"));
}

#[test]
fn html_only_mail_becomes_text_without_markup() {
    let html = "<html><head><title>Newsletter</title><style>p { color: red }</style></head>\
                <body><h1>Frühjahrsangebot</h1><p>Nur heute: <b>20&nbsp;%</b> Rabatt auf \
                <a href=\"https://x.example\">alle Artikel</a>.</p>\
                <table><tr><td>Stühle</td><td>49,90&euro;</td></tr></table>\
                <script>track('<p>');</script></body></html>";
    let raw_html = encode(WINDOWS_1252, html);
    let mut m = head(
        "Angebot",
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=iso-8859-1\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\r\n",
    )
    .into_bytes();
    m.extend_from_slice(quoted_printable(&raw_html).as_bytes());
    let x = ex(&m);
    assert_eq!(
        x.body,
        "Frühjahrsangebot\nNur heute: 20 % Rabatt auf alle Artikel.\nStühle 49,90€"
    );
    assert!(
        !x.has_attachment && x.attachments.is_empty(),
        "{:?}",
        x.attachments
    );
}

#[test]
fn alternative_bodies_are_indexed_once() {
    let m = multipart(
        &head("alt", ""),
        "alternative",
        &[
            Part::text("plain", "Plain version of the invoice text."),
            Part::text("html", "<p>HTML version of the <i>invoice</i> text.</p>"),
        ],
    );
    let x = ex(&m);
    assert_eq!(x.body, "Plain version of the invoice text.");
    assert!(x.attachments.is_empty());
    assert!(kinds(&x).is_empty());
}

#[test]
fn rfc2231_file_names_decode() {
    let parts = [
        Part {
            headers: "Content-Type: application/octet-stream\r\n\
                      Content-Disposition: attachment; filename*=iso-8859-1''Pr%FCfbericht%202024.bin\r\n\
                      Content-Transfer-Encoding: base64\r\n"
                .into(),
            body: base64_lines(b"\x00\x01\x02").into_bytes(),
        },
        Part {
            headers: "Content-Type: text/plain; charset=utf-8\r\n\
                      Content-Disposition: attachment;\r\n filename*0*=utf-8''Gr%C3%BC;\r\n filename*1*=%C3%9Fe.txt\r\n"
                .into(),
            body: "Grüße".as_bytes().to_vec(),
        },
        Part {
            headers: "Content-Type: application/octet-stream;\r\n name=\"=?utf-8?Q?Angebot_=C3=9Cbersicht.dat?=\"\r\n\
                      Content-Transfer-Encoding: base64\r\n"
                .into(),
            body: base64_lines(b"x").into_bytes(),
        },
    ];
    let x = ex(&multipart(&head("files", ""), "mixed", &parts));
    let names: Vec<_> = x.attachments.iter().map(|a| a.name.as_deref()).collect();
    assert_eq!(
        names,
        [
            Some("Prüfbericht 2024.bin"),
            Some("Grüße.txt"),
            Some("Angebot Übersicht.dat")
        ]
    );
    assert_eq!(x.attachments[0].size, 3);
    assert_eq!(x.attachments[1].text, "Grüße");
    assert!(x.has_attachment);
}
