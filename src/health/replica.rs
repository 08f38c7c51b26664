//! The replicas in `/healthz` (`[[replica]]`, see `crate::replica`): a
//! bucket further behind than its `max_lag` makes the status `degraded`.

use serde::Serialize;

use super::HealthState;

/// One replica in `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaReport {
    /// The `[[replica]]` name.
    pub name: String,
    /// The last record verified in the bucket.
    pub replicated_seq: u64,
    /// Records archived but not yet in the bucket.
    pub lag_records: u64,
    /// Segment bytes not yet in the bucket.
    pub lag_bytes: u64,
    /// Seconds the bucket has been behind the archive.
    pub lag_seconds: u64,
    /// The lag is over the replica's `max_lag`: the status is `degraded`.
    pub lagging: bool,
    /// Why the latest attempt failed (it is retried).
    pub error: Option<String>,
}

impl HealthState {
    /// A replica reported: see [`crate::metrics::replica_progress`].
    pub fn replica(&self, report: ReplicaReport) {
        self.with(
            |h| match h.replicas.iter_mut().find(|r| r.name == report.name) {
                Some(r) => *r = report,
                None => h.replicas.push(report),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::health::Status;

    fn report(lagging: bool) -> ReplicaReport {
        ReplicaReport {
            name: "offsite".into(),
            replicated_seq: 5,
            lag_records: 3,
            lag_bytes: 300,
            lag_seconds: 10,
            lagging,
            error: Some("connecting: refused".into()),
        }
    }

    #[test]
    fn a_lag_over_the_bound_degrades_and_catching_up_clears_it() {
        let h = HealthState::new(Duration::from_secs(300), Vec::<String>::new());
        h.set_archive_writable(true);
        h.seal_current(SystemTime::now());
        h.replica(report(false));
        let r = h.report(SystemTime::now());
        assert_eq!(r.status, Status::Ok);
        assert_eq!(r.replicas, vec![report(false)]);
        h.replica(report(true));
        assert_eq!(h.report(SystemTime::now()).status, Status::Degraded);
        h.replica(report(false));
        let r = h.report(SystemTime::now());
        assert_eq!(r.status, Status::Ok);
        assert_eq!(r.replicas.len(), 1);
    }
}
