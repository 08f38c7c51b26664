//! The early-deletion page (`/deletion`): the requests with their state,
//! a form to ask for one, and for data officers the approval of someone
//! else's request, confirmed with their own password again.
//!
//! Asking and approving are `mailseal purge request` and `purge approve`:
//! `archive::manage` checks and chains them (and refuses an approval by
//! the requester, whatever the page offered). An approval deletes
//! nothing by itself: the next purge does, as on the command line, and
//! the page says when that is. Each view and each step, refused ones too,
//! leaves an audit record.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::{Chrome, When, allowed_form, allowed_page, html, redirect, unavailable, when};
use crate::archive::ArchiveError;
use crate::archive::audit::action;
use crate::archive::index::RequestState;
use crate::archive::manage::{Lifecycle, LifecycleReply};
use crate::web::Web;
use crate::web::i18n::Tr;
use crate::web::lifecycle::{self as shared, Said, Stop};
use crate::web::limiter::{FailureNote, Verdict};
use crate::web::role::{MAY_APPROVE_PURGE, MAY_REQUEST_PURGE};
use crate::web::session::Session;
use crate::web::trail;
use crate::web::users::LoginMethod;

/// Most record links shown for one request; the rest are counted.
const SHOWN_RECORDS: usize = 50;

/// One request as listed.
pub struct RequestRow {
    /// The `purge-request` record.
    pub seq: u64,
    /// When it was made.
    pub time: When,
    /// Who asked.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// The first [`SHOWN_RECORDS`] records it names.
    pub records: Vec<u64>,
    /// "and N more" when not all records are listed.
    pub more: String,
    /// Where it stands, in the reader's words.
    pub state: String,
    /// Waiting for approval.
    pub pending: bool,
    /// The reader may approve it (a data officer who did not ask).
    pub approvable: bool,
    /// The reader asked for it and it waits.
    pub own: bool,
}

/// The request form's fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RequestForm {
    /// The session's CSRF token.
    csrf: String,
    /// The record ids.
    ids: String,
    /// Why.
    reason: String,
}

/// The approval form's fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApproveForm {
    /// The session's CSRF token.
    csrf: String,
    /// The request's record id.
    request: String,
    /// The approver's own password, asked again.
    password: String,
}

/// What `GET /deletion` is asked to show.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Shown {
    /// A record id to put into the form (the message page's link).
    id: String,
    /// `requested` or `approved`: the step just taken.
    done: String,
    /// Its record.
    record: Option<u64>,
}

#[derive(Template)]
#[template(path = "deletion.html")]
struct DeletionPage {
    c: Chrome,
    csrf: String,
    rows: Vec<RequestRow>,
    /// Record ids link to the message page (the role reads mail).
    links: bool,
    /// The reader may ask for a deletion.
    may_request: bool,
    /// When approved requests are carried out.
    when_text: String,
    notice: Option<String>,
    error: Option<String>,
    /// Says how many requests of others are not shown (scoped people).
    others: Option<String>,
    form: RequestForm,
}

/// What became of the records of an approved request.
struct Progress {
    /// Purged so far.
    purged: usize,
    /// On legal hold now.
    held: usize,
    /// The day of the last purge among them.
    last: Option<String>,
}

/// How far each approved request got. Blocking.
fn progress(web: &Web, requests: &[RequestState]) -> Result<Vec<Option<Progress>>, ArchiveError> {
    let archive = web.store.archive();
    let reader = archive.reader();
    let index = archive.index();
    let mut out = Vec::new();
    for r in requests {
        if r.approved.is_none() {
            out.push(None);
            continue;
        }
        let mut p = Progress {
            purged: 0,
            held: 0,
            last: None,
        };
        for &of in &r.records {
            match reader.summary(of)?.purged {
                Some(gone) => {
                    p.purged += 1;
                    let day = gone.on.get(..10).unwrap_or(&gone.on).to_owned();
                    if p.last.as_ref().is_none_or(|l| *l < day) {
                        p.last = Some(day);
                    }
                }
                None if !index.held_by(of)?.is_empty() => p.held += 1,
                None => {}
            }
        }
        out.push(Some(p));
    }
    Ok(out)
}

