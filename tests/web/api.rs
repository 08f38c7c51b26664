//! The JSON API as `mailseal run` serves it on the `[web]` listener:
//! searches answered by the daemon's full-text index (German umlaut
//! folding and stems, which no scan of the segments does), cursor paging,
//! the person's scope on every hit and every message, byte-exact raw
//! downloads, errors as JSON, and every call in the sealed audit trail.

use std::net::SocketAddr;
use std::process::Command;

use crate::support::daemon::{self, Daemon};
use crate::support::smtp::{free_port, smtplib_send};
use crate::support::wait_until;
use crate::support::web::users;

use super::Client;

/// One plain-text message.
fn message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Tue, 2 Apr 2024 10:00:00 +0000\r\n\
         Message-ID: <{}@api.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n",
        subject.replace(' ', "-")
    )
    .into_bytes()
}

fn json(a: &crate::support::http::Answer) -> serde_json::Value {
    serde_json::from_slice(&a.body).unwrap_or_else(|e| panic!("{e}: {}", a.text()))
}

fn ids(v: &serde_json::Value) -> Vec<u64> {
    v["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("no hits in {v}"))
        .iter()
        .map(|h| h["id"].as_u64().unwrap())
        .collect()
}

#[test]
fn the_api_searches_the_index_within_the_scope_and_records_every_call() {
    let dir = tempfile::tempdir().unwrap();
    let users_file = dir.path().join("users.toml");
    users().save(&users_file).unwrap();
    let journal = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let web = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = dir.path().join("mailseal.toml");
    let toml = format!(
        "[archive]\npath = {:?}\n\n[[journal]]\nname = \"journal\"\nlisten = \"{journal}\"\n\n\
         [http]\nenabled = false\n\n[web]\nenabled = true\nlisten = \"{web}\"\nusers_file = {:?}\n",
        dir.path().join("archive").display().to_string(),
        users_file.display().to_string(),
    );
    std::fs::write(&config, daemon::with_control(&config, toml)).unwrap();
    let mut daemon = Daemon::start(&config, journal);

    let mails = [
        (
            "eve@corp.example",
            message(
                "Jörg Müller <joerg@supplier.example>",
                "eve@corp.example",
                "Rechnungen März",
                "Anbei die Rechnungen für den Vertrag.",
            ),
        ),
        (
            "eve@corp.example",
            message(
                "kontakt@supplier.example",
                "eve@corp.example",
                "Vertrag Entwurf",
                "Die Rechnung folgt mit dem Vertrag.",
            ),
        ),
        (
            "mallory@corp.example",
            message(
                "kontakt@supplier.example",
                "mallory@corp.example",
                "Rechnung intern",
                "Nur für Mallory.",
            ),
        ),
    ];
    for (i, (rcpt, bytes)) in mails.iter().enumerate() {
        let path = dir.path().join(format!("m{i}.eml"));
        std::fs::write(&path, bytes).unwrap();
        let reply = smtplib_send(journal, "billing@supplier.example", rcpt, &path);
        assert!(reply.starts_with("250"), "{reply}");
    }

    let anna = Client::login(web, "anna");
    // The index answers once it has caught up; "Muller" finds "Müller"
    // (umlaut folding) and "rechnung" finds "Rechnungen" (stems).
    let all = wait_until("the index holds all three", || {
        let v = json(&anna.get("/api/v1/search?q=rechnung&sort=date"));
        (v["total"] == 3).then_some(v)
    });
    assert_eq!(all["hits"].as_array().unwrap().len(), 3, "{all}");
    assert!(all["indexed"].as_u64().is_some(), "{all}");
    let first = &all["hits"][0];
    assert_eq!(first["summary"]["seq"], first["id"]);
    let mark = &first["highlight"];
    let text = mark["text"].as_str().unwrap();
    let (a, b) = (
        mark["ranges"][0][0].as_u64().unwrap() as usize,
        mark["ranges"][0][1].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[a..b], "Rechnungen", "{mark}");
    let muller = json(&anna.get("/api/v1/search?q=from:Muller"));
    assert_eq!(muller["total"], 1, "{muller}");

    // Eve sees her two, page by page with the cursor; never Mallory's.
    let eve = Client::login(web, "eve");
    let page1 = json(&eve.get("/api/v1/search?q=&limit=1&sort=date"));
    assert_eq!(page1["total"], 2, "{page1}");
    let cursor = page1["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let page2 = json(&eve.get(&format!(
        "/api/v1/search?limit=1&sort=date&cursor={}",
        crate::support::http::form(&[("", &cursor)]).trim_start_matches('=')
    )));
    let (one, two) = (ids(&page1), ids(&page2));
    assert_eq!((one.len(), two.len()), (1, 1), "{page1} {page2}");
    assert!(one[0] < two[0]);
    assert_eq!(ids(&all)[..2], [one[0], two[0]]);
    let mallorys = ids(&all)[2];
    let denied = eve.get(&format!("/api/v1/messages/{mallorys}"));
    assert_eq!(denied.status, 404, "{}", denied.text());
    assert_eq!(json(&denied)["error"], "not-found");
    let none = json(&eve.get("/api/v1/search?q=mallory"));
    assert_eq!(none["total"], 0, "{none}");

    // The record and the exact bytes.
    let meta = json(&eve.get(&format!("/api/v1/messages/{}", one[0])));
    assert_eq!(
        meta["meta"]["rcpts"][0]["address"], "eve@corp.example",
        "{meta}"
    );
    assert_eq!(meta["record_hash"].as_str().unwrap().len(), 64);
    let raw = eve.get(&format!("/api/v1/messages/{}/raw", one[0]));
    assert_eq!(raw.status, 200);
    assert_eq!(raw.header("content-type"), Some("message/rfc822"));
    assert_eq!(raw.body, mails[0].1);

    // Errors are JSON: a syntax error names the position, no session is 401.
    let bad = anna.get("/api/v1/search?q=from%3A");
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert_eq!(json(&bad)["error"], "query");
    let stranger = crate::support::http::request(web, "GET", "/api/v1/search?q=x", &[], b"");
    assert_eq!(stranger.status, 401);
    assert_eq!(json(&stranger)["error"], "login");
    let otto = Client::login(web, "otto");
    assert_eq!(otto.get("/api/v1/search?q=x").status, 403);

    // Every call is in the sealed trail, the refused one as denied.
    let out = daemon.cli(&["audit", "--json"]);
    assert!(out.status.success());
    let trail: Vec<serde_json::Value> = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let seen = |actor: &str, action: &str| {
        trail
            .iter()
            .filter(|r| r["event"]["actor"] == actor && r["event"]["action"] == action)
            .count()
    };
    assert!(seen("anna", "search") >= 2);
    assert_eq!(seen("eve", "view"), 1);
    assert_eq!(seen("eve", "download"), 1);
    assert_eq!(seen("eve", "denied"), 1);
    assert!(
        trail
            .iter()
            .any(|r| r["event"]["query"] == "from:Muller" && r["event"]["actor"] == "anna")
    );

    daemon.stop();
    let verify = Command::new(env!("CARGO_BIN_EXE_mailseal"))
        .arg("--config")
        .arg(&config)
        .arg("verify")
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");
}
