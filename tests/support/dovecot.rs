//! A private Dovecot for the IMAP and POP3 tests: passwd-file users,
//! Maildir storage that keeps CRLF (so stored files are the bytes that
//! crossed the wire), `Drafts`/`Sent` special-use folders, COMPRESS enabled
//! (so the proxy has something to remove) and optional implicit TLS.
//! [`Options`] add POP3 (APOP, UIDLs, a maildrop the tests fill with files
//! directly, so a download is the file's bytes) and a network namespace
//! to run in (the server behind an intercepting gateway).

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The test user every instance has.
pub const USER: &str = "alice";
/// Its password.
pub const PASSWORD: &str = "secret";

/// What an instance serves besides plain IMAP on 127.0.0.1.
#[derive(Debug, Default, Clone, Copy)]
pub struct Options<'a> {
    /// Certificate and key: implicit TLS ports (imaps, and pop3s with
    /// POP3) and STARTTLS/STLS on the plain ones.
    pub tls: Option<(&'a Path, &'a Path)>,
    /// Serve POP3 too, with APOP and stable UIDLs.
    pub pop3: bool,
    /// Run inside this network namespace, on all its addresses and the
    /// standard ports (110, 143, 993, 995).
    pub netns: Option<&'a str>,
}

/// A running Dovecot, stopped when dropped.
pub struct Dovecot {
    /// Holds configuration, mail, state and logs; removed on drop.
    dir: tempfile::TempDir,
    /// The `dovecot -F` master process (`ip netns exec` execs it).
    child: Child,
    /// Plain IMAP port.
    pub port: u16,
    /// Implicit TLS port, when started with a certificate.
    pub tls_port: Option<u16>,
    /// Plain POP3 port (STLS offered with a certificate), when serving POP3.
    pub pop3_port: Option<u16>,
    /// Implicit-TLS POP3 port (pop3s), with POP3 and a certificate.
    pub pop3s_port: Option<u16>,
    /// The network namespace it runs in, if any.
    netns: Option<String>,
}

/// True when Dovecot is installed; tests skip (with a note) otherwise.
pub fn available() -> bool {
    let found = Command::new("dovecot").arg("--version").output().is_ok();
    if !found {
        eprintln!("dovecot not installed; IMAP test skipped");
    }
    found
}

/// True when Dovecot's POP3 server (`dovecot-pop3d`) is installed too.
pub fn pop3_available() -> bool {
    let found = available() && Path::new("/usr/lib/dovecot/pop3").exists();
    if !found {
        eprintln!("dovecot-pop3d not installed; POP3 test skipped");
    }
    found
}

/// A free port on 127.0.0.1 for a peer to bind ([`super::ports::free`]).
pub fn free_port() -> u16 {
    super::ports::free()
}

impl Dovecot {
    /// Starts an IMAP instance; with `tls = Some((cert, key))` it also
    /// listens for implicit TLS.
    pub fn start(tls: Option<(&Path, &Path)>) -> Dovecot {
        Dovecot::start_with(Options {
            tls,
            ..Options::default()
        })
    }

    /// Starts an instance serving POP3 (and IMAP); with a certificate it
    /// offers STLS and listens for implicit TLS too.
    pub fn pop3(tls: Option<(&Path, &Path)>) -> Dovecot {
        Dovecot::start_with(Options {
            tls,
            pop3: true,
            ..Options::default()
        })
    }

    /// Starts an instance as `options` say. The ports are chosen free but
    /// released before Dovecot binds them, so another test can take one
    /// meanwhile: Dovecot then fails with "Address already in use" and is
    /// started again on new ports.
    pub fn start_with(options: Options<'_>) -> Dovecot {
        let mut attempt = 1;
        loop {
            let dovecot = Dovecot::try_start(&options);
            match dovecot.wait_ready() {
                Ok(()) => return dovecot,
                Err(log) if log.contains("Address already in use") && attempt < 5 => {
                    eprintln!("dovecot: a port was taken meanwhile; starting again");
                    attempt += 1;
                }
                Err(log) => panic!("dovecot did not start: {log}"),
            }
        }
    }

    /// One start on freshly chosen ports, not waited for.
    fn try_start(options: &Options<'_>) -> Dovecot {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["mail", "run", "state"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        if options.pop3 {
            maildrop(&d.join("mail").join(USER));
        }
        set_mode(&d.join("mail"), 0o777);
        set_mode(d, 0o755);
        std::fs::write(d.join("users"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).unwrap();
        let ports = Ports::choose(options);
        std::fs::write(d.join("dovecot.conf"), config(d, &ports, options)).unwrap();
        let mut command = match options.netns {
            Some(netns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", netns, "dovecot"]);
                command
            }
            None => Command::new("dovecot"),
        };
        let child = command
            .arg("-c")
            .arg(d.join("dovecot.conf"))
            .arg("-F")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Dovecot {
            dir,
            child,
            port: ports.imap,
            tls_port: ports.imaps,
            pop3_port: ports.pop3,
            pop3s_port: ports.pop3s,
            netns: options.netns.map(str::to_owned),
        }
    }

