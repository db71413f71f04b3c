//! Context coding of integer latent planes (WaLLoC image latents, section `LATC`).
//!
//! A learned factorized prior codes each latent alone, but WaLLoC's latents are images
//! in their own right (the first principal channel is a thumbnail), so neighbours predict
//! them well. Each channel is coded in raster order as the residual `y − p` of a
//! prediction `p` from its causal neighbours `a` (left), `b` (above), `c` (above left):
//!
//! - mode 0: `p` = the channel's median `m`, activity `|a − m| + |b − m| + |c − m|`;
//! - mode 1: `p` = the median edge detector of LOCO-I (`min(a, b)` if `c ≥ max(a, b)`,
//!   `max(a, b)` if `c ≤ min(a, b)`, else `a + b − c`), activity
//!   `|a − c| + |b − c| + |a − b|`.
//!
//! Modes 2 and 3 predict as modes 0 and 1 and add to the activity a side activity from
//! the channels coded before (every channel after the first): where their residuals were
//! large, this one's tend to be too. With `s` the sum of the earlier channels' residual
//! magnitudes at a position, smoothed as `4·s + s_left + s_right + s_up + s_down` (edges
//! repeated), the side activity is that times [`CROSS_WEIGHT`] over `32 · channel`
//! (integer division). On the images-val photos at the unit step this saved 2.5 % of the
//! latents' bytes.
//!
//! The activity picks one of [`BUCKETS`] contexts; each context of each channel has a
//! zero-mean Laplace table from a fixed scale grid, chosen by the encoder for this image
//! and sent in the header with the mode and median. Everything the decoder computes is
//! integer arithmetic on decoded values, so it is exact on every machine.
//!
//! Payload: per channel `mode u8, median i16 LE, BUCKETS × scale index u8`, then one
//! entropy-coded stream of all residuals, channel after channel. Since section `LATS`
//! the stream codes each residual's magnitude with the chosen table folded to `|r|`,
//! then its sign with an adaptive model ([`ncodec_entropy::AdaptiveBit`]) picked by the
//! kind of prediction and by the signs of the neighbouring residuals and of the local
//! gradients: the edge detector leaves signs that depend on the texture around it.
//! Chosen on the images-val photos at the unit step (ideal code lengths, the encoder's
//! own choices of mode): a sign costs 0.88 bits instead of 1, which saves 2.8 % of the
//! latents' bytes; without the kind of prediction in the context 2.3 %; the upper-left
//! and upper-right residuals' signs instead of the gradients 2.2–2.3 %; sign models per
//! channel instead of shared 2.6 %. [`decode_planes`] also reads the older payloads
//! (signed residuals from the tables, sections `LATQ` and `LATC`). A model with a
//! learned context model codes the same predictions without per-image tables
//! ([`crate::families::walloc::latent_learned`], section `LATL`).

use ncodec_entropy::{AdaptiveBit, BitReader, BitWriter, SequentialDecoder};

use crate::context::binary_stream;

use crate::context::laplace::{GRID_SCALES, grid, grid_costs, histograms};
use crate::error::{Error, Result};

/// Upper bounds (exclusive) of the activity buckets but the last.
const EDGES: [u32; 10] = [1, 2, 3, 5, 7, 10, 14, 20, 28, 40];
/// Contexts per channel.
pub const BUCKETS: usize = EDGES.len() + 1;
/// Weight of the earlier channels' residual magnitudes in modes 2 and 3 (chosen on the
/// images-val photos among 8, 12, 16 and 24).
pub const CROSS_WEIGHT: u32 = 12;
/// The largest mode a payload may hold.
const MAX_MODE: u8 = 3;
const HEADER: usize = 3 + BUCKETS;

