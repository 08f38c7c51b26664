//! Logged-in sessions: random ids in a cookie, a CSRF token each, idle and
//! absolute time-outs, and the four-eyes confirmation state.
//!
//! Sessions live in memory only: a daemon restart logs everyone out, which
//! is the safe direction. The cookie carries 256 random bits and nothing
//! else; the audit trail names a session by a short hash of its id, so the
//! trail never holds anything that could be replayed as a cookie.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};

use super::i18n::Lang;
use super::role::{Role, Scope};

/// Most sessions kept at once; the oldest go first beyond it, so a flood of
/// logins cannot take the daemon's memory.
const MAX_SESSIONS: usize = 10_000;

/// A fresh random token, 256 bits in hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether the session may be used yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    /// Logged in and usable.
    Active,
    /// Password accepted, but a second person must confirm (four eyes).
    AwaitingSecond,
}

/// One logged-in person.
#[derive(Debug, Clone)]
pub struct Session {
    /// The audit trail's name for this session (not the cookie value).
    pub tag: String,
    /// The token every state-changing form must carry.
    pub csrf: String,
    /// The login name.
    pub user: String,
    /// Their role at login.
    pub role: Role,
    /// The mail they may see, fixed at login.
    pub scope: Scope,
    /// Usable yet, or waiting for a second person.
    pub state: SessionState,
    /// Who confirmed the session (four eyes).
    pub confirmed_by: Option<String>,
    /// The address the login came from.
    pub peer: IpAddr,
    /// The interface language chosen in this session, if any.
    pub lang: Option<Lang>,
    /// Login time, for the absolute time-out.
    created: Instant,
    /// Last request, for the idle time-out.
    last_seen: Instant,
}

/// What a new session starts with.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The login name.
    pub user: String,
    /// Their role.
    pub role: Role,
    /// The mail they may see.
    pub scope: Scope,
    /// Four eyes required.
    pub needs_second: bool,
    /// Where the login came from.
    pub peer: IpAddr,
    /// The language of the login page.
    pub lang: Option<Lang>,
}

/// Every session, keyed by the cookie value.
#[derive(Debug)]
pub struct Sessions {
    /// Cookie value to session.
    map: Mutex<HashMap<String, Session>>,
    /// A session unused this long ends.
    idle: Duration,
    /// A session ends this long after login, used or not.
    absolute: Duration,
}

fn tag_of(id: &str) -> String {
    hex::encode(&Sha256::digest(id.as_bytes())[..6])
}

impl Sessions {
    /// An empty store with the given time-outs.
    pub fn new(idle: Duration, absolute: Duration) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            idle,
            absolute,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock cannot leave a half-written session
        // (every update is one insert or field store), so poisoning is ignored.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session; returns the cookie value and the session.
    pub fn create(&self, new: NewSession) -> (String, Session) {
        let id = random_token();
        let now = Instant::now();
        let session = Session {
            tag: tag_of(&id),
            csrf: random_token(),
            user: new.user,
            role: new.role,
            scope: new.scope,
            state: if new.needs_second {
                SessionState::AwaitingSecond
            } else {
                SessionState::Active
            },
            confirmed_by: None,
            peer: new.peer,
            lang: new.lang,
            created: now,
            last_seen: now,
        };
        let mut map = self.lock();
        self.expire(&mut map, now);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(id.clone(), session.clone());
        (id, session)
    }

    fn expire(&self, map: &mut HashMap<String, Session>, now: Instant) {
        map.retain(|_, s| {
            now.duration_since(s.last_seen) < self.idle
                && now.duration_since(s.created) < self.absolute
        });
    }

    /// The live session for a cookie value, marked as used now.
    pub fn touch(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut map = self.lock();
        let s = map.get_mut(id)?;
        if now.duration_since(s.last_seen) >= self.idle
            || now.duration_since(s.created) >= self.absolute
        {
            map.remove(id);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    /// Ends a session.
    pub fn remove(&self, id: &str) -> Option<Session> {
        self.lock().remove(id)
    }

    /// Marks a four-eyes session as confirmed by `by`.
    pub fn confirm(&self, id: &str, by: &str) -> Option<Session> {
        let mut map = self.lock();
        let s = map.get_mut(id)?;
        s.state = SessionState::Active;
        s.confirmed_by = Some(by.to_owned());
        Some(s.clone())
    }

    /// Sets the session's interface language.
    pub fn set_lang(&self, id: &str, lang: Lang) {
        if let Some(s) = self.lock().get_mut(id) {
            s.lang = Some(lang);
        }
    }

    /// Ends every session of `user` (disabled, password changed).
    pub fn end_user(&self, user: &str) -> usize {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, s| !s.user.eq_ignore_ascii_case(user));
        before - map.len()
    }

    /// Sessions alive now.
    pub fn count(&self) -> usize {
        let mut map = self.lock();
        self.expire(&mut map, Instant::now());
        map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_session(user: &str, four_eyes: bool) -> NewSession {
        NewSession {
            user: user.into(),
            role: Role::Auditor,
            scope: Scope::Everything,
            needs_second: four_eyes,
            peer: IpAddr::from([127, 0, 0, 1]),
            lang: None,
        }
    }

    #[test]
    fn ids_and_tokens_are_random_and_the_tag_is_not_the_id() {
        let s = Sessions::new(Duration::from_secs(60), Duration::from_secs(600));
        let (a, sa) = s.create(new_session("anna", false));
        let (b, sb) = s.create(new_session("anna", false));
        assert_ne!(a, b);
        assert_ne!(sa.csrf, sb.csrf);
        assert_eq!(a.len(), 64);
        assert!(!a.contains(&sa.tag));
        assert_eq!(s.touch(&a).map(|x| x.user), Some("anna".into()));
        assert!(s.touch("nonsense").is_none());
        assert!(s.remove(&a).is_some());
        assert!(s.touch(&a).is_none());
    }

    #[test]
    fn idle_and_absolute_timeouts_end_sessions() {
        let idle = Sessions::new(Duration::ZERO, Duration::from_secs(600));
        let (a, _) = idle.create(new_session("anna", false));
        assert!(idle.touch(&a).is_none());
        let absolute = Sessions::new(Duration::from_secs(600), Duration::ZERO);
        let (b, _) = absolute.create(new_session("anna", false));
        assert!(absolute.touch(&b).is_none());
    }

    #[test]
    fn four_eyes_sessions_wait_for_confirmation() {
        let s = Sessions::new(Duration::from_secs(60), Duration::from_secs(600));
        let (a, sa) = s.create(new_session("anna", true));
        assert_eq!(sa.state, SessionState::AwaitingSecond);
        let confirmed = s.confirm(&a, "otto").unwrap();
        assert_eq!(confirmed.state, SessionState::Active);
        assert_eq!(confirmed.confirmed_by.as_deref(), Some("otto"));
        assert_eq!(s.end_user("ANNA"), 1);
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
