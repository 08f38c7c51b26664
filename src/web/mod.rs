//! The web interface for auditors and users: login, search, message view,
//! downloads, exports with proof, legal holds and early deletion, the
//! audit trail and the status page.
//!
//! ```text
//!  browser ─HTTPS─> router (security headers on every answer)
//!                     ├─ guard: session cookie -> Session (role, scope, CSRF token)
//!                     ├─ pages::*  ── askama templates + i18n catalogs
//!                     │     └─ MailStore (find / open / bytes)  ── archive
//!                     └─ Trail: every access appended as an `audit` record,
//!                               durable before the page is sent
//! ```
//!
//! Everything a page shows about mail passes [`role::Scope::allows`]; a
//! message outside the scope is answered exactly like one that does not
//! exist (404), and the attempt is recorded.

pub mod api;
pub mod auth;
pub mod guard;
pub mod i18n;
pub mod indexed;
pub mod lifecycle;
pub mod limiter;
pub mod listen;
pub mod mail;
pub mod message;
pub mod pages;
pub mod query;
pub mod role;
pub mod sanitize;
pub mod scan;
pub mod session;
pub mod store;
pub mod trail;
pub mod users;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use limiter::{Limiter, Limits};
use mail::{MailStore, Stored};
use session::Sessions;
use trail::Trail;
use users::{Users, UsersError};

/// How the web interface behaves; built once from the configuration.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// The users file.
    pub users_file: PathBuf,
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after login.
    pub session_absolute: Duration,
    /// Login rate limits and lockout.
    pub limits: Limits,
    /// Whether the listener speaks TLS (adds HSTS).
    pub tls: bool,
    /// Results per page.
    pub page_size: usize,
    /// Most messages one export may hold.
    pub export_max: usize,
    /// Users whose `login = "imap"` check their mailbox password here.
    pub imap_login: Option<auth::ImapLogin>,
    /// `[retention] key_backup_max_age` in whole days, which the archive's
    /// lifecycle commands take (only a purge uses it; the pages start none).
    pub forget_days: u64,
    /// The local time of the daemon's daily purge (`[retention] purge =
    /// "daily"`), `None` when only `mailseal purge` deletes: the deletion
    /// page says when an approved request is carried out.
    pub daily_purge: Option<chrono::NaiveTime>,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            users_file: PathBuf::from(users::DEFAULT_USERS_FILE),
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(10 * 3600),
            limits: Limits::default(),
            tls: false,
            page_size: 50,
            export_max: 10_000,
            imap_login: None,
            forget_days: 30,
            daily_purge: None,
        }
    }
}

/// The users file as last read, and when it was changed then.
#[derive(Debug, Default)]
struct UsersCache {
    /// Modification time of the file when read.
    mtime: Option<SystemTime>,
    /// Its content.
    users: Users,
}

/// Everything the pages share.
pub struct Web {
    /// The settings.
    pub settings: WebSettings,
    /// Logged-in sessions.
    pub sessions: Sessions,
    /// Login throttling.
    pub limiter: Limiter,
    /// The mail.
    pub store: Arc<dyn MailStore>,
    /// The sealed audit trail.
    pub trail: Trail,
    /// The users file, re-read when it changes (`mailseal user ...`).
    users: RwLock<UsersCache>,
}

impl Web {
    /// The shared state for `store`, writing its audit trail to `trail`.
    pub fn new(settings: WebSettings, store: Arc<dyn MailStore>, trail: Trail) -> Arc<Web> {
        Arc::new(Web {
            sessions: Sessions::new(settings.session_idle, settings.session_absolute),
            limiter: Limiter::new(settings.limits),
            settings,
            store,
            trail,
            users: RwLock::new(UsersCache::default()),
        })
    }

    /// The current users, re-read when the file changed since last time.
    pub fn users(&self) -> Result<Users, UsersError> {
        let mtime = std::fs::metadata(&self.settings.users_file)
            .and_then(|m| m.modified())
            .ok();
        {
            let cache = self.users.read().unwrap_or_else(|p| p.into_inner());
            if cache.mtime.is_some() && cache.mtime == mtime {
                return Ok(cache.users.clone());
            }
        }
        let users = Users::load(&self.settings.users_file)?;
        let mut cache = self.users.write().unwrap_or_else(|p| p.into_inner());
        *cache = UsersCache {
            mtime,
            users: users.clone(),
        };
        Ok(users)
    }

    /// Writes the users file and refreshes the cache.
    pub fn save_users(&self, users: &Users) -> Result<(), UsersError> {
        users.save(&self.settings.users_file)?;
        let mut cache = self.users.write().unwrap_or_else(|p| p.into_inner());
        cache.mtime = None;
        Ok(())
    }

    /// The archived bytes of `m` (logged and `None` when they cannot be
    /// read).
    pub async fn message_bytes(&self, m: &Stored) -> Option<Vec<u8>> {
        let store = Arc::clone(&self.store);
        let sha = m.summary.sha256.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            store.write_content(&sha, &mut out).map(|_| out)
        })
        .await
        .ok()?
        .inspect_err(|e| tracing::error!(error = %e, "reading message content failed"))
        .ok()
    }
}

/// The router with every page.
pub fn router(web: Arc<Web>) -> Router {
    pages::routes(web)
}

/// Serves the web interface on `listener` (plain HTTP; the caller wraps
/// TLS) until `shutdown` is cancelled; summaries of failed-login bursts
/// are written to the trail every minute meanwhile.
pub async fn serve(
    listener: TcpListener,
    web: Arc<Web>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let summaries = tokio::spawn(trail::summarise_failures(
        Arc::clone(&web),
        shutdown.clone(),
    ));
    let app = router(web).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    // The task writes the summaries still pending and ends with `shutdown`.
    let _ = summaries.await;
    result
}
