//! Search results against a brute-force scan (the oracle in
//! `support::search_oracle`): CPython's `test_email` corpus through the
//! library, and a generated multi-charset corpus imported and searched
//! through the `mailseal` binary. Same ids for every field and operator,
//! in the same order for date sorts.

mod cpython;
mod generated;
