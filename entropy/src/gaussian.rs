//! Gaussian conditionals over a fixed scale table (Ballé et al. 2018, CompressAI's
//! `GaussianConditional`).
//!
//! A latent `y` with predicted scale `σ` (and, for mean-scale models, mean `μ`) is coded
//! as the integer `round(y − μ)` with the table of the smallest table scale `≥ σ`. The
//! tables are built here once, at model export, with a pure-Rust `erfc` (libm), then
//! frozen as integers; decoders never evaluate a Gaussian.

use crate::error::{Error, Result};
use crate::table::{CdfTable, CdfTables, MAX_TABLE_LEN};

/// The smallest scale of the default table (CompressAI's `SCALES_MIN`).
pub const SCALES_MIN: f64 = 0.11;
/// The largest scale of the default table (CompressAI's `SCALES_MAX`).
pub const SCALES_MAX: f64 = 256.0;
/// Number of scales in the default table (CompressAI's `SCALES_LEVELS`).
pub const SCALES_LEVELS: usize = 64;

/// Mass left to the escape entry on both sides together when building a Gaussian table.
///
/// A table entry costs at least one unit of `1/65536`, so wide supports waste mass on
/// tail entries; cutting the support where the tails hold about 1/1000 and coding the rare
/// outliers through the escape costs less than the minimum-unit waste of a longer table.
pub const DEFAULT_TAIL_MASS: f64 = 1e-3;

/// `exp(linspace(ln SCALES_MIN, ln SCALES_MAX, SCALES_LEVELS))`, the default scale table.
/// Computed by [`crate::log_spaced`], the same on every machine.
pub fn default_scales() -> Vec<f64> {
    crate::log_spaced(SCALES_MIN, SCALES_MAX, SCALES_LEVELS)
}

fn std_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Builds one table per scale for the zero-mean Gaussian quantised to integers.
///
/// For scale `s`, the support is `−c ..= c` with `c = ceil(s · z)` where `z` leaves
/// `tail_mass` outside, capped so the table fits [`MAX_TABLE_LEN`].
///
/// # Errors
/// [`Error::InvalidTable`] for an empty list, a non-positive or non-finite scale, or a
/// tail mass outside `(0, 0.5)`.
pub fn gaussian_tables(scales: &[f64], tail_mass: f64) -> Result<CdfTables> {
    if !(tail_mass > 0.0 && tail_mass < 0.5) {
        return Err(Error::InvalidTable(format!(
            "tail mass {tail_mass} not in (0, 0.5)"
        )));
    }
    // z with 2 Φ(−z) = tail_mass, by bisection (export time only).
    let (mut lo, mut hi) = (0.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if 2.0 * std_cdf(-mid) > tail_mass {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let z = hi;
    let mut tables = Vec::with_capacity(scales.len());
    for &s in scales {
        if !(s.is_finite() && s > 0.0) {
            return Err(Error::InvalidTable(format!("scale {s} must be positive")));
        }
        let c = ((s * z).ceil() as i64).clamp(1, (MAX_TABLE_LEN as i64 - 2) / 2);
        let pmf: Vec<f64> = (-c..=c)
            .map(|v| {
                let v = (v as f64).abs();
                std_cdf((0.5 - v) / s) - std_cdf((-0.5 - v) / s)
            })
            .collect();
        tables.push(CdfTable::from_pmf(-c as i32, &pmf)?);
    }
    CdfTables::new(&tables)
}

/// Picks a table index for a scale: the smallest table scale `≥ scale` (clamped to the
/// last), as CompressAI's `build_indexes` does. `scales` must be ascending.
///
/// The caller must compute `scale` identically in encoder and decoder; this function is
/// exact given the same `f32` input.
pub fn scale_index(scales: &[f32], scale: f32) -> u16 {
    let last = scales.len().saturating_sub(1);
    scales[..last].iter().filter(|&&t| scale > t).count() as u16
}
