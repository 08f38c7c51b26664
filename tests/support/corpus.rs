//! Test messages: the CPython email test corpus when present, plus messages
//! generated here with the awkward properties real mail has.

use std::path::PathBuf;

/// The CPython `test_email/data` directory of the machine's Python, if any.
pub fn cpython_dir() -> Option<PathBuf> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import test, os; print(os.path.dirname(test.__file__))",
        ])
        .output()
        .ok()?;
    let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim())
        .join("test_email")
        .join("data");
    dir.is_dir().then_some(dir)
}

/// The CPython corpus messages (`msg_*.txt`), sorted.
pub fn cpython_messages() -> Vec<PathBuf> {
    let Some(dir) = cpython_dir() else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("msg_") && n.ends_with(".txt"))
    });
    v.sort();
    v
}

/// A deterministic message `i` of roughly `size` bytes with 8-bit text,
/// a dot-leading line, a `From ` line and a long line.
pub fn message(i: usize, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Sender {i} <sender{i}@example.com>\r\nTo: rcpt{i}@example.org\r\n\
         Subject: test message {i}\r\nMessage-ID: <m{i}@example.com>\r\n\
         Date: Sun, 29 Nov 2026 06:00:00 +0000\r\n\r\n\
         Gr\u{fc}\u{df}e aus M\u{fc}nchen\r\n.leading dot\r\nFrom the start of a line\r\n"
    )
    .into_bytes();
    let mut n = i as u64 * 2654435761 + 1;
    while m.len() < size {
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let line_len = 20 + (n >> 33) as usize % 200;
        for k in 0..line_len {
            m.push(b'a' + ((n >> (k % 50)) as u8 % 26));
        }
        m.extend_from_slice(b"\r\n");
    }
    m
}