/// Where a request stands, in the reader's words.
fn state(t: Tr, r: &RequestState, p: Option<&Progress>) -> String {
    let (Some((_, by)), Some(p)) = (&r.approved, p) else {
        return t.t("deletion.state_pending").to_owned();
    };
    let total = r.records.len();
    if p.purged == total {
        return t.f(
            "deletion.state_done",
            &[by, &p.last.clone().unwrap_or_default()],
        );
    }
    let mut text = t.f("deletion.state_approved", &[by, &p.purged, &total]);
    if p.held > 0 {
        text.push(' ');
        text.push_str(&t.f("deletion.state_held", &[&p.held]));
    }
    text
}

/// The requests, newest first, as the reader of `s` sees them, and how
/// many others' requests a scoped reader does not see.
async fn load(web: &Arc<Web>, s: &Session, t: Tr) -> Result<(Vec<RequestRow>, usize), Stop> {
    let requests = match shared::run(web, Lifecycle::Requests).await {
        Ok(LifecycleReply::Requests { requests }) => requests,
        Ok(_) => return Err(Stop::Unavailable),
        Err(e) => return Err(Stop::archive(t, e)),
    };
    let web2 = Arc::clone(web);
    let (requests, progress) =
        tokio::task::spawn_blocking(move || progress(&web2, &requests).map(|p| (requests, p)))
            .await
            .map_err(|_| Stop::Unavailable)?
            .map_err(|e| Stop::archive(t, e))?;
    let approver = MAY_APPROVE_PURGE.contains(&s.role);
    let every = shared::sees_every_case(s);
    let mut rows: Vec<RequestRow> = requests
        .iter()
        .zip(&progress)
        .filter(|(r, _)| every || shared::made_by(s, &r.actor))
        .map(|(r, p)| {
            let pending = r.approved.is_none();
            let own = shared::made_by(s, &r.actor);
            RequestRow {
                seq: r.seq,
                time: when(&r.time),
                actor: r.actor.clone(),
                reason: r.reason.clone(),
                records: r.records.iter().copied().take(SHOWN_RECORDS).collect(),
                more: shared::more(t, r.records.len(), SHOWN_RECORDS),
                state: state(t, r, p.as_ref()),
                pending,
                approvable: pending && approver && !own,
                own: pending && own,
            }
        })
        .collect();
    rows.reverse();
    let hidden = requests.len() - rows.len();
    Ok((rows, hidden))
}

/// The page with what `said` says above the form.
async fn show(
    web: &Arc<Web>,
    s: &Session,
    t: Tr,
    uri: &Uri,
    said: Said,
    form: RequestForm,
) -> Response {
    let Ok((rows, hidden)) = load(web, s, t).await else {
        return unavailable(t, Some(s), uri);
    };
    let others = (hidden > 0).then(|| t.f("deletion.others_hidden", &[&hidden]));
    html(
        said.status,
        &DeletionPage {
            c: Chrome::new(t, Some(s), "deletion.title", uri),
            csrf: s.csrf.clone(),
            rows,
            links: s.role.reads_mail(),
            may_request: MAY_REQUEST_PURGE.contains(&s.role),
            when_text: shared::purge_when(t, web),
            notice: said.notice,
            error: said.error,
            others,
            form: RequestForm {
                csrf: String::new(),
                ..form
            },
        },
    )
}

