//! `mailseal run`: the daemon.
//!
//! Opens the archive, starts the sealer, the search indexer (a thread that
//! follows the archive head), every configured listener and the
//! control socket the CLI reaches the daemon through, and waits for
//! SIGTERM or SIGINT. Then it stops accepting, lets sessions drain
//! (a transaction in flight completes; idle sessions are told `421`), seals
//! the chain head and exits 0.
//!
//! SIGHUP reloads the listeners (see [`super::reload`]); everything else
//! in the configuration takes effect at the next restart.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::archive::Archive;
use crate::config::Config;
use crate::control::SearchService;
use crate::health::HealthState;
use crate::search::LocalDomains;
use crate::search::indexer::Indexer;
use crate::shutdown::Shutdown;

use super::load::archive_options;
use super::reload::{Source, start_listeners};

/// How long sessions get to finish after a stop signal.
const DRAIN: Duration = Duration::from_secs(30);

/// Runs until a stop signal.
pub fn daemon(config: Config, source: Source) -> anyhow::Result<u8> {
    // Installed before the archive opens, so what opening finds (writable,
    // chain length, newest seal) already reaches `/healthz`; the archive
    // writer and the proxy sessions report to it through `crate::metrics`.
    let health = HealthState::new(config.archive.seal_interval, upstream_names(&config));
    health.set_search_max_lag(config.search.max_lag);
    expect_mail(&config, &health);
    for warning in crate::intercept::host::check(&config) {
        tracing::warn!(%warning, "interception is not ready on this host");
    }
    if !health.install() {
        tracing::warn!("a health state was already installed; /healthz may not see this daemon");
    }
    let archive = Archive::open(&archive_options(&config))
        .with_context(|| format!("opening archive {}", config.archive.path.display()))?;
    // The search indexer follows the archive on its own thread; it never
    // stops ingest, and without it the daemon still archives.
    let indexer = start_indexer(&config, &archive);
    let search = indexer.as_ref().map(|i| SearchService {
        status: i.status().clone(),
        local: LocalDomains::new(&config.archive.local_domains),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let result = runtime.block_on(serve(&config, &source, &archive, search, health));
    runtime.shutdown_timeout(Duration::from_secs(5));
    if let Some(indexer) = indexer {
        indexer.stop();
    }
    let sealed = archive.close()?;
    tracing::info!(sealed = sealed.map(|s| s.seq), "stopped");
    result.map(|()| 0)
}

/// Starts the search indexer, which catches up with the archive at once.
fn start_indexer(config: &Config, archive: &Archive) -> Option<Indexer> {
    let reader = archive.reader();
    let head = match reader.head() {
        Ok(head) => head.seq,
        Err(error) => {
            tracing::error!(%error, "search indexer not started: archive head unreadable");
            return None;
        }
    };
    let indexer_config = crate::search::indexer::Config {
        dir: crate::search::index_dir(&config.archive.path),
        local: LocalDomains::new(&config.archive.local_domains),
        writer: Default::default(),
    };
    match Indexer::spawn(indexer_config, reader, head) {
        Ok(indexer) => Some(indexer),
        Err(error) => {
            tracing::error!(%error, "search indexer thread could not start");
            None
        }
    }
}

async fn serve(
    config: &Config,
    source: &Source,
    archive: &Archive,
    search: Option<SearchService>,
    health: HealthState,
) -> anyhow::Result<()> {
    let shutdown = Shutdown::new();
    shutdown.tracker.spawn({
        let archive = archive.clone();
        let token = shutdown.token.clone();
        async move { archive.seal_periodically(token).await }
    });
    if config.http.enabled {
        let http = crate::http::HttpServer::bind(config.http.listen, health).await?;
        let token = shutdown.token.clone();
        shutdown.tracker.spawn(http.run(token));
    }
    spawn_witnesses(config, archive, &shutdown)?;
    spawn_replicas(config, archive, &shutdown)?;
    if let Some(r) = config
        .retention
        .as_ref()
        .filter(|r| r.purge == crate::config::Purge::Daily)
    {
        let days = super::lifecycle::forget_days(config);
        shutdown.tracker.spawn(crate::archive::manage::purge_daily(
            archive.clone(),
            r.purge_at,
            days,
            shutdown.token.clone(),
        ));
    }
    // The mail listeners are one generation, which a reload replaces.
    let listeners = shutdown.next_generation();
    start_listeners(config, archive, &listeners).await?;
    if config.web.enabled {
        let index = search.as_ref().map(|s| Arc::clone(&s.status));
        start_web(config, archive, index, &shutdown).await?;
    }
    // The CLI's way to this daemon, bound after the listeners: whoever
    // reaches it finds every listener bound. Not on the mail path: without
    // it the daemon still archives, and the CLI reads the files itself.
    match crate::control::ControlServer::bind(
        &config.control,
        archive,
        Some(config.web.users_file.clone()),
    ) {
        Ok(control) => control.serve(archive.clone(), search, &shutdown),
        Err(error) => tracing::error!(
            %error,
            "control socket unavailable; CLI commands read the archive's files directly and cannot write"
        ),
    }
    crate::import::imap::schedule::spawn_jobs(config, archive, &shutdown);
    crate::notify::ready();
    tracing::info!(
        listeners = config.smtp_proxy.len()
            + config.journal.len()
            + config.imap_proxy.len()
            + config.pop3_proxy.len(),
        "ready"
    );
    super::reload::until_stopped(&shutdown, source, archive, config.clone(), listeners).await;
    crate::notify::stopping();
    tracing::info!("stopping: draining sessions");
    shutdown.drain(DRAIN).await;
    Ok(())
}

/// Starts the time-stamp authorities' tasks and the seal mailer.
fn spawn_witnesses(config: &Config, archive: &Archive, shutdown: &Shutdown) -> anyhow::Result<()> {
    let authorities = config
        .timestamp
        .iter()
        .map(crate::timestamp::client::Authority::new)
        .collect::<Result<Vec<_>, _>>()?;
    crate::timestamp::spawn(archive, authorities, &shutdown.tracker, &shutdown.token);
    if let Some(c) = &config.seal_mail {
        let mailer =
            crate::seal_mail::Mailer::new(c, &config.archive.path, &config.archive.key_file)?;
        shutdown.tracker.spawn(crate::seal_mail::run(
            mailer,
            archive.clone(),
            shutdown.token.clone(),
        ));
    }
    Ok(())
}

/// Starts one replicator per `[[replica]]`; a bad credentials file or CA
/// stops the daemon at start, a bucket that cannot be reached does not
/// (the replicator retries and `/healthz` shows the lag).
fn spawn_replicas(config: &Config, archive: &Archive, shutdown: &Shutdown) -> anyhow::Result<()> {
    for r in &config.replica {
        let replicator = crate::replica::replicator::Replicator::new(r.clone(), archive.clone())
            .with_context(|| format!("[[replica]] {}", r.name))?;
        shutdown
            .tracker
            .spawn(replicator.run(shutdown.token.clone()));
    }
    Ok(())
}

/// Binds the web interface (loading its certificate) and serves it; its
/// audit trail goes to the daemon's archive.
/// Searches go to the indexer's index; without one (the indexer could not
/// start) the pages scan the archive.
async fn start_web(
    config: &Config,
    archive: &Archive,
    index: Option<Arc<crate::search::indexer::Status>>,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    use crate::web::{Web, WebSettings, listen::WebListener, store::ArchiveMail, trail::Trail};
    let store = Arc::new(match index {
        Some(status) => ArchiveMail::indexed(archive.clone(), status),
        None => ArchiveMail::new(archive.clone()),
    });
    let mut settings = WebSettings::from_config(&config.web).context("[web] imap_login_ca")?;
    settings.forget_days = super::lifecycle::forget_days(config);
    settings.daily_purge = config
        .retention
        .as_ref()
        .filter(|r| r.purge == crate::config::Purge::Daily)
        .map(|r| r.purge_at);
    let web = Web::new(settings, store, Trail::new(archive.clone()));
    let listener = WebListener::bind(&config.web, web).await?;
    tracing::info!(addr = ?listener.local_addr().ok(), tls = config.web.tls.is_some(), "web interface");
    listener.serve(shutdown);
    Ok(())
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
        .chain(config.pop3_proxy.iter().map(|p| p.name.clone()))
        .collect()
}
