//! The pages in a real headless Chromium: an auditor searches, reads,
//! downloads and exports; a user sees only their own mail; the German
//! interface; hostile HTML runs nothing and loads nothing; a forged form
//! from another site is refused; an auditor places and releases a legal
//! hold and asks for an early deletion, which a data officer approves.
//! Screenshots go to target/screenshots.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

use crate::support::wait_until;
use crate::support::web::{PASSWORD, WebServer, ids, screenshot_dir};
use crate::support::webdriver::Browser;

/// A loopback HTTP server that counts requests and answers each with
/// `body`: the remote image's host, or another site's page.
struct Outside {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Outside {
    fn start(content_type: &'static str, body: Vec<u8>) -> Outside {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                counter.fetch_add(1, Ordering::SeqCst);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body);
            }
        });
        Outside { addr, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn shot(b: &Browser, name: &str) {
    b.screenshot(&screenshot_dir().join(format!("{name}.png")));
}

fn login(b: &Browser, server: &WebServer, user: &str) {
    b.goto(&format!("{}/login", server.url));
    b.fill("#user", user);
    b.fill("#password", PASSWORD);
    b.click_to_load("#login");
    b.find("#who");
}

/// Waits for a finished download called `name` in the browser's folder.
/// Chromium reserves the final name with an empty file while it writes a
/// `.crdownload` beside it, so the name alone does not mean finished.
fn downloaded(b: &Browser, name_prefix: &str, suffix: &str) -> PathBuf {
    wait_until(&format!("download {name_prefix}*{suffix}"), || {
        let files: Vec<PathBuf> = std::fs::read_dir(b.downloads())
            .ok()?
            .flatten()
            .map(|e| e.path())
            .collect();
        if files
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "crdownload"))
        {
            return None;
        }
        files.into_iter().find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with(name_prefix)
                && n.ends_with(suffix)
                && std::fs::metadata(p).is_ok_and(|m| m.len() > 0)
        })
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Opens the ZIP and checks SHA256SUMS and the manifest against the files
/// and the archive; returns the exported record ids.
fn check_export(zip_path: &Path, server: &WebServer) -> Vec<u64> {
    let file = std::fs::File::open(zip_path).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut files = std::collections::BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        let name = f
            .name()
            .unwrap()
            .trim_start_matches("mailseal-export/")
            .to_owned();
        files.insert(name, data);
    }
    let sums = String::from_utf8(files["SHA256SUMS"].clone()).unwrap();
    for line in sums.lines() {
        let (sum, name) = line.split_once("  ").unwrap();
        assert_eq!(sha256_hex(&files[name]), sum, "{name}");
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let head = manifest["chain_head"]["seq"].as_u64().unwrap();
    let mut seqs = Vec::new();
    for v in manifest["messages"].as_array().unwrap() {
        let seq = v["seq"].as_u64().unwrap();
        assert!(seq <= head);
        let file = v["file"].as_str().unwrap();
        assert_eq!(v["sha256"].as_str().unwrap(), server.content_sha(seq));
        assert_eq!(sha256_hex(&files[file]), server.content_sha(seq));
        seqs.push(seq);
    }
    seqs
}

