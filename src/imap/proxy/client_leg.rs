//! The client-to-server direction of a session: relays the client's bytes
//! to the upstream as the framer delimits them, answers STARTTLS and
//! COMPRESS itself, notes commands in the context, and spools APPEND
//! message literals as they stream past.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, BufWriter, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::shared::{Inject, SMALL_LITERAL, Shared, Stop};
use crate::archive::Spool;
use crate::imap::command::{self, Command};
use crate::imap::framer::{Event, Framer, Line, Literal, LiteralStart, Side};
use crate::imap::reply;
use crate::imap::token::Parts;
use crate::transport::{Socket, Stream};

/// Bytes read from the client at once.
const READ_BUF: usize = 64 * 1024;

/// An APPEND message literal being spooled.
struct AppendCapture {
    /// The APPEND's tag, to match the server's verdict.
    tag: String,
    /// Target mailbox.
    mailbox: String,
    /// The spool; `None` once writing to it failed (the relay goes on).
    spool: Option<Spool>,
}

/// The client direction's state, kept across STARTTLS.
pub(super) struct ClientLeg {
    /// Frames the client's bytes.
    framer: Framer,
    /// The current command's tokens, for the parser.
    parts: Parts,
    /// An APPEND message being captured.
    append: Option<AppendCapture>,
    /// A small literal being collected for the parser.
    small: Option<Vec<u8>>,
}

/// The upstream's write half, buffered (flushed before every wait).
type Upstream = BufWriter<WriteHalf<Stream>>;

impl ClientLeg {
    /// A fresh client direction capping lines at `max_line`.
    pub fn new(max_line: usize) -> ClientLeg {
        ClientLeg {
            framer: Framer::new(Side::Client, max_line),
            parts: Parts::new(max_line),
            append: None,
            small: None,
        }
    }

    /// Relays until the client closes, asks for STARTTLS, stays silent too
    /// long, or `stop` is cancelled by the other direction.
    pub async fn run<C: Socket>(
        &mut self,
        sh: &Shared,
        from: &mut ReadHalf<Stream<C>>,
        to: &mut Upstream,
        inject: &mpsc::Sender<Inject>,
        stop: &CancellationToken,
    ) -> Stop {
        let stopped = self.relay(sh, from, to, inject, stop).await;
        // STARTTLS, timeouts and oversized literals end the other direction
        // through an inject, after it has written the proxy's last line.
        if !matches!(stopped, Stop::StartTls | Stop::Timeout | Stop::TooBig) {
            stop.cancel();
        }
        stopped
    }

    async fn relay<C: Socket>(
        &mut self,
        sh: &Shared,
        from: &mut ReadHalf<Stream<C>>,
        to: &mut Upstream,
        inject: &mpsc::Sender<Inject>,
        stop: &CancellationToken,
    ) -> Stop {
        let mut buf = vec![0u8; READ_BUF];
        let (mut start, mut end) = (0, 0);
        loop {
            let mut rest = &buf[start..end];
            while let Some(event) = self.framer.next(&mut rest) {
                match self.on_event(event, sh, to, inject).await {
                    Ok(None) => {}
                    Ok(Some(stopped)) => return stopped,
                    Err(error) => return failed("upstream write", &error),
                }
            }
            start = end - rest.len();
            if let Err(error) = to.flush().await {
                return failed("upstream write", &error);
            }
            let idle = sh.settings.config.timeout_idle;
            if self.framer.awaiting_answer().is_some() {
                tokio::select! {
                    _ = sh.answered.notified() => self.take_answer(sh),
                    _ = stop.cancelled() => return Stop::Closed,
                    _ = tokio::time::sleep(idle) => {
                        tracing::warn!("upstream never answered a synchronizing literal");
                        return Stop::Closed;
                    }
                }
                continue;
            }
            let read = async {
                if Shared::lock(&sh.ctx).idling() {
                    // IDLE lasts as long as the client wants.
                    Ok(from.read(&mut buf).await)
                } else {
                    tokio::time::timeout(idle, from.read(&mut buf)).await
                }
            };
            let n = tokio::select! {
                r = read => r,
                _ = stop.cancelled() => return Stop::Closed,
            };
            match n {
                Ok(Ok(0)) => return self.closed(),
                Ok(Ok(n)) => (start, end) = (0, n),
                Ok(Err(error)) => return failed("client read", &error),
                Err(_) => {
                    tracing::info!(secs = idle.as_secs(), "client idle too long; autologout");
                    let _ = inject
                        .send(Inject::Bye(reply::BYE_AUTOLOGOUT, Stop::Timeout))
                        .await;
                    return Stop::Timeout;
                }
            }
        }
    }

    fn take_answer(&mut self, sh: &Shared) {
        let answer = Shared::lock(&sh.handoff).answer.take();
        if let Some(head) = answer {
            let verdict = self.framer.server_said(&head);
            tracing::debug!(?verdict, "synchronizing literal answered");
        }
    }

    fn closed(&mut self) -> Stop {
        if self.framer.in_literal() {
            tracing::info!("client closed in the middle of a literal");
        }
        Stop::Closed
    }

