//! Adaptive binary coding: yes/no decisions whose probabilities the caller's context
//! model keeps up to date, coded on the same rANS coder as the tables.
//!
//! A context-adaptive coder binarises each value (is it zero? its sign? is its magnitude
//! above 1, above 2, …?) and codes each decision with the probability of an
//! [`AdaptiveBit`] picked by its context. Rare large values go through uniform "bypass"
//! bits. Symbols of [`CdfTables`] can share the stream ([`BitWriter::with_tables`]),
//! e.g. a magnitude from a table followed by its sign as an adaptive decision. ANS decodes in the reverse order of encoding, so [`BitWriter`] records the
//! decisions with the probabilities they were coded with and encodes them backwards in
//! [`BitWriter::finish`]; [`BitReader`] decodes them forwards, and the caller updates
//! its models in the same order on both sides. Every probability is an integer, so a
//! stream decodes identically on any machine.
//!
//! A stream ends with a 32-bit mark ([`STREAM_MARK`]), coded first and so decoded last.
//! ANS codes a run of a model's first outcome for free while its state is still empty,
//! so without the mark a stream of a few bytes could end in any number of "no"
//! decisions (a huge flat image in a 60-byte file). With it, every decision costs at
//! least [`least_decision_bits`], a decoder can refuse data too short for the decisions
//! it promises before decoding any ([`crate::ensure_stream_room`]), and the mark checks
//! the stream's end. Streams of `.ncx` version 1 files have no mark
//! ([`BitWriter::finish_unmarked`], [`BitReader::unmarked`]).
//!
//! ```
//! use ncodec_entropy::{AdaptiveBit, BitReader, BitWriter};
//! let bits = [true, true, false, true, true, true, false, true];
//! let mut model = AdaptiveBit::new();
//! let mut w = BitWriter::new();
//! for &b in &bits {
//!     w.adaptive_bit(b, &mut model, (4, 6));
//! }
//! w.bits(0b101, 3);
//! let bytes = w.finish();
//!
//! let mut model = AdaptiveBit::new();
//! let mut r = BitReader::new(&bytes)?;
//! for &b in &bits {
//!     assert_eq!(r.adaptive_bit(&mut model, (4, 6))?, b);
//! }
//! assert_eq!(r.bits(3)?, 0b101);
//! r.finish()?;
//! # Ok::<(), ncodec_entropy::Error>(())
//! ```

use std::num::NonZeroU32;

use constriction::stream::model::{DecoderModel, EncoderModel, EntropyModel};
use constriction::stream::stack::DefaultAnsCoder;
use constriction::stream::{Decode, Encode};

use crate::coder::{Uniform, decode_one, open_stream, push_symbol};
use crate::error::{Error, Result};
use crate::table::{CdfTables, PRECISION, TOTAL};

/// The smallest probability [`AdaptiveBit::p_one`] gives either outcome, in units of
/// `2^-16`: a decision never costs more than 11 bits.
pub const MIN_PROBABILITY: u32 = 32;

/// The value a stream ends with (its top bit set, so the coder's state is never small
/// again and every later decision costs at least [`least_decision_bits`]).
pub const STREAM_MARK: u32 = 0xB17E_57A3;

/// The fewest bits one adaptive binary decision can cost: `−log2(1 − MIN_PROBABILITY /
/// TOTAL)`, about 0.0007 (for [`crate::ensure_stream_room`]).
pub fn least_decision_bits() -> f64 {
    -(1.0 - f64::from(MIN_PROBABILITY) / f64::from(TOTAL)).log2()
}

/// The adaptive probability of a binary decision: the mean of a fast and a slow
/// exponential estimator (16-bit fixed point), each moving by `1/2^shift` of its
/// distance to the outcome. While a model is young, both shifts are capped by the
/// bit length of the number of decisions seen, so the first outcomes move it quickly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdaptiveBit {
    fast: u32,
    slow: u32,
    seen: u32,
}

impl Default for AdaptiveBit {
    fn default() -> Self {
        Self::new()
    }
}

