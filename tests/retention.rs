//! Retention decided at capture (issue 15): the first matching
//! `[[retention.rule]]` and its keep-until date are recorded in every
//! message record, counted from the end of the year of capture for live
//! mail and of the `Date:` header for imports; the rules are chained; and a
//! configuration that would shorten a recorded rule is refused by
//! `check-config` and at start, with the rule named.

use std::path::Path;
use std::process::Output;

use crate::support::verifiers::{expect, mailseal_with, python, text};

const RULES: &str = r#"
[retention]
[[retention.rule]]
name = "books"
years = 10
to = ["@buchhaltung.example"]
[[retention.rule]]
name = "letters"
years = 6
"#;

fn config(dir: &Path, rules: &str) -> std::path::PathBuf {
    let archive = dir.join("archive");
    let path = dir.join("mailseal.toml");
    let text = format!(
        "[archive]\npath = {:?}\n{rules}",
        archive.display().to_string()
    );
    std::fs::write(&path, crate::support::daemon::with_control(&path, text)).unwrap();
    path
}

fn mailseal(config: &Path, args: &[&str]) -> Output {
    mailseal_with(config, args)
}

fn eml(dir: &Path, name: &str, to: &str, date: &str) -> String {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "From: a@example.com\r\nTo: {to}\r\nDate: {date}\r\nSubject: {name}\r\n\r\nbody\r\n"
        ),
    )
    .unwrap();
    p.display().to_string()
}

fn retention_of(config: &Path, id: u64) -> serde_json::Value {
    let o = mailseal(config, &["show", &id.to_string()]);
    let t = expect(&o, 0, "show");
    let v: serde_json::Value =
        serde_json::from_str(&t).unwrap_or_else(|e| panic!("show printed no JSON ({e}): {t}"));
    v["record"]["body"]["retention"].clone()
}

#[test]
fn imports_are_kept_from_their_date_header_under_the_first_matching_rule() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), RULES);
    let old = eml(
        dir.path(),
        "old.eml",
        "Fibu <fibu@buchhaltung.example>",
        "Fri, 01 Mar 2019 08:00:00 +0100",
    );
    let letter = eml(
        dir.path(),
        "letter.eml",
        "kunde@example.org",
        "Tue, 15 Jul 2025 10:00:00 +0200",
    );
    expect(
        &mailseal(&cfg, &["import", "eml", &old, &letter]),
        0,
        "import",
    );

    // Record 1 is the chained rule set, then the two messages.
    let books = retention_of(&cfg, 2);
    assert_eq!(books["rule"], "books", "{books}");
    assert_eq!(books["basis"], "date-header", "{books}");
    assert_eq!(books["basis_date"], "2019-03-01", "{books}");
    assert_eq!(books["keep_until"], "2029-12-31", "{books}");
    let letters = retention_of(&cfg, 3);
    assert_eq!(letters["rule"], "letters", "{letters}");
    assert_eq!(letters["keep_until"], "2031-12-31", "{letters}");

    let rules = mailseal(&cfg, &["show", "1"]);
    let t = expect(&rules, 0, "show the rules record");
    assert!(
        t.contains("retention-rules") && t.contains("\"books\""),
        "{t}"
    );
    let archive = dir.path().join("archive");
    expect(&mailseal(&cfg, &["verify"]), 0, "mailseal verify");
    expect(
        &python(&["archive", archive.to_str().unwrap()]),
        0,
        "python",
    );
    let s = crate::support::verifiers::mailseal_verify(&["archive", archive.to_str().unwrap()]);
    assert_eq!(s.status.code(), Some(0), "{}", text(&s));

    // The same rules again chain nothing new.
    expect(
        &mailseal(&cfg, &["import", "eml", &letter]),
        0,
        "import again",
    );
    let o = mailseal(&cfg, &["list", "--json"]);
    let listed = expect(&o, 0, "list");
    assert!(listed.contains("\"seq\":4,"), "{listed}");
    assert_ne!(mailseal(&cfg, &["show", "5"]).status.code(), Some(0));

    // A letter from 2015 was due for deletion at the end of 2021: `stats`
    // counts it as past its keep-until date, the others as live.
    let ancient = eml(
        dir.path(),
        "ancient.eml",
        "kunde@example.org",
        "Mon, 02 Feb 2015 09:00:00 +0100",
    );
    expect(
        &mailseal(&cfg, &["import", "eml", &ancient]),
        0,
        "import 2015",
    );
    let o = mailseal(&cfg, &["stats", "--json"]);
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["retention"]["live"]["messages"], 3, "{st}");
    assert_eq!(st["retention"]["purgeable"]["messages"], 1, "{st}");
    assert_eq!(st["retention"]["no_rule"]["messages"], 0, "{st}");
    // A content and a record key for each of the three contents, a record
    // key for the repeated letter; the import of two took its second keys
    // from blocks of two (keystore::Reserve), leaving one of each unused.
    assert_eq!(st["key_store"]["slots"], 9, "{st}");
}

#[test]
fn a_shorter_or_missing_rule_is_refused_by_check_config_and_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), RULES);
    let m = eml(
        dir.path(),
        "m.eml",
        "x@example.org",
        "Tue, 15 Jul 2025 10:00:00 +0200",
    );
    expect(&mailseal(&cfg, &["import", "eml", &m]), 0, "import");
    expect(&mailseal(&cfg, &["check-config"]), 0, "the same rules");

    let shorter = RULES.replace("years = 10", "years = 8");
    let cfg = config(dir.path(), &shorter);
    let o = mailseal(&cfg, &["check-config"]);
    let t = expect(&o, 2, "check-config with a shorter rule");
    assert!(
        t.contains("books") && t.contains("10") && t.contains('8'),
        "{t}"
    );
    let before = std::fs::read(dir.path().join("archive/segments/000000000001.seg")).unwrap();
    let o = mailseal(&cfg, &["import", "eml", &m]);
    let t = text(&o);
    assert_ne!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("books"), "{t}");
    assert_eq!(
        std::fs::read(dir.path().join("archive/segments/000000000001.seg")).unwrap(),
        before,
        "nothing was written under the shorter rules"
    );

    // Dropping a rule is refused too; retiring it is allowed and chained.
    let dropped = RULES.replace(
        "name = \"books\"\nyears = 10\nto = [\"@buchhaltung.example\"]\n[[retention.rule]]\n",
        "",
    );
    let cfg = config(dir.path(), &dropped);
    expect(
        &mailseal(&cfg, &["check-config"]),
        2,
        "check-config without a rule",
    );
    let retired = RULES.replace("years = 10\n", "years = 10\nretired = true\n");
    let cfg = config(dir.path(), &retired);
    expect(
        &mailseal(&cfg, &["check-config"]),
        0,
        "check-config with a retired rule",
    );
    expect(
        &mailseal(&cfg, &["import", "eml", &m]),
        0,
        "import under retired rules",
    );
}
