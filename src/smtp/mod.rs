//! SMTP: the protocol pieces without I/O, and the sessions built on them.
//!
//! Without I/O (bytes in, events out, tested with byte splits):
//! [`line`](mod@line) frames command lines, [`command`] and [`envelope`] parse them,
//! [`data`] decodes DATA (end of data, dot-unstuffing, smuggling),
//! [`reply`] builds and parses replies, [`ehlo`] decides the capabilities a
//! client sees, [`auth`] runs SASL PLAIN/LOGIN, [`journal_report`] unwraps
//! Exchange journal reports.
//!
//! With I/O: [`listener`] binds the journal and proxy ports on
//! [`crate::server`]'s accept loop; [`connection`] takes an accepted
//! connection through implicit TLS into a [`session`], the one SMTP server
//! session (client leg, TLS, limits, shutdown), generic over its stream; a
//! [`backend::Backend`] answers it: [`journal`] archives locally, the
//! proxy relays through [`upstream`]. Both legs run over
//! [`crate::transport::Stream`], which STARTTLS upgrades in place.
//!
//! ```text
//!  client ─> transport ─> line ─> command ─> session ─> backend ─┬─> archive (journal)
//!                                 DATA ─> data ─> spool ──────┘   upstream (proxy)
//! ```

pub mod auth;
pub mod backend;
pub mod command;
pub mod connection;
pub mod data;
pub mod ehlo;
pub mod envelope;
pub mod journal;
pub mod journal_report;
pub mod line;
pub mod listener;
pub mod proxy;
pub mod reply;
pub mod session;
pub mod upstream;
