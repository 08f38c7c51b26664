//! A deterministic generator of realistic business mail for the search
//! benchmark: German and English text, many people, domains and threads,
//! HTML alternatives, a fifth with attachments (a few up to 2 MB), a median
//! around 10 kB and a mean around 15 kB per message.

use base64::Engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DE: &str = "Rechnung Rechnungen Angebot Angebote Vertrag Verträge Lieferung Lieferungen \
Bestellung Bestellungen Zahlung Mahnung Kündigung Frist Termin Besprechung Projekt Projekte \
Kunde Kunden Lieferant Lieferanten Preis Preise Rabatt Menge Artikel Auftrag Aufträge Anlage \
Unterlagen Prüfung Freigabe Genehmigung Abrechnung Steuer Umsatzsteuer Buchhaltung Jahresabschluss \
Quartal Bericht Berichte Übersicht Änderung Änderungen Größe Qualität Reklamation Gutschrift \
bitte danke gerne leider noch schon bereits morgen heute nächste Woche Monat Jahr wir Sie Ihnen \
haben senden erhalten prüfen bestätigen vereinbaren liefern zahlen überweisen abstimmen melden \
und oder aber mit für über unter nach vor bei von zum zur die der das den dem ein eine einen \
Grüße freundlichen Herr Frau Team Abteilung Geschäftsführung Vertrieb Einkauf Lager Versand \
Straße München Köln Düsseldorf Nürnberg Zürich Wien Bürgschaft Gewährleistung Haftung Schaden";

const EN: &str = "invoice invoices offer offers contract contracts delivery deliveries order \
orders payment reminder termination deadline meeting project projects customer customers supplier \
suppliers price prices discount quantity item purchase attachment documents review approval \
billing tax accounting report reports overview change changes size quality complaint credit \
please thanks kindly unfortunately still already tomorrow today next week month year we you \
have send received check confirm agree deliver pay transfer align report and or but with for \
over under after before at from to the a an of in on regards best team department management \
sales purchasing warehouse shipping London Chicago Dublin Boston warranty liability damage \
shipped shipping shipment confirmed confirming scheduled schedule budget forecast quarterly";

const FIRST: &[&str] = &[
    "Jürgen",
    "Anna",
    "Björn",
    "Sophie",
    "Thomas",
    "Müge",
    "Klaus",
    "Sabine",
    "Peter",
    "Julia",
    "Michael",
    "Laura",
    "John",
    "Mary",
    "James",
    "Linda",
    "Robert",
    "Patricia",
    "David",
    "Jennifer",
    "Özlem",
    "Frédéric",
    "Zoë",
    "Łukasz",
    "René",
    "Åsa",
    "Søren",
    "Ines",
    "Stefan",
    "Petra",
];
const LAST: &[&str] = &[
    "Müller",
    "Schröder",
    "Groß",
    "Weiß",
    "Bäcker",
    "Schmidt",
    "Fischer",
    "Meyer",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Neumann",
    "Schwarz",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "García",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "Thompson",
    "White",
    "Harris",
];

/// The style block Outlook puts in front of every HTML mail.
const STYLE: &str = "/* Font Definitions */ @font-face {font-family:\"Cambria Math\"; panose-1:2 4 5 3 5 4 6 3 2 4;} \
@font-face {font-family:Calibri; panose-1:2 15 5 2 2 2 4 3 2 4;} /* Style Definitions */ p.MsoNormal, li.MsoNormal, \
div.MsoNormal {margin:0cm; font-size:11.0pt; font-family:\"Calibri\",sans-serif; mso-fareast-language:EN-US;} \
a:link, span.MsoHyperlink {mso-style-priority:99; color:#0563C1; text-decoration:underline;} \
span.E-MailFormatvorlage17 {mso-style-type:personal-compose; font-family:\"Calibri\",sans-serif; color:windowtext;} \
.MsoChpDefault {mso-style-type:export-only; font-size:10.0pt; mso-fareast-language:EN-US;} \
@page WordSection1 {size:612.0pt 792.0pt; margin:70.85pt 70.85pt 2.0cm 70.85pt;} div.WordSection1 {page:WordSection1;} \
p.MsoListParagraph, li.MsoListParagraph, div.MsoListParagraph {mso-style-priority:34; margin-top:0cm; margin-right:0cm; \
margin-bottom:0cm; margin-left:36.0pt; font-size:11.0pt; font-family:\"Calibri\",sans-serif;} \
span.E-MailFormatvorlage18 {mso-style-type:personal-reply; font-family:\"Calibri\",sans-serif; color:#1F497D;}";

