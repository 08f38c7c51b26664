//! Ports for peers and daemons the tests start as other processes.
//!
//! Such a process needs its port number before it binds, so the port is
//! found free and released, and another test may take it in between. The
//! usual `bind(":0")` trick makes that likely: it hands out a port from the
//! kernel's ephemeral range, the same range every outgoing connection of
//! every other test draws its local port from, and a killed daemon that
//! restarts on its old ports meets them too. So ports come from below that
//! range, each handed out once per test process.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// The lowest port handed out; below it sit the well-known and commonly
/// configured services.
const LOW: u32 = 20_000;

/// The kernel's ephemeral range starts here unless it says otherwise.
const EPHEMERAL_DEFAULT: u32 = 32_768;

/// Where the next search starts, relative to [`LOW`]; `u32::MAX` until the
/// first call places it by the process id, so two test processes running
/// at once mostly search different parts.
static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);

/// The first port of the kernel's ephemeral range.
fn ephemeral_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(EPHEMERAL_DEFAULT)
}

/// A port on 127.0.0.1 that nothing listened on a moment ago, not in the
/// ephemeral range and not handed out before by this process.
pub fn free() -> u16 {
    let high = ephemeral_start().clamp(LOW + 2_000, 65_536);
    let span = high - LOW;
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7_919) % span,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..span {
        let port = LOW + NEXT.fetch_add(1, Ordering::SeqCst) % span;
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {LOW} and {high}");
}

#[test]
fn ports_are_outside_the_ephemeral_range_and_never_handed_out_twice() {
    let start = ephemeral_start();
    let ports: Vec<u16> = (0..200).map(|_| free()).collect();
    let unique: std::collections::BTreeSet<u16> = ports.iter().copied().collect();
    assert_eq!(unique.len(), ports.len(), "a port was handed out twice");
    assert!(
        ports
            .iter()
            .all(|&p| u32::from(p) >= LOW && u32::from(p) < start.max(LOW + 2_000))
    );
}
