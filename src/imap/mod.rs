//! IMAP: the literal-aware framer, the proxy and the importer.
//!
//! `head` and `framer` turn each direction's bytes into lines and literals
//! without I/O; the proxy relays every byte and captures whole messages.

pub mod framer;
pub mod head;
