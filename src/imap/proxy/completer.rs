//! Completeness for partial fetchers: many clients only fetch headers or
//! single parts, so the proxy fetches the whole message itself, over its own
//! connection (async-imap) logged in with the session's credentials, using
//! `EXAMINE` and `UID FETCH n BODY.PEEK[]` so no flag or `\Recent` changes.
//!
//! The session asks for a message (a UID it saw in a FETCH response for the
//! selected mailbox that the archive does not hold yet). Requests wait a
//! short grace period first: clients such as mbsync list UIDs and flags
//! before fetching the bodies themselves, and a message the client fetched
//! whole in the meantime needs no second copy.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::capture::{Direction, Origin, Place, Queue};
use crate::archive::Archive;
use crate::imap::credentials::Credentials;
use crate::imap::upstream::Upstream;
use crate::transport::Stream;

/// Requests waiting to be handed to the task; beyond this they are dropped
/// (the next session that sees the message asks again).
const QUEUE: usize = 4096;

/// Most requests held at once, and most keys remembered as done (a few
/// MB at most, within the per-session memory budget).
const MAX_HELD: usize = 20_000;

/// How long a request waits for the client to fetch the message itself.
pub const GRACE: Duration = Duration::from_secs(3);

/// Most UIDs fetched with one command.
const BATCH: usize = 200;

/// Messages larger than this are not completed: async-imap holds a fetched
/// message in memory, and the proxy keeps memory per session bounded.
pub const MAX_SIZE: u32 = 32 * 1024 * 1024;

/// Consecutive failures after which the side connection gives up.
const MAX_FAILURES: u32 = 3;

/// One message of a mailbox, as of one UIDVALIDITY.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// The mailbox it lives in.
    pub mailbox: String,
    /// The mailbox's UIDVALIDITY when the UID was seen.
    pub uidvalidity: u32,
    /// The message.
    pub uid: u32,
}

/// Keys a session captured itself (APPEND, whole FETCH), shared with its
/// completion task so it does not fetch them again.
pub type Captured = Arc<Mutex<HashSet<Key>>>;

/// The session's handle on its completion task.
pub struct Completer {
    /// Requests for the task.
    tx: mpsc::Sender<Key>,
}

/// What the completion task works with.
pub struct Job {
    /// Where the upstream is.
    pub upstream: Arc<Upstream>,
    /// How the session logged in (memory only, never logged).
    pub credentials: Credentials,
    /// The logged-in user, for archive lookups and records.
    pub user: Option<String>,
    /// To check what is archived already.
    pub archive: Archive,
    /// Where completed messages go.
    pub queue: Queue,
    /// The session's peer and listener, for records.
    pub origin: Origin,
    /// What the session captured itself.
    pub captured: Captured,
}

impl Completer {
    /// Starts the completion task; when the `Completer` is dropped it
    /// completes what is still held and ends.
    pub fn start(job: Job, tracker: &TaskTracker) -> Completer {
        let (tx, rx) = mpsc::channel(QUEUE);
        tracker.spawn(run(job, rx).in_current_span());
        Completer { tx }
    }

    /// Asks for a message to be completed (never waits).
    pub fn want(&self, key: Key) {
        if self.tx.try_send(key).is_err() {
            tracing::debug!("completion queue full; request dropped");
        }
    }
}

/// A logged-in side connection and the mailbox it has examined.
struct Side {
    /// The async-imap session.
    imap: async_imap::Session<Stream>,
    /// Examined mailbox and its UIDVALIDITY.
    examined: Option<(String, Option<u32>)>,
}

/// Requests held during their grace period, and what was done already.
#[derive(Default)]
struct Held {
    /// Requests and when they arrived.
    waiting: BTreeMap<Key, Instant>,
    /// Keys completed or found archived in this session.
    done: HashSet<Key>,
}

impl Held {
    fn add(&mut self, key: Key) {
        if self.waiting.len() < MAX_HELD && !self.done.contains(&key) {
            self.waiting.entry(key).or_insert_with(Instant::now);
        }
    }

    /// When the oldest request's grace period ends.
    fn next_due(&self) -> Option<Instant> {
        self.waiting.values().min().map(|t| *t + GRACE)
    }

