//! Who may deliver: allowed networks, AUTH users, the connection limit,
//! and shutdown of live sessions.

use std::time::Duration;

use mailseal::config::{AuthUser, hash_password};

use super::{Journal, swaks_ids};
use crate::support::smtp::{SmtpClient, archived_ids, swaks};

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_outside_the_allowed_networks_is_refused() {
    let journal = Journal::start(|c, _| {
        c.allowed_networks = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let mut client = SmtpClient::connect_from("127.0.0.2".parse().unwrap(), journal.addr).await;
    client.expect("554 5.7.1").await;
    assert!(client.closed().await);
    let out = swaks(
        journal.addr,
        &["--local-interface", "127.0.0.2", "--to", "j@journal.test"],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("554 5.7.1"));
    let mut client = SmtpClient::connect_from("127.0.0.1".parse().unwrap(), journal.addr).await;
    client.expect("220").await;
    assert!(journal.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_auth_is_refused_and_the_user_is_recorded() {
    let journal = Journal::start(|c, _| {
        c.auth_users = vec![AuthUser {
            user: "exchange".into(),
            password_hash: hash_password("s3cret").unwrap(),
        }];
    })
    .await;
    let base = [
        "--from",
        "a@example.com",
        "--to",
        "journal@journal.test",
        "--auth",
        "PLAIN",
    ];
    let wrong = swaks(
        journal.addr,
        &[
            &base[..],
            &["--auth-user", "exchange", "--auth-password", "nope"],
        ]
        .concat(),
    );
    assert!(String::from_utf8_lossy(&wrong.stdout).contains("535 5.7.8"));
    let none = swaks(
        journal.addr,
        &["--from", "a@example.com", "--to", "journal@journal.test"],
    );
    assert!(String::from_utf8_lossy(&none.stdout).contains("530 5.7.0"));
    assert!(journal.messages().is_empty());
    let right = swaks(
        journal.addr,
        &[
            &base[..],
            &["--auth-user", "exchange", "--auth-password", "s3cret"],
        ]
        .concat(),
    );
    let (meta, _, _) = journal.stored(swaks_ids(&right)[0]);
    assert_eq!(meta.auth_user.as_deref(), Some("exchange"));
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_over_the_limit_get_421() {
    let journal = Journal::start(|c, _| c.max_connections = 2).await;
    let mut first = SmtpClient::connect(journal.addr).await;
    first.expect("220").await;
    let mut second = SmtpClient::connect(journal.addr).await;
    second.expect("220").await;
    let mut third = SmtpClient::connect(journal.addr).await;
    third.expect("421 4.7.0").await;
    assert!(third.closed().await);
    first.cmd("QUIT", "221").await;
    assert!(first.closed().await);
    // The permit is back once the first session has ended.
    let mut fourth = SmtpClient::connect(journal.addr).await;
    fourth.expect("220").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_says_421_to_idle_sessions_and_finishes_transactions() {
    let journal = Journal::start(|_, _| {}).await;
    let mut idle = SmtpClient::connect(journal.addr).await;
    idle.expect("220").await;
    idle.cmd("EHLO idle.test", "250").await;
    let mut busy = SmtpClient::connect(journal.addr).await;
    busy.expect("220").await;
    busy.cmd("EHLO busy.test", "250").await;
    busy.cmd("MAIL FROM:<a@example.com>", "250").await;
    busy.cmd("RCPT TO:<j@journal.test>", "250").await;
    busy.cmd("DATA", "354").await;
    busy.send(b"Subject: in flight\r\n\r\n").await;

    journal.shutdown.token.cancel();
    idle.expect("421 4.3.0").await;
    assert!(idle.closed().await);
    busy.send(b"still arriving\r\n.\r\n").await;
    let reply = busy.expect("250 2.0.0").await;
    busy.expect("421 4.3.0").await;
    let (_, content, _) = journal.stored(archived_ids(&reply.text())[0]);
    assert_eq!(content, b"Subject: in flight\r\n\r\nstill arriving\r\n");
    journal.shutdown.tracker.close();
    tokio::time::timeout(Duration::from_secs(10), journal.shutdown.tracker.wait())
        .await
        .expect("every task ended");
    assert!(
        tokio::net::TcpStream::connect(journal.addr).await.is_err(),
        "still accepting"
    );
}
