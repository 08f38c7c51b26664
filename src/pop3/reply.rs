//! Every line the POP3 proxy says on its own (the rest is the server's).

/// A client over the connection limit.
pub const BUSY: &[u8] = b"-ERR [SYS/TEMP] too many connections, try again later\r\n";
/// An intercepted connection whose destination is not allowed (or is a
/// loop); `SYS/TEMP`, so a client retries once the admin has fixed
/// `intercept_destinations`, as SMTP's `421` makes mail wait.
pub const REFUSED: &[u8] = b"-ERR [SYS/TEMP] destination not allowed through this gateway\r\n";
/// The upstream could not be reached.
pub const UPSTREAM_DOWN: &[u8] = b"-ERR [SYS/TEMP] mail server unavailable, try again later\r\n";
/// The answer to `STLS` before the handshake.
pub const STLS_GO: &[u8] = b"+OK begin TLS negotiation\r\n";
/// `STLS` when mailseal offers none (no certificate, or already TLS).
pub const STLS_NO: &[u8] = b"-ERR STLS not available\r\n";
/// `STLS` on an intercepted connection whose destination has no
/// certificate (`intercept_unknown_tls = "refuse"`): nothing secret has
/// passed, and a client that goes on in plain text is archived as usual.
pub const STLS_NO_DESTINATION: &[u8] =
    b"-ERR [SYS/TEMP] TLS not available for this destination\r\n";
/// `STLS` with more commands already sent after it (command injection).
pub const STLS_PIPELINED: &[u8] = b"-ERR nothing may follow STLS before the handshake\r\n";
/// A command line over the length cap.
pub const TOO_LONG: &[u8] = b"-ERR line too long\r\n";
/// The client was silent too long (RFC 1939's autologout).
pub const TIMEOUT: &[u8] = b"-ERR autologout: idle too long\r\n";
/// The daemon is stopping; the session ends before UPDATE, so nothing
/// the client marked deleted is deleted.
pub const SHUTDOWN: &[u8] = b"-ERR [SYS/TEMP] server shutting down, try again later\r\n";
