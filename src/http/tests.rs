//! The monitoring listener over loopback, and the health verdicts.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends one raw HTTP/1.1 request and returns (status code, body).
async fn get(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    (code, body.to_owned())
}

async fn start(
    health: HealthState,
) -> (SocketAddr, CancellationToken, tokio::task::JoinHandle<()>) {
    let server = HttpServer::bind("127.0.0.1:0".parse().unwrap(), health)
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let token = CancellationToken::new();
    let task = tokio::spawn(server.run(token.clone()));
    (addr, token, task)
}

#[tokio::test]
async fn serves_health_and_metrics_and_counters_move() {
    let health = HealthState::new(Duration::from_secs(300), ["mx".to_owned()]);
    let (addr, token, task) = start(health.clone()).await;

    let (code, body) = get(addr, "GET", "/healthz").await;
    assert_eq!(code, 503, "archive not yet open: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "fail");
    assert_eq!(json["upstreams"][0]["reachable"], serde_json::Value::Null);

    health.set_archive_writable(true);
    health.sealed(SystemTime::now());
    health.upstream_contacted("mx", true);
    let (code, body) = get(addr, "GET", "/healthz").await;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((code, &json["status"]), (200, &"ok".into()), "{body}");
    assert_eq!(json["upstreams"][0]["reachable"], true);

    let series = "mailseal_messages_archived_total{listener=\"t-http\"}";
    let count = |body: &str| crate::metrics::tests::sample(body, series);
    let (code, before) = get(addr, "GET", "/metrics").await;
    assert_eq!((code, count(&before)), (200, None), "{before}");
    crate::metrics::message_archived("t-http", 4096);
    let (_, after) = get(addr, "GET", "/metrics").await;
    assert_eq!(count(&after), Some(1.0), "{after}");

    token.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn refuses_other_paths_and_methods() {
    let (addr, token, task) = start(HealthState::new(Duration::from_secs(1), [])).await;
    assert_eq!(get(addr, "GET", "/").await.0, 404);
    assert_eq!(get(addr, "POST", "/metrics").await.0, 405);
    assert_eq!(get(addr, "HEAD", "/metrics").await, (200, String::new()));
    token.cancel();
    task.await.unwrap();
}

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
