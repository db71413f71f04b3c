//! Wavelet-domain refinement of WaLLoC images (section `RESQ`).
//!
//! WaLLoC's 12 latent channels cannot carry more than about 28 dB of detail, whatever
//! their quantisation step. The refinement levels add a second layer on top of a base
//! level: the encoder runs the decoder's synthesis network on its own latents, takes the
//! difference between the image's wavelet packet coefficients and the synthesised ones,
//! and codes that residual with a dead-zone scalar quantiser. The decoder adds the
//! dequantised residual to its synthesised coefficients before the inverse transform.
//!
//! The residual is first turned by an orthonormal colour transform ([`COLOUR`]: a luma
//! and two colour differences), per wavelet channel and position. The transform and the
//! wavelet packet are (nearly) orthonormal, so one step for all channels is the step that
//! minimises the pixel mean squared error for a rate.
//!
//! The integers are coded plane by plane (luma's `4^J` wavelet channels first, then the
//! two colour differences'), in raster order, as zero-mean values. A position's context
//! is the activity `2|a| + 2|b| + |c| + |d|` of its causal neighbours `a` (left), `b`
//! (above), `c` (above left), `d` (above right), plus a side activity from the planes
//! coded before it: twice the co-located luma value's magnitude (colour planes), and
//! [`ENERGY_WEIGHT`] times the mean magnitude of the co-located values in the same
//! group's earlier planes (integer division). The activity picks one of [`BUCKETS`]
//! buckets. The encoder sorts the planes into at most [`MAX_CLASSES`] classes and picks,
//! per class and bucket, a Laplace table from the fixed scale grid of
//! [`crate::families::walloc::latent_context`]. Every probability comes from integer arithmetic on decoded
//! values, so the decoder reads the same integers on every machine; the float synthesis
//! only moves the reconstruction, never the symbols.
//!
//! The quantiser has a dead zone ([`ROUNDING`] = 1/3): on the 24 validation photos it
//! saved about 10 % of the rate at equal PSNR against plain rounding. The encoder then
//! [`prune`]s isolated ±1 values whose bits in their context outweigh the error they
//! remove (about 2.4 % more).
//!
//! Payload: `classes u8`, then one class byte per plane ([`EMPTY`] for an all-zero plane,
//! which codes no symbols), then `classes × BUCKETS` scale indexes (u8), then one
//! entropy-coded stream of the non-empty planes' values.

use ncodec_entropy::{SequentialDecoder, encode};

use crate::error::{Error, Result};

use crate::context::laplace::{GRID_SCALES, grid, grid_costs, histograms};

/// The orthonormal colour transform applied to the residual (rows: luma, red − blue,
/// green against red and blue).
pub const COLOUR: [[f32; 3]; 3] = [
    [0.577_350_3, 0.577_350_3, 0.577_350_3],
    [
        std::f32::consts::FRAC_1_SQRT_2,
        0.0,
        -std::f32::consts::FRAC_1_SQRT_2,
    ],
    [0.408_248_3, -0.816_496_6, 0.408_248_3],
];

/// Upper bounds (exclusive) of the activity buckets but the last.
const EDGES: [u32; 13] = [1, 2, 3, 4, 6, 8, 11, 15, 20, 27, 36, 48, 64];
/// Activity contexts.
pub const BUCKETS: usize = EDGES.len() + 1;
/// The most plane classes a payload may hold.
pub const MAX_CLASSES: usize = 8;
/// Class byte of a plane that is all zero (no symbols coded).
pub const EMPTY: u8 = 0xFF;
/// The largest residual magnitude a payload may hold.
pub const MAX_VALUE: i32 = 4095;
/// Dead-zone rounding offset: `q = sign(t)·⌊|t|/Δ + ROUNDING⌋`.
pub const ROUNDING: f32 = 1.0 / 3.0;
/// Reconstruction offset towards zero: `t̂ = sign(q)·(|q| − RECON_OFFSET)·Δ`.
pub const RECON_OFFSET: f32 = 0.0;

