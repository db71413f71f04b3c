//! Learned context model for integer latent planes (WaLLoC image latents, section `LATL`).
//!
//! [`crate::families::walloc::latent_context`] codes each residual with a Laplace table that the encoder
//! fits per image to one of 11 activity buckets, from a hand-made activity. Here the
//! activity is learned: a linear model per channel predicts a residual's expected
//! magnitude from integer features of what the decoder already knows (the gradients
//! around it, this channel's earlier residuals, and the residuals of the channels coded
//! before it, at and around the position). Its prediction picks one of [`FINE`] scale
//! buckets, a third of an octave apart. Each residual is then coded as binary decisions
//! (zero, sign, `|r| > 1 … 16`, an Elias-gamma escape beyond) with adaptive models per
//! bucket, which start from learned probabilities; the sign models are those of
//! section `LATS` ([`crate::families::walloc::latent_context`]) with learned starting points. Nothing is
//! fitted per image, so a channel's header is its prediction mode and median only.
//!
//! The model ([`LatentContextModel`], the file `context.bin` next to a model's weights)
//! is fitted by [`fit`] on the latents of training images (`ncodec train
//! latent-context`). Weights are fixed-point integers and the features are integers, so
//! the decoder computes the same buckets on every machine.
//!
//! Payload: the model's 8-byte id, per channel `mode u8, median i16 LE`, then one
//! [`BitReader`] stream of all residuals, channel after channel.

use ncodec_entropy::{AdaptiveBit, BitReader, BitWriter, gamma_low_bits, least_decision_bits};
use sha2::{Digest, Sha256};

use crate::context::binary_stream;
use crate::error::{Error, Result};
use crate::families::walloc::latent_context::{
    SIGN_CONTEXTS, SIGN_SHIFTS, context, neighbours, sign_context,
};

/// Scale buckets of the predicted magnitude.
pub const FINE: usize = 24;
/// Magnitude decisions per bucket: the zero flag, then `|r| > k` for `k = 1..=UNARY`.
const BINS: usize = 1 + UNARY as usize;
/// Unary magnitude decisions before the Elias-gamma escape.
const UNARY: u32 = 16;
/// Bypass bits of the Elias-gamma length field.
const GAMMA_LENGTH_BITS: u32 = 4;
/// Bucket groups: the first channel (a thumbnail of the image) and the others.
const GROUPS: usize = 2;
/// Magnitude models.
const MAGNITUDE_MODELS: usize = GROUPS * FINE * BINS;
/// Adaptation shifts (fast, slow) of the magnitude models.
const LEVEL_SHIFTS: (u32, u32) = (5, 9);
/// Adaptation shifts of the sign models (those of section `LATS`).
const SIGN_MODEL_SHIFTS: (u32, u32) = SIGN_SHIFTS;
/// A learned prior counts as this many decisions seen ([`AdaptiveBit::with_prior`]).
const PRIOR_SEEN: u32 = 1024;
/// Fractional bits of the weights and thresholds.
const FRACTION: u32 = 12;
/// Features of a position that do not come from other channels.
const OWN_FEATURES: usize = 11;
/// The smallest bucket threshold, in magnitudes: bucket `k` starts at
/// `FINE_BASE · 2^(k/3)`.
const FINE_BASE: f64 = 0.03;
/// Bytes of a model id.
pub const ID_BYTES: usize = 8;
const MAGIC: &[u8; 4] = b"NLCX";
const VERSION: u8 = 1;
/// Modes a channel may use (those of [`crate::families::walloc::latent_context`] without side activity).
const MODES: u8 = 2;
/// Bytes of a channel's header: mode and median.
const CHANNEL_HEADER: usize = 3;

/// Features of channel `ch`: [`OWN_FEATURES`], then two per earlier channel.
fn feature_count(ch: usize) -> usize {
    OWN_FEATURES + 2 * ch
}

/// A learned context model for latents of `channels` channels.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentContextModel {
    channels: usize,
    /// `channels × feature_count(channels − 1)` weights with [`FRACTION`] bits.
    weights: Vec<i32>,
    /// `FINE − 1` ascending thresholds of the prediction, with [`FRACTION`] bits.
    thresholds: Vec<i64>,
    /// Starting probabilities of a 1 (`2^-16` units): magnitude models, then sign models.
    priors: Vec<u16>,
    id: [u8; ID_BYTES],
}

