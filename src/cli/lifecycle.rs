//! `mailseal hold`, `mailseal purge` and `mailseal retention extend`.
//!
//! Each goes through the daemon when it runs (its writer chains the
//! record) and opens the archive itself otherwise. An early deletion needs
//! two people: `purge request --as NAME` and `purge approve --as OTHER`,
//! each proving who they are with their web interface password on
//! standard input; the approver must have the `data-officer` role.

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};

use crate::archive::Archive;
use crate::archive::manage::{self, Lifecycle, LifecycleReply};
use crate::archive::purge::{Plan, Purged};
use crate::config::Config;
use crate::control::client::SearchPage;
use crate::web::role::{MAY_APPROVE_PURGE, MAY_REQUEST_PURGE};

use super::load::archive_options;
use super::target::Target;
use super::users::{read_password, unix_user};

/// Legal holds.
#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Hold message records: no purge deletes them until the case is
    /// released.
    Add {
        /// The case id (a litigation or tax audit reference).
        #[arg(long)]
        case: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Hold what this search finds (the query is recorded too).
        #[arg(long, conflicts_with = "ids", required_unless_present = "ids")]
        query: Option<String>,
        /// Hold these message records.
        #[arg(long = "id", value_name = "ID")]
        ids: Vec<u64>,
    },
    /// List holds.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Release a case's hold.
    Release {
        /// The case id.
        #[arg(long)]
        case: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

/// `mailseal purge`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PurgeArgs {
    /// Only list what would be purged.
    #[arg(long)]
    pub dry_run: bool,
    /// One JSON object for the result.
    #[arg(long)]
    pub json: bool,
    /// Early deletion.
    #[command(subcommand)]
    pub what: Option<PurgeCommand>,
}

