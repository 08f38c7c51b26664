//! The CLI's side of the control socket: connect, send one request, read
//! the answer. A socket nobody listens on (missing, or left by a stopped
//! daemon) is [`ClientError::NoDaemon`], and the CLI then opens the
//! archive itself; a socket the user may not open is
//! [`ClientError::PermissionDenied`], which names the group to join.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

pub use super::error::ClientError;
use super::protocol::{Command, Reply, Request};
use super::remote::RemoteSink;
use super::wire::{FrameReader, FrameWriter, WireError};
use crate::archive::filter::Filter;
use crate::archive::headers::Headers;
use crate::archive::index::Summary;
use crate::archive::reader::Stats;
use crate::archive::record::Record;
use crate::archive::seal::Seal;
use crate::config::ControlConfig;
use crate::proof::{ConsistencyProof, InclusionProof};

/// One record as `show` prints it.
#[derive(Debug, Clone)]
pub struct Shown {
    /// The record as stored.
    pub record: Record,
    /// Its chain hash, hex.
    pub hash: String,
    /// Header fields derived from its content.
    pub headers: Headers,
    /// Segment holding it.
    pub segment: u32,
    /// Offset of its frame.
    pub offset: u64,
    /// "purged on …" when the record was purged.
    pub purged: Option<String>,
}

/// How to reach the daemon.
#[derive(Debug, Clone)]
pub struct Client {
    /// The socket.
    socket: PathBuf,
    /// The group that may use it, for the permission message.
    group: String,
    /// The archive this client means (absolute), checked by the daemon.
    archive: Option<PathBuf>,
}

impl Client {
    /// A client for the daemon serving `archive` on `control.socket`;
    /// `None` takes whatever archive the daemon serves.
    pub fn new(control: &ControlConfig, archive: Option<&Path>) -> Client {
        Client {
            socket: control.socket.clone(),
            group: control.group.clone(),
            archive: archive.map(super::session::absolute),
        }
    }

