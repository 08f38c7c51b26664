//! The control socket against callers it must turn away: a user outside
//! its group, garbage bytes, oversize frames, unknown commands and a
//! request for another archive. Each gets a clear answer and the daemon
//! serves the next client as before.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use mailseal::control::protocol::{self, Command as Cmd, ErrorKind, Reply, Request};

use super::{Lab, text};

/// Sends `bytes` on a fresh connection and returns the daemon's reply.
fn exchange(lab: &Lab, bytes: &[u8]) -> Reply {
    let mut stream = UnixStream::connect(lab.socket()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let (frame, used) = protocol::parse(&answer).unwrap().unwrap();
    assert_eq!(used, answer.len(), "one frame, then the daemon closes");
    frame.decode().unwrap()
}

fn refused(reply: Reply, kind: ErrorKind, words: &str) {
    match reply {
        Reply::Error { kind: k, message } => {
            assert_eq!(k, kind, "{message}");
            assert!(message.contains(words), "{words:?} not in {message:?}");
        }
        other => panic!("expected an error frame, got {other:?}"),
    }
}

#[test]
fn garbage_gets_an_error_frame_and_the_daemon_lives_on() {
    let lab = Lab::start();
    refused(
        exchange(&lab, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ErrorKind::Protocol,
        "not a mailseal control frame",
    );
    let mut oversize = protocol::MAGIC.to_vec();
    oversize.push(protocol::VERSION);
    oversize.extend(2u32.to_be_bytes());
    oversize.extend(u32::MAX.to_be_bytes());
    refused(
        exchange(&lab, &oversize),
        ErrorKind::Protocol,
        "over the limit",
    );
    let mut other_version = protocol::encode(&Reply::Done, b"").unwrap();
    other_version[2] = 9;
    refused(
        exchange(&lab, &other_version),
        ErrorKind::Protocol,
        "version 9",
    );
    let unknown = serde_json::json!({"archive": null, "command": {"type": "format-disk"}});
    refused(
        exchange(&lab, &protocol::encode(&unknown, b"").unwrap()),
        ErrorKind::Protocol,
        "unexpected frame header",
    );
    let elsewhere = Request {
        archive: Some(lab.path("some-other-archive")),
        command: Cmd::Stats,
    };
    refused(
        exchange(&lab, &protocol::encode(&elsewhere, b"").unwrap()),
        ErrorKind::Refused,
        "this daemon serves the archive in",
    );
    // A client that sends half a frame and leaves costs nothing either.
    drop(
        UnixStream::connect(lab.socket())
            .unwrap()
            .write_all(&protocol::MAGIC),
    );

    let o = lab.ok(&["stats", "--json"]);
    let stats: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(stats["messages"], 0);
    lab.wait_for_requests("stats", 1);
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

#[test]
fn a_user_outside_the_group_is_told_which_group_to_join() {
    if !is_root() {
        eprintln!("skipped: needs root to run the CLI as another user");
        return;
    }
    let lab = Lab::start();
    // The user may read the configuration, but the socket is 0660 root's.
    std::fs::set_permissions(lab.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&lab.config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mode = std::fs::metadata(lab.socket())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660);
    let o = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_mailseal"))
        .arg("--config")
        .arg(&lab.config)
        .args(["list"])
        .env_remove("MAILSEAL_CONFIG")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("permission denied on the control socket")
            && stderr.contains("group mailseal-admin"),
        "{stderr}"
    );
    assert!(
        o.stdout.is_empty(),
        "nothing read around the daemon: {}",
        text(&o)
    );
}