#[test]
fn an_auditor_searches_reads_downloads_and_exports() {
    let server = WebServer::start("127.0.0.1:9".parse().unwrap(), |_| {});
    let b = Browser::start("en-US");
    b.goto(&format!("{}/login", server.url));
    b.find("#login-form");
    shot(&b, "login");
    login(&b, &server, "anna");

    // The query box.
    b.fill("#q", "Rechnung");
    b.click_to_load("#search");
    assert!(b.text("#count").starts_with("1 messages found"));
    let rows = b.find_all("#results tbody tr");
    assert_eq!(rows.len(), 1);
    assert!(b.text("#results").contains("Rechnung 2024-001"));
    shot(&b, "results");

    // The form: sender and source, no words.
    b.fill("#q", "");
    b.run("document.getElementById('advanced').open = true");
    b.fill("#f-from", "boss@corp.example");
    b.click("#f-source option[value=journal]");
    b.click_to_load("#search");
    assert!(b.text("#count").starts_with("1 messages found"));
    assert!(b.text("#results").contains("Contract draft"));
    assert!(
        b.text("#count")
            .contains("from:boss@corp.example source:journal")
    );
    shot(&b, "search-form");

    // Open the invoice; the proof panel names its hashes.
    b.goto(&format!("{}/message/{}", server.url, ids::INVOICE));
    assert_eq!(b.text("#subject"), "Rechnung 2024-001");
    assert_eq!(b.text("#proof-sha"), server.content_sha(ids::INVOICE));
    assert!(b.text("#attachments").contains("rechnung-2024-001.pdf"));
    shot(&b, "message");

    // Download the original and compare with the archive.
    b.click("#download-eml");
    let eml = downloaded(&b, &format!("{}.eml", ids::INVOICE), ".eml");
    let bytes = std::fs::read(&eml).unwrap();
    assert_eq!(sha256_hex(&bytes), server.content_sha(ids::INVOICE));

    // Export the whole of a search.
    b.goto(&format!("{}/search?q=date%3A2024", server.url));
    assert!(b.text("#count").starts_with("5 messages found"));
    b.click("#export-all");
    let zip = downloaded(&b, "mailseal-export-", ".zip");
    let mut seqs = check_export(&zip, &server);
    seqs.sort_unstable();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);

    b.goto(&format!("{}/audit", server.url));
    shot(&b, "audit");
    b.goto(&format!("{}/status", server.url));
    shot(&b, "status");
    for (action, pred) in [
        ("login", "anna"),
        ("search", "Rechnung"),
        ("view", "1"),
        ("download", "original .eml"),
        ("export", "5 messages"),
    ] {
        server.wait_audit(action, |e| {
            e.action == action
                && e.actor == "anna"
                && (e.query.as_deref() == Some(pred)
                    || e.detail.as_deref().is_some_and(|d| d.contains(pred))
                    || e.records.iter().any(|r| r.to_string() == pred)
                    || e.actor == pred)
        });
    }
}

#[test]
fn a_user_sees_only_their_own_mail_including_a_journal_bcc_copy() {
    let server = WebServer::start("127.0.0.1:9".parse().unwrap(), |_| {});
    let b = Browser::start("en-US");
    login(&b, &server, "eve");
    b.goto(&format!("{}/search?q=date%3A2024&sort=date", server.url));
    let text = b.text("#results");
    assert!(text.contains("Contract draft"), "the Bcc copy is missing");
    assert!(text.contains("Hostile newsletter") && text.contains("Grüße aus München"));
    assert!(!text.contains("Rechnung") && !text.contains("Lunch"));
    assert_eq!(b.find_all("#results tbody tr").len(), 3);
    shot(&b, "user-results");
    for id in [ids::INVOICE, ids::OTHERS, 77] {
        b.goto(&format!("{}/message/{id}", server.url));
        assert_eq!(b.text("#error-title"), "Not found");
        b.goto(&format!("{}/message/{id}/raw", server.url));
        assert!(!b.source().contains("Rechnung"));
    }
    server.wait_audit("the guess", |e| {
        e.action == "denied" && e.actor == "eve" && e.records == vec![ids::OTHERS]
    });
}

#[test]
fn the_interface_speaks_german() {
    let server = WebServer::start("127.0.0.1:9".parse().unwrap(), |_| {});
    let b = Browser::start("de-DE");
    b.goto(&format!("{}/login", server.url));
    assert_eq!(b.text("h1"), "Anmeldung am Mailarchiv");
    shot(&b, "login-de");
    login(&b, &server, "anna");
    b.goto(&format!("{}/search?q=M%C3%BCnchen", server.url));
    assert!(b.text("#count").starts_with("1 Nachrichten gefunden"));
    b.find("#results time");
    let shown = b.run("return document.querySelector('#results time').textContent");
    let utc = b.run("return document.querySelector('#results time').title");
    assert!(utc.as_str().unwrap().ends_with(" UTC"), "{utc}");
    assert_ne!(shown, utc, "the script did not localise the date");
    shot(&b, "results-de");
    // Switch to English and back by the links.
    b.click_to_load(".langs a[lang=en]");
    wait_until("English", || {
        (b.text("h1") == "Search the archive").then_some(())
    });
    b.click_to_load(".langs a[lang=de]");
    wait_until("German", || {
        (b.text("h1") == "Archiv durchsuchen").then_some(())
    });
}

