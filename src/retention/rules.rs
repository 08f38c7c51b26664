//! The retention rules: what they say as configured and recorded
//! ([`RecordedRule`], [`RuleSet`]), checked once into [`Rules`], and
//! [`Rules::decide`], which picks the first rule that matches a capture.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::field::{Basis, RetentionField, keep_until};
use super::matcher::{self, Address, AddressPattern, Direction, FolderGlob};

/// The longest period a rule may have: longer than any duty mailseal knows
/// of (10 years), short of a typo such as `100`.
pub const MAX_YEARS: u32 = 30;

/// The source kinds a rule's `source` may name (the record's `source.kind`).
pub const SOURCE_KINDS: [&str; 5] = [
    "journal",
    "smtp-proxy",
    "imap-proxy",
    "pop3-proxy",
    "import",
];

/// A rule's conditions as configured: all that are set must hold, and a
/// list holds when any of its entries does. Kept as written (not
/// normalised), so the `retention-rules` record shows what the admin wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Source kinds (`journal`, `smtp-proxy`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source: Vec<String>,
    /// Listener or import job names, exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listener: Vec<String>,
    /// The sender's address, or `@domain` for a domain and its subdomains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<String>,
    /// Any recipient (envelope and journal), as for `from`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    /// The sender or any recipient, as for `from`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address: Vec<String>,
    /// IMAP/POP3 login, SMTP AUTH user or import account, any case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user: Vec<String>,
    /// IMAP folder names; `*` matches any characters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folder: Vec<String>,
    /// Which way the message went relative to `[archive] local_domains`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
}

impl Conditions {
    /// A rule without conditions matches every message: the default rule.
    pub fn is_empty(&self) -> bool {
        *self == Conditions::default()
    }
}

/// One rule as configured, and as the `retention-rules` record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedRule {
    /// The rule's name; every record it decides carries it.
    pub name: String,
    /// The period in years from the end of the basis year.
    pub years: u32,
    /// A retired rule never matches, but stays on record with its years.
    pub retired: bool,
    /// What a message must have for the rule to apply.
    #[serde(rename = "match")]
    pub conditions: Conditions,
}

/// The body of a `retention-rules` record: the rules in force, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    /// Every configured rule, retired ones included, in matching order.
    pub rules: Vec<RecordedRule>,
    /// How many years after the end of their year audit records are kept;
    /// absent in records written before audit records were sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_years: Option<u32>,
}

/// What is known about a message at capture, for matching. Addresses in
/// any case, with or without `<>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capture<'a> {
    /// The source kind (`journal`, `smtp-proxy`, `imap-proxy`,
    /// `pop3-proxy`, `import`).
    pub kind: &'a str,
    /// The listener's or import job's name.
    pub listener: &'a str,
    /// The sender (MAIL FROM, or the journal envelope's sender); `None` or
    /// `""` for the null sender.
    pub sender: Option<&'a str>,
    /// Every recipient: envelope RCPT TO and the journal envelope's.
    pub recipients: Vec<&'a str>,
    /// IMAP/POP3 login, SMTP AUTH user, or the imported account.
    pub user: Option<&'a str>,
    /// The IMAP folder, decoded from modified UTF-7 (as the user sees it).
    pub folder: Option<&'a str>,
}

/// A mistake in the rules, for the configuration's problem list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleProblem {
    /// Index of the rule concerned; `None` for the list as a whole.
    pub rule: Option<usize>,
    /// The key concerned (`name`, `from`, …); `None` for the whole rule.
    pub key: Option<&'static str>,
    /// What is wrong, phrased for the admin who edits the file.
    pub message: String,
}

/// The rules, checked and ready to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The rules before the default one, in order.
    rules: Vec<Compiled>,
    /// The last rule, without conditions: matches whatever nothing else did.
    default: Compiled,
    /// The organisation's domains, lowercase, for `direction`.
    own_domains: Vec<String>,
    /// How many years after the end of their year audit records are kept
    /// (`[retention] audit_years`; the longest rule unless set).
    audit_years: u32,
}

/// A rule with its conditions in the form matching needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Compiled {
    /// As configured.
    rule: RecordedRule,
    /// `source`, checked.
    source: Vec<String>,
    /// `from`, parsed.
    from: Vec<AddressPattern>,
    /// `to`, parsed.
    to: Vec<AddressPattern>,
    /// `address`, parsed.
    address: Vec<AddressPattern>,
    /// `user`, lowercase.
    user: Vec<String>,
    /// `folder`, as globs.
    folder: Vec<FolderGlob>,
}

