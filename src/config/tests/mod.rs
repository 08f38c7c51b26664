//! Whole-file configuration tests: the shipped default file and defaults
//! here; a file with every key set in `full`; files with several mistakes
//! at once in `mistakes`; interception keys in `intercept`, its TLS keys
//! in `intercept_tls`; `[[replica]]` in `replica`; `[retention]` in
//! `retention`.

mod full;
mod intercept;
mod intercept_tls;
mod mistakes;
mod replica;
mod retention;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::tls::UpstreamCa;

pub(super) fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::from_str_named(text, "test.toml")
}

pub(super) fn errors(text: &str) -> ConfigErrors {
    match parse(text) {
        Ok(config) => panic!("accepted: {config:?}"),
        Err(errors) => errors,
    }
}

pub(super) fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Writes a self-signed certificate and its key; returns their paths.
pub(super) fn write_cert(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join(format!("{stem}.crt"));
    let key = dir.join(format!("{stem}.key"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    (cert, key)
}
#[test]
fn shipped_default_config_runs_a_loopback_journal() {
    let config = parse(DEFAULT_CONFIG).unwrap();
    assert_eq!(config.archive, ArchiveConfig::at(Path::new("./data")));
    assert_eq!(config.journal.len(), 1);
    let journal = &config.journal[0];
    assert_eq!(journal.listen, addr("127.0.0.1:2525"));
    let nets: Vec<String> = journal
        .allowed_networks
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(nets, ["127.0.0.0/8", "::1/128"]);
    assert!(config.smtp_proxy.is_empty() && config.imap_proxy.is_empty());
    assert!(config.imap_import.is_empty());
    assert_eq!(config.http, HttpConfig::default());
    assert_eq!(config.log, LogConfig::default());
    // The repository's file runs without root: its socket is not in /run.
    assert_eq!(config.control.socket, Path::new("./data/control.sock"));
    assert_eq!(config.control.group, "mailseal-admin");
}

#[test]
fn the_file_on_disk_is_the_embedded_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/mailseal.toml");
    let on_disk = Config::load(&path).unwrap();
    assert_eq!(on_disk, parse(DEFAULT_CONFIG).unwrap());
}

#[test]
fn empty_file_means_every_section_default() {
    let config = parse("").unwrap();
    assert_eq!(config, Config::for_test(Path::new("./data")));
    let archive = &config.archive;
    assert_eq!(archive.key_file, Path::new("./data/seal.key"));
    assert_eq!(archive.spool_dir, Path::new("./data/spool"));
    assert_eq!(archive.compression, Compression::Zstd);
    assert_eq!(archive.compression_level, 3);
    assert_eq!(archive.seal_interval, Duration::from_secs(300));
    assert_eq!(archive.segment_max_bytes, 1 << 30);
    assert_eq!(archive.spool_memory_limit, 1 << 20);
    assert_eq!(config.http.listen, addr("127.0.0.1:9425"));
    assert!(config.http.enabled);
    assert_eq!(config.log.format, LogFormat::Text);
    assert_eq!(config.log.level, "info");
    assert_eq!(
        config.control.socket,
        Path::new("/run/mailseal/control.sock")
    );
    assert_eq!(config.control.group, "mailseal-admin");
}

#[test]
fn archive_paths_follow_a_custom_archive_path() {
    let config = parse("[archive]\npath = \"/srv/mail\"\n").unwrap();
    assert_eq!(config.archive.key_file, Path::new("/srv/mail/seal.key"));
    assert_eq!(config.archive.spool_dir, Path::new("/srv/mail/spool"));
}

#[test]
fn listener_defaults_match_the_test_constructors() {
    let text = r#"
        [[smtp_proxy]]
        name = "mx"
        listen = "127.0.0.1:2526"
        upstream = "127.0.0.1:2600"
        hostname = "mailseal.test"
        [[journal]]
        name = "j"
        listen = "127.0.0.1:2527"
        hostname = "mailseal.test"
        [[imap_proxy]]
        name = "imap"
        listen = "127.0.0.1:1143"
        upstream = "127.0.0.1:1144"
        upstream_tls = "none"
        [[imap_import]]
        name = "job"
        host = "127.0.0.1"
        port = 1145
        tls = "none"
        user = "alice"
        password_env = "PW"
    "#;
    let config = parse(text).unwrap();
    let mx = SmtpProxyConfig::for_test("mx", addr("127.0.0.1:2526"), addr("127.0.0.1:2600"));
    assert_eq!(config.smtp_proxy, [mx]);
    assert_eq!(
        config.journal,
        [JournalConfig::for_test("j", addr("127.0.0.1:2527"))]
    );
    let imap = ImapProxyConfig::for_test("imap", addr("127.0.0.1:1143"), addr("127.0.0.1:1144"));
    assert_eq!(config.imap_proxy, [imap]);
    let credential = ImapCredential::PasswordEnv("PW".into());
    let job = ImapImportConfig::for_test("job", addr("127.0.0.1:1145"), "alice", credential);
    assert_eq!(config.imap_import, [job]);
}

#[test]
fn documented_defaults_of_listeners() {
    let text = r#"
        [[smtp_proxy]]
        name = "mx"
        listen = "127.0.0.1:2526"
        upstream = "mail.example.com:25"
        [[imap_proxy]]
        name = "imap"
        listen = "127.0.0.1:1143"
        upstream = "imap.example.com:993"
        [[imap_import]]
        name = "job"
        host = "imap.example.com"
        user = "alice"
        password_env = "PW"
    "#;
    let config = parse(text).unwrap();
    let machine = gethostname::gethostname().into_string().unwrap();
    let mx = &config.smtp_proxy[0];
    assert_eq!(mx.hostname, machine);
    assert_eq!(mx.tls.mode, TlsMode::None);
    assert_eq!(mx.upstream.tls, SmtpUpstreamTls::Starttls);
    assert_eq!(mx.upstream.server_name.to_str(), "mail.example.com");
    assert_eq!(mx.upstream.ca, UpstreamCa::System);
    assert_eq!(mx.max_message_size, 50 << 20);
    assert_eq!(mx.max_connections, 200);
    let timeouts = [
        mx.timeout_connect,
        mx.timeout_command,
        mx.timeout_data_block,
        mx.timeout_data_end,
    ];
    assert_eq!(timeouts.map(|d| d.as_secs()), [30, 300, 180, 600]);
    assert_eq!(mx.min_data_rate, 500);
    let imap = &config.imap_proxy[0];
    assert_eq!(imap.upstream.tls, TlsMode::Implicit);
    assert_eq!(imap.skip_append_folders, ["Drafts"]);
    assert_eq!(imap.skip_append_special_use, ["\\Drafts"]);
    assert!(imap.complete_partial_fetches);
    assert_eq!(imap.timeout_idle, Duration::from_secs(1800));
    assert_eq!(imap.capture_queue, 16);
    assert_eq!(imap.max_literal_size, 256 << 20);
    let job = &config.imap_import[0];
    assert_eq!((job.port, job.tls), (993, TlsMode::Implicit));
    assert_eq!(job.folders_include, ["*"]);
    assert!(job.folders_exclude.is_empty());
    assert_eq!(job.skip_special_use, ["\\Junk", "\\Trash", "\\Drafts"]);
    assert_eq!((job.since, job.before), (None, None));
    assert_eq!((job.interval.as_secs(), job.batch_size), (900, 200));
}
