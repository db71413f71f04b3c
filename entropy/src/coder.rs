//! rANS coding of symbol tensors over [`CdfTables`], built on constriction's `AnsCoder`.
//!
//! Why ANS and not range coding: on this machine constriction's ANS coder encoded table
//! models at 128 Msym/s against 85 Msym/s for its range coder, decoded slightly faster
//! (18.7 vs 17.1 Msym/s with binary-search tables), and produced 16 bytes less per
//! megasymbol (see `shared/notes`). We code whole tensors at once, so ANS's
//! last-in-first-out order costs nothing: the encoder walks the symbols backwards.
//!
//! Decoding speed comes from the table model below: a 256-bucket lookup table per
//! [`CdfTable`](crate::CdfTable) points at the first candidate symbol, so the quantile
//! function needs a load and (usually) no search at all.

use std::num::NonZeroU32;

use constriction::Stack;
use constriction::backends::ReadWords;
use constriction::stream::model::{DecoderModel, EncoderModel, EntropyModel};
use constriction::stream::stack::{AnsCoder, DefaultAnsCoder};
use constriction::stream::{Decode, Encode};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::table::{
    CdfTables, Escape, Head, LUT_BITS, NB_BITS, PRECISION, check_args, symbol_of, value_of_escape,
};

/// Largest number of independent streams in one coded tensor.
pub const MAX_STREAMS: usize = 4096;

/// One table, borrowed from a [`CdfTables`], as a constriction model.
#[derive(Clone, Copy)]
struct TableModel<'a> {
    cdf: &'a [u32],
    lut: &'a [u16],
}

impl EntropyModel<PRECISION> for TableModel<'_> {
    type Symbol = u32;
    type Probability = u32;
}

impl EncoderModel<PRECISION> for TableModel<'_> {
    #[inline(always)]
    fn left_cumulative_and_probability(
        &self,
        symbol: impl std::borrow::Borrow<u32>,
    ) -> Option<(u32, NonZeroU32)> {
        let s = *symbol.borrow() as usize;
        let left = *self.cdf.get(s)?;
        let right = *self.cdf.get(s + 1)?;
        NonZeroU32::new(right - left).map(|p| (left, p))
    }
}

impl DecoderModel<PRECISION> for TableModel<'_> {
    #[inline(always)]
    fn quantile_function(&self, quantile: u32) -> (u32, u32, NonZeroU32) {
        let mut s = usize::from(self.lut[(quantile >> (PRECISION - LUT_BITS)) as usize]);
        // The bucket's first symbol is at or left of the answer; tables are validated, so
        // cdf[len] = TOTAL > quantile bounds the scan.
        while self.cdf[s + 1] <= quantile {
            s += 1;
        }
        let left = self.cdf[s];
        let p = NonZeroU32::new(self.cdf[s + 1] - left)
            .expect("validated tables are strictly increasing");
        (s as u32, left, p)
    }
}

/// A uniform model over `bits`-bit integers (1 ≤ bits ≤ 16), used for escape payloads.
#[derive(Clone, Copy)]
pub(crate) struct Uniform {
    pub(crate) bits: u32,
}

impl EntropyModel<PRECISION> for Uniform {
    type Symbol = u32;
    type Probability = u32;
}

impl EncoderModel<PRECISION> for Uniform {
    #[inline]
    fn left_cumulative_and_probability(
        &self,
        symbol: impl std::borrow::Borrow<u32>,
    ) -> Option<(u32, NonZeroU32)> {
        let shift = PRECISION as u32 - self.bits;
        let v = *symbol.borrow();
        (v >> self.bits == 0).then(|| (v << shift, NonZeroU32::new(1 << shift).expect("nonzero")))
    }
}

impl DecoderModel<PRECISION> for Uniform {
    #[inline]
    fn quantile_function(&self, quantile: u32) -> (u32, u32, NonZeroU32) {
        let shift = PRECISION as u32 - self.bits;
        let v = quantile >> shift;
        (v, v << shift, NonZeroU32::new(1 << shift).expect("nonzero"))
    }
}

#[inline(always)]
fn model(tables: &CdfTables, h: Head, ti: usize) -> TableModel<'_> {
    let s = h.start as usize;
    TableModel {
        cdf: &tables.cdf[s..s + h.len as usize + 1],
        lut: &tables.lut[ti << LUT_BITS..(ti + 1) << LUT_BITS],
    }
}

