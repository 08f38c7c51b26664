//! `check-config` on a gateway that is not ready to intercept: routing
//! off, no `CAP_NET_ADMIN` for TPROXY, a redirect listener on loopback.
//! Each is a warning (the file is right, the host is not), printed after
//! the `ok` line, and gone once the host is fixed.

use std::path::Path;
use std::process::Output;

use crate::support::netns::Netns;

/// An intercepting SMTP proxy on loopback (redirect) with IPv4 and IPv6
/// destinations, and an intercepting IMAP proxy under TPROXY.
fn config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("mailseal.toml");
    let text = format!(
        r#"[archive]
path = "{archive}"

[[smtp_proxy]]
name = "gw"
listen = "127.0.0.1:10025"
intercept = "redirect"
intercept_destinations = [
    {{ network = "192.0.2.0/24", ports = [25] }},
    {{ network = "2001:db8::/64", ports = [25] }},
]
hostname = "gateway.test"
upstream_tls = "none"

[[imap_proxy]]
name = "imap-gw"
listen = "0.0.0.0:10143"
intercept = "tproxy"
intercept_destinations = [{{ network = "192.0.2.0/24", ports = [143] }}]
upstream_tls = "none"

[http]
enabled = false
"#,
        archive = dir.join("archive").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// `mailseal check-config` inside `ns`, without `CAP_NET_ADMIN` when
/// `drop_net_admin` (root's other capabilities stay).
fn check(ns: &Netns, config: &Path, drop_net_admin: bool) -> Output {
    let mut command = ns.command("setpriv");
    if drop_net_admin {
        command.args(["--bounding-set=-net_admin", "--inh-caps=-net_admin"]);
    }
    command
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_mailseal"))
        .arg("--config")
        .arg(config)
        .arg("check-config");
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok ("));
    out
}

#[test]
fn check_config_warns_about_what_the_host_lacks_for_interception() {
    let Some(ns) = Netns::new("host") else {
        eprintln!("skipped: creating network namespaces needs root and iproute2");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    ns.run(&["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    ns.run(&["sysctl", "-qw", "net.ipv6.conf.all.forwarding=0"]);

    let out = check(&ns, &config, true);
    let warned = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "warning: net.ipv4.ip_forward is 0",
        "warning: net.ipv6.conf.all.forwarding is 0",
        "warning: [[smtp_proxy]] \"gw\": listen = \"127.0.0.1:10025\" is a loopback address",
        "warning: [[imap_proxy]] \"imap-gw\": intercept = \"tproxy\" needs CAP_NET_ADMIN \
         (IP_TRANSPARENT), which this process lacks",
    ] {
        assert!(warned.contains(expected), "{expected}\n{warned}");
    }

    // Routing on and CAP_NET_ADMIN present: only the loopback listener,
    // which is the file's to fix, is still named.
    ns.run(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    ns.run(&["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
    let out = check(&ns, &config, false);
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(!warned.contains("ip_forward"), "{warned}");
    assert!(!warned.contains("all.forwarding"), "{warned}");
    assert!(!warned.contains("which this process lacks"), "{warned}");
    assert!(warned.contains("is a loopback address"), "{warned}");
}
