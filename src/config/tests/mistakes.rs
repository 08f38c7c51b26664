//! Broken files: every problem reported at once, with key paths and lines.

use std::path::Path;

use super::super::*;
use super::{errors, parse, write_cert};

/// Where each problem is, in reporting order.
fn paths_and_lines(errors: &ConfigErrors) -> Vec<(&str, Option<usize>)> {
    errors
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.line))
        .collect()
}

#[test]
fn reports_all_four_mistakes_with_paths_and_lines() {
    let text = r#"[archive]
path = "./x"
sealinterval = "5m"

[[journal]]
name = "j"
listen = "127.0.0.1:99999"
tls_cert = "/nonexistent/cert.pem"
tls_key = "/nonexistent/key.pem"
timeout_command = "5 parsecs"
"#;
    let errors = errors(text);
    assert_eq!(
        paths_and_lines(&errors),
        [
            ("archive.sealinterval", Some(3)),
            ("journal[0].listen", Some(7)),
            ("journal[0].tls_cert", Some(8)),
            ("journal[0].timeout_command", Some(10)),
        ]
    );
    let shown = errors.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("test.toml:3: archive.sealinterval: unknown field"));
    assert!(lines[1].contains("expected IP:port"), "{shown}");
    assert!(lines[2].contains("/nonexistent/cert.pem"), "{shown}");
    assert!(
        lines[3].contains("invalid duration \"5 parsecs\""),
        "{shown}"
    );
}

#[test]
fn syntax_errors_name_line_and_column() {
    let errors = errors("[archive]\npath = \"unterminated\n");
    assert_eq!(errors.problems.len(), 1);
    assert_eq!(errors.problems[0].line, Some(2));
    assert!(errors.to_string().starts_with("test.toml:2:"));
}

#[test]
fn missing_file_is_reported() {
    let errors = Config::load(Path::new("/nonexistent/mailseal.toml")).unwrap_err();
    assert!(errors.to_string().contains("cannot read"));
}

#[test]
fn missing_required_keys_point_at_their_table() {
    let errors = errors("[http]\nenabled = true\n\n[[smtp_proxy]]\nname = \"mx\"\n");
    assert!(errors.has("smtp_proxy[0].listen"));
    assert!(errors.has("smtp_proxy[0].upstream"));
    assert!(errors.problems.iter().all(|p| p.line == Some(4)));
}

#[test]
fn duplicate_names_and_addresses_are_reported() {
    let text = r#"
        [[journal]]
        name = "a"
        listen = "127.0.0.1:2525"
        [[journal]]
        name = "a"
        listen = "0.0.0.0:2525"
        [[smtp_proxy]]
        name = "b"
        listen = "127.0.0.1:9425"
        upstream = "x:25"
        [[imap_proxy]]
        name = "b"
        listen = "127.0.0.1:0"
        upstream = "x:143"
        [[imap_import]]
        name = "a"
        host = "x"
        user = "u"
        password_env = "P"
    "#;
    let errors = errors(text);
    let paths: Vec<&str> = errors.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "journal[1].name",
            "journal[1].listen",
            "smtp_proxy[0].listen",
            "imap_proxy[0].name",
            "imap_import[0].name",
        ]
    );
    assert!(errors.problems[2].message.contains("http"), "{errors}");
}

#[test]
fn port_zero_listeners_do_not_conflict() {
    let text = "[[journal]]\nname = \"a\"\nlisten = \"127.0.0.1:0\"\n\
                [[journal]]\nname = \"b\"\nlisten = \"127.0.0.1:0\"\n";
    assert_eq!(parse(text).unwrap().journal.len(), 2);
}

#[test]
fn bad_cidr_and_bad_upstream_are_reported() {
    let text = r#"
        [[journal]]
        name = "j"
        listen = "127.0.0.1:2525"
        allowed_networks = ["10.0.0.0/8", "10.0.0/33"]
        [[smtp_proxy]]
        name = "mx"
        listen = "127.0.0.1:2526"
        upstream = "mail.example.com"
    "#;
    let errors = errors(text);
    assert!(errors.has("journal[0].allowed_networks"), "{errors}");
    assert!(errors.to_string().contains("\"10.0.0/33\""), "{errors}");
    assert!(errors.has("smtp_proxy[0].upstream"), "{errors}");
}

