//! One soak client: sends unique messages one after another through one
//! way in until told to stop, reconnecting and retrying (at most
//! [`TRIES`] times per message) whatever goes wrong, and keeps a ledger.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng as _;

use super::ledger::{Attempt, Lane, Path, Sent};
use super::message;
use crate::support::dovecot::Dovecot;

/// Tries per message before the client moves on, as an MTA would after
/// its retries.
pub const TRIES: usize = 3;

/// A protocol session that can carry one message after another.
pub trait Session: Sized {
    /// Connects to `job.addr`, reads the greeting and gets ready (EHLO,
    /// LOGIN).
    fn open(job: &Job<'_>) -> Result<Self, String>;
    /// Sends one message and says how that ended.
    fn send(&mut self, content: &[u8]) -> Attempt;
    /// Ends the session politely (errors do not matter).
    fn close(self);
}

/// What a client needs to know.
pub struct Job<'a> {
    /// Which way in.
    pub path: Path,
    /// The daemon's listener for it.
    pub addr: SocketAddr,
    /// Seeds the client's sizes and pauses.
    pub seed: u64,
    /// This client's number (varies the seed).
    pub lane: usize,
    /// Hands out unique message numbers across all clients.
    pub next: &'a AtomicU64,
    /// Set when the run is over.
    pub stop: &'a AtomicBool,
    /// The POP3 upstream, whose maildrops POP3 clients fill themselves.
    pub dovecot: &'a Dovecot,
}

/// Runs one client until `job.stop` is set; returns its ledger.
pub fn run<S: Session>(job: &Job) -> Lane {
    let mut rng = message::rng(job.seed, job.lane);
    let mut lane = Lane {
        path: job.path,
        sent: Vec::new(),
        connect_failures: 0,
    };
    let mut session: Option<S> = None;
    while !job.stop.load(Ordering::Relaxed) {
        let n = job.next.fetch_add(1, Ordering::Relaxed);
        let m = message::message(n, message::size(&mut rng));
        let mut sent = Sent {
            n,
            sha256: m.sha256.clone(),
            size: m.content.len(),
            attempts: Vec::new(),
        };
        while sent.attempts.len() < TRIES && !sent.acked() {
            let Some(s) = connected(&mut session, job, &mut lane) else {
                break;
            };
            let attempt = s.send(&m.content);
            let acked = matches!(attempt, Attempt::Acked);
            sent.attempts.push(attempt);
            if !acked {
                // Whatever state the session is in, start afresh.
                session = None;
                std::thread::sleep(Duration::from_millis(rng.gen_range(50..300)));
            } else if rng.gen_ratio(1, 10)
                && let Some(done) = session.take()
            {
                done.close();
            }
        }
        if !sent.attempts.is_empty() {
            lane.sent.push(sent);
        }
    }
    if let Some(done) = session {
        done.close();
    }
    lane
}

/// The open session, opening one if needed (retrying while the daemon is
/// down); `None` once the run is over.
fn connected<'s, S: Session>(
    session: &'s mut Option<S>,
    job: &Job,
    lane: &mut Lane,
) -> Option<&'s mut S> {
    while session.is_none() {
        if job.stop.load(Ordering::Relaxed) {
            return None;
        }
        match S::open(job) {
            Ok(s) => *session = Some(s),
            Err(_) => {
                lane.connect_failures += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    session.as_mut()
}