impl AdaptiveBit {
    /// A model that has seen nothing: probability one half.
    pub const fn new() -> Self {
        Self {
            fast: TOTAL / 2,
            slow: TOTAL / 2,
            seen: 0,
        }
    }

    /// A model that starts at `P(1) = p_one / 2^16` (clamped to the range [`p_one`]
    /// gives) as if it had already seen `seen` decisions: a learned prior, which the
    /// young-model cap of [`AdaptiveBit::update`] then moves as slowly as an experienced
    /// model.
    ///
    /// [`p_one`]: AdaptiveBit::p_one
    pub const fn with_prior(p_one: u32, seen: u32) -> Self {
        let p = if p_one < MIN_PROBABILITY {
            MIN_PROBABILITY
        } else if p_one > TOTAL - MIN_PROBABILITY {
            TOTAL - MIN_PROBABILITY
        } else {
            p_one
        };
        Self {
            fast: p,
            slow: p,
            seen: if seen > 1 << 16 { 1 << 16 } else { seen },
        }
    }

    /// The probability of a 1, in units of `2^-16`, within
    /// `MIN_PROBABILITY..=TOTAL - MIN_PROBABILITY`.
    #[inline]
    pub fn p_one(&self) -> u32 {
        ((self.fast + self.slow) / 2).clamp(MIN_PROBABILITY, TOTAL - MIN_PROBABILITY)
    }

    /// Learns from `bit`: the fast estimator moves by `1/2^fast_shift` of its distance
    /// to the outcome, the slow one by `1/2^slow_shift` (shifts in `1..=15`).
    #[inline]
    pub fn update(&mut self, bit: bool, fast_shift: u32, slow_shift: u32) {
        // bit length of seen + 1: 1, 2, 2, 3, 3, 3, 3, 4, …
        let young = 32 - (self.seen + 1).leading_zeros();
        let (f, s) = (fast_shift.min(young), slow_shift.min(young));
        if bit {
            self.fast += (TOTAL - self.fast) >> f;
            self.slow += (TOTAL - self.slow) >> s;
        } else {
            self.fast -= self.fast >> f;
            self.slow -= self.slow >> s;
        }
        self.seen = (self.seen + 1).min(1 << 16);
    }
}

/// A binary decision with `P(1) = p_one / 2^16` as a constriction model.
#[derive(Clone, Copy)]
struct Binary {
    p_one: u32,
}

impl EntropyModel<PRECISION> for Binary {
    type Symbol = u32;
    type Probability = u32;
}

impl EncoderModel<PRECISION> for Binary {
    #[inline(always)]
    fn left_cumulative_and_probability(
        &self,
        symbol: impl std::borrow::Borrow<u32>,
    ) -> Option<(u32, NonZeroU32)> {
        let zero = TOTAL - self.p_one;
        match *symbol.borrow() {
            0 => NonZeroU32::new(zero).map(|p| (0, p)),
            1 => NonZeroU32::new(self.p_one).map(|p| (zero, p)),
            _ => None,
        }
    }
}

impl DecoderModel<PRECISION> for Binary {
    #[inline(always)]
    fn quantile_function(&self, quantile: u32) -> (u32, u32, NonZeroU32) {
        let zero = TOTAL - self.p_one;
        // Both probabilities are at least MIN_PROBABILITY (checked by the callers).
        if quantile < zero {
            (0, 0, NonZeroU32::new(zero).expect("nonzero"))
        } else {
            (1, zero, NonZeroU32::new(self.p_one).expect("nonzero"))
        }
    }
}

/// Flag of a bypass entry in [`BitWriter`]'s log.
const BYPASS: u32 = 1 << 31;

/// Flag of a table symbol's second word in [`BitWriter`]'s log.
const SYMBOL: u32 = 1 << 30;

/// Records binary decisions, bypass bits and table symbols, then codes them
/// ([`BitWriter::finish`]).
#[derive(Debug, Default)]
pub struct BitWriter<'a> {
    tables: Option<&'a CdfTables>,
    /// Per entry: `bit << 16 | p_one` (with `p_one < 2^16`), or
    /// `BYPASS | bits << 16 | value` for bypass bits, or two words `value as u32`,
    /// `SYMBOL | table` for a table symbol.
    log: Vec<u32>,
}