impl LatentContextModel {
    fn stride(channels: usize) -> usize {
        feature_count(channels.saturating_sub(1))
    }

    fn from_parts(
        channels: usize,
        weights: Vec<i32>,
        thresholds: Vec<i64>,
        priors: Vec<u16>,
    ) -> Self {
        let mut m = Self {
            channels,
            weights,
            thresholds,
            priors,
            id: [0; ID_BYTES],
        };
        let digest = Sha256::digest(m.to_bytes());
        m.id.copy_from_slice(&digest[..ID_BYTES]);
        m
    }

    /// The model's id: the first bytes of the SHA-256 of its file, written in every
    /// payload so that a decoder with another model refuses the file.
    pub fn id(&self) -> [u8; ID_BYTES] {
        self.id
    }

    /// Latent channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The file's bytes: `NLCX`, version, channels (u8), thresholds (i64 LE), weights
    /// (i32 LE), priors (u16 LE).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.push(VERSION);
        out.push(self.channels as u8);
        for t in &self.thresholds {
            out.extend_from_slice(&t.to_le_bytes());
        }
        for w in &self.weights {
            out.extend_from_slice(&w.to_le_bytes());
        }
        for p in &self.priors {
            out.extend_from_slice(&p.to_le_bytes());
        }
        out
    }

    /// Parses a file written by [`LatentContextModel::to_bytes`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for anything else.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |what: &str| Error::InvalidArgument(format!("latent context model: {what}"));
        if bytes.len() < 6 || &bytes[..4] != MAGIC {
            return Err(bad("not a context model file"));
        }
        if bytes[4] != VERSION {
            return Err(bad("unknown version"));
        }
        let channels = usize::from(bytes[5]);
        if channels == 0 {
            return Err(bad("no channels"));
        }
        let n_w = channels * Self::stride(channels);
        let n_p = MAGNITUDE_MODELS + SIGN_CONTEXTS;
        let body = &bytes[6..];
        if body.len() != 8 * (FINE - 1) + 4 * n_w + 2 * n_p {
            return Err(bad("wrong size"));
        }
        let (t, rest) = body.split_at(8 * (FINE - 1));
        let (w, p) = rest.split_at(4 * n_w);
        let thresholds: Vec<i64> = t
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        if thresholds.windows(2).any(|p| p[0] > p[1]) {
            return Err(bad("thresholds not ascending"));
        }
        let weights = w
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        let priors = p
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        Ok(Self::from_parts(channels, weights, thresholds, priors))
    }

    /// Fresh adaptive models at their learned priors.
    fn models(&self) -> Vec<AdaptiveBit> {
        self.priors
            .iter()
            .map(|&p| AdaptiveBit::with_prior(u32::from(p), PRIOR_SEEN))
            .collect()
    }

    fn weights_of(&self, ch: usize) -> &[i32] {
        let s = Self::stride(self.channels);
        &self.weights[ch * s..ch * s + feature_count(ch)]
    }
}

/// The integer features of position `(i, j)` that do not come from other channels:
/// a constant, the two activities of [`crate::families::walloc::latent_context`], this channel's residual
/// magnitudes left, above, above left and above right, the gradient `|d − b|`, the
/// residual magnitudes two to the left and two above, and the larger of left and above.
#[inline]
fn own_features(
    y: &[i32],
    r: &[i32],
    w: usize,
    (i, j): (usize, usize),
    median: i32,
) -> [u32; OWN_FEATURES] {
    let (a, b, c) = neighbours(y, w, i, j);
    let d = if i > 0 && j + 1 < w {
        y[(i - 1) * w + j + 1]
    } else {
        b
    };
    let at = |ii: usize, jj: usize| r[ii * w + jj].unsigned_abs();
    let ra = if j > 0 { at(i, j - 1) } else { 0 };
    let rb = if i > 0 { at(i - 1, j) } else { 0 };
    let rc = if i > 0 && j > 0 { at(i - 1, j - 1) } else { 0 };
    let rd = if i > 0 && j + 1 < w {
        at(i - 1, j + 1)
    } else {
        0
    };
    let ra2 = if j > 1 { at(i, j - 2) } else { 0 };
    let rb2 = if i > 1 { at(i - 2, j) } else { 0 };
    [
        1,
        a.abs_diff(c)
            .saturating_add(b.abs_diff(c))
            .saturating_add(a.abs_diff(b)),
        a.abs_diff(median)
            .saturating_add(b.abs_diff(median))
            .saturating_add(c.abs_diff(median)),
        ra,
        rb,
        rc,
        rd,
        d.abs_diff(b),
        ra2,
        rb2,
        ra.max(rb),
    ]
}

