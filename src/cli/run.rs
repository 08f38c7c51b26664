//! `mailseal run`: the daemon.
//!
//! Opens the archive, starts the sealer, every configured listener and the
//! control socket the CLI reaches the daemon through, and waits for
//! SIGTERM or SIGINT. Then it stops accepting, lets sessions drain
//! (a transaction in flight completes; idle sessions are told `421`), seals
//! the chain head and exits 0.
//!
//! Reload is not implemented: SIGHUP is logged and ignored (its default
//! action would kill the daemon without a drain or a seal), and changes to
//! the configuration or certificates need a restart.

use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::archive::Archive;
use crate::config::Config;
use crate::health::HealthState;
use crate::imap::proxy::ImapProxy;
use crate::shutdown::Shutdown;
use crate::smtp::listener::SmtpListener;

use super::load::archive_options;

/// How long sessions get to finish after a stop signal.
const DRAIN: Duration = Duration::from_secs(30);

/// Runs until a stop signal.
pub fn daemon(config: Config) -> anyhow::Result<u8> {
    // Installed before the archive opens, so what opening finds (writable,
    // chain length, newest seal) already reaches `/healthz`; the archive
    // writer and the proxy sessions report to it through `crate::metrics`.
    let health = HealthState::new(config.archive.seal_interval, upstream_names(&config));
    expect_mail(&config, &health);
    if !health.install() {
        tracing::warn!("a health state was already installed; /healthz may not see this daemon");
    }
    let archive = Archive::open(&archive_options(&config.archive))
        .with_context(|| format!("opening archive {}", config.archive.path.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let result = runtime.block_on(serve(&config, &archive, health));
    runtime.shutdown_timeout(Duration::from_secs(5));
    let sealed = archive.close()?;
    tracing::info!(sealed = sealed.map(|s| s.seq), "stopped");
    result.map(|()| 0)
}

async fn serve(config: &Config, archive: &Archive, health: HealthState) -> anyhow::Result<()> {
    let shutdown = Shutdown::new();
    shutdown.tracker.spawn({
        let archive = archive.clone();
        let token = shutdown.token.clone();
        async move { archive.seal_periodically(token).await }
    });
    shutdown
        .tracker
        .spawn(ignore_hangup(shutdown.token.clone()));
    if config.http.enabled {
        let http = crate::http::HttpServer::bind(config.http.listen, health).await?;
        let token = shutdown.token.clone();
        shutdown.tracker.spawn(http.run(token));
    }
    start_listeners(config, archive, &shutdown).await?;
    if config.web.enabled {
        start_web(config, archive, &shutdown).await?;
    }
    // The CLI's way to this daemon, bound after the listeners: whoever
    // reaches it finds every listener bound. Not on the mail path: without
    // it the daemon still archives, and the CLI reads the files itself.
    match crate::control::ControlServer::bind(&config.control, archive) {
        Ok(control) => control.serve(archive.clone(), &shutdown),
        Err(error) => tracing::error!(
            %error,
            "control socket unavailable; CLI commands read the archive's files directly and cannot write"
        ),
    }
    crate::import::imap::schedule::spawn_jobs(config, archive, &shutdown);
    crate::notify::ready();
    tracing::info!(
        listeners = config.smtp_proxy.len() + config.journal.len() + config.imap_proxy.len(),
        "ready"
    );
    shutdown.wait_for_signal().await;
    crate::notify::stopping();
    tracing::info!("stopping: draining sessions");
    shutdown.drain(DRAIN).await;
    Ok(())
}

/// Binds every configured listener before serving any, so a port that
/// cannot be bound (or a certificate that cannot be loaded) stops the
/// daemon at start with an error naming the listener, before READY.
async fn start_listeners(
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
    for listener in smtp {
        listener.serve(shutdown);
    }
    for proxy in imap {
        shutdown.tracker.spawn(proxy.serve(shutdown.clone()));
    }
    Ok(())
}

/// Binds the web interface (loading its certificate) and serves it; its
/// audit trail goes to the daemon's archive.
async fn start_web(config: &Config, archive: &Archive, shutdown: &Shutdown) -> anyhow::Result<()> {
    use crate::web::{Web, WebSettings, listen::WebListener, store::ArchiveMail, trail::Trail};
    let store = std::sync::Arc::new(ArchiveMail::new(archive.clone()));
    let web = Web::new(
        WebSettings::from_config(&config.web),
        store,
        Trail::new(archive.clone()),
    );
    let listener = WebListener::bind(&config.web, web).await?;
    tracing::info!(addr = ?listener.local_addr().ok(), tls = config.web.tls.is_some(), "web interface");
    listener.serve(shutdown);
    Ok(())
}

/// Logs SIGHUP instead of dying of it: `kill -HUP` or a log rotation
/// script must not stop the daemon without a drain and a seal.
async fn ignore_hangup(token: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangup) = signal(SignalKind::hangup()) else {
            return;
        };
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                Some(()) = hangup.recv() => tracing::warn!(
                    "SIGHUP ignored: reload is not implemented; restart to apply configuration or certificate changes"
                ),
            }
        }
    }
    #[cfg(not(unix))]
    token.cancelled().await;
}

/// Tells the health state which listeners must archive mail regularly.
fn expect_mail(config: &Config, health: &HealthState) {
    let now = std::time::SystemTime::now();
    let smtp = config
        .smtp_proxy
        .iter()
        .map(|l| (&l.name, l.expect_mail_within));
    let journal = config
        .journal
        .iter()
        .map(|l| (&l.name, l.expect_mail_within));
    let imap = config
        .imap_proxy
        .iter()
        .map(|l| (&l.name, l.expect_mail_within));
    for (name, within) in smtp.chain(journal).chain(imap) {
        if let Some(within) = within {
            health.expect_mail(name, within, now);
        }
    }
}

/// The names `/healthz` lists upstreams by: the proxy listeners' names,
/// which the sessions report under.
fn upstream_names(config: &Config) -> Vec<String> {
    let smtp = config.smtp_proxy.iter().map(|p| p.name.clone());
    smtp.chain(config.imap_proxy.iter().map(|p| p.name.clone()))
        .collect()
}
