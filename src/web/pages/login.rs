//! Login, the four-eyes confirmation, and logout; each leaves an audit
//! record before the browser gets its answer.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::{Chrome, bad_token, html, redirect, unavailable};
use crate::archive::audit::action;
use crate::web::Web;
use crate::web::auth::{self, Refusal};
use crate::web::guard::{self, PRELOGIN_COOKIE, SESSION_COOKIE, set_cookie};
use crate::web::limiter::{FailureNote, Verdict};
use crate::web::role::Scope;
use crate::web::session::{NewSession, SessionState, random_token, same_secret};
use crate::web::trail;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    pre: String,
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    c: Chrome,
    explain: String,
    csrf: String,
    error: Option<&'static str>,
}

/// The login form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    /// The pre-login token, paired with its cookie.
    #[serde(default)]
    pre: String,
    /// The login name.
    #[serde(default)]
    user: String,
    /// The password.
    #[serde(default)]
    password: String,
}

/// A form with only the CSRF token.
#[derive(Deserialize)]
pub struct TokenForm {
    /// The session's CSRF token.
    #[serde(default)]
    csrf: String,
}

fn login_page(
    status: StatusCode,
    headers: &HeaderMap,
    uri: &Uri,
    error: Option<&'static str>,
) -> Response {
    let t = guard::tr(headers, None);
    let pre = random_token();
    let mut r = html(
        status,
        &LoginPage {
            c: Chrome::new(t, None, "login.title", uri),
            pre: pre.clone(),
            error,
        },
    );
    if let Ok(v) = HeaderValue::from_str(&set_cookie(PRELOGIN_COOKIE, &pre, None)) {
        r.headers_mut().append(SET_COOKIE, v);
    }
    r
}

/// `GET /login`.
pub async fn form(State(web): State<Arc<Web>>, headers: HeaderMap, uri: Uri) -> Response {
    if guard::session(&web, &headers).is_some() {
        return redirect("/");
    }
    login_page(StatusCode::OK, &headers, &uri, None)
}

/// `POST /login`.
pub async fn submit(
    State(web): State<Arc<Web>>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<LoginForm>,
) -> Response {
    let peer = addr.ip();
    let pre_ok = guard::cookie(&headers, PRELOGIN_COOKIE).is_some_and(|c| same_secret(c, &f.pre));
    if !pre_ok {
        return login_page(StatusCode::FORBIDDEN, &headers, &uri, Some("login.expired"));
    }
    let users = match web.users() {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "users file unreadable; nobody can log in");
            return unavailable(guard::tr(&headers, None), None, &uri);
        }
    };
    let user = users.get(&f.user);
    let verdict = web.limiter.check(peer, &f.user);
    let checked = match verdict {
        Verdict::LockedOut => Err(Refusal::LockedOut),
        Verdict::Allowed => auth::check(user, &f.password, web.settings.imap_login.as_ref()).await,
    };
    let user = match (checked, user) {
        (Ok(()), Some(u)) => u,
        (result, _) => {
            let refusal = result.err().unwrap_or(Refusal::Unknown);
            tracing::info!(%peer, reason = refusal.as_str(), "web login refused");
            if web.limiter.failed(peer, &f.user) == FailureNote::Record {
                let mut event = trail::anonymous(peer, &f.user, action::LOGIN_FAILED);
                event.detail = Some(refusal.as_str().to_owned());
                if web.trail.record(event).await.is_err() {
                    return unavailable(guard::tr(&headers, None), None, &uri);
                }
            }
            let message = if refusal == Refusal::LockedOut {
                "login.locked"
            } else {
                "login.failed"
            };
            return login_page(StatusCode::UNAUTHORIZED, &headers, &uri, Some(message));
        }
    };
    web.limiter.succeeded(&user.name);
    let needs_second = user.four_eyes;
    let (id, session) = web.sessions.create(NewSession {
        user: user.name.clone(),
        role: user.role,
        scope: Scope::of(user.role, &user.addresses, &user.mail_logins, &user.domains),
        needs_second,
        peer,
        lang: guard::cookie(&headers, guard::LANG_COOKIE).and_then(crate::web::i18n::Lang::parse),
    });
    let mut event = trail::by(&session, action::LOGIN);
    if needs_second {
        event.detail = Some("four eyes: waiting for a second person".into());
    }
    if web.trail.record(event).await.is_err() {
        web.sessions.remove(&id);
        return unavailable(guard::tr(&headers, None), None, &uri);
    }
    let mut r = redirect(if needs_second { "/login/confirm" } else { "/" });
    for cookie in [
        set_cookie(SESSION_COOKIE, &id, None),
        set_cookie(PRELOGIN_COOKIE, "", Some(0)),
    ] {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            r.headers_mut().append(SET_COOKIE, v);
        }
    }
    r
}

