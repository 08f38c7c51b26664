//! `[[imap_import]]` jobs inside `mailseal run`: each job runs once when the
//! daemon starts and again `interval` after its previous run ended, so runs
//! of one job never overlap. Jobs that read the same account (user and host)
//! take turns, so two jobs with overlapping folders cannot fetch the same
//! message at the same time. A failed run is logged and tried again at the
//! next interval; a stop request ends a run between messages, after the
//! appends in flight are durable.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::{ImapSummary, plan, run};
use crate::archive::Archive;
use crate::config::{Config, ImapImportConfig};
use crate::import::NoProgress;
use crate::shutdown::Shutdown;

/// Starts one task per configured job on the daemon's tracker. Call from
/// inside the runtime.
pub fn spawn_jobs(config: &Config, archive: &Archive, shutdown: &Shutdown) {
    let mut accounts: HashMap<String, Arc<Mutex<()>>> = HashMap::new();
    for job in &config.imap_import {
        let account = plan::origin(&job.user, &job.host, "");
        let turn = accounts.entry(account).or_default().clone();
        let span = tracing::info_span!("imap_import", job = %job.name);
        shutdown.tracker.spawn(
            job_loop(job.clone(), archive.clone(), shutdown.token.clone(), turn).instrument(span),
        );
    }
    if !config.imap_import.is_empty() {
        tracing::info!(
            jobs = config.imap_import.len(),
            "imap import jobs scheduled"
        );
    }
}

async fn job_loop(
    job: ImapImportConfig,
    archive: Archive,
    token: CancellationToken,
    turn: Arc<Mutex<()>>,
) {
    loop {
        let guard = tokio::select! {
            g = turn.lock() => g,
            _ = token.cancelled() => return,
        };
        once(&job, &archive, &token).await;
        drop(guard);
        tokio::select! {
            _ = tokio::time::sleep(job.interval) => {}
            _ = token.cancelled() => return,
        }
    }
}

async fn once(job: &ImapImportConfig, archive: &Archive, token: &CancellationToken) {
    let started = tokio::time::Instant::now();
    let mut summary = ImapSummary::default();
    let result = run(job, archive, &NoProgress, token, &mut summary).await;
    let s = &summary;
    let millis = started.elapsed().as_millis() as u64;
    match result {
        Ok(()) => tracing::info!(
            fetched = s.fetched,
            archived = s.archive.imported,
            duplicates = s.archive.duplicates,
            failed = s.archive.failed.len(),
            millis,
            "imap import run"
        ),
        Err(error) => tracing::warn!(
            %error,
            fetched = s.fetched,
            archived = s.archive.imported,
            millis,
            next_in_secs = job.interval.as_secs(),
            "imap import run failed"
        ),
    }
}
