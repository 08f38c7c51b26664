//! `[retention]` and `[[retention.rule]]`: defaults, the rules as typed
//! values, and every mistake with its line.

use std::time::Duration;

use chrono::NaiveTime;

use super::super::*;
use super::{errors, parse};
use crate::retention::{Basis, Capture, Direction};

const COMPANY: &str = r#"[archive]
local_domains = ["example.com"]

[retention]

[[retention.rule]]
name = "invoices"
years = 10
folder = ["Rechnungen", "Archiv/Rechnungen/*"]

[[retention.rule]]
name = "vouchers"
years = 8
from = ["@bank.example"]
direction = "inbound"

[[retention.rule]]
name = "letters"
years = 6
"#;

#[test]
fn no_section_means_no_retention() {
    assert_eq!(parse("").unwrap().retention, None);
}

#[test]
fn defaults_and_rules() {
    let config = parse(COMPANY).unwrap();
    let r = config.retention.unwrap();
    assert_eq!(r.key_backup_max_age, Duration::from_secs(30 * 86400));
    assert_eq!(r.audit_years, 10, "the longest rule");
    assert_eq!(r.purge, Purge::Daily);
    assert_eq!(r.purge_at, NaiveTime::from_hms_opt(2, 30, 0).unwrap());
    let names: Vec<_> = r
        .rules
        .recorded()
        .rules
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["invoices", "vouchers", "letters"]);
    let capture = Capture {
        kind: "journal",
        listener: "journal",
        sender: Some("Auszug@Bank.Example"),
        recipients: vec!["anna@example.com"],
        ..Capture::default()
    };
    let date = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
    let field = r.rules.decide(&capture, Basis::Capture, date);
    assert_eq!((field.rule.as_str(), field.years), ("vouchers", 8));
    assert_eq!(field.keep_until.to_string(), "2033-12-31");
}

#[test]
fn every_setting_and_condition_is_read() {
    let text = r#"[archive]
local_domains = ["example.com"]
[retention]
key_backup_max_age = "7d"
audit_years = 12
purge = "off"
purge_at = "23:05"
[[retention.rule]]
name = "all-keys"
years = 10
retired = true
source = ["journal", "import"]
listener = ["ex-journal"]
from = ["cfo@example.com"]
to = ["@tax.example"]
address = ["@bank.example"]
user = ["anna"]
folder = ["Archiv/*"]
direction = "internal"
[[retention.rule]]
name = "rest"
years = 6
"#;
    let r = parse(text).unwrap().retention.unwrap();
    assert_eq!(r.key_backup_max_age, Duration::from_secs(7 * 86400));
    assert_eq!((r.audit_years, r.purge), (12, Purge::Off));
    assert_eq!(r.purge_at, NaiveTime::from_hms_opt(23, 5, 0).unwrap());
    let first = &r.rules.recorded().rules[0];
    assert!(first.retired);
    let c = &first.conditions;
    assert_eq!(c.source, ["journal", "import"]);
    assert_eq!(c.listener, ["ex-journal"]);
    assert_eq!((c.from.len(), c.to.len(), c.address.len()), (1, 1, 1));
    assert_eq!((c.user.len(), c.folder.len()), (1, 1));
    assert_eq!(c.direction, Some(Direction::Internal));
}

#[test]
fn every_mistake_is_reported_with_its_line() {
    let text = r#"[retention]
key_backup_max_age = "0s"
audit_years = 40
purge = "weekly"
purge_at = "2:30pm"
keep = 1

[[retention.rule]]
name = "Books"
years = 0
source = ["smtp"]
from = ["example.com"]
to = []
direction = "incoming"

[[retention.rule]]
years = 6
direction = "outbound"
frm = ["a@b.example"]

[[retention.rule]]
name = "last"
years = 10
user = ["anna"]
"#;
    let e = errors(text);
    let found: Vec<(&str, Option<usize>)> = e
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.line))
        .collect();
    for expected in [
        ("retention.key_backup_max_age", Some(2)),
        ("retention.audit_years", Some(3)),
        ("retention.purge", Some(4)),
        ("retention.purge_at", Some(5)),
        ("retention.keep", Some(6)),
        ("retention.rule[0].name", Some(9)),
        ("retention.rule[0].years", Some(10)),
        ("retention.rule[0].source", Some(11)),
        ("retention.rule[0].from", Some(12)),
        ("retention.rule[0].to", Some(13)),
        ("retention.rule[0].direction", Some(14)),
        ("retention.rule[1].name", Some(16)),
        ("retention.rule[1].direction", Some(18)),
        ("retention.rule[1].frm", Some(19)),
        ("retention.rule[2]", Some(21)),
    ] {
        assert!(found.contains(&expected), "{expected:?} not in {found:?}");
    }
    let message = |path: &str| {
        e.problems
            .iter()
            .find(|p| p.path == path)
            .map(|p| p.message.clone())
            .unwrap()
    };
    assert!(message("retention.rule[0].to").contains("empty list"));
    assert!(message("retention.rule[1].name").contains("missing"));
    assert!(message("retention.rule[1].direction").contains("local_domains"));
    assert!(message("retention.rule[2]").contains("default rule"));
    assert!(message("retention.rule[0].from").contains("@example.com"));
    assert!(!e.has("retention.rule[0]"), "rule 0 has a condition left");
}

