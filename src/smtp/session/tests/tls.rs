//! STARTTLS on the client leg with a throwaway rcgen certificate.

use rustls_pki_types::ServerName;

use super::*;
use crate::transport::Stream;
use crate::transport::tests::tls_pair;

#[tokio::test]
async fn starttls_upgrades_resets_state_and_unlocks_auth_and_mail() {
    let (server_tls, client_tls) = tls_pair();
    let mut cfg = config();
    cfg.starttls = Some(server_tls);
    cfg.require_tls = true;
    let mut h = start(cfg);
    h.client.expect("220").await;
    let ehlo = h.client.cmd("EHLO c", "250").await;
    let caps: Vec<String> = ehlo
        .lines()
        .iter()
        .map(|l| String::from_utf8_lossy(l).into())
        .collect();
    assert!(caps.contains(&"STARTTLS".to_owned()) && !caps.iter().any(|c| c.starts_with("AUTH")));
    h.client.cmd("MAIL FROM:<a@b>", "530").await;
    // A command pipelined behind STARTTLS in plain text must be dropped.
    h.client
        .send(b"STARTTLS\r\nMAIL FROM:<injected@x>\r\n")
        .await;
    h.client.expect("220").await;

    let name = ServerName::try_from("localhost").unwrap();
    let mut stream = Stream::new(h.client.stream);
    stream.connect_tls(client_tls, name).await.unwrap();
    let mut client = Client::new(stream);
    client.cmd("MAIL FROM:<a@b>", "503 5.5.1").await;
    let ehlo = client.cmd("EHLO c", "250").await;
    let caps: Vec<String> = ehlo
        .lines()
        .iter()
        .map(|l| String::from_utf8_lossy(l).into())
        .collect();
    assert!(!caps.contains(&"STARTTLS".to_owned()));
    assert!(caps.contains(&"AUTH PLAIN".to_owned()));
    client.cmd("STARTTLS", "502").await;
    client.cmd("AUTH PLAIN AGFsaWNlAHB3", "235").await;
    client.cmd("MAIL FROM:<a@b>", "250").await;
    client.cmd("RCPT TO:<c@d>", "250").await;
    client.cmd("DATA", "354").await;
    client.send(b"secret\r\n.\r\n").await;
    client.expect("250").await;
    client.cmd("QUIT", "221").await;

    let log = h.log.lock().unwrap();
    assert!(!log.lines.iter().any(|l| l.contains("injected")));
    let meta = &log.commits[0].0;
    let tls = meta.tls.as_ref().unwrap();
    assert!(tls.version.starts_with("TLS"), "{tls:?}");
    assert_eq!(meta.auth_user.as_deref(), Some("alice"));
}