fn encode_stream(tables: &CdfTables, symbols: &[i32], indexes: &[u16]) -> Result<Vec<u32>> {
    let mut ans = DefaultAnsCoder::new();
    for (&v, &ti) in symbols.iter().zip(indexes).rev() {
        push_symbol(&mut ans, tables, usize::from(ti), v);
    }
    let words = ans.into_compressed().expect("Vec backend never fails");
    // From its zero initial state, ANS codes a table's first entry without changing the
    // state: a piece made only of such symbols leaves no word at all, and its stream
    // could not be told from an empty one, which `decode` refuses.
    if words.is_empty() && !symbols.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{} symbols that are all their tables' lowest values cannot be coded",
            symbols.len()
        )));
    }
    Ok(words)
}

/// Checks, before anything is decoded or allocated for them, that `data` (as written by
/// [`encode`]) has room for `counts`: `(table index, symbol count)` pairs. Each symbol
/// costs at least the information of its table's most probable entry; data shorter than
/// half of that sum (plus room for ANS's state) cannot hold the symbols. [`decode`] makes
/// the same check per stream; this one needs no index per symbol, so a file that
/// promises billions of symbols is refused in constant memory.
///
/// # Errors
/// [`Error::Truncated`] if the data cannot hold the symbols or its stream directory is
/// cut off, [`Error::InvalidInput`] for a table index out of range.
pub fn ensure_room(tables: &CdfTables, data: &[u8], counts: &[(u16, u64)]) -> Result<()> {
    if let Some(&(bad, _)) = counts.iter().find(|(i, _)| usize::from(*i) >= tables.len()) {
        return Err(Error::InvalidInput(format!(
            "table index {bad} out of range ({} tables)",
            tables.len()
        )));
    }
    let word = |i: usize| -> Result<u64> {
        data.get(4 * i..4 * i + 4)
            .map(|b| u64::from(u32::from_le_bytes(b.try_into().expect("4 bytes"))))
            .ok_or(Error::Truncated("stream directory ends early"))
    };
    let k = (word(0)? as usize).min(MAX_STREAMS);
    let mut words = 0u64;
    for i in 0..k {
        words += word(1 + i)?;
    }
    let least = tables.least_bits_each();
    let bits: f64 = counts
        .iter()
        .map(|&(i, n)| n as f64 * least[usize::from(i)])
        .sum();
    let total: u64 = counts.iter().map(|&(_, n)| n).sum();
    let room = 32.0 * words as f64 + 128.0 * k as f64;
    if (total > 0 && words == 0) || room < 0.5 * bits {
        return Err(Error::Truncated(
            "the data is too short for the symbols it must hold",
        ));
    }
    Ok(())
}

/// Checks, before anything is decoded or allocated for them, that `data` (one ANS
/// stream: a [`crate::BitWriter`]'s, or an [`encode`] with one stream) can hold symbols
/// whose information is at least `least_bits` in total: the sum, over the symbols the
/// caller will decode, of what the cheapest outcome of each one's model costs (e.g.
/// [`crate::least_decision_bits`] per adaptive binary decision, or
/// [`CdfTables::least_bits`] per table symbol). An ANS stream of `n` bytes holds at most
/// `8n + 64` bits of information; data shorter than half the least is refused, so a file
/// that promises a billion symbols in a few bytes fails before any work.
///
/// # Errors
/// [`Error::Truncated`] if the data cannot hold the symbols.
pub fn ensure_stream_room(data: &[u8], least_bits: f64) -> Result<()> {
    let room = 8.0 * data.len() as f64 + 64.0;
    if room < 0.5 * least_bits {
        return Err(Error::Truncated(
            "the data is too short for the symbols it must hold",
        ));
    }
    Ok(())
}

