//! The context coders the families share: every probability is computed from integers
//! already decoded, so files decode identically on every machine.
//!
//! - [`adaptive`]: [`adaptive::ContextCoder`], binary decisions with adaptive models, for
//!   groups of wavelet planes (the wavelet codec's `DWTA`, WaLLoC's residual `RESA`).
//! - [`planes`]: the same planes with per-image Laplace tables from a fixed grid (the
//!   older sections `DWTQ` and `RESQ`), the colour transform, the dead-zone quantiser and
//!   the encoder's pruning of isolated ±1 values.
//! - `laplace`: that grid of Laplace tables (also used by WaLLoC's latent coder).

pub mod adaptive;
pub(crate) mod laplace;
pub mod planes;

/// Table indexes of `len` channel-major values, `per` a channel: symbol `i` uses the
/// table of channel `i / per`.
pub(crate) fn channel_indexes(len: usize, per: usize) -> Vec<u16> {
    (0..len).map(|i| (i / per.max(1)) as u16).collect()
}