#[test]
fn plain_text_passwords_are_rejected_and_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    std::fs::write(&users, "bob:hunter3\n").unwrap();
    let text = format!(
        "[[journal]]\nname = \"j\"\nlisten = \"127.0.0.1:2525\"\n\
         auth_users = [{{ user = \"a\", password_hash = \"hunter2\" }}]\n\
         auth_users_file = \"{}\"\n",
        users.display()
    );
    let errors = errors(&text);
    assert!(
        errors.has("journal[0].auth_users[0].password_hash"),
        "{errors}"
    );
    assert!(errors.has("journal[0].auth_users_file"), "{errors}");
    let shown = errors.to_string();
    assert!(
        !shown.contains("hunter2") && !shown.contains("hunter3"),
        "{shown}"
    );
}

#[test]
fn missing_users_file_and_duplicate_users_are_errors() {
    let hash = hash_password("x").unwrap();
    let text = format!(
        "[[journal]]\nname = \"j\"\nlisten = \"127.0.0.1:2525\"\n\
         auth_users = [{{ user = \"a\", password_hash = \"{hash}\" }}, \
                       {{ user = \"a\", password_hash = \"{hash}\" }}]\n\
         [[journal]]\nname = \"k\"\nlisten = \"127.0.0.1:2526\"\n\
         auth_users_file = \"/nonexistent/users\"\n"
    );
    let errors = errors(&text);
    assert!(errors.has("journal[0].auth_users"), "{errors}");
    assert!(errors.has("journal[1].auth_users_file"), "{errors}");
}

#[test]
fn tls_pairing_and_modes_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_cert(dir.path(), "a");
    let (_, other_key) = write_cert(dir.path(), "b");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let (cert, key, other_key, garbage) = (
        cert.display(),
        key.display(),
        other_key.display(),
        garbage.display(),
    );
    let text = format!(
        r#"
        [[journal]]
        name = "cert-only"
        listen = "127.0.0.1:2001"
        tls_cert = "{cert}"
        [[journal]]
        name = "key-only"
        listen = "127.0.0.1:2002"
        tls_key = "{key}"
        [[journal]]
        name = "implicit-without-cert"
        listen = "127.0.0.1:2003"
        tls_mode = "implicit"
        [[journal]]
        name = "require-without-cert"
        listen = "127.0.0.1:2004"
        require_tls = true
        [[journal]]
        name = "mismatch"
        listen = "127.0.0.1:2005"
        tls_cert = "{cert}"
        tls_key = "{other_key}"
        [[journal]]
        name = "garbage"
        listen = "127.0.0.1:2006"
        tls_cert = "{garbage}"
        tls_key = "{key}"
        [[smtp_proxy]]
        name = "mx"
        listen = "127.0.0.1:2007"
        upstream = "x:25"
        upstream_ca = "{garbage}"
        "#
    );
    let errors = errors(&text);
    for path in [
        "journal[0].tls_key",
        "journal[1].tls_cert",
        "journal[2].tls_mode",
        "journal[3].require_tls",
        "journal[4].tls_key",
        "journal[5].tls_cert",
        "smtp_proxy[0].upstream_ca",
    ] {
        assert!(errors.has(path), "{path} missing from:\n{errors}");
    }
    assert_eq!(errors.problems.len(), 7, "{errors}");
}

/// The client-TLS and upstream groups are checked by shared code; every
/// section that uses them still gets problems under its own keys and lines
/// (a missing key at its table's line).
#[test]
fn shared_groups_report_under_each_sections_keys_and_lines() {
    let text = r#"[[imap_proxy]]
name = "imap"
listen = "127.0.0.1:2001"
upstream = "imap.example.com:993"
tls_key = "/nonexistent/key.pem"
upstream_tls_name = "not a name"

[[smtp_proxy]]
name = "mx"
listen = "127.0.0.1:2002"
tls_mode = "starttls"
upstream_ca = "/nonexistent/ca.pem"
"#;
    let errors = errors(text);
    assert_eq!(
        paths_and_lines(&errors),
        [
            ("imap_proxy[0].tls_cert", Some(1)),
            ("imap_proxy[0].upstream_tls_name", Some(6)),
            ("smtp_proxy[0].upstream", Some(8)),
            ("smtp_proxy[0].tls_mode", Some(11)),
            ("smtp_proxy[0].upstream_ca", Some(12)),
        ],
        "{errors}"
    );
}

