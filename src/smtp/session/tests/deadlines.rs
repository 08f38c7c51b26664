//! Timeouts as deadlines per record, the DATA rate budget, and `421` as
//! the last word of a session.

use super::*;

/// Sends `bytes` one at a time, `gap` apart, until the session closes.
async fn trickle(h: &mut Harness, bytes: &[u8], gap: Duration) {
    for b in bytes {
        if h.task.is_finished() || h.client.stream.write_all(&[*b]).await.is_err() {
            return;
        }
        tokio::time::sleep(gap).await;
    }
}

fn short(ms: u64) -> SessionConfig {
    let mut cfg = config();
    cfg.command_timeout = Duration::from_millis(ms);
    cfg.data_timeout = Duration::from_millis(ms);
    cfg
}

#[tokio::test]
async fn a_trickled_command_line_runs_out_of_time() {
    let mut h = greeted(short(300)).await;
    // Every byte comes well within a per-read timeout; the line never
    // comes within its deadline.
    let line = format!("NOOP {}\r\n", "x".repeat(40));
    trickle(&mut h, line.as_bytes(), Duration::from_millis(50)).await;
    h.client.expect("421 4.4.2").await;
    assert!(matches!(h.task.await.unwrap(), Err(SessionError::Timeout)));
    assert!(
        !h.log
            .lock()
            .unwrap()
            .lines
            .iter()
            .any(|l| l.starts_with("NOOP"))
    );
}

#[tokio::test]
async fn a_trickled_message_runs_out_of_budget() {
    let mut h = greeted(short(300)).await;
    h.client.cmd("MAIL FROM:<a@b>", "250").await;
    h.client.cmd("RCPT TO:<c@d>", "250").await;
    h.client.cmd("DATA", "354").await;
    let message = format!("Subject: slow\r\n\r\n{}\r\n.\r\n", "y".repeat(40));
    trickle(&mut h, message.as_bytes(), Duration::from_millis(50)).await;
    h.client.expect("421 4.4.2").await;
    assert!(matches!(h.task.await.unwrap(), Err(SessionError::Timeout)));
    let log = h.log.lock().unwrap();
    assert_eq!((log.commits.len(), log.aborts), (0, 1));
}

#[test]
fn the_data_budget_is_spent_by_waiting_and_earned_by_bytes() {
    let cfg = short(3000);
    let full = cfg.data_timeout;
    let ms = Duration::from_millis;
    // A fast sender always has the whole timeout for its next read.
    assert_eq!(message::data_budget(full, ms(10), 64 * 1024, &cfg), full);
    // One byte a second against 500 bytes/s: 2 ms earned, 1 s spent.
    assert_eq!(message::data_budget(full, ms(1000), 1, &cfg), ms(2002));
    assert_eq!(message::data_budget(ms(500), ms(1000), 1, &cfg), ms(2));
    let mut off = cfg.clone();
    off.min_data_rate = 0;
    assert_eq!(message::data_budget(ms(1), ms(1000), 1, &off), full);
}

#[tokio::test]
async fn a_421_from_the_backend_is_the_last_reply() {
    let mut h = greeted(config()).await;
    h.client.cmd("MAIL FROM:<a@b>", "250").await;
    h.client.send(b"RCPT TO:<down@x>\r\nNOOP\r\n").await;
    h.client.expect("421 4.4.2").await;
    assert!(h.client.closed().await, "still open after 421");
    assert!(h.task.await.unwrap().is_ok());
    let lines = h.log.lock().unwrap().lines.clone();
    assert!(!lines.iter().any(|l| l == "NOOP"), "read on after 421");
}
