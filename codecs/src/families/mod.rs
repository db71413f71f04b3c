//! The codec families, one folder each: its transform glue, its entropy model and its
//! file format (section layout), behind [`crate::codec::Codec`] and
//! [`crate::codec::Family`]. Nothing outside this folder branches on which family a
//! model is; `crate::registry` lists the families.
//!
//! - [`hyperprior`]: Ballé's scale and Minnen's mean-scale hyperprior, and the factorized
//!   prior (`ZHAT`, `YHAT`).
//! - [`walloc`]: WaLLoC, a wavelet packet transform around a shallow autoencoder, for
//!   images (`LATS`/`LATL`, `RESA`) and audio (`CHNK`).
//! - [`wavelet`]: the classic dyadic CDF 9/7 codec with ncodec's context coder, and its
//!   learned variants with a post-filter (`DWTA`).

pub mod hyperprior;
pub mod walloc;
pub mod wavelet;
