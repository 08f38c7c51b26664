//! The command line: flags, config loading and the commands of the contract.
//!
//! Every command returns the process exit code (0 ok, 1 verification found a
//! problem); errors become exit code 2 in `main`.

mod audit;
mod filter;
mod imap_import;
mod inspect;
mod lifecycle;
mod listing;
mod load;
mod progress;
mod prove;
mod reload;
mod replica;
mod run;
mod search;
mod store;
mod target;
mod users;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

pub use filter::Filter;

/// Default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/mailseal/mailseal.toml";

/// mailseal: transparent SMTP/IMAP journaling proxy with a sealed archive.
#[derive(Debug, Parser)]
#[command(name = "mailseal", version, about, propagate_version = true)]
pub struct Cli {
    /// Configuration file.
    #[arg(
        long,
        short = 'c',
        global = true,
        value_name = "FILE",
        env = "MAILSEAL_CONFIG"
    )]
    pub config: Option<PathBuf>,
    /// Use the archive in this directory instead of the configured one
    /// (for example a copy handed to an auditor).
    #[arg(long, global = true, value_name = "DIR")]
    pub archive: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: every configured listener; drains on SIGTERM.
    Run,
    /// Validate the configuration and list every problem.
    CheckConfig,
    /// Walk chain, content and seals; name the first broken place.
    Verify {
        /// Trust seals only from this public key (PEM from `key show`, or
        /// hex), or keys it rotated to.
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// A seal kept from earlier (seal JSON, or a seal mail's
        /// attachment): the archive must still hold what it sealed.
        #[arg(long = "seal", value_name = "FILE")]
        seals: Vec<PathBuf>,
        /// CA certificate (PEM) of a time-stamp authority; tokens are
        /// checked against these and the `[[timestamp]]` CAs.
        #[arg(long = "tsa-ca", value_name = "FILE")]
        tsa_ca: Vec<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Decrypt with this master key (a copy's, or one from escrow)
        /// instead of `[archive] master_key_file`.
        #[arg(long, value_name = "FILE", conflicts_with = "no_decrypt")]
        master_key: Option<PathBuf>,
        /// Check encrypted contents by their ciphertext hashes only, as an
        /// auditor without the master key can.
        #[arg(long)]
        no_decrypt: bool,
        /// Verify the copy in a `[[replica]]` bucket instead of the local
        /// archive (the block named NAME, or the first): rebuilt in a
        /// scratch directory from the bucket alone.
        #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
        replica: Option<String>,
        /// With --replica: every gateway (prefix) in the bucket, one line each.
        #[arg(long, requires = "replica")]
        all: bool,
        /// With --replica: this gateway's prefix instead of the block's.
        #[arg(long, requires = "replica", conflicts_with = "all")]
        prefix: Option<String>,
    },
    /// Rebuild an archive directory from a `[[replica]]` bucket alone.
    Restore {
        /// The new archive directory (must be empty or absent).
        #[arg(long = "from-replica", value_name = "DIR")]
        into: PathBuf,
        /// The `[[replica]]` block to read (default: the first).
        #[arg(long, value_name = "NAME", default_value = "")]
        replica: String,
        /// The gateway's prefix in the bucket (default: the block's).
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Counts and bytes by source, dedup and compression, chain head, last seal.
    Stats {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List records.
    List {
        /// Which records.
        #[command(flatten)]
        filter: Filter,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Search the archive (query language: docs/search.md); prints the
    /// columns of `list`.
    Search {
        /// The query, e.g. `from:example.com rechnung date:2024`.
        #[arg(required_unless_present = "check")]
        query: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Most hits.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// `date` (oldest first), `-date` (newest first) or `relevance`.
        #[arg(long, default_value = "-date", allow_hyphen_values = true)]
        sort: String,
        /// Continue after the page that printed this cursor.
        #[arg(long)]
        cursor: Option<String>,
        /// Compare the index with the segments instead (exit 1 when
        /// something is missing, extra or stale).
        #[arg(long, conflicts_with = "query")]
        check: bool,
        /// With --check: index what is missing, remove what is extra.
        #[arg(long, requires = "check")]
        repair: bool,
    },
    /// Show one record's metadata, or exactly its original bytes.
    Show {
        /// Record id.
        id: u64,
        /// Write the message's original bytes to stdout.
        #[arg(long)]
        raw: bool,
    },
    /// Export messages byte-exact with a manifest of hashes.
    Export {
        /// Output directory.
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// `eml` (one file per message) or `mbox`.
        #[arg(long, value_enum, default_value_t = ExportFormat::Eml)]
        format: ExportFormat,
        /// Write `<id>.proof.json` beside each `.eml`: its proof against
        /// the newest signed tree head.
        #[arg(long)]
        with_proofs: bool,
        /// Which records.
        #[command(flatten)]
        filter: Filter,
        /// Only the records matching this search query (docs/search.md).
        #[arg(long, value_name = "QUERY")]
        query: Option<String>,
    },
    /// Prove a message is in the sealed archive, or that the archive
    /// extends a seal kept earlier.
    Prove {
        /// The message record's id.
        #[arg(required_unless_present = "consistency")]
        id: Option<u64>,
        /// Prove that the archive's newest tree head extends this seal
        /// (seal JSON, or a seal mail's attachment).
        #[arg(long, value_name = "OLD_SEAL", conflicts_with = "id")]
        consistency: Option<PathBuf>,
    },
    /// Import existing mail.
    Import {
        /// What to import.
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// The seal key.
    Key {
        /// What to do with it.
        #[command(subcommand)]
        what: KeyCommand,
    },
    /// Drop the indexes (sled and search) and rebuild them from the segments.
    Reindex,
    /// Hash a password (read from stdin) for `[[journal]] auth_users`.
    HashPassword,
    /// The web interface's users and roles.
    User(users::UserArgs),
    /// Legal holds: held mail is never purged.
    Hold {
        /// What to do.
        #[command(subcommand)]
        what: lifecycle::HoldCommand,
    },
    /// Delete what is past its keep-until and not held (destroys its keys
    /// and chains a tombstone); `request`/`approve` delete early.
    Purge(lifecycle::PurgeArgs),
    /// Retention of records already archived.
    Retention {
        /// What to do.
        #[command(subcommand)]
        what: lifecycle::RetentionCommand,
    },
    /// The audit trail: who logged in, searched, read or exported what.
    Audit {
        /// Only records from this day (YYYY-MM-DD) or time (RFC 3339) on.
        #[arg(long)]
        since: Option<String>,
        /// Only records whose actor (login or Unix user) contains this.
        #[arg(long)]
        user: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One `.eml` file per message, plus `manifest.json` and `SHA256SUMS`.
    Eml,
    /// One mbox file (mboxrd quoting), plus `manifest.json`.
    Mbox,
}

/// Importers.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// `.eml` files (or directories of them).
    Eml {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// mbox files.
    Mbox {
        /// Files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Maildir folders (with Maildir++ subfolders).
    Maildir {
        /// Folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Mailboxes on an IMAP server (incremental, resumable).
    Imap(imap_import::ImapImportArgs),
}

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print the public key for auditors.
    Show,
    /// Start a new seal key, signed over by the old one in the chain.
    RotateSeal,
    /// Re-wrap every data key of the key store under a new master key
    /// (contents are not re-encrypted); destroy escrowed copies of the old
    /// master key afterwards.
    RotateMaster,
}

/// Runs one command; returns the exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let daemon = matches!(cli.command, Command::Run);
    match cli.command {
        Command::CheckConfig => load::check_config(cli.config.as_deref()),
        Command::HashPassword => store::hash_password(),
        Command::Run => {
            let config = load::config(cli.config.as_deref(), cli.archive.as_deref(), daemon)?;
            let source = reload::Source {
                config: cli.config.clone(),
                archive: cli.archive.clone(),
            };
            run::daemon(config, source)
        }
        command => {
            let config = load::config(cli.config.as_deref(), cli.archive.as_deref(), daemon)?;
            let target = target::Target::new(&config, cli.archive.is_some())?;
            match command {
                Command::Verify {
                    public_key,
                    json,
                    seals,
                    tsa_ca,
                    replica: Some(name),
                    all,
                    prefix,
                    ..
                } => replica::verify(
                    &config,
                    &replica::VerifyReplica {
                        name: &name,
                        all,
                        prefix: prefix.as_deref(),
                        public_key: public_key.as_deref(),
                        seals: &seals,
                        tsa_ca: &tsa_ca,
                        json,
                    },
                ),
                Command::Verify {
                    public_key,
                    json,
                    seals,
                    tsa_ca,
                    master_key,
                    no_decrypt,
                    ..
                } => inspect::verify(
                    &config,
                    public_key.as_deref(),
                    json,
                    &seals,
                    &tsa_ca,
                    inspect::Decrypt::choose(master_key, no_decrypt),
                ),
                Command::Restore {
                    into,
                    replica: name,
                    prefix,
                } => replica::restore(&config, &into, &name, prefix.as_deref()),
                Command::Stats { json } => {
                    let code = inspect::stats(&target, json)?;
                    if !json {
                        replica::stats_lines(&config, &mut std::io::stdout().lock())?;
                    }
                    Ok(code)
                }
                Command::List { filter, json } => inspect::list(&target, &filter, json),
                Command::Show { id, raw } => inspect::show(&target, id, raw),
                Command::Key {
                    what: KeyCommand::Show,
                } => inspect::key_show(&config),
                Command::Key {
                    what: KeyCommand::RotateSeal,
                } => prove::rotate_seal(&target),
                Command::Key {
                    what: KeyCommand::RotateMaster,
                } => prove::rotate_master(&target),
                Command::Prove {
                    consistency: Some(old),
                    ..
                } => prove::prove_consistency(&target, &old),
                Command::Prove { id, .. } => prove::prove(&target, id.unwrap_or_default()),
                Command::Export {
                    out,
                    format,
                    with_proofs,
                    filter,
                    query,
                } => store::export(
                    &target,
                    &out,
                    format,
                    &filter,
                    query.as_deref(),
                    with_proofs,
                ),
                Command::Search {
                    check: true,
                    repair,
                    json,
                    ..
                } => search::check(&target, repair, json),
                Command::Search {
                    query,
                    json,
                    limit,
                    sort,
                    cursor,
                    ..
                } => search::search(
                    &target,
                    search::SearchArgs {
                        query: query.unwrap_or_default(),
                        json,
                        limit,
                        sort,
                        cursor,
                    },
                ),
                Command::Import {
                    what: ImportCommand::Imap(args),
                } => imap_import::run(&target, args),
                Command::Import { what } => store::import(&target, what),
                Command::Reindex => store::reindex(&target),
                Command::User(args) => users::run(&config, args),
                Command::Hold { what } => lifecycle::hold(&target, what),
                Command::Purge(args) => lifecycle::purge(&target, args),
                Command::Retention { what } => lifecycle::retention(&target, what),
                Command::Audit { since, user, json } => audit::run(&target, since, user, json),
                Command::Run | Command::CheckConfig | Command::HashPassword => Ok(0),
            }
        }
    }
}
