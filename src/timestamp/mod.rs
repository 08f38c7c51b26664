//! RFC 3161 time stamps of seals (`[[timestamp]]`).
//!
//! One task per configured authority watches the archive's seals. Every
//! version-2 seal it has no token for is sent as a TimeStampReq over the
//! seal's signed bytes (SHA-256, a fresh nonce, the signer's certificate
//! requested); the answer is checked completely ([`client`]) and stored as
//! a time-stamp frame. The newest unstamped seal goes first. An authority
//! that fails is retried with a doubling wait (`retry`, default 30 s, up
//! to an hour); the
//! seals wait in memory and, after a restart, are found again as seals
//! without a token. Ingest never waits for any of this.
//!
//! What each authority is doing reaches `/healthz` and `/metrics` as the
//! witness `timestamp:NAME` ([`crate::metrics::witness`]).

pub mod client;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::archive::seal::Seal;
use crate::archive::stamp::TimeStamp;
use crate::archive::{Archive, tree_head};
use client::Authority;

/// Longest wait between attempts.
const MAX_RETRY: Duration = Duration::from_secs(3600);

/// Starts one stamping task per authority; they end with `token`.
pub fn spawn(
    archive: &Archive,
    authorities: Vec<Authority>,
    tracker: &tokio_util::task::TaskTracker,
    token: &CancellationToken,
) {
    for a in authorities {
        tracker.spawn(run(archive.clone(), a, token.clone()));
    }
}

/// The seals `name` has not stamped, by seq.
fn unstamped(archive: &Archive, name: &str) -> BTreeMap<u64, Seal> {
    let reader = archive.reader();
    let stamped: HashSet<String> = reader
        .timestamps()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.authority == name)
        .map(|t| t.imprint)
        .collect();
    reader
        .seals()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.version == Some(tree_head::SEAL_VERSION))
        .filter(|s| tree_head::imprint(s).is_ok_and(|i| !stamped.contains(&hex::encode(i))))
        .map(|s| (s.seq, s))
        .collect()
}

async fn run(archive: Archive, authority: Authority, token: CancellationToken) {
    let witness = format!("timestamp:{}", authority.name);
    let mut seals = archive.seals_watch();
    let mut pending = unstamped(&archive, &authority.name);
    let mut wait = authority.retry;
    let mut retry_at: Option<tokio::time::Instant> = None;
    crate::metrics::witness(&witness, None, pending.len() as u64, None);
    loop {
        let due = retry_at.is_none_or(|t| tokio::time::Instant::now() >= t);
        if due {
            while let Some((&seq, seal)) = pending.iter().next_back() {
                match stamp(&archive, &authority, seal).await {
                    Ok(()) => {
                        pending.remove(&seq);
                        wait = authority.retry;
                        retry_at = None;
                        tracing::info!(authority = %authority.name, seq, "seal time-stamped");
                        crate::metrics::witness(&witness, Some(true), pending.len() as u64, None);
                    }
                    Err(e) => {
                        tracing::warn!(authority = %authority.name, seq, error = %e, retry_in = ?wait, "time stamp failed");
                        crate::metrics::witness(
                            &witness,
                            Some(false),
                            pending.len() as u64,
                            Some(&e),
                        );
                        retry_at = Some(tokio::time::Instant::now() + wait);
                        wait = (wait * 2).min(MAX_RETRY);
                        break;
                    }
                }
            }
        }
        let sleep = async {
            match retry_at {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = token.cancelled() => return,
            changed = seals.changed() => {
                if changed.is_err() {
                    return;
                }
                pending = unstamped(&archive, &authority.name);
                crate::metrics::witness(&witness, None, pending.len() as u64, None);
            }
            () = sleep => {}
        }
    }
}

/// Gets and stores a token for `seal`; the error is for the log and
/// `/healthz`.
async fn stamp(archive: &Archive, authority: &Authority, seal: &Seal) -> Result<(), String> {
    let imprint = tree_head::imprint(seal)?;
    let token = authority.stamp(&imprint).await.map_err(|e| e.to_string())?;
    use base64::Engine;
    let frame = TimeStamp {
        seq: seal.seq,
        imprint: hex::encode(imprint),
        authority: authority.name.clone(),
        token: base64::engine::general_purpose::STANDARD.encode(token),
    };
    archive
        .append_timestamp(frame)
        .await
        .map_err(|e| format!("storing the token: {e}"))
}
