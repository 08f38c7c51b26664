//! The daemon's health: the facts `/healthz` reports (archive writable,
//! latest seal, what each upstream did on its last contact, what each
//! witness (time-stamp authority, seal mailer) did last) and the verdict
//! drawn from them.
//!
//! A module of its own so that the parts that know these facts and the
//! server that reports them meet here without knowing each other: the
//! archive writer, the sealer and the proxy sessions report through
//! [`crate::metrics`], which passes each fact on to the process's installed
//! [`HealthState`]; [`crate::http`] reads a [`HealthReport`] per request.
//! Nothing here does I/O, so the lowest layers may reach it.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use serde::Serialize;

mod replica;
pub use replica::ReplicaReport;

/// What one upstream did the last time a session contacted it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UpstreamState {
    /// `true` when the last connection attempt got a greeting.
    reachable: bool,
    /// When that was.
    at: SystemTime,
}

/// Everything `/healthz` reports, behind one lock.
#[derive(Debug)]
struct HealthInner {
    /// Set by the daemon after opening the archive and after each commit
    /// failure or recovery.
    archive_writable: bool,
    /// Time of the latest seal, `None` before the first.
    last_seal: Option<SystemTime>,
    /// When the newest seal was last known to cover the chain head (a new
    /// seal, or the sealer finding nothing to seal). An idle archive is not
    /// re-sealed, so the seal's own age alone would call it late; the
    /// state's creation time until the first report, so a sealer that
    /// never works still shows.
    seal_current_at: SystemTime,
    /// Upstream name -> last contact, in configuration order.
    upstreams: Vec<(String, Option<UpstreamState>)>,
    /// What the search indexer last reported; `None` until it runs.
    search: Option<SearchReport>,
    /// A search lag above this makes the status `degraded`
    /// (`[search] max_lag`).
    search_max_lag: u64,
    /// Time-stamp authorities and the seal mailer, as they reported.
    witnesses: Vec<WitnessState>,
    /// Listeners with an `expect_mail_within`: a source gone silent (a
    /// journal rule switched off) is the commonest way mail goes missing.
    sources: Vec<SourceState>,
    /// The replicas, as their replicators reported.
    replicas: Vec<ReplicaReport>,
}

/// What a witness (time-stamp authority, seal mailer) reported last.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WitnessState {
    /// `timestamp:NAME` or `seal_mail`.
    name: String,
    /// Result of the latest attempt; `None` before any.
    ok: Option<bool>,
    /// Seals not taken yet.
    pending: u64,
    /// When it last succeeded.
    last_success: Option<SystemTime>,
    /// Why the latest attempt failed (no credentials, no bodies).
    error: Option<String>,
}

/// A listener expected to archive mail regularly.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SourceState {
    /// The listener's name.
    name: String,
    /// Its `expect_mail_within`.
    within: Duration,
    /// Its latest archived message; the time the expectation was set
    /// until the first, so a source that never delivers shows too.
    last_mail: SystemTime,
    /// Whether any mail arrived since start.
    seen: bool,
}

/// The daemon's health, shared between the parts that know it and the HTTP
/// server that reports it. Cheap to clone; every setter takes `&self`.
#[derive(Debug, Clone)]
pub struct HealthState {
    /// The reported values.
    inner: Arc<Mutex<HealthInner>>,
    /// A seal older than twice this makes the status `degraded`.
    seal_interval: Duration,
}

/// The daemon's state, which [`crate::metrics`] feeds; unset in CLI commands.
static INSTALLED: OnceLock<HealthState> = OnceLock::new();

impl HealthState {
    /// A state for an archive sealed every `seal_interval`, with the
    /// configured upstreams' names (unknown until their first contact).
    pub fn new(seal_interval: Duration, upstreams: impl IntoIterator<Item = String>) -> Self {
        let inner = HealthInner {
            archive_writable: false,
            last_seal: None,
            seal_current_at: SystemTime::now(),
            upstreams: upstreams.into_iter().map(|name| (name, None)).collect(),
            search: None,
            search_max_lag: u64::MAX,
            witnesses: Vec::new(),
            sources: Vec::new(),
            replicas: Vec::new(),
        };
        HealthState {
            inner: Arc::new(Mutex::new(inner)),
            seal_interval,
        }
    }

    /// Makes this the process's state, the one [`crate::metrics`] reports
    /// to. Once per process: `false` (and nothing changes) when another
    /// state was installed before.
    pub fn install(&self) -> bool {
        INSTALLED.set(self.clone()).is_ok()
    }

