//! A file with every key set, and a check that every key the parser knows
//! is documented in `config/mailseal.toml`.

use std::path::Path;
use std::time::Duration;

use super::super::*;
use super::{errors, parse, write_cert};
use crate::tls::UpstreamCa;

/// Every key of every section, with the files it names created in `dir`.
fn full_example(dir: &Path) -> String {
    let (cert, key) = write_cert(dir, "server");
    let (ca, _) = write_cert(dir, "ca");
    let (mint_ca, mint_ca_key) = (dir.join("mint-ca.pem"), dir.join("mint-ca.key"));
    let mint_key = rcgen::KeyPair::generate().unwrap();
    let mut mint_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    mint_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let mint_cert = mint_params.self_signed(&mint_key).unwrap();
    std::fs::write(&mint_ca, mint_cert.pem()).unwrap();
    std::fs::write(&mint_ca_key, mint_key.serialize_pem()).unwrap();
    let (mint_ca, mint_ca_key) = (mint_ca.display(), mint_ca_key.display());
    let secret = dir.join("secret");
    std::fs::write(&secret, "pw\n").unwrap();
    let users = dir.join("users");
    let hash = hash_password("s3cret").unwrap();
    std::fs::write(&users, format!("# journal users\n\nbob:{hash}\n")).unwrap();
    let d = dir.display();
    format!(
        r#"
[archive]
path = "{d}/archive"
key_file = "{d}/seal.key"
encrypt = true
master_key_file = "{d}/master.key"
compression = "zstd"
compression_level = 5
seal_interval = "1m"
segment_max_bytes = 1000000
spool_memory_limit = 65536
spool_dir = "{d}/spool"
local_domains = ["Example.COM.", "example.de"]

[[journal]]
name = "journal"
listen = "127.0.0.1:2525"
hostname = "archive.example.com"
allowed_networks = ["127.0.0.0/8", "::1/128", "192.0.2.7"]
tls_cert = "{cert}"
tls_key = "{key}"
tls_mode = "starttls"
require_tls = true
auth_users = [{{ user = "exchange", password_hash = "{hash}" }}]
auth_users_file = "{users}"
max_message_size = 1000
max_connections = 10
expect_mail_within = "4h"
timeout_command = "1m"
timeout_data_block = "2m"
min_data_rate = 0

[[smtp_proxy]]
name = "mx"
listen = "127.0.0.1:2526"
upstream = "mail.internal.example.com:25"
hostname = "mx.example.com"
tls_cert = "{cert}"
tls_key = "{key}"
tls_mode = "implicit"
upstream_tls = "starttls-required"
upstream_ca = "{ca}"
upstream_tls_insecure = false
upstream_tls_name = "mail.example.com"
allow_auth_without_tls = true
xclient = true
xforward = true
max_message_size = 2000
max_connections = 20
expect_mail_within = "30m"
timeout_connect = "1s"
timeout_command = "2s"
timeout_data_block = "3s"
timeout_data_end = "4s"
min_data_rate = 100

[[imap_proxy]]
name = "imap"
listen = "127.0.0.1:1993"
upstream = "imap.internal.example.com:993"
tls_cert = "{cert}"
tls_key = "{key}"
tls_mode = "implicit"
upstream_tls = "starttls"
upstream_ca = "{ca}"
upstream_tls_insecure = true
upstream_tls_name = "192.0.2.1"
skip_append_folders = ["Drafts", "Entwürfe"]
skip_append_special_use = ["\\Drafts"]
complete_partial_fetches = false
timeout_idle = "10m"
max_connections = 30
expect_mail_within = "1d"
capture_queue = 4
max_literal_size = 1048576

[[pop3_proxy]]
name = "pop3"
listen = "127.0.0.1:1995"
upstream = "pop.internal.example.com:995"
tls_cert = "{cert}"
tls_key = "{key}"
tls_mode = "implicit"
upstream_tls = "implicit"
upstream_ca = "{ca}"
upstream_tls_insecure = false
upstream_tls_name = "pop.example.com"
complete_partial_fetches = false
timeout_idle = "15m"
max_connections = 40

[[smtp_proxy]]
name = "gateway-smtp"
listen = "[::]:10025"
intercept = "redirect"
intercept_destinations = [{{ network = "192.0.2.25/32", ports = [25, 587] }}]
tls_mode = "starttls"
intercept_certificates = [{{ destinations = ["192.0.2.25/32"], names = ["localhost"], cert = "{cert}", key = "{key}" }}]
intercept_unknown_tls = "mint"
intercept_ca_cert = "{mint_ca}"
intercept_ca_key = "{mint_ca_key}"
upstream_tls = "none"

[[imap_proxy]]
name = "gateway-imap"
listen = "0.0.0.0:10143"
intercept = "tproxy"
intercept_destinations = [{{ network = "2001:db8::/64", ports = [143] }}]
intercept_bind_client = true
intercept_certificates = [{{ names = ["localhost"], cert = "{cert}", key = "{key}" }}]
intercept_unknown_tls = "mint"
intercept_ca_cert = "{mint_ca}"
intercept_ca_key = "{mint_ca_key}"
upstream_tls = "none"

[[imap_import]]
name = "alice-mailbox"
host = "imap.example.com"
port = 143
tls = "starttls"
upstream_ca = "{ca}"
tls_insecure = false
user = "alice@example.com"
password_file = "{secret}"
folders_include = ["INBOX", "Archive/*"]
folders_exclude = ["Archive/Old"]
skip_special_use = ["\\Junk"]
since = 2020-01-01
before = "2030-01-01"
interval = "1h"
batch_size = 50

[[imap_import]]
name = "bob-mailbox"
host = "imap.example.com"
user = "bob@example.com"
password_env = "MAILSEAL_BOB_PASSWORD"

[[imap_import]]
name = "carol-mailbox"
host = "imap.example.com"
user = "carol@example.com"
oauth2_token_file = "{secret}"

[[imap_import]]
name = "dave-mailbox"
host = "imap.example.com"
user = "dave@example.com"
oauth2_token_command = "/usr/local/bin/fetch-token dave"

[[timestamp]]
name = "tsa"
url = "https://tsa.example.com/stamp"
ca_file = "{ca}"
credentials_file = "{secret}"
timeout = "20s"
retry = "5s"

[seal_mail]
host = "smtp.example.com"
port = 465
tls = "implicit"
ca = "{ca}"
credentials_file = "{secret}"
from = "mailseal@example.com"
to = ["advisor@example.net", "witness@example.org"]
mode = "each"
daily_at = "06:30"
retry = "2m"

[http]
listen = "127.0.0.1:9426"
enabled = false

[log]
format = "json"
level = "info,mailseal::smtp=debug"

[control]
socket = "{d}/control.sock"
group = "auditors"

[web]
enabled = true
listen = "192.0.2.5:443"
tls_cert = "{cert}"
tls_key = "{key}"
users_file = "{d}/users.toml"
session_idle = "15m"
session_absolute = "8h"
page_size = 25
export_max = 500
imap_login = "mail.example.com:993"
imap_login_tls = "implicit"
imap_login_ca = "{ca}"
imap_login_tls_name = "imap.example.com"

[search]
max_lag = 1234

[retention]
key_backup_max_age = "14d"
audit_years = 11
purge = "off"
purge_at = "03:15"

[[retention.rule]]
name = "books"
years = 10
retired = false
source = ["journal", "imap-proxy"]
listener = ["journal", "imap"]
from = ["cfo@example.com", "@tax.example"]
to = ["buchhaltung@example.com"]
address = ["@bank.example"]
user = ["anna"]
folder = ["Rechnungen", "Archiv/*"]
direction = "inbound"

[[retention.rule]]
name = "letters"
years = 6
"#,
        cert = cert.display(),
        key = key.display(),
        ca = ca.display(),
        secret = secret.display(),
        users = users.display(),
    )
}