/// The causal neighbours `(a, b, c)` of `(i, j)`; missing ones repeat the nearest known
/// neighbour (0 at the first position).
#[inline]
pub(crate) fn neighbours(y: &[i32], w: usize, i: usize, j: usize) -> (i32, i32, i32) {
    match (i, j) {
        (0, 0) => (0, 0, 0),
        (0, _) => {
            let a = y[j - 1];
            (a, a, a)
        }
        (_, 0) => {
            let b = y[(i - 1) * w];
            (b, b, b)
        }
        _ => (y[i * w + j - 1], y[(i - 1) * w + j], y[(i - 1) * w + j - 1]),
    }
}

/// Sign contexts: per kind of prediction (the channel median or the edge detector),
/// 3⁶ combinations of signs (negative, zero, positive).
pub(crate) const SIGN_CONTEXTS: usize = 2 * 729;

/// Adaptation shifts (fast, slow) of the sign models.
pub(crate) const SIGN_SHIFTS: (u32, u32) = (4, 6);

/// The sign context of position `(i, j)` of a channel coded in `mode`: the kind of
/// prediction (`mode & 1`), the signs of the residuals to the left and above (`r`, this
/// channel's, 0 outside the plane) and of the gradients `a − c`, `b − c`, `a − b` and
/// `d − b` of the values (`d` above right, `b` where there is none).
#[inline]
pub(crate) fn sign_context(
    mode: u8,
    r: &[i32],
    y: &[i32],
    w: usize,
    (i, j): (usize, usize),
    n: (i32, i32, i32),
) -> usize {
    let (a, b, c) = n;
    let d = if i > 0 && j + 1 < w {
        y[(i - 1) * w + j + 1]
    } else {
        b
    };
    let ra = if j > 0 { r[i * w + j - 1] } else { 0 };
    let rb = if i > 0 { r[(i - 1) * w + j] } else { 0 };
    [ra, rb, a - c, b - c, a - b, d - b]
        .iter()
        .fold(usize::from(mode & 1), |acc, v| {
            acc * 3 + (v.signum() + 1) as usize
        })
}

/// Prediction and context bucket of a position.
#[inline]
pub(crate) fn context(
    mode: u8,
    median: i32,
    (a, b, c): (i32, i32, i32),
    side: u32,
) -> (i32, usize) {
    let (p, act) = if mode & 1 == 0 {
        let m = median;
        (m, a.abs_diff(m) + b.abs_diff(m) + c.abs_diff(m))
    } else {
        let (lo, hi) = (a.min(b), a.max(b));
        let p = if c >= hi {
            lo
        } else if c <= lo {
            hi
        } else {
            a + b - c
        };
        (p, a.abs_diff(c) + b.abs_diff(c) + a.abs_diff(b))
    };
    let act = if mode >= 2 {
        act.saturating_add(side)
    } else {
        act
    };
    (p, EDGES.iter().filter(|&&e| act >= e).count())
}

/// Side activities of channel `ch` (modes 2 and 3) from `acc`, the sum of the earlier
/// channels' residual magnitudes per position of an `h × w` plane.
fn sides(acc: &[u32], ch: usize, h: usize, w: usize) -> Vec<u32> {
    if ch == 0 {
        return vec![0; acc.len()];
    }
    let at = |i: usize, j: usize| acc[i * w + j];
    let div = 32 * ch as u32;
    let mut out = Vec::with_capacity(acc.len());
    for i in 0..h {
        for j in 0..w {
            let s = at(i, j)
                .saturating_mul(4)
                .saturating_add(at(i, j.saturating_sub(1)))
                .saturating_add(at(i, (j + 1).min(w - 1)))
                .saturating_add(at(i.saturating_sub(1), j))
                .saturating_add(at((i + 1).min(h - 1), j));
            out.push(s.saturating_mul(CROSS_WEIGHT) / div);
        }
    }
    out
}

/// An encoder's choice for one channel: cost, mode, residuals, buckets, scales.
type Choice = (f64, u8, Vec<i32>, Vec<usize>, [u8; BUCKETS]);

