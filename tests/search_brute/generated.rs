//! The generated multi-charset corpus (`support::mailgen`) imported with
//! `mailseal import eml` and searched with `mailseal search`, against the
//! brute-force oracle evaluated on the generator's source data: the
//! subjects, names, bodies and attachment texts as written, not as
//! mailseal's extractor reads them back. Receive times and ids come from
//! `mailseal list`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use mailseal::search::Direction;
use mailseal::search::document::{MessageDoc, unix_seconds};
use mailseal::search::extract::Attachment;
use sha2::{Digest, Sha256};

use crate::support::mailgen::{self, Generated, Mailbox};
use crate::support::search_oracle::{expected, words};

/// Messages in the corpus: every charset with every structure, twice over.
const MESSAGES: usize = 60;

/// The organisation's domain (`[archive] local_domains`).
const LOCAL: &str = "contoso.com";

fn cli(config: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mailseal"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("MAILSEAL_CONFIG")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn is_local(address: &str) -> bool {
    address
        .rsplit_once('@')
        .is_some_and(|(_, d)| d == LOCAL || d.ends_with(&format!(".{LOCAL}")))
}

/// Direction by its definition in docs/search.md: an imported message has
/// no envelope, so the header From decides the sender and To/Cc the
/// recipients.
fn direction(g: &Generated) -> Direction {
    let from_local = g.from.first().is_some_and(|m| is_local(&m.address));
    let rcpts: Vec<&Mailbox> = g.to.iter().chain(&g.cc).collect();
    let remote = rcpts.iter().any(|m| !is_local(&m.address));
    let local = rcpts.iter().any(|m| is_local(&m.address));
    match (from_local, local, remote) {
        (true, _, true) => Direction::Outbound,
        (true, _, false) => Direction::Internal,
        (false, true, _) => Direction::Inbound,
        (false, false, _) => Direction::External,
    }
}

fn mailbox_values(boxes: &[Mailbox]) -> Vec<String> {
    boxes
        .iter()
        .flat_map(|m| std::iter::once(m.address.clone()).chain(m.name.clone()))
        .collect()
}

/// The document the index should hold for `g`, from the source data.
fn truth_doc(g: &Generated, seq: u64, received: i64) -> MessageDoc {
    let to = mailbox_values(&g.to);
    let cc = mailbox_values(&g.cc);
    let mut thread = vec![g.message_id.clone()];
    thread.extend(g.thread.iter().cloned());
    MessageDoc {
        seq,
        received,
        date: g.date.map_or(received, |d| d.timestamp()),
        size: g.raw.len() as u64,
        source: "import".into(),
        listener: "eml".into(),
        from: mailbox_values(&g.from),
        rcpt: [to.clone(), cc.clone()].concat(),
        to,
        cc,
        reply_to: mailbox_values(&g.reply_to),
        subject: g.subject.clone(),
        body: g.body.clone(),
        attachments: g
            .attachments
            .iter()
            .map(|a| Attachment {
                name: a.name.clone(),
                mime_type: a.mime_type.clone(),
                size: a.size,
                text: a.text.clone(),
                ..Default::default()
            })
            .collect(),
        has_attachment: !g.attachments.is_empty(),
        message_id: Some(g.message_id.clone()),
        thread,
        direction: Some(direction(g)),
        ..Default::default()
    }
}

