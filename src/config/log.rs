//! `[log]`: log format and filter.

use serde::Deserialize;

use super::problem::Problems;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (journald adds the time).
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// `[log]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLog {
    /// `text` or `json`.
    #[serde(default)]
    format: LogFormat,
    /// EnvFilter directive.
    #[serde(default = "default_level")]
    level: String,
}

fn default_level() -> String {
    "info".to_owned()
}

impl Default for RawLog {
    /// A missing `[log]` section.
    fn default() -> Self {
        RawLog {
            format: LogFormat::default(),
            level: default_level(),
        }
    }
}

/// `[log]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Line format.
    pub format: LogFormat,
    /// A `tracing_subscriber::EnvFilter` directive such as
    /// `info` or `info,mailseal::smtp=debug`; checked at load time.
    pub level: String,
}

impl Default for LogConfig {
    /// Text lines at `info`.
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: default_level(),
        }
    }
}

impl RawLog {
    /// Checks that the filter parses.
    pub(crate) fn validate(self, p: &mut Problems) -> Option<LogConfig> {
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&self.level) {
            p.push("log.level", format!("invalid filter {:?}: {e}", self.level));
            return None;
        }
        Some(LogConfig {
            format: self.format,
            level: self.level,
        })
    }
}
