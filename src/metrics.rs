//! The daemon's Prometheus metrics: every metric name, label and help text
//! lives here, and the rest of the code records through the small functions
//! below instead of touching the registry.
//!
//! The metrics are process-wide (one daemon per process), so they sit in a
//! lazily built static: a listener, the archive writer or the sealer call
//! [`message_archived`], [`commit_latency`] or [`sealed`] without threading a
//! handle through every constructor. [`render`] produces the exposition that
//! `GET /metrics` serves (see [`crate::http`]).
//!
//! The facts `/healthz` reports (archive writable, seals, what each upstream
//! did on its last contact) are recorded here too, so every part reports to
//! one place: [`sealed`], [`seal_current`], [`archive_writable`] and
//! [`upstream_contacted`] set their gauges and pass the fact on to the
//! daemon's [`HealthState`](crate::health::HealthState), if one is
//! installed (CLI commands have none).
//!
//! Names (all prefixed `mailseal_`):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `messages_archived_total` | counter | `listener` |
//! | `bytes_archived_total` | counter | `listener` |
//! | `upstream_replies_total` | counter | `listener`, `class` (`2xx`…`5xx`, `other`) |
//! | `archive_commit_seconds` | histogram | |
//! | `archive_fsync_batch_messages` | histogram | |
//! | `connections_open` | gauge | `listener` |
//! | `errors_total` | counter | `kind` |
//! | `last_seal_timestamp_seconds` | gauge | |
//! | `chain_length_records` | gauge | |
//! | `archive_writable` | gauge (0/1) | |
//! | `upstream_reachable` | gauge (0/1) | `listener` |
//! | `search_indexed_seq` | gauge | |
//! | `search_head_seq` | gauge | |
//! | `search_lag_records` | gauge | |
//! | `witness_pending_seals` | gauge | `witness` |
//! | `witness_results_total` | counter | `witness`, `result` (`ok`, `failed`) |
//! | `witness_last_success_timestamp_seconds` | gauge | `witness` |
//! | `purged_messages_total` | counter | |
//! | `last_purge_timestamp_seconds` | gauge | |
//! | `purge_failed` | gauge (0/1) | |
//!
//! A witness is what takes seals off the box: a time-stamp authority
//! (`timestamp:NAME`) or the seal mailer (`seal_mail`); see [`witness`].
//!
//! The replicas' series (`replica_*`, label `replica`) are listed in
//! `metrics/replica.rs`.

use std::fmt;
use std::sync::LazyLock;
use std::sync::atomic::AtomicI64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::health::HealthState;

mod replica;
pub use replica::{ReplicaProgress, replica_progress};

/// The content type of what [`render`] returns (OpenMetrics text, which
/// Prometheus negotiates and parses).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What went wrong, for `mailseal_errors_total{kind}`. A closed set keeps the
/// label's cardinality fixed and the dashboards stable.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum ErrorKind {
    /// A peer broke the protocol (bad command, overlong line, smuggling).
    Protocol,
    /// A TLS handshake or certificate check failed.
    Tls,
    /// The upstream could not be reached or broke the protocol.
    Upstream,
    /// The archive could not commit (disk full, I/O error).
    Archive,
    /// A peer was too slow or idle too long.
    Timeout,
    /// A peer was not allowed (network, AUTH, TLS policy).
    Refused,
    /// Any other I/O failure on a connection.
    Io,
}

impl ErrorKind {
    /// The label value: lowercase, as Prometheus users expect.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Protocol => "protocol",
            ErrorKind::Tls => "tls",
            ErrorKind::Upstream => "upstream",
            ErrorKind::Archive => "archive",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Refused => "refused",
            ErrorKind::Io => "io",
        }
    }
}

impl EncodeLabelValue for ErrorKind {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), fmt::Error> {
        fmt::Write::write_str(encoder, self.as_str())
    }
}

/// Labels of the per-listener series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    /// The listener's configured `name`.
    listener: String,
}

