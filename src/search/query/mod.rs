//! The search query language: parsed without an index ([`parse`]), then
//! compiled against the schema ([`compile`]). The language is documented
//! for users in `docs/search.md`.
//!
//! ```text
//!  "from:alice date:2024 rechnung*"
//!      │ lexer (tokens with byte positions)
//!      │ parser (grammar, field values checked: dates, sizes, keywords)
//!      ▼
//!  ast::Node ──compile──> tantivy query over schema::Fields
//! ```

pub mod ast;
pub mod compile;
pub mod lexer;
pub mod parser;
pub mod value;

pub use ast::{Node, ParseError};
pub use parser::parse;

#[cfg(test)]
mod tests;
