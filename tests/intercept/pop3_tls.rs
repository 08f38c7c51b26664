//! POP3 with TLS through the namespace gateway: intercepting
//! `[[pop3_proxy]]` listeners present the certificate configured for the
//! server's address, on 995 (implicit TLS, decided on the ClientHello) and
//! on 110 (STLS, decided when the client asks); Dovecot serves both on the
//! server's own addresses, and poplib in the client namespace verifies the
//! certificate for the address it dialled. A destination without a
//! certificate (the server's IPv6 address) gets `-ERR` to STLS.

use std::net::SocketAddr;
use std::path::Path;

use super::archived;
use super::tls::{ca, leaf, write_config};
use crate::smtp_proxy::sha256;
use crate::support::corpus;
use crate::support::daemon::Daemon;
use crate::support::dovecot::{self, Dovecot, Options, PASSWORD, USER};
use crate::support::netns::{self, Lab, Netns, SERVER_V4, SERVER_V6};

/// Logs in at HOST:PORT (`stls` or `implicit`, trusting CAFILE), downloads
/// every message into OUT (files `1`, `2`, ...) without deleting, quits;
/// prints `ok ISSUER-CN COUNT`, or `stls-refused REPLY`.
const DOWNLOAD: &str = r#"
import os, poplib, ssl, sys
host, port, mode, cafile, out, user, password = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=cafile)
if mode == "implicit":
    p = poplib.POP3_SSL(host, int(port), context=ctx, timeout=30)
else:
    p = poplib.POP3(host, int(port), timeout=30)
    try:
        p.stls(context=ctx)
    except poplib.error_proto as e:
        print("stls-refused", e.args[0].decode("utf-8", "replace"))
        sys.exit(0)
issuer = dict(x[0] for x in p.sock.getpeercert()["issuer"])["commonName"]
p.user(user); p.pass_(password)
count, _ = p.stat()
for n in range(1, count + 1):
    _, lines, _ = p.retr(n)
    open(os.path.join(out, str(n)), "wb").write(b"\r\n".join(lines) + b"\r\n")
p.quit()
print("ok", issuer, count)
"#;

fn download(client: &Netns, to: SocketAddr, mode: &str, ca: &Path, out: &Path) -> String {
    let (host, port) = (to.ip().to_string(), to.port().to_string());
    let args = [
        host.as_ref(),
        port.as_ref(),
        mode.as_ref(),
        ca.as_os_str(),
        out.as_os_str(),
    ];
    client.python(
        DOWNLOAD,
        &[&args[..], &[USER, PASSWORD].map(std::ffi::OsStr::new)].concat(),
    )
}

#[test]
fn intercepted_pop3_over_stls_and_pop3s_gets_its_servers_certificate() {
    if !dovecot::pop3_available() {
        return;
    }
    let Some(lab) = Lab::new() else {
        eprintln!("skipped: creating network namespaces needs root and iproute2");
        return;
    };
    lab.gateway_rules(&format!(
        r#"
table inet mailseal {{
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        iifname "g1" ip6 daddr {SERVER_V6} tcp dport 110 redirect to :10111
        iifname "g1" tcp dport 110 redirect to :10110
        iifname "g1" tcp dport 995 redirect to :10995
    }}
}}
"#
    ));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = ca(d, "ca", "mail CA");
    let (cert, key) = leaf(d, "server", &["pop.example.test", SERVER_V4], &ca);
    let server = Dovecot::start_with(Options {
        tls: Some((&cert, &key)),
        pop3: true,
        netns: Some(&lab.server.name),
    });
    let messages = vec![corpus::message(41, 30_000), corpus::message(42, 90_000)];
    server.deliver(&messages);
    // The entry names the server by its IPv4 address only; the IPv6
    // address (its own listener, whose upstream leg is plain) is allowed
    // but has no certificate.
    let listener = |name: &str, port: u16, to: &str, mode: &str, upstream: &str| {
        format!(
            r#"[[pop3_proxy]]
name = "{name}"
listen = "[::]:{port}"
intercept = "redirect"
intercept_destinations = [{{ network = "{to}", ports = [{server_port}] }}]
tls_mode = "{mode}"
intercept_certificates = [
    {{ destinations = ["{SERVER_V4}/32"], names = ["pop.example.test"], cert = "{c}", key = "{k}" }},
]
upstream_tls = "{upstream}"
upstream_ca = "{ca}"
upstream_tls_name = "unused.example.test"

"#,
            server_port = if mode == "implicit" { 995 } else { 110 },
            c = cert.display(),
            k = key.display(),
            ca = ca.pem.display(),
        )
    };
    let v4 = format!("{SERVER_V4}/32");
    let v6 = format!("{SERVER_V6}/128");
    let listeners = listener("gw-pop3", 10110, &v4, "starttls", "starttls-required")
        + &listener("gw-pop3s", 10995, &v4, "implicit", "implicit")
        + &listener("gw-pop3-v6", 10111, &v6, "starttls", "none");
    let config = write_config(d, &listeners);
    let mut daemon = Daemon::start_in_netns(&lab.gateway.name, &config, netns::at("::", 10995));

    for (to, mode) in [
        (netns::at(SERVER_V4, 110), "stls"),
        (netns::at(SERVER_V4, 995), "implicit"),
    ] {
        let out = tempfile::tempdir().unwrap();
        let done = download(&lab.client, to, mode, &ca.pem, out.path());
        // The entry's name, not upstream_tls_name, checked the real server.
        assert_eq!(done, "ok mail CA 2", "{mode}: {}", daemon.log());
        for (i, message) in messages.iter().enumerate() {
            let got = std::fs::read(out.path().join((i + 1).to_string())).unwrap();
            assert_eq!(sha256(&got), sha256(message), "{mode}: message {}", i + 1);
        }
    }
    let out = tempfile::tempdir().unwrap();
    let refused = download(
        &lab.client,
        netns::at(SERVER_V6, 110),
        "stls",
        &ca.pem,
        out.path(),
    );
    assert_eq!(
        refused,
        "stls-refused -ERR [SYS/TEMP] TLS not available for this destination"
    );

    daemon.stop();
    let expected: Vec<String> = (0..2)
        .flat_map(|_| messages.iter().map(|m| sha256(m)))
        .collect();
    assert_eq!(archived(&daemon), expected, "every download, byte-exact");
    let log = daemon.log();
    assert!(
        log.contains(&format!("destination=[{SERVER_V6}]:110")),
        "{log}"
    );
}