#[test]
fn fully_populated_example_parses_into_typed_values() {
    let dir = tempfile::tempdir().unwrap();
    let config = parse(&full_example(dir.path())).unwrap();
    assert_eq!(config.archive.compression_level, 5);
    assert_eq!(config.archive.seal_interval, Duration::from_secs(60));
    assert_eq!(
        config.archive.local_domains,
        vec!["example.com", "example.de"]
    );
    let journal = &config.journal[0];
    assert!(journal.require_tls && journal.tls.files.is_some());
    assert_eq!(journal.tls.mode, TlsMode::Starttls);
    assert_eq!(journal.allowed_networks[2].to_string(), "192.0.2.7/32");
    assert_eq!(journal.min_data_rate, 0);
    let users: Vec<&str> = journal.auth_users.iter().map(|u| u.user.as_str()).collect();
    assert_eq!(users, ["exchange", "bob"]);
    assert!(verify_password(
        &journal.auth_users[1].password_hash,
        "s3cret"
    ));
    let mx = &config.smtp_proxy[0];
    assert_eq!(
        mx.upstream.address.to_string(),
        "mail.internal.example.com:25"
    );
    assert_eq!(mx.upstream.tls, SmtpUpstreamTls::StarttlsRequired);
    assert!(matches!(mx.upstream.ca, UpstreamCa::File(_)));
    assert_eq!(mx.upstream.server_name.to_str(), "mail.example.com");
    assert!(mx.xclient && mx.xforward && mx.allow_auth_without_tls);
    assert_eq!(mx.timeout_data_end, Duration::from_secs(4));
    assert_eq!(mx.min_data_rate, 100);
    mx.tls.files.as_ref().unwrap().server_config().unwrap();
    mx.upstream.client_config().unwrap();
    let imap = &config.imap_proxy[0];
    assert_eq!(imap.upstream.server_name.to_str(), "192.0.2.1");
    assert_eq!(imap.skip_append_folders, ["Drafts", "Entwürfe"]);
    assert_eq!(imap.capture_queue, 4);
    assert_eq!(imap.max_literal_size, 1 << 20);
    let pop3 = &config.pop3_proxy[0];
    assert_eq!(pop3.upstream.tls, SmtpUpstreamTls::Implicit);
    assert_eq!(pop3.upstream.server_name.to_str(), "pop.example.com");
    assert_eq!(pop3.tls.mode, TlsMode::Implicit);
    assert!(!pop3.complete_partial_fetches);
    assert_eq!(pop3.timeout_idle, Duration::from_secs(15 * 60));
    assert_eq!(pop3.max_connections, 40);
    let job = &config.imap_import[0];
    assert!(matches!(job.credential, ImapCredential::PasswordFile(_)));
    let credentials: Vec<_> = config.imap_import[1..]
        .iter()
        .map(|j| &j.credential)
        .collect();
    assert!(matches!(
        credentials[..],
        [
            ImapCredential::PasswordEnv(_),
            ImapCredential::OAuth2TokenFile(_),
            ImapCredential::OAuth2TokenCommand(_)
        ]
    ));
    assert_eq!(job.since.unwrap().to_string(), "2020-01-01");
    assert_eq!(job.before.unwrap().to_string(), "2030-01-01");
    assert!(!config.http.enabled);
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.control.socket, dir.path().join("control.sock"));
    assert_eq!(config.control.group, "auditors");
    let tsa = &config.timestamp[0];
    assert_eq!(
        (tsa.name.as_str(), tsa.timeout),
        ("tsa", Duration::from_secs(20))
    );
    let mail = config.seal_mail.as_ref().unwrap();
    assert_eq!(mail.tls, SealMailTls::Implicit);
    assert_eq!(mail.mode, SealMailMode::Each);
    assert_eq!(mail.daily_at, (6, 30));
    assert_eq!(mail.to.len(), 2);
    assert_eq!(
        journal.expect_mail_within,
        Some(Duration::from_secs(4 * 3600))
    );
    assert_eq!(mx.expect_mail_within, Some(Duration::from_secs(30 * 60)));
    assert_eq!(imap.expect_mail_within, Some(Duration::from_secs(86400)));
    let web = &config.web;
    assert!(web.enabled && web.tls.is_some());
    assert_eq!(web.listen.to_string(), "192.0.2.5:443");
    assert_eq!(web.users_file, dir.path().join("users.toml"));
    assert_eq!(web.session_idle, Duration::from_secs(15 * 60));
    assert_eq!(web.session_absolute, Duration::from_secs(8 * 3600));
    assert_eq!((web.page_size, web.export_max), (25, 500));
    let login = web.imap_login.as_ref().expect("imap_login");
    assert_eq!(login.address.to_string(), "mail.example.com:993");
    assert_eq!(login.tls, crate::config::LoginTls::Implicit);
    assert_eq!(
        login.ca,
        crate::tls::UpstreamCa::File(dir.path().join("ca.crt"))
    );
    assert_eq!(login.server_name.to_str(), "imap.example.com");
    assert_eq!(config.search.max_lag, 1234);
    let retention = config.retention.as_ref().expect("retention");
    assert_eq!(
        retention.key_backup_max_age,
        Duration::from_secs(14 * 86400)
    );
    assert_eq!((retention.audit_years, retention.purge), (11, Purge::Off));
    assert_eq!(retention.purge_at.to_string(), "03:15:00");
    let rules = retention.rules.recorded().rules;
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].conditions.folder, ["Rechnungen", "Archiv/*"]);
}

