//! The interception keys of `[[smtp_proxy]]`, `[[imap_proxy]]` and
//! `[[pop3_proxy]]`: a working intercepting proxy, and the mistakes an
//! admin can make with it.

use std::net::SocketAddr;

use super::super::*;
use super::{errors, parse};

/// Every problem's key path, in reporting order.
fn paths(text: &str) -> Vec<String> {
    errors(text).problems.into_iter().map(|p| p.path).collect()
}

#[test]
fn an_intercepting_smtp_proxy_relays_only_to_listed_destinations() {
    let config = parse(
        r#"
        [[smtp_proxy]]
        name = "gw"
        listen = "0.0.0.0:10025"
        intercept = "redirect"
        intercept_destinations = [
            { network = "192.0.2.0/24", ports = [25, 587] },
            { network = "2001:db8::/64", ports = [25] },
        ]
        upstream_tls = "none"
        "#,
    )
    .unwrap();
    let proxy = &config.smtp_proxy[0];
    let Target::Intercepted(intercept) = &proxy.upstream.address else {
        panic!("not intercepting: {:?}", proxy.upstream.address);
    };
    assert_eq!(intercept.mode, InterceptMode::Redirect);
    assert!(!intercept.bind_client);
    let allowed = |s: &str| intercept.allows(s.parse::<SocketAddr>().unwrap());
    assert!(allowed("192.0.2.9:25"));
    assert!(allowed("192.0.2.9:587"));
    assert!(allowed("[2001:db8::7]:25"));
    assert!(!allowed("192.0.2.9:465"), "port not listed");
    assert!(!allowed("198.51.100.1:25"), "network not listed");
    assert!(!allowed("[2001:db8:1::7]:25"), "outside the /64");
}

#[test]
fn an_intercepting_imap_proxy_under_tproxy_may_connect_as_the_client() {
    let config = parse(
        r#"
        [[imap_proxy]]
        name = "gw-imap"
        listen = "0.0.0.0:10143"
        intercept = "tproxy"
        intercept_bind_client = true
        intercept_destinations = [{ network = "192.0.2.10/32", ports = [143, 993] }]
        upstream_tls = "implicit"
        upstream_tls_name = "imap.example.com"
        "#,
    )
    .unwrap();
    let upstream = &config.imap_proxy[0].upstream;
    let intercept = upstream.address.intercept().unwrap();
    assert_eq!(intercept.mode, InterceptMode::Tproxy);
    assert!(intercept.bind_client);
    assert_eq!(upstream.server_name.to_str(), "imap.example.com");
}

#[test]
fn an_intercepting_pop3_proxy_has_no_fixed_upstream() {
    let config = parse(
        r#"
        [[pop3_proxy]]
        name = "gw-pop3"
        listen = "[::]:10110"
        intercept = "redirect"
        intercept_destinations = [{ network = "192.0.2.110/32", ports = [110, 995] }]
        upstream_tls = "none"
        "#,
    )
    .unwrap();
    let upstream = &config.pop3_proxy[0].upstream;
    assert_eq!(upstream.address.fixed(), None);
    let intercept = upstream.address.intercept().unwrap();
    assert_eq!(intercept.mode, InterceptMode::Redirect);
    assert!(intercept.allows("192.0.2.110:995".parse().unwrap()));
    assert!(!intercept.allows("192.0.2.111:110".parse().unwrap()));
}

#[test]
fn intercept_mistakes_are_all_reported() {
    let found = paths(
        r#"
        [[smtp_proxy]]
        name = "both"
        listen = "127.0.0.1:1"
        intercept = "redirect"
        upstream = "mail.example.com:25"
        intercept_destinations = [{ network = "192.0.2.0/24", ports = [25] }]
        upstream_tls = "none"

        [[smtp_proxy]]
        name = "no-list"
        listen = "127.0.0.1:2"
        intercept = "redirect"
        upstream_tls = "none"

        [[smtp_proxy]]
        name = "bind-needs-tproxy"
        listen = "127.0.0.1:3"
        intercept = "redirect"
        intercept_bind_client = true
        intercept_destinations = [{ network = "192.0.2.0/24", ports = [25] }]
        upstream_tls = "none"

        [[smtp_proxy]]
        name = "tls-without-name"
        listen = "127.0.0.1:4"
        intercept = "redirect"
        intercept_destinations = [{ network = "192.0.2.0/24", ports = [] }]

        [[imap_proxy]]
        name = "stray"
        listen = "127.0.0.1:5"
        upstream = "imap.example.com:993"
        intercept_destinations = [{ network = "192.0.2.0/24", ports = [993] }]

        [[pop3_proxy]]
        name = "pop3-both"
        listen = "127.0.0.1:6"
        intercept = "redirect"
        upstream = "pop.example.com:110"
        intercept_destinations = [{ network = "192.0.2.0/24", ports = [110] }]
        upstream_tls = "none"

        [[pop3_proxy]]
        name = "pop3-tls-without-name"
        listen = "127.0.0.1:7"
        intercept = "tproxy"
        intercept_destinations = [{ network = "192.0.2.0/24", ports = [110] }]
        "#,
    );
    assert_eq!(
        found,
        [
            "smtp_proxy[0].upstream",
            "smtp_proxy[1].intercept_destinations",
            "smtp_proxy[2].intercept_bind_client",
            "smtp_proxy[3].upstream_tls_name",
            "smtp_proxy[3].intercept_destinations[0].ports",
            "imap_proxy[0].intercept_destinations",
            "pop3_proxy[0].upstream",
            "pop3_proxy[1].upstream_tls_name",
        ]
    );
}

#[test]
fn a_bad_network_is_reported_with_its_key() {
    let found = paths(
        r#"
        [[smtp_proxy]]
        name = "gw"
        listen = "127.0.0.1:1"
        intercept = "redirect"
        intercept_destinations = [{ network = "192.0.2.0/33", ports = [25] }]
        upstream_tls = "none"
        "#,
    );
    // serde names the key first; its enclosing tables follow.
    assert_eq!(
        found.first().map(String::as_str),
        Some("smtp_proxy[0].intercept_destinations[0].network"),
        "{found:?}"
    );
}
