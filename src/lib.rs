//! mailseal: a mail journaling appliance.
//!
//! Every way in (SMTP proxy, journal receiver, IMAP proxy, importers) hands
//! message bytes and their context to one [`archive::Archive`]. The archive
//! owns the only writer of the append-only segment files (the source of
//! truth), chains every record by SHA-256, seals the chain head with the
//! appliance's Ed25519 key, and keeps rebuildable indexes in sled.
//!
//! Data flow:
//!
//! ```text
//!  smtp::proxy ─┐
//!  smtp::journal┼─> archive::Spool ─> Archive::append ─> writer thread ─> segment (fsync) ─> index
//!  imap::proxy ─┤                                            │
//!  import::*  ──┘                                            └─> seal (interval, shutdown)
//!  verify / export / list / show  <── archive::segment reader + index
//!  cli ══ control socket ══> control (in the daemon) ──> Archive (reads, appends, reindex)
//! ```
//!
//! Every connection, listener or upstream, SMTP or IMAP, plain or TLS, is
//! one [`transport::Stream`].

pub mod archive;
pub mod cli;
pub mod config;
pub mod control;
pub mod export;
pub mod health;
pub mod http;
pub mod imap;
pub mod import;
pub mod metrics;
pub mod notify;
pub mod server;
pub mod shutdown;
pub mod smtp;
pub mod tls;
pub mod transport;
pub mod web;