/// Applies [`COLOUR`] (or, with `inverse`, its transpose) across the three colour groups
/// of `planes`: `3 × per` values, colour-major.
///
/// # Panics
/// If `planes` is not `3 · per` long.
pub fn colour_transform(planes: &mut [f32], per: usize, inverse: bool) {
    assert_eq!(planes.len(), 3 * per, "colour_transform: size");
    let (r, rest) = planes.split_at_mut(per);
    let (g, b) = rest.split_at_mut(per);
    for ((x, y), z) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
        [*x, *y, *z] = colour(&[*x, *y, *z], inverse);
    }
}

/// [`COLOUR`] (or its transpose) applied to one triple.
#[inline]
fn colour(v: &[f32; 3], inverse: bool) -> [f32; 3] {
    let m = |i: usize, j: usize| if inverse { COLOUR[j][i] } else { COLOUR[i][j] };
    let o = |i| m(i, 0) * v[0] + m(i, 1) * v[1] + m(i, 2) * v[2];
    [o(0), o(1), o(2)]
}

/// Adds the residual `values` (colour-major integers, as [`decode_residual`] returns)
/// to the synthesised coefficients `coeffs` of the same layout: dequantised at `step`,
/// turned back by the inverse colour transform. Equal to [`dequantise`], then
/// [`colour_transform`] with `inverse`, then an addition, without their buffers.
///
/// # Panics
/// If the two lengths differ or are not a multiple of 3.
pub fn add_residual(coeffs: &mut [f32], values: &[i32], step: f32) {
    assert!(
        coeffs.len() == values.len() && values.len().is_multiple_of(3),
        "add_residual: size"
    );
    let per = values.len() / 3;
    let (r, rest) = coeffs.split_at_mut(per);
    let (g, b) = rest.split_at_mut(per);
    for (pos, ((x, y), z)) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()).enumerate() {
        let v = [0, 1, 2].map(|c| dequantise_one(values[c * per + pos], step));
        let d = colour(&v, true);
        *x += d[0];
        *y += d[1];
        *z += d[2];
    }
}

/// Dead-zone quantisation at step `step` with offset [`ROUNDING`], clamped to
/// `±MAX_VALUE`.
pub fn quantise(values: &[f32], step: f32) -> Vec<i32> {
    quantise_with(values, step, ROUNDING)
}

/// Dead-zone quantisation at step `step`, `q = sign(t)·⌊|t|/Δ + rounding⌋`, clamped to
/// `±MAX_VALUE`. The offset is the encoder's choice; decoders reconstruct `q·Δ` whatever
/// it was.
pub fn quantise_with(values: &[f32], step: f32, rounding: f32) -> Vec<i32> {
    values
        .iter()
        .map(|&t| {
            let q = (t.abs() / step + rounding).floor().min(MAX_VALUE as f32) as i32;
            if t < 0.0 { -q } else { q }
        })
        .collect()
}

/// The reconstruction of [`quantise`]'s integers.
pub fn dequantise(values: &[i32], step: f32) -> Vec<f32> {
    values.iter().map(|&q| dequantise_one(q, step)).collect()
}

#[inline]
fn dequantise_one(q: i32, step: f32) -> f32 {
    match q {
        0 => 0.0,
        _ => q.signum() as f32 * (q.unsigned_abs() as f32 - RECON_OFFSET) * step,
    }
}

/// The causal neighbours `[a, b, c, d]` (left, above, above-left, above-right) of
/// position `(i, j)` of `plane` (`w` wide), 0 outside it.
#[inline]
pub(crate) fn neighbours(plane: &[i32], w: usize, i: usize, j: usize) -> [i32; 4] {
    let at = |i: usize, j: usize| plane[i * w + j];
    let a = if j > 0 { at(i, j - 1) } else { 0 };
    if i == 0 {
        return [a, 0, 0, 0];
    }
    let c = if j > 0 { at(i - 1, j - 1) } else { 0 };
    let d = if j + 1 < w { at(i - 1, j + 1) } else { 0 };
    [a, at(i - 1, j), c, d]
}