/// Labels of the upstream reply series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReplyLabels {
    /// The listener's configured `name`.
    listener: String,
    /// `2xx` … `5xx`, or `other` for a code outside 200..=599.
    class: &'static str,
}

/// Labels of the witness series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WitnessLabels {
    /// `timestamp:NAME` or `seal_mail`.
    witness: String,
}

/// Labels of the witness result series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WitnessResultLabels {
    /// `timestamp:NAME` or `seal_mail`.
    witness: String,
    /// `ok` or `failed`.
    result: &'static str,
}

/// Labels of the error series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    /// What kind of error.
    kind: ErrorKind,
}

/// Every metric the daemon exports, registered once.
struct Metrics {
    /// Owns the descriptions; [`render`] encodes it.
    registry: Registry,
    /// Messages durably archived, per listener.
    messages: Family<ListenerLabels, Counter>,
    /// Message bytes (as received) durably archived, per listener.
    bytes: Family<ListenerLabels, Counter>,
    /// Final replies the upstream gave, by class: the proxy's view of the
    /// upstream's decisions.
    replies: Family<ReplyLabels, Counter>,
    /// Time from handing a record to the archive until it is durable.
    commit_seconds: Histogram,
    /// Records made durable by one fsync: shows the group commit working.
    fsync_batch: Histogram,
    /// Connections currently open, per listener.
    connections: Family<ListenerLabels, Gauge>,
    /// Errors by kind.
    errors: Family<ErrorLabels, Counter>,
    /// Unix time of the latest seal; an alert fires when it falls behind.
    last_seal: Gauge<i64, AtomicI64>,
    /// Records in the hash chain.
    chain_length: Gauge<i64, AtomicI64>,
    /// 1 while the archive commits, 0 after a failed commit until the next
    /// one succeeds: mail is refused (`451`) meanwhile.
    archive_writable: Gauge<i64, AtomicI64>,
    /// Per proxy listener: 1 when the last session reached its upstream.
    upstream_reachable: Family<ListenerLabels, Gauge>,
    /// The search index's committed record: what search can find.
    search_indexed: Gauge<i64, AtomicI64>,
    /// The archive's head as the search indexer last saw it.
    search_head: Gauge<i64, AtomicI64>,
    /// Records the search index trails the archive by.
    search_lag: Gauge<i64, AtomicI64>,
    /// Seals a witness has not taken yet (unstamped, unmailed).
    witness_pending: Family<WitnessLabels, Gauge>,
    /// Each attempt of a witness, by result.
    witness_results: Family<WitnessResultLabels, Counter>,
    /// Unix time of a witness's last success.
    witness_last_success: Family<WitnessLabels, Gauge>,
    /// Per listener with `expect_mail_within`: 1 while it has archived
    /// nothing for longer than that.
    listener_silent: Family<ListenerLabels, Gauge>,
    /// Per listener: Unix time of the latest message archived through it.
    last_mail: Family<ListenerLabels, Gauge>,
    /// The replicas' series (`metrics/replica.rs`).
    replica: replica::ReplicaMetrics,
    /// Per intercepting listener: connections relayed blind
    /// (`intercept_unknown_tls = "pass-unarchived"`), the archive's gap.
    intercept_unarchived: Family<ListenerLabels, Counter>,
    /// Messages purged (tombstones chained) since start.
    purged: Counter,
    /// Unix time of the last purge run that succeeded.
    last_purge: Gauge<i64, AtomicI64>,
    /// 1 after a purge run failed, until one succeeds.
    purge_failed: Gauge<i64, AtomicI64>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::with_prefix("mailseal"),
            messages: Family::default(),
            bytes: Family::default(),
            replies: Family::default(),
            // 0.5 ms … ~8 s: an fsync on a good disk up to a stalled one.
            commit_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 15)),
            // 1 … 1024 messages per fsync.
            fsync_batch: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            connections: Family::default(),
            errors: Family::default(),
            last_seal: Gauge::default(),
            chain_length: Gauge::default(),
            archive_writable: Gauge::default(),
            upstream_reachable: Family::default(),
            search_indexed: Gauge::default(),
            search_head: Gauge::default(),
            search_lag: Gauge::default(),
            witness_pending: Family::default(),
            witness_results: Family::default(),
            witness_last_success: Family::default(),
            listener_silent: Family::default(),
            last_mail: Family::default(),
            replica: replica::ReplicaMetrics::default(),
            intercept_unarchived: Family::default(),
            purged: Counter::default(),
            last_purge: Gauge::default(),
            purge_failed: Gauge::default(),
        };
        let r = &mut m.registry;
        r.register(
            "messages_archived",
            "Messages durably archived",
            m.messages.clone(),
        );
        r.register(
            "bytes_archived",
            "Message bytes durably archived",
            m.bytes.clone(),
        );
        r.register(
            "upstream_replies",
            "Final upstream replies by class",
            m.replies.clone(),
        );
        r.register(
            "archive_commit_seconds",
            "Time from handing a record to the archive until it is durable",
            m.commit_seconds.clone(),
        );
        r.register(
            "archive_fsync_batch_messages",
            "Records (messages and outcomes) made durable by one fsync",
            m.fsync_batch.clone(),
        );
        r.register(
            "connections_open",
            "Connections currently open",
            m.connections.clone(),
        );
        r.register("errors", "Errors by kind", m.errors.clone());
        r.register(
            "last_seal_timestamp_seconds",
            "Unix time of the latest seal of the chain head",
            m.last_seal.clone(),
        );
        r.register(
            "chain_length_records",
            "Records in the hash chain",
            m.chain_length.clone(),
        );
        r.register(
            "archive_writable",
            "1 while archive commits succeed, 0 after a failed one",
            m.archive_writable.clone(),
        );
        r.register(
            "upstream_reachable",
            "1 when the last session reached the listener's upstream",
            m.upstream_reachable.clone(),
        );
        r.register(
            "search_indexed_seq",
            "Last record committed to the search index",
            m.search_indexed.clone(),
        );
        r.register(
            "search_head_seq",
            "Archive head as the search indexer last saw it",
            m.search_head.clone(),
        );
        r.register(
            "search_lag_records",
            "Records archived but not yet searchable",
            m.search_lag.clone(),
        );
        r.register(
            "witness_pending_seals",
            "Seals a time-stamp authority or the seal mailer has not taken yet",
            m.witness_pending.clone(),
        );
        r.register(
            "witness_results",
            "Attempts to time-stamp or mail seals, by result",
            m.witness_results.clone(),
        );
        r.register(
            "witness_last_success_timestamp_seconds",
            "Unix time a witness last took a seal",
            m.witness_last_success.clone(),
        );
        r.register(
            "purged_messages",
            "Messages purged (their keys destroyed, a tombstone chained)",
            m.purged.clone(),
        );
        r.register(
            "last_purge_timestamp_seconds",
            "Unix time of the last purge run that succeeded",
            m.last_purge.clone(),
        );
        r.register(
            "purge_failed",
            "1 after a purge run failed, until one succeeds",
            m.purge_failed.clone(),
        );
        r.register(
            "listener_silent",
            "1 while a listener has archived nothing for longer than its expect_mail_within",
            m.listener_silent.clone(),
        );
        r.register(
            "last_mail_timestamp_seconds",
            "Unix time of the latest message archived through the listener",
            m.last_mail.clone(),
        );
        m.replica.register(r);
        r.register(
            "intercept_unarchived_connections",
            "Intercepted connections relayed blind, without archiving (pass-unarchived)",
            m.intercept_unarchived.clone(),
        );
        m
    }
}

