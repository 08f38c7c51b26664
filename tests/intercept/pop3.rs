//! POP3 through the same gateway: nftables redirects port 110 (and 995)
//! to an intercepting `[[pop3_proxy]]`, Dovecot's POP3 server runs on the
//! server's own address, and poplib in the client namespace downloads
//! from the *server's* address without knowing mailseal is there.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::{archived, interceptions};
use crate::pop3::awkward;
use crate::smtp_proxy::sha256;
use crate::support::daemon::{Daemon, with_control};
use crate::support::dovecot::{self, Dovecot, Options, PASSWORD, USER};
use crate::support::netns::{self, CLIENT_V4, GATEWAY_V4, Lab, Netns, OTHER_V4, SERVER_V4};

/// Where the POP3 proxy listens inside the gateway.
const PROXY_PORT: u16 = 10110;

/// POP3 and POP3S of every forwarded connection go to mailseal (POP3S so
/// that a port outside the allow-list is redirected, and refused).
const REDIRECT: &str = r#"
table inet mailseal {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "g1" tcp dport { 110, 995 } redirect to :10110
    }
}
"#;

/// An intercepting `[[pop3_proxy]]` that may reach only the server's
/// port 110.
fn config(dir: &Path) -> PathBuf {
    let path = dir.join("mailseal.toml");
    let text = format!(
        r#"[archive]
path = "{archive}"

[[pop3_proxy]]
name = "gw-pop3"
listen = "[::]:{PROXY_PORT}"
intercept = "redirect"
intercept_destinations = [{{ network = "{SERVER_V4}/32", ports = [110] }}]
upstream_tls = "none"

[http]
enabled = false
"#,
        archive = dir.join("archive").display()
    );
    std::fs::write(&path, with_control(&path, text)).unwrap();
    path
}

/// Logs in at `to` with poplib from the client namespace, downloads every
/// message into `out` (files `1`, `2`, ...), deletes it and quits; prints
/// `ok COUNT`, or `refused GREETING` when the greeting was `-ERR`.
const DOWNLOAD: &str = r#"
import poplib, sys, os
poplib._MAXLINE = 1 << 20  # the awkward messages have a 70 kB line
host, port, user, password, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
try:
    p = poplib.POP3(host, port, timeout=30)
except poplib.error_proto as e:
    print("refused", e.args[0].decode("utf-8", "replace"))
    sys.exit(0)
p.user(user); p.pass_(password)
count, _ = p.stat()
for n in range(1, count + 1):
    _, lines, _ = p.retr(n)
    open(os.path.join(out, str(n)), 'wb').write(b'\r\n'.join(lines) + b'\r\n')
    p.dele(n)
p.quit()
print("ok", count)
"#;

fn download(client: &Netns, to: SocketAddr, out: &Path) -> String {
    let (host, port) = (to.ip().to_string(), to.port().to_string());
    let args = [&host, &port, USER, PASSWORD].map(std::ffi::OsStr::new);
    client.python(DOWNLOAD, &[&args[..], &[out.as_os_str()]].concat())
}

#[test]
fn a_redirected_pop3_download_is_archived_and_other_destinations_are_refused() {
    if !dovecot::pop3_available() {
        return;
    }
    let Some(lab) = Lab::new() else {
        eprintln!("skipped: creating network namespaces needs root and iproute2");
        return;
    };
    lab.gateway_rules(REDIRECT);
    let server = Dovecot::start_with(Options {
        pop3: true,
        netns: Some(&lab.server.name),
        ..Options::default()
    });
    let mut messages = awkward();
    messages.push(crate::support::corpus::message(11, 150_000));
    server.deliver(&messages);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let listen = netns::at("::", PROXY_PORT);
    let mut daemon = Daemon::start_in_netns(&lab.gateway.name, &config, listen);

    // Refused first, while the maildrop is full: a destination outside the
    // list (another host, a port not named), the gateway itself (a loop),
    // and mailseal's own port reached directly.
    let refused = "refused -ERR [SYS/TEMP] destination not allowed through this gateway";
    for to in [
        netns::at(OTHER_V4, 110),
        netns::at(SERVER_V4, 995),
        netns::at(GATEWAY_V4, 110),
        netns::at(GATEWAY_V4, PROXY_PORT),
    ] {
        let out = tempfile::tempdir().unwrap();
        assert_eq!(download(&lab.client, to, out.path()), refused, "{to}");
    }
    assert_eq!(
        server.count(),
        messages.len(),
        "a refusal reaches no server"
    );

    let out = tempfile::tempdir().unwrap();
    let done = download(&lab.client, netns::at(SERVER_V4, 110), out.path());
    assert_eq!(done, format!("ok {}", messages.len()), "{}", daemon.log());
    for (i, message) in messages.iter().enumerate() {
        let got = std::fs::read(out.path().join((i + 1).to_string())).unwrap();
        assert_eq!(
            sha256(&got),
            sha256(message),
            "message {} at the client",
            i + 1
        );
    }
    assert_eq!(server.count(), 0, "the client deleted what it downloaded");

    daemon.stop();
    let expected: Vec<String> = messages.iter().map(|m| sha256(m)).collect();
    assert_eq!(archived(&daemon), expected, "every download, byte-exact");
    let headed = serde_json::json!({
        "mode": "redirect",
        "destination": format!("{SERVER_V4}:110"),
        "from_client": false,
    });
    assert_eq!(interceptions(&daemon), vec![headed; messages.len()]);
    let log = daemon.log();
    assert!(
        log.contains(&format!("destination={SERVER_V4}:110")),
        "{log}"
    );
    assert!(log.contains(CLIENT_V4), "{log}");
    assert_eq!(log.matches("intercept-refused").count(), 4, "{log}");
    assert!(
        log.contains(&format!("{OTHER_V4}:110 is not in intercept_destinations")),
        "{log}"
    );
    assert!(
        log.contains(&format!("{SERVER_V4}:995 is not in intercept_destinations")),
        "{log}"
    );
    assert!(
        log.contains(&format!("{GATEWAY_V4}:110 is this machine (loop)")),
        "{log}"
    );
}
