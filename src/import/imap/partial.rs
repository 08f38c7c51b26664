//! Messages too large to hold in memory, fetched in slices.
//!
//! async-imap parses a response only once it is complete, so `BODY[]` of a
//! 200 MB message would sit in memory whole. A message the server announces
//! as larger than [`LARGE`] is therefore fetched with
//! `UID FETCH uid (UID BODY.PEEK[]<offset.length>)` (RFC 3501 partial
//! fetch) in slices of [`SLICE`] bytes, each written to the spool at once:
//! memory stays at one slice whatever the message size. Messages never
//! change in IMAP, so the slices make up exactly the message; the last one
//! is shorter than asked (or empty).

use futures_util::StreamExt as _;

use super::ImapImportError;
use super::folders::Folder;
use super::link::{IO_TIMEOUT, Link};
use crate::archive::{Spool, SpooledContent};

/// Announced size above which a message is fetched in slices.
pub const LARGE: u64 = 16 * 1024 * 1024;

/// Bytes per slice.
const SLICE: usize = 4 * 1024 * 1024;

/// Fetches message `uid` slice by slice into `spool`; `None` when the
/// server returned no such message.
pub async fn fetch(
    link: &mut Link<'_>,
    folder: &Folder,
    uidvalidity: u32,
    uid: u32,
    mut spool: Spool,
) -> Result<Option<SpooledContent>, ImapImportError> {
    let address = link.address().to_owned();
    let mut offset = 0usize;
    loop {
        let session = link.examined(folder, uidvalidity).await?;
        let query = format!("(UID BODY.PEEK[]<{offset}.{SLICE}>)");
        let slice = async {
            let mut stream = session.uid_fetch(uid.to_string(), &query).await?;
            let mut data = None;
            while let Some(fetch) = stream.next().await {
                let fetch = fetch?;
                if fetch.uid == Some(uid)
                    && data.is_none()
                    && let Some(body) = fetch.body()
                {
                    data = Some(spool.write(body).map(|()| body.len()));
                }
            }
            Ok::<_, async_imap::error::Error>(data)
        };
        let got = match tokio::time::timeout(IO_TIMEOUT, slice).await {
            Err(_) => {
                return Err(ImapImportError::Timeout {
                    address,
                    secs: IO_TIMEOUT.as_secs(),
                });
            }
            Ok(r) => r.map_err(|e| ImapImportError::from_imap(&address, "UID FETCH", e))?,
        };
        match got.transpose().map_err(ImapImportError::Spool)? {
            // Gone (even half-way): nothing is archived rather than a
            // truncated message.
            None => return Ok(None),
            Some(n) if n == SLICE => offset += n,
            Some(_) => return Ok(Some(spool.finish())),
        }
    }
}
