//! The audit trail as a page with filters, and as CSV. Reading the trail
//! is itself recorded.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Chrome, When, forbidden, granted, html, unavailable, when};
use crate::archive::audit::{AuditEvent, action};
use crate::archive::record::RecordBody;
use crate::web::Web;
use crate::web::guard;
use crate::web::session::Session;
use crate::web::trail;

/// Most rows a page or CSV holds (newest first).
const MAX_ROWS: usize = 5_000;

/// The filters.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    /// First day, `YYYY-MM-DD`.
    pub since: String,
    /// Actor name contains this.
    pub user: String,
    /// Action is exactly this.
    pub action: String,
}

/// One audit record as listed.
pub struct AuditRow {
    /// Record id.
    pub seq: u64,
    /// When.
    pub date: When,
    /// Who.
    pub actor: String,
    /// The year's audit key is destroyed: who, from where and what are
    /// gone (the action and its outcome stay).
    pub purged: bool,
    /// `web` or `cli`.
    pub via: String,
    /// What.
    pub action: String,
    /// Allowed or not.
    pub outcome: String,
    /// From where.
    pub peer: String,
    /// Query, records and detail in one line.
    pub what: String,
}

fn row(seq: u64, time: &str, e: &AuditEvent) -> AuditRow {
    let mut what = Vec::new();
    if let Some(q) = &e.query {
        what.push(format!("query: {q}"));
    }
    if !e.records.is_empty() {
        let shown: Vec<String> = e.records.iter().take(20).map(u64::to_string).collect();
        let more = e.records.len().saturating_sub(20);
        what.push(format!(
            "records: {}{}",
            shown.join(","),
            if more > 0 {
                format!(" +{more}")
            } else {
                String::new()
            }
        ));
    }
    if let Some(d) = &e.detail {
        what.push(d.clone());
    }
    AuditRow {
        seq,
        date: when(time),
        actor: e.actor.clone(),
        purged: e.purged(),
        via: e.via.clone(),
        action: e.action.clone(),
        outcome: e.outcome.clone(),
        peer: e.peer.clone().unwrap_or_default(),
        what: what.join("; "),
    }
}

/// The matching audit records, newest first.
fn load(web: &Web, f: &AuditFilter) -> Result<Vec<AuditRow>, crate::archive::ArchiveError> {
    let reader = web.store.archive().reader();
    let mut rows = Vec::new();
    let summaries = reader.summaries()?;
    for s in summaries.iter().rev() {
        if s.kind != "audit" {
            continue;
        }
        if !f.since.is_empty() && s.time.get(..10).is_some_and(|d| d < f.since.as_str()) {
            break;
        }
        let (record, _) = reader.record(s.seq)?;
        let RecordBody::Audit(e) = &record.body else {
            continue;
        };
        let user_ok = f.user.is_empty() || e.actor.to_lowercase().contains(&f.user.to_lowercase());
        let action_ok = f.action.is_empty() || e.action == f.action;
        if user_ok && action_ok {
            rows.push(row(record.seq, &record.time, e));
            if rows.len() >= MAX_ROWS {
                break;
            }
        }
    }
    Ok(rows)
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    filter: AuditFilter,
    rows: Vec<AuditRow>,
    count_text: String,
    csv_link: String,
}

async fn rows_for(
    web: &Arc<Web>,
    s: &Session,
    f: &AuditFilter,
    how: &str,
) -> Option<Vec<AuditRow>> {
    let web2 = Arc::clone(web);
    let f2 = f.clone();
    let rows = tokio::task::spawn_blocking(move || load(&web2, &f2))
        .await
        .ok()?
        .inspect_err(|e| tracing::error!(error = %e, "reading the audit trail failed"))
        .ok()?;
    let mut event = trail::by(s, action::AUDIT_READ);
    event.detail = Some(format!(
        "{how}: since {:?} user {:?} action {:?}, {} rows",
        f.since,
        f.user,
        f.action,
        rows.len()
    ));
    web.trail.record(event).await.ok()?;
    Some(rows)
}

/// `GET /audit`.
pub async fn page(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    uri: Uri,
    Query(f): Query<AuditFilter>,
) -> Response {
    let (_, s) = match granted(&web, &headers) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let t = guard::tr(&headers, Some(&s));
    if !s.role.reads_audit() {
        return forbidden(t, Some(&s), &uri);
    }
    let Some(rows) = rows_for(&web, &s, &f, "page").await else {
        return unavailable(t, Some(&s), &uri);
    };
    let csv_link = format!("/audit.csv?{}", uri.query().unwrap_or_default());
    html(
        StatusCode::OK,
        &AuditPage {
            c: Chrome::new(t, Some(&s), "audit.title", &uri),
            count_text: t.f("audit.count", &[&rows.len()]),
            rows,
            filter: f,
            csv_link,
        },
    )
}

fn csv_field(s: &str) -> String {
    // A leading = + - @ would be a formula in a spreadsheet.
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `GET /audit.csv`.
pub async fn csv(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    uri: Uri,
    Query(f): Query<AuditFilter>,
) -> Response {
    let (_, s) = match granted(&web, &headers) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let t = guard::tr(&headers, Some(&s));
    if !s.role.reads_audit() {
        return forbidden(t, Some(&s), &uri);
    }
    let Some(rows) = rows_for(&web, &s, &f, "csv").await else {
        return unavailable(t, Some(&s), &uri);
    };
    let mut out = String::from("record,time,actor,via,action,outcome,peer,what\r\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\r\n",
            r.seq,
            csv_field(&r.date.iso),
            csv_field(&r.actor),
            csv_field(&r.via),
            csv_field(&r.action),
            csv_field(&r.outcome),
            csv_field(&r.peer),
            csv_field(&r.what)
        ));
    }
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"mailseal-audit.csv\""),
            ),
        ],
        out,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert_eq!(csv_field("=SUM(A1)"), "\"'=SUM(A1)\"");
    }
}