/// The features from earlier channels at each position of an `h × w` plane: per
/// channel, its residual magnitude there and the sum of those of the four neighbours
/// (edges repeated). Calls `f(pos, k, value)` for feature `OWN_FEATURES + k`.
fn cross_features(earlier: &[Vec<u32>], h: usize, w: usize, mut f: impl FnMut(usize, usize, u32)) {
    for (jc, e) in earlier.iter().enumerate() {
        let at = |i: usize, j: usize| e[i * w + j];
        for i in 0..h {
            for j in 0..w {
                let pos = i * w + j;
                let around = at(i, j.saturating_sub(1))
                    .saturating_add(at(i, (j + 1).min(w - 1)))
                    .saturating_add(at(i.saturating_sub(1), j))
                    .saturating_add(at((i + 1).min(h - 1), j));
                f(pos, 2 * jc, e[pos]);
                f(pos, 2 * jc + 1, around);
            }
        }
    }
}

/// A sink of binary decisions: the coder, or a cost counter for the encoder's choices
/// and the trainer's statistics.
trait Sink {
    /// Codes `bit` with `models[idx]`, which then learns from it.
    fn bit(&mut self, bit: bool, models: &mut [AdaptiveBit], idx: usize, shifts: (u32, u32));
    /// Codes `x ≥ 1` as an Elias-gamma code in bypass bits
    /// ([`BitWriter::gamma`] with `GAMMA_LENGTH_BITS`).
    fn gamma(&mut self, x: u32);
}

impl Sink for BitWriter<'_> {
    #[inline]
    fn bit(&mut self, bit: bool, models: &mut [AdaptiveBit], idx: usize, shifts: (u32, u32)) {
        self.adaptive_bit(bit, &mut models[idx], shifts);
    }
    #[inline]
    fn gamma(&mut self, x: u32) {
        BitWriter::gamma(self, x, GAMMA_LENGTH_BITS);
    }
}

/// Ideal code length in bits.
struct Cost(f64);

impl Sink for Cost {
    #[inline]
    fn bit(&mut self, bit: bool, models: &mut [AdaptiveBit], idx: usize, shifts: (u32, u32)) {
        let p = f64::from(models[idx].p_one()) / f64::from(1u32 << 16);
        self.0 -= if bit { p } else { 1.0 - p }.log2();
        models[idx].update(bit, shifts.0, shifts.1);
    }
    #[inline]
    fn gamma(&mut self, x: u32) {
        self.0 += f64::from(GAMMA_LENGTH_BITS + gamma_low_bits(x));
    }
}

/// Decisions per model (how many, how many ones), for the trainer's priors.
struct Counts(Vec<(u64, u64)>);

impl Sink for Counts {
    #[inline]
    fn bit(&mut self, bit: bool, models: &mut [AdaptiveBit], idx: usize, shifts: (u32, u32)) {
        self.0[idx].0 += 1;
        self.0[idx].1 += u64::from(bit);
        models[idx].update(bit, shifts.0, shifts.1);
    }
    #[inline]
    fn gamma(&mut self, _x: u32) {}
}

/// One channel's coding contexts: the weights and the part of every position's
/// prediction that comes from earlier channels.
struct Channel<'a> {
    model: &'a LatentContextModel,
    weights: &'a [i32],
    cross: Vec<i64>,
    group: usize,
    mode: u8,
    median: i32,
    w: usize,
}

