//! Zero-mean Laplace distributions quantised to integers, one table per scale: the model
//! for prediction residuals (e.g. WaLLoC's context-coded latents).
//!
//! Built with `libm`'s pure-Rust `exp`, so the integer tables are identical on every
//! machine; coders may rebuild them at load time instead of storing them.

use crate::error::{Error, Result};
use crate::table::{CdfTable, CdfTables, MAX_TABLE_LEN};

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
        let c = ((b * (1.0 / tail_mass).ln() - 0.5).ceil() as i64)
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
