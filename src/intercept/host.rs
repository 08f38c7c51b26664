//! What the gateway box itself must provide before intercepting listeners
//! see any connection: routing turned on, `CAP_NET_ADMIN` for TPROXY, and a
//! listening address that nftables' `redirect` can reach. None of these is
//! a configuration error (the file is right; the host is not ready yet), so
//! `check-config` prints them as warnings and `run` logs them at start.
//!
//! [`Host::probe`] reads the kernel's view (sysctls of the current network
//! namespace, the process's capabilities, the installed systemd unit);
//! [`warnings`] judges a configuration against it without I/O.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use crate::config::{Config, InterceptMode};

/// `CAP_NET_ADMIN`'s bit in the capability sets (linux/capability.h).
const CAP_NET_ADMIN: u32 = 12;

/// One intercepting listener, whatever its protocol.
#[derive(Debug, Clone)]
pub struct Listener {
    /// The section, for messages (`[[smtp_proxy]]`).
    pub section: &'static str,
    /// The listener's name.
    pub name: String,
    /// Where it listens.
    pub listen: SocketAddr,
    /// Redirect or TPROXY.
    pub mode: InterceptMode,
    /// Some destination rule is an IPv6 network (so IPv6 must be routed).
    pub ipv6: bool,
}

/// What the host provides, as far as it can be read.
#[derive(Debug, Clone, Default)]
pub struct Host {
    /// `net.ipv4.ip_forward`; `None` when it could not be read.
    pub ipv4_forwarding: Option<bool>,
    /// `net.ipv6.conf.all.forwarding`; `None` when it could not be read.
    pub ipv6_forwarding: Option<bool>,
    /// This process has `CAP_NET_ADMIN` in its effective set.
    pub net_admin: bool,
    /// The installed `mailseal.service` grants `CAP_NET_ADMIN`; `None`
    /// when no unit is loaded (not under systemd, or not installed).
    pub unit_net_admin: Option<bool>,
}

impl Host {
    /// Reads the host's settings (the current network namespace's
    /// sysctls, this process's capabilities, the systemd unit if loaded).
    pub fn probe() -> Host {
        Host {
            ipv4_forwarding: sysctl("/proc/sys/net/ipv4/ip_forward"),
            ipv6_forwarding: sysctl("/proc/sys/net/ipv6/conf/all/forwarding"),
            net_admin: effective_caps().is_some_and(|caps| caps & (1 << CAP_NET_ADMIN) != 0),
            unit_net_admin: unit_grants_net_admin(),
        }
    }
}

/// What keeps `config`'s intercepting listeners from working on this
/// host; the host is probed (sysctls, capabilities, `systemctl`) only when
/// some listener intercepts.
pub fn check(config: &Config) -> Vec<String> {
    let listeners = listeners(config);
    if listeners.is_empty() {
        return Vec::new();
    }
    warnings(&listeners, &Host::probe())
}

/// Every intercepting listener of `config`.
pub fn listeners(config: &Config) -> Vec<Listener> {
    let ipv6 = |rules: &[crate::config::DestinationRule]| {
        rules
            .iter()
            .any(|r| matches!(r.network, ipnet::IpNet::V6(_)))
    };
    let smtp = config.smtp_proxy.iter().filter_map(|p| {
        let i = p.upstream.address.intercept()?;
        Some(("[[smtp_proxy]]", &p.name, p.listen, i))
    });
    let imap = config.imap_proxy.iter().filter_map(|p| {
        let i = p.upstream.address.intercept()?;
        Some(("[[imap_proxy]]", &p.name, p.listen, i))
    });
    let pop3 = config.pop3_proxy.iter().filter_map(|p| {
        let i = p.upstream.address.intercept()?;
        Some(("[[pop3_proxy]]", &p.name, p.listen, i))
    });
    smtp.chain(imap)
        .chain(pop3)
        .map(|(section, name, listen, i)| Listener {
            section,
            name: name.clone(),
            listen,
            mode: i.mode,
            ipv6: ipv6(&i.destinations),
        })
        .collect()
}

