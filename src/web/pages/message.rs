//! The message page, its sanitised HTML body, the `.eml` download and
//! attachment downloads. A message that does not exist and one outside the
//! person's scope get the same 404, and both leave an audit record.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Chrome, When, forbidden, gone, granted, html, not_found, unavailable, when};
use crate::archive::audit::action;
use crate::web::Web;
use crate::web::guard;
use crate::web::mail::Stored;
use crate::web::message::{self, Attachment, VIEW_LIMIT};
use crate::web::sanitize;
use crate::web::session::Session;
use crate::web::trail;

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    c: Chrome,
    id: u64,
    subject: String,
    headers: Vec<(&'static str, String)>,
    received: When,
    source: String,
    envelope: String,
    journal: Vec<(String, String)>,
    attachments: Vec<Attachment>,
    too_large: bool,
    has_html: bool,
    blocked_images: usize,
    blocked_text: String,
    images: bool,
    text: Option<String>,
    sha256: String,
    size: u64,
    record_hash: String,
    prev_hash: String,
    chain_text: String,
    seal_text: String,
    public_key: String,
    /// Offer the links to place a hold and to ask for deletion.
    manage: bool,
}

/// `?images=1` lets remote images load.
#[derive(Deserialize, Default)]
pub struct Images {
    /// `1` to allow remote images.
    #[serde(default)]
    images: Option<String>,
}

impl Images {
    fn allowed(&self) -> bool {
        self.images.as_deref() == Some("1")
    }
}

/// Opens message `id` for `session`, or answers 404 (and records the
/// attempt) when it is missing or outside the scope.
async fn open(
    web: &Arc<Web>,
    s: &Session,
    id: &str,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Stored, Response> {
    let t = guard::tr(headers, Some(s));
    if !s.role.reads_mail() {
        return Err(forbidden(t, Some(s), uri));
    }
    let seq = id.parse::<u64>().ok();
    let store = Arc::clone(&web.store);
    let found = match seq {
        Some(seq) => tokio::task::spawn_blocking(move || store.open(seq))
            .await
            .map_err(|_| unavailable(t, Some(s), uri))?
            .map_err(|e| {
                tracing::error!(error = %e, "message lookup failed");
                unavailable(t, Some(s), uri)
            })?,
        None => None,
    };
    match found {
        Some(m) if s.scope.allows(&m.facts()) && m.summary.purged.is_some() => {
            Err(gone(t, Some(s), uri))
        }
        Some(m) if s.scope.allows(&m.facts()) => Ok(m),
        _ => {
            if !trail::denied(web, s, seq, uri.path()).await {
                return Err(unavailable(t, Some(s), uri));
            }
            Err(not_found(t, Some(s), uri))
        }
    }
}

/// `GET /message/{id}`.
pub async fn page(
    State(web): State<Arc<Web>>,
    Path(id): Path<String>,
    Query(images): Query<Images>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (_, s) = match granted(&web, &headers) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let t = guard::tr(&headers, Some(&s));
    let m = match open(&web, &s, &id, &headers, &uri).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let seq = m.record.seq;
    let too_large = m.summary.size > VIEW_LIMIT;
    let view = if too_large {
        message::View::default()
    } else {
        match web.message_bytes(&m).await {
            Some(b) => message::view(&b),
            None => return unavailable(t, Some(&s), &uri),
        }
    };
    let clean = view
        .html
        .as_deref()
        .map(|h| sanitize::clean(h, images.allowed()));
    let store = Arc::clone(&web.store);
    // The head only: `stats` walks every record, which a page view must not.
    let (seal, head) = tokio::task::spawn_blocking(move || {
        (
            store.covering_seal(seq).ok().flatten(),
            store.head_seq().ok(),
        )
    })
    .await
    .unwrap_or((None, None));
    if !trail::accessed(&web, &s, action::VIEW, seq, "message page").await {
        return unavailable(t, Some(&s), &uri);
    }
    let Some(meta) = m.meta() else {
        return not_found(t, Some(&s), &uri);
    };
    let mut journal = Vec::new();
    if let Some(j) = &meta.journal {
        if let Some(sender) = &j.sender {
            journal.push(("Sender".to_owned(), sender.clone()));
        }
        for r in &j.recipients {
            let mut v = r.address.clone();
            if !r.expanded.is_empty() {
                v.push_str(&format!(" (Expanded: {})", r.expanded.join(", ")));
            }
            if let Some(f) = &r.forwarded {
                v.push_str(&format!(" (Forwarded: {f})"));
            }
            journal.push((r.field.to_ascii_uppercase(), v));
        }
    }
    let rcpts: Vec<&str> = meta.rcpts.iter().map(|r| r.address.as_str()).collect();
    let head = head.unwrap_or(seq);
    let page = MessagePage {
        c: Chrome::new(t, Some(&s), "message.title", &uri),
        id: seq,
        subject: m.summary.headers.subject.clone().unwrap_or_default(),
        headers: view.headers,
        received: when(&m.record.time),
        source: format!("{} ({})", meta.source.kind.as_str(), meta.source.name),
        envelope: format!(
            "MAIL FROM:<{}> RCPT TO:<{}>",
            meta.mail_from.as_deref().unwrap_or(""),
            rcpts.join(">, <")
        ),
        journal,
        attachments: view.attachments,
        too_large,
        has_html: clean.is_some(),
        blocked_images: clean.as_ref().map_or(0, |c| c.blocked_images),
        blocked_text: t.f(
            "message.images_blocked",
            &[&clean.as_ref().map_or(0, |c| c.blocked_images)],
        ),
        images: images.allowed(),
        text: view.text,
        sha256: meta.content.sha256.clone(),
        size: meta.content.size,
        record_hash: m.hash.clone(),
        prev_hash: m.record.prev_hash.clone(),
        chain_text: t.f("proof.chain_text", &[&seq, &head]),
        seal_text: match seal {
            Some(seal) => t.f("proof.sealed", &[&seal.seq, &seal.time]),
            None => t.t("proof.unsealed").to_owned(),
        },
        public_key: hex::encode(web.store.archive().public_key().as_bytes()),
        manage: s.role.holds() && crate::web::role::MAY_REQUEST_PURGE.contains(&s.role),
    };
    html(StatusCode::OK, &page)
}

/// `GET /message/{id}/body`: the sanitised HTML body, under its own CSP,
/// for the sandboxed frame.
pub async fn body(
    State(web): State<Arc<Web>>,
    Path(id): Path<String>,
    Query(images): Query<Images>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (_, s) = match granted(&web, &headers) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let t = guard::tr(&headers, Some(&s));
    let m = match open(&web, &s, &id, &headers, &uri).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    if m.summary.size > VIEW_LIMIT {
        return not_found(t, Some(&s), &uri);
    }
    let Some(b) = web.message_bytes(&m).await else {
        return unavailable(t, Some(&s), &uri);
    };
    let html_body = message::view(&b).html.unwrap_or_default();
    let clean = sanitize::clean(&html_body, images.allowed());
    let detail = if images.allowed() {
        "html body, remote images allowed"
    } else {
        "html body"
    };
    if !trail::accessed(&web, &s, action::VIEW, m.record.seq, detail).await {
        return unavailable(t, Some(&s), &uri);
    }
    let doc = format!(
        "<!doctype html><meta charset=\"utf-8\"><base target=\"_blank\">{}",
        clean.html
    );
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(sanitize::body_csp(images.allowed())),
            ),
        ],
        doc,
    )
        .into_response()
}

