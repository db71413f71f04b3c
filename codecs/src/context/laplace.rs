//! The fixed grid of zero-mean Laplace tables that the per-image context coders pick
//! from (WaLLoC latents, section `LATS`; the wavelet planes' table coder,
//! [`crate::context::planes`]): the encoder chooses a scale per context and sends its
//! index, the decoder rebuilds the same tables on every machine.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use ncodec_entropy::{CdfTable, CdfTables, laplace_tables, log_spaced};

/// Laplace scales in the grid.
const SCALES: usize = 48;
/// Tables in the shared Laplace scale grid.
pub(crate) const GRID_SCALES: usize = SCALES;
const SCALE_MIN: f64 = 0.08;
const SCALE_MAX: f64 = 96.0;
const TAIL_MASS: f64 = 1e-4;
/// Values whose bits under every grid table are precomputed (`−COST_RANGE ..= COST_RANGE`).
const COST_RANGE: i32 = 1024;

/// The fixed Laplace scale grid: all tables, each one alone, and the bits of the values
/// within `±COST_RANGE` under each table (the encoder's table search asks for them
/// millions of times per image).
pub(crate) struct Grid {
    pub(crate) tables: CdfTables,
    /// The tables folded to magnitudes ([`CdfTable::folded`]), for `LATS` payloads.
    pub(crate) folded: CdfTables,
    pub(crate) each: Vec<CdfTable>,
    costs: Vec<f64>,
}

impl Grid {
    /// [`bits`] of `v` under table `s`, from the precomputed costs where they exist.
    #[inline]
    pub(crate) fn bits(&self, s: usize, v: i32) -> f64 {
        if v.abs() <= COST_RANGE {
            let width = (2 * COST_RANGE + 1) as usize;
            self.costs[s * width + (v + COST_RANGE) as usize]
        } else {
            bits(&self.each[s], v)
        }
    }
}

pub(crate) fn grid() -> &'static Grid {
    static GRID: OnceLock<Grid> = OnceLock::new();
    GRID.get_or_init(|| {
        // Pure-Rust log and exp: every decoder must rebuild the same tables.
        let scales = log_spaced(SCALE_MIN, SCALE_MAX, SCALES);
        let tables = laplace_tables(&scales, TAIL_MASS).expect("valid fixed grid");
        let each: Vec<CdfTable> = (0..SCALES)
            .map(|i| tables.get(i).expect("in range"))
            .collect();
        let costs = each
            .iter()
            .flat_map(|t| (-COST_RANGE..=COST_RANGE).map(|v| bits(t, v)))
            .collect();
        let folded = CdfTables::new(
            &each
                .iter()
                .map(|t| t.folded().expect("Laplace tables are symmetric"))
                .collect::<Vec<_>>(),
        )
        .expect("valid fixed grid");
        Grid {
            tables,
            folded,
            each,
            costs,
        }
    })
}

/// Estimated bits of value `v` under table `t` (escapes approximately).
pub(crate) fn bits(t: &CdfTable, v: i32) -> f64 {
    let cdf = t.cdf();
    let esc = t.len() - 1;
    let d = i64::from(v) - i64::from(t.offset());
    let p = |s: usize| f64::from(cdf[s + 1] - cdf[s]) / f64::from(ncodec_entropy::TOTAL);
    if d >= 0 && (d as usize) < esc {
        -p(d as usize).log2()
    } else {
        let dist = if d < 0 { -d } else { d - esc as i64 + 1 } as f64;
        -p(esc).log2() + 7.0 + 2.0 * (dist + 1.0).log2()
    }
}

/// The bits each table of the grid spends on a histogram (value → count).
pub(crate) fn grid_costs(hist: &BTreeMap<i32, u32>) -> [f64; GRID_SCALES] {
    let g = grid();
    let mut c = [0.0; GRID_SCALES];
    for (s, cs) in c.iter_mut().enumerate() {
        *cs = hist
            .iter()
            .map(|(&v, &n)| f64::from(n) * g.bits(s, v))
            .sum();
    }
    c
}

/// Per bucket (`0..buckets`), the histogram (value → count) of the values `r` in buckets
/// `q`: counted in a dense array over the values' range, then collected in ascending
/// order.
pub(crate) fn histograms(r: &[i32], q: &[usize], buckets: usize) -> Vec<BTreeMap<i32, u32>> {
    let (Some(&lo), Some(&hi)) = (r.iter().min(), r.iter().max()) else {
        return vec![BTreeMap::new(); buckets];
    };
    let width = (i64::from(hi) - i64::from(lo) + 1) as usize;
    let mut dense = vec![0u32; buckets * width];
    for (&v, &k) in r.iter().zip(q) {
        dense[k * width + (v - lo) as usize] += 1;
    }
    dense
        .chunks_exact(width)
        .map(|counts| {
            (lo..=hi)
                .zip(counts)
                .filter(|&(_, &n)| n > 0)
                .map(|(v, &n)| (v, n))
                .collect()
        })
        .collect()
}