/// Built on first use, so a CLI command that never records pays nothing.
static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

fn listener(name: &str) -> ListenerLabels {
    ListenerLabels {
        listener: name.to_owned(),
    }
}

/// An intercepted connection through `listener` is relayed blind: none
/// of it reaches the archive.
pub fn intercept_unarchived(listener_name: &str) {
    METRICS
        .intercept_unarchived
        .get_or_create(&listener(listener_name))
        .inc();
}

/// A message of `bytes` bytes became durable through `listener`.
pub fn message_archived(listener_name: &str, bytes: u64) {
    let labels = listener(listener_name);
    METRICS.messages.get_or_create(&labels).inc();
    METRICS.bytes.get_or_create(&labels).inc_by(bytes);
    let now = SystemTime::now();
    let unix = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    METRICS
        .last_mail
        .get_or_create(&labels)
        .set(i64::try_from(unix.as_secs()).unwrap_or(i64::MAX));
    if let Some(health) = HealthState::installed() {
        health.mail_archived(listener_name, now);
    }
}

/// The upstream behind `listener` answered a transaction with `code`.
pub fn upstream_reply(listener_name: &str, code: u16) {
    let class = match code {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    };
    let labels = ReplyLabels {
        listener: listener_name.to_owned(),
        class,
    };
    METRICS.replies.get_or_create(&labels).inc();
}

