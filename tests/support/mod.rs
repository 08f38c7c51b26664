//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod certs;
pub mod corpus;
pub mod daemon;
pub mod dovecot;
pub mod mount;
pub mod postfix_tools;
pub mod process;
pub mod sink;
pub mod smtp;
