//! What the two legs of a session share, and what every session of one
//! listener shares: the listener's [`Settings`], the session's `Shared`
//! state, the proxy's own lines one leg hands the other (`Inject`), why a
//! leg stopped (`Stop`) and the synchronizing-literal `Handoff`.
//!
//! The legs and the session depend on this module, never the other way, so
//! neither leg needs the session or the other leg to name what they share.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::{BufWriter, WriteHalf};
use tokio::sync::Notify;
use tokio_util::task::TaskTracker;

use super::capture::{Origin, Queue};
use super::completer::{Captured, Completer, Key};
use crate::archive::Archive;
use crate::config::{ImapProxyConfig, TlsMode};
use crate::imap::context::Context;
use crate::imap::framer::DEFAULT_MAX_LINE;
use crate::imap::head::Head;
use crate::imap::upstream::Upstream;
use crate::tls::TlsError;
use crate::transport::Stream;

/// Keys remembered as captured by the session before the archive lookup
/// would find them; cleared past this many (the archive stays the truth).
const MAX_CAPTURED: usize = 10_000;

/// Literals up to this size are kept for the command parser (LOGIN
/// arguments, mailbox names); larger ones only stream through.
pub(super) const SMALL_LITERAL: u64 = 8 * 1024;

/// Everything the sessions of one listener share.
pub struct Settings {
    /// The listener's configuration.
    pub config: ImapProxyConfig,
    /// Where captures go.
    pub archive: Archive,
    /// Client-leg TLS, when a certificate is configured.
    pub server_tls: Option<Arc<rustls::ServerConfig>>,
    /// The real IMAP server; for an intercepting listener, the TLS settings
    /// each session's [`Upstream::toward`] starts from.
    pub upstream: Arc<Upstream>,
    /// Cap on one line fragment in either direction.
    pub max_line: usize,
}

impl Settings {
    /// Loads certificates and builds the TLS setups of both legs.
    pub fn new(config: ImapProxyConfig, archive: Archive) -> Result<Settings, TlsError> {
        let server_tls = match &config.tls.files {
            Some(files) => Some(files.server_config()?),
            None => None,
        };
        let leg = &config.upstream;
        let upstream = Upstream::new(
            leg.address.to_string(),
            leg.tls,
            leg.server_name.clone(),
            || leg.client_config(),
        )?;
        Ok(Settings {
            upstream: Arc::new(upstream),
            config,
            archive,
            server_tls,
            max_line: DEFAULT_MAX_LINE,
        })
    }
}

/// A line the server direction writes to the client at a response
/// boundary, on behalf of the client direction.
pub(super) enum Inject {
    /// A response of the proxy's own (`tag NO ...`).
    Line(Vec<u8>),
    /// `tag OK`, then the relay stops for the TLS handshake.
    StartTls(String),
    /// `* BYE ...`, then the session ends for the reason given.
    Bye(&'static [u8], Stop),
}

/// Why a relay direction stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// STARTTLS: upgrade the client leg and go on.
    StartTls,
    /// A peer closed, failed, or the other direction stopped.
    Closed,
    /// The daemon is shutting down.
    Shutdown,
    /// The client was silent too long.
    Timeout,
    /// The client announced a literal over the cap that could not be
    /// refused in step (non-synchronizing, or mid-command).
    TooBig,
}

/// The answer to a client's synchronizing literal, handed from the server
/// direction (which sees it) to the client direction (which waits for it).
#[derive(Default)]
pub(super) struct Handoff {
    /// Tag of the command whose literal waits.
    pub awaiting: Option<String>,
    /// The server's `+` or tagged response, once seen.
    pub answer: Option<Head>,
}

/// State both directions of one session share.
pub(super) struct Shared {
    /// The listener's settings.
    pub settings: Arc<Settings>,
    /// This session's server: the listener's, or an intercepted
    /// connection's original destination (the completer goes there too).
    pub upstream: Arc<Upstream>,
    /// This session's client-leg TLS: the listener's, or the one that
    /// belongs to an intercepted connection's destination.
    pub server_tls: Option<Arc<rustls::ServerConfig>>,
    /// The conversation.
    pub ctx: Mutex<Context>,
    /// Synchronizing-literal answers.
    pub handoff: Mutex<Handoff>,
    /// Wakes the client direction when `handoff.answer` is set.
    pub answered: Notify,
    /// Peer and TLS of the client leg, for records.
    pub origin: Mutex<Origin>,
    /// The client leg is encrypted.
    pub client_tls: AtomicBool,
    /// Where captures go.
    pub queue: Queue,
    /// The completion task, once the session logged in.
    pub completer: Mutex<Option<Completer>>,
    /// Messages this session captured itself (APPEND, whole FETCH).
    pub captured: Captured,
    /// Tracks the session's background tasks.
    pub tracker: TaskTracker,
}

impl Shared {
    /// Locks a mutex, recovering from a poisoned one (a panic elsewhere
    /// must not stop the relay).
    pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True while the proxy offers STARTTLS to the client.
    pub fn offer_starttls(&self) -> bool {
        self.settings.config.tls.mode == TlsMode::Starttls
            && self.server_tls.is_some()
            && !self.client_tls.load(Ordering::Relaxed)
    }

    /// Remembers a message the session captured itself.
    pub fn captured(&self, key: Key) {
        let mut captured = Shared::lock(&self.captured);
        if captured.len() >= MAX_CAPTURED {
            captured.clear();
        }
        captured.insert(key);
    }
}

/// The client side's write half, buffered (flushed before every wait).
pub(super) type Writer<C> = BufWriter<WriteHalf<Stream<C>>>;