#[test]
fn hostile_html_runs_no_script_and_loads_nothing_outside() {
    let png: Vec<u8> = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    let pixel = Outside::start("image/png", png);
    let server = WebServer::start(pixel.addr, |_| {});
    let b = Browser::start("en-US");
    login(&b, &server, "eve");
    b.goto(&format!("{}/message/{}", server.url, ids::HOSTILE));
    b.find("#html-body");
    assert!(
        b.text("#images-blocked")
            .starts_with("2 remote images were blocked")
    );
    b.frame(Some("#html-body"));
    wait_until("the frame's content", || {
        b.source().contains("Special offer").then_some(())
    });
    let inner = b.source();
    assert!(!inner.contains("<script") && !inner.contains("onerror"));
    assert!(
        b.run("return document.body.getAttribute('data-pwned')")
            .is_null()
    );
    b.frame(None);
    assert!(
        b.run("return document.body.getAttribute('data-pwned')")
            .is_null()
    );
    assert_ne!(b.title(), "pwned");
    shot(&b, "hostile-blocked");
    // The page and its frame are done; nothing went to the image's host.
    assert_eq!(
        b.run("return document.readyState").as_str(),
        Some("complete")
    );
    assert_eq!(pixel.hits(), 0, "the remote image was fetched");

    // Only when the reader asks do images load, and scripts still do not run.
    b.click_to_load("#show-images");
    wait_until("the remote image's request", || {
        (pixel.hits() > 0).then_some(())
    });
    assert_ne!(b.title(), "pwned");
    assert!(
        b.run("return document.body.getAttribute('data-pwned')")
            .is_null()
    );
    server.wait_audit("images allowed", |e| {
        e.detail.as_deref() == Some("html body, remote images allowed")
    });
}

#[test]
fn a_form_from_another_site_is_refused() {
    let server = WebServer::start("127.0.0.1:9".parse().unwrap(), |_| {});
    let attack = format!(
        "<!doctype html><form id=f method=post action=\"{}/export\">\
         <input name=scope value=all><input name=query value=date:2024></form>\
         <script>document.getElementById('f').submit()</script>",
        server.url
    );
    let evil = Outside::start("text/html", attack.into_bytes());
    let b = Browser::start("en-US");
    login(&b, &server, "anna");
    b.goto(&format!("http://{}/", evil.addr));
    wait_until("the forged export's answer", || {
        b.url().ends_with("/export").then_some(())
    });
    // Another port of 127.0.0.1 is the same site, so the cookie went along:
    // the token is what refuses the form.
    assert_eq!(b.text("#error-title"), "Form expired");
    assert!(std::fs::read_dir(b.downloads()).unwrap().next().is_none());
    server.wait_audit("the refused export", |e| {
        e.action == "denied" && e.detail.as_deref() == Some("export without a valid CSRF token")
    });
    shot(&b, "csrf-refused");
}

