//! Readiness and stopping notifications to systemd (`Type=notify`).
//!
//! The unit starts dependants and counts the start as done only when the
//! daemon says READY, so [`ready`] must be called after every listener is
//! bound and the archive is open, never before. Outside systemd
//! (`NOTIFY_SOCKET` unset: a terminal, the tests) every function does nothing.
//! A failed notification is logged, not fatal: the daemon itself works, and
//! systemd will report the start as timed out on its own.

use sd_notify::NotifyState;

fn send(states: &[NotifyState<'_>], what: &'static str) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, what, "systemd notification failed");
    }
}

/// Every listener is bound and the archive is open: mail may flow.
pub fn ready() {
    send(
        &[NotifyState::Ready, NotifyState::Status("accepting mail")],
        "ready",
    );
}

/// A reload (SIGHUP) started; [`ready`] follows when it is done.
pub fn reloading() {
    send(
        &[NotifyState::Reloading, NotifyState::Status("reloading")],
        "reloading",
    );
}

/// The graceful drain started (SIGTERM): no new sessions, commits finish.
pub fn stopping() {
    send(
        &[NotifyState::Stopping, NotifyState::Status("draining")],
        "stopping",
    );
}

/// A short human-readable state for `systemctl status`, for example while a
/// large archive is opened at start-up.
pub fn status(text: &str) {
    send(&[NotifyState::Status(text)], "status");
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixDatagram;

    use super::*;

    #[test]
    fn sends_ready_and_stopping_to_the_notify_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        // SAFETY: this is the only test in the crate that touches
        // NOTIFY_SOCKET, and the variable is read only by this module.
        unsafe { std::env::set_var("NOTIFY_SOCKET", &path) };
        ready();
        stopping();
        unsafe { std::env::remove_var("NOTIFY_SOCKET") };
        let mut buf = [0u8; 256];
        let n = socket.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=accepting mail\n");
        let n = socket.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1\nSTATUS=draining\n");
        // Unset: nothing is sent and nothing fails.
        ready();
        socket.set_nonblocking(true).unwrap();
        assert!(socket.recv(&mut buf).is_err());
    }
}
