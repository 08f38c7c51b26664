//! Shutdown: one cancellation token and one task tracker for the daemon,
//! and for the listeners a generation that a reload can end on its own.
//!
//! Every session selects on the token; the tracker knows every task, so the
//! daemon can wait for sessions to finish (an archive commit in flight
//! always completes) before it seals and exits. Accept loops select on
//! `accepting` instead, a child of the token: a stop cancels both, while a
//! reload ([`Shutdown::stop_accepting`]) closes one generation's listening
//! sockets and leaves its sessions running to their natural end.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The daemon's shutdown handles.
#[derive(Clone)]
pub struct Shutdown {
    /// Cancelled when the daemon should stop.
    pub token: CancellationToken,
    /// Every task the daemon started.
    pub tracker: TaskTracker,
    /// Cancelled when this generation's accept loops should stop: at a
    /// stop (it is a child of `token`) or when a reload replaces them.
    pub accepting: CancellationToken,
    /// This generation's accept loops, so a reload can wait until their
    /// sockets are closed before it binds the same addresses again.
    pub acceptors: TaskTracker,
}

impl Default for Shutdown {
    fn default() -> Shutdown {
        let token = CancellationToken::new();
        Shutdown {
            accepting: token.child_token(),
            token,
            tracker: TaskTracker::new(),
            acceptors: TaskTracker::new(),
        }
    }
}

impl Shutdown {
    /// Fresh handles.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Handles for a new generation of listeners: the same stop token and
    /// session tracker, its own accept token and accept-loop tracker.
    pub fn next_generation(&self) -> Shutdown {
        Shutdown {
            token: self.token.clone(),
            tracker: self.tracker.clone(),
            accepting: self.token.child_token(),
            acceptors: TaskTracker::new(),
        }
    }

    /// Stops this generation's accept loops and waits until they have
    /// ended (their listening sockets are closed); sessions go on.
    pub async fn stop_accepting(&self) {
        self.accepting.cancel();
        self.acceptors.close();
        self.acceptors.wait().await;
    }

    /// Waits for SIGTERM or SIGINT (or for the token to be cancelled).
    pub async fn wait_for_signal(&self) {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let term = signal(SignalKind::terminate());
            let int = signal(SignalKind::interrupt());
            if let (Ok(mut term), Ok(mut int)) = (term, int) {
                tokio::select! {
                    _ = term.recv() => tracing::info!(signal = "TERM", "stop requested"),
                    _ = int.recv() => tracing::info!(signal = "INT", "stop requested"),
                    _ = self.token.cancelled() => {}
                }
                return;
            }
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = self.token.cancelled() => {}
        }
    }

    /// Cancels the token and waits up to `limit` for every task to end.
    pub async fn drain(&self, limit: Duration) {
        self.token.cancel();
        self.tracker.close();
        if tokio::time::timeout(limit, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                secs = limit.as_secs(),
                "sessions still busy after the drain time; stopping anyway"
            );
        }
    }
}
