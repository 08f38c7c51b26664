//! Whether the configured rules may replace the ones last recorded in the
//! archive. Like S3 Object Lock's compliance mode, nothing may shorten a
//! promise already made: a rule may never lose years or disappear. It may
//! be retired (and brought back), get longer, and change its conditions,
//! since records already decided keep their own rule and `keep_until`.

use super::rules::RuleSet;

/// Every recorded rule the configuration shortens or drops, as one message
/// each that names the rule, its old and new years, and what to do
/// instead. Empty when the configuration may be used.
pub fn compare(recorded: &RuleSet, configured: &RuleSet) -> Vec<String> {
    let mut problems = Vec::new();
    for old in &recorded.rules {
        match configured.rules.iter().find(|new| new.name == old.name) {
            None => problems.push(format!(
                "retention rule {name:?} ({years} years) is recorded in the archive but missing \
                 from the configuration: a rule can never be removed or renamed; keep it with \
                 years = {years} and set retired = true to stop it matching",
                name = old.name,
                years = old.years,
            )),
            Some(new) if new.years < old.years => problems.push(format!(
                "retention rule {name:?} would go from {old} to {new} years: a rule can never \
                 lose years; keep years = {old} (set retired = true to stop it matching) and \
                 add a rule with a new name and {new} years for new mail",
                name = old.name,
                old = old.years,
                new = new.years,
            )),
            Some(_) => {}
        }
    }
    if let (Some(old), Some(new)) = (recorded.audit_years, configured.audit_years)
        && new < old
    {
        problems.push(format!(
            "audit_years would go from {old} to {new}: audit records can never be kept for \
             fewer years than the archive recorded; keep audit_years = {old} or more"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::super::rules::{Conditions, RecordedRule};
    use super::*;

    fn rule(name: &str, years: u32, retired: bool, from: &[&str]) -> RecordedRule {
        RecordedRule {
            name: name.into(),
            years,
            retired,
            conditions: Conditions {
                from: from.iter().map(|s| s.to_string()).collect(),
                ..Conditions::default()
            },
        }
    }

    fn set(rules: Vec<RecordedRule>) -> RuleSet {
        RuleSet {
            rules,
            audit_years: None,
        }
    }

    fn recorded() -> RuleSet {
        set(vec![
            rule("books", 10, false, &["@tax.example"]),
            rule("letters", 6, false, &[]),
        ])
    }

    #[test]
    fn the_same_rules_pass() {
        assert!(compare(&recorded(), &recorded()).is_empty());
        assert!(compare(&RuleSet::default(), &recorded()).is_empty());
    }

    #[test]
    fn longer_retired_reordered_new_and_changed_conditions_pass() {
        let configured = set(vec![
            rule("vouchers", 8, false, &["@bank.example"]),
            rule("books", 10, true, &["@other.example", "cfo@example.com"]),
            rule("letters", 10, false, &[]),
        ]);
        assert!(compare(&recorded(), &configured).is_empty());
        // Un-retiring is allowed too.
        assert!(
            compare(
                &configured,
                &set(vec![
                    rule("vouchers", 8, false, &["@bank.example"]),
                    rule("books", 10, false, &[]),
                    rule("letters", 10, false, &[]),
                ])
            )
            .is_empty()
        );
    }

    #[test]
    fn audit_years_may_grow_but_never_shrink() {
        let with = |years| RuleSet {
            audit_years: Some(years),
            ..recorded()
        };
        assert!(compare(&with(10), &with(12)).is_empty());
        assert!(
            compare(&recorded(), &with(3)).is_empty(),
            "none recorded yet"
        );
        let problems = compare(&with(10), &with(7));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("from 10 to 7"), "{problems:?}");
    }

    #[test]
    fn a_shorter_rule_is_refused_with_both_periods() {
        let configured = set(vec![
            rule("books", 8, false, &["@tax.example"]),
            rule("letters", 6, false, &[]),
        ]);
        let problems = compare(&recorded(), &configured);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let p = &problems[0];
        assert!(p.contains("\"books\""), "{p}");
        assert!(p.contains("from 10 to 8 years"), "{p}");
        assert!(p.contains("retired = true"), "{p}");
        assert!(p.contains("new name"), "{p}");
    }

    #[test]
    fn a_missing_or_renamed_rule_is_refused_even_when_retired() {
        let recorded = set(vec![
            rule("books", 10, true, &["@tax.example"]),
            rule("letters", 6, false, &[]),
        ]);
        let configured = set(vec![
            rule("ledger", 10, false, &["@tax.example"]),
            rule("letter", 6, false, &[]),
        ]);
        let problems = compare(&recorded, &configured);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("\"books\" (10 years)"),
            "{}",
            problems[0]
        );
        assert!(
            problems[1].contains("\"letters\" (6 years)"),
            "{}",
            problems[1]
        );
        for p in &problems {
            assert!(p.contains("never be removed"), "{p}");
            assert!(p.contains("retired = true"), "{p}");
        }
    }
}
