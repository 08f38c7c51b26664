//! The status page (archive figures, seal, sessions, disk) and the users
//! list, for admins and auditors.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::search::human_size;
use super::{Chrome, forbidden, granted, html, role_key, unavailable};
use crate::web::Web;
use crate::web::guard;

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    c: Chrome,
    rows: Vec<(&'static str, String)>,
    sources: Vec<(String, u64, String)>,
    /// Listeners with `expect_mail_within`: name, expected, last mail, silent.
    expected: Vec<(String, String, String, bool)>,
}

/// `GET /status`.
pub async fn status(State(web): State<Arc<Web>>, headers: HeaderMap, uri: Uri) -> Response {
    let (_, s) = match granted(&web, &headers) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let t = guard::tr(&headers, Some(&s));
    if !s.role.sees_status() {
        return forbidden(t, Some(&s), &uri);
    }
    let store = Arc::clone(&web.store);
    let Ok(Ok(st)) = tokio::task::spawn_blocking(move || store.stats()).await else {
        return unavailable(t, Some(&s), &uri);
    };
    let path = web.store.archive().options().path.clone();
    let free = fs2::available_space(&path).map_or_else(|_| "?".into(), human_size);
    let seal = match &st.last_seal {
        Some(seal) => t.f("proof.sealed", &[&seal.seq, &seal.time]),
        None => t.t("proof.unsealed").to_owned(),
    };
    let rows = vec![
        ("status.records", st.records.to_string()),
        ("status.messages", st.messages.to_string()),
        ("status.bytes", human_size(st.message_bytes)),
        ("status.stored", human_size(st.segment_bytes)),
        ("status.head", format!("{} · {}", st.head_seq, st.head_hash)),
        ("status.last_seal", seal),
        ("status.disk_free", free),
        ("status.sessions", web.sessions.count().to_string()),
    ];
    let sources = st
        .by_source
        .iter()
        .map(|(k, v)| (k.clone(), v.messages, human_size(v.bytes)))
        .collect();
    let expected = crate::health::HealthState::installed()
        .map(|h| h.report(std::time::SystemTime::now()).sources)
        .unwrap_or_default()
        .into_iter()
        .map(|src| {
            let ago = |secs: u64| humantime::format_duration(std::time::Duration::from_secs(secs));
            let last = src.last_mail_age_seconds.map_or_else(
                || t.t("status.no_mail_yet").to_owned(),
                |a| t.f("status.ago", &[&ago(a)]),
            );
            (
                src.name,
                ago(src.expect_mail_within_seconds).to_string(),
                last,
                src.silent,
            )
        })
        .collect();
    html(
        StatusCode::OK,
        &StatusPage {
            c: Chrome::new(t, Some(&s), "status.title", &uri),
            rows,
            sources,
            expected,
        },
    )
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    c: Chrome,
    rows: Vec<(String, &'static str, &'static str, &'static str, String)>,
}

/// `GET /users`: who may log in (changes go through `mailseal user`).
pub async fn users(State(web): State<Arc<Web>>, headers: HeaderMap, uri: Uri) -> Response {
    let (_, s) = match granted(&web, &headers) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let t = guard::tr(&headers, Some(&s));
    if s.role != crate::web::role::Role::Admin {
        return forbidden(t, Some(&s), &uri);
    }
    let Ok(users) = web.users() else {
        return unavailable(t, Some(&s), &uri);
    };
    let rows = users
        .users
        .iter()
        .map(|u| {
            let mut scope: Vec<String> = u.addresses.clone();
            scope.extend(u.mail_logins.iter().map(|l| format!("login {l}")));
            scope.extend(u.domains.iter().map(|d| format!("@{d}")));
            if u.four_eyes {
                scope.push("four eyes".into());
            }
            (
                u.name.clone(),
                role_key(u.role),
                u.login.as_str(),
                if u.disabled {
                    "users.disabled"
                } else {
                    "users.enabled"
                },
                scope.join(", "),
            )
        })
        .collect();
    html(
        StatusCode::OK,
        &UsersPage {
            c: Chrome::new(t, Some(&s), "users.title", &uri),
            rows,
        },
    )
}