impl<'a> BitWriter<'a> {
    /// An empty writer for decisions and bypass bits.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty writer that can also code symbols of `tables` ([`BitWriter::symbol`]).
    pub fn with_tables(tables: &'a CdfTables) -> Self {
        Self {
            tables: Some(tables),
            log: Vec::new(),
        }
    }

    /// Records `value`, coded with table `index` (escape-coded outside its support).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] without tables or for an index out of range.
    pub fn symbol(&mut self, value: i32, index: u16) -> Result<()> {
        let n = self.tables.map_or(0, CdfTables::len);
        if usize::from(index) >= n {
            return Err(Error::InvalidInput(format!(
                "table index {index} out of range ({n} tables)"
            )));
        }
        self.log.push(value as u32);
        self.log.push(SYMBOL | u32::from(index));
        Ok(())
    }

    /// Records `bit`, coded with probability `p_one / 2^16` of a 1.
    ///
    /// # Panics
    /// If `p_one` is outside `MIN_PROBABILITY..=TOTAL - MIN_PROBABILITY` (the range of
    /// [`AdaptiveBit::p_one`]); a caller computes it, so this is a programming error.
    #[inline]
    pub fn bit(&mut self, bit: bool, p_one: u32) {
        assert!(
            (MIN_PROBABILITY..=TOTAL - MIN_PROBABILITY).contains(&p_one),
            "probability out of range"
        );
        self.log.push(u32::from(bit) << 16 | p_one);
    }

    /// Records `bit` with `model`'s probability, then lets `model` learn from it with
    /// the adaptation shifts `(fast, slow)` ([`AdaptiveBit::update`]).
    #[inline]
    pub fn adaptive_bit(&mut self, bit: bool, model: &mut AdaptiveBit, (fast, slow): (u32, u32)) {
        self.bit(bit, model.p_one());
        model.update(bit, fast, slow);
    }

    /// Records the `bits` low bits of `value` (`1 ≤ bits ≤ 16`), each with probability
    /// one half.
    ///
    /// # Panics
    /// If `bits` is out of range or `value` does not fit (a programming error).
    #[inline]
    pub fn bits(&mut self, value: u32, bits: u32) {
        assert!(
            (1..=16).contains(&bits) && value >> bits == 0,
            "bad bypass bits"
        );
        self.log.push(BYPASS | bits << 16 | value);
    }

