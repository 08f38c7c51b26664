//! [`Rules`]: how rules are checked and how a capture is decided, with the
//! rules of a German company (docs/retention.md's example).

use chrono::NaiveDate;

use super::*;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn rule(name: &str, years: u32, conditions: Conditions) -> RecordedRule {
    RecordedRule {
        name: name.into(),
        years,
        retired: false,
        conditions,
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn own() -> Vec<String> {
    strings(&["example.com"])
}

/// Books and invoices 10 years, booking vouchers 8, business letters 6.
fn company() -> Vec<RecordedRule> {
    vec![
        rule(
            "invoices",
            10,
            Conditions {
                folder: strings(&["Rechnungen", "Archiv/Rechnungen/*"]),
                ..Conditions::default()
            },
        ),
        rule(
            "books",
            10,
            Conditions {
                address: strings(&["buchhaltung@example.com", "@tax.example"]),
                ..Conditions::default()
            },
        ),
        rule(
            "vouchers",
            8,
            Conditions {
                from: strings(&["@bank.example"]),
                direction: Some(Direction::Inbound),
                ..Conditions::default()
            },
        ),
        rule("letters", 6, Conditions::default()),
    ]
}

fn rules(list: Vec<RecordedRule>) -> Rules {
    Rules::new(&own(), list).unwrap()
}

fn mail<'a>(sender: &'a str, recipients: &[&'a str]) -> Capture<'a> {
    Capture {
        kind: "journal",
        listener: "ex-journal",
        sender: Some(sender),
        recipients: recipients.to_vec(),
        user: None,
        folder: None,
    }
}

fn decided(rules: &Rules, c: &Capture) -> String {
    rules.decide(c, Basis::Capture, day("2025-06-01")).rule
}

#[test]
fn decides_rule_years_and_keep_until() {
    let r = rules(company());
    let field = r.decide(
        &mail("kontoauszug@bank.example", &["anna@example.com"]),
        Basis::DateHeader,
        day("2024-02-29"),
    );
    assert_eq!(
        field,
        RetentionField {
            rule: "vouchers".into(),
            years: 8,
            basis: Basis::DateHeader,
            basis_date: day("2024-02-29"),
            keep_until: day("2032-12-31"),
        }
    );
    let letter = r.decide(
        &mail("kunde@customer.example", &["anna@example.com"]),
        Basis::Capture,
        day("2025-12-31"),
    );
    assert_eq!((letter.rule.as_str(), letter.years), ("letters", 6));
    assert_eq!(letter.keep_until, day("2031-12-31"));
}

#[test]
fn the_first_matching_rule_wins() {
    let r = rules(company());
    // The bank writes to the accounting team: books (10) comes before
    // vouchers (8).
    let c = mail("auszug@bank.example", &["Buchhaltung@Example.com"]);
    assert_eq!(decided(&r, &c), "books");
    let mut reordered = company();
    reordered.swap(1, 2);
    assert_eq!(decided(&rules(reordered), &c), "vouchers");
}

#[test]
fn all_conditions_must_hold() {
    let r = rules(company());
    // Our own mail to the bank: `from` fails.
    assert_eq!(
        decided(&r, &mail("anna@example.com", &["x@bank.example"])),
        "letters"
    );
    // From the bank to nobody of ours: external, not inbound.
    assert_eq!(
        decided(&r, &mail("a@bank.example", &["b@elsewhere.example"])),
        "letters"
    );
}

#[test]
fn addresses_and_domains_ignore_case_and_domains_cover_subdomains() {
    let r = rules(company());
    for (sender, rcpt) in [
        ("A@TAX.EXAMPLE", "anna@example.com"),
        ("anna@example.com", "<pruefer@Berlin.Tax.Example>"),
        ("BUCHHALTUNG@EXAMPLE.COM.", "x@y.example"),
    ] {
        assert_eq!(
            decided(&r, &mail(sender, &[rcpt])),
            "books",
            "{sender} {rcpt}"
        );
    }
    assert_eq!(
        decided(&r, &mail("a@syntax.example", &["b@example.com"])),
        "letters"
    );
}

#[test]
fn retired_rules_never_match() {
    let mut list = company();
    list[1].retired = true;
    let r = rules(list);
    let c = mail("a@tax.example", &["anna@example.com"]);
    assert_eq!(decided(&r, &c), "letters");
    assert_eq!(r.recorded().rules[1].name, "books", "still on record");
    assert!(r.recorded().rules[1].retired);
}

#[test]
fn source_listener_user_and_folder() {
    let only = |conditions| {
        rules(vec![
            rule("one", 10, conditions),
            rule("rest", 6, Conditions::default()),
        ])
    };
    let c = Capture {
        kind: "imap-proxy",
        listener: "imap",
        sender: Some("a@x.example"),
        recipients: vec!["b@example.com"],
        user: Some("Anna"),
        folder: Some("INBOX/Rechnungen"),
    };
    let matching = [
        Conditions {
            source: strings(&["journal", "imap-proxy"]),
            ..Conditions::default()
        },
        Conditions {
            listener: strings(&["imap"]),
            ..Conditions::default()
        },
        Conditions {
            user: strings(&["anna"]),
            ..Conditions::default()
        },
        Conditions {
            folder: strings(&["inbox/*"]),
            ..Conditions::default()
        },
        Conditions {
            to: strings(&["@example.com"]),
            ..Conditions::default()
        },
    ];
    for conditions in matching {
        assert_eq!(
            decided(&only(conditions.clone()), &c),
            "one",
            "{conditions:?}"
        );
    }
    let failing = [
        Conditions {
            source: strings(&["import"]),
            ..Conditions::default()
        },
        Conditions {
            listener: strings(&["IMAP"]),
            ..Conditions::default()
        },
        Conditions {
            user: strings(&["bert"]),
            ..Conditions::default()
        },
        Conditions {
            folder: strings(&["Rechnungen"]),
            ..Conditions::default()
        },
        Conditions {
            from: strings(&["@example.com"]),
            ..Conditions::default()
        },
        Conditions {
            user: strings(&["anna"]),
            folder: strings(&["Archiv/*"]),
            ..Conditions::default()
        },
    ];
    for conditions in failing {
        assert_eq!(
            decided(&only(conditions.clone()), &c),
            "rest",
            "{conditions:?}"
        );
    }
    // Unknown user or folder fails a condition on them.
    let bare = mail("a@x.example", &[]);
    let user_rule = Conditions {
        user: strings(&["anna"]),
        ..Conditions::default()
    };
    assert_eq!(decided(&only(user_rule), &bare), "rest");
    // The null sender matches no `from`, but `address` still sees recipients.
    let bounce = mail("", &["b@example.com"]);
    let from_rule = Conditions {
        from: strings(&["@example.com"]),
        ..Conditions::default()
    };
    assert_eq!(decided(&only(from_rule), &bounce), "rest");
    let address_rule = Conditions {
        address: strings(&["@example.com"]),
        ..Conditions::default()
    };
    assert_eq!(decided(&only(address_rule), &bounce), "one");
}

#[test]
fn every_direction() {
    for (direction, sender, rcpts) in [
        (Direction::Inbound, "a@x.example", vec!["b@example.com"]),
        (Direction::Outbound, "a@example.com", vec!["b@x.example"]),
        (
            Direction::Internal,
            "a@example.com",
            vec!["b@sales.example.com"],
        ),
        (Direction::External, "a@x.example", vec!["b@y.example"]),
    ] {
        let r = rules(vec![
            rule(
                "one",
                10,
                Conditions {
                    direction: Some(direction),
                    ..Conditions::default()
                },
            ),
            rule("rest", 6, Conditions::default()),
        ]);
        assert_eq!(decided(&r, &mail(sender, &rcpts)), "one", "{direction:?}");
        let other = if direction == Direction::Inbound {
            "a@example.com"
        } else {
            "a@z.example"
        };
        let c = mail(other, &["b@example.com"]);
        assert_ne!(decided(&r, &c), "one", "{direction:?} with {other}");
    }
}

fn problems(list: Vec<RecordedRule>) -> Vec<(Option<usize>, Option<&'static str>)> {
    match Rules::new(&own(), list) {
        Ok(r) => panic!("accepted: {r:?}"),
        Err(problems) => problems.into_iter().map(|p| (p.rule, p.key)).collect(),
    }
}

#[test]
fn a_default_rule_must_come_last() {
    assert_eq!(problems(vec![]), [(None, None)]);
    let mut no_default = company();
    no_default.pop();
    assert_eq!(problems(no_default), [(Some(2), None)]);
    let mut retired_default = company();
    retired_default[3].retired = true;
    assert_eq!(problems(retired_default), [(Some(3), None)]);
    let mut early_default = company();
    early_default.insert(1, rule("early", 10, Conditions::default()));
    assert_eq!(problems(early_default), [(Some(1), None)]);
    // A retired rule without conditions anywhere is harmless.
    let mut retired_early = company();
    retired_early.insert(1, rule("old-default", 10, Conditions::default()));
    retired_early[1].retired = true;
    assert!(Rules::new(&own(), retired_early).is_ok());
}

#[test]
fn every_mistake_in_the_rules_is_reported() {
    let bad = Conditions {
        source: strings(&["journal", "smtp"]),
        from: strings(&["example.com"]),
        to: strings(&["ok@example.com", "@"]),
        address: strings(&["a b@example.com"]),
        user: strings(&[""]),
        folder: strings(&[" "]),
        ..Conditions::default()
    };
    let list = vec![
        rule("Books", 0, bad),
        rule(
            "letters",
            31,
            Conditions {
                listener: strings(&[""]),
                ..Conditions::default()
            },
        ),
        rule("letters", 6, Conditions::default()),
    ];
    let Err(found) = Rules::new(&own(), list) else {
        panic!("accepted");
    };
    let keys: Vec<_> = found.iter().map(|p| (p.rule, p.key)).collect();
    for expected in [
        (Some(0), Some("name")),
        (Some(0), Some("years")),
        (Some(0), Some("source")),
        (Some(0), Some("from")),
        (Some(0), Some("to")),
        (Some(0), Some("address")),
        (Some(0), Some("user")),
        (Some(0), Some("folder")),
        (Some(1), Some("years")),
        (Some(1), Some("listener")),
        (Some(2), Some("name")),
    ] {
        assert!(keys.contains(&expected), "{expected:?} not in {found:?}");
    }
    let message = |rule, key| {
        found
            .iter()
            .find(|p| p.rule == Some(rule) && p.key == Some(key))
            .unwrap()
            .to_string()
    };
    assert!(message(0, "source").contains("\"smtp\""));
    assert!(message(0, "years").contains("1 to 30"));
    assert!(message(2, "name").contains("duplicate"));
}

#[test]
fn recorded_rules_keep_what_was_configured() {
    let mut list = company();
    list[1].retired = true;
    let r = rules(list.clone());
    assert_eq!(
        r.recorded(),
        RuleSet {
            rules: list,
            audit_years: Some(10),
        },
        "audit records are kept as long as the longest rule unless configured"
    );
    assert_eq!(r.longest_years(), 10);
    assert_eq!(
        r.clone().with_audit_years(12).recorded().audit_years,
        Some(12)
    );
    let json = serde_json::to_string(&r.recorded().rules[2]).unwrap();
    assert_eq!(
        json,
        r#"{"name":"vouchers","years":8,"retired":false,"match":{"from":["@bank.example"],"direction":"inbound"}}"#
    );
    let back: RuleSet =
        serde_json::from_str(&serde_json::to_string(&r.recorded()).unwrap()).unwrap();
    assert_eq!(back, r.recorded());
    let json = serde_json::to_string(&r.recorded().rules[3]).unwrap();
    assert_eq!(
        json,
        r#"{"name":"letters","years":6,"retired":false,"match":{}}"#
    );
    assert!(serde_json::from_str::<RecordedRule>(&json.replace("{}", r#"{"sender":[]}"#)).is_err());
}

#[test]
fn retired_rules_count_for_the_longest_period() {
    let mut list = company();
    list.insert(0, rule("old", 12, Conditions::default()));
    list[0].retired = true;
    assert_eq!(rules(list).longest_years(), 12);
}
