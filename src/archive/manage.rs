//! Holds, early-deletion requests, retention extensions and purges, as
//! the CLI asks for them directly or through the daemon's control socket.
//!
//! Each change is checked against the index first and then chained as a
//! record; nothing is written for a request that is refused.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::ArchiveError;
use super::handle::Archive;
use super::index::{HoldState, RequestState};
use super::lifecycle::{Hold, HoldAction, PurgeApproval, PurgeRequest, RetentionExtend};
use super::purge::{self, Plan, Purged};
use super::record::RecordBody;
use super::refusal::Refusal;

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "op")]
pub enum Lifecycle {
    /// Place a legal hold on records.
    HoldAdd {
        /// Case id.
        case: String,
        /// Why.
        reason: String,
        /// The search that chose the records, if one did.
        query: Option<String>,
        /// The message records.
        records: Vec<u64>,
        /// Who.
        actor: String,
    },
    /// Release a case's hold.
    HoldRelease {
        /// Case id.
        case: String,
        /// Why.
        reason: String,
        /// Who.
        actor: String,
    },
    /// List the holds.
    Holds,
    /// Purge what is due (or only show it).
    Purge {
        /// Only show the plan.
        dry_run: bool,
        /// Who runs it.
        actor: String,
    },
    /// Ask to delete records before their keep-until.
    Request {
        /// The message records.
        records: Vec<u64>,
        /// Why.
        reason: String,
        /// Who asks (an authenticated web user).
        actor: String,
    },
    /// Approve a request (another user, a data officer).
    Approve {
        /// The request's seq.
        request: u64,
        /// Who approves (an authenticated data officer).
        actor: String,
    },
    /// List the requests.
    Requests,
    /// Keep records longer.
    Extend {
        /// The message records.
        records: Vec<u64>,
        /// Their new last day.
        keep_until: NaiveDate,
        /// Why.
        reason: String,
        /// Who.
        actor: String,
    },
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum LifecycleReply {
    /// A record was chained.
    Chained {
        /// Its seq.
        seq: u64,
    },
    /// The holds, active and released.
    Holds {
        /// By case.
        holds: Vec<HoldState>,
    },
    /// The requests.
    Requests {
        /// Oldest first.
        requests: Vec<RequestState>,
    },
    /// A purge's plan and, unless it was a dry run, what it did.
    Purge {
        /// What was due.
        plan: Plan,
        /// What was done.
        done: Option<Purged>,
    },
}

/// A lifecycle command refused for `why`.
fn refuse(why: Refusal) -> ArchiveError {
    ArchiveError::Refused(Box::new(why))
}

/// Runs a lifecycle command on an open archive (blocking). `forget_days`
/// is `[retention] key_backup_max_age` in days.
pub fn execute(
    archive: &Archive,
    cmd: Lifecycle,
    today: NaiveDate,
    forget_days: u64,
) -> Result<LifecycleReply, ArchiveError> {
    let index = archive.index();
    let chain = |body: RecordBody| -> Result<LifecycleReply, ArchiveError> {
        let appended = archive.append_body_blocking(body)?;
        Ok(LifecycleReply::Chained { seq: appended.seq })
    };
    match cmd {
        Lifecycle::HoldAdd {
            case,
            reason,
            query,
            records,
            actor,
        } => {
            need("case", &case)?;
            need("reason", &reason)?;
            if records.is_empty() {
                return Err(refuse(Refusal::NoRecords { what: "hold" }));
            }
            let reader = archive.reader();
            for &of in &records {
                let s = reader.summary(of)?;
                if s.kind != "message" {
                    return Err(refuse(Refusal::NotMessage { of, kind: s.kind }));
                }
                if let Some(purged) = s.purged {
                    return Err(refuse(Refusal::AlreadyPurged { of, purged }));
                }
            }
            chain(RecordBody::Hold(Hold {
                action: HoldAction::Add,
                case,
                reason,
                query,
                records,
                actor,
            }))
        }
        Lifecycle::HoldRelease {
            case,
            reason,
            actor,
        } => {
            need("reason", &reason)?;
            let active = index
                .holds()?
                .into_iter()
                .any(|h| h.case == case && h.released.is_none());
            if !active {
                return Err(refuse(Refusal::NoActiveHold { case }));
            }
            chain(RecordBody::Hold(Hold {
                action: HoldAction::Release,
                case,
                reason,
                query: None,
                records: Vec::new(),
                actor,
            }))
        }
        Lifecycle::Holds => Ok(LifecycleReply::Holds {
            holds: index.holds()?,
        }),
        Lifecycle::Requests => Ok(LifecycleReply::Requests {
            requests: index.requests()?,
        }),
        Lifecycle::Request {
            records,
            reason,
            actor,
        } => {
            need("reason", &reason)?;
            if records.is_empty() {
                return Err(refuse(Refusal::NoRecords { what: "request" }));
            }
            for &of in &records {
                if let Some(why) = purge::obstacle(index, of)?
                    && !why.is_hold()
                {
                    return Err(refuse(Refusal::CannotPurge { of, why }));
                }
            }
            chain(RecordBody::PurgeRequest(PurgeRequest {
                records,
                reason,
                actor,
            }))
        }
        Lifecycle::Approve { request, actor } => {
            let r = index
                .request(request)?
                .ok_or_else(|| refuse(Refusal::NotRequest { request }))?;
            if let Some((seq, by)) = &r.approved {
                return Err(refuse(Refusal::AlreadyApproved {
                    request,
                    by: by.clone(),
                    seq: *seq,
                }));
            }
            // Web user names are matched without case at login, so
            // `ALICE` is the same person as `alice`.
            if r.actor.eq_ignore_ascii_case(&actor) {
                return Err(refuse(Refusal::OwnRequest { actor, request }));
            }
            chain(RecordBody::PurgeApproval(PurgeApproval { request, actor }))
        }
        Lifecycle::Extend {
            records,
            keep_until,
            reason,
            actor,
        } => {
            need("reason", &reason)?;
            if records.is_empty() {
                return Err(refuse(Refusal::NoRecords { what: "extension" }));
            }
            let reader = archive.reader();
            for &of in &records {
                let s = reader.summary(of)?;
                if s.kind != "message" || s.purged.is_some() {
                    return Err(refuse(Refusal::NotLive { of }));
                }
                match s.keep_until {
                    None => {
                        return Err(refuse(Refusal::KeptForever { of }));
                    }
                    Some(k) if k >= keep_until => {
                        return Err(refuse(Refusal::AlreadyLonger {
                            of,
                            until: k.to_string(),
                        }));
                    }
                    Some(_) => {}
                }
            }
            chain(RecordBody::RetentionExtend(RetentionExtend {
                records,
                keep_until,
                reason,
                actor,
            }))
        }
        Lifecycle::Purge { dry_run, actor } => {
            let plan = purge::plan(index, today)?;
            if dry_run {
                return Ok(LifecycleReply::Purge { plan, done: None });
            }
            // Even with nothing due: an earlier purge's compaction that
            // failed is done now.
            let forget_by = today + chrono::Days::new(forget_days);
            let done =
                archive.purge_blocking(plan.due.clone(), plan.audit.clone(), &actor, forget_by);
            crate::metrics::purge_run(done.as_ref().ok().map(|d| d.tombstones.len() as u64));
            let done = done?;
            tracing::info!(
                purged = done.tombstones.len(),
                audit_years = done.audit.len(),
                skipped = done.skipped.len() + plan.skipped.len(),
                slots = done.slots,
                "purge done"
            );
            Ok(LifecycleReply::Purge {
                plan,
                done: Some(done),
            })
        }
    }
}

fn need(field: &'static str, value: &str) -> Result<(), ArchiveError> {
    if value.trim().is_empty() {
        return Err(refuse(Refusal::Empty { field }));
    }
    Ok(())
}

/// The daily purge of `mailseal run` (`[retention] purge = "daily"`): at
/// `at` local time every day, what is due is purged. A failure is logged
/// and tried again the next day (or by `mailseal purge`).
pub async fn purge_daily(
    archive: Archive,
    at: chrono::NaiveTime,
    forget_days: u64,
    token: tokio_util::sync::CancellationToken,
) {
    loop {
        let wait = until_next(at, chrono::Local::now().naive_local());
        tracing::info!(in_seconds = wait.as_secs(), "next daily purge scheduled");
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        let a = archive.clone();
        let today = chrono::Local::now().date_naive();
        let cmd = Lifecycle::Purge {
            dry_run: false,
            actor: "mailseal daily purge".into(),
        };
        match tokio::task::spawn_blocking(move || execute(&a, cmd, today, forget_days)).await {
            Ok(Ok(LifecycleReply::Purge { plan, done })) => tracing::info!(
                due = plan.due.len(),
                kept = plan.skipped.len(),
                purged = done.as_ref().map_or(0, |d| d.tombstones.len()),
                "daily purge"
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "daily purge failed"),
            Err(e) => tracing::error!(error = %e, "daily purge task failed"),
        }
    }
}

/// How long from `now` until the next `at` (tomorrow's when today's has
/// passed).
fn until_next(at: chrono::NaiveTime, now: chrono::NaiveDateTime) -> std::time::Duration {
    let today = now.date().and_time(at);
    let next = if today > now {
        today
    } else {
        today + chrono::Duration::days(1)
    };
    (next - now).to_std().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_purge_waits_for_the_next_purge_time() {
        let at = chrono::NaiveTime::from_hms_opt(2, 30, 0).unwrap_or_default();
        let day = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default();
        let before = day.and_hms_opt(1, 30, 0).unwrap_or_default();
        assert_eq!(until_next(at, before).as_secs(), 3600);
        let after = day.and_hms_opt(2, 30, 0).unwrap_or_default();
        assert_eq!(until_next(at, after).as_secs(), 86_400);
    }
}
