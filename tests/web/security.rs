//! The web interface's security rules over plain HTTP: headers, cookies,
//! scopes, CSRF, lockout, four eyes, and the sealed audit trail.

use std::net::SocketAddr;
use std::process::Command;

use mailseal::archive::audit::AuditEvent;
use mailseal::archive::segment::{self, Kind, SegmentReader};
use mailseal::archive::verify;
use mailseal::web::limiter::Limits;

use super::{Client, login_as};
use crate::support::web::{WebServer, ids, users};

/// Nothing listens here; the hostile mail's image is never fetched in
/// these tests.
fn nowhere() -> SocketAddr {
    "127.0.0.1:9".parse().unwrap()
}

fn audit_has(server: &WebServer, what: &str, pred: impl Fn(&AuditEvent) -> bool) -> AuditEvent {
    server.wait_audit(what, pred)
}

#[test]
fn every_answer_carries_the_security_headers_and_strict_cookies() {
    let server = WebServer::start(nowhere(), |_| {});
    let page = crate::support::http::request(server.addr, "GET", "/login", &[], b"");
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline") || csp.contains("style-src 'self'"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    let pre = page.all("set-cookie").join("\n");
    for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(pre.contains(part), "{pre}");
    }
    let (a, cookie) = login_as(server.addr, "anna", crate::support::web::PASSWORD);
    assert_eq!(a.status, 303);
    let set = a.all("set-cookie").join("\n");
    assert!(set.contains("__Host-mailseal=") && set.contains("SameSite=Strict"));
    let body = crate::support::http::request(
        server.addr,
        "GET",
        &format!("/message/{}/body", ids::HOSTILE),
        &[("Cookie", &cookie)],
        b"",
    );
    assert_eq!(body.status, 200);
    let csp = body.header("content-security-policy").unwrap();
    assert!(csp.contains("sandbox") && csp.contains("default-src 'none'"));
    assert!(!csp.contains("http:"), "{csp}");
    assert!(!body.text().contains("<script") && !body.text().contains("onerror"));
}

#[test]
fn a_user_sees_only_their_mail_and_guessing_ids_gives_404_and_a_record() {
    let server = WebServer::start(nowhere(), |_| {});
    let eve = Client::login(server.addr, "eve");
    let page = eve.get("/search?q=date%3A2000..2100&sort=date").text();
    let shown: Vec<u64> = page
        .split("data-id=\"")
        .skip(1)
        .filter_map(|p| p.split('"').next()?.parse().ok())
        .collect();
    assert_eq!(shown, vec![ids::JOURNAL_BCC, ids::HOSTILE, ids::GERMAN]);
    assert_eq!(
        eve.get(&format!("/message/{}", ids::JOURNAL_BCC)).status,
        200
    );
    for path in [
        format!("/message/{}", ids::INVOICE),
        format!("/message/{}/raw", ids::OTHERS),
        format!("/message/{}/attachment/0", ids::INVOICE),
        format!("/message/{}/body", ids::OTHERS),
        "/message/999".to_owned(),
        "/message/abc".to_owned(),
    ] {
        let a = eve.get(&path);
        assert_eq!(a.status, 404, "{path}");
        assert!(!a.text().contains("Rechnung") && !a.text().contains("Lunch"));
    }
    let missing = eve.get(&format!("/message/{}", ids::INVOICE)).text();
    let nonexistent = eve.get("/message/999").text();
    let main = |page: &str| page.split("<main>").nth(1).unwrap_or_default().to_owned();
    assert_eq!(
        main(&missing),
        main(&nonexistent),
        "a hidden message and a missing one must look the same"
    );
    let export = eve.post(
        "/export",
        &[
            ("csrf", &eve.csrf),
            ("scope", "selected"),
            ("format", "eml"),
            ("id", &ids::INVOICE.to_string()),
        ],
    );
    assert_eq!(export.status, 404);
    audit_has(&server, "a denied guess", |e| {
        e.action == "denied" && e.actor == "eve" && e.records == vec![ids::OTHERS]
    });
    audit_has(&server, "a denied export", |e| {
        e.action == "denied" && e.detail.as_deref().is_some_and(|d| d.contains("export"))
    });
    let mallory = Client::login(server.addr, "mallory");
    let none = mallory.get("/search?q=date%3A2000..2100").text();
    assert!(!none.contains("data-id="), "mallory saw mail");
    let otto = Client::login(server.addr, "otto");
    assert_eq!(otto.get("/search?q=x").status, 403);
    assert_eq!(otto.get(&format!("/message/{}", ids::INVOICE)).status, 403);
    assert_eq!(otto.get("/status").status, 200);
    assert_eq!(eve.get("/audit").status, 403);
}