/// The keys serde knows for the section at `section` (from the message it
/// gives for an unknown key), so docs and examples cannot fall behind.
fn known_keys(section: &str) -> Vec<String> {
    let text = match section {
        "archive" | "http" | "log" | "control" | "seal_mail" | "web" | "search" | "retention" => {
            format!("[{section}]\nzz_unknown = 1\n")
        }
        _ => format!("[[{section}]]\nzz_unknown = 1\n"),
    };
    let errors = errors(&text);
    let unknown = errors
        .problems
        .iter()
        .find(|p| p.path.ends_with("zz_unknown"));
    let message = &unknown.unwrap().message;
    let (_, expected) = message.split_once("expected").unwrap();
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_key_is_documented_and_in_the_full_example() {
    let dir = tempfile::tempdir().unwrap();
    let example = full_example(dir.path());
    let sections = [
        "archive",
        "smtp_proxy",
        "journal",
        "imap_proxy",
        "pop3_proxy",
        "imap_import",
        "http",
        "log",
        "control",
        "timestamp",
        "seal_mail",
        "web",
        "search",
        "retention",
        "retention.rule",
    ];
    for section in sections {
        let mut keys = known_keys(section);
        // `[retention]`'s `rule` is the `[[retention.rule]]` table.
        keys.retain(|key| !(section == "retention" && key == "rule"));
        // `[search]` has one key; every other section several.
        let least = if section == "search" { 1 } else { 2 };
        assert!(keys.len() >= least, "{section}: {keys:?}");
        for key in keys {
            let assignment = format!("{key} =");
            assert!(
                DEFAULT_CONFIG.contains(&assignment),
                "{section}.{key} undocumented"
            );
            assert!(
                example.contains(&assignment),
                "{section}.{key} not in full example"
            );
        }
    }
}
