//! Listeners, accept loops and connection limits (being written; the lead's
//! placeholder starts nothing yet).

use crate::archive::Archive;
use crate::config::Config;
use crate::shutdown::Shutdown;

/// Binds every configured listener and starts its accept loop.
pub async fn start(config: &Config, archive: &Archive, shutdown: &Shutdown) -> anyhow::Result<()> {
    let _ = (config, archive, shutdown);
    Ok(())
}
