//! The web interface as `mailseal run` serves it: HTTPS with the
//! configured certificate on the `[web]` listener, logins recorded in the
//! archive before the answer (read back with `mailseal audit` through the
//! control socket), `mailseal user` changes recorded through the running
//! daemon, and a listener with `expect_mail_within` that stays silent
//! degrading `/healthz`, marked on the status page and in `/metrics`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::certs::TestCerts;
use crate::support::daemon::{self, Daemon};
use crate::support::smtp::free_port;
use crate::support::wait_until;
use crate::support::web::{PASSWORD, users};

/// `curl` against the daemon's HTTPS listener, trusting the test CA and
/// keeping cookies in `jar`; returns the head (`-i`) and body.
fn curl(ca: &Path, jar: &Path, url: &str, form: Option<&str>) -> String {
    let mut c = Command::new("curl");
    c.args(["-sS", "-i", "--max-time", "60", "--cacert"])
        .arg(ca)
        .arg("-b")
        .arg(jar)
        .arg("-c")
        .arg(jar);
    if let Some(body) = form {
        c.args(["--data-raw", body]);
    }
    let out = c.arg(url).output().unwrap();
    assert!(out.status.success(), "curl {url}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The status code of a `curl -i` answer.
fn status(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Logs in through the form; returns the answer to the POST.
fn login(ca: &Path, jar: &Path, base: &str, user: &str, password: &str) -> String {
    let page = curl(ca, jar, &format!("{base}/login"), None);
    let token = super::field(&page, "pre").unwrap_or_else(|| panic!("no pre token in:\n{page}"));
    let body =
        crate::support::http::form(&[("pre", &token), ("user", user), ("password", password)]);
    curl(ca, jar, &format!("{base}/login"), Some(&body))
}

/// `audit --json` through the daemon, as objects.
fn trail(daemon: &Daemon) -> Vec<serde_json::Value> {
    let out = daemon.cli(&["audit", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    out.stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

#[test]
fn the_daemon_serves_the_interface_over_https_and_records_every_login() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::new(dir.path());
    let users_file = dir.path().join("users.toml");
    users().save(&users_file).unwrap();
    let journal = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let web = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = dir.path().join("mailseal.toml");
    let toml = format!(
        "[archive]\npath = {:?}\n\n[[journal]]\nname = \"journal\"\nlisten = \"{journal}\"\n\
         expect_mail_within = \"1s\"\n\n[http]\nlisten = \"{http}\"\n\n\
         [web]\nenabled = true\nlisten = \"{web}\"\ntls_cert = {:?}\ntls_key = {:?}\nusers_file = {:?}\n",
        dir.path().join("archive").display().to_string(),
        certs.cert.display().to_string(),
        certs.key.display().to_string(),
        users_file.display().to_string(),
    );
    std::fs::write(&config, daemon::with_control(&config, toml)).unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_mailseal"))
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
    let mut daemon = Daemon::start(&config, journal);
    let base = format!("https://127.0.0.1:{}", web.port());
    let jar = dir.path().join("cookies");

    // HTTPS with the configured certificate, with HSTS; no plain HTTP.
    let page = curl(&certs.ca, &jar, &format!("{base}/login"), None);
    assert_eq!(status(&page), 200, "{page}");
    assert!(
        page.to_lowercase().contains("strict-transport-security:"),
        "{page}"
    );
    let plain = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .arg(format!("http://127.0.0.1:{}/login", web.port()))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("<form"));

    // A wrong password and a right one: both on record before the answer.
    let refused = login(&certs.ca, &jar, &base, "anna", "not the password");
    assert_eq!(status(&refused), 401, "{refused}");
    let ok = login(&certs.ca, &jar, &base, "anna", PASSWORD);
    assert_eq!(status(&ok), 303, "{ok}");
    let records = trail(&daemon);
    let web_events: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| r["event"]["via"] == "web")
        .map(|r| {
            assert_eq!(r["event"]["actor"], "anna", "{r}");
            assert_eq!(r["event"]["peer"], "127.0.0.1", "{r}");
            (
                r["event"]["action"].as_str().unwrap(),
                r["event"]["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(web_events, [("login-failed", "failed"), ("login", "ok")]);

    // A user change while the daemon runs is recorded by the daemon,
    // naming the Unix user, before the users file changes.
    let mut add = Command::new(env!("CARGO_BIN_EXE_mailseal"));
    add.arg("--config").arg(&config).args([
        "user",
        "--users-file",
        users_file.to_str().unwrap(),
        "add",
        "karl",
        "--role",
        "auditor",
    ]);
    let mut child = add
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        b"a long password for karl\n",
    )
    .unwrap();
    let added = child.wait_with_output().unwrap();
    assert!(added.status.success(), "{}", text(&added));
    let change = trail(&daemon)
        .into_iter()
        .find(|r| r["event"]["action"] == "user-change")
        .expect("the user change is on record");
    assert_eq!(change["event"]["via"], "cli");
    assert!(
        change["event"]["detail"].as_str().unwrap().contains("karl"),
        "{change}"
    );
    let karl = dir.path().join("karl-cookies");
    let karl_in = login(&certs.ca, &karl, &base, "karl", "a long password for karl");
    assert_eq!(status(&karl_in), 303, "{karl_in}");

    // The journal listener expects mail within 1 s and gets none.
    let health = wait_until("/healthz reports the silent journal", || {
        let a = crate::support::http::request(http, "GET", "/healthz", &[], b"");
        let v: serde_json::Value = serde_json::from_slice(&a.body).ok()?;
        (v["sources"][0]["silent"] == true).then_some(v)
    });
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["sources"][0]["name"], "journal");
    let metrics = crate::support::http::request(http, "GET", "/metrics", &[], b"").text();
    assert!(
        metrics.contains("mailseal_listener_silent{listener=\"journal\"} 1"),
        "{metrics}"
    );
    let status_page = curl(&certs.ca, &jar, &format!("{base}/status"), None);
    assert!(status_page.contains("id=\"expected\""), "{status_page}");
    assert!(status_page.contains("class=\"silent\""), "{status_page}");

    daemon.stop();
    let verify = daemon.cli(&["verify"]);
    assert!(verify.status.success(), "{}", text(&verify));
}

#[test]
fn check_config_refuses_a_web_listener_off_loopback_without_tls() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mailseal.toml");
    let toml = format!(
        "[archive]\npath = {:?}\n\n[web]\nenabled = true\nlisten = \"0.0.0.0:{}\"\n",
        dir.path().join("archive").display().to_string(),
        free_port()
    );
    std::fs::write(&config, toml).unwrap();
    let check = |config: &Path| {
        Command::new(env!("CARGO_BIN_EXE_mailseal"))
            .arg("--config")
            .arg(config)
            .arg("check-config")
            .output()
            .unwrap()
    };
    let out = check(&config);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("web.listen") && said.contains("loopback"),
        "{said}"
    );
    // The same listener with a certificate is accepted.
    let certs = TestCerts::new(dir.path());
    let with_tls = format!(
        "{}tls_cert = {:?}\ntls_key = {:?}\n",
        std::fs::read_to_string(&config).unwrap(),
        certs.cert.display().to_string(),
        certs.key.display().to_string()
    );
    std::fs::write(&config, with_tls).unwrap();
    let out = check(&config);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn mailbox_passwords_are_checked_by_the_configured_imap_server_over_tls() {
    use crate::support::dovecot::{self, Dovecot};
    use mailseal::web::role::Role;
    use mailseal::web::users::{LoginMethod, User};
    if !dovecot::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::new(dir.path());
    let imap = Dovecot::start(Some((&certs.cert, &certs.key)));
    let imaps = imap.tls_port.unwrap();
    let users_file = dir.path().join("users.toml");
    let mut all = users();
    let mut alice = User::new(dovecot::USER, Role::User, LoginMethod::Imap);
    alice.addresses = vec!["alice@corp.example".into()];
    all.add(alice).unwrap();
    all.save(&users_file).unwrap();
    let journal = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let web = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = dir.path().join("mailseal.toml");
    let base = format!(
        "[archive]\npath = {:?}\n\n[[journal]]\nname = \"journal\"\nlisten = \"{journal}\"\n\n\
         [http]\nenabled = false\n\n[web]\nenabled = true\nlisten = \"{web}\"\nusers_file = {:?}\n",
        dir.path().join("archive").display().to_string(),
        users_file.display().to_string(),
    );
    let check = |toml: &str| {
        std::fs::write(&config, daemon::with_control(&config, toml.to_string())).unwrap();
        Command::new(env!("CARGO_BIN_EXE_mailseal"))
            .arg("--config")
            .arg(&config)
            .arg("check-config")
            .output()
            .unwrap()
    };
    // A plain connection to anything but loopback would carry every
    // mailbox password in clear: refused, naming the key.
    let plain = check(&format!(
        "{base}imap_login = \"mail.example.com:143\"\nimap_login_tls = \"none\"\n"
    ));
    assert!(!plain.status.success());
    assert!(
        text(&plain).contains("web.imap_login_tls"),
        "{}",
        text(&plain)
    );
    // IMAPS to Dovecot, its certificate checked against the test CA.
    let ok = check(&format!(
        "{base}imap_login = \"127.0.0.1:{imaps}\"\nimap_login_ca = {:?}\nimap_login_tls_name = \"localhost\"\n",
        certs.ca.display().to_string()
    ));
    assert!(ok.status.success(), "{}", text(&ok));
    let mut daemon = Daemon::start(&config, journal);
    let (refused, _) = super::login_as(web, dovecot::USER, "wrong");
    assert_eq!(refused.status, 401, "{}", refused.text());
    let (ok, cookie) = super::login_as(web, dovecot::USER, dovecot::PASSWORD);
    assert_eq!(ok.status, 303, "{}", ok.text());
    assert!(!cookie.is_empty());
    crate::support::wait_for_log(
        "Dovecot's TLS logins",
        || imap.log(),
        |l| l.contains("Login: user=<alice>") && l.contains("TLS"),
    );
    daemon.stop();
}