/// `GET /message/{id}/raw`: the archived bytes, exactly.
pub async fn raw(
    State(web): State<Arc<Web>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (_, s) = match granted(&web, &headers) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let t = guard::tr(&headers, Some(&s));
    let m = match open(&web, &s, &id, &headers, &uri).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let Some(b) = web.message_bytes(&m).await else {
        return unavailable(t, Some(&s), &uri);
    };
    if !trail::accessed(&web, &s, action::DOWNLOAD, m.record.seq, "original .eml").await {
        return unavailable(t, Some(&s), &uri);
    }
    download(b, "message/rfc822", &format!("{}.eml", m.record.seq))
}

/// `GET /message/{id}/attachment/{n}`.
pub async fn attachment(
    State(web): State<Arc<Web>>,
    Path((id, n)): Path<(String, usize)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (_, s) = match granted(&web, &headers) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let t = guard::tr(&headers, Some(&s));
    let m = match open(&web, &s, &id, &headers, &uri).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let Some(b) = web.message_bytes(&m).await else {
        return unavailable(t, Some(&s), &uri);
    };
    let Some((a, data)) = message::attachment(&b, n) else {
        return not_found(t, Some(&s), &uri);
    };
    let detail = format!("attachment {}: {} ({} bytes)", n, a.name, a.size);
    if !trail::accessed(&web, &s, action::DOWNLOAD, m.record.seq, &detail).await {
        return unavailable(t, Some(&s), &uri);
    }
    // Always a download, never rendered here: an HTML attachment must not
    // run in this site's origin.
    download(data, "application/octet-stream", &a.name)
}

/// A file download with a safe file name.
pub fn download(data: Vec<u8>, kind: &'static str, name: &str) -> Response {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    let disposition = format!(
        "attachment; filename=\"{safe}\"; filename*=UTF-8''{}",
        super::percent(name)
    );
    let mut r = ([(CONTENT_TYPE, HeaderValue::from_static(kind))], data).into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        r.headers_mut().insert(CONTENT_DISPOSITION, v);
    }
    r
}