/// The capture's addresses, normalised once per decision.
struct Seen<'c, 'a> {
    /// The capture itself.
    capture: &'c Capture<'a>,
    /// Its sender, normalised; `None` for the null sender.
    sender: Option<Address>,
    /// Its recipients, normalised.
    recipients: Vec<Address>,
    /// Its direction, computed when a rule asks.
    direction: std::cell::OnceCell<Direction>,
}

impl Rules {
    /// Checks `rules` (in matching order) and prepares them. `own_domains`
    /// are the organisation's domains (`[archive] local_domains`, checked
    /// by the configuration, which also refuses `direction` without them:
    /// with none, every message is inbound or external). Every problem is
    /// returned, not just the first.
    pub fn new(
        own_domains: &[String],
        rules: Vec<RecordedRule>,
    ) -> Result<Rules, Vec<RuleProblem>> {
        let mut problems = Vec::new();
        let own_domains: Vec<String> = own_domains
            .iter()
            .map(|d| d.trim().trim_end_matches('.').to_lowercase())
            .collect();
        let count = rules.len();
        let mut compiled = Vec::with_capacity(count);
        let mut names: Vec<String> = Vec::with_capacity(count);
        check_order(&rules, &mut problems);
        for (i, rule) in rules.into_iter().enumerate() {
            let mut at = |key, message| {
                problems.push(RuleProblem {
                    rule: Some(i),
                    key,
                    message,
                })
            };
            if names.contains(&rule.name) {
                at(Some("name"), format!("duplicate rule name {:?}", rule.name));
            }
            names.push(rule.name.clone());
            if let Some(c) = Compiled::new(rule, &mut at) {
                compiled.push(c);
            }
        }
        if count == 0 {
            problems.push(RuleProblem {
                rule: None,
                key: None,
                message: "[retention] needs rules: add at least a default [[retention.rule]] \
                          without conditions"
                    .into(),
            });
        }
        let default = compiled.pop();
        match default {
            Some(default) if problems.is_empty() => {
                let audit_years = compiled
                    .iter()
                    .map(|c| c.rule.years)
                    .fold(default.rule.years, u32::max);
                Ok(Rules {
                    rules: compiled,
                    default,
                    own_domains,
                    audit_years,
                })
            }
            _ => Err(problems),
        }
    }

    /// The first rule that is not retired and whose conditions all hold
    /// decides; the default rule when none does.
    pub fn decide(&self, c: &Capture, basis: Basis, basis_date: NaiveDate) -> RetentionField {
        let seen = Seen {
            capture: c,
            sender: c.sender.and_then(Address::parse),
            recipients: c
                .recipients
                .iter()
                .filter_map(|r| Address::parse(r))
                .collect(),
            direction: std::cell::OnceCell::new(),
        };
        let rule = self
            .rules
            .iter()
            .find(|r| !r.rule.retired && r.matches(&seen, &self.own_domains))
            .unwrap_or(&self.default);
        RetentionField {
            rule: rule.rule.name.clone(),
            years: rule.rule.years,
            basis,
            basis_date,
            keep_until: keep_until(basis_date, rule.rule.years),
        }
    }

    /// The rules for the `retention-rules` record: all of them, in order.
    pub fn recorded(&self) -> RuleSet {
        let rules = self.rules.iter().chain(std::iter::once(&self.default));
        RuleSet {
            rules: rules.map(|c| c.rule.clone()).collect(),
            audit_years: Some(self.audit_years),
        }
    }

    /// Keeps audit records `years` after the end of their year.
    pub fn with_audit_years(mut self, years: u32) -> Rules {
        self.audit_years = years;
        self
    }

    /// How many years after the end of their year audit records are kept.
    pub fn audit_years(&self) -> u32 {
        self.audit_years
    }

    /// The longest period of any rule, retired ones included: how long
    /// audit records are kept unless configured otherwise.
    pub fn longest_years(&self) -> u32 {
        self.rules
            .iter()
            .map(|c| c.rule.years)
            .fold(self.default.rule.years, u32::max)
    }
}