/// The activity bucket of a position with [`neighbours`] `n` and side activity `side`
/// (see [`Sides`]).
#[inline]
pub(crate) fn bucket_of(n: [i32; 4], side: u32) -> usize {
    let [a, b, c, d] = n.map(i32::unsigned_abs);
    // Values lie within ±MAX_VALUE, so the sum cannot overflow.
    let act = (2 * a + 2 * b + c + d).saturating_add(side);
    EDGES.iter().filter(|&&e| act >= e).count()
}

/// Context bucket of position `(i, j)` of `plane` (`w` wide, rows above decoded), with
/// the side activity `side` of the position (see [`Sides`]).
#[inline]
fn bucket(plane: &[i32], side: &[u32], w: usize, i: usize, j: usize) -> usize {
    bucket_of(neighbours(plane, w, i, j), side[i * w + j])
}

/// Side activity of each plane's positions from the planes coded before it: twice the
/// co-located luma value's magnitude (for the colour groups), plus the mean magnitude of
/// the co-located values of the same group's earlier planes, times [`ENERGY_WEIGHT`].
pub(crate) struct Sides<'a> {
    bands: usize,
    per: usize,
    /// Per group, the running sum of magnitudes over its planes coded so far.
    sums: Vec<u32>,
    /// The caller's side activity for every plane's positions (see
    /// [`encode_residual_with_prior`]), added to the rest.
    prior: Option<&'a [u32]>,
}

/// Weight of the earlier planes' mean magnitude in the side activity.
pub const ENERGY_WEIGHT: u32 = 6;

impl<'a> Sides<'a> {
    pub(crate) fn new(bands: usize, per: usize, prior: Option<&'a [u32]>) -> Self {
        Self {
            bands,
            per,
            sums: vec![0; 3 * per],
            prior,
        }
    }

    /// The side activity of plane `p`; `values` holds every plane before `p`.
    pub(crate) fn of(&self, values: &[i32], p: usize) -> Vec<u32> {
        let (g, k) = (p / self.bands, p % self.bands);
        let per = self.per;
        let sums = &self.sums[g * per..(g + 1) * per];
        let energy = |pos: usize| {
            if k == 0 {
                0
            } else {
                ENERGY_WEIGHT.saturating_mul(sums[pos]) / k as u32
            }
        };
        let mut side: Vec<u32> = if g == 0 {
            (0..per).map(energy).collect()
        } else {
            let luma = &values[k * per..(k + 1) * per];
            (0..per)
                .map(|pos| 2 * luma[pos].unsigned_abs() + energy(pos))
                .collect()
        };
        if let Some(prior) = self.prior {
            for (s, &e) in side.iter_mut().zip(&prior[p * per..(p + 1) * per]) {
                *s = s.saturating_add(e);
            }
        }
        side
    }

    /// Records plane `p`'s values.
    pub(crate) fn add(&mut self, plane: &[i32], p: usize) {
        let g = p / self.bands;
        for (s, v) in self.sums[g * self.per..(g + 1) * self.per]
            .iter_mut()
            .zip(plane)
        {
            *s = s.saturating_add(v.unsigned_abs());
        }
    }
}

/// Per bucket, the bits each grid table would spend on one plane: `[BUCKETS][SCALES]`.
fn plane_costs(plane: &[i32], side: &[u32], h: usize, w: usize) -> Vec<[f64; GRID_SCALES]> {
    let buckets: Vec<usize> = (0..h)
        .flat_map(|i| (0..w).map(move |j| (i, j)))
        .map(|(i, j)| bucket(plane, side, w, i, j))
        .collect();
    histograms(plane, &buckets, BUCKETS)
        .iter()
        .map(grid_costs)
        .collect()
}

/// The best scale per bucket for a set of planes' costs, and their total.
fn class_scales(costs: &[&Vec<[f64; GRID_SCALES]>]) -> ([u8; BUCKETS], f64) {
    let mut scales = [0u8; BUCKETS];
    let mut total = 0.0;
    for (k, s) in scales.iter_mut().enumerate() {
        let (best, cost) = (0..GRID_SCALES)
            .map(|i| (i, costs.iter().map(|c| c[k][i]).sum::<f64>()))
            .min_by(|x, y| x.1.total_cmp(&y.1))
            .expect("grid is not empty");
        *s = best as u8;
        total += cost;
    }
    (scales, total)
}

