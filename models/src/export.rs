//! Freezing a trained model's probability models into integer tables.
//!
//! Runs once, when a model is exported; the result is stored next to the weights and
//! covered by the model digest. Decoders read the integers and never re-run this code,
//! so floating-point differences between machines cannot reach the coder.

use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use ncodec_entropy::{CdfTable, CdfTables, DEFAULT_TAIL_MASS, MAX_TABLE_LEN, default_scales};

use crate::bottleneck::EntropyBottleneck;
use crate::cpu::to_f32_vec;

/// Tail mass outside the exported support of each hyper-latent table (escape-coded).
pub const Z_TABLE_TAIL_MASS: f64 = 1e-4;

/// The frozen probability models of a hyperprior model.
#[derive(Debug, Clone, PartialEq)]
pub struct FrozenPriors {
    /// One table per channel of `z`, over `round(z − median)`.
    pub z_tables: CdfTables,
    /// Per-channel medians of `z` (`ẑ = symbol + median`).
    pub z_medians: Vec<f32>,
    /// One table per entry of `scale_table` for `round(y − μ)`.
    pub y_tables: CdfTables,
    /// The scales of `y_tables`, ascending.
    pub scale_table: Vec<f32>,
}

const MAGIC: &[u8; 4] = b"NFRZ";

/// Errors while freezing or parsing frozen priors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FreezeError {
    /// The table blob is malformed.
    #[error("frozen priors: {0}")]
    Corrupt(&'static str),
    /// The entropy crate rejected a table.
    #[error("frozen priors: bad table")]
    Table(#[from] ncodec_entropy::Error),
}

impl FrozenPriors {
    /// Freezes the bottleneck's densities and the default Gaussian scale table.
    ///
    /// # Errors
    /// [`FreezeError::Table`] if a density degenerates (it never should for a trained
    /// model).
    pub fn from_bottleneck(eb: &EntropyBottleneck) -> Result<Self, FreezeError> {
        let (z_tables, z_medians) = factorized_tables(eb, false)?;
        let scales = default_scales();
        Ok(Self {
            z_tables,
            z_medians,
            y_tables: ncodec_entropy::gaussian_tables(&scales, DEFAULT_TAIL_MASS)?,
            scale_table: scales.iter().map(|&s| s as f32).collect(),
        })
    }

    /// Serialises: `NFRZ`, u32 channel count, medians (f32 LE), u32 scale count, scales
    /// (f32 LE), then the z and y table blobs, each prefixed with its u32 length.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&(self.z_medians.len() as u32).to_le_bytes());
        self.z_medians
            .iter()
            .for_each(|m| out.extend_from_slice(&m.to_le_bytes()));
        out.extend_from_slice(&(self.scale_table.len() as u32).to_le_bytes());
        self.scale_table
            .iter()
            .for_each(|m| out.extend_from_slice(&m.to_le_bytes()));
        for t in [&self.z_tables, &self.y_tables] {
            let b = t.to_bytes();
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.extend_from_slice(&b);
        }
        out
    }

    /// Parses [`FrozenPriors::to_bytes`] output.
    ///
    /// # Errors
    /// [`FreezeError::Corrupt`] or [`FreezeError::Table`].
    pub fn from_bytes(b: &[u8]) -> Result<Self, FreezeError> {
        let mut r = b;
        let mut take = |n: usize| -> Result<&[u8], FreezeError> {
            if r.len() < n {
                return Err(FreezeError::Corrupt("truncated"));
            }
            let (h, t) = r.split_at(n);
            r = t;
            Ok(h)
        };
        if take(4)? != MAGIC {
            return Err(FreezeError::Corrupt("bad magic"));
        }
        let u32_ = |s: &[u8]| u32::from_le_bytes(s.try_into().expect("4 bytes")) as usize;
        let f32s = |s: &[u8]| -> Vec<f32> {
            s.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect()
        };
        let c = u32_(take(4)?);
        let z_medians = f32s(take(c.checked_mul(4).ok_or(FreezeError::Corrupt("size"))?)?);
        let s = u32_(take(4)?);
        let scale_table = f32s(take(s.checked_mul(4).ok_or(FreezeError::Corrupt("size"))?)?);
        let zl = u32_(take(4)?);
        let z_tables = CdfTables::from_bytes(take(zl)?)?;
        let yl = u32_(take(4)?);
        let y_tables = CdfTables::from_bytes(take(yl)?)?;
        if z_tables.len() != c || y_tables.len() != s {
            return Err(FreezeError::Corrupt("table counts do not match"));
        }
        Ok(Self {
            z_tables,
            z_medians,
            y_tables,
            scale_table,
        })
    }
}