    /// Records `x` (`1 ≤ x < 2^17`) as an Elias-gamma code in bypass bits:
    /// [`gamma_low_bits`]`(x)` in `length_bits` bits, then the bits of `x` below its
    /// leading one.
    ///
    /// # Panics
    /// If `x` is out of range or its length does not fit in `length_bits` (a
    /// programming error).
    #[inline]
    pub fn gamma(&mut self, x: u32, length_bits: u32) {
        let len = gamma_low_bits(x);
        assert!(x >= 1 && len <= 16, "bad gamma value");
        self.bits(len, length_bits);
        if len > 0 {
            self.bits(x & ((1 << len) - 1), len);
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    /// The entries from last to first, as the coder takes them.
    fn entries_backwards(&self) -> impl Iterator<Item = Entry> + '_ {
        let mut i = self.log.len();
        std::iter::from_fn(move || {
            i = i.checked_sub(1)?;
            let e = self.log[i];
            Some(if e & BYPASS != 0 {
                Entry::Bypass((e >> 16) & 0x1F, e & 0xFFFF)
            } else if e & SYMBOL != 0 {
                i -= 1;
                Entry::Symbol((e & 0xFFFF) as usize, self.log[i] as i32)
            } else {
                Entry::Bit(e >> 16 == 1, e & 0xFFFF)
            })
        })
    }

    /// The ideal code length of everything recorded, in bits (`−log2` of each
    /// decision's and symbol's probability, plus bypass and escape bits): what
    /// [`BitWriter::finish`] spends, up to the coder's last word. It can spend less: the
    /// coder starts empty, and a run of the last entries that are each the first symbol
    /// of their model (e.g. "not zero?" answered no) costs nothing there.
    pub fn ideal_bits(&self) -> f64 {
        self.entries_backwards()
            .map(|e| match e {
                Entry::Bypass(bits, _) => f64::from(bits),
                Entry::Bit(bit, p_one) => {
                    let p = f64::from(p_one) / f64::from(TOTAL);
                    -(if bit { p } else { 1.0 - p }).log2()
                }
                Entry::Symbol(ti, v) => self
                    .tables
                    .expect("symbols imply tables")
                    .symbol_bits(ti, v),
            })
            .sum()
    }

    /// Codes everything recorded, then [`STREAM_MARK`]: little-endian 32-bit words.
    pub fn finish(self) -> Vec<u8> {
        self.code(true)
    }

    /// Codes everything recorded without the mark, as `.ncx` version 1 files did (for
    /// tests of their decoders): empty when nothing was recorded.
    pub fn finish_unmarked(self) -> Vec<u8> {
        self.code(false)
    }

    fn code(self, marked: bool) -> Vec<u8> {
        let mut ans = DefaultAnsCoder::new();
        if marked {
            // Coded first, decoded last: the state becomes the mark itself.
            for half in [STREAM_MARK >> 16, STREAM_MARK & 0xFFFF] {
                ans.encode_symbol(half, Uniform { bits: 16 })
                    .expect("in range");
            }
        }
        // Every entry was checked when recorded: the `expect`s state invariants.
        for e in self.entries_backwards() {
            match e {
                Entry::Bypass(bits, value) => {
                    ans.encode_symbol(value, Uniform { bits })
                        .expect("in range");
                }
                Entry::Bit(bit, p_one) => {
                    ans.encode_symbol(u32::from(bit), Binary { p_one })
                        .expect("in range");
                }
                Entry::Symbol(ti, v) => {
                    push_symbol(&mut ans, self.tables.expect("symbols imply tables"), ti, v);
                }
            }
        }
        let words = ans.into_compressed().expect("Vec backend never fails");
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}

/// One recorded entry.
enum Entry {
    /// A decision and its probability of a 1.
    Bit(bool, u32),
    /// Bypass bits: count and value.
    Bypass(u32, u32),
    /// A table symbol: table and value.
    Symbol(usize, i32),
}

/// Decodes what a [`BitWriter`] wrote, in the order it was recorded.
pub struct BitReader<'a> {
    tables: Option<&'a CdfTables>,
    ans: DefaultAnsCoder,
    /// Whether the stream ends with [`STREAM_MARK`].
    marked: bool,
}

impl<'a> BitReader<'a> {
    /// Opens bytes written by [`BitWriter::finish`].
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the length is not a whole number of words or the stream
    /// ends with a zero word.
    pub fn new(data: &[u8]) -> Result<Self> {
        if !data.len().is_multiple_of(4) {
            return Err(Error::Corrupt("binary stream is not whole words"));
        }
        let words = data
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        Ok(Self {
            tables: None,
            ans: open_stream(words)?,
            marked: true,
        })
    }

    /// The same reader for a stream without the mark ([`BitWriter::finish_unmarked`],
    /// `.ncx` version 1 files).
    pub fn unmarked(self) -> Self {
        Self {
            marked: false,
            ..self
        }
    }

    /// Opens bytes written by a [`BitWriter::with_tables`] of the same `tables`.
    ///
    /// # Errors
    /// As [`BitReader::new`].
    pub fn with_tables(data: &[u8], tables: &'a CdfTables) -> Result<Self> {
        Ok(Self {
            tables: Some(tables),
            ..Self::new(data)?
        })
    }

    /// Decodes a value coded with table `index`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] without tables or for an index out of range;
    /// [`Error::Corrupt`] if the data does not decode.
    pub fn symbol(&mut self, index: u16) -> Result<i32> {
        let tables = self
            .tables
            .filter(|t| usize::from(index) < t.len())
            .ok_or_else(|| Error::InvalidInput(format!("table index {index} out of range")))?;
        decode_one(&mut self.ans, tables, usize::from(index))
    }

