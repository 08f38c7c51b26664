//! The example rulesets shipped in `packaging/examples/`, loaded into the
//! gateway as an admin would (only their `define`s changed), with real
//! servers behind them:
//!
//! - users to mail server (redirect): SMTP to aiosmtpd and IMAP to
//!   Dovecot, both on the server's own address;
//! - mail server to internet (TPROXY, `intercept_bind_client`): the
//!   server's Postfix logs the client's own address, not the gateway's;
//! - fail-closed: while mailseal is down a client Postfix cannot reach
//!   the server at all, and delivers once mailseal is back.

use std::path::{Path, PathBuf};

use super::interceptions;
use crate::smtp_proxy::sha256;
use crate::support::corpus;
use crate::support::daemon::{Daemon, with_control};
use crate::support::dovecot::{self, Dovecot, Options, PASSWORD, USER};
use crate::support::netns::{self, CLIENT_V4, Lab, Netns, SERVER_V4};
use crate::support::sink::Sink;
use crate::support::smtp::Postfix;

/// The namespaces have no name server: Postfix must not wait for one.
const NO_DNS: &str = "smtpd_peername_lookup = no\nsmtp_dns_support_level = disabled";

/// `packaging/examples/NAME` with each `define KEY = ...` line set to the
/// lab's value.
fn example(name: &str, defines: &[(&str, &str)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("packaging/examples")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut set = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            for (key, value) in defines {
                if line.starts_with(&format!("define {key} = ")) {
                    set += 1;
                    return format!("define {key} = {value}");
                }
            }
            line.to_owned()
        })
        .collect();
    assert_eq!(set, defines.len(), "{name} lost a define");
    lines.join("\n") + "\n"
}

/// Loads the users ↔ mail server example into the gateway, the users on
/// `g1` and the server namespace as the mail server.
fn users_ruleset(lab: &Lab) {
    lab.gateway_rules(&example(
        "nftables-users-to-mailserver.nft",
        &[("USERS_IF", "\"g1\""), ("MAIL_SERVER", SERVER_V4)],
    ));
}

/// A config with `listeners` (TOML) and the archive in `dir`.
fn config(dir: &Path, listeners: &str) -> PathBuf {
    let path = dir.join("mailseal.toml");
    let text = format!(
        "[archive]\npath = \"{}\"\n\n{listeners}\n[http]\nenabled = false\n",
        dir.join("archive").display()
    );
    std::fs::write(&path, with_control(&path, text)).unwrap();
    path
}

/// Sends `message` with smtplib from `client` to `SERVER_V4:25`; returns
/// the final reply.
fn send(client: &Netns, message: &Path) -> String {
    let script = r#"
import smtplib, sys
with smtplib.SMTP(sys.argv[1], 25, timeout=30) as s:
    s.ehlo("client.test")
    s.sendmail("a@example.com", ["b@example.org"], open(sys.argv[2], "rb").read())
    print("250 sent")
"#;
    client.python(script, &[SERVER_V4.as_ref(), message.as_os_str()])
}

/// Logs in to `SERVER_V4:143` with imaplib from `client`, APPENDs
/// `append` to INBOX and fetches every message of INBOX into `out`
/// (files `1`, `2`, ...); prints the number fetched.
const IMAP: &str = r#"
import imaplib, os, sys
host, user, password, append, out = sys.argv[1:6]
m = imaplib.IMAP4(host, 143, timeout=30)
m.login(user, password)
m.append("INBOX", None, None, open(append, "rb").read())
m.select("INBOX")
typ, data = m.fetch("1:*", "(BODY[])")
n = 0
for part in data:
    if isinstance(part, tuple):
        n += 1
        open(os.path.join(out, str(n)), "wb").write(part[1])
m.logout()
print(n)
"#;

