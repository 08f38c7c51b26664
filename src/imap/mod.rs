//! IMAP: the protocol pieces without I/O, and the proxy built on them.
//!
//! Without I/O (bytes in, events out, tested with byte splits):
//! [`head`] reads who sent a line and what it starts, [`framer`] splits each
//! direction into lines and literals, [`token`] lexes their text,
//! [`command`] reads the client's commands and [`response`] the server's
//! (response codes, LIST special-use, FETCH items), [`special_use`] names
//! the folder attributes that proxy and importer both skip folders by,
//! [`capability`] adjusts the capability lists the client sees, [`context`]
//! follows the conversation (login, selected mailbox, commands waiting for
//! their tagged response), [`credentials`] keeps the login for replay, and
//! `reply` holds every line the proxy says on its own.
//!
//! With I/O: [`upstream`] reaches an IMAP server as its client (TCP,
//! implicit TLS or STARTTLS, the greeting) over a
//! [`crate::transport::Stream`]; [`proxy`] is the `[[imap_proxy]]` listener
//! and its sessions: a client leg and a server leg relay at once, whole
//! messages go to the archive through `capture`, partial fetches are
//! completed over the proxy's own upstream connection. The IMAP importer is
//! not here but in [`crate::import::imap`]; it shares only [`upstream`]
//! and [`special_use`].
//!
//! ```text
//!  client ─> client leg: framer ─> token ─> command ──┐
//!    ^          │ every byte relayed as framed         v
//!    │          v                                    context ─> capture ─> archive
//!    │       upstream                                  ^           ^
//!    │          │                                      │           │
//!    └── server leg: framer ─> token ─> response ──────┘      completer
//!          (capability rewrites, the proxy's own lines)     (partial FETCH)
//! ```

pub mod capability;
pub mod command;
pub mod context;
pub mod credentials;
pub mod framer;
pub mod head;
pub mod proxy;
mod reply;
pub mod response;
pub mod special_use;
pub mod token;
pub mod upstream;

pub use proxy::{ImapProxy, ProxyError};