impl<'a> Channel<'a> {
    fn new(
        model: &'a LatentContextModel,
        ch: usize,
        earlier: &[Vec<u32>],
        (h, w): (usize, usize),
        mode: u8,
        median: i32,
    ) -> Self {
        let weights = model.weights_of(ch);
        let mut cross = vec![0i64; h * w];
        cross_features(earlier, h, w, |pos, k, v| {
            cross[pos] += i64::from(weights[OWN_FEATURES + k]) * i64::from(v);
        });
        Self {
            model,
            weights,
            cross,
            group: usize::from(ch > 0),
            mode,
            median,
            w,
        }
    }

    /// Prediction and magnitude model base of position `(i, j)`, given the values `y`
    /// and residuals `r` decoded so far.
    #[inline]
    fn at(&self, y: &[i32], r: &[i32], (i, j): (usize, usize)) -> (i32, usize) {
        let w = self.w;
        let (p, _) = context(self.mode, self.median, neighbours(y, w, i, j), 0);
        let own = own_features(y, r, w, (i, j), self.median);
        let pred = own
            .iter()
            .zip(self.weights)
            .fold(self.cross[i * w + j], |acc, (&f, &wt)| {
                acc + i64::from(f) * i64::from(wt)
            });
        let fine = self.model.thresholds.iter().filter(|&&t| pred >= t).count();
        (p, (self.group * FINE + fine) * BINS)
    }

    /// Codes the residuals of values `y` (all known to the encoder) into `sink`;
    /// returns them.
    fn encode<S: Sink>(&self, sink: &mut S, models: &mut [AdaptiveBit], y: &[i32]) -> Vec<i32> {
        let w = self.w;
        let mut r = vec![0i32; y.len()];
        for pos in 0..y.len() {
            let (i, j) = (pos / w, pos % w);
            let (p, base) = self.at(y, &r, (i, j));
            let v = y[pos] - p;
            r[pos] = v;
            sink.bit(v != 0, models, base, LEVEL_SHIFTS);
            if v == 0 {
                continue;
            }
            let s = sign_context(self.mode, &r, y, w, (i, j), neighbours(y, w, i, j));
            sink.bit(v < 0, models, MAGNITUDE_MODELS + s, SIGN_MODEL_SHIFTS);
            let m = v.unsigned_abs();
            let mut n = 1;
            while n <= UNARY {
                sink.bit(m > n, models, base + n as usize, LEVEL_SHIFTS);
                if m <= n {
                    break;
                }
                n += 1;
            }
            if n > UNARY {
                sink.gamma(m - UNARY);
            }
        }
        r
    }

    /// Decodes a channel written by [`Channel::encode`] into `y` (values within
    /// `±max`); returns the residuals.
    fn decode(
        &self,
        input: &mut BitReader,
        models: &mut [AdaptiveBit],
        y: &mut [i32],
        max: i32,
    ) -> Result<Vec<i32>> {
        let w = self.w;
        let mut r = vec![0i32; y.len()];
        for pos in 0..y.len() {
            let (i, j) = (pos / w, pos % w);
            let (p, base) = self.at(y, &r, (i, j));
            let v = if input.adaptive_bit(&mut models[base], LEVEL_SHIFTS)? {
                let s = sign_context(self.mode, &r, y, w, (i, j), neighbours(y, w, i, j));
                let negative =
                    input.adaptive_bit(&mut models[MAGNITUDE_MODELS + s], SIGN_MODEL_SHIFTS)?;
                let mut m = 1u32;
                while m <= UNARY {
                    if !input.adaptive_bit(&mut models[base + m as usize], LEVEL_SHIFTS)? {
                        break;
                    }
                    m += 1;
                }
                if m > UNARY {
                    m = UNARY + input.gamma(GAMMA_LENGTH_BITS)?;
                }
                // |v| ≤ 2·max keeps v + p within i32 for any |p| ≤ max.
                let m = i32::try_from(m)
                    .ok()
                    .filter(|&m| m <= max.saturating_mul(2))
                    .ok_or_else(|| Error::Corrupt("latent residual out of range".into()))?;
                if negative { -m } else { m }
            } else {
                0
            };
            r[pos] = v;
            match v.checked_add(p) {
                Some(x) if x.abs() <= max => y[pos] = x,
                _ => return Err(Error::Corrupt("latent out of the model's range".into())),
            }
        }
        Ok(r)
    }
}

