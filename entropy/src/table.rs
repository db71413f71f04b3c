//! Frozen integer CDF tables: the only input of the coder.
//!
//! A [`CdfTable`] describes the distribution of one integer random variable over a
//! contiguous *support* `offset .. offset + n - 1` plus one **escape** symbol that stands
//! for every value outside the support. Probabilities are fixed-point integers with
//! [`PRECISION`] bits. A [`CdfTables`] is an ordered list of such tables (for example one
//! per channel of a factorized prior, or one per entry of a Gaussian scale table); each
//! coded symbol names the table it uses by index.
//!
//! Tables are built once (from floating-point densities, at model export time), then
//! serialised as integers and stored with the model. Decoders only ever read the
//! integers, so decoding never depends on floating-point library functions.

use crate::error::{Error, Result};

/// Fixed-point precision of every probability, in bits (probabilities sum to `1 << 16`).
///
/// 16 bits keeps the decoder's lookup tables small and costs at most `n / 65536` of
/// probability mass in a table with `n` entries (every entry needs at least one unit).
pub const PRECISION: usize = 16;

/// Total probability mass, `1 << PRECISION`.
pub const TOTAL: u32 = 1 << PRECISION;

/// Largest number of entries (support plus escape) a table may have.
pub const MAX_TABLE_LEN: usize = 4096;

/// Largest number of tables in a [`CdfTables`].
pub const MAX_TABLES: usize = 65_536;

/// Bits of the quantile used to index the decoder's lookup table.
pub(crate) const LUT_BITS: usize = 8;

/// One frozen distribution: a contiguous integer support plus an escape entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdfTable {
    offset: i32,
    cdf: Vec<u32>,
}

impl CdfTable {
    /// Builds a table from a cumulative distribution.
    ///
    /// `cdf` has `n + 1` entries for `n` symbols: `cdf[0] == 0`, strictly increasing,
    /// `cdf[n] == TOTAL`. Symbol `i < n - 1` stands for the value `offset + i`; symbol
    /// `n - 1` is the escape entry.
    ///
    /// # Errors
    /// [`Error::InvalidTable`] if the contract above is violated, if `n < 2`, if
    /// `n > MAX_TABLE_LEN`, or if the support overflows `i32`.
    pub fn from_cdf(offset: i32, cdf: Vec<u32>) -> Result<Self> {
        let n = cdf.len().saturating_sub(1);
        if n < 2 {
            return Err(Error::InvalidTable(format!(
                "a table needs at least one value and the escape entry, got {n} entries"
            )));
        }
        if n > MAX_TABLE_LEN {
            return Err(Error::InvalidTable(format!(
                "{n} entries, at most {MAX_TABLE_LEN} allowed"
            )));
        }
        if cdf[0] != 0 || cdf[n] != TOTAL {
            return Err(Error::InvalidTable(format!(
                "CDF must run from 0 to {TOTAL}, runs from {} to {}",
                cdf[0], cdf[n]
            )));
        }
        if let Some(i) = cdf.windows(2).position(|w| w[1] <= w[0]) {
            return Err(Error::InvalidTable(format!(
                "CDF not strictly increasing at entry {i}: every symbol needs a nonzero probability"
            )));
        }
        if i64::from(offset) + (n as i64 - 2) > i64::from(i32::MAX) {
            return Err(Error::InvalidTable("support overflows i32".into()));
        }
        Ok(Self { offset, cdf })
    }

    /// Builds a table from integer frequencies (one per symbol, escape last) that sum to
    /// [`TOTAL`].
    ///
    /// # Errors
    /// As [`CdfTable::from_cdf`], plus a zero frequency or a wrong sum.
    pub fn from_frequencies(offset: i32, freqs: &[u32]) -> Result<Self> {
        let mut cdf = Vec::with_capacity(freqs.len() + 1);
        let mut acc: u64 = 0;
        cdf.push(0);
        for &f in freqs {
            acc += u64::from(f);
            if acc > u64::from(TOTAL) {
                return Err(Error::InvalidTable(format!(
                    "frequencies sum to more than {TOTAL}"
                )));
            }
            cdf.push(acc as u32);
        }
        Self::from_cdf(offset, cdf)
    }

