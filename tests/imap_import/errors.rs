//! What goes wrong in the field: a wrong password, a server that is not
//! there, TLS that does not work. Each ends with a clear message and exit
//! code 2, and none leaves a message archived twice. TLS done right (implicit
//! and STARTTLS, certificate checked against a CA file) imports.

use std::path::{Path, PathBuf};
use std::process::Output;

use super::mailbox::{append, archived, by_uid, origin};
use super::{Lab, messages, text};
use crate::support::dovecot::{USER, free_port};

/// A self-signed certificate for 127.0.0.1: (cert, key).
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    (cert, key)
}

/// Runs an import with its own connection flags.
fn import(lab: &Lab, flags: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mailseal"))
        .env_remove("MAILSEAL_CONFIG")
        .arg("--config")
        .arg(crate::support::daemon::archive_config(&lab.archive()))
        .args(["import", "imap", "--host", "127.0.0.1", "--user", USER])
        .args(flags)
        .output()
        .unwrap()
}

fn fails_with(out: &Output, words: &[&str]) {
    assert_eq!(out.status.code(), Some(2), "{}", text(out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for w in words {
        assert!(stderr.contains(w), "{w:?} not in: {stderr}");
    }
}

#[test]
fn failures_exit_2_with_a_clear_message_and_archive_nothing_twice() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(certs.path());
    let Some(lab) = Lab::start_with(Some((&cert, &key))) else {
        return;
    };
    append(&lab.dovecot, "INBOX", &messages(0, 5));
    let plain = lab.dovecot.port.to_string();
    let tls = lab.dovecot.tls_port.unwrap().to_string();
    let good_pw = lab.password_file();
    let good_pw = good_pw.to_str().unwrap();
    let bad_pw = lab.dir.path().join("bad");
    std::fs::write(&bad_pw, "not-the-password\n").unwrap();
    let bad_pw = bad_pw.to_str().unwrap();
    let ca = cert.to_str().unwrap();

    let wrong = ["--tls", "none", "--port", &plain, "--password-file", bad_pw];
    let out = import(&lab, &wrong);
    fails_with(
        &out,
        &["rejected the login of alice", "AUTHENTICATIONFAILED"],
    );
    assert!(
        !text(&out).contains("not-the-password"),
        "no secret in messages"
    );

    let closed = free_port().to_string();
    let out = import(
        &lab,
        &[
            "--tls",
            "none",
            "--port",
            &closed,
            "--password-file",
            good_pw,
        ],
    );
    fails_with(&out, &["cannot reach 127.0.0.1:", "refused"]);

    // Implicit TLS against the plain port, and a certificate nobody trusts.
    let out = import(&lab, &["--port", &plain, "--password-file", good_pw]);
    fails_with(&out, &["TLS with 127.0.0.1:"]);
    let out = import(&lab, &["--port", &tls, "--password-file", good_pw]);
    fails_with(&out, &["TLS with 127.0.0.1:", "certificate"]);
    let starttls = [
        "--tls",
        "starttls",
        "--port",
        &plain,
        "--password-file",
        good_pw,
    ];
    fails_with(
        &import(&lab, &starttls),
        &["TLS with 127.0.0.1:", "certificate"],
    );
    assert!(!lab.archive().join("segments").exists() || archived(&lab.archive()).is_empty());

    // With the CA file, implicit TLS imports, and STARTTLS then finds nothing new.
    let out = import(
        &lab,
        &["--port", &tls, "--password-file", good_pw, "--ca-file", ca],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("5 fetched, 5 archived"),
        "{}",
        text(&out)
    );
    let out = import(&lab, &[&starttls[..], &["--ca-file", ca]].concat());
    assert!(text(&out).contains("0 fetched"), "{}", text(&out));

    // Failing again changes nothing.
    fails_with(&import(&lab, &wrong), &["rejected the login"]);
    let records = archived(&lab.archive());
    assert_eq!(records.len(), 5);
    assert_eq!(by_uid(&records, &origin("INBOX")).len(), 5);

    // Secrets never come from the command line.
    let out = import(
        &lab,
        &["--tls", "none", "--port", &plain, "--password", "secret"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = import(&lab, &["--tls", "none", "--port", &plain]);
    fails_with(&out, &["--password-file"]);
    lab.verify();
}
