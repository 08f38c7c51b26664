//! The server-to-client direction of a session: relays the upstream's bytes
//! to the client as the framer delimits them, adjusts capability lists,
//! settles the client's commands in the context, spools FETCH responses
//! that carry a whole message, and asks for completion of partial fetches.
//! It also writes the proxy's own lines at response boundaries.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, ReadHalf};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::capture::{self, Direction, Place};
use super::completer::{Completer, Job, Key};
use super::shared::{Inject, SMALL_LITERAL, Shared, Stop, Writer};
use crate::archive::{Spool, SpooledContent};
use crate::imap::capability;
use crate::imap::context::Settled;
use crate::imap::framer::{Event, Framer, Line, Side};
use crate::imap::head::Head;
use crate::imap::reply;
use crate::imap::response::{self, FetchScan};
use crate::imap::token::Parts;
use crate::transport::{Socket, Stream};

/// Bytes read from the upstream at once.
const READ_BUF: usize = 64 * 1024;

/// A FETCH response in progress.
#[derive(Default)]
struct Fetch {
    /// Items and UID seen so far.
    scan: FetchScan,
    /// The whole-message literal being spooled.
    spool: Option<Spool>,
    /// The whole message, once its literal ended.
    content: Option<SpooledContent>,
}

/// The server direction's state, kept across STARTTLS.
pub(super) struct ServerLeg {
    /// Frames the upstream's bytes.
    framer: Framer,
    /// The FETCH response in progress.
    fetch: Option<Fetch>,
    /// The LIST response in progress.
    list: Option<Parts>,
    /// A small literal of a LIST response.
    small: Option<Vec<u8>>,
}

impl ServerLeg {
    /// A fresh server direction capping lines at `max_line`.
    pub fn new(max_line: usize) -> ServerLeg {
        ServerLeg {
            framer: Framer::new(Side::Server, max_line),
            fetch: None,
            list: None,
            small: None,
        }
    }

    /// Relays until the upstream closes, the proxy's own last line is
    /// written (STARTTLS, BYE), or the daemon shuts down.
    pub async fn run<C: Socket>(
        &mut self,
        sh: &Shared,
        from: &mut ReadHalf<Stream>,
        to: &mut Writer<C>,
        inject: &mut mpsc::Receiver<Inject>,
        stop: &CancellationToken,
        shutdown: &CancellationToken,
    ) -> Stop {
        let stopped = self.relay(sh, from, to, inject, stop, shutdown).await;
        let _ = to.flush().await;
        if stopped != Stop::StartTls {
            stop.cancel();
        }
        stopped
    }

    async fn relay<C: Socket>(
        &mut self,
        sh: &Shared,
        from: &mut ReadHalf<Stream>,
        to: &mut Writer<C>,
        inject: &mut mpsc::Receiver<Inject>,
        stop: &CancellationToken,
        shutdown: &CancellationToken,
    ) -> Stop {
        let mut buf = vec![0u8; READ_BUF];
        loop {
            let n = {
                let at_boundary = self.framer.at_boundary();
                let idle = sh.settings.config.timeout_idle;
                let read = async {
                    if at_boundary {
                        Ok(from.read(&mut buf).await)
                    } else {
                        // Silence in the middle of a response is a stall.
                        tokio::time::timeout(idle, from.read(&mut buf)).await
                    }
                };
                tokio::select! {
                    r = read => r,
                    Some(line) = inject.recv(), if at_boundary => match self.inject(line, to).await {
                        Some(stopped) => return stopped,
                        None => continue,
                    },
                    _ = shutdown.cancelled(), if at_boundary => return bye(to).await,
                    _ = stop.cancelled() => return Stop::Closed,
                }
            };
            let n = match n {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Stop::Closed,
                Ok(Ok(n)) => n,
            };
            let mut rest = &buf[..n];
            while let Some(event) = self.framer.next(&mut rest) {
                if let Err(error) = self.on_event(event, sh, to).await {
                    tracing::info!(%error, "client write failed");
                    return Stop::Closed;
                }
                if self.framer.at_boundary()
                    && let Some(stopped) = self.at_boundary(to, inject, shutdown).await
                {
                    return stopped;
                }
            }
            if to.flush().await.is_err() {
                return Stop::Closed;
            }
        }
    }

    /// Between responses: the proxy's own lines may go out now.
    async fn at_boundary<C: Socket>(
        &mut self,
        to: &mut Writer<C>,
        inject: &mut mpsc::Receiver<Inject>,
        shutdown: &CancellationToken,
    ) -> Option<Stop> {
        while let Ok(line) = inject.try_recv() {
            if let Some(stopped) = self.inject(line, to).await {
                return Some(stopped);
            }
        }
        if shutdown.is_cancelled() {
            return Some(bye(to).await);
        }
        None
    }

