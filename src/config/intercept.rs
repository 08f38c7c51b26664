//! Inline interception, shared by every proxy (`[[smtp_proxy]]`,
//! `[[imap_proxy]]`, `[[pop3_proxy]]`): the keys `intercept`,
//! `intercept_destinations` and `intercept_bind_client`, their checks, and
//! the validated [`Intercept`]; the TLS keys of the SMTP and IMAP proxies
//! are [`super::intercept_tls`]'s.
//!
//! An intercepting proxy has no fixed `upstream`: nftables hands it
//! connections meant for other hosts, and it relays each one to the host it
//! was meant for, but only when `intercept_destinations` allows that host
//! and port. As with the other key groups, a proxy declares the keys flat
//! in its own raw struct and hands them over with `raw_intercept!(self)`
//! to [`super::upstream::RawUpstream::validate_with`].

use ipnet::IpNet;
use serde::Deserialize;

use super::intercept_tls::{InterceptTls, RawInterceptTls};
use super::problem::{At, Problems};

/// How intercepted connections reach the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InterceptMode {
    /// nftables `redirect` / `dnat` (iptables `REDIRECT`): the listener
    /// accepts on its own address and reads the original destination from
    /// the connection tracker (`SO_ORIGINAL_DST`).
    Redirect,
    /// nftables `tproxy` (iptables `TPROXY`): the listening socket is
    /// transparent (`IP_TRANSPARENT`, needs `CAP_NET_ADMIN`) and the
    /// accepted socket's own address is the original destination.
    Tproxy,
}

/// One entry of `intercept_destinations`: a network and the ports on it
/// that may be reached.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationRule {
    /// Addresses, such as `192.0.2.0/24` or `2001:db8::25/128`.
    pub network: IpNet,
    /// Ports on those addresses; never empty.
    pub ports: Vec<u16>,
}

impl DestinationRule {
    /// True when `addr` is inside the network on one of the ports.
    pub fn allows(&self, addr: std::net::SocketAddr) -> bool {
        self.network.contains(&addr.ip()) && self.ports.contains(&addr.port())
    }
}

/// The interception settings of one proxy, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intercept {
    /// How connections are handed to the listener.
    pub mode: InterceptMode,
    /// Which original destinations may be reached; everything else is
    /// refused, so the gateway never becomes an open relay.
    pub destinations: Vec<DestinationRule>,
    /// Under TPROXY, connect upstream from the client's own address, so
    /// the server sees the real client without XCLIENT.
    pub bind_client: bool,
    /// Certificates per destination and what happens without one.
    pub tls: InterceptTls,
}

impl Intercept {
    /// True when some rule allows `addr`.
    pub fn allows(&self, addr: std::net::SocketAddr) -> bool {
        self.destinations.iter().any(|rule| rule.allows(addr))
    }
}

/// The interception keys of one proxy, as written.
#[derive(Debug, Default)]
pub(crate) struct RawIntercept {
    /// `intercept`: absent for a proxy with a fixed upstream.
    pub(crate) mode: Option<InterceptMode>,
    /// `intercept_destinations`.
    pub(crate) destinations: Option<Vec<DestinationRule>>,
    /// `intercept_bind_client`.
    pub(crate) bind_client: Option<bool>,
    /// `intercept_certificates` and the other TLS keys (SMTP and IMAP).
    pub(crate) tls: RawInterceptTls,
    /// The proxy also has `tls_cert`.
    pub(crate) listener_cert: bool,
}

/// Moves a proxy's flat `intercept`, `intercept_destinations` and
/// `intercept_bind_client` fields into a [`RawIntercept`]; with `tls`, also
/// `intercept_certificates`, `intercept_unknown_tls`, `intercept_ca_cert`
/// and `intercept_ca_key` (the proxies that terminate intercepted TLS per
/// destination).
macro_rules! raw_intercept {
    ($section:expr) => {
        $crate::config::intercept::RawIntercept {
            mode: $section.intercept,
            destinations: $section.intercept_destinations,
            bind_client: $section.intercept_bind_client,
            tls: Default::default(),
            listener_cert: $section.tls_cert.is_some(),
        }
    };
    ($section:expr, tls) => {
        $crate::config::intercept::RawIntercept {
            mode: $section.intercept,
            destinations: $section.intercept_destinations,
            bind_client: $section.intercept_bind_client,
            listener_cert: $section.tls_cert.is_some(),
            tls: $crate::config::intercept_tls::RawInterceptTls {
                certificates: $section.intercept_certificates,
                unknown: $section.intercept_unknown_tls,
                ca_cert: $section.intercept_ca_cert,
                ca_key: $section.intercept_ca_key,
            },
        }
    };
}
pub(crate) use raw_intercept;

impl RawIntercept {
    /// Checks the group inside the proxy at `at`. Outer `None`: a problem
    /// was recorded; `Some(None)`: the proxy does not intercept.
    pub(crate) fn validate(self, p: &mut Problems, at: &At) -> Option<Option<Intercept>> {
        let Some(mode) = self.mode else {
            let mut stray = self.tls.given();
            stray.extend(
                self.destinations
                    .is_some()
                    .then_some("intercept_destinations"),
            );
            stray.extend(
                self.bind_client
                    .is_some()
                    .then_some("intercept_bind_client"),
            );
            for key in &stray {
                p.push(at.key(key), "only used with intercept");
            }
            return stray.is_empty().then_some(None);
        };
        let tls = self.tls.validate(p, at, self.listener_cert);
        let destinations = destinations(p, at, self.destinations);
        let bind_client = self.bind_client.unwrap_or(false);
        if bind_client && mode != InterceptMode::Tproxy {
            p.push(
                at.key("intercept_bind_client"),
                "needs intercept = \"tproxy\": only a transparent socket may use the client's address",
            );
            return None;
        }
        Some(Some(Intercept {
            mode,
            destinations: destinations?,
            bind_client,
            tls: tls?,
        }))
    }
}

/// The allow-list: required and not empty (an empty list would refuse
/// everything, which is never what an admin means), and no rule without
/// ports.
fn destinations(
    p: &mut Problems,
    at: &At,
    raw: Option<Vec<DestinationRule>>,
) -> Option<Vec<DestinationRule>> {
    let path = at.key("intercept_destinations");
    let Some(rules) = raw.filter(|r| !r.is_empty()) else {
        p.push(
            path,
            "intercept needs at least one allowed destination, such as { network = \"192.0.2.0/24\", ports = [25] }",
        );
        return None;
    };
    let mut ok = true;
    for (i, rule) in rules.iter().enumerate() {
        if rule.ports.is_empty() || rule.ports.contains(&0) {
            p.push(
                format!("{path}[{i}].ports"),
                "list one or more ports (1-65535)",
            );
            ok = false;
        }
    }
    ok.then_some(rules)
}