/// The organisation's own domain in the corpus.
pub const LOCAL_DOMAIN: &str = "example.com";

/// One generated message.
pub struct Generated {
    /// The message bytes.
    pub raw: Vec<u8>,
    /// Envelope sender.
    pub mail_from: String,
    /// Envelope recipients.
    pub rcpts: Vec<String>,
    /// Bcc recipient known only to the journal report.
    pub bcc: Option<String>,
    /// Receive time, Unix seconds (the in-process benchmark's record
    /// time; a daemon stamps its own).
    #[allow(dead_code)]
    pub received: i64,
}

/// Generates message `i` of a corpus seeded by `seed`.
pub struct Corpus {
    de: Vec<&'static str>,
    en: Vec<&'static str>,
    seed: u64,
}

fn person(rng: &mut StdRng, local: bool) -> (String, String) {
    // A Zipf-like skew: few people write most mail.
    let n = (rng.gen_range(0.0f64..1.0).powi(3) * 20_000.0) as usize;
    let first = FIRST[n % FIRST.len()];
    let last = LAST[(n / FIRST.len()) % LAST.len()];
    let domain = if local {
        LOCAL_DOMAIN.to_string()
    } else {
        let d = n % 3_000;
        let tld = ["de", "com", "co.uk", "at", "ch", "org"][d % 6];
        format!("firma{d}.{tld}")
    };
    let ascii: String = format!("{first}.{last}")
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'ä' => 'a',
            'ö' => 'o',
            'ü' => 'u',
            'ß' => 's',
            'é' => 'e',
            'ë' => 'e',
            'å' => 'a',
            'ø' => 'o',
            'ł' => 'l',
            'ç' => 'c',
            'í' => 'i',
            c => c,
        })
        .collect();
    (
        format!("{first} {last}"),
        format!("{ascii}{}@{domain}", n / 1000),
    )
}

impl Corpus {
    /// A corpus; the same seed gives the same messages.
    pub fn new(seed: u64) -> Corpus {
        Corpus {
            de: DE.split_whitespace().collect(),
            en: EN.split_whitespace().collect(),
            seed,
        }
    }

    fn sentence(&self, rng: &mut StdRng, german: bool) -> String {
        let words = if german { &self.de } else { &self.en };
        let n = rng.gen_range(6..18);
        let mut s: Vec<&str> = (0..n)
            .map(|_| words[rng.gen_range(0..words.len())])
            .collect();
        if rng.gen_bool(0.3) {
            s.push(["2024", "2025", "4711", "RE-2024-0815", "PO-99812"][rng.gen_range(0..5)]);
        }
        let mut out = s.join(" ");
        out.push('.');
        out
    }