#[test]
fn an_empty_list_is_the_only_complaint_about_its_rule() {
    let text = r#"[[retention.rule]]
name = "books"
years = 10
to = []
[[retention.rule]]
name = "rest"
years = 6
folder = []
"#;
    let e = errors(text);
    let paths: Vec<&str> = e.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["retention.rule[0].to", "retention.rule[1].folder"]);
}

#[test]
fn retention_without_rules_is_refused() {
    let e = errors("[retention]\npurge = \"off\"\n");
    assert!(e.has("retention.rule"), "{e}");
    assert_eq!(e.problems[0].line, Some(1));
    // A rule block alone turns retention on, too.
    let config = parse("[[retention.rule]]\nname = \"all\"\nyears = 10\n").unwrap();
    assert_eq!(config.retention.unwrap().audit_years, 10);
}

#[test]
fn a_broken_archive_section_does_not_blame_direction() {
    let text = r#"[archive]
path = ""
local_domains = ["example.com"]
[[retention.rule]]
name = "out"
years = 10
direction = "outbound"
[[retention.rule]]
name = "rest"
years = 6
"#;
    let e = errors(text);
    assert!(e.has("archive.path"), "{e}");
    assert!(!e.has("retention.rule[0].direction"), "{e}");
}

/// The worked example in docs/retention.md parses and decides as its
/// table says.
#[test]
fn the_documented_example_decides_as_documented() {
    let doc = include_str!("../../../docs/retention.md");
    let (_, rest) = doc.split_once("```toml\n").unwrap();
    let (toml, _) = rest.split_once("```").unwrap();
    let r = parse(toml).unwrap().retention.unwrap();
    let date = chrono::NaiveDate::from_ymd_opt(2025, 5, 1).unwrap();
    let mail = |kind, sender, rcpt, folder| Capture {
        kind,
        listener: "x",
        sender: Some(sender),
        recipients: vec![rcpt],
        user: None,
        folder,
    };
    for (capture, rule, until) in [
        (
            mail(
                "journal",
                "a@supplier.example",
                "Rechnung@Example.com",
                None,
            ),
            "invoices",
            "2035-12-31",
        ),
        (
            mail(
                "imap-proxy",
                "a@supplier.example",
                "anna@example.com",
                Some("Archiv/Rechnungen/2025"),
            ),
            "invoice-folders",
            "2035-12-31",
        ),
        (
            mail(
                "journal",
                "kanzlei@berlin.steuerberater.example",
                "anna@example.com",
                None,
            ),
            "books",
            "2035-12-31",
        ),
        (
            mail(
                "journal",
                "auszug@bank.example",
                "buchhaltung@example.com",
                None,
            ),
            "books",
            "2035-12-31",
        ),
        (
            mail("journal", "auszug@bank.example", "anna@example.com", None),
            "vouchers",
            "2033-12-31",
        ),
        (
            mail("journal", "anna@example.com", "service@bank.example", None),
            "letters",
            "2031-12-31",
        ),
        (
            mail(
                "journal",
                "kunde@customer.example",
                "sales@example.com",
                None,
            ),
            "letters",
            "2031-12-31",
        ),
    ] {
        let field = r.rules.decide(&capture, Basis::Capture, date);
        assert_eq!(
            (field.rule.as_str(), field.keep_until.to_string().as_str()),
            (rule, until),
            "{capture:?}"
        );
    }
    let old = chrono::NaiveDate::from_ymd_opt(2019, 3, 1).unwrap();
    let import = mail(
        "import",
        "kunde@customer.example",
        "sales@example.com",
        None,
    );
    let field = r.rules.decide(&import, Basis::DateHeader, old);
    assert_eq!(
        (field.rule.as_str(), field.keep_until.to_string().as_str()),
        ("letters", "2025-12-31")
    );
}
