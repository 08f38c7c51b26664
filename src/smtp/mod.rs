//! SMTP: the protocol pieces without I/O, and the sessions built on them.
pub mod command;
pub mod data;
pub mod ehlo;
pub mod envelope;
pub mod line;
pub mod reply;
