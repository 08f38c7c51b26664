//! A private Dovecot POP3 server on loopback for the POP3 proxy tests:
//! passwd-file user (PLAIN, LOGIN and APOP work), a Maildir the tests fill
//! with files directly (so the bytes a client downloads are the file's
//! bytes), STLS and implicit TLS when started with a certificate.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use super::dovecot::{PASSWORD, USER};

/// A running Dovecot serving POP3, stopped when dropped.
pub struct Pop3Server {
    /// Holds configuration, mail, state and logs; removed on drop.
    dir: tempfile::TempDir,
    /// The `dovecot -F` master process.
    child: Child,
    /// Plain POP3 port (STLS offered when started with a certificate).
    pub port: u16,
    /// Implicit TLS port (pop3s), when started with a certificate.
    pub tls_port: Option<u16>,
}

/// True when Dovecot's POP3 server is installed; tests skip otherwise.
pub fn available() -> bool {
    let found = Path::new("/usr/lib/dovecot/pop3").exists();
    if !found {
        eprintln!("dovecot-pop3d not installed; POP3 test skipped");
    }
    found
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Pop3Server {
    /// Starts an instance; with `tls = Some((cert, key))` it offers STLS
    /// and listens for implicit TLS too.
    pub fn start(tls: Option<(&Path, &Path)>) -> Pop3Server {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in [
            "run",
            "state",
            "mail/alice/new",
            "mail/alice/cur",
            "mail/alice/tmp",
        ] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        for sub in [
            "mail",
            "mail/alice",
            "mail/alice/new",
            "mail/alice/cur",
            "mail/alice/tmp",
        ] {
            set_mode(&d.join(sub), 0o777);
        }
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
        let server = Pop3Server {
            dir,
            child,
            port,
            tls_port,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(server.addr()).is_err() {
            assert!(
                Instant::now() < deadline,
                "dovecot did not start: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The plain POP3 address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The implicit-TLS address.
    pub fn tls_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.tls_port.expect("started with TLS")))
    }

    /// The user's Maildir.
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail").join(USER)
    }

    /// Delivers `messages` into the maildrop, in order, as they are (the
    /// POP3 server sends a file's bytes; files use CRLF).
    pub fn deliver(&self, messages: &[Vec<u8>]) {
        let new = self.maildir().join("new");
        let base = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        for (i, m) in messages.iter().enumerate() {
            let name = new.join(format!("{}.M{i:06}P1.test", base + i as u64));
            std::fs::write(&name, m).unwrap();
            set_mode(&name, 0o666);
        }
    }

    /// How many messages the maildrop holds now.
    pub fn count(&self) -> usize {
        ["new", "cur"]
            .iter()
            .map(|sub| std::fs::read_dir(self.maildir().join(sub)).map_or(0, |d| d.count()))
            .sum()
    }

    /// Dovecot's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }
}

impl Drop for Pop3Server {
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
    let pop3s = tls_port.unwrap_or(0);
    format!(
        r#"base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = pop3
listen = 127.0.0.1
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login apop
mail_location = maildir:{d}/mail/%u
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/mail/%u
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {port}
  }}
  inet_listener pop3s {{
    port = {pop3s}
  }}
}}
default_internal_user = nobody
default_login_user = nobody
"#
    )
}
