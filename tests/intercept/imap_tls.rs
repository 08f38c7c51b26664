//! IMAP over implicit TLS (993) through the namespace gateway: an
//! intercepting `[[imap_proxy]]` presents the certificate configured for
//! the server's address, Dovecot serves imaps on the server's own address,
//! and imaplib in the client namespace APPENDs and FETCHes a message while
//! verifying the certificate for the address it dialled.

use super::archived;
use super::tls::{ca, leaf, write_config};
use crate::smtp_proxy::sha256;
use crate::support::corpus;
use crate::support::daemon::Daemon;
use crate::support::dovecot::{self, Dovecot, Options, PASSWORD, USER};
use crate::support::netns::{self, Lab, SERVER_V4};
use crate::support::smtp::require;

/// Logs in at the server's address over implicit TLS (trusting `cafile`),
/// APPENDs the message file to INBOX and FETCHes it back into `out`;
/// prints `ok ISSUER-CN`.
const APPEND_FETCH: &str = r#"
import imaplib, ssl, sys
host, user, password, cafile, path, out = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=cafile)
m = imaplib.IMAP4_SSL(host, 993, ssl_context=ctx, timeout=30)
issuer = dict(x[0] for x in m.sock.getpeercert()["issuer"])["commonName"]
m.login(user, password)
typ, _ = m.append("INBOX", None, None, open(path, "rb").read())
assert typ == "OK", typ
m.select("INBOX")
typ, data = m.fetch("1", "(BODY[])")
assert typ == "OK", typ
open(out, "wb").write(data[0][1])
m.logout()
print("ok", issuer)
"#;

#[test]
fn an_intercepted_imaps_session_gets_its_servers_certificate_and_is_captured() {
    if !dovecot::available() {
        return;
    }
    let Some(lab) = Lab::new() else {
        eprintln!("skipped: creating network namespaces needs root and iproute2");
        return;
    };
    lab.gateway_rules(
        r#"
table inet mailseal {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "g1" tcp dport 993 redirect to :10993
    }
}
"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = ca(d, "ca", "mail CA");
    let (cert, key) = leaf(d, "server", &["mail.example.test", SERVER_V4], &ca);
    let _server = Dovecot::start_with(Options {
        tls: Some((&cert, &key)),
        netns: Some(&lab.server.name),
        ..Options::default()
    });
    let listener = format!(
        r#"[[imap_proxy]]
name = "gw-imaps"
listen = "[::]:10993"
intercept = "redirect"
intercept_destinations = [{{ network = "{SERVER_V4}/32", ports = [993] }}]
tls_mode = "implicit"
intercept_certificates = [
    {{ destinations = ["{SERVER_V4}/32"], names = ["mail.example.test"], cert = "{c}", key = "{k}" }},
]
upstream_tls = "implicit"
upstream_ca = "{ca}"
upstream_tls_name = "unused.example.test"

"#,
        c = cert.display(),
        k = key.display(),
        ca = ca.pem.display(),
    );
    let config = write_config(d, &listener);
    let mut daemon = Daemon::start_in_netns(&lab.gateway.name, &config, netns::at("::", 10993));
    let message = corpus::message(31, 70_000);
    std::fs::write(d.join("m.eml"), &message).unwrap();
    let fetched = d.join("fetched.eml");
    let out = lab
        .client
        .command(require("python3").to_str().unwrap())
        .args(["-c", APPEND_FETCH, SERVER_V4, USER, PASSWORD])
        .arg(&ca.pem)
        .arg(d.join("m.eml"))
        .arg(&fetched)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        daemon.log()
    );
    // The entry's name, not upstream_tls_name, checked the real server.
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok mail CA");
    assert_eq!(sha256(&std::fs::read(&fetched).unwrap()), sha256(&message));
    daemon.stop();
    let archived = archived(&daemon);
    assert!(!archived.is_empty(), "{}", daemon.log());
    assert!(
        archived.iter().all(|h| *h == sha256(&message)),
        "{archived:?}"
    );
}
