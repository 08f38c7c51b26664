//! `[search]`: how far the search index may fall behind the archive before
//! `/healthz` says `degraded`.

use serde::Deserialize;

/// Default bound: a minute of a busy gateway's mail.
const DEFAULT_MAX_LAG: u64 = 50_000;

/// `[search]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSearch {
    /// Records the index may trail the archive's head by.
    #[serde(default = "default_max_lag")]
    max_lag: u64,
}

fn default_max_lag() -> u64 {
    DEFAULT_MAX_LAG
}

impl Default for RawSearch {
    /// A missing `[search]` section.
    fn default() -> Self {
        RawSearch {
            max_lag: DEFAULT_MAX_LAG,
        }
    }
}

/// `[search]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchConfig {
    /// More records than this committed to the archive but not yet to the
    /// search index make the daemon's health `degraded` (ingest goes on).
    pub max_lag: u64,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            max_lag: DEFAULT_MAX_LAG,
        }
    }
}

impl RawSearch {
    /// Nothing here can be wrong once parsed.
    pub(crate) fn validate(self) -> SearchConfig {
        SearchConfig {
            max_lag: self.max_lag,
        }
    }
}