    /// Waits until every port answers (inside the namespace, if any); the
    /// log when one does not.
    fn wait_ready(&self) -> Result<(), String> {
        let ports = [Some(self.port), self.pop3_port];
        for port in ports.into_iter().flatten() {
            let deadline = Instant::now() + Duration::from_secs(20);
            while !self.listens(port) {
                let log = self.log();
                if Instant::now() >= deadline || log.contains("Fatal:") {
                    return Err(log);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    fn listens(&self, port: u16) -> bool {
        let Some(netns) = &self.netns else {
            return TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_ok();
        };
        let probe = format!("exec 3<>/dev/tcp/127.0.0.1/{port}");
        Command::new("ip")
            .args(["netns", "exec", netns, "bash", "-c", &probe])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The plain IMAP address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The plain POP3 address.
    pub fn pop3_addr(&self) -> SocketAddr {
        let port = self.pop3_port.expect("started with POP3");
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// The implicit-TLS POP3 address.
    pub fn pop3s_addr(&self) -> SocketAddr {
        let port = self.pop3s_port.expect("started with POP3 and TLS");
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Adds `user` (password [`PASSWORD`]) with an empty INBOX the test
    /// can deliver to; Dovecot rereads its user file when it changes.
    pub fn add_user(&self, user: &str) {
        maildrop(&self.inbox_of(user));
        let users = self.dir.path().join("users");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(users)
            .unwrap();
        use std::io::Write as _;
        writeln!(file, "{user}:{{PLAIN}}{PASSWORD}").unwrap();
    }

    /// The INBOX Maildir of any user.
    pub fn inbox_of(&self, user: &str) -> PathBuf {
        self.dir.path().join("mail").join(user)
    }

    /// Delivers `messages` into the test user's INBOX, in order, as they
    /// are (the POP3 server sends a file's bytes; files use CRLF).
    pub fn deliver(&self, messages: &[Vec<u8>]) {
        let new = self.maildir("INBOX").join("new");
        if !new.exists() {
            // Dovecot makes the Maildir at the first login; before it, here.
            maildrop(&self.dir.path().join("mail").join(USER));
        }
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

    /// How many messages the test user's INBOX holds now.
    pub fn count(&self) -> usize {
        ["new", "cur"]
            .iter()
            .map(|sub| std::fs::read_dir(self.maildir("INBOX").join(sub)).map_or(0, |d| d.count()))
            .sum()
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

/// A Maildir the tests deliver to by writing files, made before Dovecot
/// (running as nobody) first looks at it, writable by both.
fn maildrop(root: &Path) {
    for sub in ["", "new", "cur", "tmp"] {
        let folder = root.join(sub);
        std::fs::create_dir_all(&folder).unwrap();
        set_mode(&folder, 0o777);
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The ports an instance listens on.
struct Ports {
    /// Plain IMAP.
    imap: u16,
    /// Implicit-TLS IMAP, with a certificate.
    imaps: Option<u16>,
    /// Plain POP3, with POP3.
    pop3: Option<u16>,
    /// Implicit-TLS POP3, with POP3 and a certificate.
    pop3s: Option<u16>,
}

impl Ports {
    /// Free loopback ports, or the standard ones in a namespace of its own.
    fn choose(options: &Options<'_>) -> Ports {
        let pick = |standard: u16| match options.netns {
            Some(_) => standard,
            None => free_port(),
        };
        let tls = options.tls.is_some();
        Ports {
            imap: pick(143),
            imaps: tls.then(|| pick(993)),
            pop3: options.pop3.then(|| pick(110)),
            pop3s: (options.pop3 && tls).then(|| pick(995)),
        }
    }
}

fn config(d: &Path, ports: &Ports, options: &Options<'_>) -> String {
    let d = d.display();
    let ssl = match options.tls {
        Some((cert, key)) => format!(
            "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
            cert.display(),
            key.display()
        ),
        None => "ssl = no\n".to_owned(),
    };
    let (port, imaps) = (ports.imap, ports.imaps.unwrap_or(0));
    let listen = match options.netns {
        Some(_) => "*, ::",
        None => "127.0.0.1",
    };
    let (protocols, apop, pop3) = match ports.pop3 {
        Some(pop3) => (
            "imap pop3",
            " apop",
            pop3_config(pop3, ports.pop3s.unwrap_or(0)),
        ),
        None => ("imap", "", String::new()),
    };
    format!(
        r#"base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = {protocols}
listen = {listen}
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login{apop}
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
{pop3}default_internal_user = nobody
default_login_user = nobody
"#
    )
}

/// The POP3 part of the configuration: its ports, and UIDLs that stay the
/// same for a message (so archive records can be checked against them).
fn pop3_config(port: u16, pop3s: u16) -> String {
    format!(
        r#"pop3_uidl_format = %08Xu%08Xv
service pop3-login {{
  inet_listener pop3 {{
    port = {port}
  }}
  inet_listener pop3s {{
    port = {pop3s}
  }}
}}
"#
    )
}