/// `GET /deletion`.
pub async fn page(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<Shown>,
) -> Response {
    let (s, t) = match allowed_page(&web, &headers, &uri, |s| s.role.sees_deletions()) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let notice = match (q.done.as_str(), q.record) {
        ("requested", Some(n)) => Some(t.f("deletion.requested", &[&n])),
        ("approved", Some(n)) => Some(t.f("deletion.approved", &[&n])),
        _ => None,
    };
    let mut event = trail::by(&s, action::REQUESTS_READ);
    event.detail = Some("early deletion page".into());
    if web.trail.record(event).await.is_err() {
        return unavailable(t, Some(&s), &uri);
    }
    let form = RequestForm {
        ids: q.id.chars().filter(char::is_ascii_digit).take(20).collect(),
        ..RequestForm::default()
    };
    show(&web, &s, t, &uri, Said::ok(notice), form).await
}

/// Asks for the deletion the form names; the request's record id.
async fn ask(
    web: &Arc<Web>,
    s: &Session,
    t: Tr,
    f: &RequestForm,
    records: &mut Vec<u64>,
) -> Result<u64, Stop> {
    let reason = shared::reason(t, &f.reason)?;
    let ids = shared::read_ids(t, &f.ids)?;
    if ids.is_empty() {
        return Err(Stop::refused(t, "deletion.need_records", &[]));
    }
    *records = ids.clone();
    let (web2, s2) = (Arc::clone(web), s.clone());
    let hidden = tokio::task::spawn_blocking(move || shared::hidden(&web2, &s2, &ids))
        .await
        .map_err(|_| Stop::Unavailable)?
        .map_err(Stop::mail)?;
    if let Some(id) = hidden {
        return Err(Stop::hidden(t, id));
    }
    let cmd = Lifecycle::Request {
        records: records.clone(),
        reason,
        actor: s.user.clone(),
    };
    match shared::run(web, cmd).await {
        Ok(LifecycleReply::Chained { seq }) => Ok(seq),
        Ok(_) => Err(Stop::Unavailable),
        Err(e) => Err(Stop::archive(t, e)),
    }
}

