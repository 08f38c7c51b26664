//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod ceph;
pub mod certs;
pub mod corpus;
pub mod daemon;
pub mod docs;
pub mod dovecot;
pub mod files;
pub mod http;
pub mod mailgen;
pub mod mount;
pub mod netns;
pub mod ports;
pub mod postfix_tools;
pub mod process;
pub mod search_oracle;
pub mod sink;
pub mod smtp;
pub mod tsa;
pub mod verifiers;
pub mod web;
pub mod webdriver;

use std::time::{Duration, Instant};

/// How long a test waits for something another process does on its own
/// schedule (a peer's log line, a file it writes).
pub const WAIT: Duration = Duration::from_secs(30);

/// Polls `probe` until it returns `Some`, failing with `what` after [`WAIT`].
pub fn wait_until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until a log that another process writes (Postfix's `postlogd`,
/// Dovecot, the daemon) satisfies `ready`, and returns it. A log is written
/// after the reply the test saw, on the writer's own schedule: reading it
/// once races with the writer.
pub fn wait_for_log(what: &str, read: impl Fn() -> String, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = read();
        if ready(&log) {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what} in the log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
