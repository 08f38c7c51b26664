//! Inline interception through a real gateway: three network namespaces
//! (client, gateway, server), nftables on the gateway redirecting SMTP to
//! `mailseal run`, and a byte-exact aiosmtpd on the server's own address.
//! The client talks to the *server's* address and never to mailseal.

// The same for POP3, against Dovecot's POP3 server behind the gateway.
mod pop3;
// POP3 over STLS and implicit TLS (995) with a per-destination certificate.
mod pop3_tls;
// TLS on intercepted SMTP: certificates per destination, refuse, mint, pass-unarchived.
mod tls;
// IMAP over implicit TLS (993) with a per-destination certificate, to Dovecot.
mod imap_tls;

// `check-config` on a host that is not ready to intercept.
mod host;

// The shipped example rulesets, TPROXY, and fail-closed.
mod placements;

use std::net::SocketAddr;
use std::path::Path;

use crate::smtp_proxy::sha256;
use crate::support::corpus;
use crate::support::daemon::{Daemon, with_control};
use crate::support::netns::{
    self, CLIENT_V4, GATEWAY_V4, Lab, Netns, OTHER_V4, SERVER_V4, SERVER_V6,
};
use crate::support::sink::Sink;

/// Where mailseal listens inside the gateway (all addresses, both
/// families); nftables redirects port 25 and 2525 here.
const PROXY_PORT: u16 = 10025;

/// Port 25 and 2525 of every forwarded connection go to mailseal.
const REDIRECT: &str = r#"
table inet mailseal {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "g1" tcp dport { 25, 2525 } redirect to :10025
    }
}
"#;

/// An intercepting `[[smtp_proxy]]` that may reach only the server's
/// port 25 (both families).
fn config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("mailseal.toml");
    let text = format!(
        r#"[archive]
path = "{archive}"

[[smtp_proxy]]
name = "gw"
listen = "[::]:{PROXY_PORT}"
intercept = "redirect"
intercept_destinations = [
    {{ network = "{SERVER_V4}/32", ports = [25] }},
    {{ network = "{SERVER_V6}/128", ports = [25] }},
]
hostname = "gateway.test"
upstream_tls = "none"

[http]
enabled = false
"#,
        archive = dir.join("archive").display()
    );
    std::fs::write(&path, with_control(&path, text)).unwrap();
    path
}

/// Sends `message` with smtplib from the client namespace to `to`; returns
/// the final reply, or `refused CODE TEXT` when the connection was refused
/// at the greeting.
fn send(client: &Netns, to: SocketAddr, message: &Path) -> String {
    let script = r#"
import smtplib, sys
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(path, "rb").read()
try:
    with smtplib.SMTP(host, port, timeout=30) as s:
        s.ehlo("client.test")
        s.mail("a@example.com")
        s.rcpt("b@example.org")
        code, text = s.data(data)
        print(code, text.decode("utf-8", "replace"))
except smtplib.SMTPConnectError as e:
    print("refused", e.smtp_code, e.smtp_error.decode("utf-8", "replace"))
except smtplib.SMTPServerDisconnected as e:
    print("disconnected", e)
"#;
    let (host, port) = (to.ip().to_string(), to.port().to_string());
    client.python(script, &[host.as_ref(), port.as_ref(), message.as_os_str()])
}