/// One record took `took` from hand-over to the archive until durable.
pub fn commit_latency(took: Duration) {
    METRICS.commit_seconds.observe(took.as_secs_f64());
}

/// One fsync made `records` records (messages and outcomes) durable.
pub fn fsync_batch(records: usize) {
    METRICS.fsync_batch.observe(records as f64);
}

/// Counts one error of `kind`.
pub fn error(kind: ErrorKind) {
    METRICS.errors.get_or_create(&ErrorLabels { kind }).inc();
}

/// The chain head was sealed at `at`; the chain then held `chain_length`
/// records.
pub fn sealed(at: SystemTime, chain_length: u64) {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    METRICS
        .last_seal
        .set(i64::try_from(secs).unwrap_or(i64::MAX));
    set_chain_length(chain_length);
    if let Some(health) = HealthState::installed() {
        health.sealed(at);
    }
}

/// The sealer found at `at` that the newest seal already covers the chain
/// head: nothing to sign, and the seal is not late however old it is.
pub fn seal_current(at: SystemTime) {
    if let Some(health) = HealthState::installed() {
        health.seal_current(at);
    }
}

/// A purge run ended: `purged` messages got tombstones, or it failed.
pub fn purge_run(purged: Option<u64>) {
    match purged {
        Some(n) => {
            METRICS.purged.inc_by(n);
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            METRICS
                .last_purge
                .set(i64::try_from(secs).unwrap_or(i64::MAX));
            METRICS.purge_failed.set(0);
        }
        None => {
            METRICS.purge_failed.set(1);
        }
    }
}

/// Whether the archive's latest commit (or opening it) succeeded.
pub fn archive_writable(writable: bool) {
    METRICS.archive_writable.set(i64::from(writable));
    if let Some(health) = HealthState::installed() {
        health.set_archive_writable(writable);
    }
}

/// A session of proxy `listener` just tried its upstream: `reachable` when
/// it got a greeting. mailseal never probes; this is what real sessions saw.
pub fn upstream_contacted(listener_name: &str, reachable: bool) {
    let labels = listener(listener_name);
    METRICS
        .upstream_reachable
        .get_or_create(&labels)
        .set(i64::from(reachable));
    if let Some(health) = HealthState::installed() {
        health.upstream_contacted(listener_name, reachable);
    }
}

/// The search index has committed up to `indexed` of the archive's `head`;
/// `failing` while the indexer recovers from an error.
pub fn search_progress(indexed: u64, head: u64, failing: bool) {
    let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    METRICS.search_indexed.set(gauge(indexed));
    METRICS.search_head.set(gauge(head));
    METRICS.search_lag.set(gauge(head.saturating_sub(indexed)));
    if let Some(health) = HealthState::installed() {
        health.search_progress(indexed, head, failing);
    }
}

