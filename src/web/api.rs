//! The JSON API on the web listener, for scripts and for the pages to
//! build on: `GET /api/v1/search?q=&limit=&cursor=&sort=`,
//! `GET /api/v1/messages/{id}` and `GET /api/v1/messages/{id}/raw`.
//!
//! It is the web interface without HTML: the same session cookie, the same
//! roles and scope (a message outside the scope is a 404 like one that does
//! not exist), and the same audit records, durable before the answer is
//! sent. Errors are `{"error": code, "message": text}` with the text in the
//! session's language.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Web;
use super::guard::{self, Access};
use super::i18n::Tr;
use super::mail::{Found, MailError, Sort, Stored};
use super::session::Session;
use super::trail;
use crate::archive::audit::action;
use crate::archive::index::Summary;

/// Hits per page when the request names no `limit`.
const DEFAULT_LIMIT: usize = 50;

/// Most hits per page.
const MAX_LIMIT: usize = 1_000;

/// An API error: a stable code for programs, a sentence for people.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, t: Tr, key: &str) -> ApiError {
        ApiError {
            status,
            code,
            message: t.t(key).to_owned(),
        }
    }

    fn unavailable(t: Tr) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            t,
            "api.unavailable",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "message": self.message });
        (self.status, Json(body)).into_response()
    }
}

/// The logged-in session of a mail reader, or the error to answer.
fn reader(web: &Web, headers: &HeaderMap) -> Result<Session, ApiError> {
    let t = guard::tr(headers, None);
    let s = match guard::access(web, headers) {
        Access::Granted(_, s) => *s,
        Access::Login => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "login",
                t,
                "api.login",
            ));
        }
        Access::Confirm => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "confirm",
                t,
                "api.confirm",
            ));
        }
    };
    if !s.role.reads_mail() {
        let t = guard::tr(headers, Some(&s));
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            t,
            "error.forbidden_text",
        ));
    }
    Ok(s)
}

/// `GET /api/v1/search` parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SearchParams {
    /// The query (`docs/search.md`); empty for every message in scope.
    q: String,
    /// Hits per page (default 50, at most 1,000).
    limit: Option<usize>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
    /// `-date` (default), `date` or `relevance`.
    sort: String,
}

/// One hit of the search answer.
#[derive(Debug, Serialize)]
struct ApiHit {
    /// The record id (`/api/v1/messages/{id}`).
    id: u64,
    /// The listing columns, as `mailseal search --json` prints them.
    summary: Summary,
    /// Whether the message has an attachment.
    attachment: bool,
    /// Text around the matched words, and their byte ranges in it.
    highlight: Option<Highlight>,
}

/// A snippet with its matches.
#[derive(Debug, Serialize)]
struct Highlight {
    /// The excerpt.
    text: String,
    /// `[start, end)` byte ranges of matched words in `text`.
    ranges: Vec<(usize, usize)>,
}