    /// The installed state, if any.
    pub fn installed() -> Option<&'static HealthState> {
        INSTALLED.get()
    }

    fn with<R>(&self, f: impl FnOnce(&mut HealthInner) -> R) -> R {
        // A panic elsewhere while holding the lock leaves plain values that
        // are still meaningful, so a poisoned lock is used as it is.
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The lag (records) above which search makes the status `degraded`.
    pub fn set_search_max_lag(&self, max_lag: u64) {
        self.with(|h| h.search_max_lag = max_lag);
    }

    /// The search index has committed up to `indexed` while the archive's
    /// head is `head`; `failing` while the indexer recovers from an error.
    pub fn search_progress(&self, indexed: u64, head: u64, failing: bool) {
        self.with(|h| {
            h.search = Some(SearchReport {
                indexed_seq: indexed,
                head_seq: head,
                lag: head.saturating_sub(indexed),
                failing,
                lagging: false,
            })
        });
    }

    /// Whether the archive currently accepts commits.
    pub fn set_archive_writable(&self, writable: bool) {
        self.with(|h| h.archive_writable = writable);
    }

    /// The chain head was sealed at `at`.
    pub fn sealed(&self, at: SystemTime) {
        self.with(|h| {
            h.last_seal = Some(at);
            h.seal_current_at = at;
        });
    }

    /// At `at` the newest seal still covered the chain head (nothing new
    /// to seal), so the seal is not late.
    pub fn seal_current(&self, at: SystemTime) {
        self.with(|h| h.seal_current_at = at);
    }

    /// A session just tried upstream `name`: `reachable` when it got a
    /// greeting. Unknown names are added (an upstream added at run time).
    pub fn upstream_contacted(&self, name: &str, reachable: bool) {
        let state = Some(UpstreamState {
            reachable,
            at: SystemTime::now(),
        });
        self.with(|h| match h.upstreams.iter_mut().find(|(n, _)| n == name) {
            Some((_, s)) => *s = state,
            None => h.upstreams.push((name.to_owned(), state)),
        });
    }

    /// A witness reported: see [`crate::metrics::witness`].
    pub fn witness(&self, name: &str, ok: Option<bool>, pending: u64, error: Option<&str>) {
        self.with(|h| {
            let i = match h.witnesses.iter().position(|w| w.name == name) {
                Some(i) => i,
                None => {
                    h.witnesses.push(WitnessState {
                        name: name.to_owned(),
                        ok: None,
                        pending: 0,
                        last_success: None,
                        error: None,
                    });
                    h.witnesses.len() - 1
                }
            };
            let w = &mut h.witnesses[i];
            w.pending = pending;
            if ok.is_some() {
                w.ok = ok;
                w.error = error.map(str::to_owned);
            }
            if ok == Some(true) {
                w.last_success = Some(SystemTime::now());
            }
        });
    }

    /// Listener `name` should archive a message at least every `within`,
    /// counted from `since` (start-up) until its first.
    pub fn expect_mail(&self, name: &str, within: Duration, since: SystemTime) {
        let source = SourceState {
            name: name.to_owned(),
            within,
            last_mail: since,
            seen: false,
        };
        self.with(|h| {
            h.sources.retain(|s| s.name != name);
            h.sources.push(source);
        });
    }

    /// Listener `name` archived a message at `at`.
    pub fn mail_archived(&self, name: &str, at: SystemTime) {
        self.with(|h| {
            if let Some(s) = h.sources.iter_mut().find(|s| s.name == name) {
                s.last_mail = at;
                s.seen = true;
            }
        });
    }

    /// The report as of `now`.
    pub fn report(&self, now: SystemTime) -> HealthReport {
        self.with(|h| {
            let age = |t: SystemTime| now.duration_since(t).unwrap_or_default().as_secs();
            let seal_age = h.last_seal.map(age);
            let seal_overdue = age(h.seal_current_at) > 2 * self.seal_interval.as_secs();
            let upstreams: Vec<UpstreamReport> = h
                .upstreams
                .iter()
                .map(|(name, s)| UpstreamReport {
                    name: name.clone(),
                    reachable: s.as_ref().map(|s| s.reachable),
                    checked_age_seconds: s.as_ref().map(|s| age(s.at)),
                })
                .collect();
            let upstream_down = upstreams.iter().any(|u| u.reachable == Some(false));
            let search = h.search.clone().map(|mut s| {
                s.lagging = s.lag > h.search_max_lag;
                s
            });
            let search_behind = search.as_ref().is_some_and(|s| s.lagging || s.failing);
            let witnesses: Vec<WitnessReport> = h
                .witnesses
                .iter()
                .map(|w| WitnessReport {
                    name: w.name.clone(),
                    ok: w.ok,
                    pending_seals: w.pending,
                    last_success_age_seconds: w.last_success.map(age),
                    error: w.error.clone(),
                })
                .collect();
            let witness_failing = witnesses.iter().any(|w| w.ok == Some(false));
            let sources: Vec<SourceReport> = h
                .sources
                .iter()
                .map(|s| {
                    let quiet = now.duration_since(s.last_mail).unwrap_or_default();
                    SourceReport {
                        name: s.name.clone(),
                        expect_mail_within_seconds: s.within.as_secs(),
                        last_mail_age_seconds: s.seen.then_some(quiet.as_secs()),
                        silent: quiet > s.within,
                    }
                })
                .collect();
            let silent = sources.iter().any(|s| s.silent);
            let replica_behind = h.replicas.iter().any(|r| r.lagging);
            let status = if !h.archive_writable {
                Status::Fail
            } else if upstream_down
                || seal_overdue
                || search_behind
                || witness_failing
                || silent
                || replica_behind
            {
                Status::Degraded
            } else {
                Status::Ok
            };
            HealthReport {
                status,
                archive_writable: h.archive_writable,
                last_seal_age_seconds: seal_age,
                seal_overdue,
                upstreams,
                search,
                witnesses,
                sources,
                replicas: h.replicas.clone(),
            }
        })
    }
}