/// What a witness (time-stamp authority, seal mailer) did last: `ok` is
/// the result of its latest attempt (`None` before any), `pending` the
/// seals it has not taken yet. Feeds `/healthz` too.
pub fn witness(name: &str, ok: Option<bool>, pending: u64, error: Option<&str>) {
    let labels = WitnessLabels {
        witness: name.to_owned(),
    };
    METRICS
        .witness_pending
        .get_or_create(&labels)
        .set(i64::try_from(pending).unwrap_or(i64::MAX));
    if let Some(ok) = ok {
        let result = if ok { "ok" } else { "failed" };
        let r = WitnessResultLabels {
            witness: name.to_owned(),
            result,
        };
        METRICS.witness_results.get_or_create(&r).inc();
        if ok {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            METRICS
                .witness_last_success
                .get_or_create(&labels)
                .set(i64::try_from(secs).unwrap_or(i64::MAX));
        }
    }
    if let Some(health) = HealthState::installed() {
        health.witness(name, ok, pending, error);
    }
}

/// The chain now holds `records` records (set at start-up and per commit).
pub fn set_chain_length(records: u64) {
    METRICS
        .chain_length
        .set(i64::try_from(records).unwrap_or(i64::MAX));
}

/// Counts a connection on `listener` as open until the guard is dropped, so
/// every exit path of a session (error, timeout, panic unwinding) closes it.
#[must_use = "the connection counts as open only while the guard lives"]
pub fn connection_opened(listener_name: &str) -> ConnectionGuard {
    let labels = listener(listener_name);
    METRICS.connections.get_or_create(&labels).inc();
    ConnectionGuard { labels }
}

/// Returned by [`connection_opened`]; decrements the gauge on drop.
#[derive(Debug)]
pub struct ConnectionGuard {
    /// Which series to decrement.
    labels: ListenerLabels,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        METRICS.connections.get_or_create(&self.labels).dec();
    }
}

/// The current values in OpenMetrics text format ([`CONTENT_TYPE`]).
pub fn render() -> Result<String, fmt::Error> {
    // Silence is a matter of time passing, not of an event: read it now.
    if let Some(health) = HealthState::installed() {
        for source in health.report(SystemTime::now()).sources {
            METRICS
                .listener_silent
                .get_or_create(&listener(&source.name))
                .set(i64::from(source.silent));
        }
    }
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &METRICS.registry)?;
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The value of the sample line that starts with `series`, if any.
    pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn counters_move_per_listener_and_class() {
        // Listener names unique to this test: the registry is process-wide.
        message_archived("t-archived", 100);
        message_archived("t-archived", 50);
        upstream_reply("t-archived", 250);
        upstream_reply("t-archived", 451);
        upstream_reply("t-archived", 999);
        let text = render().unwrap();
        let series = |s: &str| sample(&text, s);
        assert_eq!(
            series("mailseal_messages_archived_total{listener=\"t-archived\"}"),
            Some(2.0)
        );
        assert_eq!(
            series("mailseal_bytes_archived_total{listener=\"t-archived\"}"),
            Some(150.0)
        );
        for class in ["2xx", "4xx", "other"] {
            let s = format!(
                "mailseal_upstream_replies_total{{listener=\"t-archived\",class=\"{class}\"}}"
            );
            assert_eq!(series(&s), Some(1.0), "{s}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn connection_guard_closes_on_drop() {
        let open = || {
            sample(
                &render().unwrap(),
                "mailseal_connections_open{listener=\"t-conn\"}",
            )
        };
        let a = connection_opened("t-conn");
        let b = connection_opened("t-conn");
        assert_eq!(open(), Some(2.0));
        drop(a);
        assert_eq!(open(), Some(1.0));
        drop(b);
        assert_eq!(open(), Some(0.0));
    }

    #[test]
    fn histograms_and_errors_are_exported() {
        commit_latency(Duration::from_millis(3));
        fsync_batch(8);
        error(ErrorKind::Tls);
        let text = render().unwrap();
        assert!(
            text.contains("# TYPE mailseal_archive_commit_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains("mailseal_archive_fsync_batch_messages_bucket{le=\"8.0\"}"),
            "{text}"
        );
        assert!(
            sample(&text, "mailseal_errors_total{kind=\"tls\"}").unwrap() >= 1.0,
            "{text}"
        );
    }
}
