//! What every request passes: the security headers on every answer, the
//! session cookie turned into a [`Session`], the CSRF check of every form
//! that changes something, and the interface language.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, COOKIE, HeaderName, HeaderValue, REFERRER_POLICY,
    STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, request::Parts};
use axum::middleware::Next;
use axum::response::Response;

use super::Web;
use super::i18n::{Lang, Tr};
use super::session::{Session, SessionState, same_secret};

/// The session cookie. `__Host-` makes the browser refuse it unless it is
/// `Secure`, has `Path=/` and no `Domain`, so no other host can plant it.
pub const SESSION_COOKIE: &str = "__Host-mailseal";
/// The cookie that pairs the login form with its browser (login CSRF).
pub const PRELOGIN_COOKIE: &str = "__Host-mailseal-pre";
/// The chosen interface language.
pub const LANG_COOKIE: &str = "mailseal-lang";

/// The policy of every page: our own script and style only, frames only
/// from ourselves (the message body), never framed by anyone.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'";

/// Adds the security headers every answer carries (a handler that set its
/// own Content-Security-Policy, the message body, keeps it).
pub async fn security_headers(
    axum::extract::State(web): axum::extract::State<Arc<Web>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let framed_body = h.contains_key(CONTENT_SECURITY_POLICY);
    if !framed_body {
        h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
        h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    );
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if web.settings.tls {
        h.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// The value of cookie `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// A `Set-Cookie` value: HttpOnly, Secure, SameSite=Strict, Path=/.
pub fn set_cookie(name: &str, value: &str, max_age: Option<u64>) -> String {
    let age = max_age.map_or(String::new(), |a| format!("; Max-Age={a}"));
    format!("{name}={value}; Path=/; HttpOnly; Secure; SameSite=Strict{age}")
}

/// The client's address.
pub fn peer(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// The interface language: the session's choice, then the cookie, then
/// the browser's Accept-Language.
pub fn lang(headers: &HeaderMap, session: Option<&Session>) -> Lang {
    session
        .and_then(|s| s.lang)
        .or_else(|| cookie(headers, LANG_COOKIE).and_then(Lang::parse))
        .unwrap_or_else(|| {
            Lang::negotiate(
                headers
                    .get(axum::http::header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            )
        })
}

/// The request's session, if its cookie names a live one.
pub fn session(web: &Web, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = cookie(headers, SESSION_COOKIE)?;
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let s = web.sessions.touch(id)?;
    // A user disabled (or removed) since login loses the session at once.
    let still_allowed = web
        .users()
        .ok()
        .and_then(|u| u.get(&s.user).map(|u| !u.disabled && u.role == s.role))
        .unwrap_or(false);
    if !still_allowed {
        web.sessions.remove(id);
        return None;
    }
    Some((id.to_owned(), s))
}

/// The live, confirmed session of the request, or where to send the browser.
pub enum Access {
    /// Logged in and usable.
    Granted(String, Box<Session>),
    /// Not logged in: to the login page.
    Login,
    /// Logged in but waiting for the four-eyes confirmation.
    Confirm,
}

/// Classifies the request.
pub fn access(web: &Web, headers: &HeaderMap) -> Access {
    match session(web, headers) {
        None => Access::Login,
        Some((_, s)) if s.state == SessionState::AwaitingSecond => Access::Confirm,
        Some((id, s)) => Access::Granted(id, Box::new(s)),
    }
}

/// True when a submitted form's token is the session's.
pub fn csrf_ok(session: &Session, submitted: &str) -> bool {
    same_secret(&session.csrf, submitted)
}

/// The strings of the request's language.
pub fn tr(headers: &HeaderMap, session: Option<&Session>) -> Tr {
    Tr::new(lang(headers, session))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others_and_set_strictly() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; __Host-mailseal=abc"));
        h.append(COOKIE, HeaderValue::from_static("mailseal-lang=de"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, LANG_COOKIE), Some("de"));
        assert_eq!(cookie(&h, "b"), None);
        let c = set_cookie(SESSION_COOKIE, "v", None);
        for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(c.contains(part));
        }
        assert_eq!(lang(&h, None), Lang::De);
    }
}
