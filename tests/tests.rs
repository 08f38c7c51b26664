//! mailseal's integration tests: one binary, one module per area.
//!
//! Tests that need real peers (Postfix, Dovecot, swaks) find them on PATH;
//! `.ci/install-deps` installs them.

mod support;

// The archive through the library: tamper detection, crash safety, dedup.
mod archive;
// The command line: exit codes, import/export round trips, bad input.
mod cli;
// The journal receiver against swaks, smtplib and a private Postfix.
mod journal;
