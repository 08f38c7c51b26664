//! mailseal: a mail journaling appliance.
//!
//! Every way in (SMTP proxy, journal receiver, IMAP and POP3 proxies,
//! importers) hands message bytes and their context to one
//! [`archive::Archive`]. The archive owns the only writer of the
//! append-only segment files (the source of truth), chains every record by
//! SHA-256, seals the chain head with the appliance's Ed25519 key, and
//! keeps rebuildable indexes in sled.
//!
//! Data flow:
//!
//! ```text
//!  smtp::proxy ─┐
//!  smtp::journal┼─> archive::Spool ─> Archive::append ─> writer thread ─> segment (fsync) ─> index
//!  imap::proxy ─┤                                            │
//!  pop3::proxy ─┤                                            │
//!  import::*  ──┘                                            └─> seal (interval, shutdown)
//!                                                                  │ signed tree head (archive::merkle)
//!                                          timestamp (RFC 3161) <──┤──> seal_mail (witnesses)
//!  verify / export / list / show / prove  <── archive::segment reader + index + tree
//!  cli ══ control socket ══> control (in the daemon) ──> Archive (reads, appends, reindex, proofs)
//! ```
//!
//! Every connection, listener or upstream, SMTP or IMAP, plain or TLS, is
//! one [`transport::Stream`]. A proxy with `intercept` set takes
//! connections nftables redirected to it and relays each to its original
//! destination through [`intercept`] (allow-list and loop check first).
//!
//! The modules form layers (`docs/architecture.md`; `tests/layers.rs` fails
//! on any two modules that use each other): `health`, `keystore`, `notify`,
//! `retention`, `shutdown` < `metrics` < `archive`, `http`, `server` < `export`, `proof`,
//! `search`, `tls` < `config`, `transport` < `intercept`, `replica`,
//! `seal_mail`, `timestamp`, `web` < `smtp`, `imap`, `pop3` < `import` < `control` <
//! `cli`.

pub mod archive;
pub mod cli;
pub mod config;
pub mod control;
pub mod export;
pub mod health;
pub mod http;
pub mod imap;
pub mod import;
pub mod intercept;
pub mod keystore;
pub mod metrics;
pub mod notify;
pub mod pop3;
pub mod proof;
pub mod replica;
pub mod retention;
pub mod seal_mail;
pub mod search;
pub mod server;
pub mod shutdown;
pub mod smtp;
pub mod timestamp;
pub mod tls;
pub mod transport;
pub mod web;
