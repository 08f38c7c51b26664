//! A private network for interception tests: three network namespaces
//! (client, gateway, server) joined by veth pairs, with IPv4 and IPv6
//! addresses that exist only inside them. Every namespace is deleted when
//! its guard drops, also when the test panics; nothing is configured
//! outside the namespaces.
//!
//! ```text
//!  client c0 ── g1 gateway g2 ── s0 server
//!  10.231.1.2   10.231.1.1  10.231.2.1   10.231.2.2
//!  fd00:231:1::2  ::1       fd00:231:2::1  ::2
//! ```

use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The client's addresses.
pub const CLIENT_V4: &str = "10.231.1.2";
/// The gateway's address on the client side (its own, for loop tests).
pub const GATEWAY_V4: &str = "10.231.1.1";
/// The server's addresses.
pub const SERVER_V4: &str = "10.231.2.2";
/// The server's IPv6 address.
pub const SERVER_V6: &str = "fd00:231:2::2";
/// An address in the server's network where no host lives.
pub const OTHER_V4: &str = "10.231.2.3";

/// One network namespace, deleted on drop.
pub struct Netns {
    /// `ip netns` name, unique to this test process and namespace.
    pub name: String,
}

impl Netns {
    /// Creates a namespace with its loopback up; `None` when this machine
    /// cannot (not root, no `ip`).
    pub fn new(role: &str) -> Option<Netns> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("ms-{role}-{}-{n}", std::process::id());
        let made = Command::new("ip").args(["netns", "add", &name]).output();
        if !made.is_ok_and(|o| o.status.success()) {
            return None;
        }
        let netns = Netns { name };
        netns.run(&["ip", "link", "set", "lo", "up"]);
        Some(netns)
    }

    /// `program` run inside the namespace (`ip netns exec` execs it, so
    /// the child's id is the program's).
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Runs a Python `script` with `args` inside the namespace, requires
    /// success (the panic shows its stderr) and returns its stdout,
    /// trimmed: what the test clients print.
    pub fn python<S: AsRef<std::ffi::OsStr>>(&self, script: &str, args: &[S]) -> String {
        let python = crate::support::smtp::require("python3");
        let out = self
            .command(python.to_str().unwrap())
            .args(["-c", script])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Runs a command inside the namespace and requires success.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args[0]).args(&args[1..]).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} in {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Client, gateway and server, wired and addressed; the gateway forwards.
pub struct Lab {
    /// Where the mail client runs.
    pub client: Netns,
    /// Where mailseal and the nftables rules run.
    pub gateway: Netns,
    /// Where the real server runs.
    pub server: Netns,
}

impl Lab {
    /// Builds the network; `None` (the test says it is skipped) when this
    /// machine cannot create namespaces.
    pub fn new() -> Option<Lab> {
        let lab = Lab {
            client: Netns::new("c")?,
            gateway: Netns::new("g")?,
            server: Netns::new("s")?,
        };
        lab.link(&lab.client, "c0", &lab.gateway, "g1");
        lab.link(&lab.gateway, "g2", &lab.server, "s0");
        address(&lab.client, "c0", "10.231.1.2/24", "fd00:231:1::2/64");
        address(&lab.gateway, "g1", "10.231.1.1/24", "fd00:231:1::1/64");
        address(&lab.gateway, "g2", "10.231.2.1/24", "fd00:231:2::1/64");
        address(&lab.server, "s0", "10.231.2.2/24", "fd00:231:2::2/64");
        for (ns, via4, via6) in [
            (&lab.client, "10.231.1.1", "fd00:231:1::1"),
            (&lab.server, "10.231.2.1", "fd00:231:2::1"),
        ] {
            ns.run(&["ip", "route", "add", "default", "via", via4]);
            ns.run(&["ip", "-6", "route", "add", "default", "via", via6]);
        }
        lab.gateway.run(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        lab.gateway
            .run(&["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
        Some(lab)
    }

    /// A veth pair from `a` (interface `a_if`) to `b` (`b_if`), created
    /// inside `a` so no interface ever appears outside the namespaces.
    fn link(&self, a: &Netns, a_if: &str, b: &Netns, b_if: &str) {
        a.run(&[
            "ip", "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b.name,
        ]);
        a.run(&["ip", "link", "set", a_if, "up"]);
        b.run(&["ip", "link", "set", b_if, "up"]);
    }

    /// Loads an nftables ruleset into the gateway.
    pub fn gateway_rules(&self, ruleset: &str) {
        let mut child = self
            .gateway
            .command("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ruleset.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "nft: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `ip:port` for the constants above.
pub fn at(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse::<IpAddr>().unwrap(), port)
}

/// Both addresses on an interface; IPv6 without duplicate detection, so
/// it is usable at once.
fn address(ns: &Netns, interface: &str, v4: &str, v6: &str) {
    ns.run(&["ip", "addr", "add", v4, "dev", interface]);
    ns.run(&["ip", "-6", "addr", "add", v6, "dev", interface, "nodad"]);
}
