//! mailseal's integration tests: one binary, one module per area.
//!
//! Tests that need real peers (Postfix, Dovecot, swaks) find them on PATH;
//! `.ci/install-deps` installs them.

// Test code stops at the first surprise: unwrapping is how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

// The archive through the library: tamper detection, crash safety, dedup.
mod archive;
// The command line: exit codes, import/export round trips, bad input.
mod cli;
// The CLI through the running daemon's control socket; copies; bad callers.
mod control;
// The journal receiver against swaks, smtplib and a private Postfix.
mod journal;
// The archive on a small filesystem that fills up, then gets space back.
mod disk_full;
// The SMTP proxy against aiosmtpd, Postfix, swaks, smtplib and smtp-source.
mod smtp_proxy;
// IMAP import against a private Dovecot: byte-exact, resumable, scheduled.
mod imap_import;
// Inputs the fuzz targets (fuzz/) found, kept as regular tests.
mod fuzz_regressions;
// The IMAP proxy against a private Dovecot: imaplib, mbsync, TLS, bad input.
mod imap;
// The POP3 proxy against Dovecot POP3: poplib, fetchmail, TLS, failures.
mod pop3;
// kill -9 of the daemon and its upstream under load, through the network.
mod soak;
// Hostile clients against `mailseal run`: slow, idle, floods, huge input, old TLS.
mod hostile;
// /metrics and /healthz of the real daemon under journal and proxy traffic.
mod metrics;
// Search through the daemon and the CLI: journal Bcc, kill -9, deleted index.
mod search;
// Text extraction for search: charsets, documents, hostile input, corpora.
mod search_extract;
// Search against a brute-force scan: CPython's corpus and a generated multi-charset one.
mod search_brute;
// The search index on a full disk or unwritable: ingest goes on, lag degrades health.
mod search_stall;
// Inline interception in network namespaces: nftables redirect, allow-list, loops.
mod intercept;
// SIGHUP: listeners replaced while sessions in progress finish.
mod reload;
// The module graph of src/: no two modules use each other.
mod layers;
// Format 2: tree heads, proofs, key history, the tamper matrix (issue 16).
mod proofs;
// Time stamps from a local TSA and seals mailed to a witness (issue 16).
mod witness;
// The web interface: security over HTTP, and real Chromium driving the pages.
mod web;
// Replication to a real Ceph RGW (S3 Object Lock): restore, lock, tamper (issue 18).
mod replica;
// Encryption at rest: `E` frames, sealed fields, the three verifiers (issue 15).
mod encryption;
// Retention decided at capture, the rules chained, shortening refused (issue 15).
mod retention;
// The Python tools' own unit tests (tests/tools/test_*.py) under unittest.
mod python_units;
// Holds, purge, tombstones, four-eyes early deletion, kill -9 mid-purge (issue 15).
mod purge;
// Audit records sealed under a key per year and purged after audit_years (issue 15).
mod audit_retention;
