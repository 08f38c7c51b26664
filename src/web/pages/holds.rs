//! The legal holds page (`/holds`): every case, active or released, with
//! its records and who placed and released it; a form to place a hold by
//! search or by record ids, and one to release each active case.
//!
//! The holds are checked and chained by `archive::manage`, as `mailseal
//! hold` does it; a search is resolved when the hold is placed, within
//! what the person may see. Each view and each change, refused ones too,
//! leaves an audit record.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::{Chrome, When, allowed_form, allowed_page, html, redirect, unavailable, when};
use crate::archive::ArchiveError;
use crate::archive::audit::action;
use crate::archive::index::HoldState;
use crate::archive::manage::{Lifecycle, LifecycleReply};
use crate::archive::record::RecordBody;
use crate::web::Web;
use crate::web::i18n::Tr;
use crate::web::lifecycle::{self as shared, Said, Stop};
use crate::web::mail::MailError;
use crate::web::session::Session;
use crate::web::trail;

/// Most record links shown for one case; the rest are counted.
const SHOWN_RECORDS: usize = 50;

/// Most messages one hold by search may hold; a wider search is refused
/// (the CLI has no such limit).
const HOLD_MAX: usize = 100_000;

/// One case as listed.
pub struct HoldRow {
    /// The case id.
    pub case: String,
    /// Not released.
    pub active: bool,
    /// Why it was placed (the first placement's words).
    pub reason: String,
    /// The searches that chose records.
    pub queries: Vec<String>,
    /// The first [`SHOWN_RECORDS`] records it holds or held.
    pub records: Vec<u64>,
    /// "and N more" when not all records are listed.
    pub more: String,
    /// Who placed it.
    pub placed_by: String,
    /// When.
    pub placed: When,
    /// The first `hold` record of the case.
    pub placed_seq: u64,
    /// Who released it, when, why (empty while active).
    pub released_by: String,
    /// When it was released.
    pub released: Option<When>,
    /// Why.
    pub release_reason: String,
}

/// The place form's fields (also what the page shows in it again).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HoldForm {
    /// The session's CSRF token.
    csrf: String,
    /// The case id.
    case: String,
    /// Why.
    reason: String,
    /// Hold what this search finds.
    query: String,
    /// Or these record ids.
    ids: String,
}

/// The release form's fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ReleaseForm {
    /// The session's CSRF token.
    csrf: String,
    /// The case.
    case: String,
    /// Why.
    reason: String,
}

/// What `GET /holds` is asked to show.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Shown {
    /// A record id to put into the form (the message page's link).
    id: String,
    /// `placed` or `released`: the change just made.
    done: String,
    /// Its record.
    record: Option<u64>,
}

#[derive(Template)]
#[template(path = "holds.html")]
struct HoldsPage {
    c: Chrome,
    csrf: String,
    rows: Vec<HoldRow>,
    /// Record ids link to the message page (the role reads mail).
    links: bool,
    /// The form offers a search (the role reads mail).
    by_query: bool,
    notice: Option<String>,
    error: Option<String>,
    /// Says how many cases of others are not shown (scoped people).
    others: Option<String>,
    form: HoldForm,
}

/// The cases with who placed and released them, active ones first,
/// newest first. Blocking.
fn rows(web: &Web, t: Tr, holds: Vec<HoldState>) -> Result<Vec<HoldRow>, ArchiveError> {
    let reader = web.store.archive().reader();
    let hold_of = |seq: u64| -> Result<(String, crate::archive::lifecycle::Hold), ArchiveError> {
        let (r, _) = reader.record(seq)?;
        match r.body {
            RecordBody::Hold(h) => Ok((r.time, h)),
            _ => Err(ArchiveError::Other(format!("record {seq} is not a hold"))),
        }
    };
    let mut rows = Vec::new();
    for h in holds {
        let (placed_at, placed) = hold_of(h.placed)?;
        let released = h.released.map(&hold_of).transpose()?;
        rows.push(HoldRow {
            active: released.is_none(),
            reason: placed.reason,
            queries: h.queries,
            more: shared::more(t, h.records.len(), SHOWN_RECORDS),
            records: h.records.iter().copied().take(SHOWN_RECORDS).collect(),
            placed_by: h.actor,
            placed: when(&placed_at),
            placed_seq: h.placed,
            released_by: released
                .as_ref()
                .map(|(_, r)| r.actor.clone())
                .unwrap_or_default(),
            release_reason: released
                .as_ref()
                .map(|(_, r)| r.reason.clone())
                .unwrap_or_default(),
            released: released.as_ref().map(|(t, _)| when(t)),
            case: h.case,
        });
    }
    rows.sort_by_key(|r| (!r.active, std::cmp::Reverse(r.placed_seq)));
    Ok(rows)
}

