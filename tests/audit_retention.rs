//! The audit records' own retention (issue 15): who looked at what, from
//! where and with which search is sealed under a key per calendar year, so
//! no file under the archive directory names them; once the year is past
//! `audit_years`, `purge` destroys that key and chains an `audit-purge`
//! record, and every verifier still passes with and without the master key.
//!
//! The archive is driven through the library, because the purge must run
//! on a day years from now (`manage::execute` takes the day); the
//! verifiers are the real binaries and the Python script.

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use mailseal::archive::audit::{AuditEvent, action};
use mailseal::archive::manage::{Lifecycle, LifecycleReply, execute};
use mailseal::archive::record::RecordBody;
use mailseal::archive::{Archive, ArchiveError, ArchiveOptions};
use mailseal::retention::{Conditions, RecordedRule, Rules};

use crate::support::files::holding;
use crate::support::verifiers::{all_verifiers_pass, expect, live_keys, mailseal_with, text};

/// Someone whose name, address and search must not outlive the period.
const ACTOR: &str = "erika.mustermann";
const PEER: &str = "192.0.2.77";
const QUERY: &str = "from:vertraulich-zebracorn@example.com";

fn options(archive: &Path, audit_years: u32) -> ArchiveOptions {
    let rules = Rules::new(
        &[],
        vec![RecordedRule {
            name: "letters".into(),
            years: 6,
            retired: false,
            conditions: Conditions::default(),
        }],
    )
    .unwrap()
    .with_audit_years(audit_years);
    ArchiveOptions {
        retention: Some(Arc::new(rules)),
        ..ArchiveOptions::at(archive)
    }
}