    /// Decodes a decision coded with probability `p_one / 2^16` of a 1.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for `p_one` outside
    /// `MIN_PROBABILITY..=TOTAL - MIN_PROBABILITY`; [`Error::Corrupt`] if the data does
    /// not decode.
    #[inline]
    pub fn bit(&mut self, p_one: u32) -> Result<bool> {
        if !(MIN_PROBABILITY..=TOTAL - MIN_PROBABILITY).contains(&p_one) {
            return Err(Error::InvalidInput(format!(
                "probability {p_one} out of range"
            )));
        }
        self.ans
            .decode_symbol(Binary { p_one })
            .map(|s| s == 1)
            .map_err(|_| Error::Corrupt("decoder failed"))
    }

    /// Decodes a decision recorded by [`BitWriter::adaptive_bit`] with `model` in the
    /// same state, and lets `model` learn from it the same way.
    ///
    /// # Errors
    /// As [`BitReader::bit`].
    #[inline]
    pub fn adaptive_bit(
        &mut self,
        model: &mut AdaptiveBit,
        (fast, slow): (u32, u32),
    ) -> Result<bool> {
        let bit = self.bit(model.p_one())?;
        model.update(bit, fast, slow);
        Ok(bit)
    }

    /// Decodes `bits` bypass bits (`1 ≤ bits ≤ 16`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for `bits` out of range; [`Error::Corrupt`] if the data
    /// does not decode.
    pub fn bits(&mut self, bits: u32) -> Result<u32> {
        if !(1..=16).contains(&bits) {
            return Err(Error::InvalidInput(format!("{bits} bypass bits")));
        }
        self.ans
            .decode_symbol(Uniform { bits })
            .map_err(|_| Error::Corrupt("decoder failed"))
    }

    /// Decodes a value written by [`BitWriter::gamma`] with the same `length_bits`.
    ///
    /// # Errors
    /// As [`BitReader::bits`]; [`Error::Corrupt`] for a length beyond 16 bits.
    pub fn gamma(&mut self, length_bits: u32) -> Result<u32> {
        let len = self.bits(length_bits)?;
        if len > 16 {
            return Err(Error::Corrupt("Elias-gamma length beyond 16 bits"));
        }
        let low = if len > 0 { self.bits(len)? } else { 0 };
        Ok(1 << len | low)
    }

