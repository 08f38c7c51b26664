//! What the archive holds after downloads: the content byte-exact (the
//! bytes relayed unchanged), the UIDL even when the client never asked,
//! one record per message and user, TOP completed in-band or recorded as
//! headers only.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn retr_is_relayed_unchanged_and_archived_with_its_uidl() {
    let messages = awkward();
    let Some(s) = setup(&messages, |_, _| {}).await else {
        return;
    };
    let mut direct = Raw::login(s.server.pop3_addr()).await;
    let mut c = Raw::login(s.proxy).await;
    for n in 1..=messages.len() {
        let status = direct.cmd(&format!("RETR {n}")).await;
        let (wire, _) = direct.body().await.unwrap();
        assert_eq!(c.cmd(&format!("RETR {n}")).await, status);
        let (relayed, content) = c.body().await.unwrap();
        assert_eq!(relayed, wire, "message {n}: bytes on the wire");
        assert_eq!(content, messages[n - 1], "message {n}: content");
    }
    direct.cmd("QUIT").await;
    // The UIDLs as the server gives them; the client never asked.
    let mut direct = Raw::login(s.server.pop3_addr()).await;
    assert!(direct.cmd("UIDL").await.starts_with("+OK"));
    let (_, listing) = direct.body().await.unwrap();
    let uidls: Vec<String> = String::from_utf8(listing)
        .unwrap()
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap().to_owned())
        .collect();
    let archived = archived(&s.archive);
    assert_eq!(archived.len(), messages.len());
    for (i, (meta, bytes)) in archived.iter().enumerate() {
        assert_eq!(bytes, &messages[i]);
        assert_eq!(pop3(meta).uidl.as_deref(), Some(uidls[i].as_str()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_fetched_again_is_not_stored_twice() {
    let messages = awkward();
    let Some(s) = setup(&messages, |_, _| {}).await else {
        return;
    };
    let mut c = Raw::login(s.proxy).await;
    assert_eq!(c.retr(1).await.unwrap(), messages[0]);
    assert_eq!(c.retr(1).await.unwrap(), messages[0]);
    c.cmd("QUIT").await;
    let mut c = Raw::login(s.proxy).await;
    assert_eq!(c.retr(1).await.unwrap(), messages[0]);
    assert_eq!(c.retr(2).await.unwrap(), messages[1]);
    c.cmd("QUIT").await;
    assert_eq!(archived(&s.archive).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn top_then_dele_leaves_the_whole_message_in_the_archive() {
    let messages = awkward();
    let Some(s) = setup(&messages, |_, _| {}).await else {
        return;
    };
    let mut c = Raw::login(s.proxy).await;
    assert!(c.cmd("TOP 4 2").await.starts_with("+OK"));
    let (_, top) = c.body().await.unwrap();
    assert!(top.len() < messages[3].len() && messages[3].starts_with(&top[..top.len() - 2]));
    assert!(c.cmd("DELE 4").await.starts_with("+OK"));
    assert!(c.cmd("QUIT").await.starts_with("+OK"));
    assert_eq!(s.server.count(), messages.len() - 1, "deleted upstream");
    let archived = archived(&s.archive);
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].1, messages[3], "the whole message");
    assert_eq!(pop3(&archived[0].0).direction, "proxy-retr");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_completion_a_top_is_recorded_as_headers_only() {
    let messages = awkward();
    let Some(s) = setup(&messages, |config, _| {
        config.complete_partial_fetches = false
    })
    .await
    else {
        return;
    };
    let mut c = Raw::login(s.proxy).await;
    assert!(c.cmd("TOP 4 0").await.starts_with("+OK"));
    let (_, top) = c.body().await.unwrap();
    // A later RETR still archives the whole message: a headers-only
    // record does not count as holding it.
    assert_eq!(c.retr(4).await.unwrap(), messages[3]);
    c.cmd("QUIT").await;
    let archived = archived(&s.archive);
    assert_eq!(archived.len(), 2);
    assert_eq!(pop3(&archived[0].0).direction, "top");
    assert_eq!(archived[0].1, top);
    assert_eq!(pop3(&archived[1].0).direction, "retr");
    assert_eq!(archived[1].1, messages[3]);
}