fn plane_cost(c: &[[f64; GRID_SCALES]], scales: &[u8; BUCKETS]) -> f64 {
    c.iter()
        .zip(scales)
        .map(|(ck, &s)| ck[usize::from(s)])
        .sum()
}

/// Sorts the planes with cost tables `costs` (their activity as the key) into `k`
/// classes: quantile start, then a few rounds of reassignment. Returns the class of each
/// plane, the classes' scales and the total bits.
fn cluster(
    costs: &[&Vec<[f64; GRID_SCALES]>],
    key: &[f64],
    k: usize,
) -> (Vec<usize>, Vec<[u8; BUCKETS]>, f64) {
    let n = costs.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| key[a].total_cmp(&key[b]));
    let mut class = vec![0usize; n];
    for (rank, &p) in order.iter().enumerate() {
        class[p] = rank * k / n;
    }
    let mut best = (class.clone(), Vec::new(), f64::INFINITY);
    for _ in 0..8 {
        let tables: Vec<([u8; BUCKETS], f64)> = (0..k)
            .map(|c| {
                let members: Vec<_> = (0..n)
                    .filter(|&p| class[p] == c)
                    .map(|p| costs[p])
                    .collect();
                if members.is_empty() {
                    ([0; BUCKETS], 0.0)
                } else {
                    class_scales(&members)
                }
            })
            .collect();
        let total: f64 = tables.iter().map(|t| t.1).sum();
        if total >= best.2 {
            break;
        }
        best = (class.clone(), tables.iter().map(|t| t.0).collect(), total);
        for (p, cl) in class.iter_mut().enumerate() {
            *cl = (0..k)
                .min_by(|&a, &b| {
                    plane_cost(costs[p], &tables[a].0)
                        .total_cmp(&plane_cost(costs[p], &tables[b].0))
                })
                .expect("k ≥ 1");
        }
    }
    best
}

/// Checks that `len` values make `3 · bands` planes of `per` positions.
pub(crate) fn check(len: usize, bands: usize, per: usize) -> Result<()> {
    if bands == 0 || Some(len) != bands.checked_mul(3).and_then(|p| p.checked_mul(per)) {
        return Err(Error::InvalidArgument(
            "residual planes have the wrong size".into(),
        ));
    }
    Ok(())
}

/// Checks that a prior has one value per position.
pub(crate) fn check_prior(prior: Option<&[u32]>, len: usize) -> Result<()> {
    match prior {
        Some(p) if p.len() != len => Err(Error::InvalidArgument(
            "residual prior has the wrong size".into(),
        )),
        _ => Ok(()),
    }
}

/// The encoder's choices for a set of planes: the non-empty planes, their classes, the
/// classes' scales, and the ideal bits of the values.
struct Plan {
    live: Vec<usize>,
    class: Vec<usize>,
    scales: Vec<[u8; BUCKETS]>,
    estimate: f64,
}

/// Chooses classes and tables for `values` (sizes already checked, `h·w > 0`).
fn plan(values: &[i32], bands: usize, h: usize, w: usize, prior: Option<&[u32]>) -> Plan {
    let per = h * w;
    let planes: Vec<&[i32]> = values.chunks_exact(per).collect();
    let live: Vec<usize> = (0..planes.len())
        .filter(|&p| planes[p].iter().any(|&v| v != 0))
        .collect();
    // Side activities one plane at a time, in coding order, as the decoder derives them.
    let mut sides = Sides::new(bands, per, prior);
    let mut costs: Vec<Vec<[f64; GRID_SCALES]>> = Vec::with_capacity(live.len());
    for (p, plane) in planes.iter().enumerate() {
        if live.binary_search(&p).is_ok() {
            costs.push(plane_costs(plane, &sides.of(values, p), h, w));
        }
        sides.add(plane, p);
    }
    let key: Vec<f64> = live
        .iter()
        .map(|&p| {
            planes[p]
                .iter()
                .map(|v| f64::from(v.unsigned_abs()))
                .sum::<f64>()
        })
        .collect();
    let refs: Vec<&Vec<[f64; GRID_SCALES]>> = costs.iter().collect();
    // The class count that minimises values plus class headers.
    let mut chosen = (Vec::new(), Vec::new(), 0.0);
    if !live.is_empty() {
        let mut best_total = f64::INFINITY;
        for k in 1..=MAX_CLASSES.min(live.len()) {
            let (class, scales, bits) = cluster(&refs, &key, k);
            let total = bits + (k * BUCKETS * 8) as f64;
            if total < best_total {
                best_total = total;
                chosen = (class, scales, bits);
            }
        }
    }
    let (class, scales, estimate) = chosen;
    Plan {
        live,
        class,
        scales,
        estimate,
    }
}