#[test]
fn zero_sizes_and_durations_are_rejected() {
    let text = r#"
        [archive]
        segment_max_bytes = 0
        seal_interval = "0s"
        [[journal]]
        name = "j"
        listen = "127.0.0.1:2525"
        max_message_size = 0
        max_connections = 0
        [[imap_proxy]]
        name = "i"
        listen = "127.0.0.1:1143"
        upstream = "imap.example.com:993"
        max_literal_size = 0
    "#;
    let errors = errors(text);
    for path in [
        "archive.segment_max_bytes",
        "archive.seal_interval",
        "journal[0].max_message_size",
        "journal[0].max_connections",
        "imap_proxy[0].max_literal_size",
    ] {
        assert!(errors.has(path), "{path} missing from:\n{errors}");
    }
}

#[test]
fn import_credentials_names_and_dates_are_checked() {
    let text = r#"
        [[imap_import]]
        name = ""
        host = "imap.example.com"
        user = "a"
        [[imap_import]]
        name = "two"
        host = "imap.example.com"
        user = "a"
        password_env = "A"
        oauth2_token_command = "get-token"
        since = 2024-05-01
        before = 2024-01-01
        [[imap_import]]
        name = "bad date"
        host = "imap.example.com"
        user = "a"
        password_file = "/nonexistent/secret"
        since = "2024-13-01"
    "#;
    let errors = errors(text);
    for path in [
        "imap_import[0].name",
        "imap_import[0].password_file",
        "imap_import[1].oauth2_token_command",
        "imap_import[1].before",
        "imap_import[2].name",
        "imap_import[2].password_file",
        "imap_import[2].since",
    ] {
        assert!(errors.has(path), "{path} missing from:\n{errors}");
    }
}

#[test]
fn wrong_types_and_unknown_enum_values_are_reported() {
    let text = r#"
        [archive]
        compression = "lz4"
        [log]
        level = "info,=bogus["
        format = 3
        [bogus_section]
        x = 1
    "#;
    let errors = errors(text);
    for path in [
        "archive.compression",
        "log.level",
        "log.format",
        "bogus_section",
    ] {
        assert!(errors.has(path), "{path} missing from:\n{errors}");
    }
}

#[test]
fn local_domains_must_be_domain_names() {
    let text = r#"
        [archive]
        local_domains = ["example.com", "alice@example.com", "", "bad..dots"]
    "#;
    let errors = errors(text);
    let shown = errors.to_string();
    assert!(errors.has("archive.local_domains"), "{shown}");
    for bad in ["alice@example.com", "\"\"", "bad..dots"] {
        assert!(shown.contains(bad), "{bad} not reported in:\n{shown}");
    }
    assert!(!shown.contains(": \"example.com\""), "{shown}");
}

#[test]
fn control_socket_path_and_group_are_checked() {
    let long = format!("/run/{}/control.sock", "x".repeat(120));
    let text = format!("[control]\nsocket = {long:?}\ngroup = \"no such group!\"\n");
    let errors = errors(&text);
    assert!(errors.has("control.socket"), "{errors}");
    assert!(errors.has("control.group"), "{errors}");
    assert_eq!(errors.problems[0].line, Some(2), "{errors}");
}

#[test]
fn time_stamp_and_seal_mail_mistakes_are_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (not_a_ca, _) = write_cert(dir.path(), "x");
    std::fs::write(&not_a_ca, "no certificate here").unwrap();
    let text = format!(
        r#"[[timestamp]]
name = "tsa"
url = "ftp://tsa.example.com"
ca_file = "{ca}"

[[timestamp]]
name = "tsa"
url = "http://tsa.example.com"

[seal_mail]
host = "smtp.example.com"
tls = "none"
credentials_file = "{ca}"
from = "not an address"
to = []
daily_at = "25:00"
"#,
        ca = not_a_ca.display()
    );
    let errors = errors(&text);
    let paths: Vec<&str> = errors.problems.iter().map(|p| p.path.as_str()).collect();
    for want in [
        "timestamp[0].url",
        "timestamp[0].ca_file",
        "timestamp[1].name",
        "timestamp[1].ca_file",
        "seal_mail.credentials_file",
        "seal_mail.from",
        "seal_mail.to",
        "seal_mail.daily_at",
    ] {
        assert!(paths.contains(&want), "{want} not in {paths:?}");
    }
    let shown = errors.to_string();
    assert!(shown.contains("SMTP AUTH sends the password"), "{shown}");
    assert!(shown.contains("duplicate name \"tsa\""), "{shown}");
}
