//! `[[replica]]`: defaults, typed values, and every mistake with its line.

use std::time::Duration;

use super::super::*;
use super::{errors, parse};

#[test]
fn defaults_and_typed_values() {
    let c = parse(
        r#"[[replica]]
name = "offsite"
endpoint = "http://127.0.0.1:8000/"
bucket = "mail-archive"
prefix = "/gw1/"
"#,
    )
    .unwrap();
    let r = &c.replica[0];
    assert_eq!(r.endpoint, "http://127.0.0.1:8000");
    assert_eq!(r.prefix, "gw1");
    assert_eq!(r.region, "us-east-1");
    assert!(r.path_style);
    assert_eq!(r.object_lock, ObjectLock::Compliance);
    assert_eq!(r.retain_days, 3650);
    assert_eq!(r.interval, Duration::from_secs(60));
    assert_eq!(r.max_lag, Duration::from_secs(3600));
    assert_eq!(r.credentials_file, None);
}

#[test]
fn every_mistake_is_reported_with_its_line() {
    let text = r#"[[replica]]
name = "offsite"
endpoint = "ftp://s3.example.com"
bucket = "Mail_Archive"
prefix = "gw 1"
object_lock = "forever"
credentials_file = "/nonexistent/replica.secret"
interval = "0s"
acces_key = "x"

[[replica]]
name = "offsite"
endpoint = "https://s3.example.com"
bucket = "ok-bucket"
object_lock = "governance"
retain_days = 0
"#;
    let e = errors(text);
    let found: Vec<(&str, Option<usize>)> = e
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.line))
        .collect();
    for expected in [
        ("replica[0].endpoint", Some(3)),
        ("replica[0].bucket", Some(4)),
        ("replica[0].prefix", Some(5)),
        ("replica[0].object_lock", Some(6)),
        ("replica[0].credentials_file", Some(7)),
        ("replica[0].interval", Some(8)),
        ("replica[0].acces_key", Some(9)),
        ("replica[1].name", Some(12)),
        ("replica[1].retain_days", Some(16)),
    ] {
        assert!(found.contains(&expected), "{expected:?} not in {found:?}");
    }
}
