//! Fetching one batch of a folder: `UID FETCH set (UID BODY.PEEK[])`, each
//! message copied into a spool (which moves large ones to disk) as soon as
//! it is parsed and handed on for archiving, so at most one message is
//! held whole in memory; messages announced larger than
//! [`partial::LARGE`] come in slices instead ([`super::partial`]).
//!
//! A batch that breaks off (connection lost, timeout, a response that does
//! not parse) is resumed from the first undelivered UID on a new connection,
//! and that UID is fetched on its own from then on. A message that breaks
//! the fetch [`MESSAGE_ATTEMPTS`] times, or that the server does not return
//! at all, is recorded as failed with its folder and UID, and the batch goes
//! on.

use std::collections::{HashMap, HashSet, VecDeque};

use futures_util::StreamExt as _;

use super::delivery::Target;
use super::link::IO_TIMEOUT;
use super::{ImapImportError, Run, partial, plan};

/// Times one message may break a fetch before it is given up.
const MESSAGE_ATTEMPTS: u32 = 3;

/// Fetch errors in a row without progress before the run gives up.
const ERRORS_IN_ROW: u32 = 6;

/// Fetches one batch (ascending UIDs).
pub(super) async fn batch(
    run: &mut Run<'_>,
    target: &Target<'_>,
    sizes: &HashMap<u32, u64>,
    batch: Vec<u32>,
) -> Result<(), ImapImportError> {
    let large = |uid: &u32| sizes.get(uid).is_some_and(|s| *s > partial::LARGE);
    let mut alone: HashSet<u32> = batch.iter().copied().filter(large).collect();
    let mut remaining: VecDeque<u32> = batch.into();
    let mut attempts: HashMap<u32, u32> = HashMap::new();
    let mut errors_in_row = 0;
    while let Some(&first) = remaining.front() {
        if run.ctx.cancel.is_cancelled() {
            return Ok(());
        }
        let chunk: Vec<u32> = if alone.contains(&first) {
            vec![first]
        } else {
            let rest = remaining.iter().copied();
            rest.take_while(|u| !alone.contains(u)).collect()
        };
        let mut got = HashSet::new();
        let result = if large(&first) {
            sliced(run, target, first, &mut got).await
        } else {
            whole(run, target, &chunk, &mut got).await
        };
        remaining.retain(|u| !got.contains(u));
        if !got.is_empty() {
            errors_in_row = 0;
        }
        match result {
            Ok(()) => {
                let missing = chunk.iter().copied().filter(|u| !got.contains(u));
                if chunk.len() > 1 {
                    alone.extend(missing);
                } else if !got.contains(&first) {
                    let reason =
                        "the server returned no message for this UID (expunged meanwhile?)";
                    run.ctx.give_up(target, first, reason);
                    remaining.retain(|u| *u != first);
                }
            }
            Err(e) if e.is_transient() && run.link.is_open() => {
                run.link.broken();
                errors_in_row += 1;
                if errors_in_row >= ERRORS_IN_ROW {
                    return Err(e);
                }
                let Some(culprit) = chunk.iter().copied().find(|u| !got.contains(u)) else {
                    continue;
                };
                let n = attempts.entry(culprit).or_default();
                *n += 1;
                tracing::warn!(folder = %target.folder.name, uid = culprit, attempt = *n, error = %e, "fetch broke off; resuming");
                if *n >= MESSAGE_ATTEMPTS {
                    run.ctx.give_up(target, culprit, &e.to_string());
                    remaining.retain(|u| *u != culprit);
                    errors_in_row = 0;
                } else {
                    alone.insert(culprit);
                    run.link.pause(errors_in_row).await?;
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One `UID FETCH` of whole messages; `got` collects the UIDs delivered,
/// also when the fetch fails half-way.
async fn whole(
    run: &mut Run<'_>,
    target: &Target<'_>,
    chunk: &[u32],
    got: &mut HashSet<u32>,
) -> Result<(), ImapImportError> {
    let address = run.link.address().to_owned();
    let failed = |e| ImapImportError::from_imap(&address, "UID FETCH", e);
    let timeout = || ImapImportError::Timeout {
        address: address.clone(),
        secs: IO_TIMEOUT.as_secs(),
    };
    let session = run.link.examined(target.folder, target.uidvalidity).await?;
    let command = session.uid_fetch(plan::uid_set(chunk), "(UID BODY.PEEK[])");
    let mut stream = tokio::time::timeout(IO_TIMEOUT, command)
        .await
        .map_err(|_| timeout())?
        .map_err(failed)?;
    let mut stopped = false;
    loop {
        if run.ctx.cancel.is_cancelled() {
            stopped = true;
            break;
        }
        let fetch = match tokio::time::timeout(IO_TIMEOUT, stream.next()).await {
            Err(_) => return Err(timeout()),
            Ok(None) => break,
            Ok(Some(item)) => item.map_err(failed)?,
        };
        let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) else {
            continue;
        };
        if chunk.binary_search(&uid).is_err() || got.contains(&uid) {
            continue;
        }
        let mut spool = run.ctx.archive.spool();
        spool.write(body).map_err(ImapImportError::Spool)?;
        drop(fetch);
        got.insert(uid);
        run.ctx.deliver(target, uid, spool.finish()).await?;
    }
    drop(stream);
    if stopped {
        // The rest of the response is still on the wire.
        run.link.broken();
    }
    Ok(())
}

/// One large message, slice by slice.
async fn sliced(
    run: &mut Run<'_>,
    target: &Target<'_>,
    uid: u32,
    got: &mut HashSet<u32>,
) -> Result<(), ImapImportError> {
    let spool = run.ctx.archive.spool();
    let fetched = partial::fetch(&mut run.link, target.folder, target.uidvalidity, uid, spool);
    if let Some(content) = fetched.await? {
        got.insert(uid);
        run.ctx.deliver(target, uid, content).await?;
    }
    Ok(())
}
