//! What the legal holds page and the early-deletion page share: record ids
//! read from a form, the check that the person may name them, and the
//! archive's lifecycle commands (`archive::manage`), run on the blocking
//! pool exactly as the CLI and the control socket run them.

use crate::archive::ArchiveError;
use crate::archive::audit::AuditEvent;
use crate::archive::lifecycle::Purged;
use crate::archive::manage::{self, Lifecycle, LifecycleReply};
use crate::archive::refusal::{Obstacle, Refusal};

use super::Web;
use super::i18n::{Lang, Tr};
use super::mail::MailError;
use super::session::Session;
use super::trail;

/// Most record ids one form may name.
pub const MAX_IDS: usize = 10_000;

/// Longest case id, reason or query a form may send, in characters.
pub const MAX_TEXT: usize = 2_000;

/// Why a list of record ids could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdsError {
    /// This piece is not a record id.
    NotAnId(String),
    /// More than [`MAX_IDS`].
    TooMany,
}

/// Reads record ids separated by commas, semicolons, spaces or line
/// breaks (`#` before a number is allowed), sorted, each once.
pub fn parse_ids(text: &str) -> Result<Vec<u64>, IdsError> {
    let mut ids = Vec::new();
    let pieces = text
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|p| !p.is_empty());
    for piece in pieces {
        match piece.trim_start_matches('#').parse::<u64>() {
            Ok(n) if n > 0 => ids.push(n),
            _ => return Err(IdsError::NotAnId(piece.chars().take(40).collect())),
        }
        if ids.len() > MAX_IDS {
            return Err(IdsError::TooMany);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The record ids typed into a form.
pub fn read_ids(t: Tr, text: &str) -> Result<Vec<u64>, Stop> {
    match parse_ids(text) {
        Ok(ids) => Ok(ids),
        Err(IdsError::NotAnId(p)) => Err(Stop::refused(t, "lifecycle.bad_id", &[&p])),
        Err(IdsError::TooMany) => Err(Stop::refused(t, "lifecycle.too_many", &[&MAX_IDS])),
    }
}

/// The reason a form gives: required, at most [`MAX_TEXT`] characters.
pub fn reason(t: Tr, text: &str) -> Result<String, Stop> {
    match bounded(text) {
        None => Err(Stop::refused(t, "lifecycle.too_long", &[&MAX_TEXT])),
        Some(r) if r.is_empty() => Err(Stop::refused(t, "lifecycle.need_reason", &[])),
        Some(r) => Ok(r),
    }
}

/// The first of `ids` that the person of `s` may not name: no message
/// record, or one outside their scope (the two are not told apart, as on
/// the message page). Blocking.
pub fn hidden(web: &Web, s: &Session, ids: &[u64]) -> Result<Option<u64>, MailError> {
    for &id in ids {
        let ok = match web.store.open(id)? {
            Some(m) => s.role.names_unseen_mail() || s.scope.allows(&m.facts()),
            None => false,
        };
        if !ok {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Whether the person of `s` sees every case and request. A person whose
/// mail is limited to some domains or mailboxes sees, and releases, only
/// the holds and requests they made: another's may concern mail outside
/// their scope, and its record ids, search and reason would tell about it.
pub fn sees_every_case(s: &Session) -> bool {
    s.role.names_unseen_mail() || matches!(s.scope, crate::web::role::Scope::Everything)
}

/// Whether `actor` (as a record names them) is the person of `s`; names
/// compare without case, as at login.
pub fn made_by(s: &Session, actor: &str) -> bool {
    actor.eq_ignore_ascii_case(&s.user)
}

/// Runs `cmd` on the archive the pages read. The command checks it (and
/// refuses with [`ArchiveError::Refused`]) and chains its record.
pub async fn run(web: &Web, cmd: Lifecycle) -> Result<LifecycleReply, ArchiveError> {
    let archive = web.store.archive().clone();
    let days = web.settings.forget_days;
    let today = chrono::Local::now().date_naive();
    tokio::task::spawn_blocking(move || manage::execute(&archive, cmd, today, days))
        .await
        .map_err(|e| ArchiveError::Other(format!("lifecycle task failed: {e}")))?
}

/// What a page says above its form, and the answer's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    /// The HTTP status.
    pub status: axum::http::StatusCode,
    /// A change just made.
    pub notice: Option<String>,
    /// Why a change was not made.
    pub error: Option<String>,
}

impl Said {
    /// A plain view, with `notice` when a change was just made.
    pub fn ok(notice: Option<String>) -> Said {
        Said {
            status: axum::http::StatusCode::OK,
            notice,
            error: None,
        }
    }

    /// The form again after a refusal, saying `why`.
    pub fn refused(status: axum::http::StatusCode, why: String) -> Said {
        Said {
            status,
            notice: None,
            error: Some(why),
        }
    }
}

/// Why a change asked for on a page was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Refused: the page shows `shown` above its form; the audit record
    /// keeps `logged` (the same in English) with `outcome`.
    Refused {
        /// In the reader's language.
        shown: String,
        /// In English, for the audit record.
        logged: String,
        /// `failed`, or `denied` when a record id was not the person's
        /// to name (the audit record's words, docs/archive-format.md).
        outcome: &'static str,
    },
    /// The archive failed (logged); nothing was changed or shown.
    Unavailable,
}

impl Stop {
    /// A refusal worded by catalog key `key` with `args`.
    pub fn refused(t: Tr, key: &str, args: &[&dyn std::fmt::Display]) -> Stop {
        Stop::Refused {
            shown: t.f(key, args),
            logged: Tr::new(Lang::En).f(key, args),
            outcome: "failed",
        }
    }

    /// Record `id` is not the person's to name (missing, or outside their
    /// scope).
    pub fn hidden(t: Tr, id: u64) -> Stop {
        Stop::Refused {
            shown: t.f("lifecycle.hidden", &[&id]),
            logged: Tr::new(Lang::En).f("lifecycle.hidden", &[&id]),
            outcome: "denied",
        }
    }

    /// What the archive answered: its refusal is shown in the person's
    /// language (and in English in the audit record); anything else is
    /// logged and the page is unavailable.
    pub fn archive(t: Tr, e: ArchiveError) -> Stop {
        match e {
            ArchiveError::Refused(why) => Stop::Refused {
                shown: t.f("lifecycle.refused", &[&refusal(t, &why)]),
                logged: Tr::new(Lang::En).f("lifecycle.refused", &[&why]),
                outcome: "failed",
            },
            other => {
                tracing::error!(error = %other, "lifecycle command failed");
                Stop::Unavailable
            }
        }
    }

    /// A search or store failure that is not the person's query.
    pub fn mail(e: MailError) -> Stop {
        tracing::error!(error = %e, "reading mail for a lifecycle page failed");
        Stop::Unavailable
    }
}

/// `why` in the language of `t`.
fn refusal(t: Tr, why: &Refusal) -> String {
    match why {
        Refusal::Empty { field } => {
            let name = if *field == "case" {
                "hold.case"
            } else {
                "lifecycle.reason"
            };
            t.f("refusal.empty", &[&t.t(name)])
        }
        Refusal::NoRecords { .. } => t.t("refusal.no_records").to_string(),
        Refusal::NotMessage { of, .. } => t.f("refusal.not_message", &[of]),
        Refusal::AlreadyPurged { of, purged } => {
            t.f("refusal.already_purged", &[of, &purged_text(t, purged)])
        }
        Refusal::NoActiveHold { case } => t.f("refusal.no_active_hold", &[case]),
        Refusal::CannotPurge { of, why } => t.f("refusal.cannot_purge", &[of, &obstacle(t, why)]),
        Refusal::NotRequest { request } => t.f("deletion.no_request", &[request]),
        Refusal::AlreadyApproved { request, by, seq } => {
            t.f("refusal.already_approved", &[request, by, seq])
        }
        Refusal::OwnRequest { .. } => t.t("deletion.own").to_string(),
        Refusal::NotLive { of } => t.f("refusal.not_live", &[of]),
        Refusal::KeptForever { of } => t.f("refusal.kept_forever", &[of]),
        Refusal::AlreadyLonger { of, until } => t.f("refusal.already_longer", &[of, until]),
    }
}

/// Why a record cannot be deleted, in the language of `t`.
fn obstacle(t: Tr, why: &Obstacle) -> String {
    match why {
        Obstacle::NoRecord => t.t("obstacle.no_record").to_string(),
        Obstacle::NotMessage { .. } => t.t("obstacle.not_message").to_string(),
        Obstacle::Purged(p) => purged_text(t, p),
        Obstacle::Held { cases } => t.f("obstacle.held", &[&cases.join(", ")]),
        Obstacle::Clear => t.t("obstacle.clear").to_string(),
    }
}

/// "deleted on DAY under rule R" (or "on request N"), in the language of `t`.
fn purged_text(t: Tr, p: &Purged) -> String {
    let day = p.on.get(..10).unwrap_or(&p.on);
    match (p.reason.strip_prefix("request "), &p.rule) {
        (Some(n), _) => t.f("purged.on_request", &[&day, &n]),
        (None, Some(rule)) => t.f("purged.under_rule", &[&day, rule]),
        (None, None) => t.f("purged.on", &[&day]),
    }
}

/// Writes the audit record of a change (`event`, already naming the
/// action and records) with the outcome of `result`; false when the
/// record could not be written (and nothing may be served).
pub async fn audited<T>(
    web: &Web,
    mut event: AuditEvent,
    result: &Result<T, Stop>,
    ok_detail: impl FnOnce(&T) -> String,
) -> bool {
    match result {
        Ok(v) => event.detail = Some(ok_detail(v)),
        Err(Stop::Refused {
            logged, outcome, ..
        }) => {
            event.outcome = (*outcome).into();
            event.detail = Some(logged.clone());
        }
        // Nothing happened and the archive is failing: the log has it.
        Err(Stop::Unavailable) => return true,
    }
    web.trail.record(event).await.is_ok()
}

/// Records a form refused for want of this session's CSRF token, as
/// `denied`; false when the record could not be written.
pub async fn forged(web: &Web, s: &Session, what: &str) -> bool {
    let mut event = trail::by(s, crate::archive::audit::action::DENIED);
    event.outcome = "denied".into();
    event.detail = Some(format!("{what} without a valid CSRF token"));
    web.trail.record(event).await.is_ok()
}

/// When an approved deletion is carried out, as the deletion page says it.
pub fn purge_when(t: Tr, web: &Web) -> String {
    match web.settings.daily_purge {
        Some(at) => t.f("deletion.when_daily", &[&at.format("%H:%M")]),
        None => t.t("deletion.when_manual").to_owned(),
    }
}

/// "and N more" for a list of `total` records of which `shown` are
/// listed; empty when all are.
pub fn more(t: Tr, total: usize, shown: usize) -> String {
    match total.checked_sub(shown) {
        Some(n) if n > 0 => t.f("lifecycle.more", &[&n]),
        _ => String::new(),
    }
}

/// A form's text without the blanks around it; `None` when it is longer
/// than [`MAX_TEXT`] characters.
pub fn bounded(text: &str) -> Option<String> {
    let text = text.trim();
    (text.chars().count() <= MAX_TEXT).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_in_any_separation_sorted_and_once() {
        assert_eq!(parse_ids("4, 2;#7\n2  9"), Ok(vec![2, 4, 7, 9]));
        assert_eq!(parse_ids("  "), Ok(vec![]));
        assert_eq!(parse_ids("3, x5"), Err(IdsError::NotAnId("x5".into())));
        assert_eq!(parse_ids("0"), Err(IdsError::NotAnId("0".into())));
        let many = (1..=MAX_IDS as u64 + 1)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(parse_ids(&many), Err(IdsError::TooMany));
    }

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(bounded("  BP-7 "), Some("BP-7".into()));
        assert_eq!(bounded(&"x".repeat(MAX_TEXT + 1)), None);
    }
}
