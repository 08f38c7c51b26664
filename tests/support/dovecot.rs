//! A private Dovecot on loopback for the IMAP tests: passwd-file users,
//! Maildir storage that keeps CRLF (so stored files are the bytes that
//! crossed the wire), `Drafts`/`Sent` special-use folders, COMPRESS enabled
//! (so the proxy has something to remove) and optional implicit TLS.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The test user every instance has.
pub const USER: &str = "alice";
/// Its password.
pub const PASSWORD: &str = "secret";

/// A running Dovecot, stopped when dropped.
pub struct Dovecot {
    /// Holds configuration, mail, state and logs; removed on drop.
    dir: tempfile::TempDir,
    /// The `dovecot -F` master process.
    child: Child,
    /// Plain IMAP port.
    pub port: u16,
    /// Implicit TLS port, when started with a certificate.
    pub tls_port: Option<u16>,
}

/// True when Dovecot is installed; tests skip (with a note) otherwise.
pub fn available() -> bool {
    let found = Command::new("dovecot").arg("--version").output().is_ok();
    if !found {
        eprintln!("dovecot not installed; IMAP test skipped");
    }
    found
}

/// A free port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Dovecot {
    /// Starts an instance; with `tls = Some((cert, key))` it also listens
    /// for implicit TLS.
    pub fn start(tls: Option<(&Path, &Path)>) -> Dovecot {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["mail", "run", "state"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        set_mode(&d.join("mail"), 0o777);
        set_mode(d, 0o755);
        std::fs::write(d.join("users"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).unwrap();
        let port = free_port();
        let tls_port = tls.map(|_| free_port());
        std::fs::write(d.join("dovecot.conf"), config(d, port, tls_port, tls)).unwrap();
        let child = Command::new("dovecot")
            .arg("-c")
            .arg(d.join("dovecot.conf"))
            .arg("-F")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let dovecot = Dovecot {
            dir,
            child,
            port,
            tls_port,
        };
        dovecot.wait_ready();
        dovecot
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(self.addr()).is_err() {
            assert!(
                Instant::now() < deadline,
                "dovecot did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The plain IMAP address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The Maildir folder of `folder` (`INBOX`, `Sent`, ...) of the test user.
    pub fn maildir(&self, folder: &str) -> PathBuf {
        let root = self.dir.path().join("mail").join(USER);
        match folder {
            "INBOX" => root,
            other => root.join(format!(".{other}")),
        }
    }

    /// Every message file of a folder, as stored.
    pub fn stored(&self, folder: &str) -> Vec<Vec<u8>> {
        let mut files = Vec::new();
        for sub in ["cur", "new"] {
            let Ok(entries) = std::fs::read_dir(self.maildir(folder).join(sub)) else {
                continue;
            };
            files.extend(entries.map(|e| e.unwrap().path()));
        }
        // Delivery order: Maildir names start `<seconds>.M<microseconds>`,
        // and the microseconds are not zero-padded, so a plain sort of two
        // files from the same second can swap them.
        files.sort_by_key(|p| delivered(p));
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    /// Dovecot's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }
}

/// The (seconds, microseconds, name) a Maildir file name starts with.
fn delivered(path: &Path) -> (u64, u64, String) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (secs, rest) = name.split_once('.').unwrap_or((&name, ""));
    let usec: String = rest
        .strip_prefix('M')
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (
        secs.parse().unwrap_or(u64::MAX),
        usec.parse().unwrap_or(u64::MAX),
        name.clone(),
    )
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let conf = self.dir.path().join("dovecot.conf");
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(&conf)
            .arg("stop")
            .output();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn config(d: &Path, port: u16, tls_port: Option<u16>, tls: Option<(&Path, &Path)>) -> String {
    let d = d.display();
    let ssl = match tls {
        Some((cert, key)) => format!(
            "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
            cert.display(),
            key.display()
        ),
        None => "ssl = no\n".to_owned(),
    };
    let imaps = tls_port.unwrap_or(0);
    format!(
        r#"base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
mail_save_crlf = yes
mail_plugins = zlib
protocol imap {{
  mail_plugins = $mail_plugins imap_zlib
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \Sent
    auto = subscribe
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {imaps}
  }}
}}
default_internal_user = nobody
default_login_user = nobody
"#
    )
}