/// The cases, read through the archive's lifecycle command.
async fn load(web: &Arc<Web>, t: Tr) -> Result<Vec<HoldRow>, Stop> {
    let holds = match shared::run(web, Lifecycle::Holds).await {
        Ok(LifecycleReply::Holds { holds }) => holds,
        Ok(_) => return Err(Stop::Unavailable),
        Err(e) => {
            tracing::error!(error = %e, "listing holds failed");
            return Err(Stop::Unavailable);
        }
    };
    let web2 = Arc::clone(web);
    match tokio::task::spawn_blocking(move || rows(&web2, t, holds)).await {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "reading hold records failed");
            Err(Stop::Unavailable)
        }
        Err(_) => Err(Stop::Unavailable),
    }
}

/// The page with what `said` says above the form.
async fn show(
    web: &Arc<Web>,
    s: &Session,
    t: Tr,
    uri: &Uri,
    said: Said,
    form: HoldForm,
) -> Response {
    let Ok(mut rows) = load(web, t).await else {
        return unavailable(t, Some(s), uri);
    };
    let mut others = None;
    if !shared::sees_every_case(s) {
        let all = rows.len();
        rows.retain(|r| shared::made_by(s, &r.placed_by));
        if rows.len() < all {
            others = Some(t.f("hold.others_hidden", &[&(all - rows.len())]));
        }
    }
    html(
        said.status,
        &HoldsPage {
            c: Chrome::new(t, Some(s), "hold.title", uri),
            csrf: s.csrf.clone(),
            rows,
            links: s.role.reads_mail(),
            by_query: s.role.reads_mail(),
            notice: said.notice,
            error: said.error,
            others,
            form: HoldForm {
                csrf: String::new(),
                ..form
            },
        },
    )
}

/// `GET /holds`.
pub async fn page(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<Shown>,
) -> Response {
    let (s, t) = match allowed_page(&web, &headers, &uri, |s| s.role.holds()) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let notice = match (q.done.as_str(), q.record) {
        ("placed", Some(n)) => Some(t.f("hold.placed", &[&n])),
        ("released", Some(n)) => Some(t.f("hold.released_ok", &[&n])),
        _ => None,
    };
    let mut event = trail::by(&s, action::HOLDS_READ);
    event.detail = Some("legal holds page".into());
    if web.trail.record(event).await.is_err() {
        return unavailable(t, Some(&s), &uri);
    }
    let form = HoldForm {
        ids: q.id.chars().filter(char::is_ascii_digit).take(20).collect(),
        ..HoldForm::default()
    };
    show(&web, &s, t, &uri, Said::ok(notice), form).await
}

/// The records a hold form names: its search's hits within the person's
/// scope, or its record ids (each one the person may name).
async fn chosen(web: &Arc<Web>, s: &Session, t: Tr, f: &HoldForm) -> Result<Vec<u64>, Stop> {
    let query = f.query.trim();
    let ids = f.ids.trim();
    match (query.is_empty(), ids.is_empty()) {
        (false, false) => return Err(Stop::refused(t, "hold.either", &[])),
        (true, true) => return Err(Stop::refused(t, "hold.need_records", &[])),
        _ => {}
    }
    let web2 = Arc::clone(web);
    let scope = s.scope.clone();
    if !query.is_empty() {
        if !s.role.reads_mail() {
            return Err(Stop::refused(t, "hold.query_needs_mail", &[]));
        }
        let q = query.to_owned();
        let found =
            tokio::task::spawn_blocking(move || web2.store.find_ids(&q, &scope, HOLD_MAX + 1))
                .await
                .map_err(|_| Stop::Unavailable)?;
        return match found {
            Ok(ids) if ids.is_empty() => Err(Stop::refused(t, "hold.query_none", &[])),
            Ok(ids) if ids.len() > HOLD_MAX => {
                Err(Stop::refused(t, "hold.query_too_many", &[&HOLD_MAX]))
            }
            Ok(ids) => Ok(ids),
            Err(MailError::Query(e)) => Err(Stop::refused(t, "lifecycle.bad_query", &[&e])),
            Err(e) => Err(Stop::mail(e)),
        };
    }
    let ids = shared::read_ids(t, ids)?;
    let s2 = s.clone();
    let (hidden, ids) = tokio::task::spawn_blocking(move || {
        shared::hidden(&web2, &s2, &ids).map(|hidden| (hidden, ids))
    })
    .await
    .map_err(|_| Stop::Unavailable)?
    .map_err(Stop::mail)?;
    match hidden {
        Some(id) => Err(Stop::hidden(t, id)),
        None => Ok(ids),
    }
}

