//! Loading the configuration and setting up logging for a command.

use std::path::Path;

use anyhow::Context;

use crate::archive::ArchiveOptions;
use crate::config::{ArchiveConfig, Compression, Config};

use super::DEFAULT_CONFIG;

/// Loads the config for a command. Without `--config`, the default path is
/// used; when it does not exist and `--archive` names a directory, the
/// built-in defaults are used (an auditor's copy needs no config).
pub fn config(path: Option<&Path>, archive: Option<&Path>, daemon: bool) -> anyhow::Result<Config> {
    let config = read(path, archive)?;
    init_logging(&config, daemon);
    Ok(config)
}

/// Reads and validates the config as [`config`] does, without touching
/// logging: what `run` does again at a reload.
pub fn read(path: Option<&Path>, archive: Option<&Path>) -> anyhow::Result<Config> {
    let default = Path::new(DEFAULT_CONFIG);
    let mut config = match (path, archive) {
        (Some(p), _) => Config::load(p).map_err(|e| anyhow::anyhow!("{e}"))?,
        (None, Some(_)) if !default.exists() => {
            Config::from_str_named("", "<defaults>").map_err(|e| anyhow::anyhow!("{e}"))?
        }
        (None, _) => Config::load(default)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("no usable configuration (give --config FILE or --archive DIR)")?,
    };
    if let Some(dir) = archive {
        config.archive = ArchiveConfig::at(dir);
    }
    Ok(config)
}

/// `mailseal check-config`.
pub fn check_config(path: Option<&Path>) -> anyhow::Result<u8> {
    let path = path.unwrap_or(Path::new(DEFAULT_CONFIG));
    match Config::load(path) {
        Ok(c) => {
            println!(
                "{}: ok ({} smtp_proxy, {} journal, {} imap_proxy, {} imap_import; archive at {})",
                path.display(),
                c.smtp_proxy.len(),
                c.journal.len(),
                c.imap_proxy.len(),
                c.imap_import.len(),
                c.archive.path.display()
            );
            for warning in crate::intercept::host::check(&c) {
                eprintln!("warning: {warning}");
            }
            let shortened = shortened_rules(&c);
            for problem in &shortened {
                eprintln!("{}: [retention]: {problem}", path.display());
            }
            Ok(if shortened.is_empty() { 0 } else { 2 })
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(2)
        }
    }
}

/// What the configured retention rules would shorten or drop compared
/// with the rules the archive last recorded (nothing when retention is
/// off or the archive does not exist yet). A rule may never keep less.
fn shortened_rules(config: &Config) -> Vec<String> {
    let Some(retention) = &config.retention else {
        return Vec::new();
    };
    if !config.archive.path.join("segments").is_dir() {
        return Vec::new();
    }
    let recorded = crate::archive::reader::Reader::open(&archive_options(config))
        .and_then(|r| r.retention_rules());
    match recorded {
        Ok(Some(before)) => crate::retention::compare(&before, &retention.rules.recorded()),
        Ok(None) => Vec::new(),
        Err(e) => {
            eprintln!(
                "warning: the archive's recorded retention rules could not be read ({e}); \
                 `mailseal run` compares them at start"
            );
            Vec::new()
        }
    }
}

/// The archive options of a config (its `[archive]` and `[retention]`).
pub fn archive_options(config: &Config) -> ArchiveOptions {
    let c = &config.archive;
    ArchiveOptions {
        path: c.path.clone(),
        key_file: c.key_file.clone(),
        encrypt: c.encrypt,
        master_key_file: c.master_key_file.clone(),
        compression_level: match c.compression {
            Compression::Zstd => c.compression_level,
            Compression::None => 0,
        },
        seal_interval: c.seal_interval,
        segment_max_bytes: c.segment_max_bytes,
        spool_memory_limit: c.spool_memory_limit,
        spool_dir: c.spool_dir.clone(),
        retention: config
            .retention
            .as_ref()
            .map(|r| std::sync::Arc::new(r.rules.clone())),
    }
}

fn init_logging(config: &Config, daemon: bool) {
    use tracing_subscriber::EnvFilter;
    let level = if daemon {
        config.log.level.clone()
    } else {
        "warn".to_string()
    };
    let filter = EnvFilter::try_from_env("MAILSEAL_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match config.log.format {
        crate::config::LogFormat::Json => builder.json().try_init(),
        crate::config::LogFormat::Text => builder.try_init(),
    };
}
