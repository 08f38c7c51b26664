//! The pages: routes, the frame every page shares (navigation, language
//! switch), and the helpers the handlers have in common.

mod admin;
mod audit_log;
mod deletion;
mod export;
mod holds;
mod login;
mod message;

mod search;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::Web;
use super::guard::{self, Access};
use super::i18n::{Lang, Tr};
use super::session::Session;

/// Every route of the interface.
pub fn routes(web: Arc<Web>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login::form).post(login::submit))
        .route(
            "/login/confirm",
            get(login::confirm_form).post(login::confirm),
        )
        .route("/logout", post(login::logout))
        .route("/lang/{code}", get(switch_lang))
        .route("/search", get(search::page))
        .route("/help", get(search::help))
        .route("/message/{id}", get(message::page))
        .route("/message/{id}/body", get(message::body))
        .route("/message/{id}/raw", get(message::raw))
        .route("/message/{id}/attachment/{n}", get(message::attachment))
        .route("/export", post(export::submit))
        .route("/audit", get(audit_log::page))
        .route("/audit.csv", get(audit_log::csv))
        .route("/status", get(admin::status))
        .route("/users", get(admin::users))
        .route("/holds", get(holds::page).post(holds::place))
        .route("/holds/release", post(holds::release))
        .route("/deletion", get(deletion::page))
        .route("/deletion/request", post(deletion::request))
        .route("/deletion/approve", post(deletion::approve))
        .route("/api/v1/search", get(super::api::search))
        .route("/api/v1/messages/{id}", get(super::api::message))
        .route("/api/v1/messages/{id}/raw", get(super::api::raw))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&web),
            guard::security_headers,
        ))
        .with_state(web)
}

/// The links of the navigation bar, by role.
#[derive(Debug, Clone)]
pub struct Nav {
    /// The login name.
    pub user: String,
    /// The catalog key of the role's name.
    pub role_key: &'static str,
    /// The session's CSRF token (for the logout form).
    pub csrf: String,
    /// Show search.
    pub mail: bool,
    /// Show the audit log.
    pub audit: bool,
    /// Show the status page.
    pub status: bool,
    /// Show the users page.
    pub users: bool,
    /// Show the legal holds page.
    pub holds: bool,
    /// Show the early-deletion page.
    pub deletion: bool,
}

impl Nav {
    /// The navigation of `session`.
    pub fn of(s: &Session) -> Nav {
        Nav {
            user: s.user.clone(),
            role_key: role_key(s.role),
            csrf: s.csrf.clone(),
            mail: s.role.reads_mail(),
            audit: s.role.reads_audit(),
            status: s.role.sees_status(),
            users: s.role == super::role::Role::Admin,
            holds: s.role.holds(),
            deletion: s.role.sees_deletions(),
        }
    }
}

/// The catalog key of a role's name.
pub fn role_key(role: super::role::Role) -> &'static str {
    use super::role::Role;
    match role {
        Role::Auditor => "role.auditor",
        Role::User => "role.user",
        Role::Admin => "role.admin",
        Role::DataOfficer => "role.data-officer",
    }
}

/// What every page's frame needs.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The strings.
    pub t: Tr,
    /// The navigation, when logged in.
    pub nav: Option<Nav>,
    /// The page title.
    pub title: String,
    /// The current path and query, percent-encoded, for the language switch.
    pub back: String,
}

impl Chrome {
    /// The frame for a page titled by catalog key `title`.
    pub fn new(t: Tr, session: Option<&Session>, title: &str, uri: &Uri) -> Chrome {
        Chrome {
            t,
            nav: session.map(Nav::of),
            title: t.t(title).to_owned(),
            back: percent(uri.path_and_query().map_or("/", |p| p.as_str())),
        }
    }
}

/// Percent-encodes everything but unreserved characters.
pub fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A time shown in the reader's zone, with UTC in the tooltip.
#[derive(Debug, Clone)]
pub struct When {
    /// RFC 3339, for `<time datetime>`.
    pub iso: String,
    /// `YYYY-MM-DD HH:MM:SS` in UTC, shown until the script localises it.
    pub utc: String,
}

/// Reads an RFC 3339 time.
pub fn when(rfc3339: &str) -> When {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => {
            let utc = t.with_timezone(&chrono::Utc);
            When {
                iso: utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                utc: utc.format("%Y-%m-%d %H:%M:%S").to_string(),
            }
        }
        Err(_) => When {
            iso: String::new(),
            utc: rfc3339.to_owned(),
        },
    }
}

/// Renders a template as an HTML answer.
pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A redirect (303, so a form's POST becomes a GET).
pub fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    message: &'static str,
}

/// An error page: `title` and `message` are catalog keys.
pub fn error(
    status: StatusCode,
    t: Tr,
    session: Option<&Session>,
    uri: &Uri,
    title: &str,
    message: &'static str,
) -> Response {
    html(
        status,
        &ErrorPage {
            c: Chrome::new(t, session, title, uri),
            message,
        },
    )
}

/// "Not found": also the answer for anything outside the person's scope.
pub fn not_found(t: Tr, session: Option<&Session>, uri: &Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        t,
        session,
        uri,
        "error.not_found",
        "error.not_found_text",
    )
}