/// Freezes an [`EntropyBottleneck`] into one integer table per channel, covering all but
/// [`Z_TABLE_TAIL_MASS`] of each density (the rest is escape-coded), and returns the
/// tables with the per-channel medians.
///
/// With `integer`, the values are coded as they are (integers, e.g. WaLLoC's rounded
/// latents): the tables' symbols are the values themselves. Otherwise the symbols are
/// `round(value − median)` (the hyperprior's `ẑ`).
///
/// # Errors
/// [`FreezeError::Table`] if a density degenerates.
pub fn factorized_tables(
    eb: &EntropyBottleneck,
    integer: bool,
) -> Result<(CdfTables, Vec<f32>), FreezeError> {
    let c = eb.channels();
    let device = eb.quantiles.device();
    let t = (2.0 / Z_TABLE_TAIL_MASS - 1.0).ln() as f32;
    // Bisection for c(x) = target per channel: the logits are monotone in x.
    let solve = |target: f32| -> Vec<f32> {
        let mut lo = vec![-1.0e4f32; c];
        let mut hi = vec![1.0e4f32; c];
        for _ in 0..60 {
            let mid: Vec<f32> = lo.iter().zip(&hi).map(|(a, b)| 0.5 * (a + b)).collect();
            let x = Tensor::<1>::from_floats(mid.as_slice(), &device).reshape([c, 1, 1]);
            let v = to_f32_vec(eb.logits_cumulative(x, true).reshape([c]));
            for i in 0..c {
                if v[i] < target {
                    lo[i] = mid[i]
                } else {
                    hi[i] = mid[i]
                }
            }
        }
        lo.iter().zip(&hi).map(|(a, b)| 0.5 * (a + b)).collect()
    };
    let medians = solve(0.0);
    let lower = solve(-t);
    let upper = solve(t);
    let centres: Vec<f32> = if integer {
        medians.iter().map(|m| m.round()).collect()
    } else {
        medians.clone()
    };
    let half = (MAX_TABLE_LEN as i64 - 2) / 2;
    let lo: Vec<i64> = (0..c)
        .map(|i| ((lower[i] - centres[i]).floor() as i64).clamp(-half, 0))
        .collect();
    let hi: Vec<i64> = (0..c)
        .map(|i| ((upper[i] - centres[i]).ceil() as i64).clamp(0, half))
        .collect();
    let gmin = *lo.iter().min().expect("channels");
    let gmax = *hi.iter().max().expect("channels");
    let len = (gmax - gmin + 1) as usize;
    // Evaluate every channel on the common offset grid gmin..=gmax around its median.
    let grid: Vec<f32> = (0..c)
        .flat_map(|i| {
            let m = centres[i];
            (gmin..=gmax).map(move |v| m + v as f32)
        })
        .collect();
    let x = Tensor::<1>::from_floats(grid.as_slice(), &device).reshape([c, 1, len]);
    let lower_l = eb.logits_cumulative(x.clone().sub_scalar(0.5), true);
    let upper_l = eb.logits_cumulative(x.add_scalar(0.5), true);
    let sign = (lower_l.clone() + upper_l.clone()).sign().neg();
    let pmf = (sigmoid(sign.clone() * upper_l) - sigmoid(sign * lower_l)).abs();
    let pmf = to_f32_vec(pmf);
    let mut tables = Vec::with_capacity(c);
    for i in 0..c {
        let a = (lo[i] - gmin) as usize;
        let b = (hi[i] - gmin) as usize;
        let p: Vec<f64> = pmf[i * len + a..=i * len + b]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let start = if integer {
            lo[i] as i32 + centres[i] as i32
        } else {
            lo[i] as i32
        };
        tables.push(CdfTable::from_pmf(start, &p)?);
    }
    Ok((CdfTables::new(&tables)?, medians))
}