    async fn on_event(
        &mut self,
        event: Event<'_>,
        sh: &Shared,
        to: &mut Upstream,
        inject: &mpsc::Sender<Inject>,
    ) -> std::io::Result<Option<Stop>> {
        match event {
            Event::Line(line) => return self.on_line(line, sh, to, inject).await,
            Event::LineTooLong(bytes) => {
                tracing::warn!(
                    len = bytes.len(),
                    "client line too long; passed through unread"
                );
                self.parts.overflow();
                to.write_all(&bytes).await?;
            }
            Event::LineRest(bytes) => to.write_all(bytes).await?,
            Event::LiteralStart(start) => self.literal_start(&start, sh),
            Event::LiteralData(data) => {
                self.literal_data(data);
                to.write_all(data).await?;
            }
            Event::LiteralEnd => self.literal_end(sh),
        }
        Ok(None)
    }

    async fn on_line(
        &mut self,
        line: Line,
        sh: &Shared,
        to: &mut Upstream,
        inject: &mpsc::Sender<Inject>,
    ) -> std::io::Result<Option<Stop>> {
        let tag = line.head.tag().unwrap_or_default().to_owned();
        if !line.continued {
            self.parts.clear();
            let special = !line.overlong && {
                let mut ctx = Shared::lock(&sh.ctx);
                ctx.sasl_response(line.text()) || ctx.idle_done(line.text())
            };
            if special {
                to.write_all(&line.raw).await?;
                return Ok(None);
            }
        }
        if line.overlong {
            self.parts.overflow();
        } else {
            self.parts.text(line.text());
        }
        if line.is_last() {
            let command = match self.parts.full() {
                true => Command::Other,
                false => Command::parse(self.parts.tokens()),
            };
            tracing::debug!(command = command.kind(), "command");
            match command {
                Command::StartTls if !line.continued => {
                    return Ok(self.starttls(sh, tag, inject).await);
                }
                Command::Compress if !line.continued => {
                    let _ = inject
                        .send(Inject::Line(reply::compress_refused(&tag)))
                        .await;
                    return Ok(None);
                }
                command => Shared::lock(&sh.ctx).command(&tag, &command),
            }
        }
        if let Some(literal) = line.literal
            && literal.size > sh.settings.config.max_literal_size
        {
            return Ok(self.too_big(literal, &tag, line.continued, inject).await);
        }
        if line.literal.is_some_and(|l| l.sync) {
            // Registered before the line leaves, so the answer cannot be missed.
            Shared::lock(&sh.handoff).awaiting = Some(tag);
        }
        to.write_all(&line.raw).await?;
        Ok(None)
    }

    async fn starttls(
        &mut self,
        sh: &Shared,
        tag: String,
        inject: &mpsc::Sender<Inject>,
    ) -> Option<Stop> {
        let logged_in = Shared::lock(&sh.ctx).user.is_some();
        if sh.offer_starttls() && !logged_in {
            let _ = inject.send(Inject::StartTls(tag)).await;
            return Some(Stop::StartTls);
        }
        let _ = inject
            .send(Inject::Line(reply::starttls_unavailable(&tag)))
            .await;
        None
    }

    /// Refuses a literal over `max_literal_size` without relaying the line
    /// that announced it. A synchronizing literal opening its command is
    /// refused in step: nothing of the command reached the upstream and the
    /// client waits for an answer, so `NO` ends the command and the session
    /// goes on. Otherwise (`{n+}` data is already on its way, or the upstream
    /// holds the command's first part) the session ends with `BAD` and BYE.
    async fn too_big(
        &mut self,
        literal: Literal,
        tag: &str,
        continued: bool,
        inject: &mpsc::Sender<Inject>,
    ) -> Option<Stop> {
        tracing::warn!(
            size = literal.size,
            sync = literal.sync,
            continued,
            "client literal over max_literal_size; refused"
        );
        if literal.sync && !continued {
            self.framer.refuse_literal();
            self.parts.clear();
            let refusal = reply::literal_too_big(tag, "NO");
            let _ = inject.send(Inject::Line(refusal)).await;
            return None;
        }
        let refusal = reply::literal_too_big(tag, "BAD");
        let _ = inject.send(Inject::Line(refusal)).await;
        let _ = inject
            .send(Inject::Bye(reply::BYE_TOOBIG, Stop::TooBig))
            .await;
        Some(Stop::TooBig)
    }

    fn literal_start(&mut self, start: &LiteralStart, sh: &Shared) {
        let mailbox = match self.parts.full() {
            true => None,
            false => command::append_mailbox(self.parts.tokens()),
        };
        if let Some(mailbox) = mailbox {
            self.append = Some(AppendCapture {
                tag: start.head.tag().unwrap_or_default().to_owned(),
                mailbox,
                spool: Some(sh.settings.archive.spool()),
            });
        } else if start.literal.size <= SMALL_LITERAL {
            self.small = Some(Vec::new());
        }
    }

    fn literal_data(&mut self, data: &[u8]) {
        if let Some(capture) = &mut self.append {
            if let Some(Err(error)) = capture.spool.as_mut().map(|s| s.write(data)) {
                tracing::error!(%error, "spooling an APPEND failed: message NOT archived");
                capture.spool = None;
            }
        } else if let Some(small) = &mut self.small {
            small.extend_from_slice(data);
        }
    }

    fn literal_end(&mut self, sh: &Shared) {
        if let Some(capture) = self.append.take() {
            if let Some(spool) = capture.spool {
                Shared::lock(&sh.ctx).append_message(
                    &capture.tag,
                    &capture.mailbox,
                    spool.finish(),
                );
            }
            self.parts.literal(None);
        } else {
            self.parts.literal(self.small.take());
        }
    }
}

fn failed(what: &str, error: &std::io::Error) -> Stop {
    tracing::info!(%error, "{what} failed");
    Stop::Closed
}
