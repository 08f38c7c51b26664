//! The mail listeners: bound at start ([`start_listeners`]) and replaced
//! at SIGHUP without an outage.
//!
//! With fail-closed interception a restart is a mail outage, so a reload
//! must replace the listeners (`[[smtp_proxy]]`, `[[journal]]`,
//! `[[imap_proxy]]`, `[[pop3_proxy]]`: addresses, upstreams, certificates
//! read from their files again, destination lists, limits) while sessions
//! in progress go on with the settings they started with:
//!
//! 1. the file is read and checked exactly as `check-config` does; if it
//!    does not check out, the error is logged and nothing changes;
//! 2. the running generation stops accepting and its sockets close
//!    ([`Shutdown::stop_accepting`]); its sessions keep running;
//! 3. the new generation binds and serves. If a bind fails (an address
//!    taken meanwhile), the previous listeners are bound again.
//!
//! Between 2 and 3 the ports are closed for the time a bind takes; a client
//! connecting then is refused and retries, as during any other outage, and
//! nothing passes unarchived. Sections the daemon reads once (`[archive]`,
//! `[http]`, `[web]`, `[control]`, `[search]`, `[log]`, time stamps, seal
//! mail, import jobs, replicas) keep their running values; a change to them is logged
//! as needing a restart.

use crate::archive::Archive;
use crate::config::Config;
use crate::imap::proxy::ImapProxy;
use crate::pop3::Pop3Proxy;
use crate::shutdown::Shutdown;
use crate::smtp::listener::SmtpListener;

/// Where the configuration came from, to read it again at a reload.
#[derive(Debug, Clone)]
pub struct Source {
    /// `--config`, if given.
    pub config: Option<std::path::PathBuf>,
    /// `--archive`, if given (it overrides `[archive]`, at a reload too).
    pub archive: Option<std::path::PathBuf>,
}

/// Binds every configured listener before serving any, so a port that
/// cannot be bound (or a certificate that cannot be loaded) stops the
/// daemon at start with an error naming the listener, before READY.
pub async fn start_listeners(
    config: &Config,
    archive: &Archive,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let mut smtp = Vec::with_capacity(config.smtp_proxy.len() + config.journal.len());
    for proxy in &config.smtp_proxy {
        smtp.push(SmtpListener::proxy(proxy, archive).await?);
    }
    for journal in &config.journal {
        smtp.push(SmtpListener::journal(journal, archive).await?);
    }
    let mut imap = Vec::with_capacity(config.imap_proxy.len());
    for proxy in &config.imap_proxy {
        imap.push(ImapProxy::bind(proxy.clone(), archive.clone()).await?);
    }
    let mut pop3 = Vec::with_capacity(config.pop3_proxy.len());
    for proxy in &config.pop3_proxy {
        pop3.push(Pop3Proxy::bind(proxy, archive).await?);
    }
    for listener in smtp {
        listener.serve(shutdown);
    }
    for proxy in pop3 {
        proxy.serve(shutdown);
    }
    for proxy in imap {
        shutdown.tracker.spawn(proxy.serve(shutdown.clone()));
    }
    Ok(())
}

/// Serves until SIGTERM or SIGINT, reloading the listeners at each SIGHUP
/// (whose default action would kill the daemon without a drain or a seal).
pub async fn until_stopped(
    shutdown: &Shutdown,
    source: &Source,
    archive: &Archive,
    mut running: Config,
    mut listeners: Shutdown,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(hangup) => hangup,
        Err(error) => {
            tracing::warn!(%error, "SIGHUP handler unavailable; reload needs a restart");
            shutdown.wait_for_signal().await;
            return;
        }
    };
    loop {
        tokio::select! {
            () = shutdown.wait_for_signal() => return,
            Some(()) = hangup.recv() => {
                crate::notify::reloading();
                (running, listeners) = reload(shutdown, source, archive, running, listeners).await;
                crate::notify::ready();
            }
        }
    }
}

/// One reload; returns the configuration and listener generation that now
/// run (the old ones when the new file does not check out).
async fn reload(
    shutdown: &Shutdown,
    source: &Source,
    archive: &Archive,
    running: Config,
    listeners: Shutdown,
) -> (Config, Shutdown) {
    tracing::info!("SIGHUP: reloading the listeners");
    let read = super::load::read(source.config.as_deref(), source.archive.as_deref());
    let new = match read {
        Ok(new) => new,
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "reload refused: the configuration does not check out; the running one stays"
            );
            return (running, listeners);
        }
    };
    for section in restart_only(&running, &new) {
        tracing::warn!(
            section,
            "changed; takes effect at the next restart, not at a reload"
        );
    }
    let next_config = Config {
        smtp_proxy: new.smtp_proxy,
        journal: new.journal,
        imap_proxy: new.imap_proxy,
        pop3_proxy: new.pop3_proxy,
        ..running.clone()
    };
    listeners.stop_accepting().await;
    let next = shutdown.next_generation();
    match start_listeners(&next_config, archive, &next).await {
        Ok(()) => {
            tracing::info!(
                listeners = next_config.smtp_proxy.len()
                    + next_config.journal.len()
                    + next_config.imap_proxy.len()
                    + next_config.pop3_proxy.len(),
                "reloaded"
            );
            (next_config, next)
        }
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "reload failed; binding the previous listeners again"
            );
            let back = shutdown.next_generation();
            if let Err(error) = start_listeners(&running, archive, &back).await {
                tracing::error!(
                    error = format!("{error:#}"),
                    "the previous listeners could not be bound again either; restart mailseal"
                );
            }
            (running, back)
        }
    }
}

/// The sections that differ between `running` and `new` but are read only
/// at start.
fn restart_only(running: &Config, new: &Config) -> Vec<&'static str> {
    let sections = [
        ("archive", running.archive != new.archive),
        ("http", running.http != new.http),
        ("log", running.log != new.log),
        ("control", running.control != new.control),
        ("search", running.search != new.search),
        ("timestamp", running.timestamp != new.timestamp),
        ("seal_mail", running.seal_mail != new.seal_mail),
        ("web", running.web != new.web),
        ("imap_import", running.imap_import != new.imap_import),
        ("replica", running.replica != new.replica),
    ];
    sections
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sections_read_at_start_are_named() {
        let running = Config::from_str_named("", "<a>").unwrap();
        let new = Config::from_str_named(
            "[archive]\npath = \"/tmp/elsewhere\"\n\n[[journal]]\nname = \"j\"\nlisten = \"127.0.0.1:2525\"\n",
            "<b>",
        )
        .unwrap();
        assert_eq!(restart_only(&running, &new), ["archive"]);
        assert!(restart_only(&running, &running).is_empty());
    }
}