/// Queries for every field and operator: fixed ones, then words and
/// addresses drawn from the source data.
fn queries(corpus: &[Generated]) -> Vec<String> {
    let mut q: Vec<String> = [
        "rechnung",
        "rechnungen",
        "invoice",
        "müller",
        "mueller",
        "muller",
        "\"grüße aus münchen\"",
        "gruesse",
        "\"Ende März\"",
        "€",
        "請求書",
        "\"議事録\"",
        "привет",
        "κόσμε",
        "fördermittel",
        "from:mueller",
        "from:contoso.com",
        "from:@fabrikam.com",
        "from:yamada@example.jp",
        "from:jürgen",
        "from:\"Käthe Weiß\"",
        "from:山田太郎",
        "from:дмитрий",
        "to:contoso.com",
        "to:alice",
        "to:kunde@beispiel.de",
        "cc:fabrikam.com",
        "cc:bob*",
        "rcpt:mail.contoso.com",
        "reply-to:lieferant.de",
        "reply-to:antwort1@lieferant.de",
        "subject:angebot",
        "subject:\"Preisliste — gültig\"",
        "subject:m1*",
        "body:zeile1*",
        "body:ölpreise",
        "body:\"Hausnummer\"",
        "attachment:kostenvoranschlag",
        "attachment:rahmenvereinbarung",
        "attachment:protokoll",
        "attachment:schrauben",
        "attachment:\"Verlängerung, Kündigung\"",
        "filename:pdf",
        "filename:übersicht*",
        "filename:uebersicht*",
        "filename:liste*",
        "type:pdf",
        "type:application/pdf",
        "type:docx",
        "type:message/rfc822",
        "type:text/csv",
        "type:text",
        "has:attachment",
        "-has:attachment",
        "thread:m5@gen.contoso.com",
        "message-id:m7@gen.contoso.com",
        "message-id:<m8@gen.contoso.com>",
        "source:import",
        "source:journal",
        "listener:eml",
        "folder:inbox",
        "direction:inbound",
        "direction:outbound",
        "direction:internal",
        "direction:external",
        "date:2023",
        "date:2024",
        "date:2023-03..2023-06-30",
        "date:<2023-02",
        "date:>=2024-05",
        "received:2020..2100",
        "received:<2020",
        "size:>3k",
        "size:<2k",
        "size:1k..3k",
        "attachment-size:>1k",
        "attachment-size:<500",
        "rechnung OR invoice",
        "rechnung AND NOT has:attachment",
        "(vertrag OR contract) -from:contoso.com",
        "NOT date:2024",
        "subject:rechnung body:rechnung",
        "(type:pdf OR type:docx) direction:inbound",
        "from:(jürgen OR yamada)",
        "zeile*",
        "vertrag*",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for g in corpus.iter().step_by(3) {
        if let Some(w) = words(&g.subject).into_iter().max_by_key(|w| w.len()) {
            q.push(format!("subject:{w}"));
        }
        if let Some(w) = words(&g.body).into_iter().filter(|w| w.len() > 3).nth(2) {
            q.push(format!("body:{w}"));
            q.push(w);
        }
        for a in &g.attachments {
            if let Some(w) = words(&a.text).into_iter().rfind(|w| w.len() > 4) {
                q.push(format!("attachment:{w}"));
            }
        }
        q.push(format!("from:{}", g.from[0].address));
        if let Some(name) = &g.from[0].name {
            q.push(format!("from:\"{name}\""));
        }
        q.push(format!("to:{}", g.to[0].address));
        q.push(format!("thread:{}", g.message_id));
    }
    q
}

#[test]
fn generated_multi_charset_corpus_agrees_with_a_brute_force_scan() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let config = dir.path().join("mailseal.toml");
    std::fs::write(
        &config,
        format!(
            "[archive]\npath = {:?}\nlocal_domains = [\"{LOCAL}\"]\n\n[http]\nenabled = false\n",
            archive.display().to_string()
        ),
    )
    .unwrap();
    let corpus: Vec<Generated> = (0..MESSAGES).map(mailgen::message).collect();
    let files = dir.path().join("eml");
    std::fs::create_dir_all(&files).unwrap();
    let mut paths = Vec::new();
    for (i, g) in corpus.iter().enumerate() {
        let path = files.join(format!("{i:03}.eml"));
        std::fs::write(&path, &g.raw).unwrap();
        paths.push(path.display().to_string());
    }
    let mut args = vec!["import", "eml"];
    args.extend(paths.iter().map(String::as_str));
    let o = cli(&config, &args);
    assert!(o.status.success(), "{}", text(&o));

    // Ids and receive times as the archive recorded them, by content.
    let o = cli(&config, &["list", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let listed: BTreeMap<String, (u64, i64)> = json_lines(&o)
        .iter()
        .map(|v| {
            let time = unix_seconds(v["time"].as_str().unwrap()).unwrap();
            (
                v["sha256"].as_str().unwrap().to_string(),
                (v["seq"].as_u64().unwrap(), time),
            )
        })
        .collect();
    let docs: Vec<MessageDoc> = corpus
        .iter()
        .map(|g| {
            let sha = hex::encode(Sha256::digest(&g.raw));
            let (seq, received) = listed[&sha];
            truth_doc(g, seq, received)
        })
        .collect();
    assert_eq!(docs.len(), MESSAGES);

    let queries = queries(&corpus);
    let mut failures = Vec::new();
    let mut nonempty = 0;
    for q in &queries {
        for (sort, desc) in [("date", false), ("-date", true)] {
            let o = cli(
                &config,
                // After `--`: `-has:attachment` is a query, not `-h`.
                &[
                    "search", "--json", "--sort", sort, "--limit", "1000", "--", q,
                ],
            );
            assert!(o.status.success(), "search {q}: {}", text(&o));
            let got: Vec<u64> = json_lines(&o)
                .iter()
                .map(|v| v["seq"].as_u64().unwrap())
                .collect();
            let want = expected(&docs, q, desc);
            if got != want {
                failures.push(format!(
                    "{q} ({sort}): search {got:?}, brute force {want:?}"
                ));
            }
            nonempty += usize::from(!want.is_empty() && !desc);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries differ:\n{}",
        failures.len(),
        queries.len(),
        failures.join("\n")
    );
    // The comparison means something only if most queries find mail.
    assert!(
        nonempty * 5 >= queries.len() * 4,
        "{nonempty} of {} queries match",
        queries.len()
    );
    let o = cli(&config, &["search", "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
