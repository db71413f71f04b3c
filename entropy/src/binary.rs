//! Adaptive binary coding: yes/no decisions whose probabilities the caller's context
//! model keeps up to date, coded on the same rANS coder as the tables.
//!
//! A context-adaptive coder binarises each value (is it zero? its sign? is its magnitude
//! above 1, above 2, …?) and codes each decision with the probability of an
//! [`AdaptiveBit`] picked by its context. Rare large values go through uniform "bypass"
//! bits. ANS decodes in the reverse order of encoding, so [`BitWriter`] records the
//! decisions with the probabilities they were coded with and encodes them backwards in
//! [`BitWriter::finish`]; [`BitReader`] decodes them forwards, and the caller updates
//! its models in the same order on both sides. Every probability is an integer, so a
//! stream decodes identically on any machine.
//!
//! ```
//! use ncodec_entropy::{AdaptiveBit, BitReader, BitWriter};
//! let bits = [true, true, false, true, true, true, false, true];
//! let mut model = AdaptiveBit::new();
//! let mut w = BitWriter::new();
//! for &b in &bits {
//!     w.bit(b, model.p_one());
//!     model.update(b, 4, 6);
//! }
//! w.bits(0b101, 3);
//! let bytes = w.finish();
//!
//! let mut model = AdaptiveBit::new();
//! let mut r = BitReader::new(&bytes)?;
//! for &b in &bits {
//!     let got = r.bit(model.p_one())?;
//!     assert_eq!(got, b);
//!     model.update(got, 4, 6);
//! }
//! assert_eq!(r.bits(3)?, 0b101);
//! r.finish()?;
//! # Ok::<(), ncodec_entropy::Error>(())
//! ```

use std::num::NonZeroU32;

use constriction::stream::model::{DecoderModel, EncoderModel, EntropyModel};
use constriction::stream::stack::{AnsCoder, DefaultAnsCoder};
use constriction::stream::{Decode, Encode};

use crate::coder::Uniform;
use crate::error::{Error, Result};
use crate::table::{PRECISION, TOTAL};

/// The smallest probability [`AdaptiveBit::p_one`] gives either outcome, in units of
/// `2^-16`: a decision never costs more than 11 bits.
pub const MIN_PROBABILITY: u32 = 32;

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

/// Records binary decisions and bypass bits, then codes them ([`BitWriter::finish`]).
#[derive(Debug, Default)]
pub struct BitWriter {
    /// Per entry: `bit << 16 | p_one` (with `p_one < 2^16`), or
    /// `BYPASS | bits << 16 | value` for bypass bits.
    log: Vec<u32>,
}

impl BitWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
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

    /// The number of entries recorded.
    pub fn len(&self) -> usize {
        self.log.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    /// The ideal code length of everything recorded, in bits (`−log2` of each
    /// decision's probability, plus the bypass bits): what [`BitWriter::finish`] spends,
    /// up to the coder's last word.
    pub fn ideal_bits(&self) -> f64 {
        self.log
            .iter()
            .map(|&e| {
                if e & BYPASS != 0 {
                    f64::from((e >> 16) & 0x1F)
                } else {
                    let p_one = f64::from(e & 0xFFFF) / f64::from(TOTAL);
                    -(if e >> 16 == 1 { p_one } else { 1.0 - p_one }).log2()
                }
            })
            .sum()
    }

    /// Codes everything recorded: little-endian 32-bit words, empty when nothing was.
    pub fn finish(self) -> Vec<u8> {
        let mut ans = DefaultAnsCoder::new();
        // Every entry was checked when recorded: the `expect`s state invariants.
        for &e in self.log.iter().rev() {
            if e & BYPASS != 0 {
                let bits = (e >> 16) & 0x1F;
                ans.encode_symbol(e & 0xFFFF, Uniform { bits })
                    .expect("in range");
            } else {
                ans.encode_symbol(e >> 16, Binary { p_one: e & 0xFFFF })
                    .expect("in range");
            }
        }
        let words = ans.into_compressed().expect("Vec backend never fails");
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}

/// Decodes what a [`BitWriter`] wrote, in the order it was recorded.
pub struct BitReader {
    ans: DefaultAnsCoder,
}

impl BitReader {
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
        let ans = AnsCoder::from_compressed(words)
            .map_err(|_| Error::Corrupt("stream ends with a zero word"))?;
        Ok(Self { ans })
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

    /// Checks that the stream ended exactly after the last decision.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if data is left over.
    pub fn finish(self) -> Result<()> {
        if !self.ans.is_empty() {
            return Err(Error::Corrupt("stream does not end where its symbols do"));
        }
        Ok(())
    }
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
        assert_eq!(w.len(), 20_200);
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
        // Nothing recorded: no bytes, and an empty stream reads as finished.
        assert!(BitWriter::new().finish().is_empty());
        BitReader::new(&[]).unwrap().finish().unwrap();
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