    /// Connects and sends `command`.
    pub(super) async fn open(&self, command: Command) -> Result<Conn, ClientError> {
        let stream = UnixStream::connect(&self.socket)
            .await
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                    ClientError::NoDaemon(self.socket.clone())
                }
                io::ErrorKind::PermissionDenied => ClientError::PermissionDenied {
                    socket: self.socket.clone(),
                    group: self.group.clone(),
                },
                _ => ClientError::Connect {
                    socket: self.socket.clone(),
                    source: e,
                },
            })?;
        let (read, write) = stream.into_split();
        let mut conn = Conn {
            input: FrameReader::new(read),
            output: FrameWriter::new(write),
        };
        let request = Request {
            archive: self.archive.clone(),
            command,
        };
        conn.output.send(&request, b"").await?;
        Ok(conn)
    }

    /// `list`: calls `each` for every message record that passes `filter`.
    pub async fn list(
        &self,
        filter: Filter,
        each: &mut dyn FnMut(Summary) -> io::Result<()>,
    ) -> Result<(), ClientError> {
        let mut conn = self.open(Command::List { filter }).await?;
        loop {
            match conn.next().await? {
                (Reply::Summary { summary }, _) => each(*summary).map_err(ClientError::Output)?,
                (Reply::Done, _) => return Ok(()),
                (other, _) => return Err(unexpected(&other)),
            }
        }
    }

    /// `show ID`.
    pub async fn show(&self, id: u64) -> Result<Shown, ClientError> {
        let mut conn = self.open(Command::Show { id }).await?;
        let shown = match conn.next().await? {
            (
                Reply::Record {
                    record,
                    hash,
                    headers,
                    segment,
                    offset,
                    purged,
                },
                _,
            ) => Shown {
                record: *record,
                hash,
                headers: *headers,
                segment,
                offset,
                purged,
            },
            (other, _) => return Err(unexpected(&other)),
        };
        conn.done().await?;
        Ok(shown)
    }

    /// `show ID --raw`: writes the original bytes to `out`.
    pub async fn show_raw(&self, id: u64, out: &mut dyn Write) -> Result<u64, ClientError> {
        let mut conn = self.open(Command::ShowRaw { id }).await?;
        let size = conn.content(out).await?;
        conn.done().await?;
        Ok(size)
    }

    /// `stats`.
    pub async fn stats(&self) -> Result<Stats, ClientError> {
        let mut conn = self.open(Command::Stats).await?;
        let stats = match conn.next().await? {
            (Reply::Stats { stats }, _) => *stats,
            (other, _) => return Err(unexpected(&other)),
        };
        conn.done().await?;
        Ok(stats)
    }

    /// `export`: the chain head, then records and contents one by one.
    pub async fn export(
        &self,
        filter: Filter,
        query: Option<String>,
    ) -> Result<ExportStream, ClientError> {
        let mut conn = self.open(Command::Export { filter, query }).await?;
        match conn.next().await? {
            (
                Reply::ExportHead {
                    head_seq,
                    head_hash,
                    seal,
                },
                _,
            ) => Ok(ExportStream {
                conn,
                head_seq,
                head_hash,
                seal: seal.map(|s| *s),
                purged: None,
            }),
            (other, _) => Err(unexpected(&other)),
        }
    }

    /// `search`: calls `each` per hit, returns the `search-end` figures.
    pub async fn search(
        &self,
        request: SearchPage,
        each: &mut dyn FnMut(Summary) -> io::Result<()>,
    ) -> Result<SearchEnd, ClientError> {
        let command = Command::Search {
            query: request.query,
            limit: request.limit,
            sort: request.sort,
            cursor: request.cursor,
        };
        let mut conn = self.open(command).await?;
        loop {
            match conn.next().await? {
                (Reply::Summary { summary }, _) => each(*summary).map_err(ClientError::Output)?,
                (
                    Reply::SearchEnd {
                        total,
                        next_cursor,
                        indexed,
                        head,
                    },
                    _,
                ) => {
                    conn.done().await?;
                    return Ok(SearchEnd {
                        total,
                        next_cursor,
                        indexed,
                        head,
                    });
                }
                (other, _) => return Err(unexpected(&other)),
            }
        }
    }

    /// `audit`: calls `each` with every audit record that matches, and
    /// its chain hash.
    pub async fn audit(
        &self,
        since: Option<String>,
        user: Option<String>,
        each: &mut dyn FnMut(Record, String) -> io::Result<()>,
    ) -> Result<(), ClientError> {
        let mut conn = self.open(Command::Audit { since, user }).await?;
        loop {
            match conn.next().await? {
                (Reply::Record { record, hash, .. }, _) => {
                    each(*record, hash).map_err(ClientError::Output)?
                }
                (Reply::Done, _) => return Ok(()),
                (other, _) => return Err(unexpected(&other)),
            }
        }
    }

    /// `search --check`: the report (JSON) and whether it was repaired.
    pub async fn search_check(
        &self,
        repair: bool,
    ) -> Result<(serde_json::Value, bool), ClientError> {
        let mut conn = self.open(Command::SearchCheck { repair }).await?;
        let answer = match conn.next().await? {
            (Reply::SearchChecked { report, repaired }, _) => (report, repaired),
            (other, _) => return Err(unexpected(&other)),
        };
        conn.done().await?;
        Ok(answer)
    }

    /// Has the daemon record `detail` as a `user-change` by this user.
    pub async fn note_user_change(&self, detail: String) -> Result<(), ClientError> {
        let command = Command::Note {
            action: crate::archive::audit::action::USER_CHANGE.to_owned(),
            detail,
        };
        self.open(command).await?.done().await
    }

    /// `prove`: calls `each` with the proof of every record in `seqs`
    /// (at most [`super::protocol::MAX_PROVE`]), all in one tree head: the one of
    /// `tree_size` records, or the newest that covers them all.
    pub async fn prove(
        &self,
        seqs: Vec<u64>,
        tree_size: Option<u64>,
        each: &mut dyn FnMut(InclusionProof) -> io::Result<()>,
    ) -> Result<(), ClientError> {
        let mut conn = self.open(Command::Prove { seqs, tree_size }).await?;
        loop {
            match conn.next().await? {
                (Reply::Inclusion { proof }, _) => each(*proof).map_err(ClientError::Output)?,
                (Reply::Done, _) => return Ok(()),
                (other, _) => return Err(unexpected(&other)),
            }
        }
    }

    /// `prove --consistency`: the newest tree head extends `old`.
    pub async fn prove_consistency(&self, old: Seal) -> Result<ConsistencyProof, ClientError> {
        let command = Command::ProveConsistency { old: Box::new(old) };
        let mut conn = self.open(command).await?;
        let proof = match conn.next().await? {
            (Reply::Consistency { proof }, _) => *proof,
            (other, _) => return Err(unexpected(&other)),
        };
        conn.done().await?;
        Ok(proof)
    }

    /// `key rotate-seal`: the rotation record's seq and the first seal
    /// made with the new key.
    pub async fn rotate_seal(&self) -> Result<(u64, Seal), ClientError> {
        let mut conn = self.open(Command::RotateSeal).await?;
        let answer = match conn.next().await? {
            (Reply::Rotated { seq, seal }, _) => (seq, *seal),
            (other, _) => return Err(unexpected(&other)),
        };
        conn.done().await?;
        Ok(answer)
    }

    /// `hold`, `purge`, `retention extend` through the daemon.
    pub async fn lifecycle(
        &self,
        cmd: crate::archive::manage::Lifecycle,
        forget_days: u64,
        password: Option<String>,
    ) -> Result<crate::archive::manage::LifecycleReply, ClientError> {
        let password = password.map(super::protocol::Password);
        let mut conn = self
            .open(Command::Lifecycle {
                cmd,
                forget_days,
                password,
            })
            .await?;
        let answer = match conn.next().await? {
            (Reply::Lifecycle { reply }, _) => *reply,
            (other, _) => return Err(unexpected(&other)),
        };
        conn.done().await?;
        Ok(answer)
    }

    /// `key rotate-master`: the old and new master key ids and how many
    /// data keys were re-wrapped.
    pub async fn rotate_master(&self) -> Result<crate::keystore::Rotated, ClientError> {
        let mut conn = self.open(Command::RotateMaster).await?;
        let answer = match conn.next().await? {
            (
                Reply::MasterRotated {
                    old_id,
                    new_id,
                    live,
                    destroyed,
                },
                _,
            ) => {
                let id = |h: &str| {
                    hex::decode(h)
                        .ok()
                        .and_then(|b| <[u8; 16]>::try_from(b).ok())
                        .ok_or_else(|| ClientError::Unexpected(format!("master key id {h}")))
                };
                crate::keystore::Rotated {
                    old_id: id(&old_id)?,
                    new_id: id(&new_id)?,
                    live,
                    destroyed,
                }
            }
            (other, _) => return Err(unexpected(&other)),
        };
        conn.done().await?;
        Ok(answer)
    }

    /// `reindex`: returns the number of records indexed.
    pub async fn reindex(&self) -> Result<u64, ClientError> {
        let mut conn = self.open(Command::Reindex).await?;
        let records = match conn.next().await? {
            (Reply::Reindexed { records }, _) => records,
            (other, _) => return Err(unexpected(&other)),
        };
        conn.done().await?;
        Ok(records)
    }

    /// `import`: a sink the importers append to. Must be called inside a
    /// tokio runtime, which then carries its replies.
    pub async fn import(&self) -> Result<RemoteSink, ClientError> {
        let (input, output) = self.open(Command::Import).await?.input_output();
        Ok(RemoteSink::start(input, output))
    }
}