/// Encodes `v` with table `ti` (in range), and its escape payload if any, onto `ans`.
pub(crate) fn push_symbol(ans: &mut DefaultAnsCoder, tables: &CdfTables, ti: usize, v: i32) {
    // Encoding into a Vec cannot fail, and every symbol is in range by construction;
    // the `expect`s below state invariants, not input checks.
    let h = tables.heads[ti];
    let (sym, esc) = symbol_of(h, v);
    if let Some(e) = esc {
        // Decode order is nb, side, chunks low-to-high; push in reverse.
        let chunks = e.nb.div_ceil(16);
        for c in (0..chunks).rev() {
            let bits = (e.nb - 16 * c).min(16);
            let val = ((e.low >> (16 * c)) & ((1 << bits) - 1)) as u32;
            ans.encode_symbol(val, Uniform { bits }).expect("in range");
        }
        ans.encode_symbol(u32::from(e.below), Uniform { bits: 1 })
            .expect("in range");
        ans.encode_symbol(e.nb, Uniform { bits: NB_BITS })
            .expect("in range");
    }
    ans.encode_symbol(sym, model(tables, h, ti))
        .expect("in range");
}

/// Decodes one symbol with table `ti`, and its escape payload if any.
#[inline(always)]
pub(crate) fn decode_one<B>(
    ans: &mut AnsCoder<u32, u64, B>,
    tables: &CdfTables,
    ti: usize,
) -> Result<i32>
where
    B: ReadWords<u32, Stack>,
{
    let h = tables.heads[ti];
    let sym = ans
        .decode_symbol(model(tables, h, ti))
        .map_err(|_| Error::Corrupt("decoder failed"))?;
    if sym + 1 < h.len {
        return Ok(h.offset + sym as i32);
    }
    let nb = ans
        .decode_symbol(Uniform { bits: NB_BITS })
        .map_err(|_| Error::Corrupt("decoder failed"))?;
    if nb > 32 {
        return Err(Error::Corrupt("escape length out of range"));
    }
    let below = ans
        .decode_symbol(Uniform { bits: 1 })
        .map_err(|_| Error::Corrupt("decoder failed"))?
        == 1;
    let mut low = 0u64;
    for c in 0..nb.div_ceil(16) {
        let bits = (nb - 16 * c).min(16);
        let val = ans
            .decode_symbol(Uniform { bits })
            .map_err(|_| Error::Corrupt("decoder failed"))?;
        low |= u64::from(val) << (16 * c);
    }
    value_of_escape(h, Escape { below, nb, low })
}

pub(crate) fn open_stream(words: Vec<u32>) -> Result<DefaultAnsCoder> {
    AnsCoder::from_compressed(words).map_err(|_| Error::Corrupt("stream ends with a zero word"))
}

fn decode_stream(
    tables: &CdfTables,
    words: &[u32],
    indexes: &[u16],
    out: &mut [i32],
) -> Result<()> {
    let mut ans = AnsCoder::<u32, u64, _>::from_compressed_slice(words)
        .map_err(|_| Error::Corrupt("stream ends with a zero word"))?;
    for (o, &ti) in out.iter_mut().zip(indexes) {
        *o = decode_one(&mut ans, tables, usize::from(ti))?;
    }
    // ANS is a bijection: a stream decoded with the models it was encoded with ends in
    // the initial state with every word consumed. Anything else means corruption.
    if !ans.is_empty() {
        return Err(Error::Corrupt("stream does not end where its symbols do"));
    }
    Ok(())
}

/// Decodes a single-stream buffer written by [`encode`] (with `streams = 1`) one symbol
/// at a time, so that each symbol's table can depend on the symbols decoded before it
/// (context modelling). The encoder knows every symbol, so it computes the same indexes
/// up front.
///
/// # Examples
/// ```
/// use ncodec_entropy::{CdfTable, CdfTables, SequentialDecoder, encode};
/// let t = CdfTables::new(&[
///     CdfTable::from_pmf(0, &[0.9, 0.1])?,
///     CdfTable::from_pmf(0, &[0.1, 0.9])?,
/// ])?;
/// // Each symbol's table is the previous symbol.
/// let symbols = [1, 1, 0, 0, 1];
/// let indexes = [0, 1, 1, 0, 0];
/// let bytes = encode(&t, &symbols, &indexes, 1)?;
/// let mut d = SequentialDecoder::new(&t, &bytes)?;
/// let mut prev = 0;
/// for &want in &symbols {
///     prev = d.decode(prev as u16)?;
///     assert_eq!(prev, want);
/// }
/// d.finish()?;
/// # Ok::<(), ncodec_entropy::Error>(())
/// ```
pub struct SequentialDecoder<'a> {
    tables: &'a CdfTables,
    ans: DefaultAnsCoder,
}