/// Rate–distortion pruning of a quantised residual: each ±1 whose bits (under the tables
/// the encoder would choose for `values`, in its context) cost more than `lambda` times
/// the squared-error increase of zeroing it, in units of the step, becomes 0. `scaled`
/// holds the unquantised values divided by the step. Only the encoder runs this; the
/// decoder reads whatever integers it is given.
///
/// # Errors
/// [`Error::InvalidArgument`] for sizes that do not match.
pub fn prune(
    values: &mut [i32],
    scaled: &[f32],
    bands: usize,
    h: usize,
    w: usize,
    lambda: f64,
) -> Result<()> {
    prune_with_prior(values, scaled, bands, h, w, lambda, None)
}

/// [`prune`] for values coded with [`encode_residual_with_prior`] and this `prior`.
///
/// # Errors
/// As [`prune`].
pub fn prune_with_prior(
    values: &mut [i32],
    scaled: &[f32],
    bands: usize,
    h: usize,
    w: usize,
    lambda: f64,
    prior: Option<&[u32]>,
) -> Result<()> {
    let per = h * w;
    check(values.len(), bands, per)?;
    check_prior(prior, values.len())?;
    if scaled.len() != values.len() {
        return Err(Error::InvalidArgument(
            "residual planes have the wrong size".into(),
        ));
    }
    if per == 0 {
        return Ok(());
    }
    let Plan {
        live,
        class,
        scales,
        ..
    } = plan(values, bands, h, w, prior);
    let g = grid();
    let mut table_of = vec![None; 3 * bands];
    for (i, &p) in live.iter().enumerate() {
        table_of[p] = Some(class[i]);
    }
    let mut sides = Sides::new(bands, per, prior);
    for p in 0..3 * bands {
        let side = sides.of(values, p);
        if let Some(c) = table_of[p] {
            let s = &scales[c];
            let plane = &mut values[p * per..(p + 1) * per];
            let u = &scaled[p * per..(p + 1) * per];
            for i in 0..h {
                for j in 0..w {
                    let v = plane[i * w + j];
                    if v.abs() != 1 {
                        continue;
                    }
                    let t = usize::from(s[bucket(plane, &side, w, i, j)]);
                    let extra_bits = g.bits(t, v) - g.bits(t, 0);
                    let a = f64::from(u[i * w + j].abs());
                    // Squared error after zeroing minus before: a² − (a − 1)².
                    if 2.0 * a - 1.0 < lambda * extra_bits {
                        plane[i * w + j] = 0;
                    }
                }
            }
        }
        sides.add(&values[p * per..(p + 1) * per], p);
    }
    Ok(())
}

/// Codes `3 · bands` planes of `h × w` residual integers (colour-major: luma's `bands`
/// planes first); returns the bytes and the ideal bits of the values (the estimate).
/// Since the adaptive coder ([`crate::context::adaptive`]) no codec writes this payload any
/// more (sections `RESQ` and `DWTQ`); it stays so that tests can make such payloads for
/// the decoders that still read them.
///
/// # Errors
/// [`Error::InvalidArgument`] for values of the wrong size or beyond `±MAX_VALUE`;
/// entropy-coder errors.
pub fn encode_residual(values: &[i32], bands: usize, h: usize, w: usize) -> Result<(Vec<u8>, f64)> {
    encode_residual_with_prior(values, bands, h, w, None)
}

