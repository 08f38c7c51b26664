//! `[retention]` and its `[[retention.rule]]`s: how long mail is kept,
//! decided at capture (docs/retention.md). The rules themselves are
//! checked by [`crate::retention::Rules::new`]; this module reads the
//! TOML, checks the section's own keys and puts every problem of a rule
//! under its key path and line.
//!
//! TOML cannot have both `[retention]` and `[[retention]]`, so the
//! settings are the table and the rules an array inside it.

use std::time::Duration;

use chrono::NaiveTime;
use serde::Deserialize;

use super::problem::{At, Problems};
use super::{check, value};
use crate::retention::{Conditions, Direction, MAX_YEARS, RecordedRule, RuleProblem, Rules};

/// `[retention]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetention {
    /// How long a copy of the key store (a backup, a replica) may live.
    #[serde(
        default = "default_key_backup_max_age",
        deserialize_with = "value::duration"
    )]
    key_backup_max_age: Duration,
    /// Years audit records are kept; default: the longest rule.
    #[serde(default)]
    audit_years: Option<u32>,
    /// `daily` or `off`.
    #[serde(default = "default_purge")]
    purge: Purge,
    /// Local time of the daily purge, `HH:MM`.
    #[serde(default = "default_purge_at")]
    purge_at: String,
    /// The rules, in matching order.
    #[serde(default)]
    rule: Vec<RawRule>,
}

/// `[[retention.rule]]` as written in the file. A list that is present
/// but empty would match nothing, so lists are `Option` to tell it apart
/// from an absent key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    /// Recorded in every record the rule decides.
    #[serde(default)]
    name: Option<String>,
    /// The period, from the end of the basis year.
    #[serde(default)]
    years: Option<u32>,
    /// Stops matching, stays on record.
    #[serde(default)]
    retired: bool,
    /// Source kinds.
    #[serde(default)]
    source: Option<Vec<String>>,
    /// Listener or import job names.
    #[serde(default)]
    listener: Option<Vec<String>>,
    /// Sender addresses or `@domain`s.
    #[serde(default)]
    from: Option<Vec<String>>,
    /// Recipient addresses or `@domain`s.
    #[serde(default)]
    to: Option<Vec<String>>,
    /// Sender or recipient addresses or `@domain`s.
    #[serde(default)]
    address: Option<Vec<String>>,
    /// Logins.
    #[serde(default)]
    user: Option<Vec<String>>,
    /// IMAP folders, `*` globs.
    #[serde(default)]
    folder: Option<Vec<String>>,
    /// `inbound`, `outbound`, `internal` or `external`.
    #[serde(default)]
    direction: Option<Direction>,
}

fn default_key_backup_max_age() -> Duration {
    Duration::from_secs(30 * 86400)
}
fn default_purge() -> Purge {
    Purge::Daily
}
fn default_purge_at() -> String {
    "02:30".into()
}

/// Whether `mailseal run` purges on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purge {
    /// Once a day at `purge_at`.
    Daily,
    /// Only when `mailseal purge` is run.
    Off,
}

/// `[retention]`, validated. Its presence turns retention on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionConfig {
    /// The rules, checked; the last is the default.
    pub rules: Rules,
    /// No copy of the key store may be older: after this time a destroyed
    /// key is gone from every copy, and a tombstone names that date.
    pub key_backup_max_age: Duration,
    /// How many years (from the end of the year) audit records are kept.
    pub audit_years: u32,
    /// Whether the daemon purges daily.
    pub purge: Purge,
    /// Local time of the daily purge.
    pub purge_at: NaiveTime,
}