impl<'a> SequentialDecoder<'a> {
    /// Opens `data`, which must hold exactly one stream.
    ///
    /// # Errors
    /// [`Error::Truncated`] or [`Error::Corrupt`] for malformed data.
    pub fn new(tables: &'a CdfTables, data: &[u8]) -> Result<Self> {
        let word = |i: usize| -> Result<u32> {
            data.get(4 * i..4 * i + 4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
                .ok_or(Error::Truncated("stream directory ends early"))
        };
        if word(0)? != 1 {
            return Err(Error::Corrupt(
                "a sequential stream must be a single stream",
            ));
        }
        let len = word(1)? as usize;
        if data.len() != 8 + 4 * len {
            return Err(Error::Corrupt("stream length does not match the data"));
        }
        let words = data[8..]
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        Ok(Self {
            tables,
            ans: open_stream(words)?,
        })
    }

    /// Decodes the next symbol with table `index`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an index out of range, [`Error::Corrupt`] if the data
    /// does not decode.
    pub fn decode(&mut self, index: u16) -> Result<i32> {
        let ti = usize::from(index);
        if ti >= self.tables.len() {
            return Err(Error::InvalidInput(format!(
                "table index {ti} out of range ({} tables)",
                self.tables.len()
            )));
        }
        decode_one(&mut self.ans, self.tables, ti)
    }

    /// Checks that the stream ended exactly after the last symbol.
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

/// Lengths of the `k` contiguous pieces that `n` symbols are split into.
fn split(n: usize, k: usize) -> impl Iterator<Item = usize> {
    let chunk = n.div_ceil(k.max(1)).max(1);
    (0..k).map(move |i| chunk.min(n.saturating_sub(i * chunk)))
}

/// Entropy-codes `symbols`, the `i`-th with table `indexes[i]`, into bytes.
///
/// The symbols are cut into `streams` contiguous pieces of equal length (the last one
/// shorter), each coded as an independent ANS stream in parallel, so that decoding can
/// run in parallel too. Any `i32` value round-trips: values outside a table's support are
/// coded through its escape entry.
///
/// Layout: `u32` stream count, one `u32` word count per stream, then the streams' 32-bit
/// words, all little-endian.
///
/// # Errors
/// [`Error::InvalidInput`] if the lengths differ, an index is out of range, or
/// `streams` is 0, above [`MAX_STREAMS`], or above the symbol count (when nonzero), or
/// if a stream's symbols are all the lowest values of their tables (ANS would code them
/// in no data at all, which [`decode`] cannot tell from a stream cut off).
///
/// # Examples
/// ```
/// use ncodec_entropy::{CdfTable, CdfTables, encode, decode};
/// let t = CdfTables::new(&[CdfTable::from_pmf(-2, &[0.1, 0.2, 0.4, 0.2, 0.1])?])?;
/// let symbols = [0, 1, -2, 7, 0];
/// let bytes = encode(&t, &symbols, &[0; 5], 1)?;
/// assert_eq!(decode(&t, &bytes, &[0; 5])?, symbols);
/// # Ok::<(), ncodec_entropy::Error>(())
/// ```
pub fn encode(
    tables: &CdfTables,
    symbols: &[i32],
    indexes: &[u16],
    streams: usize,
) -> Result<Vec<u8>> {
    check_args(tables, symbols.len(), indexes)?;
    if streams == 0 || streams > MAX_STREAMS || (!symbols.is_empty() && streams > symbols.len()) {
        return Err(Error::InvalidInput(format!(
            "stream count {streams} must be in 1..={} for {} symbols",
            MAX_STREAMS.min(symbols.len().max(1)),
            symbols.len()
        )));
    }
    let code = |streams: usize| -> Result<Vec<Vec<u32>>> {
        let pieces: Vec<(usize, usize)> = split(symbols.len(), streams)
            .scan(0, |start, len| {
                let s = *start;
                *start += len;
                Some((s, len))
            })
            .collect();
        pieces
            .par_iter()
            .map(|&(s, len)| encode_stream(tables, &symbols[s..s + len], &indexes[s..s + len]))
            .collect()
    };
    // A piece made only of its tables' lowest values leaves no data (see
    // `encode_stream`): then code everything as one stream.
    let coded = match code(streams) {
        Err(Error::InvalidInput(_)) if streams > 1 => code(1)?,
        other => other?,
    };
    let streams = coded.len();
    let words: usize = coded.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(4 * (1 + streams + words));
    out.extend_from_slice(&(streams as u32).to_le_bytes());
    for c in &coded {
        out.extend_from_slice(&(c.len() as u32).to_le_bytes());
    }
    for c in &coded {
        for w in c {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }
    Ok(out)
}

/// Decodes bytes written by [`encode`]; `indexes` must be the ones used to encode.
///
/// Streams are decoded in parallel. The number of symbols is `indexes.len()`; the caller
/// derives it from validated dimensions.
///
/// # Errors
/// [`Error::Truncated`] if the data ends before the streams it announces, or a stream is
/// empty or too short for its symbols (checked before decoding, from the least each
/// symbol can cost),
/// [`Error::Corrupt`] if it does not decode consistently (trailing data, a stream that
/// does not end exactly with its symbols, an escaped value outside `i32`),
/// [`Error::LimitExceeded`] for an absurd stream count, [`Error::InvalidInput`] for an
/// out-of-range table index.
pub fn decode(tables: &CdfTables, data: &[u8], indexes: &[u16]) -> Result<Vec<i32>> {
    check_args(tables, indexes.len(), indexes)?;
    let n = indexes.len();
    let word = |i: usize| -> Result<u32> {
        data.get(4 * i..4 * i + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            .ok_or(Error::Truncated("stream directory ends early"))
    };
    let k = word(0)? as usize;
    if k == 0 || k > MAX_STREAMS {
        return Err(Error::LimitExceeded {
            what: "stream count",
            value: k as u64,
            limit: MAX_STREAMS as u64,
        });
    }
    if n > 0 && k > n {
        return Err(Error::Corrupt("more streams than symbols"));
    }
    let mut lens = Vec::with_capacity(k);
    let mut total: u64 = 0;
    for i in 0..k {
        let l = word(1 + i)?;
        total += u64::from(l);
        lens.push(l as usize);
    }
    let body = &data[4 * (1 + k)..];
    if !body.len().is_multiple_of(4) {
        return Err(Error::Corrupt("stream data is not a whole number of words"));
    }
    let avail = (body.len() / 4) as u64;
    if total > avail {
        return Err(Error::Truncated(
            "stream data shorter than its directory says",
        ));
    }
    if total < avail {
        return Err(Error::Corrupt("trailing bytes after the last stream"));
    }
    let words: Vec<u32> = body
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect();
    let mut out = vec![0i32; n];
    let chunk = n.div_ceil(k).max(1);
    let mut word_slices = Vec::with_capacity(k);
    let mut w0 = 0;
    for &l in &lens {
        word_slices.push(&words[w0..w0 + l]);
        w0 += l;
    }
    // Pieces past the end of the symbols (when `chunk * k > n`) must be empty streams.
    if word_slices[n.div_ceil(chunk)..]
        .iter()
        .any(|w| !w.is_empty())
    {
        return Err(Error::Corrupt("data for symbols that do not exist"));
    }
    // Before any work: every piece's stream must be able to hold its symbols. An empty
    // stream cannot (the encoder never writes one, see `encode_stream`), and a stream
    // shorter than half the least its symbols can cost cannot either (the half leaves
    // room for ANS's state and rounding).
    let least = tables.least_bits_each();
    for (w, idx) in word_slices.iter().zip(indexes.chunks(chunk)) {
        if w.is_empty() && !idx.is_empty() {
            return Err(Error::Truncated("a stream ends before its symbols do"));
        }
        let bits: f64 = idx.iter().map(|&ti| least[usize::from(ti)]).sum();
        if 32.0 * w.len() as f64 + 128.0 < 0.5 * bits {
            return Err(Error::Truncated("a stream is too short for its symbols"));
        }
    }
    out.par_chunks_mut(chunk)
        .zip(indexes.par_chunks(chunk))
        .zip(word_slices.par_iter())
        .try_for_each(|((o, idx), w)| decode_stream(tables, w, idx, o))?;
    Ok(out)
}
