//! The context coders the families share: every probability is computed from integers
//! already decoded, so files decode identically on every machine.
//!
//! - [`adaptive`]: [`adaptive::ContextCoder`], binary decisions with adaptive models, for
//!   groups of wavelet planes (the wavelet codec's `DWTA`, WaLLoC's residual `RESA`).
//! - [`planes`]: the same planes with per-image Laplace tables from a fixed grid (the
//!   older sections `DWTQ` and `RESQ`), the colour transform, the dead-zone quantiser and
//!   the encoder's pruning of isolated ±1 values.
//! - `laplace`: that grid of Laplace tables (also used by WaLLoC's latent coder).

use ncodec_entropy::{BitReader, CdfTables, ensure_stream_room};

use crate::error::{Error, Result};

pub mod adaptive;
pub(crate) mod laplace;
pub mod planes;

/// Table indexes of `len` channel-major values, `per` a channel: symbol `i` uses the
/// table of channel `i / per`.
pub(crate) fn channel_indexes(len: usize, per: usize) -> Vec<u16> {
    (0..len).map(|i| (i / per.max(1)) as u16).collect()
}

/// Pixels a section of an older coding may describe per byte of it: [`legacy_room`].
pub const LEGACY_PIXELS_PER_BYTE: u64 = 4096;

/// Checks that a section of an older, table-coded kind (`DWTQ`, `RESQ`, `LATQ`, `LATC`)
/// of `len` bytes is long enough for an image of `pixels` pixels: at least one byte per
/// [`LEGACY_PIXELS_PER_BYTE`] pixels. Those codings can describe any number of zeros in
/// a few bytes (planes marked empty; a table stream's free first symbols), so their
/// decoders cannot bound their work by what the section holds; real photos cost far more
/// (the lowest quality levels of those days spent over 100 times this), and the version-2
/// streams' own bound (`docs/FORMAT.md`) is of the same order.
///
/// # Errors
/// [`Error::Truncated`] for a shorter section.
pub fn legacy_room(tag: &[u8; 4], len: usize, pixels: u64) -> Result<()> {
    if pixels > LEGACY_PIXELS_PER_BYTE.saturating_mul(len as u64) {
        return Err(Error::Truncated(format!(
            "section {} of {len} bytes is too short for {pixels} pixels",
            crate::container::tag_name(tag)
        )));
    }
    Ok(())
}

/// Opens an adaptive binary stream of a file of container `version` (version 1 streams
/// have no end mark), with `tables` if its writer had them, after checking that it can
/// hold symbols costing at least `least_bits` in all (before anything is allocated for
/// them).
///
/// # Errors
/// [`ncodec_entropy::Error::Truncated`] for data too short for its symbols, and
/// [`BitReader::new`]'s errors.
pub fn binary_stream<'a>(
    data: &'a [u8],
    tables: Option<&'a CdfTables>,
    version: u8,
    least_bits: f64,
) -> Result<BitReader<'a>> {
    ensure_stream_room(data, least_bits)?;
    let reader = match tables {
        Some(t) => BitReader::with_tables(data, t)?,
        None => BitReader::new(data)?,
    };
    Ok(if version < 2 {
        reader.unmarked()
    } else {
        reader
    })
}
