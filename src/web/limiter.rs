//! Login rate limiting and lockout, and the counts behind the audit trail's
//! summaries of failed logins.
//!
//! Two counters, each over a sliding window: failures per client address
//! (a guesser trying many names) and failures per login name (many
//! addresses trying one name). Past either limit further attempts are
//! refused without checking the password until the lockout ends, so a
//! flood costs neither Argon2 time nor audit records: the trail gets the
//! first failure of a burst as its own record and the rest as one summary
//! per address when the burst ends ([`Limiter::drain_summaries`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures per address within `window` before the address is locked out.
    pub per_address: u32,
    /// Failures per login name within `window` before the name is locked out.
    pub per_user: u32,
    /// How far back failures count.
    pub window: Duration,
    /// How long a lockout lasts.
    pub lockout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_address: 20,
            per_user: 5,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(15 * 60),
        }
    }
}

/// Failures seen from one key.
#[derive(Debug, Clone)]
struct Counter {
    /// Failure times within the window.
    times: Vec<Instant>,
    /// Locked until then.
    locked_until: Option<Instant>,
}

/// Failures of one address not yet written to the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureSummary {
    /// The client address.
    pub peer: IpAddr,
    /// Failed attempts not recorded one by one.
    pub count: u64,
    /// The login names tried (at most a few dozen kept).
    pub users: Vec<String>,
    /// Wall-clock time of the first and last of them, RFC 3339.
    pub first: String,
    /// Wall-clock time of the last.
    pub last: String,
    /// When the last one happened, to know when the burst has ended.
    last_at: Instant,
}

/// What the limiter says about an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password.
    Allowed,
    /// Refuse without checking: locked out.
    LockedOut,
}

/// What to record about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureNote {
    /// The first failure of a burst from this address: its own audit record.
    Record,
    /// Counted into the address's summary.
    Summarised,
}

/// The login limiter.
#[derive(Debug)]
pub struct Limiter {
    /// The limits.
    limits: Limits,
    /// All counters and pending summaries.
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    by_address: HashMap<IpAddr, Counter>,
    by_user: HashMap<String, Counter>,
    pending: HashMap<IpAddr, FailureSummary>,
}

/// Most names kept in one summary.
const SUMMARY_USERS: usize = 32;
/// Most keys tracked, so a spray of addresses cannot grow memory without end.
const MAX_KEYS: usize = 100_000;

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Counter {
    fn prune(&mut self, now: Instant, window: Duration) {
        self.times.retain(|t| now.duration_since(*t) < window);
        if self.locked_until.is_some_and(|u| u <= now) {
            self.locked_until = None;
            self.times.clear();
        }
    }
}

impl Limiter {
    /// A limiter with `limits`.
    pub fn new(limits: Limits) -> Limiter {
        Limiter {
            limits,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May this attempt be checked at all?
    pub fn check(&self, peer: IpAddr, user: &str) -> Verdict {
        let now = Instant::now();
        let mut st = self.lock();
        let locked = |c: Option<&mut Counter>| {
            c.is_some_and(|c| {
                c.prune(now, self.limits.window);
                c.locked_until.is_some()
            })
        };
        let by_addr = locked(st.by_address.get_mut(&peer));
        let by_user = locked(st.by_user.get_mut(&user.to_lowercase()));
        if by_addr || by_user {
            Verdict::LockedOut
        } else {
            Verdict::Allowed
        }
    }

    /// Counts a failed (or refused) attempt.
    pub fn failed(&self, peer: IpAddr, user: &str) -> FailureNote {
        let now = Instant::now();
        let limits = self.limits;
        let mut st = self.lock();
        if st.by_address.len() > MAX_KEYS || st.by_user.len() > MAX_KEYS {
            st.by_address.retain(|_, c| c.locked_until.is_some());
            st.by_user.retain(|_, c| c.locked_until.is_some());
        }
        let bump = |c: &mut Counter, limit: u32| {
            c.prune(now, limits.window);
            c.times.push(now);
            if c.times.len() >= limit as usize && c.locked_until.is_none() {
                c.locked_until = Some(now + limits.lockout);
            }
        };
        let empty = || Counter {
            times: Vec::new(),
            locked_until: None,
        };
        bump(
            st.by_address.entry(peer).or_insert_with(empty),
            limits.per_address,
        );
        bump(
            st.by_user.entry(user.to_lowercase()).or_insert_with(empty),
            limits.per_user,
        );
        match st.pending.get_mut(&peer) {
            Some(p) => {
                p.count += 1;
                p.last = now_text();
                p.last_at = now;
                if p.users.len() < SUMMARY_USERS && !p.users.iter().any(|u| u == user) {
                    p.users.push(user.to_owned());
                }
                FailureNote::Summarised
            }
            None => {
                st.pending.insert(
                    peer,
                    FailureSummary {
                        peer,
                        count: 0,
                        users: Vec::new(),
                        first: now_text(),
                        last: now_text(),
                        last_at: now,
                    },
                );
                FailureNote::Record
            }
        }
    }

    /// A successful login clears the name's failures (not the address's).
    pub fn succeeded(&self, user: &str) {
        self.lock().by_user.remove(&user.to_lowercase());
    }

    /// Summaries of bursts that ended `quiet` ago (all of them with
    /// `Duration::ZERO`), removed from the limiter; bursts whose only
    /// failure already had its own record give none.
    pub fn drain_summaries(&self, quiet: Duration) -> Vec<FailureSummary> {
        let now = Instant::now();
        let mut st = self.lock();
        let done: Vec<IpAddr> = st
            .pending
            .iter()
            .filter(|(_, p)| now.duration_since(p.last_at) >= quiet)
            .map(|(k, _)| *k)
            .collect();
        done.into_iter()
            .filter_map(|k| st.pending.remove(&k))
            .filter(|p| p.count > 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 9));

    #[test]
    fn a_name_is_locked_after_its_limit_and_success_does_not_unlock_an_address() {
        let l = Limiter::new(Limits {
            per_address: 100,
            per_user: 3,
            ..Limits::default()
        });
        for _ in 0..3 {
            assert_eq!(l.check(A, "anna"), Verdict::Allowed);
            l.failed(A, "anna");
        }
        assert_eq!(l.check(A, "anna"), Verdict::LockedOut);
        assert_eq!(l.check(A, "ANNA"), Verdict::LockedOut);
        assert_eq!(l.check(A, "otto"), Verdict::Allowed);
    }

    #[test]
    fn an_address_is_locked_for_every_name() {
        let l = Limiter::new(Limits {
            per_address: 4,
            per_user: 100,
            ..Limits::default()
        });
        for i in 0..4 {
            l.failed(A, &format!("user{i}"));
        }
        assert_eq!(l.check(A, "fresh"), Verdict::LockedOut);
        let other = IpAddr::from([127, 0, 0, 10]);
        assert_eq!(l.check(other, "fresh"), Verdict::Allowed);
    }

    #[test]
    fn a_burst_is_one_record_and_one_summary() {
        let l = Limiter::new(Limits::default());
        assert_eq!(l.failed(A, "anna"), FailureNote::Record);
        for _ in 0..99 {
            assert_eq!(l.failed(A, "root"), FailureNote::Summarised);
        }
        let s = l.drain_summaries(Duration::ZERO);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].count, 99);
        assert_eq!(s[0].users, vec!["root".to_string()]);
        assert!(l.drain_summaries(Duration::ZERO).is_empty());
        assert_eq!(l.failed(A, "anna"), FailureNote::Record);
        assert!(l.drain_summaries(Duration::ZERO).is_empty());
    }
}
