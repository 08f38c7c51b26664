//! Shutdown: one cancellation token and one task tracker for the daemon.
//!
//! Every accept loop and session selects on the token; the tracker knows
//! every task, so the daemon can wait for sessions to finish (an archive
//! commit in flight always completes) before it seals and exits.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The daemon's shutdown handles.
#[derive(Clone, Default)]
pub struct Shutdown {
    /// Cancelled when the daemon should stop.
    pub token: CancellationToken,
    /// Every task the daemon started.
    pub tracker: TaskTracker,
}

impl Shutdown {
    /// Fresh handles.
    pub fn new() -> Shutdown {
        Shutdown::default()
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