/// The last rule is the default (no conditions, not retired); no active
/// rule before it may lack conditions, or the rules after it never match.
fn check_order(rules: &[RecordedRule], problems: &mut Vec<RuleProblem>) {
    for (i, rule) in rules.iter().enumerate() {
        let last = i + 1 == rules.len();
        let unconditional = rule.conditions.is_empty();
        let message = if last && !unconditional {
            "the last rule must be the default rule: without conditions, for every \
             message no rule before it matches"
        } else if last && rule.retired {
            "the last rule is the default rule and cannot be retired: add a new default \
             rule after it"
        } else if !last && unconditional && !rule.retired {
            "a rule without conditions matches every message, so the rules after it never \
             would: give it conditions, move it last, or retire it"
        } else {
            continue;
        };
        problems.push(RuleProblem {
            rule: Some(i),
            key: None,
            message: message.into(),
        });
    }
}

impl Compiled {
    /// Checks one rule; reports through `at(key, message)`.
    fn new(
        rule: RecordedRule,
        at: &mut impl FnMut(Option<&'static str>, String),
    ) -> Option<Compiled> {
        let mut ok = true;
        let name_ok = !rule.name.is_empty()
            && rule.name.len() <= 64
            && rule
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            ok = false;
            at(
                Some("name"),
                format!(
                    "invalid rule name {:?}: use 1 to 64 of a-z, 0-9 and '-'",
                    rule.name
                ),
            );
        }
        if !(1..=MAX_YEARS).contains(&rule.years) {
            ok = false;
            at(
                Some("years"),
                format!("must be 1 to {MAX_YEARS} years, not {}", rule.years),
            );
        }
        let c = &rule.conditions;
        let lists: [(&'static str, &Vec<String>); 7] = [
            ("source", &c.source),
            ("listener", &c.listener),
            ("from", &c.from),
            ("to", &c.to),
            ("address", &c.address),
            ("user", &c.user),
            ("folder", &c.folder),
        ];
        for (key, list) in lists {
            if list.iter().any(|e| e.trim().is_empty()) {
                ok = false;
                at(Some(key), "entries must not be empty".into());
            }
        }
        for kind in c
            .source
            .iter()
            .filter(|k| !SOURCE_KINDS.contains(&k.as_str()))
        {
            ok = false;
            at(
                Some("source"),
                format!(
                    "unknown source kind {kind:?}; use {}",
                    SOURCE_KINDS.join(", ")
                ),
            );
        }
        let mut patterns = |key: &'static str, list: &[String]| -> Vec<AddressPattern> {
            let mut out = Vec::new();
            for entry in list {
                match AddressPattern::parse(entry) {
                    Ok(p) => out.push(p),
                    Err(message) => {
                        ok = false;
                        at(Some(key), message);
                    }
                }
            }
            out
        };
        let from = patterns("from", &c.from);
        let to = patterns("to", &c.to);
        let address = patterns("address", &c.address);
        let compiled = Compiled {
            source: c.source.clone(),
            from,
            to,
            address,
            user: c.user.iter().map(|u| u.trim().to_lowercase()).collect(),
            folder: c.folder.iter().map(|f| FolderGlob::new(f)).collect(),
            rule,
        };
        ok.then_some(compiled)
    }

    /// Every condition that is set holds.
    fn matches(&self, seen: &Seen, own_domains: &[String]) -> bool {
        let c = seen.capture;
        let cond = &self.rule.conditions;
        let any_of = |patterns: &[AddressPattern], address: &Address| {
            patterns.iter().any(|p| p.matches(address))
        };
        let sender_in =
            |patterns: &[AddressPattern]| seen.sender.as_ref().is_some_and(|s| any_of(patterns, s));
        let rcpt_in =
            |patterns: &[AddressPattern]| seen.recipients.iter().any(|r| any_of(patterns, r));
        (self.source.is_empty() || self.source.iter().any(|k| k == c.kind))
            && (cond.listener.is_empty() || cond.listener.iter().any(|l| l == c.listener))
            && (self.from.is_empty() || sender_in(&self.from))
            && (self.to.is_empty() || rcpt_in(&self.to))
            && (self.address.is_empty() || sender_in(&self.address) || rcpt_in(&self.address))
            && (self.user.is_empty()
                || c.user
                    .is_some_and(|u| self.user.contains(&u.trim().to_lowercase())))
            && (self.folder.is_empty()
                || c.folder
                    .is_some_and(|f| self.folder.iter().any(|g| g.matches(f))))
            && cond.direction.is_none_or(|wanted| {
                let found = seen.direction.get_or_init(|| {
                    matcher::direction(own_domains, seen.sender.as_ref(), &seen.recipients)
                });
                *found == wanted
            })
    }
}