    /// Quantises a probability mass function over the support `offset ..` to a table.
    ///
    /// `pmf[i]` is the probability of value `offset + i`; the mass missing from `pmf` (one
    /// minus its sum, at least one unit) goes to the escape entry. Every entry gets at
    /// least one unit; the rounding surplus or deficit is taken from or given to the
    /// largest entries, so the result is deterministic for a given `pmf`.
    ///
    /// This is an *export-time* helper: it uses floating point, and its output is what
    /// gets frozen and stored.
    ///
    /// # Errors
    /// [`Error::InvalidTable`] if `pmf` is empty, too long, or has negative or non-finite
    /// entries.
    pub fn from_pmf(offset: i32, pmf: &[f64]) -> Result<Self> {
        let n = pmf.len() + 1;
        if pmf.is_empty() || n > MAX_TABLE_LEN {
            return Err(Error::InvalidTable(format!(
                "a pmf needs 1 to {} values, got {}",
                MAX_TABLE_LEN - 1,
                pmf.len()
            )));
        }
        if pmf.iter().any(|p| !p.is_finite() || *p < 0.0) {
            return Err(Error::InvalidTable(
                "pmf has negative or non-finite entries".into(),
            ));
        }
        let sum: f64 = pmf.iter().sum();
        let escape = (1.0 - sum).max(0.0);
        let norm = sum + escape;
        if norm <= 0.0 {
            return Err(Error::InvalidTable("pmf has no mass".into()));
        }
        // Spread TOTAL - n units proportionally, then add the mandatory one unit each.
        let spare = f64::from(TOTAL - n as u32);
        let mut freqs: Vec<u32> = pmf
            .iter()
            .chain(std::iter::once(&escape))
            .map(|p| 1 + (p / norm * spare).floor() as u32)
            .collect();
        let mut total: i64 = freqs.iter().map(|&f| i64::from(f)).sum();
        // Hand out the rounding remainder to the largest entries (stable order).
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| freqs[b].cmp(&freqs[a]).then(a.cmp(&b)));
        let mut k = 0;
        while total < i64::from(TOTAL) {
            freqs[order[k % n]] += 1;
            total += 1;
            k += 1;
        }
        Self::from_frequencies(offset, &freqs)
    }

    /// The distribution of `|v|` for a table symmetric about zero (support `−c ..= c`):
    /// `P(0)`, then `P(m) + P(−m)` for `m` in `1 ..= c`, then the escape entry. Built from
    /// the integer frequencies alone, so it is exact and identical on every machine.
    /// Coding `|v|` with it and the sign apart costs what the signed table costs when
    /// the sign takes one bit.
    ///
    /// # Errors
    /// [`Error::InvalidTable`] if the support is not symmetric about zero.
    pub fn folded(&self) -> Result<Self> {
        let n = self.cdf.len() - 1;
        let values = n - 1;
        if values.is_multiple_of(2) || i64::from(self.offset) != -((values as i64 - 1) / 2) {
            return Err(Error::InvalidTable(
                "only a table symmetric about zero can be folded".into(),
            ));
        }
        let f = |s: usize| self.cdf[s + 1] - self.cdf[s];
        let c = (values - 1) / 2;
        let mut freqs = Vec::with_capacity(c + 2);
        freqs.push(f(c));
        freqs.extend((1..=c).map(|m| f(c + m) + f(c - m)));
        freqs.push(f(n - 1));
        Self::from_frequencies(0, &freqs)
    }

    /// The value coded by symbol 0.
    pub fn offset(&self) -> i32 {
        self.offset
    }

    /// Number of entries including the escape entry.
    pub fn len(&self) -> usize {
        self.cdf.len() - 1
    }

    /// Always false: a valid table has at least two entries.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The cumulative distribution, `len() + 1` entries from 0 to [`TOTAL`].
    pub fn cdf(&self) -> &[u32] {
        &self.cdf
    }

    /// The value range coded without escape, inclusive.
    pub fn support(&self) -> std::ops::RangeInclusive<i32> {
        self.offset..=self.offset + (self.len() as i32 - 2)
    }
}

/// An ordered, validated list of [`CdfTable`]s, flattened for fast coding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdfTables {
    /// Per table: start of its CDF in `cdf`, its entry count and its offset.
    pub(crate) heads: Vec<Head>,
    pub(crate) cdf: Vec<u32>,
    /// Per table `1 << LUT_BITS` entries: first symbol whose interval reaches the bucket.
    pub(crate) lut: Vec<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) start: u32,
    pub(crate) len: u32,
    pub(crate) offset: i32,
}