/// Residuals and buckets of one channel under `mode`.
fn residuals(
    y: &[i32],
    (h, w): (usize, usize),
    mode: u8,
    median: i32,
    side: &[u32],
) -> (Vec<i32>, Vec<usize>) {
    let mut r = Vec::with_capacity(h * w);
    let mut q = Vec::with_capacity(h * w);
    for i in 0..h {
        for j in 0..w {
            let (p, k) = context(mode, median, neighbours(y, w, i, j), side[i * w + j]);
            r.push(y[i * w + j] - p);
            q.push(k);
        }
    }
    (r, q)
}

/// Codes `channels` planes of `h × w` integers (channel-major); returns the bytes and
/// the bits the chosen tables assign to the residuals (the estimate).
///
/// # Errors
/// [`Error::InvalidArgument`] if `values` is not `channels·h·w` long or a median does
/// not fit `i16`; entropy-coder errors.
pub fn encode_planes(
    values: &[i32],
    channels: usize,
    h: usize,
    w: usize,
) -> Result<(Vec<u8>, f64)> {
    if values.len() != channels * h * w {
        return Err(Error::InvalidArgument(
            "latent planes have the wrong size".into(),
        ));
    }
    let g = grid();
    let mut out = Vec::with_capacity(channels * HEADER);
    let mut stream = BitWriter::with_tables(&g.folded);
    let mut signs = vec![AdaptiveBit::new(); SIGN_CONTEXTS];
    let mut acc = vec![0u32; h * w];
    for (ch, y) in values
        .chunks_exact((h * w).max(1))
        .take(channels)
        .enumerate()
    {
        let side = sides(&acc, ch, h, w);
        let mut sorted = y.to_vec();
        sorted.sort_unstable();
        let median = sorted[sorted.len() / 2];
        let median16 = i16::try_from(median)
            .map_err(|_| Error::InvalidArgument("latent median outside i16".into()))?;
        let mut best: Option<Choice> = None;
        // The first channel has no earlier ones: modes 2 and 3 would equal 0 and 1.
        let modes = if ch == 0 { 0..=1 } else { 0..=MAX_MODE };
        for mode in modes {
            let (r, q) = residuals(y, (h, w), mode, median, &side);
            // Histogram per bucket, then the cheapest scale per bucket.
            let hist = histograms(&r, &q, BUCKETS);
            let mut scales = [0u8; BUCKETS];
            let mut total = 0.0;
            for (k, hk) in hist.iter().enumerate() {
                if hk.is_empty() {
                    continue;
                }
                let (s, cost) = grid_costs(hk)
                    .into_iter()
                    .enumerate()
                    .min_by(|x, y| x.1.total_cmp(&y.1))
                    .expect("grid is not empty");
                scales[k] = s as u8;
                total += cost;
            }
            if best.as_ref().is_none_or(|b| total < b.0) {
                best = Some((total, mode, r, q, scales));
            }
        }
        let (_, mode, r, q, scales) = best.expect("two modes at least");
        for (a, v) in acc.iter_mut().zip(&r) {
            *a = a.saturating_add(v.unsigned_abs());
        }
        out.push(mode);
        out.extend_from_slice(&median16.to_le_bytes());
        out.extend_from_slice(&scales);
        for i in 0..h {
            for j in 0..w {
                let pos = i * w + j;
                stream.symbol(r[pos].abs(), u16::from(scales[q[pos]]))?;
                if r[pos] != 0 {
                    let m =
                        &mut signs[sign_context(mode, &r, y, w, (i, j), neighbours(y, w, i, j))];
                    stream.adaptive_bit(r[pos] < 0, m, SIGN_SHIFTS);
                }
            }
        }
    }
    let estimate = stream.ideal_bits();
    out.extend(stream.finish());
    Ok((out, estimate))
}

