//! A private Dovecot that takes only OAuth2 bearer tokens (`XOAUTH2`,
//! `OAUTHBEARER`), checked by its oauth2 passdb against a tiny token
//! introspection service in Python that knows one good token. For the IMAP
//! import's OAuth2 test; used through `#[path]` from `tests/imap_import.rs`.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::dovecot::free_port;

/// The one token the introspection service accepts, for user `alice`.
pub const GOOD_TOKEN: &str = "ya29.good-token";

/// The introspection service: 200 with the user for the good token, 401
/// otherwise.
const INTROSPECT: &str = r#"
import http.server, json, sys, urllib.parse
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        ok = query.get('token', [''])[0] == sys.argv[2]
        body = json.dumps({'email': 'alice', 'active': 'true'} if ok else {'error': 'invalid_token'}).encode()
        self.send_response(200 if ok else 401)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
"#;

/// Dovecot plus its introspection service, stopped when dropped.
pub struct OAuth2Dovecot {
    /// Configuration, mail and logs.
    dir: tempfile::TempDir,
    /// `dovecot -F`.
    dovecot: Child,
    /// The Python introspection service.
    introspect: Child,
    /// Plain IMAP port.
    pub port: u16,
}

impl OAuth2Dovecot {
    /// Starts both.
    pub fn start() -> OAuth2Dovecot {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["mail", "run", "state"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        mode(&d.join("mail"), 0o777);
        mode(d, 0o755);
        let (port, http) = (free_port(), free_port());
        std::fs::write(
            d.join("oauth2.conf.ext"),
            format!(
                "introspection_mode = get\nintrospection_url = http://127.0.0.1:{http}/introspect?token=\n\
                 username_attribute = email\nactive_attribute = active\nactive_value = true\n\
                 force_introspection = yes\n"
            ),
        )
        .unwrap();
        std::fs::write(d.join("dovecot.conf"), config(d, port)).unwrap();
        let introspect = Command::new("python3")
            .args(["-c", INTROSPECT, &http.to_string(), GOOD_TOKEN])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let dovecot = Command::new("dovecot")
            .arg("-c")
            .arg(d.join("dovecot.conf"))
            .arg("-F")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = OAuth2Dovecot {
            dir,
            dovecot,
            introspect,
            port,
        };
        for p in [port, http] {
            wait_for(SocketAddr::from(([127, 0, 0, 1], p)));
        }
        server
    }

    /// Dovecot's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// alice's INBOX Maildir, for placing messages directly.
    pub fn inbox(&self) -> PathBuf {
        let inbox = self.dir.path().join("mail/alice");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(inbox.join(sub)).unwrap();
        }
        mode(&self.dir.path().join("mail/alice"), 0o777);
        inbox
    }
}

impl Drop for OAuth2Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(self.dir.path().join("dovecot.conf"))
            .arg("stop")
            .output();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !matches!(self.dovecot.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(50));
        }
        for child in [&mut self.dovecot, &mut self.introspect] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_for(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{addr} did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn config(d: &Path, port: u16) -> String {
    let d = d.display();
    format!(
        r#"base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = xoauth2 oauthbearer
mail_location = maildir:{d}/mail/%u
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {d}/oauth2.conf.ext
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
    port = 0
  }}
}}
default_internal_user = nobody
default_login_user = nobody
"#
    )
}
