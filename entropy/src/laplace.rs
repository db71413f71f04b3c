//! Zero-mean Laplace distributions quantised to integers, one table per scale: the model
//! for prediction residuals (e.g. WaLLoC's context-coded latents).
//!
//! Built with `libm`'s pure-Rust `exp`, so the integer tables are identical on every
//! machine; coders may rebuild them at load time instead of storing them.

use crate::error::{Error, Result};
use crate::table::{CdfTable, CdfTables, MAX_TABLE_LEN};

/// `n` scales spaced evenly in logarithm from `min` to `max`:
/// `exp(ln min + (ln max − ln min)·i/(n − 1))` (just `min` when `n` is 1). Computed with `libm`'s pure-Rust `log` and
/// `exp`, not the platform's: tables that decoders rebuild from these scales must come
/// out the same on every machine, and the platform functions differ in the last bit
/// (glibc's `exp` and libm's disagree on 4 of the 48 scales of ncodec's latent grid,
/// though the integer tables built from either are the same).
pub fn log_spaced(min: f64, max: f64, n: usize) -> Vec<f64> {
    let (a, b) = (libm::log(min), libm::log(max));
    let last = n.saturating_sub(1).max(1) as f64;
    (0..n)
        .map(|i| libm::exp(a + (b - a) * i as f64 / last))
        .collect()
}

/// Builds one table per scale `b` for `P(v) = F(v + ½) − F(v − ½)`, `F` the Laplace CDF
/// with scale `b`, over `−c ..= c` where `c` leaves about `tail_mass` outside (the rest
/// is escape-coded), capped so the table fits [`MAX_TABLE_LEN`].
///
/// # Errors
/// [`Error::InvalidTable`] for an empty list, a non-positive or non-finite scale, or a
/// tail mass outside `(0, 0.5)`.
pub fn laplace_tables(scales: &[f64], tail_mass: f64) -> Result<CdfTables> {
    if !(tail_mass > 0.0 && tail_mass < 0.5) {
        return Err(Error::InvalidTable(format!(
            "tail mass {tail_mass} not in (0, 0.5)"
        )));
    }
    let cdf = |x: f64, b: f64| {
        if x < 0.0 {
            0.5 * libm::exp(x / b)
        } else {
            1.0 - 0.5 * libm::exp(-x / b)
        }
    };
    let mut tables = Vec::with_capacity(scales.len());
    for &b in scales {
        if !(b.is_finite() && b > 0.0) {
            return Err(Error::InvalidTable(format!("scale {b} must be positive")));
        }
        // Mass beyond ±(c + ½) is exp(−(c + ½)/b).
        let c = ((b * libm::log(1.0 / tail_mass) - 0.5).ceil() as i64)
            .clamp(1, (MAX_TABLE_LEN as i64 - 2) / 2);
        let pmf: Vec<f64> = (-c..=c)
            .map(|v| {
                let v = v as f64;
                cdf(v + 0.5, b) - cdf(v - 0.5, b)
            })
            .collect();
        tables.push(CdfTable::from_pmf(-c as i32, &pmf)?);
    }
    CdfTables::new(&tables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_spaced_scales_are_libm_s_to_the_last_bit() {
        // ncodec's latent grid. glibc's `exp` differs from these in the last bit at
        // indexes 10, 20, 24 and 38: a platform `exp` here would fail this test.
        let s = log_spaced(0.08, 96.0, 48);
        let bits = [
            (0, 0x3fb4_7ae1_47ae_147a_u64),
            (10, 0x3fd7_248b_10a9_8b7c),
            (20, 0x3ffa_26d5_8f03_af14),
            (24, 0x4007_e83b_1e78_3cdc),
            (38, 0x4038_b261_d895_169a),
            (47, 0x4057_ffff_ffff_ffff),
        ];
        for (i, b) in bits {
            assert_eq!(s[i].to_bits(), b, "scale {i}: {}", s[i]);
        }
        assert_eq!(log_spaced(2.0, 2.0, 1), vec![2.0]);
    }
}