const MAGIC: &[u8; 4] = b"NCDF";
const VERSION: u8 = 1;

impl CdfTables {
    /// The fewest bits any symbol of any of these tables can cost: the information of the
    /// most probable entry of the most peaked table (for [`crate::ensure_stream_room`]).
    pub fn least_bits(&self) -> f64 {
        self.least_bits_each()
            .into_iter()
            .fold(f64::INFINITY, f64::min)
    }

    /// Per table, the information of its most probable entry: the least any of its
    /// symbols can cost.
    pub(crate) fn least_bits_each(&self) -> Vec<f64> {
        (0..self.len())
            .map(|ti| {
                let h = self.heads[ti];
                let cdf = &self.cdf[h.start as usize..=(h.start + h.len) as usize];
                let max = cdf.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(1);
                f64::from(PRECISION as u32) - f64::from(max.max(1)).log2()
            })
            .collect()
    }

    /// Freezes a list of tables.
    ///
    /// # Errors
    /// [`Error::InvalidTable`] if the list is empty or longer than [`MAX_TABLES`].
    pub fn new(tables: &[CdfTable]) -> Result<Self> {
        if tables.is_empty() || tables.len() > MAX_TABLES {
            return Err(Error::InvalidTable(format!(
                "need 1 to {MAX_TABLES} tables, got {}",
                tables.len()
            )));
        }
        let mut heads = Vec::with_capacity(tables.len());
        let mut cdf = Vec::new();
        let mut lut = Vec::with_capacity(tables.len() << LUT_BITS);
        for t in tables {
            heads.push(Head {
                start: cdf.len() as u32,
                len: t.len() as u32,
                offset: t.offset,
            });
            cdf.extend_from_slice(&t.cdf);
            let shift = PRECISION - LUT_BITS;
            let mut sym = 0usize;
            for bucket in 0..(1u32 << LUT_BITS) {
                let q = bucket << shift;
                while t.cdf[sym + 1] <= q {
                    sym += 1;
                }
                lut.push(sym as u16);
            }
        }
        Ok(Self { heads, cdf, lut })
    }

    /// Number of tables.
    pub fn len(&self) -> usize {
        self.heads.len()
    }

    /// Always false: a valid list has at least one table.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// A copy of table `i`, or `None` if out of range.
    pub fn get(&self, i: usize) -> Option<CdfTable> {
        let h = self.heads.get(i)?;
        let s = h.start as usize;
        Some(CdfTable {
            offset: h.offset,
            cdf: self.cdf[s..s + h.len as usize + 1].to_vec(),
        })
    }

