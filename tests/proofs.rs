//! Format 2 (issue 16): signed tree heads, proofs, key history and the
//! verifiers that check them. Every case asks all three verifiers:
//! `mailseal verify`, the standalone `mailseal-verify` and the Python one.

// Rewrites segments and re-signs them (also used by `witness`).
pub mod forge;
// A version-1 archive upgraded in place; seal-key rotation.
mod upgrade;
// Flip, delete, insert, reorder, truncate, re-sign, roll back, fork.
mod tamper;
// Export with proofs, single proofs, bundles, consistency with kept seals.
mod export;
// Key rotation and proofs through the running daemon's control socket.
mod daemon;
// What stored time stamps alone show of a fork and a rollback.
mod stamped;