/// The median of a channel (0 for an empty one).
fn median_of(y: &[i32]) -> i32 {
    let mut sorted = y.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or(0)
}

fn check_size(
    model: &LatentContextModel,
    values: usize,
    channels: usize,
    h: usize,
    w: usize,
) -> Result<()> {
    if channels != model.channels || values != channels * h * w {
        return Err(Error::InvalidArgument(format!(
            "{channels} latent planes of {h}×{w} do not fit a {}-channel context model",
            model.channels
        )));
    }
    Ok(())
}

/// Runs the encoder's choices over all channels into `sink`: per channel, the mode
/// whose residuals cost fewer bits with the models as they stand. Returns the header.
fn encode_into<S: Sink>(
    model: &LatentContextModel,
    sink: &mut S,
    models: &mut [AdaptiveBit],
    values: &[i32],
    h: usize,
    w: usize,
) -> Result<Vec<u8>> {
    let n = h * w;
    let mut head = Vec::with_capacity(model.channels * CHANNEL_HEADER);
    let mut earlier: Vec<Vec<u32>> = Vec::with_capacity(model.channels);
    for ch in 0..model.channels {
        let y = &values[ch * n..(ch + 1) * n];
        let median = median_of(y);
        let median16 = i16::try_from(median)
            .map_err(|_| Error::InvalidArgument("latent median outside i16".into()))?;
        let mode = (0..MODES)
            .map(|mode| {
                let mut trial = models.to_vec();
                let mut cost = Cost(0.0);
                Channel::new(model, ch, &earlier, (h, w), mode, median)
                    .encode(&mut cost, &mut trial, y);
                (cost.0, mode)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, m)| m)
            .expect("two modes");
        let r = Channel::new(model, ch, &earlier, (h, w), mode, median).encode(sink, models, y);
        earlier.push(r.iter().map(|v| v.unsigned_abs()).collect());
        head.push(mode);
        head.extend_from_slice(&median16.to_le_bytes());
    }
    Ok(head)
}

/// Codes `channels` planes of `h × w` integers (channel-major) with `model`; returns
/// the payload and its ideal size in bits (the estimate).
///
/// # Errors
/// [`Error::InvalidArgument`] if the planes do not fit the model or a median does not
/// fit `i16`.
pub fn encode_planes(
    model: &LatentContextModel,
    values: &[i32],
    channels: usize,
    h: usize,
    w: usize,
) -> Result<(Vec<u8>, f64)> {
    check_size(model, values.len(), channels, h, w)?;
    let mut stream = BitWriter::new();
    let mut models = model.models();
    let head = encode_into(model, &mut stream, &mut models, values, h, w)?;
    let mut out = model.id.to_vec();
    out.extend(head);
    let estimate = stream.ideal_bits();
    out.extend(stream.finish());
    Ok((out, estimate))
}

/// Decodes planes written by [`encode_planes`] with the same model, from a file of
/// container `version`; every value must lie in `−max ..= max`.
///
/// # Errors
/// [`Error::Unsupported`] if the payload names another context model;
/// [`Error::Corrupt`] or [`Error::Truncated`] for data that does not decode (checked
/// against the value count before anything is allocated for them).
pub fn decode_planes(
    model: &LatentContextModel,
    data: &[u8],
    channels: usize,
    h: usize,
    w: usize,
    max: i32,
    version: u8,
) -> Result<Vec<i32>> {
    if channels != model.channels {
        return Err(Error::Corrupt(format!(
            "{channels} latent channels for a {}-channel context model",
            model.channels
        )));
    }
    let head_len = ID_BYTES + channels * CHANNEL_HEADER;
    let head = data
        .get(..head_len)
        .ok_or_else(|| Error::Truncated("learned latent context header".into()))?;
    if head[..ID_BYTES] != model.id {
        return Err(Error::Unsupported(
            "the latents were coded with another latent context model".into(),
        ));
    }
    let n = h * w;
    let body = &data[head_len..];
    if n == 0 {
        return if body.is_empty() {
            Ok(Vec::new())
        } else {
            Err(Error::Corrupt("data after empty latents".into()))
        };
    }
    // Every value codes at least its zero flag.
    let least = (channels * n) as f64 * least_decision_bits();
    let mut input = binary_stream(body, None, version, least)?;
    let mut values = vec![0i32; channels * n];
    let mut models = model.models();
    let mut earlier: Vec<Vec<u32>> = Vec::with_capacity(channels);
    for (ch, y) in values.chunks_exact_mut(n).enumerate() {
        let hd = &head[ID_BYTES + ch * CHANNEL_HEADER..][..CHANNEL_HEADER];
        let mode = hd[0];
        if mode >= MODES {
            return Err(Error::Corrupt("bad latent prediction mode".into()));
        }
        let median = i32::from(i16::from_le_bytes([hd[1], hd[2]]));
        let r = Channel::new(model, ch, &earlier, (h, w), mode, median).decode(
            &mut input,
            &mut models,
            y,
            max,
        )?;
        earlier.push(r.iter().map(|v| v.unsigned_abs()).collect());
    }
    input.finish()?;
    Ok(values)
}

