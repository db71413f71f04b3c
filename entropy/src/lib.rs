//! # ncodec-entropy
//!
//! Entropy coding for ncodec: frozen integer probability tables and a fast rANS coder
//! built on [`constriction`]. This crate has no Burn dependency; models talk to it only
//! through [`CdfTables`].
//!
//! ## Tour
//! 1. A model exports its probability models once as [`CdfTables`]: per-channel tables
//!    for a learned factorized prior ([`CdfTable::from_pmf`]), a Gaussian scale table
//!    ([`gaussian_tables`]), or categorical tables for VQ indices
//!    ([`CdfTable::from_frequencies`]). They are stored as bytes with the model
//!    ([`CdfTables::to_bytes`]).
//! 2. [`encode`] codes a tensor of `i32` symbols, each with the index of its table, into
//!    bytes; values outside a table's support go through an escape entry, so every input
//!    round-trips exactly.
//! 3. [`decode`] reverses it, in parallel over independent streams (rayon), and checks
//!    that the data ends exactly where its symbols do.
//!
//! ```
//! use ncodec_entropy::{decode, default_scales, encode, gaussian_tables, DEFAULT_TAIL_MASS};
//! let tables = gaussian_tables(&default_scales(), DEFAULT_TAIL_MASS)?;
//! let symbols: Vec<i32> = (0..1000).map(|i| (i % 7) - 3).collect();
//! let indexes: Vec<u16> = (0..1000).map(|i| (i % 64) as u16).collect();
//! let bytes = encode(&tables, &symbols, &indexes, 4)?;
//! assert_eq!(decode(&tables, &bytes, &indexes)?, symbols);
//! # Ok::<(), ncodec_entropy::Error>(())
//! ```
//!
//! For context-adaptive coding, where each decision's probability depends on what was
//! decoded before, [`BitWriter`] and [`BitReader`] code binary decisions with the
//! probabilities of [`AdaptiveBit`] models on the same coder.
//!
//! Everything that decides a probability is an integer here, so a stream encoded on one
//! machine decodes identically on any other.

mod binary;
mod coder;
mod error;
mod gaussian;
mod laplace;
mod table;

pub use binary::{
    AdaptiveBit, BitReader, BitWriter, MIN_PROBABILITY, STREAM_MARK, gamma_low_bits,
    least_decision_bits,
};
pub use coder::{MAX_STREAMS, SequentialDecoder, decode, encode, ensure_room, ensure_stream_room};
pub use error::{Error, Result};
pub use gaussian::{
    DEFAULT_TAIL_MASS, SCALES_LEVELS, SCALES_MAX, SCALES_MIN, default_scales, gaussian_tables,
    scale_index,
};
pub use laplace::{laplace_tables, log_spaced};
pub use table::{CdfTable, CdfTables, MAX_TABLE_LEN, MAX_TABLES, PRECISION, TOTAL};