#[test]
fn redirected_mail_reaches_its_server_byte_exact_and_is_archived() {
    let Some(lab) = Lab::new() else {
        eprintln!("skipped: creating network namespaces needs root and iproute2");
        return;
    };
    lab.gateway_rules(REDIRECT);
    let sink = Sink::in_netns(&lab.server.name, netns::at(SERVER_V4, 25));
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let listen = netns::at("::", PROXY_PORT);
    let mut daemon = Daemon::start_in_netns(&lab.gateway.name, &config, listen);

    let v4 = corpus::message(1, 120_000);
    let v6 = corpus::message(2, 80_000);
    std::fs::write(dir.path().join("v4.eml"), &v4).unwrap();
    std::fs::write(dir.path().join("v6.eml"), &v6).unwrap();
    let reply = send(
        &lab.client,
        netns::at(SERVER_V4, 25),
        &dir.path().join("v4.eml"),
    );
    assert!(
        reply.starts_with("250 2.0.0 Ok"),
        "{reply}\n{}",
        daemon.log()
    );
    let reply = send(
        &lab.client,
        netns::at(SERVER_V6, 25),
        &dir.path().join("v6.eml"),
    );
    assert!(
        reply.starts_with("250 2.0.0 Ok"),
        "{reply}\n{}",
        daemon.log()
    );

    let received = sink.wait_for(2);
    assert_eq!(received.len(), 2);
    assert_eq!(sha256(&received[0].content), sha256(&v4));
    assert_eq!(sha256(&received[1].content), sha256(&v6));
    daemon.stop();
    assert_eq!(archived(&daemon), [sha256(&v4), sha256(&v6)]);
    // Each record names the server the client was talking to.
    assert_eq!(
        interceptions(&daemon),
        [
            serde_json::json!({
                "mode": "redirect",
                "destination": format!("{SERVER_V4}:25"),
                "from_client": false,
            }),
            serde_json::json!({
                "mode": "redirect",
                "destination": format!("[{SERVER_V6}]:25"),
                "from_client": false,
            }),
        ]
    );
    // The log names where each connection was headed and who sent it.
    let log = daemon.log();
    assert!(
        log.contains(&format!("destination={SERVER_V4}:25")),
        "{log}"
    );
    assert!(
        log.contains(&format!("destination=[{SERVER_V6}]:25")),
        "{log}"
    );
    assert!(log.contains(CLIENT_V4), "{log}");
}

#[test]
fn destinations_outside_the_list_and_loops_are_refused() {
    let Some(lab) = Lab::new() else {
        eprintln!("skipped: creating network namespaces needs root and iproute2");
        return;
    };
    lab.gateway_rules(REDIRECT);
    let sink = Sink::in_netns(&lab.server.name, netns::at(SERVER_V4, 25));
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let listen = netns::at("::", PROXY_PORT);
    let mut daemon = Daemon::start_in_netns(&lab.gateway.name, &config, listen);
    let message = dir.path().join("m.eml");
    std::fs::write(&message, corpus::message(3, 2_000)).unwrap();

    let refused = "refused 421 4.7.0 destination not allowed through this gateway";
    // A host the list does not name, and a port it does not name.
    assert_eq!(
        send(&lab.client, netns::at(OTHER_V4, 25), &message),
        refused
    );
    assert_eq!(
        send(&lab.client, netns::at(SERVER_V4, 2525), &message),
        refused
    );
    // The gateway's own address: redirected back to mailseal (a loop).
    assert_eq!(
        send(&lab.client, netns::at(GATEWAY_V4, 25), &message),
        refused
    );
    // mailseal's own port, not redirected at all.
    let direct = netns::at(GATEWAY_V4, PROXY_PORT);
    assert_eq!(send(&lab.client, direct, &message), refused);

    daemon.stop();
    assert!(sink.messages().is_empty());
    let log = daemon.log();
    let refusals = log.matches("intercept-refused").count();
    assert_eq!(refusals, 4, "{log}");
    assert!(
        log.contains(&format!("{OTHER_V4}:25 is not in intercept_destinations")),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "{SERVER_V4}:2525 is not in intercept_destinations"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!("{GATEWAY_V4}:25 is this machine (loop)")),
        "{log}"
    );
    assert!(archived(&daemon).is_empty());
}

/// The sequence numbers of every archived message, in archive order.
fn messages(daemon: &Daemon) -> Vec<String> {
    let list = daemon.cli(&["list", "--json"]);
    assert!(list.status.success(), "{list:?}");
    let text = String::from_utf8_lossy(&list.stdout);
    let rows = text.lines().map(|line| {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        row
    });
    rows.filter(|row| row["kind"] == "message")
        .map(|row| row["seq"].to_string())
        .collect()
}

/// SHA-256 of every archived message, in archive order.
fn archived(daemon: &Daemon) -> Vec<String> {
    let raw = |seq: String| {
        let show = daemon.cli(&["show", &seq, "--raw"]);
        assert!(show.status.success(), "{show:?}");
        sha256(&show.stdout)
    };
    messages(daemon).into_iter().map(raw).collect()
}

/// The `intercepted` object of every archived message's record, in
/// archive order (`null` where a record has none).
fn interceptions(daemon: &Daemon) -> Vec<serde_json::Value> {
    let intercepted = |seq: String| {
        let show = daemon.cli(&["show", &seq]);
        assert!(show.status.success(), "{show:?}");
        let doc: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
        doc["record"]["body"]["intercepted"].clone()
    };
    messages(daemon).into_iter().map(intercepted).collect()
}