/// [`encode_residual`] with a side activity `prior` from outside the planes (one value per
/// position of every plane, e.g. the magnitudes of a coarser wavelet level's co-located
/// values), added to every position's context activity. The decoder must be given the
/// same `prior` ([`decode_residual_with_prior`]).
///
/// # Errors
/// As [`encode_residual`], and [`Error::InvalidArgument`] for a `prior` of the wrong size.
pub fn encode_residual_with_prior(
    values: &[i32],
    bands: usize,
    h: usize,
    w: usize,
    prior: Option<&[u32]>,
) -> Result<(Vec<u8>, f64)> {
    let per = h * w;
    check(values.len(), bands, per)?;
    check_prior(prior, values.len())?;
    if per == 0 {
        let mut out = vec![EMPTY; 1 + 3 * bands];
        out[0] = 0;
        return Ok((out, 0.0));
    }
    if values.iter().any(|v| v.abs() > MAX_VALUE) {
        return Err(Error::InvalidArgument("residual beyond its range".into()));
    }
    let planes: Vec<&[i32]> = values.chunks_exact(per).collect();
    let Plan {
        live,
        class,
        scales,
        estimate,
    } = plan(values, bands, h, w, prior);
    let mut out = Vec::with_capacity(1 + planes.len() + scales.len() * BUCKETS);
    out.push(scales.len() as u8);
    let mut plane_class = vec![EMPTY; planes.len()];
    for (i, &p) in live.iter().enumerate() {
        plane_class[p] = class[i] as u8;
    }
    out.extend_from_slice(&plane_class);
    for s in &scales {
        out.extend_from_slice(s);
    }
    let mut symbols = Vec::new();
    let mut indexes = Vec::new();
    let mut sides = Sides::new(bands, per, prior);
    for (p, plane) in planes.iter().enumerate() {
        if plane_class[p] != EMPTY {
            let s = &scales[usize::from(plane_class[p])];
            let side = sides.of(values, p);
            for i in 0..h {
                for j in 0..w {
                    symbols.push(plane[i * w + j]);
                    indexes.push(u16::from(s[bucket(plane, &side, w, i, j)]));
                }
            }
        }
        sides.add(plane, p);
    }
    if !symbols.is_empty() {
        out.extend(encode(&grid().tables, &symbols, &indexes, 1)?);
    }
    Ok((out, estimate))
}

/// Decodes a payload written by [`encode_residual`] for `3 · bands` planes of `h × w`.
///
/// # Errors
/// [`Error::Truncated`] or [`Error::Corrupt`] for data that does not decode to such
/// planes, or values beyond `±MAX_VALUE`.
pub fn decode_residual(data: &[u8], bands: usize, h: usize, w: usize) -> Result<Vec<i32>> {
    decode_residual_with_prior(data, bands, h, w, None)
}

