//! `mailseal import imap`: one IMAP import now, either a configured
//! `[[imap_import]]` job (`--job NAME`) or an account given by flags.
//!
//! The flags are turned into the same validated [`ImapImportConfig`] the
//! config file produces, so both paths run the same code. Secrets come from
//! a file, an environment variable or a token command, never from the
//! command line (where `ps` and shell history would show them).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rustls_pki_types::ServerName;
use tokio_util::sync::CancellationToken;

use super::load::archive_options;
use super::target::Target;
use crate::archive::record::ImportContext;
use crate::archive::{Appended, Archive};
use crate::config::{Config, ImapCredential, ImapImportConfig, TlsMode};
use crate::control::ClientError;
use crate::control::remote::RemoteSink;
use crate::import::imap::{self as imap_import, ImapProgress, ImapSummary};
use crate::import::{ImportFailure, ImportSink, Progress};
use crate::tls::UpstreamCa;

/// Where and what to import.
#[derive(Debug, Clone, Args)]
pub struct ImapImportArgs {
    /// Run the configured `[[imap_import]]` job of this name.
    #[arg(long, value_name = "NAME", conflicts_with_all = [
        "host", "port", "tls", "ca_file", "tls_insecure", "user", "password_file",
        "password_env", "oauth2_token_file", "oauth2_token_command",
    ])]
    pub job: Option<String>,
    /// Everything else (boxed: the command enum stays small).
    #[command(flatten)]
    pub flags: Box<ImapFlags>,
}

/// Server, account and selection flags.
#[derive(Debug, Clone, Args)]
pub struct ImapFlags {
    /// IMAP server.
    #[arg(long, required_unless_present = "job")]
    pub host: Option<String>,
    /// Port (default 993 with implicit TLS, else 143).
    #[arg(long)]
    pub port: Option<u16>,
    /// TLS towards the server.
    #[arg(long, value_enum, default_value_t = TlsArg::Implicit)]
    pub tls: TlsArg,
    /// Trust only the CA certificates in this PEM file (default: system roots).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate (lab use only).
    #[arg(long)]
    pub tls_insecure: bool,
    /// Login name.
    #[arg(long, required_unless_present = "job")]
    pub user: Option<String>,
    /// File holding the password.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// File holding an OAuth2 access token (AUTHENTICATE XOAUTH2).
    #[arg(long, value_name = "FILE")]
    pub oauth2_token_file: Option<PathBuf>,
    /// Shell command printing an OAuth2 access token.
    #[arg(long, value_name = "COMMAND")]
    pub oauth2_token_command: Option<String>,
    /// Import only folders matching this pattern (`*` any, `%` one level);
    /// repeatable. Default: all.
    #[arg(long = "folder", value_name = "PATTERN")]
    pub folders: Vec<String>,
    /// Leave out folders matching this pattern; repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Also import \Junk, \Trash and \Drafts folders.
    #[arg(long)]
    pub include_special_use: bool,
    /// Only messages on or after this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub since: Option<NaiveDate>,
    /// Only messages before this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub before: Option<NaiveDate>,
    /// Messages fetched per round trip.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: Option<u32>,
}

/// `--tls` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsArg {
    /// TLS from the first byte (port 993).
    Implicit,
    /// Plain connection upgraded with STARTTLS (port 143).
    Starttls,
    /// No encryption (lab use only).
    None,
}

/// Where the run's messages go.
enum Sink {
    /// The running daemon, through the control socket.
    Daemon(RemoteSink),
    /// The archive, opened by this process (no daemon runs).
    Local(Archive),
}

impl Sink {
    fn as_sink(&self) -> &dyn ImportSink {
        match self {
            Sink::Daemon(remote) => remote,
            Sink::Local(archive) => archive,
        }
    }
}