#[test]
fn csrf_tokens_guard_every_change() {
    let server = WebServer::start(nowhere(), |_| {});
    let anna = Client::login(server.addr, "anna");
    let forged = anna.post("/logout", &[("csrf", "0".repeat(64).as_str())]);
    assert_eq!(forged.status, 403);
    assert_eq!(
        anna.get("/search").status,
        200,
        "a forged logout ended the session"
    );
    let forged = anna.post("/export", &[("scope", "all"), ("query", "Rechnung")]);
    assert_eq!(forged.status, 403);
    audit_has(&server, "the refused export", |e| {
        e.action == "denied" && e.detail.as_deref() == Some("export without a valid CSRF token")
    });
    let login_without_pre = crate::support::http::request(
        server.addr,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"pre=x&user=anna&password=correct+horse+battery",
    );
    assert_eq!(login_without_pre.status, 403);
    assert!(login_without_pre.cookie("__Host-mailseal").is_none());
    let out = anna.post("/logout", &[("csrf", &anna.csrf)]);
    assert_eq!(out.status, 303);
    assert_eq!(
        anna.get("/search").status,
        303,
        "logout did not end the session"
    );
}

#[test]
fn repeated_failures_lock_the_name_and_are_summarised() {
    let server = WebServer::start(nowhere(), |s| {
        s.limits = Limits {
            per_user: 3,
            ..Limits::default()
        }
    });
    for _ in 0..3 {
        let (a, cookie) = login_as(server.addr, "anna", "wrong password!");
        assert_eq!(a.status, 401);
        assert!(cookie.is_empty());
        assert!(a.text().contains("The user name or password is wrong."));
    }
    let (locked, cookie) = login_as(server.addr, "anna", crate::support::web::PASSWORD);
    assert_eq!(locked.status, 401);
    assert!(cookie.is_empty(), "a locked-out name logged in");
    assert!(locked.text().contains("Too many failed attempts"));
    assert_eq!(
        login_as(server.addr, "otto", crate::support::web::PASSWORD)
            .0
            .status,
        303
    );
    let dir = server.stop();
    let archive = mailseal::archive::Archive::open_dir(dir.path()).unwrap();
    let reader = archive.reader();
    let events: Vec<AuditEvent> = reader
        .summaries()
        .unwrap()
        .into_iter()
        .filter(|s| s.kind == "audit")
        .map(|s| match reader.record(s.seq).unwrap().0.body {
            mailseal::archive::record::RecordBody::Audit(e) => *e,
            _ => unreachable!(),
        })
        .collect();
    let failed: Vec<_> = events
        .iter()
        .filter(|e| e.action == "login-failed")
        .collect();
    assert_eq!(failed.len(), 1, "{events:?}");
    assert_eq!(failed[0].actor, "anna");
    let summary: Vec<_> = events
        .iter()
        .filter(|e| e.action == "login-failures")
        .collect();
    assert_eq!(summary.len(), 1, "{events:?}");
    assert_eq!(summary[0].count, Some(3));
    assert_eq!(summary[0].peer.as_deref(), Some("127.0.0.1"));
    archive.close().unwrap();
}