#[test]
fn the_users_placement_ruleset_intercepts_smtp_and_imap_to_the_mail_server() {
    if !dovecot::available() {
        return;
    }
    let Some(lab) = Lab::new() else {
        eprintln!("skipped: creating network namespaces needs root and iproute2");
        return;
    };
    users_ruleset(&lab);
    let sink = Sink::in_netns(&lab.server.name, netns::at(SERVER_V4, 25));
    let imap = Dovecot::start_with(Options {
        netns: Some(&lab.server.name),
        ..Options::default()
    });
    let waiting = corpus::message(21, 40_000);
    imap.deliver(std::slice::from_ref(&waiting));
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &format!(
            r#"[[smtp_proxy]]
name = "submission"
listen = "[::]:10025"
intercept = "redirect"
intercept_destinations = [{{ network = "{SERVER_V4}/32", ports = [25, 587] }}]
hostname = "gateway.test"
upstream_tls = "none"

[[imap_proxy]]
name = "imap"
listen = "[::]:10143"
intercept = "redirect"
intercept_destinations = [{{ network = "{SERVER_V4}/32", ports = [143] }}]
upstream_tls = "none"
"#
        ),
    );
    let mut daemon = Daemon::start_in_netns(&lab.gateway.name, &config, netns::at("::", 10143));

    let mail = corpus::message(22, 90_000);
    std::fs::write(dir.path().join("mail.eml"), &mail).unwrap();
    assert_eq!(send(&lab.client, &dir.path().join("mail.eml")), "250 sent");
    let appended = corpus::message(23, 60_000);
    std::fs::write(dir.path().join("append.eml"), &appended).unwrap();
    let out = tempfile::tempdir().unwrap();
    let append = dir.path().join("append.eml");
    let args = [SERVER_V4, USER, PASSWORD].map(std::ffi::OsStr::new);
    let fetched = lab.client.python(
        IMAP,
        &[&args[..], &[append.as_os_str(), out.path().as_os_str()]].concat(),
    );
    assert_eq!(fetched, "2", "{}", daemon.log());
    // The client got the server's messages unchanged.
    assert_eq!(
        sha256(&std::fs::read(out.path().join("1")).unwrap()),
        sha256(&waiting)
    );
    assert_eq!(
        sha256(&std::fs::read(out.path().join("2")).unwrap()),
        sha256(&appended)
    );
    let received = sink.wait_for(1);
    assert_eq!(sha256(&received[0].content), sha256(&mail));
    daemon.stop();

    // Every message is archived, each record naming the server and port
    // the client was talking to.
    let records = interceptions(&daemon);
    let archived = super::archived(&daemon);
    for (content, port) in [(&mail, 25), (&appended, 143), (&waiting, 143)] {
        let at = archived.iter().position(|h| *h == sha256(content));
        let at = at.unwrap_or_else(|| panic!("not archived: port {port}\n{}", daemon.log()));
        assert_eq!(
            records[at]["destination"],
            format!("{SERVER_V4}:{port}"),
            "{records:?}"
        );
        assert_eq!(records[at]["mode"], "redirect");
    }
}