    /// Takes the requests whose grace period is over (all when `all`).
    fn due(&mut self, all: bool) -> Vec<Key> {
        let now = Instant::now();
        let due: Vec<Key> = self
            .waiting
            .iter()
            .filter(|(_, t)| all || **t + GRACE <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in &due {
            self.waiting.remove(key);
            if self.done.len() >= MAX_HELD {
                self.done.clear();
            }
            self.done.insert(key.clone());
        }
        due
    }
}

async fn run(job: Job, mut rx: mpsc::Receiver<Key>) {
    let mut held = Held::default();
    let mut side: Option<Side> = None;
    let mut failures = 0;
    let mut open = true;
    while open || !held.waiting.is_empty() {
        let due_at = held.next_due();
        tokio::select! {
            key = rx.recv(), if open => match key {
                Some(key) => held.add(key),
                None => open = false,
            },
            _ = tokio::time::sleep_until(due_at.unwrap_or_else(Instant::now)), if due_at.is_some() => {}
        }
        let due = held.due(!open);
        let mut groups: BTreeMap<(String, u32), Vec<u32>> = BTreeMap::new();
        for key in due.into_iter().filter(|k| !held_elsewhere(&job, k)) {
            groups
                .entry((key.mailbox, key.uidvalidity))
                .or_default()
                .push(key.uid);
        }
        for ((mailbox, uidvalidity), uids) in groups {
            for chunk in uids.chunks(BATCH) {
                if failures >= MAX_FAILURES {
                    continue;
                }
                if side.is_none() {
                    match login(&job).await {
                        Ok(s) => side = Some(s),
                        Err(error) => {
                            failures += 1;
                            tracing::warn!(%error, failures, "completion fetch: cannot log in");
                            continue;
                        }
                    }
                }
                let Some(s) = side.as_mut() else { continue };
                match complete(&job, s, &mailbox, uidvalidity, chunk).await {
                    Ok(n) => {
                        failures = 0;
                        tracing::debug!(n, "completion fetch done");
                    }
                    Err(error) => {
                        failures += 1;
                        tracing::warn!(%error, n = chunk.len(), "completion fetch failed; messages not completed");
                        side = None;
                    }
                }
            }
        }
    }
    if let Some(mut s) = side {
        let _ = s.imap.logout().await;
    }
}

/// True when the session captured the message itself or the archive
/// already holds it for this user.
fn held_elsewhere(job: &Job, key: &Key) -> bool {
    if job
        .captured
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(key)
    {
        return true;
    }
    let user = job.user.as_deref().unwrap_or_default();
    matches!(
        job.archive
            .imap_message(user, &key.mailbox, key.uidvalidity, key.uid),
        Ok(Some(_))
    )
}

async fn login(job: &Job) -> Result<Side, async_imap::error::Error> {
    let (io, _greeting) = job
        .upstream
        .connect()
        .await
        .map_err(|e| async_imap::error::Error::Io(std::io::Error::other(e.to_string())))?;
    let client = async_imap::Client::new(io);
    let imap = match &job.credentials {
        Credentials::Login { user, password } => client.login(user, password).await,
        Credentials::Sasl {
            mechanism,
            responses,
        } => {
            let replay = Replay {
                responses: responses.clone(),
                next: 0,
            };
            client.authenticate(mechanism, replay).await
        }
    }
    .map_err(|(error, _)| error)?;
    Ok(Side {
        imap,
        examined: None,
    })
}

/// Replays the client's SASL responses in order.
struct Replay {
    /// The decoded responses.
    responses: Vec<Vec<u8>>,
    /// The next one to send.
    next: usize,
}

impl async_imap::Authenticator for Replay {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        let response = self.responses.get(self.next).cloned().unwrap_or_default();
        self.next += 1;
        response
    }
}

/// Fetches `uids` of `mailbox` whole and queues them; returns how many.
async fn complete(
    job: &Job,
    side: &mut Side,
    mailbox: &str,
    uidvalidity: u32,
    uids: &[u32],
) -> Result<usize, async_imap::error::Error> {
    if side.examined.as_ref().map(|(m, _)| m.as_str()) != Some(mailbox) {
        let examined = side.imap.examine(mailbox).await?;
        side.examined = Some((mailbox.to_owned(), examined.uid_validity));
    }
    if side.examined.as_ref().and_then(|(_, v)| *v) != Some(uidvalidity) {
        tracing::warn!(mailbox, "UIDVALIDITY changed; messages not completed");
        return Ok(0);
    }
    let wanted = small_enough(side, uids).await?;
    if wanted.is_empty() {
        return Ok(0);
    }
    let mut fetches = side.imap.uid_fetch(uid_set(&wanted), "BODY.PEEK[]").await?;
    let mut done = 0;
    while let Some(fetch) = fetches.next().await {
        let fetch = fetch?;
        let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) else {
            continue;
        };
        let place = Place {
            user: job.user.clone(),
            mailbox: Some(mailbox.to_owned()),
            uidvalidity: Some(uidvalidity),
            uid: Some(uid),
        };
        // Through a spool, so a large body is not copied in memory again.
        let mut spool = job.archive.spool();
        if let Err(error) = spool.write(body) {
            tracing::error!(%error, uid, "spooling a completed message failed: NOT archived");
            continue;
        }
        let content = spool.finish();
        job.queue
            .submit(&job.origin, place, Direction::ProxyFetch, content)
            .await;
        done += 1;
    }
    Ok(done)
}

/// The UIDs whose messages are at most [`MAX_SIZE`] bytes.
async fn small_enough(side: &mut Side, uids: &[u32]) -> Result<Vec<u32>, async_imap::error::Error> {
    let mut sizes = side.imap.uid_fetch(uid_set(uids), "RFC822.SIZE").await?;
    let mut wanted = Vec::new();
    while let Some(fetch) = sizes.next().await {
        let fetch = fetch?;
        match (fetch.uid, fetch.size) {
            (Some(uid), Some(size)) if size <= MAX_SIZE => wanted.push(uid),
            (Some(uid), Some(size)) => tracing::warn!(uid, size, "message too large to complete"),
            _ => {}
        }
    }
    Ok(wanted)
}

/// `1,5,7` (UID sets need no ranges for correctness).
fn uid_set(uids: &[u32]) -> String {
    let mut set = String::new();
    for (i, uid) in uids.iter().enumerate() {
        if i > 0 {
            set.push(',');
        }
        set.push_str(&uid.to_string());
    }
    set
}