/// What keeps `listeners` from seeing intercepted connections on `host`,
/// one sentence each, naming the remedy.
pub fn warnings(listeners: &[Listener], host: &Host) -> Vec<String> {
    let mut out = Vec::new();
    if listeners.is_empty() {
        return out;
    }
    if host.ipv4_forwarding == Some(false) {
        out.push(
            "net.ipv4.ip_forward is 0: this box does not route, so no connection passes through \
             it to be intercepted (set net.ipv4.ip_forward=1 in /etc/sysctl.d/; see \
             docs/operations.md, \"Inline interception\")"
                .to_owned(),
        );
    }
    if host.ipv6_forwarding == Some(false) && listeners.iter().any(|l| l.ipv6) {
        out.push(
            "net.ipv6.conf.all.forwarding is 0 but intercept_destinations names IPv6 networks: \
             IPv6 mail does not pass through this box (set net.ipv6.conf.all.forwarding=1)"
                .to_owned(),
        );
    }
    for l in listeners {
        let at = format!("{} \"{}\"", l.section, l.name);
        match l.mode {
            InterceptMode::Redirect if l.listen.ip().is_loopback() => out.push(format!(
                "{at}: listen = \"{}\" is a loopback address, but nftables' redirect hands a \
                 forwarded connection to the address of the interface it arrived on; listen on \
                 that address or on 0.0.0.0 / [::]",
                l.listen
            )),
            InterceptMode::Tproxy if !host.net_admin => out.push(format!(
                "{at}: intercept = \"tproxy\" needs CAP_NET_ADMIN (IP_TRANSPARENT), which this \
                 process lacks; `mailseal run` will fail to bind {}",
                l.listen
            )),
            _ => {}
        }
        if l.mode == InterceptMode::Tproxy && host.unit_net_admin == Some(false) {
            out.push(format!(
                "{at}: intercept = \"tproxy\" needs CAP_NET_ADMIN, which mailseal.service does \
                 not grant; add it with `systemctl edit mailseal` (AmbientCapabilities= and \
                 CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_NET_ADMIN; see \
                 docs/operations.md)"
            ));
        }
    }
    out.dedup();
    out
}

/// A boolean sysctl, `None` when it cannot be read (no such file: IPv6
/// disabled, or not Linux).
fn sysctl(path: &str) -> Option<bool> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.trim() != "0")
}

/// The effective capability set from `/proc/self/status`.
fn effective_caps() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// Whether a loaded `mailseal.service` grants `CAP_NET_ADMIN`, as systemd
/// reports the unit with its drop-ins; `None` without systemd or the unit.
fn unit_grants_net_admin() -> Option<bool> {
    if !Path::new("/run/systemd/system").exists() {
        return None;
    }
    let out = Command::new("systemctl")
        .args([
            "show",
            "mailseal.service",
            "--property=LoadState,AmbientCapabilities",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.lines().any(|l| l == "LoadState=loaded") {
        return None;
    }
    let ambient = text
        .lines()
        .find_map(|l| l.strip_prefix("AmbientCapabilities="))?;
    Some(ambient.split_whitespace().any(|c| c == "cap_net_admin"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(mode: InterceptMode, listen: &str, ipv6: bool) -> Listener {
        Listener {
            section: "[[smtp_proxy]]",
            name: "gw".into(),
            listen: listen.parse().unwrap(),
            mode,
            ipv6,
        }
    }

    fn ready() -> Host {
        Host {
            ipv4_forwarding: Some(true),
            ipv6_forwarding: Some(true),
            net_admin: true,
            unit_net_admin: Some(true),
        }
    }

    #[test]
    fn a_ready_gateway_or_no_interception_gives_no_warning() {
        let l = [listener(InterceptMode::Tproxy, "0.0.0.0:10025", true)];
        assert!(warnings(&l, &ready()).is_empty());
        let host = Host {
            ipv4_forwarding: Some(false),
            ..Host::default()
        };
        assert!(warnings(&[], &host).is_empty());
    }

    #[test]
    fn routing_off_is_named_per_family() {
        let host = Host {
            ipv4_forwarding: Some(false),
            ipv6_forwarding: Some(false),
            ..ready()
        };
        let v4 = warnings(
            &[listener(InterceptMode::Redirect, "0.0.0.0:1", false)],
            &host,
        );
        assert_eq!(v4.len(), 1);
        assert!(v4[0].starts_with("net.ipv4.ip_forward is 0"), "{v4:?}");
        let both = warnings(&[listener(InterceptMode::Redirect, "[::]:1", true)], &host);
        assert_eq!(both.len(), 2);
        assert!(both[1].starts_with("net.ipv6.conf.all.forwarding is 0"));
    }

    #[test]
    fn tproxy_without_cap_net_admin_and_redirect_to_loopback_are_named() {
        let host = Host {
            net_admin: false,
            unit_net_admin: Some(false),
            ..ready()
        };
        let w = warnings(
            &[
                listener(InterceptMode::Tproxy, "0.0.0.0:10025", false),
                listener(InterceptMode::Redirect, "127.0.0.1:10026", false),
            ],
            &host,
        );
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].contains("CAP_NET_ADMIN (IP_TRANSPARENT), which this process lacks"));
        assert!(w[1].contains("mailseal.service does not grant"));
        assert!(w[2].contains("loopback address"));
    }
}