    /// Serialises the tables: `NCDF`, version, table count, then per table its offset,
    /// entry count and the CDF entries 1..n-1 (all little-endian). See `docs/FORMAT.md`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + self.cdf.len() * 2);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&(self.heads.len() as u32).to_le_bytes());
        for h in &self.heads {
            out.extend_from_slice(&h.offset.to_le_bytes());
            out.extend_from_slice(&(h.len as u16).to_le_bytes());
            let s = h.start as usize;
            // cdf[0] = 0 and cdf[n] = TOTAL are implied; inner entries fit in u16.
            for &c in &self.cdf[s + 1..s + h.len as usize] {
                out.extend_from_slice(&(c as u16).to_le_bytes());
            }
        }
        out
    }

    /// Parses tables written by [`CdfTables::to_bytes`], validating every table.
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::Corrupt`], [`Error::LimitExceeded`] or
    /// [`Error::InvalidTable`]; never panics and never allocates more than the input
    /// can describe.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader { b: bytes };
        if r.take(4)? != MAGIC {
            return Err(Error::Corrupt("not a CDF table blob (bad magic)"));
        }
        if r.take(1)?[0] != VERSION {
            return Err(Error::Corrupt("unsupported CDF table version"));
        }
        let count = r.u32()? as usize;
        if count == 0 || count > MAX_TABLES {
            return Err(Error::LimitExceeded {
                what: "table count",
                value: count as u64,
                limit: MAX_TABLES as u64,
            });
        }
        // Each table takes at least 8 bytes: reject counts the input cannot hold.
        if count.saturating_mul(8) > r.b.len() {
            return Err(Error::Truncated("fewer bytes than the table count needs"));
        }
        let mut tables = Vec::with_capacity(count);
        for _ in 0..count {
            let offset = i32::from_le_bytes(r.take(4)?.try_into().expect("4 bytes"));
            let n = usize::from(u16::from_le_bytes(r.take(2)?.try_into().expect("2 bytes")));
            if n > MAX_TABLE_LEN {
                return Err(Error::LimitExceeded {
                    what: "table length",
                    value: n as u64,
                    limit: MAX_TABLE_LEN as u64,
                });
            }
            let inner = r.take(n.saturating_sub(1) * 2)?;
            let mut cdf = Vec::with_capacity(n + 1);
            cdf.push(0);
            cdf.extend(
                inner
                    .chunks_exact(2)
                    .map(|c| u32::from(u16::from_le_bytes([c[0], c[1]]))),
            );
            cdf.push(TOTAL);
            tables.push(CdfTable::from_cdf(offset, cdf)?);
        }
        if !r.b.is_empty() {
            return Err(Error::Corrupt("trailing bytes after CDF tables"));
        }
        Self::new(&tables)
    }

    /// Ideal code length in bits of `symbols` under the tables named by `indexes`
    /// (including escape payloads), as the coder would spend it up to a few bits of
    /// flushing overhead. This is the integer-table counterpart of a model's likelihoods.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on a length mismatch or an out-of-range index.
    pub fn estimate_bits(&self, symbols: &[i32], indexes: &[u16]) -> Result<f64> {
        check_args(self, symbols.len(), indexes)?;
        Ok(symbols
            .iter()
            .zip(indexes)
            .map(|(&v, &ti)| self.symbol_bits(usize::from(ti), v))
            .sum())
    }

    /// Ideal code length in bits of `v` under table `ti` (in range), escape payload
    /// included.
    pub(crate) fn symbol_bits(&self, ti: usize, v: i32) -> f64 {
        let h = self.heads[ti];
        let (sym, esc) = symbol_of(h, v);
        let s = h.start as usize + sym as usize;
        let p = self.cdf[s + 1] - self.cdf[s];
        f64::from(PRECISION as u32) - f64::from(p).log2() + esc.map_or(0.0, |e| f64::from(e.bits()))
    }
}

/// Bits of the escape payload's length field.
pub(crate) const NB_BITS: u32 = 6;

/// The payload coded after an escape symbol: the distance beyond the support, Elias-gamma
/// style (`nb` = bit length of `distance + 1` minus one, then its `nb` low bits).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Escape {
    pub(crate) below: bool,
    pub(crate) nb: u32,
    pub(crate) low: u64,
}

impl Escape {
    pub(crate) fn bits(self) -> u32 {
        NB_BITS + 1 + self.nb
    }
}

/// Maps a value to its symbol in table `h`, with the escape payload if it is outside.
#[inline(always)]
pub(crate) fn symbol_of(h: Head, v: i32) -> (u32, Option<Escape>) {
    let d = i64::from(v) - i64::from(h.offset);
    let esc_sym = h.len - 1;
    if d >= 0 && d < i64::from(esc_sym) {
        return (d as u32, None);
    }
    let (below, mag) = if d < 0 {
        (true, (-d - 1) as u64)
    } else {
        (false, (d - i64::from(esc_sym)) as u64)
    };
    let w = mag + 1;
    let nb = 63 - w.leading_zeros();
    let low = w & ((1u64 << nb) - 1);
    (esc_sym, Some(Escape { below, nb, low }))
}

pub(crate) fn value_of_escape(h: Head, e: Escape) -> Result<i32> {
    let mag = ((1u64 << e.nb) | e.low) - 1;
    let v = if e.below {
        i64::from(h.offset) - 1 - mag as i64
    } else {
        i64::from(h.offset) + i64::from(h.len - 1) + mag as i64
    };
    i32::try_from(v).map_err(|_| Error::Corrupt("escaped value outside the i32 range"))
}

pub(crate) fn check_args(tables: &CdfTables, n: usize, indexes: &[u16]) -> Result<()> {
    if indexes.len() != n {
        return Err(Error::InvalidInput(format!(
            "{n} symbols but {} table indexes",
            indexes.len()
        )));
    }
    if let Some(&bad) = indexes.iter().find(|&&i| usize::from(i) >= tables.len()) {
        return Err(Error::InvalidInput(format!(
            "table index {bad} out of range ({} tables)",
            tables.len()
        )));
    }
    Ok(())
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.b.len() < n {
            return Err(Error::Truncated("CDF table blob ends early"));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
}