/// Integer latent planes of one image, for [`fit`].
#[derive(Debug, Clone)]
pub struct Planes {
    /// Channels.
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Channel-major values.
    pub values: Vec<i32>,
}

/// Normal equations of a weighted least-squares fit per channel.
struct Normal {
    xx: Vec<f64>,
    xy: Vec<f64>,
    k: usize,
}

impl Normal {
    fn new(k: usize) -> Self {
        Self {
            xx: vec![0.0; k * k],
            xy: vec![0.0; k],
            k,
        }
    }

    fn add(&mut self, x: &[f64], y: f64, weight: f64) {
        for u in 0..self.k {
            let wu = weight * x[u];
            self.xy[u] += wu * y;
            let row = &mut self.xx[u * self.k..(u + 1) * self.k];
            for (cell, &xv) in row[u..].iter_mut().zip(&x[u..self.k]) {
                *cell += wu * xv;
            }
        }
    }

    /// The solution (Gauss–Jordan with partial pivoting, a tiny ridge for features
    /// that never occur).
    fn solve(&self) -> Vec<f64> {
        let k = self.k;
        let mut a = vec![0.0; k * k];
        for u in 0..k {
            for v in u..k {
                a[u * k + v] = self.xx[u * k + v];
                a[v * k + u] = self.xx[u * k + v];
            }
            a[u * k + u] += 1e-6 * (1.0 + a[u * k + u]);
        }
        let mut b = self.xy.clone();
        for c in 0..k {
            let piv = (c..k)
                .max_by(|&x, &y| a[x * k + c].abs().total_cmp(&a[y * k + c].abs()))
                .expect("non-empty");
            for j in 0..k {
                a.swap(c * k + j, piv * k + j);
            }
            b.swap(c, piv);
            let d = a[c * k + c];
            for i in 0..k {
                if i != c {
                    let f = a[i * k + c] / d;
                    for j in 0..k {
                        a[i * k + j] -= f * a[c * k + j];
                    }
                    b[i] -= f * b[c];
                }
            }
        }
        (0..k).map(|i| b[i] / a[i * k + i]).collect()
    }
}

/// All features of channel `ch` at every position, for the fit (`f64`, row per
/// position), given residuals `r` of this channel under `mode`.
fn feature_rows(
    y: &[i32],
    r: &[i32],
    earlier: &[Vec<u32>],
    (h, w): (usize, usize),
    median: i32,
    ch: usize,
) -> Vec<f64> {
    let k = feature_count(ch);
    let mut rows = vec![0.0; h * w * k];
    for pos in 0..h * w {
        let own = own_features(y, r, w, (pos / w, pos % w), median);
        for (d, &f) in rows[pos * k..].iter_mut().zip(&own) {
            *d = f64::from(f);
        }
    }
    cross_features(earlier, h, w, |pos, i, v| {
        rows[pos * k + OWN_FEATURES + i] = f64::from(v);
    });
    rows
}

/// Residuals of channel `y` under `mode` (the predictions of [`crate::families::walloc::latent_context`]).
fn residuals(y: &[i32], w: usize, mode: u8, median: i32) -> Vec<i32> {
    (0..y.len())
        .map(|pos| {
            let (p, _) = context(mode, median, neighbours(y, w, pos / w, pos % w), 0);
            y[pos] - p
        })
        .collect()
}

