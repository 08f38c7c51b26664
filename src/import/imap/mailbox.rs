//! Importing one folder: EXAMINE it, work out which UIDs are not archived
//! yet at its UIDVALIDITY (SEARCH, then the index, see [`super::plan`]),
//! ask for their sizes, and fetch them batch by batch ([`super::fetch`]).
//! Before the folder ends, every message fetched from it is durable.

use std::collections::HashMap;

use futures_util::StreamExt as _;

use super::delivery::Target;
use super::folders::Folder;
use super::link::{Link, timed};
use super::{ImapImportError, Run, fetch, plan};
use crate::import::ImportSink;

/// Most bytes (by the sizes the server announced) fetched per batch.
const BATCH_BYTES: u64 = 16 * 1024 * 1024;

/// UIDs per RFC822.SIZE query.
const SIZE_CHUNK: usize = 2_000;

/// What one folder holds for this run.
struct Survey {
    /// The folder's UIDVALIDITY.
    uidvalidity: u32,
    /// UIDs to fetch, ascending.
    wanted: Vec<u32>,
    /// Their sizes as the server announced them.
    sizes: HashMap<u32, u64>,
    /// True when nothing was archived at this UIDVALIDITY before.
    full_scan: bool,
}

/// Imports the messages of `folder` that are not archived yet.
pub(super) async fn import(run: &mut Run<'_>, folder: &Folder) -> Result<(), ImapImportError> {
    let job = run.ctx.job;
    let origin = plan::origin(&job.user, &job.host, &folder.name);
    let survey = survey(run, folder, &origin).await?;
    let bytes: u64 = survey.sizes.values().sum();
    tracing::info!(
        folder = %folder.name,
        uidvalidity = survey.uidvalidity,
        new = survey.wanted.len(),
        bytes,
        full_scan = survey.full_scan,
        "folder"
    );
    run.ctx
        .progress
        .folder(&folder.name, survey.wanted.len() as u64, bytes);
    let target = Target {
        folder,
        origin,
        uidvalidity: survey.uidvalidity,
    };
    let batch_size = usize::try_from(job.batch_size).unwrap_or(usize::MAX);
    let mut result = Ok(());
    for batch in plan::batches(&survey.wanted, &survey.sizes, batch_size, BATCH_BYTES) {
        if run.ctx.cancel.is_cancelled() {
            break;
        }
        result = fetch::batch(run, &target, &survey.sizes, batch).await;
        if result.is_err() {
            break;
        }
    }
    // Whatever was fetched is archived before the folder ends, even after
    // an error or a stop request: those messages are already spooled.
    let drained = run.ctx.drain().await;
    result.and(drained)
}

/// EXAMINE, SEARCH and sizes, retried as one step.
async fn survey(
    run: &mut Run<'_>,
    folder: &Folder,
    origin: &str,
) -> Result<Survey, ImapImportError> {
    let criteria = plan::search_criteria(run.ctx.job.since, run.ctx.job.before);
    let mut attempt = 0;
    loop {
        match survey_once(&mut run.link, run.ctx.archive, folder, origin, &criteria).await {
            Ok(survey) => return Ok(survey),
            Err(e) => run.link.recover(e, &mut attempt).await?,
        }
    }
}

async fn survey_once(
    link: &mut Link<'_>,
    archive: &dyn ImportSink,
    folder: &Folder,
    origin: &str,
    criteria: &str,
) -> Result<Survey, ImapImportError> {
    let examined = link.examine(folder).await?;
    let uidvalidity = examined.uidvalidity;
    let mut found = Vec::new();
    if examined.exists > 0 {
        let address = link.address().to_owned();
        let session = link.session().await?;
        let uids = timed(&address, "UID SEARCH", session.uid_search(criteria)).await?;
        found = uids.into_iter().collect();
        found.sort_unstable();
    }
    let highest = archive.imap_highest_uid(origin, uidvalidity).await?;
    let at_or_below: Vec<u32> = match highest {
        Some(h) => found.iter().copied().filter(|&uid| uid <= h).collect(),
        None => Vec::new(),
    };
    let mut archived = archive
        .imap_archived(origin, uidvalidity, at_or_below)
        .await?;
    archived.sort_unstable();
    let wanted = plan::wanted(&found, highest, |uid| {
        Ok::<_, ImapImportError>(archived.binary_search(&uid).is_ok())
    })?;
    let sizes = sizes(link, &wanted).await?;
    Ok(Survey {
        uidvalidity,
        wanted,
        sizes,
        full_scan: highest.is_none() && !found.is_empty(),
    })
}

/// RFC822.SIZE of `uids`, for batching and the progress bar.
async fn sizes(link: &mut Link<'_>, uids: &[u32]) -> Result<HashMap<u32, u64>, ImapImportError> {
    let address = link.address().to_owned();
    let session = link.session().await?;
    let mut sizes = HashMap::with_capacity(uids.len());
    for chunk in uids.chunks(SIZE_CHUNK) {
        let query = async {
            let mut stream = session
                .uid_fetch(plan::uid_set(chunk), "(UID RFC822.SIZE)")
                .await?;
            while let Some(fetch) = stream.next().await {
                let fetch = fetch?;
                if let (Some(uid), Some(size)) = (fetch.uid, fetch.size) {
                    sizes.insert(uid, u64::from(size));
                }
            }
            Ok(())
        };
        timed(&address, "UID FETCH RFC822.SIZE", query).await?;
    }
    Ok(sizes)
}
