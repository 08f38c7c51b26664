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