    /// Writes one of the proxy's own lines.
    async fn inject<C: Socket>(&mut self, line: Inject, to: &mut Writer<C>) -> Option<Stop> {
        let (bytes, stopped) = match line {
            Inject::Line(bytes) => (bytes, None),
            Inject::StartTls(tag) => (reply::starttls_begin(&tag), Some(Stop::StartTls)),
            Inject::Bye(text, reason) => (text.to_vec(), Some(reason)),
        };
        let written = to.write_all(&bytes).await.and(to.flush().await);
        match (written, stopped) {
            (Err(_), _) => Some(Stop::Closed),
            (Ok(()), stopped) => stopped,
        }
    }

    async fn on_event<C: Socket>(
        &mut self,
        event: Event<'_>,
        sh: &Shared,
        to: &mut Writer<C>,
    ) -> std::io::Result<()> {
        match event {
            Event::Line(line) => return self.on_line(line, sh, to).await,
            Event::LineTooLong(bytes) => {
                tracing::debug!(len = bytes.len(), "long server line passed through");
                if let Some(list) = &mut self.list {
                    list.overflow();
                }
                to.write_all(&bytes).await?;
            }
            Event::LineRest(bytes) => to.write_all(bytes).await?,
            Event::LiteralStart(start) => {
                if let Some(fetch) = &mut self.fetch {
                    let item = fetch.scan.literal();
                    let whole = item.as_deref().is_some_and(response::whole_message_item);
                    if whole && fetch.spool.is_none() && fetch.content.is_none() {
                        fetch.spool = Some(sh.settings.archive.spool());
                    }
                } else if self.list.is_some() && start.literal.size <= SMALL_LITERAL {
                    self.small = Some(Vec::new());
                }
            }
            Event::LiteralData(data) => {
                self.literal_data(data);
                to.write_all(data).await?;
            }
            Event::LiteralEnd => {
                if let Some(fetch) = &mut self.fetch {
                    fetch.content = fetch
                        .content
                        .take()
                        .or(fetch.spool.take().map(Spool::finish));
                }
                if let Some(list) = &mut self.list {
                    list.literal(self.small.take());
                }
            }
        }
        Ok(())
    }

    fn literal_data(&mut self, data: &[u8]) {
        if let Some(fetch) = &mut self.fetch {
            if let Some(Err(error)) = fetch.spool.as_mut().map(|s| s.write(data)) {
                tracing::error!(%error, "spooling a FETCH failed: message NOT archived");
                fetch.spool = None;
            }
        } else if let Some(small) = &mut self.small {
            small.extend_from_slice(data);
        }
    }

    async fn on_line<C: Socket>(
        &mut self,
        line: Line,
        sh: &Shared,
        to: &mut Writer<C>,
    ) -> std::io::Result<()> {
        let mut replaced = None;
        if !line.continued {
            replaced = self.begin(&line, sh).await;
        }
        if let Some(fetch) = &mut self.fetch
            && !line.overlong
        {
            fetch.scan.text(line.text());
        }
        if let Some(list) = &mut self.list {
            if line.overlong {
                list.overflow()
            } else {
                list.text(line.text())
            }
        }
        if line.is_last() {
            if let Some(fetch) = self.fetch.take() {
                finish_fetch(fetch, sh).await;
            }
            if let Some(list) = self.list.take()
                && let Some((mailbox, uses)) = response::list_special_use(list.tokens())
            {
                Shared::lock(&sh.ctx).listed(mailbox, uses);
            }
        }
        let rewritten = match line.continued || line.overlong {
            true => replaced,
            false => replaced.or_else(|| capability::rewrite(&line.raw, sh.offer_starttls())),
        };
        to.write_all(rewritten.as_deref().unwrap_or(&line.raw))
            .await
    }

    /// The first fragment of a response; returns what the client gets
    /// instead of it, if not the line itself.
    async fn begin(&mut self, line: &Line, sh: &Shared) -> Option<Vec<u8>> {
        match &line.head {
            Head::Continuation => hand_off(sh, &line.head),
            Head::Tagged { tag, .. } => {
                hand_off(sh, &line.head);
                let settled = Shared::lock(&sh.ctx).tagged(&line.head, line.text());
                if !settle(settled, sh).await {
                    return Some(reply::not_archived(tag));
                }
            }
            Head::Untagged { name, .. } => match name.as_str() {
                "OK" | "NO" | "BAD" | "PREAUTH" | "BYE" => {
                    Shared::lock(&sh.ctx).untagged_status(line.text())
                }
                "FETCH" => self.fetch = Some(Fetch::default()),
                "LIST" => self.list = Some(Parts::new(sh.settings.max_line)),
                _ => {}
            },
            Head::Command { .. } => {}
        }
        None
    }
}

