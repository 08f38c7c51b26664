//! Legal holds and early deletion on the web pages, over plain HTTP: who
//! may see and use them, forged forms, the requester who tries to approve
//! their own request, a wrong password on approval, and the second data
//! officer whose approval the next purge carries out.

use std::net::SocketAddr;

use mailseal::archive::manage::{self, Lifecycle, LifecycleReply};

use super::Client;
use crate::support::web::{PASSWORD, WebServer, ids};

fn nowhere() -> SocketAddr {
    "127.0.0.1:9".parse().unwrap()
}

/// How many records of `kind` (`hold`, `purge-request`, ...) the archive holds.
fn count(server: &WebServer, kind: &str) -> usize {
    server
        .archive
        .reader()
        .summaries()
        .unwrap()
        .iter()
        .filter(|s| s.kind == kind)
        .count()
}

/// The lifecycle records a page may chain.
fn lifecycle_records(server: &WebServer) -> usize {
    ["hold", "purge-request", "purge-approval", "tombstone"]
        .iter()
        .map(|k| count(server, k))
        .sum()
}

/// The request records so far, oldest first: (seq, actor, approved by).
fn requests(server: &WebServer) -> Vec<(u64, String, Option<String>)> {
    match manage::execute(
        &server.archive,
        Lifecycle::Requests,
        chrono::Local::now().date_naive(),
        30,
    )
    .unwrap()
    {
        LifecycleReply::Requests { requests } => requests
            .into_iter()
            .map(|r| (r.seq, r.actor, r.approved.map(|(_, by)| by)))
            .collect(),
        other => panic!("{other:?}"),
    }
}

/// The approval form's fields.
fn approval<'a>(
    csrf: &'a str,
    request: &'a str,
    password: &'a str,
) -> [(&'static str, &'a str); 3] {
    [("csrf", csrf), ("request", request), ("password", password)]
}

/// `c` asks for the early deletion of `ids` for `reason`.
fn ask(c: &Client, ids: &str, reason: &str) -> crate::support::http::Answer {
    c.post(
        "/deletion/request",
        &[("csrf", &c.csrf), ("ids", ids), ("reason", reason)],
    )
}

/// `c` approves `request`, confirming with `password`.
fn approve(c: &Client, request: &str, password: &str) -> crate::support::http::Answer {
    c.post("/deletion/approve", &approval(&c.csrf, request, password))
}

/// The `<tr>` of the page whose attribute `attr` is `value`.
fn row<'a>(page: &'a str, attr: &str, value: &str) -> &'a str {
    let at = page
        .find(&format!("{attr}=\"{value}\""))
        .unwrap_or_else(|| panic!("no row {attr}={value} in {page}"));
    let rest = &page[at..];
    &rest[..rest.find("</tr>").unwrap_or(rest.len())]
}

#[test]
fn users_and_admins_neither_see_nor_use_the_pages() {
    let server = WebServer::start(nowhere(), |_| {});
    let anna = Client::login(server.addr, "anna");
    let nav = anna.get("/search").text();
    assert!(nav.contains("href=\"/holds\"") && nav.contains("href=\"/deletion\""));
    let dora = Client::login(server.addr, "dora");
    assert_eq!(dora.get("/holds").status, 200);
    assert_eq!(dora.get("/deletion").status, 200);
    for name in ["eve", "otto"] {
        let c = Client::login(server.addr, name);
        let page = c.get("/audit").text() + &c.get("/status").text();
        assert!(
            !page.contains("href=\"/holds\"") && !page.contains("href=\"/deletion\""),
            "{name} is offered the pages"
        );
        for path in ["/holds", "/deletion", "/holds?id=4", "/deletion?id=4"] {
            assert_eq!(c.get(path).status, 403, "{name} GET {path}");
        }
        let id = ids::OTHERS.to_string();
        let posts: [(&str, Vec<(&str, &str)>); 4] = [
            (
                "/holds",
                vec![("case", "X-1"), ("reason", "why"), ("ids", &id)],
            ),
            ("/holds/release", vec![("case", "X-1"), ("reason", "why")]),
            ("/deletion/request", vec![("ids", &id), ("reason", "why")]),
            (
                "/deletion/approve",
                vec![("request", "1"), ("password", PASSWORD)],
            ),
        ];
        for (path, fields) in posts {
            let mut fields = fields.clone();
            fields.push(("csrf", &c.csrf));
            assert_eq!(c.post(path, &fields).status, 403, "{name} POST {path}");
        }
    }
    // An auditor asks, but only a data officer approves.
    let id = ids::OTHERS.to_string();
    let asked = ask(&anna, &id, "Art. 17");
    assert_eq!(asked.status, 303, "{}", asked.text());
    let seq = requests(&server)[0].0.to_string();
    let page = anna.get("/deletion").text();
    assert!(!page.contains("action=\"/deletion/approve\""));
    let approve = approve(&anna, &seq, PASSWORD);
    assert_eq!(approve.status, 403);
    assert_eq!(count(&server, "hold"), 0);
    assert_eq!(count(&server, "purge-approval"), 0);
}

