//! Where fetched messages go: one record each, with the folder, UIDVALIDITY
//! and UID as import context, appended through the [`Window`]; and where
//! messages that cannot be fetched are counted.

use super::folders::Folder;
use super::window::Pending;
use super::{Ctx, ImapImportError};
use crate::archive::record::{ImportContext, Source, SourceKind};
use crate::archive::{MessageMeta, NewMessage, SpooledContent};
use crate::import::ImportFailure;

/// The folder messages are fetched from.
pub struct Target<'f> {
    /// The folder.
    pub folder: &'f Folder,
    /// `imap://user@host/folder`: records and resume lookups use it.
    pub origin: String,
    /// The folder's UIDVALIDITY.
    pub uidvalidity: u32,
}

impl Ctx<'_> {
    /// Counts a fetched message and starts its append (waiting for room in
    /// the window first).
    pub async fn deliver(
        &mut self,
        target: &Target<'_>,
        uid: u32,
        content: SpooledContent,
    ) -> Result<(), ImapImportError> {
        self.summary.fetched += 1;
        self.progress.advance(content.size);
        let context = ImportContext {
            kind: "imap".into(),
            origin: target.origin.clone(),
            position: None,
            uidvalidity: Some(target.uidvalidity),
            uid: Some(uid),
        };
        let meta = MessageMeta {
            source: Source {
                kind: SourceKind::Import,
                name: self.job.name.clone(),
            },
            auth_user: Some(self.job.user.clone()),
            import: Some(context.clone()),
            ..Default::default()
        };
        let pending = Pending {
            context,
            message: NewMessage {
                meta,
                content,
                evidence: None,
            },
        };
        self.window
            .push(
                self.archive,
                pending,
                self.progress,
                &mut self.summary.archive,
            )
            .await
    }

    /// Waits until every fetched message is archived.
    pub async fn drain(&mut self) -> Result<(), ImapImportError> {
        self.window
            .drain(self.progress, &mut self.summary.archive)
            .await
    }

    /// Records a message that could not be fetched; the folder goes on.
    pub fn give_up(&mut self, target: &Target<'_>, uid: u32, reason: &str) {
        tracing::warn!(folder = %target.folder.name, uid, reason, "message not imported");
        let failure = ImportFailure {
            path: target.origin.clone().into(),
            position: Some(format!("UID {uid}")),
            reason: reason.to_owned(),
        };
        self.progress.failed(&failure);
        self.summary.archive.failed.push(failure);
    }
}