/// A case id and a reason from a form, both required.
fn case_and_reason(t: Tr, case: &str, reason: &str) -> Result<(String, String), Stop> {
    let reason = shared::reason(t, reason)?;
    let Some(case) = shared::bounded(case) else {
        return Err(Stop::refused(t, "lifecycle.too_long", &[&shared::MAX_TEXT]));
    };
    if case.is_empty() {
        return Err(Stop::refused(t, "hold.need_case", &[]));
    }
    Ok((case, reason))
}

/// Places the hold the form asks for; the `hold` record's id.
async fn place_hold(
    web: &Arc<Web>,
    s: &Session,
    t: Tr,
    f: &HoldForm,
    records: &mut Vec<u64>,
) -> Result<u64, Stop> {
    let (case, reason) = case_and_reason(t, &f.case, &f.reason)?;
    if shared::bounded(&f.query).is_none() {
        return Err(Stop::refused(t, "lifecycle.too_long", &[&shared::MAX_TEXT]));
    }
    *records = chosen(web, s, t, f).await?;
    let query = f.query.trim();
    let cmd = Lifecycle::HoldAdd {
        case,
        reason,
        query: (!query.is_empty()).then(|| query.to_owned()),
        records: records.clone(),
        actor: s.user.clone(),
    };
    match shared::run(web, cmd).await {
        Ok(LifecycleReply::Chained { seq }) => Ok(seq),
        Ok(_) => Err(Stop::Unavailable),
        Err(e) => Err(Stop::archive(t, e)),
    }
}

/// `POST /holds`: place a hold.
pub async fn place(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<HoldForm>,
) -> Response {
    let allowed = |s: &Session| s.role.holds();
    let (s, t) = match allowed_form(&web, &headers, &uri, &f.csrf, "hold", allowed).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let mut records = Vec::new();
    let result = place_hold(&web, &s, t, &f, &mut records).await;
    let mut event = trail::by(&s, action::HOLD_ADD);
    event.records = records;
    event.query = Some(f.query.trim().to_owned()).filter(|q| !q.is_empty());
    let case = f.case.trim().chars().take(200).collect::<String>();
    let written = shared::audited(&web, event, &result, |seq| {
        format!("case {case:?}: hold record {seq}")
    })
    .await;
    if !written {
        return unavailable(t, Some(&s), &uri);
    }
    match result {
        Ok(seq) => redirect(&format!("/holds?done=placed&record={seq}")),
        Err(Stop::Refused { shown, .. }) => {
            show(
                &web,
                &s,
                t,
                &uri,
                Said::refused(StatusCode::UNPROCESSABLE_ENTITY, shown),
                f,
            )
            .await
        }
        Err(Stop::Unavailable) => unavailable(t, Some(&s), &uri),
    }
}

/// Whether `case` exists and the person of `s` placed it.
async fn placed_by(web: &Arc<Web>, s: &Session, case: &str) -> Result<bool, Stop> {
    match shared::run(web, Lifecycle::Holds).await {
        Ok(LifecycleReply::Holds { holds }) => Ok(holds
            .iter()
            .any(|h| h.case == case && shared::made_by(s, &h.actor))),
        Ok(_) => Err(Stop::Unavailable),
        Err(e) => {
            tracing::error!(error = %e, "listing holds failed");
            Err(Stop::Unavailable)
        }
    }
}

/// `POST /holds/release`: release a case.
pub async fn release(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<ReleaseForm>,
) -> Response {
    let allowed = |s: &Session| s.role.holds();
    let (s, t) = match allowed_form(&web, &headers, &uri, &f.csrf, "hold release", allowed).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let result = async {
        let (case, reason) = case_and_reason(t, &f.case, &f.reason)?;
        if !shared::sees_every_case(&s) && !placed_by(&web, &s, &case).await? {
            return Err(Stop::refused(t, "hold.release_not_own", &[]));
        }
        let cmd = Lifecycle::HoldRelease {
            case,
            reason,
            actor: s.user.clone(),
        };
        match shared::run(&web, cmd).await {
            Ok(LifecycleReply::Chained { seq }) => Ok(seq),
            Ok(_) => Err(Stop::Unavailable),
            Err(e) => Err(Stop::archive(t, e)),
        }
    }
    .await;
    let case = f.case.trim().chars().take(200).collect::<String>();
    let event = trail::by(&s, action::HOLD_RELEASE);
    let written = shared::audited(&web, event, &result, |seq| {
        format!("case {case:?}: release record {seq}")
    })
    .await;
    if !written {
        return unavailable(t, Some(&s), &uri);
    }
    match result {
        Ok(seq) => redirect(&format!("/holds?done=released&record={seq}")),
        Err(Stop::Refused { shown, .. }) => {
            show(
                &web,
                &s,
                t,
                &uri,
                Said::refused(StatusCode::UNPROCESSABLE_ENTITY, shown),
                HoldForm::default(),
            )
            .await
        }
        Err(Stop::Unavailable) => unavailable(t, Some(&s), &uri),
    }
}
