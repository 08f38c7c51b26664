//! Whole-file configuration tests.
