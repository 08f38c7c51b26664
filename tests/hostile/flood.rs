//! 10,000 connections opened and closed at once from four threads: the
//! daemon stays up, gives back every file descriptor, and serves mail
//! during and after the flood.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::process;

use super::{
    Limits, Rig, Row, assert_bounded, assert_exactly, good_message, record, send_good,
    send_good_journal,
};

const THREADS: usize = 4;
const PER_THREAD: usize = 2_500;

/// Connects and closes `n` times; returns how many connects failed.
fn connect_and_close(addr: SocketAddr, n: usize) -> usize {
    (0..n)
        .filter(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(30)).is_err())
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_connections_leave_no_trace() {
    let limits = Limits {
        max_connections: 200,
        ..Limits::default()
    };
    let mut rig = tokio::task::spawn_blocking(move || Rig::start(limits))
        .await
        .unwrap();
    let pid = rig.daemon.pid();
    let mut expected = vec![good_message("flood-before", 10_000)];
    send_good_journal(rig.journal, &expected[0]).await;
    let baseline = process::fd_count(pid);

    let target = rig.journal;
    let flood: Vec<_> = (0..THREADS)
        .map(|_| std::thread::spawn(move || connect_and_close(target, PER_THREAD)))
        .collect();
    // Mail keeps flowing on the flooded listener and on another one.
    for i in 0..5 {
        let message = good_message(&format!("flood-during-{i}"), 10_000);
        send_good_journal(rig.journal, &message).await;
        expected.push(message);
        let message = good_message(&format!("flood-proxy-{i}"), 10_000);
        let reply = send_good(rig.proxy, &message).await;
        assert!(reply.starts_with("250"), "{reply}");
        expected.push(message);
    }
    let failed: usize = flood.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(
        failed * 100 <= THREADS * PER_THREAD,
        "{failed} of {} connects failed",
        THREADS * PER_THREAD
    );

    // Every session of the flood ends and gives its descriptor back.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut open = process::fd_count(pid);
    while open > baseline + 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        open = process::fd_count(pid);
    }
    assert!(open <= baseline + 2, "{open} fds open, {baseline} before");
    let message = good_message("flood-after", 10_000);
    send_good_journal(rig.journal, &message).await;
    expected.push(message);

    let peak = assert_bounded(&rig);
    let acknowledged = expected.len();
    let intact = assert_exactly(&rig.finish(), &expected);
    let faults = format!(
        "10,000 connect+close on the journal from {THREADS} threads \
         ({failed} connects failed); fds {baseline} before, {open} after"
    );
    record(Row {
        scenario: "connection flood",
        load: "5 journal + 5 proxy messages during, 1 before, 1 after",
        faults: &faults,
        acknowledged,
        intact,
        peak_rss: peak,
    });
}
