//! The commands of the proofs: `prove` (also the proofs of `export
//! --with-proofs`), `prove --consistency` and `key rotate-seal`.
//!
//! Proofs are answered from the daemon's own tree file, which its writer
//! appends to after every durable batch, so a proof reads O(log n) node
//! hashes instead of scanning the segments. The file is only read here
//! (never cut or rebuilt: the writer owns it). Every proof is checked
//! against its tree head before it is sent; if the file gives one that does
//! not verify, or lacks the nodes (a write to it failed), the proofs are
//! made from a tree built in memory instead, and the daemon says so in its
//! log. `prove` is a read of the records it names, so it is recorded in
//! the audit trail like `show`; the key rotation is a record of its own.

use std::path::PathBuf;

use tokio::io::AsyncWrite;
use tokio_util::sync::CancellationToken;

use super::audit::{by, record};
use super::{ControlError, Emitter, produce};
use crate::archive::Archive;
use crate::archive::audit::action;
use crate::archive::manage::Lifecycle;
use crate::archive::reader::Reader;
use crate::archive::seal::Seal;
use crate::control::RequestContext;
use crate::control::protocol::{MAX_PROVE, Reply};
use crate::control::wire::FrameWriter;
use crate::proof::source::{self, TreeSource};
use crate::proof::{ProofError, Prover};
use crate::web::role::{MAY_APPROVE_PURGE, MAY_REQUEST_PURGE};

/// `prove`: an `inclusion` frame per record in `seqs`, all in one tree
/// head.
pub async fn prove<W: AsyncWrite + Unpin>(
    ctx: &RequestContext,
    archive: &Archive,
    seqs: Vec<u64>,
    tree_size: Option<u64>,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
) -> Result<(), ControlError> {
    let Some(&newest) = seqs.iter().max() else {
        return Err(ControlError::Refused("prove names no record".into()));
    };
    if seqs.len() > MAX_PROVE {
        return Err(ControlError::Refused(format!(
            "prove names {} records; at most {MAX_PROVE} per request",
            seqs.len()
        )));
    }
    let mut event = by(ctx, action::VIEW);
    event.records = seqs.clone();
    record(archive, event).await?;
    let reader = archive.reader();
    let dir = archive.options().path.clone();
    produce(output, token, move |out| {
        let mut provers = Provers::new(&reader, dir);
        let head = {
            let p = provers.prover()?;
            match tree_size {
                Some(size) => p
                    .head_of_size(size)
                    .ok_or_else(|| {
                        ControlError::Refused(format!(
                            "the archive has no tree head of {size} records"
                        ))
                    })?
                    .clone(),
                None => p.head_for(newest).map_err(refused)?.clone(),
            }
        };
        for seq in seqs {
            let proof = provers.make(head.seq, |p| p.inclusion(seq, &head))?;
            out.send(Reply::Inclusion {
                proof: Box::new(proof),
            })?;
        }
        Ok(())
    })
    .await
}

/// `prove --consistency`: the proof that the newest tree head extends
/// `old`. It names no record, so it is not an audited read.
pub async fn consistency<W: AsyncWrite + Unpin>(
    archive: &Archive,
    old: Seal,
    output: &mut FrameWriter<W>,
    token: &CancellationToken,
) -> Result<(), ControlError> {
    let reader = archive.reader();
    let dir = archive.options().path.clone();
    produce(output, token, move |out: &Emitter| {
        let mut provers = Provers::new(&reader, dir);
        let new = provers
            .prover()?
            .newest_head()
            .cloned()
            .ok_or_else(|| ControlError::Refused("the archive has no tree head yet".into()))?;
        let proof = provers.make(new.seq, |p| p.consistency(&old, &new))?;
        out.send(Reply::Consistency {
            proof: Box::new(proof),
        })
    })
    .await
}

/// `key rotate-seal`: the writer seals with the old key, appends the
/// rotation record signed by both and seals with the new key; the key
/// file is replaced once that is durable.
pub async fn rotate_seal<W: AsyncWrite + Unpin>(
    ctx: &RequestContext,
    archive: &Archive,
    output: &mut FrameWriter<W>,
) -> Result<(), ControlError> {
    let a = archive.clone();
    let (appended, seal) = tokio::task::spawn_blocking(move || a.rotate_key_blocking())
        .await
        .map_err(|_| ControlError::ShuttingDown)??;
    tracing::info!(
        seq = appended.seq,
        key = %seal.public_key,
        uid = ctx.peer.uid,
        "seal key rotated through the control socket"
    );
    output
        .write(
            &Reply::Rotated {
                seq: appended.seq,
                seal: Box::new(seal),
            },
            b"",
        )
        .await
        .map_err(|_| ControlError::Gone)
}

/// The prover of one request: over the daemon's tree file, or over a
/// tree built in memory once the file has failed.
struct Provers<'a> {
    /// Records, seals, time stamps.
    reader: &'a Reader,
    /// The archive's directory (its tree file is in `tree/`).
    dir: PathBuf,
    /// The prover; `None` before the first use.
    current: Option<Prover<'a, TreeSource>>,
    /// `current` reads a tree built in memory.
    in_memory: bool,
    /// The tree file was opened again after a bad proof (it may have
    /// grown past a seal that reached the index in between).
    reopened: bool,
}