/// A `search` request.
#[derive(Debug, Clone)]
pub struct SearchPage {
    /// The query.
    pub query: String,
    /// Most hits.
    pub limit: usize,
    /// `date`, `-date` or `relevance`.
    pub sort: String,
    /// Continue after this cursor.
    pub cursor: Option<String>,
}

/// What follows a search's hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchEnd {
    /// Records that match in all.
    pub total: u64,
    /// For the next page.
    pub next_cursor: Option<String>,
    /// The index's committed sequence number.
    pub indexed: u64,
    /// The archive's head.
    pub head: u64,
}

/// The records of an export, as the daemon streams them.
pub struct ExportStream {
    /// The connection.
    conn: Conn,
    /// Chain head seq when the export began.
    pub head_seq: u64,
    /// Chain head hash, hex.
    pub head_hash: String,
    /// The newest seal.
    pub seal: Option<Seal>,
    /// The record last returned, when it was purged, and how.
    pub purged: Option<(u64, String)>,
}

impl ExportStream {
    /// The next record with its hash; `None` when all are sent.
    pub async fn next_record(&mut self) -> Result<Option<(Record, String)>, ClientError> {
        match self.conn.next().await? {
            (
                Reply::ExportRecord {
                    record,
                    hash,
                    purged,
                },
                _,
            ) => {
                self.purged = purged.map(|p| (record.seq, p));
                Ok(Some((*record, hash)))
            }
            (Reply::Done, _) => Ok(None),
            (other, _) => Err(unexpected(&other)),
        }
    }

