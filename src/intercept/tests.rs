//! The interception policy on real loopback sockets: what is this machine
//! (a loop) and what an unredirected connection gets. The whole path with
//! nftables runs in `tests/intercept.rs`.

use std::net::{IpAddr, SocketAddr};

use tokio::net::{TcpListener, TcpStream};

use super::original::is_this_machine;
use super::*;
use crate::config::DestinationRule;

fn interceptor(mode: InterceptMode) -> Interceptor {
    Interceptor::new(Intercept {
        mode,
        destinations: vec![DestinationRule {
            network: "0.0.0.0/0".parse().unwrap(),
            ports: (1..=u16::MAX).collect(),
        }],
        bind_client: false,
        tls: Default::default(),
    })
}

/// An accepted loopback connection, never redirected.
async fn accepted() -> (TcpStream, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    accepted.unwrap()
}

#[test]
fn local_addresses_are_this_machine_and_documentation_ones_are_not() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(is_this_machine(ip("127.0.0.1")));
    assert!(is_this_machine(ip("127.3.4.5")));
    assert!(is_this_machine(ip("::1")));
    assert!(is_this_machine(ip("::ffff:127.0.0.1")));
    assert!(is_this_machine(ip("0.0.0.0")));
    assert!(!is_this_machine(ip("192.0.2.1")));
    assert!(!is_this_machine(ip("2001:db8::1")));
}

#[tokio::test]
async fn a_connection_to_the_proxy_itself_is_never_relayed() {
    // Not redirected: either no tracker entry (unknown) or the tracker
    // says it was meant for this machine (loop); never a destination,
    // even with an allow-list that lists everything.
    let (tcp, peer) = accepted().await;
    let refused = interceptor(InterceptMode::Redirect).route(&tcp, peer);
    assert!(
        matches!(refused, Err(Refusal::Unknown(_) | Refusal::Loop(_))),
        "{refused:?}"
    );
    let refused = interceptor(InterceptMode::Tproxy).route(&tcp, peer);
    assert!(matches!(refused, Err(Refusal::Loop(_))), "{refused:?}");
}
