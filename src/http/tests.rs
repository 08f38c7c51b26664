//! The monitoring listener over loopback.

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
