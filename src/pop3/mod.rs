//! POP3: the protocol pieces without I/O, and the proxy built on them.
//!
//! Without I/O (bytes in, events out, tested with byte splits):
//! [`command`] reads the client's commands (and which answers are
//! multi-line), [`response`] the server's status lines and `UIDL`
//! listings, [`multiline`] frames a multi-line body up to its terminating
//! `.` (the bytes relayed unchanged, the content dot-unstuffed for the
//! archive, the terminator held back), [`capability`] filters the `CAPA`
//! list the client sees, [`identity`] reads the user from a login, and
//! `reply` holds every line the proxy says on its own.
//!
//! With I/O: [`upstream`] reaches a POP3 server as its client (TCP,
//! implicit TLS or STLS, the greeting) over a [`crate::transport::Stream`];
//! [`proxy`] is the `[[pop3_proxy]]` listener and its sessions.
//!
//! ```text
//!  client ─> session: command ──────────────> upstream
//!    ^          │ one command at a time          │
//!    │          v                                v
//!    └──── status line, multiline::Body <── server's answer
//!               │ content (dot-unstuffed)
//!               v
//!           capture ─> archive (commit) ─> then the terminating `.`
//! ```

pub mod capability;
pub mod command;
pub mod identity;
pub mod multiline;
pub mod proxy;
mod reply;
pub mod response;
pub mod upstream;

pub use proxy::{Pop3Proxy, ProxyError};