/// Fits a context model for `channels`-channel latents on `images`: two rounds of
/// least squares for the expected residual magnitude (the second weighted by the first's
/// inverse prediction), then the starting probabilities of every model, counted while
/// coding the images with those weights. `progress` is called after each pass over an
/// image.
///
/// # Errors
/// [`Error::InvalidArgument`] if there are no images or one has another channel count.
pub fn fit(
    images: &[Planes],
    channels: usize,
    mut progress: impl FnMut(&str, usize),
) -> Result<LatentContextModel> {
    if images.is_empty() || channels == 0 || channels > 255 {
        return Err(Error::InvalidArgument("no latents to fit".into()));
    }
    if let Some(p) = images
        .iter()
        .find(|p| p.channels != channels || p.values.len() != channels * p.height * p.width)
    {
        return Err(Error::InvalidArgument(format!(
            "latents of {}×{}×{} in a {channels}-channel fit",
            p.channels, p.height, p.width
        )));
    }
    let stride = LatentContextModel::stride(channels);
    let thresholds: Vec<i64> = (1..FINE)
        .map(|k| {
            (FINE_BASE * 2f64.powf(k as f64 / 3.0) * f64::from(1u32 << FRACTION)).round() as i64
        })
        .collect();
    // Two rounds: unweighted, then weighted by 1 / (prediction + 0.1).
    let mut weights: Option<Vec<Vec<f64>>> = None;
    for round in 0..2 {
        let mut normals: Vec<Normal> = (0..channels)
            .map(|ch| Normal::new(feature_count(ch)))
            .collect();
        for (n_img, p) in images.iter().enumerate() {
            let (h, w) = (p.height, p.width);
            let mut earlier: Vec<Vec<u32>> = Vec::new();
            for (ch, y) in p.values.chunks_exact((h * w).max(1)).enumerate() {
                let median = median_of(y);
                // The mode with the smaller residuals (the encoder compares bits).
                let r = (0..MODES)
                    .map(|mode| residuals(y, w, mode, median))
                    .min_by_key(|r| r.iter().map(|v| u64::from(v.unsigned_abs())).sum::<u64>())
                    .expect("two modes");
                let k = feature_count(ch);
                let rows = feature_rows(y, &r, &earlier, (h, w), median, ch);
                for (pos, x) in rows.chunks_exact(k).enumerate() {
                    let weight = match &weights {
                        None => 1.0,
                        Some(wt) => {
                            let pred: f64 = x.iter().zip(&wt[ch]).map(|(a, b)| a * b).sum();
                            1.0 / (pred.max(0.1) + 0.1)
                        }
                    };
                    normals[ch].add(x, f64::from(r[pos].unsigned_abs()), weight);
                }
                earlier.push(r.iter().map(|v| v.unsigned_abs()).collect());
            }
            progress(if round == 0 { "fit" } else { "refit" }, n_img + 1);
        }
        weights = Some(normals.iter().map(Normal::solve).collect());
    }
    let weights = weights.expect("two rounds");
    let mut fixed = vec![0i32; channels * stride];
    for (ch, wt) in weights.iter().enumerate() {
        for (d, &v) in fixed[ch * stride..].iter_mut().zip(wt) {
            *d = (v * f64::from(1u32 << FRACTION))
                .round()
                .clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32;
        }
    }
    // Priors: the frequency of ones per model while the encoder codes the images with
    // models at one half.
    let n_p = MAGNITUDE_MODELS + SIGN_CONTEXTS;
    let half = vec![1u16 << 15; n_p];
    let counting =
        LatentContextModel::from_parts(channels, fixed.clone(), thresholds.clone(), half);
    let mut counts = Counts(vec![(0, 0); n_p]);
    for (n_img, p) in images.iter().enumerate() {
        let mut models = counting.models();
        encode_into(
            &counting,
            &mut counts,
            &mut models,
            &p.values,
            p.height,
            p.width,
        )?;
        progress("priors", n_img + 1);
    }
    let priors = counts
        .0
        .iter()
        .map(|&(n, ones)| {
            let p = (ones as f64 + 0.5) / (n as f64 + 1.0);
            (p * 65536.0).round().clamp(1.0, 65535.0) as u16
        })
        .collect();
    Ok(LatentContextModel::from_parts(
        channels, fixed, thresholds, priors,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::FORMAT_VERSION;

    /// Smooth planes with noise, correlated magnitudes across channels.
    fn sample(c: usize, h: usize, w: usize, seed: u32) -> Vec<i32> {
        let mut s = seed;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s
        };
        let mut v = Vec::with_capacity(c * h * w);
        for ch in 0..c {
            for i in 0..h {
                for j in 0..w {
                    let base = if ch == 0 {
                        ((i * 3 + j * 2) % 40) as i32 - 20
                    } else {
                        0
                    };
                    let busy = (i / 4 + j / 4) % 2 == 0;
                    let noise =
                        (next() % if busy { 9 } else { 3 }) as i32 - if busy { 4 } else { 1 };
                    v.push(base + noise);
                }
            }
        }
        v
    }

    fn trained(c: usize) -> LatentContextModel {
        let images: Vec<Planes> = (0..3)
            .map(|k| Planes {
                channels: c,
                height: 12,
                width: 17,
                values: sample(c, 12, 17, 7 + k),
            })
            .collect();
        fit(&images, c, |_, _| {}).expect("fits")
    }

    #[test]
    fn round_trip_and_file() {
        let m = trained(3);
        let m2 = LatentContextModel::from_bytes(&m.to_bytes()).expect("parses");
        assert_eq!(m2, m);
        for (h, w) in [(1, 1), (5, 9), (16, 11)] {
            let v = sample(3, h, w, 99);
            let (bytes, est) = encode_planes(&m, &v, 3, h, w).expect("encodes");
            assert!(est > 0.0);
            assert_eq!(
                decode_planes(&m2, &bytes, 3, h, w, 64, FORMAT_VERSION).expect("decodes"),
                v
            );
        }
    }

    #[test]
    fn learned_model_beats_the_prior_free_one() {
        let m = trained(3);
        let v = sample(3, 24, 31, 5);
        let (learned, _) = encode_planes(&m, &v, 3, 24, 31).expect("encodes");
        let mut flat = m.clone();
        flat.priors.iter_mut().for_each(|p| *p = 1 << 15);
        let flat = LatentContextModel::from_bytes(&flat.to_bytes()).expect("parses");
        let (plain, _) = encode_planes(&flat, &v, 3, 24, 31).expect("encodes");
        assert!(
            learned.len() < plain.len(),
            "{} vs {}",
            learned.len(),
            plain.len()
        );
    }

    #[test]
    fn refuses_other_models_and_damage() {
        let m = trained(2);
        let v = sample(2, 8, 8, 3);
        let (bytes, _) = encode_planes(&m, &v, 2, 8, 8).expect("encodes");
        let mut other = m.clone();
        other.weights[0] += 1;
        let other = LatentContextModel::from_bytes(&other.to_bytes()).expect("parses");
        assert!(matches!(
            decode_planes(&other, &bytes, 2, 8, 8, 64, FORMAT_VERSION),
            Err(Error::Unsupported(_))
        ));
        // A cut header is an error; a cut stream may still decode (an rANS stream
        // ends in free decisions), within range. The container's CRC catches it.
        let head = ID_BYTES + 2 * CHANNEL_HEADER;
        for cut in 0..bytes.len() {
            match decode_planes(&m, &bytes[..cut], 2, 8, 8, 64, FORMAT_VERSION) {
                Ok(d) => assert!(cut >= head && d.iter().all(|x| x.abs() <= 64), "cut {cut}"),
                Err(e) => assert!(cut >= head || matches!(e, Error::Truncated(_)), "{e}"),
            }
        }
        for bit in ID_BYTES * 8..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            // Either a typed error or other planes within range: never a panic.
            if let Ok(d) = decode_planes(&m, &b, 2, 8, 8, 64, FORMAT_VERSION) {
                assert!(d.iter().all(|x| x.abs() <= 64));
            }
        }
        assert!(LatentContextModel::from_bytes(&m.to_bytes()[..20]).is_err());
        assert!(encode_planes(&m, &v, 3, 8, 8).is_err());
    }
}