/// Early deletion, by two people.
#[derive(Debug, Subcommand)]
pub enum PurgeCommand {
    /// Ask to delete message records before their keep-until (for example
    /// a GDPR erasure request where no retention duty applies).
    Request {
        /// The message records.
        #[arg(long = "id", value_name = "ID", required = true)]
        ids: Vec<u64>,
        /// Why.
        #[arg(long)]
        reason: String,
        /// The web user asking; their password is read from standard input.
        #[arg(long = "as", value_name = "USER")]
        user: String,
    },
    /// Approve a request: a data officer other than the requester.
    Approve {
        /// The request's record id.
        request: u64,
        /// The approving data officer; their password is read from
        /// standard input.
        #[arg(long = "as", value_name = "USER")]
        user: String,
    },
    /// List the requests.
    Requests {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// `mailseal retention`.
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Keep message records longer than their rule said, as a chained
    /// record (never shorter).
    Extend {
        /// The message records.
        #[arg(
            long = "id",
            value_name = "ID",
            conflicts_with = "query",
            required_unless_present = "query"
        )]
        ids: Vec<u64>,
        /// Extend what this search finds.
        #[arg(long)]
        query: Option<String>,
        /// The new last day, YYYY-MM-DD.
        #[arg(long)]
        until: NaiveDate,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

/// `mailseal hold …`.
pub fn hold(target: &Target, what: HoldCommand) -> anyhow::Result<u8> {
    let cmd = match what {
        HoldCommand::Add {
            case,
            reason,
            query,
            ids,
        } => {
            let records = match &query {
                Some(q) => matching_messages(target, q)?,
                None => ids,
            };
            if records.is_empty() {
                anyhow::bail!("the query finds no message: nothing to hold");
            }
            Lifecycle::HoldAdd {
                case,
                reason,
                query,
                records,
                actor: unix_user(),
            }
        }
        HoldCommand::Release { case, reason } => Lifecycle::HoldRelease {
            case,
            reason,
            actor: unix_user(),
        },
        HoldCommand::List { json } => {
            let LifecycleReply::Holds { holds } = send(target, Lifecycle::Holds)? else {
                anyhow::bail!("unexpected answer");
            };
            for h in holds {
                if json {
                    println!("{}", serde_json::to_string(&h)?);
                } else {
                    let state = match h.released {
                        Some(seq) => format!("released (record {seq})"),
                        None => "active".into(),
                    };
                    println!(
                        "{}\t{}\t{} records\tplaced by {} (record {})\t{}",
                        h.case,
                        state,
                        h.records.len(),
                        h.actor,
                        h.placed,
                        h.reason
                    );
                }
            }
            return Ok(0);
        }
    };
    chained(send(target, cmd)?)
}

/// `mailseal purge …`.
pub fn purge(target: &Target, args: PurgeArgs) -> anyhow::Result<u8> {
    let cmd = match args.what {
        None => Lifecycle::Purge {
            dry_run: args.dry_run,
            actor: unix_user(),
        },
        Some(PurgeCommand::Request { ids, reason, user }) => {
            let password = read_password()?;
            let cmd = Lifecycle::Request {
                records: ids,
                reason,
                actor: user,
            };
            return chained(send_as(target, cmd, password)?);
        }
        Some(PurgeCommand::Approve { request, user }) => {
            let password = read_password()?;
            let cmd = Lifecycle::Approve {
                request,
                actor: user,
            };
            return chained(send_as(target, cmd, password)?);
        }
        Some(PurgeCommand::Requests { json }) => {
            let LifecycleReply::Requests { requests } = send(target, Lifecycle::Requests)? else {
                anyhow::bail!("unexpected answer");
            };
            for r in requests {
                if json {
                    println!("{}", serde_json::to_string(&r)?);
                } else {
                    let state = match &r.approved {
                        Some((seq, by)) => format!("approved by {by} (record {seq})"),
                        None => "waiting for approval".into(),
                    };
                    println!(
                        "{}\t{}\t{} records\tby {}\t{}\t{}",
                        r.seq,
                        r.time.get(..10).unwrap_or(&r.time),
                        r.records.len(),
                        r.actor,
                        state,
                        r.reason
                    );
                }
            }
            return Ok(0);
        }
    };
    match send(target, cmd)? {
        LifecycleReply::Purge { plan, done } => {
            if args.json {
                println!("{}", serde_json::json!({ "plan": plan, "done": done }));
            } else {
                print_purge(&plan, done.as_ref());
            }
            Ok(match done.and_then(|d| d.compaction_error) {
                Some(_) => 1,
                None => 0,
            })
        }
        other => chained(other),
    }
}

/// `mailseal retention …`.
pub fn retention(target: &Target, what: RetentionCommand) -> anyhow::Result<u8> {
    let RetentionCommand::Extend {
        ids,
        query,
        until,
        reason,
    } = what;
    let records = match &query {
        Some(q) => matching_messages(target, q)?,
        None => ids,
    };
    chained(send(
        target,
        Lifecycle::Extend {
            records,
            keep_until: until,
            reason,
            actor: unix_user(),
        },
    )?)
}

fn print_purge(plan: &Plan, done: Option<&Purged>) {
    for d in &plan.due {
        let verb = if done.is_some() { "purged" } else { "due" };
        println!("{verb}\t{}\t{}", d.of, d.reason);
    }
    for s in plan
        .skipped
        .iter()
        .chain(done.iter().flat_map(|d| d.skipped.iter()))
    {
        println!("kept\t{}\t{}", s.of, s.why);
    }
    for a in &plan.audit {
        let verb = if done.is_some() { "purged" } else { "due" };
        println!(
            "{verb}\taudit {}\tkept until {} ({} years)",
            a.year, a.keep_until, a.audit_years
        );
    }
    if plan.audit_in_clear > 0 {
        println!(
            "kept\t{} audit records\tstored in clear (written before audit records were sealed)",
            plan.audit_in_clear
        );
    }
    match done {
        Some(d) => {
            println!(
                "{} purged ({} keys destroyed), {} kept, {} not yet due",
                d.tombstones.len(),
                d.slots,
                plan.skipped.len() + d.skipped.len(),
                plan.kept
            );
            if let Some(e) = &d.compaction_error {
                eprintln!("the index could not be compacted: {e}; run `mailseal purge` again");
            }
        }
        None => println!(
            "{} due, {} kept, {} not yet due{}",
            plan.due.len(),
            plan.skipped.len(),
            plan.kept,
            if plan.due.is_empty() {
                ""
            } else {
                " (dry run: nothing purged)"
            }
        ),
    }
}

fn chained(reply: LifecycleReply) -> anyhow::Result<u8> {
    match reply {
        LifecycleReply::Chained { seq } => {
            println!("recorded as record {seq}");
            Ok(0)
        }
        _ => anyhow::bail!("unexpected answer"),
    }
}

/// `[retention] key_backup_max_age` in whole days (at least one).
pub fn forget_days(config: &Config) -> u64 {
    config.retention.as_ref().map_or(30, |r| {
        r.key_backup_max_age.as_secs().div_ceil(86_400).max(1)
    })
}

/// Through the daemon when it runs, else on the archive here.
fn send(target: &Target, cmd: Lifecycle) -> anyhow::Result<LifecycleReply> {
    deliver(target, cmd, None)
}

/// A four-eyes step: the web user's password goes with it, and whoever
/// carries it out (the daemon, or this process) checks it and the role.
fn send_as(target: &Target, cmd: Lifecycle, password: String) -> anyhow::Result<LifecycleReply> {
    deliver(target, cmd, Some(password))
}

fn deliver(
    target: &Target,
    cmd: Lifecycle,
    password: Option<String>,
) -> anyhow::Result<LifecycleReply> {
    let days = forget_days(target.config);
    let mutates = !matches!(cmd, Lifecycle::Holds | Lifecycle::Requests);
    if mutates {
        target.refuse_copy("this command")?;
    }
    let remote = {
        let (cmd, password) = (cmd.clone(), password.clone());
        target.ask(|client| async move { client.lifecycle(cmd, days, password).await })?
    };
    if let Some(reply) = remote {
        return Ok(reply);
    }
    let config = target.config;
    let four_eyes = match &cmd {
        Lifecycle::Request { actor, .. } => Some((actor, MAY_REQUEST_PURGE)),
        Lifecycle::Approve { actor, .. } => Some((actor, MAY_APPROVE_PURGE)),
        _ => None,
    };
    if let Some((name, roles)) = four_eyes {
        let password = password.unwrap_or_default();
        let checked = target.block_on(crate::web::auth::authenticate(
            &config.web.users_file,
            name,
            &password,
            roles,
        ));
        checked.map_err(anyhow::Error::msg)?;
    }
    let archive = Archive::open(&archive_options(config))
        .with_context(|| format!("opening archive {}", config.archive.path.display()))?;
    let today = chrono::Local::now().date_naive();
    let reply = manage::execute(&archive, cmd, today, days);
    archive.close()?;
    let reply = reply?;
    // Without a daemon no indexer follows the tombstones: the search index
    // drops the purged messages (and merges them out of its files) now.
    if let LifecycleReply::Purge { done: Some(d), .. } = &reply
        && !d.tombstones.is_empty()
        && crate::search::index_dir(&config.archive.path).exists()
    {
        super::search::catch_up_local(target)?;
    }
    Ok(reply)
}

/// The message records a search finds (all pages).
fn matching_messages(target: &Target, query: &str) -> anyhow::Result<Vec<u64>> {
    let remote = {
        let query = query.to_string();
        target.ask(|client| async move {
            let mut seqs = Vec::new();
            let mut cursor = None;
            loop {
                let page = SearchPage {
                    query: query.clone(),
                    limit: 1000,
                    sort: "date".into(),
                    cursor,
                };
                let mut found = Vec::new();
                let end = client
                    .search(page, &mut |s| {
                        if s.kind == "message" {
                            found.push(s.seq);
                        }
                        Ok(())
                    })
                    .await?;
                let empty = found.is_empty();
                seqs.extend(found);
                match end.next_cursor {
                    Some(c) if !empty => cursor = Some(c),
                    _ => break,
                }
            }
            Ok(seqs)
        })?
    };
    let mut seqs = match remote {
        Some(seqs) => seqs,
        None => super::search::matching(target, query)?,
    };
    seqs.sort_unstable();
    seqs.dedup();
    Ok(seqs)
}