/// Tells the client direction how the server answered its synchronizing
/// literal, if one is waiting.
fn hand_off(sh: &Shared, head: &Head) {
    let mut handoff = Shared::lock(&sh.handoff);
    let Some(awaiting) = &handoff.awaiting else {
        return;
    };
    let answers = match head {
        Head::Continuation => true,
        Head::Tagged { tag, .. } => tag == awaiting,
        _ => false,
    };
    if answers {
        handoff.awaiting = None;
        handoff.answer = Some(head.clone());
        sh.answered.notify_one();
    }
}

/// Acts on what a tagged response settled; false when an uploaded message
/// could not be archived.
async fn settle(settled: Settled, sh: &Shared) -> bool {
    match settled {
        Settled::Nothing => {}
        Settled::LoggedIn(credentials) => {
            let user = Shared::lock(&sh.ctx).user.clone();
            tracing::info!(user = user.as_deref().unwrap_or("?"), "logged in");
            let config = &sh.settings.config;
            if config.complete_partial_fetches && credentials.replayable() {
                let job = Job {
                    upstream: sh.upstream.clone(),
                    credentials,
                    user,
                    archive: sh.settings.archive.clone(),
                    queue: sh.queue.clone(),
                    origin: Shared::lock(&sh.origin).clone(),
                    captured: sh.captured.clone(),
                };
                *Shared::lock(&sh.completer) = Some(Completer::start(job, &sh.tracker));
            }
        }
        Settled::Appended {
            mailbox,
            uidvalidity,
            uids,
            messages,
        } => {
            let user = Shared::lock(&sh.ctx).user.clone();
            let origin = Shared::lock(&sh.origin).clone();
            let mut archived = true;
            for (i, content) in messages.into_iter().enumerate() {
                let uid = uids.get(i).copied();
                if let (Some(uidvalidity), Some(uid)) = (uidvalidity, uid) {
                    sh.captured(Key {
                        mailbox: mailbox.clone(),
                        uidvalidity,
                        uid,
                    });
                }
                let place = Place {
                    user: user.clone(),
                    mailbox: Some(mailbox.clone()),
                    uidvalidity,
                    uid,
                };
                let archive = &sh.settings.archive;
                archived &= capture::archive_upload(archive, &origin, place, content).await;
            }
            return archived;
        }
        Settled::Skipped { mailbox } => {
            tracing::info!(mailbox, "append to a skipped folder not captured")
        }
    }
    true
}

/// The end of a FETCH response: archive the whole message it carried, or
/// ask for the message to be completed. A message the archive already holds
/// under the same user, mailbox, UIDVALIDITY and UID (which IMAP promises
/// never changes) is not archived again.
async fn finish_fetch(fetch: Fetch, sh: &Shared) {
    let (user, selected) = {
        let ctx = Shared::lock(&sh.ctx);
        (ctx.user.clone(), ctx.selected.clone())
    };
    let uid = fetch.scan.uid();
    let mailbox = selected.as_ref().map(|m| m.name.clone());
    let uidvalidity = selected.as_ref().and_then(|m| m.uidvalidity);
    let key = match (&mailbox, uidvalidity, uid) {
        (Some(mailbox), Some(uidvalidity), Some(uid)) => Some(Key {
            mailbox: mailbox.clone(),
            uidvalidity,
            uid,
        }),
        _ => None,
    };
    let known = key.as_ref().is_some_and(|k| known(sh, user.as_deref(), k));
    match (fetch.content, key) {
        (Some(_), _) if known => tracing::debug!(uid, "fetched message already archived"),
        (Some(content), key) => {
            if let Some(key) = key {
                sh.captured(key);
            }
            let origin = Shared::lock(&sh.origin).clone();
            let place = Place {
                user,
                mailbox,
                uidvalidity,
                uid,
            };
            sh.queue
                .submit(&origin, place, Direction::Fetch, content)
                .await;
        }
        (None, Some(key)) if !known => {
            if let Some(completer) = Shared::lock(&sh.completer).as_ref() {
                completer.want(key);
            }
        }
        (None, _) => {}
    }
}

/// True when this session captured the message or the archive holds it.
fn known(sh: &Shared, user: Option<&str>, key: &Key) -> bool {
    if Shared::lock(&sh.captured).contains(key) {
        return true;
    }
    let user = user.unwrap_or_default();
    let found = sh
        .settings
        .archive
        .imap_message(user, &key.mailbox, key.uidvalidity, key.uid);
    matches!(found, Ok(Some(_)))
}

/// Says goodbye to the client on shutdown.
async fn bye<C: Socket>(to: &mut Writer<C>) -> Stop {
    let _ = to.write_all(reply::BYE_SHUTDOWN).await;
    let _ = to.flush().await;
    Stop::Shutdown
}