/// The message was purged (format 2.3): 410, saying so.
pub fn gone(t: Tr, session: Option<&Session>, uri: &Uri) -> Response {
    error(
        StatusCode::GONE,
        t,
        session,
        uri,
        "error.purged",
        "error.purged_text",
    )
}

/// The archive could not write the audit record (or failed otherwise):
/// nothing is served.
pub fn unavailable(t: Tr, session: Option<&Session>, uri: &Uri) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        t,
        session,
        uri,
        "error.unavailable",
        "error.unavailable_text",
    )
}

/// The role may not use this page.
pub fn forbidden(t: Tr, session: Option<&Session>, uri: &Uri) -> Response {
    error(
        StatusCode::FORBIDDEN,
        t,
        session,
        uri,
        "error.forbidden",
        "error.forbidden_text",
    )
}

/// A form arrived without this session's token.
pub fn bad_token(t: Tr, session: Option<&Session>, uri: &Uri) -> Response {
    error(
        StatusCode::FORBIDDEN,
        t,
        session,
        uri,
        "error.csrf",
        "error.csrf_text",
    )
}

/// Why a page that needs a usable session cannot be shown yet.
pub enum NotYet {
    /// Not logged in.
    Login,
    /// Waiting for the four-eyes confirmation.
    Confirm,
}

impl IntoResponse for NotYet {
    fn into_response(self) -> Response {
        match self {
            NotYet::Login => redirect("/login"),
            NotYet::Confirm => redirect("/login/confirm"),
        }
    }
}

/// The session of a page that needs one, or where to send the browser.
pub fn granted(web: &Web, headers: &HeaderMap) -> Result<(String, Session), NotYet> {
    match guard::access(web, headers) {
        Access::Granted(id, s) => Ok((id, *s)),
        Access::Login => Err(NotYet::Login),
        Access::Confirm => Err(NotYet::Confirm),
    }
}

/// The session and language of a page only some roles may use (`allowed`),
/// or the answer to send instead: the login, or the forbidden page.
pub fn allowed_page(
    web: &Web,
    headers: &HeaderMap,
    uri: &Uri,
    allowed: impl Fn(&Session) -> bool,
) -> Result<(Session, Tr), Box<Response>> {
    let (_, s) = granted(web, headers).map_err(|r| Box::new(r.into_response()))?;
    let t = guard::tr(headers, Some(&s));
    if !allowed(&s) {
        return Err(Box::new(forbidden(t, Some(&s), uri)));
    }
    Ok((s, t))
}

/// As [`allowed_page`] for a form's POST, which must also carry the
/// session's CSRF token: a form without it is recorded as `denied`
/// (naming `what`) and refused before the role is looked at.
pub async fn allowed_form(
    web: &Web,
    headers: &HeaderMap,
    uri: &Uri,
    csrf: &str,
    what: &str,
    allowed: impl Fn(&Session) -> bool,
) -> Result<(Session, Tr), Box<Response>> {
    let (_, s) = granted(web, headers).map_err(|r| Box::new(r.into_response()))?;
    let t = guard::tr(headers, Some(&s));
    if !guard::csrf_ok(&s, csrf) {
        if !crate::web::lifecycle::forged(web, &s, what).await {
            return Err(Box::new(unavailable(t, Some(&s), uri)));
        }
        return Err(Box::new(bad_token(t, Some(&s), uri)));
    }
    if !allowed(&s) {
        return Err(Box::new(forbidden(t, Some(&s), uri)));
    }
    Ok((s, t))
}

async fn home(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    match guard::access(&web, &headers) {
        Access::Granted(_, s) if s.role.reads_mail() => redirect("/search"),
        Access::Granted(_, s) if s.role.reads_audit() => redirect("/audit"),
        Access::Granted(_, _) => redirect("/status"),
        Access::Login => redirect("/login"),
        Access::Confirm => redirect("/login/confirm"),
    }
}

#[derive(Deserialize)]
struct Back {
    back: Option<String>,
}

async fn switch_lang(
    State(web): State<Arc<Web>>,
    Path(code): Path<String>,
    Query(back): Query<Back>,
    headers: HeaderMap,
) -> Response {
    let Some(lang) = Lang::parse(&code).filter(|l| l.code() == code) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Some((id, _)) = guard::session(&web, &headers) {
        web.sessions.set_lang(&id, lang);
    }
    // Only a path on this site: never an open redirect.
    let back = back
        .back
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/".into());
    let mut r = redirect(&back);
    if let Ok(v) = HeaderValue::from_str(&guard::set_cookie(
        guard::LANG_COOKIE,
        lang.code(),
        Some(365 * 24 * 3600),
    )) {
        r.headers_mut().append(SET_COOKIE, v);
    }
    r
}

async fn fallback(State(web): State<Arc<Web>>, headers: HeaderMap, uri: Uri) -> Response {
    let s = guard::session(&web, &headers).map(|(_, s)| s);
    not_found(guard::tr(&headers, s.as_ref()), s.as_ref(), &uri)
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", include_str!("../static/app.css"))
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../static/app.js"),
    )
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                axum::http::header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}
