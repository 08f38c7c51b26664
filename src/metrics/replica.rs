//! The replicas' series (`[[replica]]`, see `crate::replica`), kept apart
//! from the rest of the registry so the whole feature is in one place:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `replica_replicated_seq` | gauge | `replica` |
//! | `replica_lag_records` | gauge | `replica` |
//! | `replica_lag_bytes` | gauge | `replica` |
//! | `replica_lag_seconds` | gauge | `replica` |
//! | `replica_uploaded_objects` | gauge | `replica` |
//! | `replica_uploaded_bytes` | gauge | `replica` |
//! | `replica_failing` | gauge (0/1) | `replica` |

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::health::{HealthState, ReplicaReport};

/// Labels of the replica series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReplicaLabels {
    /// The `[[replica]]` name.
    replica: String,
}

/// The replica gauges.
#[derive(Default)]
pub(super) struct ReplicaMetrics {
    /// The last record in the bucket.
    seq: Family<ReplicaLabels, Gauge>,
    /// Records durable in the archive but not yet in the bucket.
    lag_records: Family<ReplicaLabels, Gauge>,
    /// Segment bytes not yet in the bucket.
    lag_bytes: Family<ReplicaLabels, Gauge>,
    /// How long the bucket has been behind the archive.
    lag_seconds: Family<ReplicaLabels, Gauge>,
    /// Objects this gateway uploaded (checkpoint's count).
    objects: Family<ReplicaLabels, Gauge>,
    /// Bytes of those objects.
    bytes: Family<ReplicaLabels, Gauge>,
    /// 1 while the latest attempt failed.
    failing: Family<ReplicaLabels, Gauge>,
}

impl ReplicaMetrics {
    /// Adds the series to the daemon's registry.
    pub(super) fn register(&self, r: &mut Registry) {
        r.register(
            "replica_replicated_seq",
            "Last record verified in the replica's bucket",
            self.seq.clone(),
        );
        r.register(
            "replica_lag_records",
            "Records archived but not yet in the replica's bucket",
            self.lag_records.clone(),
        );
        r.register(
            "replica_lag_bytes",
            "Segment bytes not yet in the replica's bucket",
            self.lag_bytes.clone(),
        );
        r.register(
            "replica_lag_seconds",
            "Seconds the replica's bucket has been behind the archive",
            self.lag_seconds.clone(),
        );
        r.register(
            "replica_uploaded_objects",
            "Objects uploaded to the replica's bucket and verified",
            self.objects.clone(),
        );
        r.register(
            "replica_uploaded_bytes",
            "Bytes uploaded to the replica's bucket and verified",
            self.bytes.clone(),
        );
        r.register(
            "replica_failing",
            "1 while the replica's latest upload attempt failed",
            self.failing.clone(),
        );
    }
}

/// Where one replica stands, as its replicator measured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaProgress {
    /// The last record in the bucket.
    pub replicated_seq: u64,
    /// The archive's durable head.
    pub head_seq: u64,
    /// Segment bytes not yet in the bucket.
    pub lag_bytes: u64,
    /// Seconds the bucket has been behind.
    pub lag_seconds: u64,
    /// A lag longer than this degrades `/healthz`.
    pub max_lag: Duration,
    /// Objects uploaded so far.
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
    /// The latest attempt's error, if it failed.
    pub error: Option<String>,
}

/// Records a replica's progress; feeds `/healthz` too.
pub fn replica_progress(name: &str, p: &ReplicaProgress) {
    let m = &super::METRICS.replica;
    let labels = ReplicaLabels {
        replica: name.to_owned(),
    };
    let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let lag_records = p.head_seq.saturating_sub(p.replicated_seq);
    m.seq.get_or_create(&labels).set(gauge(p.replicated_seq));
    m.lag_records.get_or_create(&labels).set(gauge(lag_records));
    m.lag_bytes.get_or_create(&labels).set(gauge(p.lag_bytes));
    m.lag_seconds
        .get_or_create(&labels)
        .set(gauge(p.lag_seconds));
    m.objects.get_or_create(&labels).set(gauge(p.objects));
    m.bytes.get_or_create(&labels).set(gauge(p.bytes));
    m.failing
        .get_or_create(&labels)
        .set(i64::from(p.error.is_some()));
    if let Some(health) = HealthState::installed() {
        health.replica(ReplicaReport {
            name: name.to_owned(),
            replicated_seq: p.replicated_seq,
            lag_records,
            lag_bytes: p.lag_bytes,
            lag_seconds: p.lag_seconds,
            lagging: p.lag_seconds > p.max_lag.as_secs(),
            error: p.error.clone(),
        });
    }
}