impl<'a> Provers<'a> {
    fn new(reader: &'a Reader, dir: PathBuf) -> Self {
        Provers {
            reader,
            dir,
            current: None,
            in_memory: false,
            reopened: false,
        }
    }

    /// The prover, opened on first use: over the tree file, or over the
    /// records in memory when there is none.
    fn prover(&mut self) -> Result<&Prover<'a, TreeSource>, ControlError> {
        if self.current.is_none() {
            let tree = match source::live(&self.dir)? {
                Some(t) => t,
                None => {
                    tracing::warn!("no tree file; proving from memory");
                    self.in_memory = true;
                    source::memory(self.reader, self.reader.head()?.seq)?
                }
            };
            self.current = Some(Prover::new(self.reader, tree).map_err(refused)?);
        }
        self.current
            .as_ref()
            .ok_or_else(|| ControlError::Refused("no prover".into()))
    }

    /// Runs `make` over the tree file; when that gives a proof that does
    /// not verify, once more over the file opened again, then over a tree
    /// of `size` records built in memory.
    fn make<T>(
        &mut self,
        size: u64,
        make: impl Fn(&Prover<'a, TreeSource>) -> Result<T, ProofError>,
    ) -> Result<T, ControlError> {
        loop {
            match make(self.prover()?) {
                Err(ProofError::Damaged(why)) if !self.in_memory => {
                    if !self.reopened {
                        self.reopened = true;
                        self.current = None;
                        continue;
                    }
                    tracing::warn!(%why, size, "tree file gave a bad proof; proving from memory");
                    let tree = source::memory(self.reader, size)?;
                    self.current = Some(Prover::new(self.reader, tree).map_err(refused)?);
                    self.in_memory = true;
                }
                other => return other.map_err(refused),
            }
        }
    }
}

/// A proof that could not be made, as the client is told.
fn refused(e: ProofError) -> ControlError {
    match e {
        ProofError::Archive(a) => ControlError::Archive(a),
        other => ControlError::Refused(other.to_string()),
    }
}

/// `key rotate-master`: every data key re-wrapped under a new master key
/// (appends wait meanwhile); the contents are not touched.
pub async fn rotate_master<W: AsyncWrite + Unpin>(
    ctx: &RequestContext,
    archive: &Archive,
    output: &mut FrameWriter<W>,
) -> Result<(), ControlError> {
    let a = archive.clone();
    let r = tokio::task::spawn_blocking(move || a.rotate_master_blocking())
        .await
        .map_err(|_| ControlError::ShuttingDown)??;
    tracing::info!(
        live = r.live,
        uid = ctx.peer.uid,
        "master key rotated through the control socket"
    );
    output
        .write(
            &Reply::MasterRotated {
                old_id: hex::encode(r.old_id),
                new_id: hex::encode(r.new_id),
                live: r.live,
                destroyed: r.destroyed,
            },
            b"",
        )
        .await
        .map_err(|_| ControlError::Gone)
}

/// `hold`, `purge`, `retention extend`: checked and chained by the
/// daemon's writer, like the CLI does without a daemon. The actor is the
/// caller's Unix user (from the socket), except for the four-eyes steps,
/// whose web user must prove who they are with their password.
pub async fn lifecycle<W: AsyncWrite + Unpin>(
    ctx: &RequestContext,
    archive: &Archive,
    mut cmd: Lifecycle,
    forget_days: u64,
    password: Option<crate::control::protocol::Password>,
    output: &mut FrameWriter<W>,
) -> Result<(), ControlError> {
    let unix = ctx.peer.name();
    let four_eyes = match &mut cmd {
        Lifecycle::Request { actor, .. } => Some((actor.clone(), MAY_REQUEST_PURGE)),
        Lifecycle::Approve { actor, .. } => Some((actor.clone(), MAY_APPROVE_PURGE)),
        Lifecycle::HoldAdd { actor, .. }
        | Lifecycle::HoldRelease { actor, .. }
        | Lifecycle::Purge { actor, .. }
        | Lifecycle::Extend { actor, .. } => {
            *actor = unix;
            None
        }
        Lifecycle::Holds | Lifecycle::Requests => None,
    };
    if let Some((name, roles)) = four_eyes {
        let (Some(file), Some(password)) = (&ctx.users_file, &password) else {
            return Err(ControlError::Refused(
                "this step needs a web user's password".into(),
            ));
        };
        crate::web::auth::authenticate(file, &name, &password.0, roles)
            .await
            .map_err(ControlError::Refused)?;
    }
    let a = archive.clone();
    let today = chrono::Local::now().date_naive();
    tracing::info!(
        uid = ctx.peer.uid,
        "lifecycle command through the control socket"
    );
    let reply = tokio::task::spawn_blocking(move || {
        crate::archive::manage::execute(&a, cmd, today, forget_days)
    })
    .await
    .map_err(|_| ControlError::ShuttingDown)??;
    output
        .write(
            &Reply::Lifecycle {
                reply: Box::new(reply),
            },
            b"",
        )
        .await
        .map_err(|_| ControlError::Gone)
}
