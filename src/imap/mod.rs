//! IMAP: the literal-aware framer and the proxy.
//!
//! `head` and `framer` turn each direction's bytes into lines and literals
//! without I/O; `token`, `command`, `response` and `capability` read and
//! adjust what the proxy needs to know; the proxy relays every byte and
//! captures whole messages.

pub mod capability;
pub mod capture;
mod client_leg;
pub mod command;
pub mod completer;
pub mod context;
pub mod credentials;
pub mod framer;
pub mod head;
pub mod proxy;
mod reply;
pub mod response;
mod server_leg;
pub mod session;
pub mod stream;
pub mod token;
pub mod upstream;

pub use proxy::{ImapProxy, ProxyError};
