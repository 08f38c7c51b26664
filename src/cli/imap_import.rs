//! `mailseal import imap`: one IMAP import now (being written).

use clap::Args;

use crate::config::Config;

/// Where and what to import.
#[derive(Debug, Clone, Args)]
pub struct ImapImportArgs {
    /// Run the configured `[[imap_import]]` job of this name.
    #[arg(long)]
    pub job: Option<String>,
}

/// Runs one import.
pub fn run(_config: &Config, _args: ImapImportArgs) -> anyhow::Result<u8> {
    anyhow::bail!("IMAP import is not finished yet")
}
