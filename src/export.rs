//! Byte-exact export as `.eml` files or mbox, with a manifest.
