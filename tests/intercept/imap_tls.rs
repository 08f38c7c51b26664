//! IMAP over implicit TLS (993) and STARTTLS (143) through the namespace
//! gateway: intercepting `[[imap_proxy]]` listeners present the
//! certificate configured for the server's address, Dovecot serves both on
//! the server's own address, and imaplib in the client namespace APPENDs
//! and FETCHes a message while verifying the certificate for the address
//! it dialled.

use std::collections::BTreeSet;

use super::archived;
use super::tls::{ca, leaf, write_config};
use crate::smtp_proxy::sha256;
use crate::support::corpus;
use crate::support::daemon::Daemon;
use crate::support::dovecot::{self, Dovecot, Options, PASSWORD, USER};
use crate::support::netns::{self, Lab, SERVER_V4};

/// Logs in at the server's address over implicit TLS (port 993) or
/// STARTTLS (143), trusting `cafile`, APPENDs the message file to INBOX
/// and FETCHes the newest message back into `out`; prints `ok ISSUER-CN`.
const APPEND_FETCH: &str = r#"
import imaplib, ssl, sys
host, port, user, password, cafile, path, out = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=cafile)
if port == "993":
    m = imaplib.IMAP4_SSL(host, 993, ssl_context=ctx, timeout=30)
else:
    m = imaplib.IMAP4(host, int(port), timeout=30)
    m.starttls(ssl_context=ctx)
issuer = dict(x[0] for x in m.sock.getpeercert()["issuer"])["commonName"]
m.login(user, password)
typ, _ = m.append("INBOX", None, None, open(path, "rb").read())
assert typ == "OK", typ
m.select("INBOX")
typ, data = m.search(None, "ALL")
newest = data[0].split()[-1].decode()
typ, data = m.fetch(newest, "(BODY[])")
assert typ == "OK", typ
open(out, "wb").write(data[0][1])
m.logout()
print("ok", issuer)
"#;

#[test]
fn intercepted_imaps_and_starttls_sessions_get_their_servers_certificate_and_are_captured() {
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
        iifname "g1" tcp dport 143 redirect to :10143
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
    let listener = |name: &str, port: u16, server_port: u16, mode: &str, upstream: &str| {
        format!(
            r#"[[imap_proxy]]
name = "{name}"
listen = "[::]:{port}"
intercept = "redirect"
intercept_destinations = [{{ network = "{SERVER_V4}/32", ports = [{server_port}] }}]
tls_mode = "{mode}"
intercept_certificates = [
    {{ destinations = ["{SERVER_V4}/32"], names = ["mail.example.test"], cert = "{c}", key = "{k}" }},
]
upstream_tls = "{upstream}"
upstream_ca = "{ca}"
upstream_tls_name = "unused.example.test"

"#,
            c = cert.display(),
            k = key.display(),
            ca = ca.pem.display(),
        )
    };
    let listeners = listener("gw-imaps", 10993, 993, "implicit", "implicit")
        + &listener("gw-imap", 10143, 143, "starttls", "starttls");
    let config = write_config(d, &listeners);
    let mut daemon = Daemon::start_in_netns(&lab.gateway.name, &config, netns::at("::", 10993));
    let messages = [corpus::message(31, 70_000), corpus::message(32, 20_000)];
    for (port, message) in ["993", "143"].into_iter().zip(&messages) {
        std::fs::write(d.join("m.eml"), message).unwrap();
        let fetched = d.join("fetched.eml");
        let args = [SERVER_V4, port, USER, PASSWORD].map(std::ffi::OsStr::new);
        let files = [ca.pem.clone(), d.join("m.eml"), fetched.clone()];
        let files = files.iter().map(|f| f.as_os_str());
        let out = lab.client.python(
            APPEND_FETCH,
            &args.into_iter().chain(files).collect::<Vec<_>>(),
        );
        // The entry's name, not upstream_tls_name, checked the real server.
        assert_eq!(out, "ok mail CA", "{port}: {}", daemon.log());
        let got = std::fs::read(&fetched).unwrap();
        assert_eq!(sha256(&got), sha256(message), "{port}");
    }
    daemon.stop();
    // Each session's APPEND and FETCH, and nothing else.
    let archived: BTreeSet<String> = archived(&daemon).into_iter().collect();
    let expected: BTreeSet<String> = messages.iter().map(|m| sha256(m)).collect();
    assert_eq!(archived, expected, "{}", daemon.log());
}
