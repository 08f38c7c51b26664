//! SMTP: the protocol pieces without I/O, and the sessions built on them.
pub mod auth;
pub mod backend;
pub mod command;
pub mod data;
pub mod ehlo;
pub mod envelope;
pub mod journal;
pub mod journal_report;
pub mod line;
pub mod reply;
pub mod session;
pub mod stream;
pub mod upstream;