/// Overall verdict of `/healthz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything works.
    Ok,
    /// Mail is archived, but an upstream is down, the seal is late, the
    /// search index lags or fails, a witness fails or a source has gone
    /// silent.
    Degraded,
    /// The archive cannot commit: no mail is being accepted.
    Fail,
}

/// The body of `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    /// The verdict; HTTP 503 when it is `fail`, 200 otherwise.
    pub status: Status,
    /// Whether the archive accepts commits.
    pub archive_writable: bool,
    /// Seconds since the latest seal; `null` before the first.
    pub last_seal_age_seconds: Option<u64>,
    /// The chain head has gone unsealed for more than two seal intervals
    /// (an idle archive whose newest seal covers the head is never late).
    pub seal_overdue: bool,
    /// One entry per upstream.
    pub upstreams: Vec<UpstreamReport>,
    /// The search index against the archive; `null` before the indexer
    /// reports.
    pub search: Option<SearchReport>,
    /// Time-stamp authorities and the seal mailer; a failing one makes
    /// the status `degraded` (mail is still archived and sealed).
    pub witnesses: Vec<WitnessReport>,
    /// One entry per listener with an `expect_mail_within`.
    pub sources: Vec<SourceReport>,
    /// One entry per `[[replica]]`; one behind by more than its `max_lag`
    /// makes the status `degraded`.
    pub replicas: Vec<ReplicaReport>,
}

/// The search index in `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchReport {
    /// Every message record up to this one is searchable.
    pub indexed_seq: u64,
    /// The archive's newest record.
    pub head_seq: u64,
    /// Records committed to the archive, not yet to the index.
    pub lag: u64,
    /// The indexer is recovering from an error (it reopens the index).
    pub failing: bool,
    /// The lag is over `[search] max_lag`: the status is `degraded`.
    pub lagging: bool,
}

/// One witness in `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WitnessReport {
    /// `timestamp:NAME` or `seal_mail`.
    pub name: String,
    /// Result of the latest attempt; `null` before any.
    pub ok: Option<bool>,
    /// Seals not stamped or mailed yet.
    pub pending_seals: u64,
    /// Seconds since the last success; `null` before any.
    pub last_success_age_seconds: Option<u64>,
    /// Why the latest attempt failed.
    pub error: Option<String>,
}

/// A listener expected to archive mail, in `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceReport {
    /// The listener's name.
    pub name: String,
    /// Its `expect_mail_within`, in seconds.
    pub expect_mail_within_seconds: u64,
    /// Seconds since its latest archived message; `null` before any since start.
    pub last_mail_age_seconds: Option<u64>,
    /// Nothing archived within the expected time: status `degraded`.
    pub silent: bool,
}

/// One upstream in `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpstreamReport {
    /// The listener's upstream name.
    pub name: String,
    /// Result of the last contact; `null` before any.
    pub reachable: Option<bool>,
    /// Seconds since the last contact; `null` before any.
    pub checked_age_seconds: Option<u64>,
}

#[cfg(test)]
mod tests;