/// Decodes a payload written by [`encode_residual_with_prior`] with the same `prior`.
///
/// # Errors
/// As [`decode_residual`], and [`Error::InvalidArgument`] for a `prior` of the wrong size.
pub fn decode_residual_with_prior(
    data: &[u8],
    bands: usize,
    h: usize,
    w: usize,
    prior: Option<&[u32]>,
) -> Result<Vec<i32>> {
    let planes = 3 * bands;
    let per = h * w;
    check(planes * per, bands, per)?;
    check_prior(prior, planes * per)?;
    let (&classes, rest) = data
        .split_first()
        .ok_or_else(|| Error::Truncated("residual header".into()))?;
    let classes = usize::from(classes);
    if classes > MAX_CLASSES {
        return Err(Error::Corrupt(format!("{classes} residual classes")));
    }
    let head = planes + classes * BUCKETS;
    let hd = rest
        .get(..head)
        .ok_or_else(|| Error::Truncated("residual header".into()))?;
    let (plane_class, scale_bytes) = hd.split_at(planes);
    if plane_class
        .iter()
        .any(|&c| c != EMPTY && usize::from(c) >= classes)
        || scale_bytes.iter().any(|&s| usize::from(s) >= GRID_SCALES)
    {
        return Err(Error::Corrupt("bad residual header".into()));
    }
    let mut values = vec![0i32; planes * per];
    let body = &rest[head..];
    if per == 0 || plane_class.iter().all(|&c| c == EMPTY) {
        return if body.is_empty() {
            Ok(values)
        } else {
            Err(Error::Corrupt("data after an empty residual".into()))
        };
    }
    let mut dec = SequentialDecoder::new(&grid().tables, body)?;
    let mut sides = Sides::new(bands, per, prior);
    for p in 0..planes {
        let c = plane_class[p];
        if c == EMPTY {
            continue;
        }
        let side = sides.of(&values, p);
        let s = &scale_bytes[usize::from(c) * BUCKETS..(usize::from(c) + 1) * BUCKETS];
        let plane = &mut values[p * per..(p + 1) * per];
        for i in 0..h {
            for j in 0..w {
                let v = dec.decode(u16::from(s[bucket(plane, &side, w, i, j)]))?;
                if v.abs() > MAX_VALUE {
                    return Err(Error::Corrupt("residual beyond its range".into()));
                }
                plane[i * w + j] = v;
            }
        }
        sides.add(&values[p * per..(p + 1) * per], p);
    }
    dec.finish()?;
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random residual: sparse, heavier in low planes.
    fn sample(bands: usize, h: usize, w: usize) -> Vec<i32> {
        let mut s = 0x2545_f491_u32;
        (0..3 * bands * h * w)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let plane = i / (h * w);
                let spread = 1 + (3 * bands - plane) as u32 / 8;
                match s % (4 + plane as u32) {
                    0 => (s >> 8) as i32 % (spread as i32 * 3) - spread as i32,
                    _ => 0,
                }
            })
            .collect()
    }

    #[test]
    fn round_trip_with_empty_and_extreme_planes() {
        let (bands, h, w) = (4, 5, 7);
        let mut v = sample(bands, h, w);
        let per = h * w;
        v[3 * per..4 * per].fill(0);
        v[5] = MAX_VALUE;
        v[6] = -MAX_VALUE;
        let (bytes, est) = encode_residual(&v, bands, h, w).unwrap();
        assert!(est > 0.0);
        assert_eq!(bytes[1 + 3], EMPTY);
        assert_eq!(decode_residual(&bytes, bands, h, w).unwrap(), v);
    }

    #[test]
    fn all_zero_residual_is_header_only() {
        let v = vec![0; 3 * 2 * 9];
        let (bytes, est) = encode_residual(&v, 2, 3, 3).unwrap();
        assert_eq!(est, 0.0);
        assert_eq!(bytes, [0, EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, EMPTY]);
        assert_eq!(decode_residual(&bytes, 2, 3, 3).unwrap(), v);
        assert!(decode_residual(&[bytes.as_slice(), &[1]].concat(), 2, 3, 3).is_err());
    }

    #[test]
    fn bad_payloads_are_errors() {
        let v = sample(2, 4, 4);
        let (bytes, _) = encode_residual(&v, 2, 4, 4).unwrap();
        assert!(matches!(
            decode_residual(&[], 2, 4, 4),
            Err(Error::Truncated(_))
        ));
        assert!(decode_residual(&bytes[..4], 2, 4, 4).is_err());
        let mut b = bytes.clone();
        b[0] = MAX_CLASSES as u8 + 1;
        assert!(matches!(
            decode_residual(&b, 2, 4, 4),
            Err(Error::Corrupt(_))
        ));
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x5A;
            // Any flip is either rejected or decodes to other in-range values; never a
            // panic.
            if let Ok(d) = decode_residual(&b, 2, 4, 4) {
                assert!(d.iter().all(|x| x.abs() <= MAX_VALUE));
            }
        }
        assert!(encode_residual(&[MAX_VALUE + 1; 6], 2, 1, 1).is_err());
        assert!(encode_residual(&[0; 5], 2, 1, 1).is_err());
    }

    /// A prior changes the contexts: the payload round-trips with the same prior, an
    /// informative prior (the values' own magnitudes) lowers the estimate, a prior of the
    /// wrong size is refused, and no prior is the plain coder.
    #[test]
    fn prior_round_trips_and_informs_the_contexts() {
        let (bands, h, w) = (3, 8, 12);
        let v = sample(bands, h, w);
        let own: Vec<u32> = v.iter().map(|x| 4 * x.unsigned_abs()).collect();
        let (plain, plain_bits) = encode_residual(&v, bands, h, w).unwrap();
        let (none, _) = encode_residual_with_prior(&v, bands, h, w, None).unwrap();
        assert_eq!(plain, none);
        let (bytes, bits) = encode_residual_with_prior(&v, bands, h, w, Some(&own)).unwrap();
        assert!(bits < plain_bits, "{bits} vs {plain_bits}");
        assert_eq!(
            decode_residual_with_prior(&bytes, bands, h, w, Some(&own)).unwrap(),
            v
        );
        assert!(matches!(
            encode_residual_with_prior(&v, bands, h, w, Some(&own[1..])),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            decode_residual_with_prior(&bytes, bands, h, w, Some(&own[1..])),
            Err(Error::InvalidArgument(_))
        ));
    }

    /// Pruning turns some ±1 into 0 and touches nothing else; with λ = 0 it changes
    /// nothing, with a huge λ every ±1 goes, and it never raises the estimated bits.
    #[test]
    fn pruning_only_zeroes_unit_values_and_saves_bits() {
        let (bands, h, w) = (4, 6, 9);
        let v = sample(bands, h, w);
        // Unquantised values: the integers plus a deterministic offset within the cell.
        let scaled: Vec<f32> = v
            .iter()
            .enumerate()
            .map(|(i, &q)| q as f32 + ((i * 7919) % 13) as f32 / 13.0 * 0.6 - 0.3)
            .collect();
        let est = |x: &[i32]| encode_residual(x, bands, h, w).unwrap().1;
        let mut same = v.clone();
        prune(&mut same, &scaled, bands, h, w, 0.0).unwrap();
        assert_eq!(same, v);
        let mut all = v.clone();
        prune(&mut all, &scaled, bands, h, w, 1e9).unwrap();
        assert!(all.iter().all(|&x| x.abs() != 1));
        let mut some = v.clone();
        prune(&mut some, &scaled, bands, h, w, 0.14).unwrap();
        let mut changed = 0;
        for (a, b) in v.iter().zip(&some) {
            assert!(a == b || (a.abs() == 1 && *b == 0), "{a} became {b}");
            changed += usize::from(a != b);
        }
        assert!(changed > 0 && some != all);
        assert!(est(&some) < est(&v) && est(&all) < est(&some));
        assert!(prune(&mut some, &scaled[1..], bands, h, w, 0.1).is_err());
    }

    #[test]
    fn add_residual_equals_its_three_steps() {
        let q: Vec<i32> = (0..15).map(|i| (i * 7 % 11) - 5).collect();
        let base: Vec<f32> = (0..15).map(|i| (i as f32 * 0.3).cos()).collect();
        let mut want = dequantise(&q, 0.2);
        colour_transform(&mut want, 5, true);
        let want: Vec<f32> = base.iter().zip(&want).map(|(a, b)| a + b).collect();
        let mut got = base.clone();
        add_residual(&mut got, &q, 0.2);
        assert_eq!(got, want);
    }

    #[test]
    fn colour_transform_is_orthonormal_and_inverts() {
        let v: Vec<f32> = (0..12).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut t = v.clone();
        colour_transform(&mut t, 4, false);
        let energy = |x: &[f32]| x.iter().map(|a| a * a).sum::<f32>();
        assert!((energy(&t) - energy(&v)).abs() < 1e-5);
        colour_transform(&mut t, 4, true);
        for (a, b) in t.iter().zip(&v) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn quantiser_rounds_with_its_dead_zone() {
        let q = quantise(&[0.0, 0.3, -0.36, 1.2, -7.9, 1e9], 0.5);
        assert_eq!(q, [0, 0, -1, 2, -16, MAX_VALUE]);
        let d = dequantise(&q[..5], 0.5);
        assert_eq!(d[0], 0.0);
        assert_eq!(d[3], (2.0 - RECON_OFFSET) * 0.5);
        assert_eq!(d[4], -(16.0 - RECON_OFFSET) * 0.5);
    }
}
