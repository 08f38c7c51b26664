//! `AUTHENTICATE XOAUTH2` against a Dovecot that accepts only bearer
//! tokens: a token from a file or from a command logs in and imports; a
//! token the server refuses ends with exit code 2.

use std::process::Command;

use super::dovecot_oauth2::{GOOD_TOKEN, OAuth2Dovecot};
use super::mailbox::archived;
use super::text;
use crate::support::corpus;
use crate::support::dovecot;

#[test]
fn xoauth2_tokens_from_a_file_or_a_command() {
    if !dovecot::available() {
        return;
    }
    let server = OAuth2Dovecot::start();
    // Three messages placed straight into the Maildir.
    let inbox = server.inbox();
    let messages: Vec<Vec<u8>> = (0..3).map(|i| corpus::message(i, 3_000)).collect();
    for (i, m) in messages.iter().enumerate() {
        std::fs::write(
            inbox.join("cur").join(format!("17000000{i}.M{i}.test:2,S")),
            m,
        )
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{GOOD_TOKEN}\n")).unwrap();
    let import = |secret: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mailseal"))
            .env_remove("MAILSEAL_CONFIG")
            .arg("--config")
            .arg(crate::support::daemon::archive_config(&archive))
            .args(["import", "imap", "--host", "127.0.0.1", "--tls", "none"])
            .args(["--port", &server.port.to_string(), "--user", "alice"])
            .args(secret)
            .output()
            .unwrap()
    };

    let out = import(&["--oauth2-token-file", token_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}\n{}", text(&out), server.log());
    assert!(
        text(&out).contains("3 fetched, 3 archived"),
        "{}",
        text(&out)
    );
    let mut got: Vec<Vec<u8>> = archived(&archive).into_iter().map(|r| r.bytes).collect();
    got.sort();
    let mut want = messages.clone();
    want.sort();
    assert!(got == want, "archived byte-exact");

    let command = format!("echo {GOOD_TOKEN}");
    let out = import(&["--oauth2-token-command", &command]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("0 fetched"), "{}", text(&out));

    let out = import(&["--oauth2-token-command", "echo expired-token"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("rejected the login of alice"),
        "{}",
        text(&out)
    );
    assert!(
        !text(&out).contains("expired-token"),
        "no token in messages"
    );
    let out = import(&["--oauth2-token-command", "exit 7"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("token command"), "{}", text(&out));
    assert_eq!(archived(&archive).len(), 3);
}