/// Opens the archive. The key store's lock is a flock, which a process
/// another test forks at that moment holds until it execs: a busy lock is
/// asked again for a while.
fn open(archive: &Path, audit_years: u32) -> Result<Archive, ArchiveError> {
    for _ in 0..100 {
        match Archive::open(&options(archive, audit_years)) {
            Err(ArchiveError::Other(e)) if e.contains("in use by another process") => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
    Archive::open(&options(archive, audit_years))
}

fn config(dir: &Path, archive: &Path, audit_years: u32) -> std::path::PathBuf {
    let path = dir.join("mailseal.toml");
    let text = format!(
        "[archive]\npath = {:?}\n[http]\nenabled = false\n[retention]\npurge = \"off\"\n\
         audit_years = {audit_years}\n[[retention.rule]]\nname = \"letters\"\nyears = 6\n",
        archive.display().to_string()
    );
    let text = crate::support::daemon::with_control(&path, text);
    std::fs::write(&path, text).unwrap();
    path
}

fn search_event() -> AuditEvent {
    AuditEvent {
        action: action::SEARCH.into(),
        outcome: "ok".into(),
        via: "web".into(),
        actor: ACTOR.into(),
        role: Some("auditor".into()),
        peer: Some(PEER.into()),
        session: Some("3f9a1c0b7d2e".into()),
        query: Some(QUERY.into()),
        records: vec![],
        detail: Some("results page 1".into()),
        ..AuditEvent::default()
    }
}

fn audit(archive: &Archive, seq: u64) -> AuditEvent {
    let (record, _) = archive.reader().record(seq).unwrap();
    match record.body {
        RecordBody::Audit(e) => *e,
        other => panic!("record {seq} is {}", other.type_name()),
    }
}

fn purge(archive: &Archive, today: NaiveDate, dry_run: bool) -> LifecycleReply {
    let cmd = Lifecycle::Purge {
        dry_run,
        actor: "root".into(),
    };
    execute(archive, cmd, today, 14).unwrap()
}

#[test]
fn audit_records_name_nobody_in_clear_and_lose_their_names_when_their_year_is_purged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive");
    let config = config(dir.path(), &path, 2);
    let archive = open(&path, 2).unwrap();
    let first = archive
        .append_body_blocking(RecordBody::Audit(Box::new(search_event())))
        .unwrap()
        .seq;
    let second = archive
        .append_body_blocking(RecordBody::Audit(Box::new(AuditEvent {
            action: action::VIEW.into(),
            records: vec![first],
            ..search_event()
        })))
        .unwrap()
        .seq;

    // Sealed: readable with the key store, in no file in clear.
    let e = audit(&archive, first);
    assert_eq!(
        (e.actor.as_str(), e.peer.as_deref(), e.query.as_deref()),
        (ACTOR, Some(PEER), Some(QUERY))
    );
    let slot = e.sealed.as_ref().expect("the audit record is sealed").slot;
    assert_eq!(
        audit(&archive, second).sealed.map(|s| s.slot),
        Some(slot),
        "one key serves the year"
    );
    archive.close().unwrap();
    for secret in [ACTOR, PEER, QUERY] {
        assert!(
            holding(&path, secret.as_bytes()).is_empty(),
            "{secret} is readable in {:?}",
            holding(&path, secret.as_bytes())
        );
    }
    let year_key = live_keys(&path)
        .into_iter()
        .find(|(n, _)| *n == slot)
        .expect("the audit key is live")
        .1;
    all_verifiers_pass(&config, &path);

    // Not due before the end of the year plus two years, due after it.
    let archive = open(&path, 2).unwrap();
    let year: i32 = audit_year(&archive, first);
    let last_day = NaiveDate::from_ymd_opt(year + 2, 12, 31).unwrap();
    let LifecycleReply::Purge { plan, .. } = purge(&archive, last_day, true) else {
        panic!("not a purge reply")
    };
    assert!(plan.audit.is_empty(), "due on its last day: {plan:?}");
    let day_after = last_day.succ_opt().unwrap();
    let store = path.join("keys").join("store");
    let before_purge = std::fs::read(&store).unwrap();
    let LifecycleReply::Purge { plan, done } = purge(&archive, day_after, false) else {
        panic!("not a purge reply")
    };
    assert_eq!(plan.audit.len(), 1, "{plan:?}");
    assert_eq!(plan.audit[0].slots, vec![slot]);
    let done = done.expect("the purge ran");
    assert_eq!(done.audit.len(), 1, "{done:?}");
    let (purged_year, purge_seq) = done.audit[0];
    assert_eq!(purged_year, year);
    let (record, _) = archive.reader().record(purge_seq).unwrap();
    let RecordBody::AuditPurge(p) = &record.body else {
        panic!("record {purge_seq} is {}", record.body.type_name())
    };
    assert_eq!((p.year, p.audit_years, p.keep_until), (year, 2, last_day));
    assert_eq!(p.slots, vec![slot]);

    // The fields are gone; what happened stays.
    for seq in [first, second] {
        let e = audit(&archive, seq);
        assert!(e.purged(), "{e:?}");
        assert_eq!((e.peer, e.query, e.session), (None, None, None));
    }
    assert_eq!(audit(&archive, second).records, vec![first]);
    assert_eq!(audit(&archive, second).action, action::VIEW);

    // A second purge finds nothing more to do for that year.
    let LifecycleReply::Purge { done, .. } = purge(&archive, day_after, false) else {
        panic!("not a purge reply")
    };
    assert!(done.unwrap().audit.is_empty());

    // New audit records get a new key.
    let later = archive
        .append_body_blocking(RecordBody::Audit(Box::new(search_event())))
        .unwrap()
        .seq;
    let new_slot = audit(&archive, later).sealed.unwrap().slot;
    assert_ne!(new_slot, slot);
    assert_eq!(audit(&archive, later).actor, ACTOR);
    archive.close().unwrap();

    let hex_key = hex::encode(year_key);
    assert!(holding(&path, &year_key).is_empty(), "the audit key survives");
    assert!(holding(&path, hex_key.as_bytes()).is_empty());
    let out = all_verifiers_pass(&config, &path);
    assert!(out.contains("purged"), "{out}");
    let verify = expect(&mailseal_with(&config, &["verify"]), 0, "verify");
    assert!(
        verify.contains("personal fields of 2 audit records"),
        "{verify}"
    );
    let listed = expect(&mailseal_with(&config, &["audit"]), 0, "audit");
    assert!(listed.contains("(purged)"), "{listed}");
    assert!(listed.contains(ACTOR), "the later record still names them: {listed}");

    // A key store restored from before the purge brings the year's key
    // back (the slots added since are kept: the copy is only older). A
    // reading command rebuilds the lost index but cannot destroy keys;
    // verify says the purge is incomplete, and the next open for writing
    // destroys the key again.
    let mut restored = std::fs::read(&store).unwrap();
    restored[..before_purge.len()].copy_from_slice(&before_purge);
    std::fs::write(&store, &restored).unwrap();
    let live = |path: &Path| live_keys(path).iter().any(|(n, _)| *n == slot);
    assert!(live(&path), "the copy holds the year's key");
    std::fs::remove_dir_all(path.join("index")).unwrap();
    expect(&mailseal_with(&config, &["list"]), 0, "list");
    let o = mailseal_with(&config, &["verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("purge-incomplete"), "{}", text(&o));
    expect(
        &mailseal_with(&config, &["purge", "--dry-run"]),
        0,
        "open for writing",
    );
    assert!(!live(&path), "the year's key is destroyed again");
    all_verifiers_pass(&config, &path);
}

fn audit_year(archive: &Archive, seq: u64) -> i32 {
    let (record, _) = archive.reader().record(seq).unwrap();
    record.time[..4].parse().unwrap()
}

#[test]
fn audit_years_can_grow_but_never_shrink() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive");
    open(&path, 8).unwrap().close().unwrap();
    open(&path, 9).unwrap().close().unwrap();
    match open(&path, 7) {
        Err(ArchiveError::Other(e)) => assert!(e.contains("audit_years would go from 9 to 7"), "{e}"),
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a shorter audit_years was accepted"),
    }
    // check-config says so too, before anything starts.
    let config = config(dir.path(), &path, 7);
    let out = mailseal_with(&config, &["check-config"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("audit_years would go from 9 to 7")
            || String::from_utf8_lossy(&out.stdout).contains("audit_years would go from 9 to 7"),
        "{out:?}"
    );
}