/// How a payload codes its residuals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatentCoding {
    /// Signed residuals from the Laplace tables: the first payloads (sections `LATQ` and
    /// `LATC`).
    Tables,
    /// Magnitudes from the folded tables, then adaptive signs: what [`encode_planes`]
    /// writes (section `LATS`).
    SignContexts,
}

/// The residual decoder of either coding.
enum Source<'a> {
    Tables(SequentialDecoder<'a>),
    SignContexts(BitReader<'a>, Vec<AdaptiveBit>),
}

/// Decodes planes written with `coding` ([`encode_planes`] writes
/// [`LatentCoding::SignContexts`]) into a file of container `version`; every value must
/// lie in `−max ..= max`.
///
/// # Errors
/// [`Error::Corrupt`] or [`Error::Truncated`] for data that does not decode to such
/// planes (checked against the value count before anything is allocated for them, for
/// the sign-context coding).
pub fn decode_planes(
    data: &[u8],
    channels: usize,
    h: usize,
    w: usize,
    max: i32,
    coding: LatentCoding,
    version: u8,
) -> Result<Vec<i32>> {
    let head_len = channels * HEADER;
    let head = data
        .get(..head_len)
        .ok_or_else(|| Error::Truncated("latent context header".into()))?;
    let g = grid();
    let n = h * w;
    let body = &data[head_len..];
    if channels * n == 0 {
        return if body.is_empty() {
            Ok(Vec::new())
        } else {
            Err(Error::Corrupt("data after empty latents".into()))
        };
    }
    let mut src = match coding {
        LatentCoding::Tables => Source::Tables(SequentialDecoder::new(&g.tables, body)?),
        LatentCoding::SignContexts => {
            // Every value codes at least its magnitude.
            let least = (channels * n) as f64 * g.folded.least_bits();
            Source::SignContexts(
                binary_stream(body, Some(&g.folded), version, least)?,
                vec![AdaptiveBit::new(); SIGN_CONTEXTS],
            )
        }
    };
    let mut values = vec![0i32; channels * n];
    let mut acc = vec![0u32; n];
    let mut r = vec![0i32; n];
    for (ch, y) in values.chunks_exact_mut(n).enumerate() {
        let side = sides(&acc, ch, h, w);
        let hd = &head[ch * HEADER..(ch + 1) * HEADER];
        let mode = hd[0];
        let median = i32::from(i16::from_le_bytes([hd[1], hd[2]]));
        let scales = &hd[3..];
        if mode > MAX_MODE || scales.iter().any(|&s| usize::from(s) >= GRID_SCALES) {
            return Err(Error::Corrupt("bad latent context header".into()));
        }
        for i in 0..h {
            for j in 0..w {
                let pos = i * w + j;
                let nb = neighbours(y, w, i, j);
                let (p, k) = context(mode, median, nb, side[pos]);
                let table = u16::from(scales[k]);
                let v = match &mut src {
                    Source::Tables(dec) => dec.decode(table)?,
                    Source::SignContexts(reader, signs) => {
                        let m = reader.symbol(table)?;
                        if m < 0 {
                            return Err(Error::Corrupt("negative latent magnitude".into()));
                        }
                        if m == 0 {
                            0
                        } else {
                            let model = &mut signs[sign_context(mode, &r, y, w, (i, j), nb)];
                            if reader.adaptive_bit(model, SIGN_SHIFTS)? {
                                -m
                            } else {
                                m
                            }
                        }
                    }
                };
                r[pos] = v;
                acc[pos] = acc[pos].saturating_add(v.unsigned_abs());
                match v.checked_add(p) {
                    Some(x) if x.abs() <= max => y[pos] = x,
                    _ => return Err(Error::Corrupt("latent out of the model's range".into())),
                }
            }
        }
    }
    match src {
        Source::Tables(dec) => dec.finish()?,
        Source::SignContexts(reader, _) => reader.finish()?,
    }
    Ok(values)
}