#[test]
fn four_eyes_needs_a_second_person() {
    let server = WebServer::start(nowhere(), |_| {});
    let (a, cookie) = login_as(server.addr, "frieda", crate::support::web::PASSWORD);
    assert_eq!(a.header("location"), Some("/login/confirm"));
    let get = |path: &str| {
        crate::support::http::request(server.addr, "GET", path, &[("Cookie", &cookie)], b"")
    };
    assert_eq!(get("/search").header("location"), Some("/login/confirm"));
    assert_eq!(get(&format!("/message/{}/raw", ids::INVOICE)).status, 303);
    let page = get("/login/confirm").text();
    let csrf = super::field(&page, "csrf").unwrap();
    let confirm = |user: &str, pw: &str| {
        crate::support::http::request(
            server.addr,
            "POST",
            "/login/confirm",
            &[
                ("Cookie", &cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            crate::support::http::form(&[("csrf", &csrf), ("user", user), ("password", pw)])
                .as_bytes(),
        )
    };
    assert_eq!(confirm("frieda", crate::support::web::PASSWORD).status, 401);
    assert_eq!(confirm("eve", crate::support::web::PASSWORD).status, 401);
    assert_eq!(confirm("otto", "wrong password!").status, 401);
    assert_eq!(confirm("otto", crate::support::web::PASSWORD).status, 303);
    assert_eq!(get("/search?q=Rechnung").status, 200);
    let e = audit_has(&server, "the confirmation", |e| {
        e.action == "login-confirmed"
    });
    assert_eq!(e.actor, "frieda");
    assert_eq!(e.detail.as_deref(), Some("confirmed by otto"));
}

#[test]
fn a_disabled_user_loses_the_session_at_once() {
    let server = WebServer::start(nowhere(), |_| {});
    let eve = Client::login(server.addr, "eve");
    let mut all = users();
    all.set_disabled("eve", true).unwrap();
    server.replace_users(&all);
    assert_eq!(eve.get("/search").status, 303);
    assert_eq!(
        login_as(server.addr, "eve", crate::support::web::PASSWORD)
            .0
            .status,
        401
    );
}

/// Offset of the first record frame whose JSON contains `needle`.
fn record_offset(dir: &std::path::Path, needle: &[u8]) -> (u64, usize) {
    let segs = dir.join("segments");
    let mut r = SegmentReader::open(&segs, 1).unwrap();
    while let Some(fh) = r.next_header().unwrap() {
        if fh.kind == Kind::Record {
            let p = r.read_payload(&fh).unwrap();
            if let Some(i) = p.windows(needle.len()).position(|w| w == needle) {
                return (fh.at.offset, i);
            }
        }
    }
    panic!("no record with {}", String::from_utf8_lossy(needle));
}

#[test]
fn the_trail_verifies_and_an_edited_audit_record_is_detected() {
    let server = WebServer::start(nowhere(), |_| {});
    let anna = Client::login(server.addr, "anna");
    assert_eq!(anna.get("/search?q=Rechnung").status, 200);
    assert_eq!(anna.get(&format!("/message/{}", ids::INVOICE)).status, 200);
    assert_eq!(
        anna.get(&format!("/message/{}/raw", ids::INVOICE)).status,
        200
    );
    assert_eq!(anna.get("/audit").status, 200);
    // A guessed id beyond the head is refused and recorded, but the
    // record names no record that does not exist before it.
    assert_eq!(anna.get("/message/999999").status, 404);
    let key = hex::encode(server.archive.public_key().as_bytes());
    let dir = server.stop();
    let report = verify::verify_dir(dir.path(), None).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert!(report.records >= 5 + 5, "{report:?}");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/verify_archive.py");
    let py = Command::new("python3")
        .arg(script)
        .arg(dir.path())
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stdout)
    );

    // The search record names neither the searcher nor the search in
    // clear: both are sealed under the year's audit key.
    for clear in [&br#""query":"Rechnung""#[..], br#""actor":"anna""#] {
        assert!(
            crate::support::files::holding(&dir.path().join("segments"), clear).is_empty(),
            "{} in clear",
            String::from_utf8_lossy(clear)
        );
    }
    // Someone turns the search record into a download record.
    let (offset, at) = record_offset(dir.path(), br#""action":"search""#);
    let seg = dir.path().join("segments").join(segment::file_name(1));
    let mut bytes = std::fs::read(&seg).unwrap();
    let pos = offset as usize + 9 + at + 10;
    assert_eq!(bytes[pos], b's');
    bytes[pos] = b'x';
    // A careful forger also fixes the frame's CRC; only the chain tells.
    let start = offset as usize;
    let len = u64::from_be_bytes(bytes[start + 1..start + 9].try_into().unwrap()) as usize;
    let crc = crc32fast::hash(&bytes[start..start + 9 + len]);
    bytes[start + 9 + len..start + 13 + len].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(&seg, &bytes).unwrap();
    let report = verify::verify_dir(dir.path(), None).unwrap();
    assert!(!report.ok());
    assert!(
        report.problems.iter().any(|p| p.kind == "record-changed"),
        "{:?}",
        report.problems
    );
    let py = Command::new("python3")
        .arg(script)
        .arg(dir.path())
        .arg(&key)
        .output()
        .unwrap();
    assert!(!py.status.success());
}

#[test]
fn a_mailbox_password_is_checked_against_the_imap_server() {
    use crate::support::dovecot::{self, Dovecot};
    if !dovecot::available() {
        return;
    }
    let imap = Dovecot::start(None);
    let server = WebServer::start(nowhere(), |s| {
        s.imap_login = Some(mailseal::web::auth::ImapLogin {
            host: "127.0.0.1".into(),
            port: imap.port,
            tls: None,
            server_name: rustls_pki_types::ServerName::try_from("localhost").unwrap(),
        });
    });
    let mut all = users();
    let mut alice = mailseal::web::users::User::new(
        dovecot::USER,
        mailseal::web::role::Role::User,
        mailseal::web::users::LoginMethod::Imap,
    );
    alice.addresses = vec!["alice@corp.example".into()];
    all.add(alice).unwrap();
    server.replace_users(&all);
    assert_eq!(login_as(server.addr, dovecot::USER, "wrong").0.status, 401);
    let (ok, cookie) = login_as(server.addr, dovecot::USER, dovecot::PASSWORD);
    assert_eq!(ok.status, 303, "{}", ok.text());
    assert!(!cookie.is_empty());
    // Dovecot saw both attempts: the password really went to the server.
    crate::support::wait_for_log(
        "dovecot's logins",
        || imap.log(),
        |l| l.contains("Login: user=<alice>") && l.contains("auth failed"),
    );
    let e = audit_has(&server, "the failed mailbox login", |e| {
        e.action == "login-failed"
    });
    assert_eq!(e.detail.as_deref(), Some("wrong password"));
    drop(imap);
    // Server gone: refused, not let in.
    assert_eq!(
        login_as(server.addr, dovecot::USER, dovecot::PASSWORD)
            .0
            .status,
        401
    );
}

#[test]
fn a_purged_message_is_gone_for_good_and_the_page_says_so() {
    let server = WebServer::start(nowhere(), |_| {});
    let anna = Client::login(server.addr, "anna");
    assert_eq!(anna.get(&format!("/message/{}", ids::INVOICE)).status, 200);
    let today = chrono::Utc::now().date_naive();
    let done = server
        .archive
        .purge_blocking(
            vec![mailseal::archive::purge::Due {
                of: ids::INVOICE,
                reason: "retention".into(),
            }],
            Vec::new(),
            "test",
            today,
        )
        .unwrap();
    assert_eq!(done.tombstones.len(), 1, "{done:?}");
    for path in [
        format!("/message/{}", ids::INVOICE),
        format!("/message/{}/raw", ids::INVOICE),
        format!("/message/{}/body", ids::INVOICE),
    ] {
        let a = anna.get(&path);
        assert_eq!(a.status, 410, "{path}");
        let t = a.text();
        assert!(
            t.contains("Deleted") && !t.contains("Rechnung"),
            "{path}: {t}"
        );
    }
    // eve never saw it and still does not learn that it existed.
    let eve = Client::login(server.addr, "eve");
    assert_eq!(eve.get(&format!("/message/{}", ids::INVOICE)).status, 404);
}
