//! Retention decided at capture: which rule applies to a message, for how
//! many years, and until which day it must be kept (issue 15;
//! docs/retention.md for admins, docs/archive-format.md 2.3 for the
//! record fields).
//!
//! ```text
//!  [retention] in the config ──> Rules::new (checked once)
//!  a capture (source, listener, addresses, user, folder)
//!        └─> Rules::decide ──> RetentionField (rule, years, basis, keep_until)
//!  Rules::recorded ──> RuleSet (the `retention-rules` record body)
//!  compare(recorded, configured) ──> what the new configuration would shorten
//! ```
//!
//! Pure logic: no I/O, no clock, no configuration format and no archive.
//! It sits below `archive` (whose records carry a [`RetentionField`]) and
//! `config` (which builds [`Rules`]), and uses neither.
//!
//! Modules: `field` (the record field, year-end arithmetic), `matcher`
//! (addresses, domains, folder globs, direction), `rules` (rules, capture,
//! decide), `compare` (what may change).

mod compare;
mod field;
mod matcher;
mod rules;

pub use compare::compare;
pub use field::{Basis, RetentionField, is_purgeable, keep_until};
pub use matcher::Direction;
pub use rules::{
    Capture, Conditions, MAX_YEARS, RecordedRule, RuleProblem, RuleSet, Rules, SOURCE_KINDS,
};

#[cfg(test)]
mod tests;