/// `GET /api/v1/search`.
pub async fn search(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(params): Query<SearchParams>,
) -> Response {
    let s = match reader(&web, &headers) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let t = guard::tr(&headers, Some(&s));
    let sort = match params.sort.as_str() {
        "" => Sort::NewestFirst,
        "-date" | "date" | "relevance" => Sort::parse(&params.sort),
        _ => {
            return ApiError::new(StatusCode::BAD_REQUEST, "sort", t, "api.sort").into_response();
        }
    };
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let store = Arc::clone(&web.store);
    let (q, scope, cursor) = (params.q.clone(), s.scope.clone(), params.cursor.clone());
    let result = tokio::task::spawn_blocking(move || {
        store.find_after(&q, &scope, sort, cursor.as_deref(), limit)
    })
    .await;
    let mut event = trail::by(&s, action::SEARCH);
    event.query = Some(params.q.clone());
    let answer = match result {
        Ok(Ok(found)) => {
            event.detail = Some(format!("{} results (API)", found.total));
            Ok(found)
        }
        Ok(Err(MailError::Query(message))) => {
            event.outcome = "failed".into();
            event.detail = Some(message.clone());
            Err(ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "query",
                message,
            })
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "API search failed");
            return ApiError::unavailable(t).into_response();
        }
        Err(_) => return ApiError::unavailable(t).into_response(),
    };
    if web.trail.record(event).await.is_err() {
        return ApiError::unavailable(t).into_response();
    }
    match answer {
        Ok(found) => Json(page(found)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The JSON of one page.
fn page(found: Found) -> serde_json::Value {
    let hits: Vec<ApiHit> = found
        .hits
        .into_iter()
        .map(|h| ApiHit {
            id: h.summary.seq,
            summary: h.summary,
            attachment: h.attachment,
            highlight: h.snippet.map(|(text, ranges)| Highlight { text, ranges }),
        })
        .collect();
    json!({
        "total": found.total,
        "hits": hits,
        "next_cursor": found.next_cursor,
        "indexed": found.indexed,
    })
}

/// Opens message `id` for `s`, or answers 404 (recording the attempt)
/// when it is missing or outside the scope.
async fn open(web: &Arc<Web>, s: &Session, id: &str, t: Tr, uri: &Uri) -> Result<Stored, ApiError> {
    let seq = id.parse::<u64>().ok();
    let store = Arc::clone(&web.store);
    let found = match seq {
        Some(seq) => tokio::task::spawn_blocking(move || store.open(seq))
            .await
            .map_err(|_| ApiError::unavailable(t))?
            .map_err(|e| {
                tracing::error!(error = %e, "message lookup failed");
                ApiError::unavailable(t)
            })?,
        None => None,
    };
    match found {
        Some(m) if s.scope.allows(&m.facts()) => Ok(m),
        _ => {
            if !trail::denied(web, s, seq, uri.path()).await {
                return Err(ApiError::unavailable(t));
            }
            Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not-found",
                t,
                "error.not_found_text",
            ))
        }
    }
}

/// `GET /api/v1/messages/{id}`: the record (envelope, journal report,
/// IMAP/POP3 context), its chain hash and the seal that covers it.
pub async fn message(
    State(web): State<Arc<Web>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let s = match reader(&web, &headers) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let t = guard::tr(&headers, Some(&s));
    let m = match open(&web, &s, &id, t, &uri).await {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let store = Arc::clone(&web.store);
    let seq = m.record.seq;
    let seal = tokio::task::spawn_blocking(move || store.covering_seal(seq)).await;
    let Ok(Ok(seal)) = seal else {
        return ApiError::unavailable(t).into_response();
    };
    if !trail::accessed(&web, &s, action::VIEW, seq, "API").await {
        return ApiError::unavailable(t).into_response();
    }
    let body = json!({
        "id": seq,
        "record_hash": m.hash,
        "prev_hash": m.record.prev_hash,
        "summary": m.summary,
        "meta": m.meta(),
        "sealed_by": seal.map(|s| json!({ "seq": s.seq, "time": s.time, "root": s.root })),
        "raw": format!("/api/v1/messages/{seq}/raw"),
    });
    Json(body).into_response()
}

/// `GET /api/v1/messages/{id}/raw`: the archived bytes, exactly.
pub async fn raw(
    State(web): State<Arc<Web>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let s = match reader(&web, &headers) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let t = guard::tr(&headers, Some(&s));
    let m = match open(&web, &s, &id, t, &uri).await {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let Some(bytes) = web.message_bytes(&m).await else {
        return ApiError::unavailable(t).into_response();
    };
    if !trail::accessed(
        &web,
        &s,
        action::DOWNLOAD,
        m.record.seq,
        "original .eml (API)",
    )
    .await
    {
        return ApiError::unavailable(t).into_response();
    }
    let disposition = format!("attachment; filename=\"{}.eml\"", m.record.seq);
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("message/rfc822"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    response
}
