//! The health verdicts, and the facts [`crate::metrics`] passes on to the
//! installed state.

use super::*;

#[test]
fn unreachable_upstream_or_late_seal_degrades() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let health = HealthState::new(Duration::from_secs(60), ["a".to_owned()]);
    health.set_archive_writable(true);
    health.sealed(t0);
    assert_eq!(
        health.report(t0 + Duration::from_secs(120)).status,
        Status::Ok
    );
    let late = health.report(t0 + Duration::from_secs(121));
    assert_eq!((late.status, late.seal_overdue), (Status::Degraded, true));
    assert_eq!(late.last_seal_age_seconds, Some(121));
    health.sealed(t0 + Duration::from_secs(121));
    health.upstream_contacted("a", false);
    assert_eq!(
        health.report(t0 + Duration::from_secs(121)).status,
        Status::Degraded
    );
}

#[test]
fn an_idle_archive_whose_seal_covers_the_head_is_not_late() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let health = HealthState::new(Duration::from_secs(60), []);
    health.set_archive_writable(true);
    health.sealed(t0);
    health.seal_current(t0 + Duration::from_secs(600));
    let report = health.report(t0 + Duration::from_secs(660));
    assert_eq!((report.status, report.seal_overdue), (Status::Ok, false));
    assert_eq!(report.last_seal_age_seconds, Some(660));
    let late = health.report(t0 + Duration::from_secs(721));
    assert_eq!((late.status, late.seal_overdue), (Status::Degraded, true));
}

#[test]
fn a_sealer_that_never_reports_is_late() {
    let health = HealthState::new(Duration::from_secs(60), []);
    health.set_archive_writable(true);
    let report = health.report(SystemTime::now() + Duration::from_secs(121));
    assert_eq!(report.last_seal_age_seconds, None);
    assert_eq!(
        (report.status, report.seal_overdue),
        (Status::Degraded, true)
    );
}

#[test]
fn metrics_feed_the_installed_state() {
    let health = HealthState::new(Duration::from_secs(60), ["t-installed".to_owned()]);
    assert!(health.install(), "only this test installs a state");
    assert!(!HealthState::new(Duration::from_secs(1), []).install());
    // Archive tests in this process may seal or fail commits at the same
    // time, so only the upstream (a name of this test's own) is compared.
    crate::metrics::sealed(SystemTime::now(), 3);
    crate::metrics::upstream_contacted("t-installed", false);
    let report = HealthState::installed().unwrap().report(SystemTime::now());
    assert!(report.last_seal_age_seconds.is_some());
    assert_eq!(report.upstreams[0].reachable, Some(false));
    let text = crate::metrics::render().unwrap();
    let up = "mailseal_upstream_reachable{listener=\"t-installed\"}";
    assert_eq!(crate::metrics::tests::sample(&text, up), Some(0.0));
    crate::metrics::upstream_contacted("t-installed", true);
    let report = health.report(SystemTime::now());
    assert_eq!(report.upstreams[0].reachable, Some(true));
    let text = crate::metrics::render().unwrap();
    assert_eq!(crate::metrics::tests::sample(&text, up), Some(1.0));
}

#[test]
fn a_source_silent_longer_than_expected_degrades() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let health = HealthState::new(Duration::from_secs(3600), []);
    health.set_archive_writable(true);
    health.sealed(t0);
    health.expect_mail("journal", Duration::from_secs(600), t0);
    let at = |s| health.report(t0 + Duration::from_secs(s));
    let fresh = at(600);
    assert_eq!(fresh.status, Status::Ok);
    assert_eq!(fresh.sources[0].last_mail_age_seconds, None);
    // Never delivered since start: silent once the time is up.
    let never = at(601);
    assert_eq!(
        (never.status, never.sources[0].silent),
        (Status::Degraded, true)
    );
    health.mail_archived("journal", t0 + Duration::from_secs(601));
    health.mail_archived("elsewhere", t0 + Duration::from_secs(601));
    let back = at(700);
    assert_eq!((back.status, back.sources[0].silent), (Status::Ok, false));
    assert_eq!(back.sources[0].last_mail_age_seconds, Some(99));
    assert_eq!(back.sources.len(), 1);
    assert_eq!(at(1202).status, Status::Degraded);
}
