//! The entropy crate's error type.

use thiserror::Error;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while building tables or coding symbols.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The compressed data ends before the data it announces.
    #[error("truncated entropy-coded data: {0}")]
    Truncated(&'static str),
    /// The compressed data is complete but does not decode consistently.
    #[error("corrupt entropy-coded data: {0}")]
    Corrupt(&'static str),
    /// A probability table violates the table contract (see [`crate::CdfTable`]).
    #[error("invalid CDF table: {0}")]
    InvalidTable(String),
    /// The caller passed inconsistent arguments (lengths, table indices).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A size read from the data exceeds a fixed limit.
    #[error("limit exceeded: {what} is {value}, the limit is {limit}")]
    LimitExceeded {
        /// What was too large.
        what: &'static str,
        /// The size that was asked for.
        value: u64,
        /// The largest size accepted.
        limit: u64,
    },
}