/// The value of the form field `css`.
fn value(b: &Browser, css: &str) -> String {
    b.find(css);
    b.run(&format!("return document.querySelector(\"{css}\").value"))
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn an_auditor_holds_and_asks_and_a_data_officer_approves_an_early_deletion() {
    let server = WebServer::start("127.0.0.1:9".parse().unwrap(), |s| {
        s.daily_purge = chrono::NaiveTime::from_hms_opt(2, 30, 0);
    });
    let anna = Browser::start("en-US");
    login(&anna, &server, "anna");

    // The message page's link opens the form with the message's id.
    anna.goto(&format!("{}/message/{}", server.url, ids::OTHERS));
    anna.click_to_load("#place-hold");
    assert_eq!(value(&anna, "#hold-ids"), ids::OTHERS.to_string());
    // A hold by search instead.
    anna.fill("#hold-ids", "");
    anna.fill("#hold-case", "BP-2026-7");
    anna.fill("#hold-reason", "Betriebsprüfung 2021-2024");
    anna.fill("#hold-query", "from:carl@corp.example");
    anna.click_to_load("#hold-submit");
    assert!(
        anna.text("#notice")
            .starts_with("The hold was placed as record"),
        "{}",
        anna.source()
    );
    let held = anna.text("#holds tr[data-case='BP-2026-7']");
    assert!(held.contains("active") && held.contains("from:carl@corp.example"));
    assert!(held.contains(&ids::OTHERS.to_string()) && held.contains("anna"));
    // A second case, by record ids, stays active.
    anna.fill("#hold-case", "K-2026-3");
    anna.fill("#hold-reason", "Klage Lieferant GmbH");
    anna.fill("#hold-query", "");
    anna.fill("#hold-ids", "1, 2");
    anna.click_to_load("#hold-submit");
    anna.find("#holds tr[data-case='K-2026-3']");
    // The first is released.
    anna.fill(
        "#holds tr[data-case='BP-2026-7'] input[name=reason]",
        "Prüfung abgeschlossen",
    );
    anna.click_to_load("#holds tr[data-case='BP-2026-7'] button");
    assert!(
        anna.text("#notice")
            .starts_with("The case was released as record")
    );
    let released = anna.text("#holds tr[data-case='BP-2026-7']");
    assert!(released.contains("released") && released.contains("Prüfung abgeschlossen"));
    assert!(
        anna.text("#holds tr[data-case='K-2026-3']")
            .contains("active")
    );
    shot(&anna, "holds");

    // Anna asks for the deletion of Carl's mail, from its page.
    anna.goto(&format!("{}/message/{}", server.url, ids::OTHERS));
    anna.click_to_load("#request-deletion");
    assert_eq!(value(&anna, "#deletion-ids"), ids::OTHERS.to_string());
    anna.fill("#deletion-reason", "DSGVO Art. 17, Ticket 123");
    anna.click_to_load("#deletion-submit");
    assert!(anna.text("#notice").starts_with("The request was recorded"));
    let request = anna
        .run("return document.querySelector('#requests tbody tr').dataset.request")
        .as_str()
        .unwrap()
        .to_owned();
    let row = format!("#requests tr[data-request='{request}']");
    assert!(anna.text(&row).contains("waiting for approval"));
    assert!(anna.find_all(&format!("{row} form")).is_empty());

    // Dora, a data officer, approves in German, with her password.
    let dora = Browser::start("de-DE");
    login(&dora, &server, "dora");
    dora.click_to_load("#nav-deletion");
    assert_eq!(dora.text("h1"), "Vorzeitige Löschung");
    assert!(
        dora.text("#purge-when")
            .contains("tägliche Löschung um 02:30")
    );
    dora.find(&format!("{row} input[name=password]"));
    shot(&dora, "deletion-de");
    dora.fill(&format!("{row} input[name=password]"), "falsch");
    dora.click_to_load(&format!("{row} button"));
    assert!(
        dora.text("#error")
            .starts_with("Das ist nicht Ihr Passwort")
    );
    dora.fill(&format!("{row} input[name=password]"), PASSWORD);
    dora.click_to_load(&format!("{row} button"));
    assert!(
        dora.text("#notice")
            .starts_with("Die Genehmigung wurde als Eintrag")
    );
    assert!(dora.text(&row).contains("genehmigt von dora; 0 von 1"));
    anna.goto(&format!("{}/deletion", server.url));
    assert!(anna.text(&row).contains("approved by dora; 0 of 1"));
    shot(&anna, "deletion");

    // The next purge deletes it; the message page says so.
    assert_eq!(server.purge_now(), 1);
    anna.goto(&format!("{}/deletion", server.url));
    assert!(anna.text(&row).contains("carried out: deleted on"));
    anna.goto(&format!("{}/message/{}", server.url, ids::OTHERS));
    assert_eq!(anna.text("#error-title"), "Deleted");
    assert!(anna.text("main").contains("approved request"));
    shot(&anna, "purged");
    anna.click_to_load(".langs a[lang=de]");
    wait_until("German", || {
        (anna.text("#error-title") == "Gelöscht").then_some(())
    });
    assert!(anna.text("main").contains("genehmigten Antrag"));
    shot(&anna, "purged-de");
    server.wait_audit("the approval", |e| {
        e.action == "purge-approve" && e.actor == "dora" && e.outcome == "ok"
    });
}
