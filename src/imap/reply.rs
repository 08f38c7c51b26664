//! Every line the proxy says on its own, in one place. Texts stay generic;
//! the reasons go to the log.

/// The upstream could not be reached (instead of a greeting).
pub const BYE_UPSTREAM: &[u8] = b"* BYE upstream server unavailable\r\n";

/// The listener's connection limit is reached.
pub const BYE_LIMIT: &[u8] = b"* BYE too many connections, try again later\r\n";

/// An intercepted connection whose destination may not be reached.
pub const BYE_REFUSED: &[u8] = b"* BYE destination not allowed through this gateway\r\n";

/// The client was silent past the autologout timeout.
pub const BYE_AUTOLOGOUT: &[u8] = b"* BYE Autologout; idle for too long\r\n";

/// A literal over `max_literal_size` that cannot be skipped.
pub const BYE_TOOBIG: &[u8] = b"* BYE literal too large\r\n";

/// The daemon is stopping.
pub const BYE_SHUTDOWN: &[u8] = b"* BYE mailseal is shutting down\r\n";

/// COMPRESS refused: the proxy must read the stream to capture messages.
pub fn compress_refused(tag: &str) -> Vec<u8> {
    format!("{tag} NO [CANNOT] COMPRESS is not available through this proxy\r\n").into_bytes()
}

/// STARTTLS accepted: the handshake follows this line.
pub fn starttls_begin(tag: &str) -> Vec<u8> {
    format!("{tag} OK Begin TLS negotiation now\r\n").into_bytes()
}

/// STARTTLS not possible (no certificate, already TLS, or logged in).
pub fn starttls_unavailable(tag: &str) -> Vec<u8> {
    format!("{tag} BAD STARTTLS is not available now\r\n").into_bytes()
}

/// A literal over `max_literal_size`: `NO` when nothing of it was relayed
/// (the session goes on), `BAD` when the session must end.
pub fn literal_too_big(tag: &str, status: &str) -> Vec<u8> {
    format!("{tag} {status} [TOOBIG] literal too large\r\n").into_bytes()
}

/// An APPEND the server stored but the archive could not take: the client
/// must not believe the upload is complete, since the archive's promise is
/// that an acknowledged message is archived. Retrying stores it again.
pub fn not_archived(tag: &str) -> Vec<u8> {
    format!("{tag} NO [UNAVAILABLE] stored by the server but not archived; try again later\r\n")
        .into_bytes()
}