/// Runs one import.
pub fn run(target: &Target, args: ImapImportArgs) -> anyhow::Result<u8> {
    target.refuse_copy("import imap")?;
    let config = target.config;
    let job = job(config, &args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let daemon = match target.client() {
        Some(client) => match runtime.block_on(client.import()) {
            Ok(remote) => Some(remote),
            Err(ClientError::NoDaemon(_)) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let sink = match daemon {
        Some(remote) => Sink::Daemon(remote),
        None => Sink::Local(
            Archive::open(&archive_options(config))
                .with_context(|| format!("opening archive {}", config.archive.path.display()))?,
        ),
    };
    let bar = Bar::new();
    let cancel = CancellationToken::new();
    let mut summary = ImapSummary::default();
    let result = runtime.block_on(async {
        tokio::spawn(stop_on_signal(cancel.clone()));
        imap_import::run(&job, sink.as_sink(), &bar, &cancel, &mut summary).await
    });
    bar.finish();
    let closed = match &sink {
        Sink::Daemon(remote) => runtime
            .block_on(remote.finish())
            .map_err(anyhow::Error::from),
        Sink::Local(archive) => archive.close().map(drop).map_err(anyhow::Error::from),
    };
    runtime.shutdown_timeout(Duration::from_secs(1));
    if result.is_ok() {
        closed?;
    }
    if result.is_ok() || summary.folders > 0 {
        report(&job, &summary);
    }
    let account = format!("{}@{}:{}", job.user, job.host, job.port);
    result.with_context(|| format!("IMAP import from {account}"))?;
    if summary.interrupted {
        anyhow::bail!("interrupted; run the same command again to resume");
    }
    match summary.archive.failed.len() {
        0 => Ok(0),
        n => anyhow::bail!("{n} messages or folders could not be imported"),
    }
}

fn report(job: &ImapImportConfig, s: &ImapSummary) {
    println!(
        "imap {}@{}: {} folders, {} fetched, {} archived ({} already stored), {}, {} failed",
        job.user,
        job.host,
        s.folders,
        s.fetched,
        s.archive.imported,
        s.archive.duplicates,
        HumanBytes(s.archive.bytes),
        s.archive.failed.len()
    );
    for f in &s.archive.failed {
        eprintln!("mailseal: not imported: {f}");
    }
}

/// SIGINT or SIGTERM stop the import between messages.
async fn stop_on_signal(cancel: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    eprintln!("mailseal: stopping after the messages in flight are archived");
    cancel.cancel();
}

/// The job to run: a configured one (selection flags override it) or one
/// built from the flags.
fn job(config: &Config, args: &ImapImportArgs) -> anyhow::Result<ImapImportConfig> {
    let flags = &args.flags;
    let mut job = match &args.job {
        Some(name) => config
            .imap_import
            .iter()
            .find(|j| &j.name == name)
            .cloned()
            .with_context(|| {
                format!("no [[imap_import]] job named {name:?} in the configuration")
            })?,
        None => from_flags(flags)?,
    };
    let args = flags;
    if !args.folders.is_empty() {
        job.folders_include = args.folders.clone();
    }
    job.folders_exclude.extend(args.exclude.iter().cloned());
    if args.include_special_use {
        job.skip_special_use.clear();
    }
    job.since = args.since.or(job.since);
    job.before = args.before.or(job.before);
    if let (Some(s), Some(b)) = (job.since, job.before)
        && s >= b
    {
        anyhow::bail!("--before ({b}) must be later than --since ({s})");
    }
    job.batch_size = args.batch_size.unwrap_or(job.batch_size);
    Ok(job)
}

fn from_flags(args: &ImapFlags) -> anyhow::Result<ImapImportConfig> {
    let host = args.host.clone().context("--host is required")?;
    let user = args
        .user
        .clone()
        .filter(|u| !u.is_empty())
        .context("--user is required")?;
    let server_name = ServerName::try_from(host.clone())
        .map_err(|_| anyhow::anyhow!("--host {host:?} is not a valid DNS name or IP address"))?;
    let tls = match args.tls {
        TlsArg::Implicit => TlsMode::Implicit,
        TlsArg::Starttls => TlsMode::Starttls,
        TlsArg::None => TlsMode::None,
    };
    let port = args
        .port
        .unwrap_or(if tls == TlsMode::Implicit { 993 } else { 143 });
    let mut job = ImapImportConfig::for_test(
        "imap",
        ([127, 0, 0, 1], port).into(),
        &user,
        credential(args)?,
    );
    job.host = host;
    job.server_name = server_name;
    job.tls = tls;
    job.upstream_ca = args
        .ca_file
        .clone()
        .map_or(UpstreamCa::System, UpstreamCa::File);
    job.tls_insecure = args.tls_insecure;
    Ok(job)
}

fn credential(args: &ImapFlags) -> anyhow::Result<ImapCredential> {
    let mut given = Vec::new();
    given.extend(args.password_file.clone().map(ImapCredential::PasswordFile));
    given.extend(args.password_env.clone().map(ImapCredential::PasswordEnv));
    given.extend(
        args.oauth2_token_file
            .clone()
            .map(ImapCredential::OAuth2TokenFile),
    );
    given.extend(
        args.oauth2_token_command
            .clone()
            .map(ImapCredential::OAuth2TokenCommand),
    );
    match given.len() {
        1 => Ok(given.remove(0)),
        0 => anyhow::bail!(
            "give one of --password-file, --password-env, --oauth2-token-file or \
             --oauth2-token-command (passwords are never taken on the command line)"
        ),
        _ => anyhow::bail!(
            "give only one of --password-file, --password-env, --oauth2-token-file, --oauth2-token-command"
        ),
    }
}

/// The progress bar: folder, messages done / total, bytes and rate; hidden
/// when stderr is not a terminal.
struct Bar {
    /// The indicatif bar.
    bar: ProgressBar,
    /// Bytes fetched in the current folder.
    bytes: AtomicU64,
    /// When the current folder started, for the rate.
    started: Mutex<Instant>,
}

impl Bar {
    fn new() -> Bar {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        let style = ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} messages {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Bar {
            bar,
            bytes: AtomicU64::new(0),
            started: Mutex::new(Instant::now()),
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn advance(&self, bytes: u64) {
        let total = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let secs = self
            .started
            .lock()
            .map(|t| t.elapsed().as_secs_f64())
            .unwrap_or(0.0)
            .max(0.001);
        self.bar.inc(1);
        self.bar.set_message(format!(
            "{} {}/s",
            HumanBytes(total),
            HumanBytes((total as f64 / secs) as u64)
        ));
    }

    fn appended(&self, _context: &ImportContext, _appended: &Appended) {}

    fn failed(&self, failure: &ImportFailure) {
        self.bar
            .suspend(|| eprintln!("mailseal: skipped: {failure}"));
    }
}

impl ImapProgress for Bar {
    fn folder(&self, name: &str, messages: u64, _bytes: u64) {
        self.bytes.store(0, Ordering::Relaxed);
        if let Ok(mut t) = self.started.lock() {
            *t = Instant::now();
        }
        self.bar.set_prefix(name.to_owned());
        self.bar.set_message("");
        self.bar.set_length(messages);
        self.bar.reset();
    }
}