    /// `n` sentences, one per line.
    fn lines(&self, rng: &mut StdRng, german: bool, n: usize) -> String {
        (0..n)
            .map(|_| self.sentence(rng, german))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Message `i` as all-text mail of about `size` bytes (plain 8bit
    /// prose, no attachment): far more text per message than the mix.
    pub fn text_message(&self, i: u64, size: usize) -> Generated {
        let mut rng = StdRng::seed_from_u64(!self.seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let german = rng.gen_bool(0.6);
        let (from_name, from) = person(&mut rng, false);
        let (to_name, to) = person(&mut rng, true);
        let received = 1_480_000_000 + (i as i64) * 300 + rng.gen_range(0..300);
        let date = chrono::DateTime::from_timestamp(received, 0)
            .map(|d| d.to_rfc2822())
            .unwrap_or_default();
        let subject = self.sentence(&mut rng, german);
        let mut m = format!(
            "From: {from_name} <{from}>\r\nTo: {to_name} <{to}>\r\nSubject: {subject}\r\n\
             Date: {date}\r\nMessage-ID: <x{i}@{LOCAL_DOMAIN}>\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        );
        while m.len() < size {
            m.push_str(&self.sentence(&mut rng, german));
            m.push_str("\r\n");
        }
        Generated {
            raw: m.into_bytes(),
            mail_from: from,
            rcpts: vec![to],
            bcc: None,
            received,
        }
    }

    /// Message `i` (its receive time grows with `i`, ten years of mail).
    pub fn message(&self, i: u64) -> Generated {
        let mut rng = StdRng::seed_from_u64(self.seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let german = rng.gen_bool(0.6);
        let outbound = rng.gen_bool(0.4);
        let (from_name, from) = person(&mut rng, outbound);
        let (to_name, to) = person(&mut rng, !outbound);
        let cc_local = rng.gen_bool(0.5);
        let cc = rng.gen_bool(0.3).then(|| person(&mut rng, cc_local));
        let bcc = rng.gen_bool(0.05).then(|| person(&mut rng, true).1);
        let received = 1_480_000_000 + (i as i64) * 300 + rng.gen_range(0..300);
        let date = chrono::DateTime::from_timestamp(received - rng.gen_range(1..120), 0)
            .map(|d| d.to_rfc2822())
            .unwrap_or_default();
        let thread = i / rng.gen_range(2..6);
        let subject = format!(
            "{}{} {}",
            if i.is_multiple_of(3) { "Re: " } else { "" },
            self.sentence(&mut rng, german)
                .split(' ')
                .take(5)
                .collect::<Vec<_>>()
                .join(" "),
            thread
        );
        let mut h = format!(
            "Received: from mail.{d} (mail.{d} [192.0.2.{a}]) by mx.example.com with ESMTPS id {i:x}\r\n\
             \tfor <{to}>; {date}\r\n\
             Received: from client.{d} by mail.{d} with ESMTPSA id {t:x}; {date}\r\n\
             From: {from_name} <{from}>\r\nTo: {to_name} <{to}>\r\n",
            d = from.rsplit('@').next().unwrap_or("x"),
            a = i % 250,
            t = i * 7,
        );
        if let Some((n, a)) = &cc {
            h.push_str(&format!("Cc: {n} <{a}>\r\n"));
        }
        h.push_str(&format!(
            "Subject: {subject}\r\nDate: {date}\r\nMessage-ID: <m{i}@{}>\r\n",
            from.rsplit('@').next().unwrap_or("x")
        ));
        if i.is_multiple_of(3) && i > 0 {
            h.push_str(&format!(
                "In-Reply-To: <m{}@x>\r\nReferences: <t{thread}@x> <m{}@x>\r\n",
                i - 1,
                i - 1
            ));
        }
        h.push_str("MIME-Version: 1.0\r\nX-Mailer: Bench 1.0\r\nX-MS-Exchange-Organization-AuthAs: Internal\r\n");
        // Signatures and authentication results: most of a real header.
        let sig: Vec<u8> = (0..rng.gen_range(900..1600))
            .map(|_| rng.r#gen::<u8>())
            .collect();
        let sig = base64::engine::general_purpose::STANDARD.encode(sig);
        for (k, chunk) in sig.as_bytes().chunks(600).enumerate() {
            h.push_str(&format!(
                "{}: i={k}; a=rsa-sha256; d=example.net; s=s1; b={}\r\n",
                [
                    "DKIM-Signature",
                    "ARC-Seal",
                    "ARC-Message-Signature",
                    "X-MS-Exchange-CrossTenant-Id"
                ][k % 4],
                String::from_utf8_lossy(chunk)
            ));
        }
        // Body: 2–40 sentences, skewed small, plus a quoted reply sometimes.
        let n = 6 + (rng.gen_range(0.0f64..1.0).powi(2) * 60.0) as usize;
        let mut body = String::new();
        for k in 0..n {
            body.push_str(&self.sentence(&mut rng, german ^ (k % 7 == 6)));
            body.push_str(if k % 4 == 3 { "\r\n\r\n" } else { " " });
        }
        body.push_str(&format!(
            "\r\n\r\n{}\r\n{from_name}\r\n",
            if german {
                "Mit freundlichen Grüßen"
            } else {
                "Best regards"
            }
        ));
        if rng.gen_bool(0.4) {
            for _ in 0..rng.gen_range(3..15) {
                body.push_str(&format!("> {}\r\n", self.sentence(&mut rng, german)));
            }
        }
        let attachment = rng.gen_bool(0.2);
        let html = rng.gen_bool(0.7);
        let mut m = h;
        let b = format!("b{i:x}");
        if attachment {
            m.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n--{b}\r\n"
            ));
        }
        if html {
            m.push_str(&format!(
                "Content-Type: multipart/alternative; boundary=\"a{b}\"\r\n\r\n--a{b}\r\n"
            ));
        }
        m.push_str(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        );
        m.push_str(&body);
        if html {
            let paras: String = body.split("\r\n\r\n").map(|p| format!("<p class=MsoNormal><span style='font-size:11.0pt;font-family:\"Calibri\",sans-serif;color:#1F497D;mso-fareast-language:DE'>{p}<o:p></o:p></span></p>\r\n")).collect();
            m.push_str(&format!(
                "\r\n--a{b}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><head><meta charset=\"utf-8\"><style>{STYLE}</style></head><body lang=DE link=\"#0563C1\">\r\n<div class=WordSection1>{paras}</div></body></html>\r\n--a{b}--\r\n"
            ));
        }
        let mut raw = m.into_bytes();
        if attachment {
            // Mostly 10–150 kB, one in a hundred up to 2 MB.
            let size = if rng.gen_bool(0.01) {
                rng.gen_range(500_000..1_500_000)
            } else {
                rng.gen_range(8_000..40_000)
            };
            let (name, ty) = [
                ("Rechnung", "application/pdf"),
                (
                    "Angebot",
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                ),
                ("scan", "image/jpeg"),
                ("invoice", "application/pdf"),
            ][rng.gen_range(0..4)];
            let ext = if ty.ends_with("pdf") {
                "pdf"
            } else if ty.ends_with("jpeg") {
                "jpg"
            } else {
                "docx"
            };
            raw.extend_from_slice(format!(
                "\r\n--{b}\r\nContent-Type: {ty}; name=\"{name}-{i}.{ext}\"\r\nContent-Disposition: attachment; filename=\"{name}-{i}.{ext}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            ).as_bytes());
            let bytes = match ext {
                // Real documents, so the extractor does its real work: a
                // PDF of 1–3 pages of text whose size is mostly a scanned
                // letterhead, a DOCX of 10–60 paragraphs.
                "pdf" => {
                    let pages: Vec<String> = (0..rng.gen_range(1..4))
                        .map(|_| self.lines(&mut rng, german, 30))
                        .collect();
                    let pages: Vec<&str> = pages.iter().map(String::as_str).collect();
                    crate::docs::pdf(&pages, size)
                }
                "docx" => {
                    let paras: Vec<String> = (0..rng.gen_range(10..60))
                        .map(|_| self.lines(&mut rng, german, 3).replace('\n', " "))
                        .collect();
                    let paras: Vec<&str> = paras.iter().map(String::as_str).collect();
                    crate::docs::docx(&paras)
                }
                _ => (0..size).map(|_| rng.r#gen::<u8>()).collect(),
            };
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            for line in b64.as_bytes().chunks(76) {
                raw.extend_from_slice(line);
                raw.extend_from_slice(b"\r\n");
            }
            raw.extend_from_slice(format!("--{b}--\r\n").as_bytes());
        }
        let mut rcpts = vec![to];
        rcpts.extend(cc.map(|c| c.1));
        Generated {
            raw,
            mail_from: from,
            rcpts,
            bcc,
            received,
        }
    }
}