    /// The content of the record just returned, written to `out`.
    pub async fn content(&mut self, out: &mut dyn Write) -> Result<u64, ClientError> {
        self.conn.content(out).await
    }
}

/// One open connection.
pub(super) struct Conn {
    /// Frames from the daemon.
    pub(super) input: FrameReader<OwnedReadHalf>,
    /// Frames to the daemon.
    pub(super) output: FrameWriter<OwnedWriteHalf>,
}

impl Conn {
    /// The two halves, for a connection that outlives one answer.
    pub(super) fn input_output(self) -> (FrameReader<OwnedReadHalf>, FrameWriter<OwnedWriteHalf>) {
        (self.input, self.output)
    }

    /// The next frame; an `error` frame becomes [`ClientError::Daemon`].
    async fn next(&mut self) -> Result<(Reply, Vec<u8>), ClientError> {
        let frame = self.input.read().await?.ok_or(ClientError::Closed)?;
        match frame.decode::<Reply>().map_err(WireError::from)? {
            Reply::Error { kind, message } => Err(ClientError::Daemon { kind, message }),
            reply => Ok((reply, frame.body)),
        }
    }

    /// `data` frames up to `content-end`, written to `out`.
    async fn content(&mut self, out: &mut dyn Write) -> Result<u64, ClientError> {
        let mut written = 0u64;
        loop {
            match self.next().await? {
                (Reply::Data, body) => {
                    out.write_all(&body).map_err(ClientError::Output)?;
                    written += body.len() as u64;
                }
                (Reply::ContentEnd { size }, _) if size == written => return Ok(written),
                (Reply::ContentEnd { size }, _) => {
                    return Err(ClientError::Unexpected(format!(
                        "content-end for {size} bytes after {written}"
                    )));
                }
                (other, _) => return Err(unexpected(&other)),
            }
        }
    }

    /// The closing `done`.
    async fn done(&mut self) -> Result<(), ClientError> {
        match self.next().await? {
            (Reply::Done, _) => Ok(()),
            (other, _) => Err(unexpected(&other)),
        }
    }
}

/// A frame that does not belong where it came.
fn unexpected(reply: &Reply) -> ClientError {
    let json = serde_json::to_value(reply).unwrap_or_default();
    let kind = json
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("untyped");
    ClientError::Unexpected(kind.to_owned())
}