/// `GET /login/confirm`: the second person's form.
pub async fn confirm_form(State(web): State<Arc<Web>>, headers: HeaderMap, uri: Uri) -> Response {
    match guard::session(&web, &headers) {
        Some((_, s)) if s.state == SessionState::AwaitingSecond => {
            confirm_page(StatusCode::OK, &headers, &uri, &s, None)
        }
        Some(_) => redirect("/"),
        None => redirect("/login"),
    }
}

fn confirm_page(
    status: StatusCode,
    headers: &HeaderMap,
    uri: &Uri,
    s: &crate::web::session::Session,
    error: Option<&'static str>,
) -> Response {
    let t = guard::tr(headers, Some(s));
    html(
        status,
        &ConfirmPage {
            c: Chrome::new(t, None, "confirm.title", uri),
            explain: t.f("confirm.explain", &[&s.user]),
            csrf: s.csrf.clone(),
            error,
        },
    )
}

/// `POST /login/confirm`: a second person with their own password.
pub async fn confirm(
    State(web): State<Arc<Web>>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<ConfirmForm>,
) -> Response {
    let Some((id, s)) = guard::session(&web, &headers) else {
        return redirect("/login");
    };
    if s.state != SessionState::AwaitingSecond {
        return redirect("/");
    }
    if !guard::csrf_ok(&s, &f.csrf) {
        return bad_token(guard::tr(&headers, Some(&s)), None, &uri);
    }
    let peer = addr.ip();
    let users = web.users().unwrap_or_default();
    let second = users
        .get(&f.user)
        .filter(|u| !u.name.eq_ignore_ascii_case(&s.user) && u.role.confirms_sessions());
    let checked = match web.limiter.check(peer, &f.user) {
        Verdict::LockedOut => Err(Refusal::LockedOut),
        Verdict::Allowed => {
            auth::check(second, &f.password, web.settings.imap_login.as_ref()).await
        }
    };
    let Some(second) = second.filter(|_| checked.is_ok()) else {
        let refusal = checked.err().unwrap_or(Refusal::Unknown);
        if web.limiter.failed(peer, &f.user) == FailureNote::Record {
            let mut event = trail::by(&s, action::LOGIN_FAILED);
            event.outcome = "failed".into();
            event.detail = Some(format!(
                "four eyes: {} could not confirm ({})",
                f.user.chars().take(128).collect::<String>(),
                refusal.as_str()
            ));
            if web.trail.record(event).await.is_err() {
                return unavailable(guard::tr(&headers, Some(&s)), None, &uri);
            }
        }
        return confirm_page(
            StatusCode::UNAUTHORIZED,
            &headers,
            &uri,
            &s,
            Some("confirm.failed"),
        );
    };
    let Some(confirmed) = web.sessions.confirm(&id, &second.name) else {
        return redirect("/login");
    };
    let mut event = trail::by(&confirmed, action::LOGIN_CONFIRMED);
    event.detail = Some(format!("confirmed by {}", second.name));
    if web.trail.record(event).await.is_err() {
        web.sessions.remove(&id);
        return unavailable(guard::tr(&headers, None), None, &uri);
    }
    redirect("/")
}

/// The confirmation form's fields.
#[derive(Deserialize)]
pub struct ConfirmForm {
    /// The session's CSRF token.
    #[serde(default)]
    csrf: String,
    /// The second person's login name.
    #[serde(default)]
    user: String,
    /// Their password.
    #[serde(default)]
    password: String,
}

/// `POST /logout`.
pub async fn logout(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<TokenForm>,
) -> Response {
    let Some((id, s)) = guard::session(&web, &headers) else {
        return redirect("/login");
    };
    if !guard::csrf_ok(&s, &f.csrf) {
        return bad_token(guard::tr(&headers, Some(&s)), Some(&s), &uri);
    }
    web.sessions.remove(&id);
    if web
        .trail
        .record(trail::by(&s, action::LOGOUT))
        .await
        .is_err()
    {
        return unavailable(guard::tr(&headers, None), None, &uri);
    }
    let mut r = redirect("/login");
    if let Ok(v) = HeaderValue::from_str(&set_cookie(SESSION_COOKIE, "", Some(0))) {
        r.headers_mut().append(SET_COOKIE, v);
    }
    r
}