#[test]
fn the_internet_placement_ruleset_tproxies_and_the_server_sees_the_client() {
    let Some(lab) = Lab::new() else {
        eprintln!("skipped: creating network namespaces needs root and iproute2");
        return;
    };
    // The client namespace plays the company's mail server sending out;
    // the server namespace is a foreign MX host on the internet.
    lab.gateway_rules(&example(
        "nftables-mailserver-to-internet.nft",
        &[
            ("INSIDE_IF", "\"g1\""),
            ("OUTSIDE_IF", "\"g2\""),
            ("MAIL_SERVER", CLIENT_V4),
        ],
    ));
    // The policy routing and loose reverse-path filter the example asks for.
    lab.gateway
        .run(&["ip", "rule", "add", "fwmark", "0x1", "lookup", "100"]);
    lab.gateway.run(&[
        "ip",
        "route",
        "add",
        "local",
        "0.0.0.0/0",
        "dev",
        "lo",
        "table",
        "100",
    ]);
    for iface in ["all", "default", "g1", "g2"] {
        let key = format!("net.ipv4.conf.{iface}.rp_filter=2");
        lab.gateway.run(&["sysctl", "-qw", &key]);
    }
    // The foreign MX: a Postfix on the server's address (its relay is
    // unreachable; the message waits in its queue, which is enough).
    let mx = Postfix::start_at(
        Some(&lab.server.name),
        netns::at(SERVER_V4, 25),
        netns::at("127.0.0.1", 9),
        NO_DNS,
    );
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &format!(
            r#"[[smtp_proxy]]
name = "outbound"
listen = "0.0.0.0:10025"
intercept = "tproxy"
intercept_bind_client = true
intercept_destinations = [{{ network = "{SERVER_V4}/32", ports = [25] }}]
hostname = "gateway.test"
upstream_tls = "none"
"#
        ),
    );
    let mut daemon =
        Daemon::start_in_netns(&lab.gateway.name, &config, netns::at("0.0.0.0", 10025));

    let mail = corpus::message(24, 30_000);
    std::fs::write(dir.path().join("mail.eml"), &mail).unwrap();
    assert_eq!(
        send(&lab.client, &dir.path().join("mail.eml")),
        "250 sent",
        "{}\n{}",
        daemon.log(),
        mx.log()
    );
    // Postfix on the MX logged the client's own address for the session.
    let seen = format!("client=unknown[{CLIENT_V4}]");
    crate::support::wait_until(&format!("{seen} in the MX's log"), || {
        mx.log().contains(&seen).then_some(())
    });
    daemon.stop();
    assert_eq!(super::archived(&daemon), [sha256(&mail)]);
    assert_eq!(
        interceptions(&daemon),
        [serde_json::json!({
            "mode": "tproxy",
            "destination": format!("{SERVER_V4}:25"),
            "from_client": true,
        })]
    );
}

#[test]
fn while_mailseal_is_down_nothing_passes_and_the_client_mta_delivers_later() {
    let Some(lab) = Lab::new() else {
        eprintln!("skipped: creating network namespaces needs root and iproute2");
        return;
    };
    users_ruleset(&lab);
    let sink = Sink::in_netns(&lab.server.name, netns::at(SERVER_V4, 25));
    // The client's MTA relays everything to the server's address.
    let mta = Postfix::start_at(
        Some(&lab.client.name),
        netns::at("127.0.0.1", 25),
        netns::at(SERVER_V4, 25),
        NO_DNS,
    );
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &format!(
            r#"[[smtp_proxy]]
name = "submission"
listen = "[::]:10025"
intercept = "redirect"
intercept_destinations = [{{ network = "{SERVER_V4}/32", ports = [25] }}]
hostname = "gateway.test"
upstream_tls = "none"
"#
        ),
    );

    // mailseal is not running: the MTA takes the mail and cannot deliver.
    let mail = corpus::message(25, 50_000);
    std::fs::write(dir.path().join("mail.eml"), &mail).unwrap();
    lab.client.python(
        "import smtplib,sys\nwith smtplib.SMTP('127.0.0.1', 25, timeout=30) as s: \
         s.sendmail('a@example.com', ['b@example.org'], open(sys.argv[1],'rb').read())",
        &[dir.path().join("mail.eml")],
    );
    let refused = format!("connect to {SERVER_V4}[{SERVER_V4}]:25: Connection refused");
    crate::support::wait_until("the MTA's failed delivery", || {
        mta.log().contains(&refused).then_some(())
    });
    assert!(
        sink.messages().is_empty(),
        "mail passed the gateway unarchived"
    );

    // mailseal back: the queued mail goes through, archived on the way.
    let mut daemon = Daemon::start_in_netns(&lab.gateway.name, &config, netns::at("::", 10025));
    mta.flush();
    let received = sink.wait_for(1);
    daemon.stop();
    assert_eq!(super::archived(&daemon), [sha256(&received[0].content)]);
    let body = |m: &[u8]| {
        let text = String::from_utf8_lossy(m).into_owned();
        text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())
    };
    assert_eq!(
        body(&received[0].content),
        body(&mail),
        "the MTA kept the body"
    );
}