impl RawRetention {
    /// `own_domains`: `[archive] local_domains`, or `None` when that
    /// section failed (then `direction` is not checked against them).
    pub(crate) fn validate(
        self,
        p: &mut Problems,
        own_domains: Option<&[String]>,
    ) -> Option<RetentionConfig> {
        let at = At::section("retention", None);
        let key_backup_max_age =
            check::nonzero(p, at.key("key_backup_max_age"), self.key_backup_max_age);
        let audit_years = self.audit_years.filter(|years| {
            let ok = (1..=MAX_YEARS).contains(years);
            if !ok {
                p.push(
                    at.key("audit_years"),
                    format!("must be 1 to {MAX_YEARS} years, not {years}"),
                );
            }
            ok
        });
        let audit_ok = audit_years.is_some() == self.audit_years.is_some();
        let purge_at = NaiveTime::parse_from_str(&self.purge_at, "%H:%M").ok();
        if purge_at.is_none() {
            p.push(
                at.key("purge_at"),
                "expected a local time HH:MM, such as \"02:30\"",
            );
        }
        let mut rules = Vec::with_capacity(self.rule.len());
        let mut had_empty_list = Vec::new();
        for (i, raw) in self.rule.into_iter().enumerate() {
            let (rule, empty_list) =
                raw.read(p, &At::section("retention.rule", Some(i)), own_domains);
            rules.push(rule);
            if empty_list {
                had_empty_list.push(i);
            }
        }
        let rules = match Rules::new(own_domains.unwrap_or_default(), rules) {
            Ok(_) if !had_empty_list.is_empty() => None,
            Ok(rules) => Some(rules),
            Err(problems) => {
                // The empty list is the mistake; where its rule stands in
                // the order is not judged on what was left of it.
                let judged_without_list = |problem: &RuleProblem| {
                    problem.key.is_none()
                        && problem.rule.is_some_and(|i| had_empty_list.contains(&i))
                };
                for problem in problems.into_iter().filter(|q| !judged_without_list(q)) {
                    let path = match (problem.rule, problem.key) {
                        (Some(i), Some(key)) => format!("retention.rule[{i}].{key}"),
                        (Some(i), None) => format!("retention.rule[{i}]"),
                        (None, _) => "retention.rule".to_owned(),
                    };
                    p.push(path, problem.message);
                }
                None
            }
        }?;
        if !audit_ok {
            return None;
        }
        let audit_years = audit_years.unwrap_or_else(|| rules.longest_years());
        Some(RetentionConfig {
            audit_years,
            rules: rules.with_audit_years(audit_years),
            key_backup_max_age: key_backup_max_age?,
            purge: self.purge,
            purge_at: purge_at?,
        })
    }
}

impl RawRule {
    /// The rule for [`Rules::new`]; what only the file can get wrong
    /// (missing keys, empty lists) is reported here. True with the rule
    /// when it had an empty list: left out, the list may leave a rule
    /// without conditions that was not meant as one.
    fn read(
        self,
        p: &mut Problems,
        at: &At,
        own_domains: Option<&[String]>,
    ) -> (RecordedRule, bool) {
        let name = check::required(p, at.key("name"), self.name);
        let years = check::required(p, at.key("years"), self.years);
        let mut empty_list = false;
        let mut list = |key: &str, list: Option<Vec<String>>| {
            if list.as_ref().is_some_and(Vec::is_empty) {
                empty_list = true;
                p.push(
                    at.key(key),
                    "an empty list matches nothing: leave the key out to match any",
                );
            }
            list.unwrap_or_default()
        };
        let conditions = Conditions {
            source: list("source", self.source),
            listener: list("listener", self.listener),
            from: list("from", self.from),
            to: list("to", self.to),
            address: list("address", self.address),
            user: list("user", self.user),
            folder: list("folder", self.folder),
            direction: self.direction,
        };
        if conditions.direction.is_some() && own_domains.is_some_and(<[String]>::is_empty) {
            p.push(
                at.key("direction"),
                "needs the organisation's domains: set [archive] local_domains",
            );
        }
        // A missing name or period was reported above; Rules::new reports
        // these stand-ins too, under the same path, and only the first
        // problem per path is kept.
        let rule = RecordedRule {
            name: name.unwrap_or_default(),
            years: years.unwrap_or_default(),
            retired: self.retired,
            conditions,
        };
        (rule, empty_list)
    }
}
