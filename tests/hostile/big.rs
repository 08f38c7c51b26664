//! 2 GB of DATA, generated on the fly, against a 10 MiB size limit: the
//! client gets `552`, nothing is archived, the upstream never gets a
//! complete message, and the daemon's memory stays bounded.

use crate::support::smtp::SmtpClient;

use super::{
    Limits, Rig, Row, assert_bounded, assert_exactly, good_message, record, send_good,
    send_good_journal,
};

/// Bytes of DATA streamed.
const TOTAL: usize = 2 << 30;

#[tokio::test(flavor = "multi_thread")]
async fn two_gigabytes_of_data_get_552_in_bounded_memory() {
    let mut rig = tokio::task::spawn_blocking(|| Rig::start(Limits::default()))
        .await
        .unwrap();
    let huge = async {
        let mut client = SmtpClient::connect(rig.proxy).await;
        client.expect("220").await;
        client.cmd("EHLO huge.test", "250").await;
        client.cmd("MAIL FROM:<huge@example.com>", "250").await;
        client.cmd("RCPT TO:<rcpt@example.org>", "250").await;
        client.cmd("DATA", "354").await;
        client.send(b"Subject: huge\r\n\r\n").await;
        // One 64 KiB block of 1000-byte lines, sent over and over.
        let mut line = vec![b'h'; 998];
        line.extend_from_slice(b"\r\n");
        let block = line.repeat(64);
        for _ in 0..TOTAL / block.len() {
            client.send(&block).await;
        }
        client.send(b".\r\n").await;
        client.expect("552 5.3.4").await;
    };
    let (j, p) = (
        good_message("big-j", 100_000),
        good_message("big-p", 100_000),
    );
    let good = async {
        send_good_journal(rig.journal, &j).await;
        let reply = send_good(rig.proxy, &p).await;
        assert!(reply.starts_with("250"), "{reply}");
    };
    tokio::join!(huge, good);
    rig.sink.wait_for(1);
    let peak = assert_bounded(&rig);
    let intact = assert_exactly(&rig.finish(), &[j, p.clone()]);
    // The proxy's 10 MiB slice never became a message upstream.
    let received = rig.sink.messages();
    assert_eq!(
        received.len(),
        1,
        "the oversized message reached the upstream"
    );
    assert_eq!(received[0].content, p);
    record(Row {
        scenario: "2 GB DATA",
        load: "1 journal + 1 proxy message of 100 kB alongside",
        faults: "2 GiB of DATA through the proxy, max_message_size 10 MiB",
        acknowledged: 2,
        intact,
        peak_rss: peak,
    });
}