/// `POST /deletion/request`: ask for an early deletion.
pub async fn request(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<RequestForm>,
) -> Response {
    let allowed = |s: &Session| MAY_REQUEST_PURGE.contains(&s.role);
    let (s, t) =
        match allowed_form(&web, &headers, &uri, &f.csrf, "deletion request", allowed).await {
            Ok(x) => x,
            Err(r) => return *r,
        };
    let mut records = Vec::new();
    let result = ask(&web, &s, t, &f, &mut records).await;
    let mut event = trail::by(&s, action::PURGE_REQUEST);
    event.records = records;
    let written = shared::audited(&web, event, &result, |seq| {
        format!("purge-request record {seq}")
    })
    .await;
    if !written {
        return unavailable(t, Some(&s), &uri);
    }
    match result {
        Ok(seq) => redirect(&format!("/deletion?done=requested&record={seq}")),
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

/// Why an approval did not happen, beyond the archive's own refusals.
enum Turned {
    /// As every step: refused or failed.
    Stop(Stop),
    /// The password was not the approver's (or they are locked out): the
    /// audit record is written by the limiter's rules, like a login's.
    Password(Stop),
}

/// Approves the request the form names, after the approver's password;
/// the approval's record id.
async fn approve_request(
    web: &Arc<Web>,
    s: &Session,
    t: Tr,
    peer: std::net::IpAddr,
    f: &ApproveForm,
    records: &mut Vec<u64>,
) -> Result<u64, Turned> {
    let Ok(request) = f.request.trim().parse::<u64>() else {
        let piece: String = f.request.chars().take(40).collect();
        return Err(Turned::Stop(Stop::refused(
            t,
            "lifecycle.bad_id",
            &[&piece],
        )));
    };
    let requests = match shared::run(web, Lifecycle::Requests).await {
        Ok(LifecycleReply::Requests { requests }) => requests,
        Ok(_) => return Err(Turned::Stop(Stop::Unavailable)),
        Err(e) => return Err(Turned::Stop(Stop::archive(t, e))),
    };
    let Some(r) = requests.into_iter().find(|r| r.seq == request) else {
        return Err(Turned::Stop(Stop::refused(
            t,
            "deletion.no_request",
            &[&request],
        )));
    };
    *records = r.records.clone();
    // The archive refuses this too; asking first spares the password.
    if r.actor.eq_ignore_ascii_case(&s.user) {
        return Err(Turned::Stop(Stop::refused(t, "deletion.own", &[])));
    }
    // As on the command line, only a local password can confirm it.
    let local = web
        .users()
        .ok()
        .and_then(|u| u.get(&s.user).map(|u| u.login == LoginMethod::Local));
    if local == Some(false) {
        return Err(Turned::Stop(Stop::refused(t, "deletion.local_only", &[])));
    }
    if web.limiter.check(peer, &s.user) == Verdict::LockedOut {
        return Err(Turned::Password(Stop::refused(t, "login.locked", &[])));
    }
    let checked = crate::web::auth::authenticate(
        &web.settings.users_file,
        &s.user,
        &f.password,
        MAY_APPROVE_PURGE,
    )
    .await;
    if checked.is_err() {
        return Err(Turned::Password(Stop::refused(
            t,
            "deletion.password_wrong",
            &[],
        )));
    }
    web.limiter.succeeded(&s.user);
    let cmd = Lifecycle::Approve {
        request,
        actor: s.user.clone(),
    };
    match shared::run(web, cmd).await {
        Ok(LifecycleReply::Chained { seq }) => Ok(seq),
        Ok(_) => Err(Turned::Stop(Stop::Unavailable)),
        Err(e) => Err(Turned::Stop(Stop::archive(t, e))),
    }
}

/// `POST /deletion/approve`: a data officer approves someone else's
/// request with their own password.
pub async fn approve(
    State(web): State<Arc<Web>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<ApproveForm>,
) -> Response {
    let allowed = |s: &Session| MAY_APPROVE_PURGE.contains(&s.role);
    let (s, t) =
        match allowed_form(&web, &headers, &uri, &f.csrf, "deletion approval", allowed).await {
            Ok(x) => x,
            Err(r) => return *r,
        };
    let peer = addr.ip();
    let mut records = Vec::new();
    let turned = approve_request(&web, &s, t, peer, &f, &mut records).await;
    let mut event = trail::by(&s, action::PURGE_APPROVE);
    event.records = records;
    let request = f.request.trim().chars().take(40).collect::<String>();
    let (result, status) = match turned {
        Ok(seq) => (Ok(seq), StatusCode::SEE_OTHER),
        Err(Turned::Stop(stop)) => (Err(stop), StatusCode::UNPROCESSABLE_ENTITY),
        Err(Turned::Password(stop)) => {
            // A wrong password counts like a failed login: the first of a
            // burst is recorded, the rest summarised, and the name locks.
            let note = web.limiter.failed(peer, &s.user);
            let result = Err(stop);
            if note == FailureNote::Summarised {
                return show_refused(&web, &s, t, &uri, StatusCode::UNAUTHORIZED, result).await;
            }
            (result, StatusCode::UNAUTHORIZED)
        }
    };
    let written = shared::audited(&web, event, &result, |seq| {
        format!("request {request} approved: purge-approval record {seq}")
    })
    .await;
    if !written {
        return unavailable(t, Some(&s), &uri);
    }
    match result {
        Ok(seq) => redirect(&format!("/deletion?done=approved&record={seq}")),
        Err(_) => show_refused(&web, &s, t, &uri, status, result).await,
    }
}

/// The page again with a refusal, or unavailable.
async fn show_refused(
    web: &Arc<Web>,
    s: &Session,
    t: Tr,
    uri: &Uri,
    status: StatusCode,
    result: Result<u64, Stop>,
) -> Response {
    match result {
        Err(Stop::Refused { shown, .. }) => {
            show(
                web,
                s,
                t,
                uri,
                Said::refused(status, shown),
                RequestForm::default(),
            )
            .await
        }
        _ => unavailable(t, Some(s), uri),
    }
}