    /// Checks that the stream ended exactly after the last decision (with its mark).
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the mark is not next or data is left over.
    pub fn finish(mut self) -> Result<()> {
        if self.marked {
            let low = self.bits(16)?;
            let high = self.bits(16)?;
            if high << 16 | low != STREAM_MARK {
                return Err(Error::Corrupt("stream does not end with its mark"));
            }
        }
        if !self.ans.is_empty() {
            return Err(Error::Corrupt("stream does not end where its symbols do"));
        }
        Ok(())
    }
}

/// How many bits of `x ≥ 1` an Elias-gamma code sends after its length: the bit length
/// of `x` minus one (0 for `x = 0` too). The code costs this plus its `length_bits`.
#[inline]
pub const fn gamma_low_bits(x: u32) -> u32 {
    31u32.saturating_sub(x.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift32 pseudo-random numbers.
    fn rng(seed: u32) -> impl FnMut() -> u32 {
        let mut s = seed;
        move || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s
        }
    }

    #[test]
    fn skewed_decisions_round_trip_and_cost_their_entropy() {
        // 20,000 decisions, 1 with probability 1/10, in two contexts, plus bypass bits.
        let mut next = rng(7);
        let data: Vec<(bool, u32)> = (0..20_000)
            .map(|_| (next().is_multiple_of(10), next() % 1000))
            .collect();
        let mut models = [AdaptiveBit::new(); 2];
        let mut w = BitWriter::new();
        for (i, &(b, v)) in data.iter().enumerate() {
            let m = &mut models[i % 2];
            w.bit(b, m.p_one());
            m.update(b, 4, 7);
            if i % 100 == 0 {
                w.bits(v, 10);
            }
        }
        let bytes = w.finish();
        // H(0.1) = 0.469 bits; an adaptive model pays a little more, bypass 10 bits each.
        let ideal = 20_000.0 * 0.469 + 200.0 * 10.0;
        let got = 8.0 * bytes.len() as f64;
        assert!(got > ideal && got < 1.08 * ideal, "{got} bits for {ideal}");

        let mut models = [AdaptiveBit::new(); 2];
        let mut r = BitReader::new(&bytes).unwrap();
        for (i, &(b, v)) in data.iter().enumerate() {
            let m = &mut models[i % 2];
            let got = r.bit(m.p_one()).unwrap();
            assert_eq!(got, b, "decision {i}");
            m.update(got, 4, 7);
            if i % 100 == 0 {
                assert_eq!(r.bits(10).unwrap(), v);
            }
        }
        r.finish().unwrap();
    }

    #[test]
    fn table_symbols_share_the_stream_with_decisions() {
        // Magnitudes from folded Laplace tables, signs as decisions, escapes included.
        let signed = crate::laplace_tables(&[0.7, 3.0], 1e-3).unwrap();
        let folded = CdfTables::new(&[
            signed.get(0).unwrap().folded().unwrap(),
            signed.get(1).unwrap().folded().unwrap(),
        ])
        .unwrap();
        assert_eq!(folded.get(1).unwrap().offset(), 0);
        let mut next = rng(11);
        let values: Vec<i32> = (0..3000)
            .map(|i| match next() % 50 {
                0 => -400,
                1 => 9000,
                k => (k as i32 % 9 - 4) * (i % 2 + 1),
            })
            .collect();
        let mut w = BitWriter::with_tables(&folded);
        assert!(w.symbol(0, 2).is_err());
        for (i, &v) in values.iter().enumerate() {
            w.symbol(v.abs(), (i % 2) as u16).unwrap();
            if v != 0 {
                w.bit(v < 0, TOTAL / 2);
            }
        }
        // The ideal length matches the signed tables' to within the escapes' extra bit.
        let signed_bits: f64 = values
            .iter()
            .enumerate()
            .map(|(i, &v)| signed.symbol_bits(i % 2, v))
            .sum();
        let ideal = w.ideal_bits();
        assert!(
            (ideal - signed_bits).abs() < 0.01 * signed_bits,
            "{ideal} vs {signed_bits}"
        );
        let bytes = w.finish();
        assert!((8 * bytes.len()) as f64 <= ideal + 64.0);
        assert!(BitReader::new(&bytes).unwrap().symbol(0).is_err());
        let mut r = BitReader::with_tables(&bytes, &folded).unwrap();
        for (i, &v) in values.iter().enumerate() {
            let m = r.symbol((i % 2) as u16).unwrap();
            let got = if m != 0 && r.bit(TOTAL / 2).unwrap() {
                -m
            } else {
                m
            };
            assert_eq!(got, v, "value {i}");
        }
        r.finish().unwrap();
        // Only a table symmetric about zero folds.
        assert!(
            crate::CdfTable::from_pmf(0, &[0.5, 0.25])
                .unwrap()
                .folded()
                .is_err()
        );
    }

    #[test]
    fn models_learn_quickly_and_stay_in_range() {
        let mut m = AdaptiveBit::new();
        assert_eq!(m.p_one(), TOTAL / 2);
        m.update(true, 4, 7);
        // The first update moves half way.
        assert_eq!(m.p_one(), 3 * TOTAL / 4);
        for _ in 0..10_000 {
            m.update(true, 4, 7);
        }
        // Saturated near certainty (the estimators stop moving when their step rounds
        // to zero), still inside the coder's range.
        let high = m.p_one();
        assert!(
            high > TOTAL - 100 && high <= TOTAL - MIN_PROBABILITY,
            "{high}"
        );
        for _ in 0..10_000 {
            m.update(false, 4, 7);
        }
        let low = m.p_one();
        assert!((MIN_PROBABILITY..100).contains(&low), "{low}");
    }

    #[test]
    fn gamma_codes_round_trip_between_decisions() {
        let values = [1u32, 2, 3, 7, 8, 255, 256, 32_768, 65_535];
        let mut model = AdaptiveBit::new();
        let mut w = BitWriter::new();
        for &x in &values {
            w.adaptive_bit(x % 2 == 1, &mut model, (4, 7));
            w.gamma(x, 4);
        }
        let data = w.finish();
        let mut model = AdaptiveBit::new();
        let mut r = BitReader::new(&data).unwrap();
        for &x in &values {
            assert_eq!(r.adaptive_bit(&mut model, (4, 7)).unwrap(), x % 2 == 1);
            assert_eq!(r.gamma(4).unwrap(), x);
        }
        r.finish().unwrap();
        assert_eq!(gamma_low_bits(1), 0);
        assert_eq!(gamma_low_bits(8), 3);
        assert_eq!(gamma_low_bits(131_071), 16);
        // A length of 17 or more in the stream is corrupt, not a panic.
        let mut w = BitWriter::new();
        w.bits(17, 5);
        w.bits(0, 16);
        w.bits(0, 1);
        let data = w.finish();
        let mut r = BitReader::new(&data).unwrap();
        assert!(matches!(r.gamma(5), Err(Error::Corrupt(_))));
    }

    #[test]
    fn a_prior_starts_where_it_says_and_moves_like_an_experienced_model() {
        let prior = AdaptiveBit::with_prior(TOTAL / 10, 1024);
        assert_eq!(prior.p_one(), TOTAL / 10);
        // Out-of-range priors are clamped into the coder's range.
        assert_eq!(AdaptiveBit::with_prior(0, 5).p_one(), MIN_PROBABILITY);
        assert_eq!(
            AdaptiveBit::with_prior(u32::MAX, 5).p_one(),
            TOTAL - MIN_PROBABILITY
        );
        // One surprise moves a fresh model half way, an experienced prior only by its
        // shifts.
        let (mut fresh, mut learned) = (AdaptiveBit::with_prior(TOTAL / 10, 0), prior);
        fresh.update(true, 4, 7);
        learned.update(true, 4, 7);
        assert!(fresh.p_one() > TOTAL / 2, "{}", fresh.p_one());
        let moved = learned.p_one() - TOTAL / 10;
        let expected = ((TOTAL - TOTAL / 10) >> 4) / 2 + ((TOTAL - TOTAL / 10) >> 7) / 2;
        assert!(moved.abs_diff(expected) <= 1, "{moved} vs {expected}");
    }
    #[test]
    fn bad_streams_are_errors_not_panics() {
        assert!(BitReader::new(&[1, 2, 3]).is_err());
        assert!(BitReader::new(&[0, 0, 0, 0]).is_err());
        let mut r = BitReader::new(&[]).unwrap();
        assert!(r.bit(0).is_err());
        assert!(r.bits(17).is_err());
        // Leftover data is reported.
        let mut w = BitWriter::new();
        for i in 0..100 {
            w.bit(i % 3 == 0, TOTAL / 2);
        }
        let bytes = w.finish();
        let mut r = BitReader::new(&bytes).unwrap();
        for i in 0..50 {
            assert_eq!(r.bit(TOTAL / 2).unwrap(), i % 3 == 0);
        }
        assert!(r.finish().is_err());
        // Nothing recorded: one word, the mark; an empty stream is refused, but reads as
        // finished without its mark (version 1).
        let marked = BitWriter::new().finish();
        assert_eq!(marked, STREAM_MARK.to_le_bytes());
        BitReader::new(&marked).unwrap().finish().unwrap();
        assert!(BitReader::new(&[]).unwrap().finish().is_err());
        assert!(BitWriter::new().finish_unmarked().is_empty());
        BitReader::new(&[]).unwrap().unmarked().finish().unwrap();
        // Random words decode to something or fail; never panic.
        let mut next = rng(3);
        for _ in 0..200 {
            let junk: Vec<u8> = (0..16).map(|_| next() as u8 | 1).collect();
            if let Ok(mut r) = BitReader::new(&junk) {
                for _ in 0..64 {
                    if r.bit(1000).is_err() || r.bits(7).is_err() {
                        break;
                    }
                }
            }
        }
    }
}