#[test]
fn a_forged_form_changes_nothing() {
    let server = WebServer::start(nowhere(), |_| {});
    let anna = Client::login(server.addr, "anna");
    let dora = Client::login(server.addr, "dora");
    let id = ids::OTHERS.to_string();
    let wrong = "0".repeat(64);
    for token in ["", wrong.as_str()] {
        let hold = anna.post(
            "/holds",
            &[
                ("csrf", token),
                ("case", "X-1"),
                ("reason", "why"),
                ("ids", &id),
            ],
        );
        assert_eq!(hold.status, 403);
        assert!(hold.text().contains("Form expired"));
        let ask = anna.post(
            "/deletion/request",
            &[("csrf", token), ("ids", &id), ("reason", "why")],
        );
        assert_eq!(ask.status, 403);
    }
    // A real request, and a forged approval of it.
    let asked = ask(&anna, &id, "why");
    assert_eq!(asked.status, 303);
    let seq = requests(&server)[0].0.to_string();
    let forged = dora.post(
        "/deletion/approve",
        &[("request", &seq), ("password", PASSWORD)],
    );
    assert_eq!(forged.status, 403);
    // Anna's token is not Dora's.
    let crossed = dora.post(
        "/deletion/approve",
        &[
            ("csrf", &anna.csrf),
            ("request", &seq),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(crossed.status, 403);
    assert_eq!(count(&server, "hold"), 0);
    assert_eq!(count(&server, "purge-request"), 1);
    assert_eq!(count(&server, "purge-approval"), 0);
    server.wait_audit("the forged approval", |e| {
        e.action == "denied"
            && e.actor == "dora"
            && e.detail.as_deref() == Some("deletion approval without a valid CSRF token")
    });
}

#[test]
fn early_deletion_needs_a_second_data_officer_with_their_password() {
    let server = WebServer::start(nowhere(), |_| {});
    let dora = Client::login(server.addr, "dora");
    let dirk = Client::login(server.addr, "dirk");
    let anna = Client::login(server.addr, "anna");
    let id = ids::OTHERS.to_string();
    let asked = ask(&dora, &id, "DSGVO Art. 17, Ticket 123");
    assert_eq!(asked.status, 303, "{}", asked.text());
    let asked_for = requests(&server);
    assert_eq!(asked_for.len(), 1, "{asked_for:?}");
    let (seq, actor, approved) = asked_for[0].clone();
    assert_eq!((actor.as_str(), approved), ("dora", None));
    let request = seq.to_string();
    let shown = dora.get(asked.header("location").unwrap()).text();
    assert!(shown.contains(&format!("recorded as record {seq}")));

    // Dora is not offered her own request, and the server refuses it.
    let own_row = row(&shown, "data-request", &request).to_owned();
    assert!(!own_row.contains("/deletion/approve"), "{own_row}");
    assert!(own_row.contains("another data protection officer must approve it"));
    let own = approve(&dora, &request, PASSWORD);
    assert_eq!(own.status, 422);
    assert!(
        own.text()
            .contains("You made this request and cannot approve it")
    );
    assert_eq!(requests(&server)[0].2, None);

    // Dirk is offered it; with a wrong password nothing is chained.
    let page = dirk.get("/deletion").text();
    assert!(row(&page, "data-request", &request).contains("action=\"/deletion/approve\""));
    let wrong = approve(&dirk, &request, "not the password");
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("That is not your password"));
    assert_eq!(requests(&server)[0].2, None);
    assert_eq!(count(&server, "purge-approval"), 0);
    server.wait_audit("the refused approval", |e| {
        e.action == "purge-approve" && e.actor == "dirk" && e.outcome == "failed"
    });

    // With his own password the approval is chained, and the page says
    // the next purge deletes (none has run: the message is still there).
    let ok = approve(&dirk, &request, PASSWORD);
    assert_eq!(ok.status, 303, "{}", ok.text());
    assert_eq!(requests(&server)[0].2.as_deref(), Some("dirk"));
    let after = dirk.get(ok.header("location").unwrap()).text();
    assert!(
        after.contains("An approval deletes nothing at once"),
        "{after}"
    );
    assert!(row(&after, "data-request", &request).contains("approved by dirk; 0 of 1"));
    assert_eq!(anna.get(&format!("/message/{id}")).status, 200);
    let again = approve(&dirk, &request, PASSWORD);
    assert_eq!(again.status, 422);
    assert!(again.text().contains("already approved by dirk"));

    assert_eq!(server.purge_now(), 1);
    let gone = anna.get(&format!("/message/{id}"));
    assert_eq!(gone.status, 410);
    assert!(gone.text().contains("Deleted"));
    let done = dora.get("/deletion").text();
    assert!(
        row(&done, "data-request", &request).contains("carried out: deleted on"),
        "{done}"
    );
    server.wait_audit("the approval", |e| {
        e.action == "purge-approve"
            && e.actor == "dirk"
            && e.outcome == "ok"
            && e.records == vec![ids::OTHERS]
    });
    server.wait_audit("the request", |e| {
        e.action == "purge-request" && e.actor == "dora" && e.outcome == "ok"
    });
}

#[test]
fn a_hold_by_search_keeps_mail_from_an_approved_deletion_until_released() {
    let server = WebServer::start(nowhere(), |_| {});
    let anna = Client::login(server.addr, "anna");
    let dora = Client::login(server.addr, "dora");

    // Refusals are shown on the page, not as errors.
    let both = anna.post(
        "/holds",
        &[
            ("csrf", &anna.csrf),
            ("case", "BP-7"),
            ("reason", "audit"),
            ("query", "from:carl@corp.example"),
            ("ids", "4"),
        ],
    );
    assert_eq!(both.status, 422);
    assert!(both.text().contains("either a search or record ids"));
    let none = anna.post(
        "/holds",
        &[
            ("csrf", &anna.csrf),
            ("case", "BP-7"),
            ("reason", "audit"),
            ("query", "from:nobody@nowhere.example"),
        ],
    );
    assert_eq!(none.status, 422);
    assert!(none.text().contains("finds no message"));
    let not_held = anna.post(
        "/holds/release",
        &[("csrf", &anna.csrf), ("case", "NO-SUCH"), ("reason", "x")],
    );
    assert_eq!(not_held.status, 422);
    assert!(
        not_held
            .text()
            .contains("The archive refused this: there is no active hold for case")
    );
    let missing = anna.post(
        "/holds",
        &[
            ("csrf", &anna.csrf),
            ("case", "BP-7"),
            ("reason", "audit"),
            ("ids", "4, 999"),
        ],
    );
    assert_eq!(missing.status, 422);
    assert!(missing.text().contains("Record 999 is no message"));
    // Data officers see no mail: no hold by search.
    let by_search = dora.post(
        "/holds",
        &[
            ("csrf", &dora.csrf),
            ("case", "BP-7"),
            ("reason", "audit"),
            ("query", "from:carl@corp.example"),
        ],
    );
    assert_eq!(by_search.status, 422);
    assert_eq!(count(&server, "hold"), 0);

    let placed = anna.post(
        "/holds",
        &[
            ("csrf", &anna.csrf),
            ("case", "BP-7"),
            ("reason", "Betriebsprüfung 2024"),
            ("query", "from:carl@corp.example"),
        ],
    );
    assert_eq!(placed.status, 303, "{}", placed.text());
    let page = anna.get(placed.header("location").unwrap()).text();
    let listed = row(&page, "data-case", "BP-7");
    assert!(listed.contains(&format!("href=\"/message/{}\"", ids::OTHERS)));
    assert!(listed.contains("from:carl@corp.example") && listed.contains("anna"));
    assert!(listed.contains("active"));
    // A data officer places one by id.
    let by_id = dora.post(
        "/holds",
        &[
            ("csrf", &dora.csrf),
            ("case", "K-3"),
            ("reason", "Klage"),
            ("ids", &ids::INVOICE.to_string()),
        ],
    );
    assert_eq!(by_id.status, 303, "{}", by_id.text());
    assert_eq!(count(&server, "hold"), 2);

    // An approved deletion of held mail deletes nothing until the release.
    let id = ids::OTHERS.to_string();
    let asked = ask(&anna, &id, "Art. 17");
    assert_eq!(asked.status, 303, "{}", asked.text());
    let request = requests(&server)[0].0.to_string();
    let ok = approve(&dora, &request, PASSWORD);
    assert_eq!(ok.status, 303, "{}", ok.text());
    assert_eq!(server.purge_now(), 0);
    assert_eq!(anna.get(&format!("/message/{id}")).status, 200);
    let page = anna.get("/deletion").text();
    assert!(row(&page, "data-request", &request).contains("1 of them on legal hold"));

    let released = anna.post(
        "/holds/release",
        &[
            ("csrf", &anna.csrf),
            ("case", "BP-7"),
            ("reason", "Prüfung abgeschlossen"),
        ],
    );
    assert_eq!(released.status, 303, "{}", released.text());
    let page = anna.get("/holds").text();
    let listed = row(&page, "data-case", "BP-7");
    assert!(listed.contains("released") && listed.contains("Prüfung abgeschlossen"));
    assert!(row(&page, "data-case", "K-3").contains("/holds/release"));
    assert_eq!(server.purge_now(), 1);
    assert_eq!(anna.get(&format!("/message/{id}")).status, 410);
    assert_eq!(anna.get(&format!("/message/{}", ids::INVOICE)).status, 200);
    for action in ["holds-read", "hold-add", "hold-release", "requests-read"] {
        server.wait_audit(action, |e| e.action == action && e.actor == "anna");
    }
    server.wait_audit("the refused hold", |e| {
        e.action == "hold-add" && e.outcome == "failed"
    });
    server.wait_audit("the hidden record", |e| {
        e.action == "hold-add" && e.outcome == "denied" && e.actor == "anna"
    });
    assert!(lifecycle_records(&server) >= 6);
    // The holds, the request, its approval, the tombstone and the page's
    // audit records, refused steps included, all verify.
    let key = hex::encode(server.archive.public_key().as_bytes());
    let dir = server.stop();
    let report = mailseal::archive::verify::verify_dir(dir.path(), None).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/verify_archive.py");
    let py = std::process::Command::new("python3")
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
}

#[test]
fn wrong_approval_passwords_lock_the_name_like_failed_logins() {
    let server = WebServer::start(nowhere(), |s| {
        s.limits = mailseal::web::limiter::Limits {
            per_user: 2,
            ..Default::default()
        }
    });
    let anna = Client::login(server.addr, "anna");
    let dirk = Client::login(server.addr, "dirk");
    let id = ids::OTHERS.to_string();
    let asked = ask(&anna, &id, "Art. 17");
    assert_eq!(asked.status, 303);
    let request = requests(&server)[0].0.to_string();
    let approve = |password: &str| approve(&dirk, &request, password);
    for _ in 0..2 {
        assert_eq!(approve("guess").status, 401);
    }
    let locked = approve(PASSWORD);
    assert_eq!(locked.status, 401);
    assert!(locked.text().contains("Too many failed attempts"));
    assert_eq!(count(&server, "purge-approval"), 0);
    let (login, _) = super::login_as(server.addr, "dirk", PASSWORD);
    assert_eq!(login.status, 401, "the name is locked for logins too");
}

/// Adds `sven`, an auditor limited to supplier.example, to the running
/// server's users file.
fn add_scoped_auditor(server: &WebServer) {
    use mailseal::web::role::Role;
    use mailseal::web::users::{LoginMethod, User};
    let mut all = crate::support::web::users();
    let mut sven = User::new("sven", Role::Auditor, LoginMethod::Local);
    sven.domains = vec!["supplier.example".into()];
    all.add(sven).unwrap();
    all.set_password("sven", PASSWORD).unwrap();
    server.replace_users(&all);
}

/// An auditor limited to some domains sees and releases only the cases and
/// requests they made: another's may concern mail outside their scope.
#[test]
fn a_domain_limited_auditor_sees_and_releases_only_their_own_cases() {
    let server = WebServer::start(nowhere(), |_| {});
    add_scoped_auditor(&server);
    let anna = Client::login(server.addr, "anna");
    let sven = Client::login(server.addr, "sven");
    let dora = Client::login(server.addr, "dora");
    let hold = |c: &Client, case: &str, id: u64| {
        let r = c.post(
            "/holds",
            &[
                ("csrf", &c.csrf),
                ("case", case),
                ("reason", "audit"),
                ("ids", &id.to_string()),
            ],
        );
        assert_eq!(r.status, 303, "{}", r.text());
    };
    // Carl's mail to Dave is outside sven's scope; the invoice is inside.
    hold(&anna, "A-1", ids::OTHERS);
    hold(&sven, "S-1", ids::INVOICE);

    let page = sven.get("/holds").text();
    assert!(page.contains("data-case=\"S-1\""), "{page}");
    assert!(!page.contains("A-1"), "{page}");
    assert!(
        page.contains("Cases placed by others are not shown (1)"),
        "{page}"
    );
    let full = anna.get("/holds").text();
    assert!(full.contains("data-case=\"S-1\"") && full.contains("data-case=\"A-1\""));
    assert!(!full.contains("id=\"others\""), "{full}");

    let release = |c: &Client, case: &str| {
        c.post(
            "/holds/release",
            &[("csrf", &c.csrf), ("case", case), ("reason", "done")],
        )
    };
    let refused = release(&sven, "A-1");
    assert_eq!(refused.status, 422);
    assert!(refused.text().contains("only cases you placed yourself"));
    assert_eq!(
        count(&server, "hold"),
        2,
        "the refused release chained a record"
    );
    assert_eq!(release(&sven, "S-1").status, 303);
    assert_eq!(count(&server, "hold"), 3);

    let ask = |c: &Client, id: u64| {
        let r = c.post(
            "/deletion/request",
            &[
                ("csrf", &c.csrf),
                ("ids", &id.to_string()),
                ("reason", "Art. 17"),
            ],
        );
        assert_eq!(r.status, 303, "{}", r.text());
    };
    ask(&anna, ids::OTHERS);
    ask(&sven, ids::INVOICE);
    let asked = requests(&server);
    let (annas, svens) = (asked[0].0, asked[1].0);
    let page = sven.get("/deletion").text();
    assert!(
        page.contains(&format!("data-request=\"{svens}\"")),
        "{page}"
    );
    assert!(
        !page.contains(&format!("data-request=\"{annas}\"")),
        "{page}"
    );
    assert!(
        page.contains("Requests made by others are not shown (1)"),
        "{page}"
    );
    let officer = dora.get("/deletion").text();
    assert!(officer.contains(&format!("data-request=\"{annas}\"")));
    assert!(officer.contains(&format!("data-request=\"{svens}\"")));
}

/// Approving asks for the approver's password again, and only a local one
/// can confirm it: a data protection officer who logs in with their
/// mailbox password is refused before any password is checked.
#[test]
fn a_data_officer_with_a_mailbox_login_cannot_approve() {
    let server = WebServer::start(nowhere(), |_| {});
    let dora = Client::login(server.addr, "dora");
    let dirk = Client::login(server.addr, "dirk");
    let id = ids::OTHERS.to_string();
    let asked = ask(&dora, &id, "Art. 17");
    assert_eq!(asked.status, 303, "{}", asked.text());
    let request = requests(&server)[0].0.to_string();

    let mut all = crate::support::web::users();
    all.get_mut("dirk").unwrap().login = mailseal::web::users::LoginMethod::Imap;
    server.replace_users(&all);
    let refused = approve(&dirk, &request, PASSWORD);
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(
        refused
            .text()
            .contains("a login with the mailbox password cannot approve"),
        "{}",
        refused.text()
    );
    assert_eq!(requests(&server)[0].2, None);
    assert_eq!(count(&server, "purge-approval"), 0);
}

/// A form POST as `c` with the interface set to German.
fn post_de(c: &Client, path: &str, fields: &[(&str, &str)]) -> crate::support::http::Answer {
    crate::support::http::request(
        c.addr,
        "POST",
        path,
        &[
            ("Cookie", &format!("{}; mailseal-lang=de", c.cookie)),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        crate::support::http::form(fields).as_bytes(),
    )
}

/// The archive's own refusals are told in the person's language.
#[test]
fn the_archives_refusals_are_told_in_german_too() {
    let server = WebServer::start(nowhere(), |_| {});
    let dora = Client::login(server.addr, "dora");
    let dirk = Client::login(server.addr, "dirk");
    let no_hold = post_de(
        &dora,
        "/holds/release",
        &[("csrf", &dora.csrf), ("case", "NO-SUCH"), ("reason", "x")],
    );
    assert_eq!(no_hold.status, 422);
    assert!(
        no_hold.text().contains(
            "Das Archiv hat dies abgelehnt: Für den Vorgang „NO-SUCH“ besteht keine aktive Sperre."
        ),
        "{}",
        no_hold.text()
    );

    let id = ids::OTHERS.to_string();
    let asked = ask(&dora, &id, "Art. 17");
    assert_eq!(asked.status, 303, "{}", asked.text());
    let request = requests(&server)[0].0.to_string();
    let approve = || {
        post_de(
            &dirk,
            "/deletion/approve",
            &approval(dirk.csrf.as_str(), &request, PASSWORD),
        )
    };
    assert_eq!(approve().status, 303);
    let again = approve();
    assert_eq!(again.status, 422);
    assert_eq!(count(&server, "purge-approval"), 1);
    assert!(
        again.text().contains(&format!(
            "Das Archiv hat dies abgelehnt: Antrag {request} wurde bereits von dirk genehmigt"
        )),
        "{}",
        again.text()
    );
}
