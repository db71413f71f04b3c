//! Quality and rate metrics, one module for every media kind.
//!
//! Image metrics follow `shared/anchors/image/rdmetrics.py`, the Python reference that
//! produced the Kodak anchors (tested against values it computed, in
//! `tests/fixtures/rdmetrics.json`):
//! - PSNR on 8-bit RGB: MSE over all pixels of all three channels, `10·log10(255²/MSE)`;
//!   a dataset's PSNR is the mean of per-image PSNRs.
//! - MS-SSIM on RGB (Wang et al. 2003, as CompressAI): Gaussian window 11, σ 1.5, valid
//!   filtering, K1 0.01, K2 0.03, L 255, five scales with weights
//!   (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), contrast-structure at scales 1–4 and SSIM
//!   at scale 5, each clamped at 0, 2×2 average pooling (zero-padding odd sides), per
//!   channel then averaged.
//! - bits per pixel from the real bytes of a file (header included).
//! - audio SNR over all channels, `10·log10(Σ ref² / Σ (ref − decoded)²)`.
//!
//! BD-rate follows `shared/anchors/image/bdrate.py`: log10-rate as a function of quality,
//! piecewise cubic Hermite (PCHIP) interpolation integrated exactly over the overlapping
//! quality range.

use image::RgbImage;

use crate::error::{Error, Result};
use crate::media::audio::Audio;

/// Bits per pixel of a file of `bytes` bytes for a `width × height` image.
pub fn bits_per_pixel(bytes: usize, width: u32, height: u32) -> f64 {
    bytes as f64 * 8.0 / (f64::from(width) * f64::from(height))
}

fn check_same(a: &RgbImage, b: &RgbImage) -> Result<()> {
    if a.dimensions() != b.dimensions() {
        return Err(Error::InvalidArgument(format!(
            "image sizes differ: {:?} vs {:?}",
            a.dimensions(),
            b.dimensions()
        )));
    }
    Ok(())
}

/// Mean squared error over all samples of two RGB images.
///
/// # Errors
/// [`Error::InvalidArgument`] if the sizes differ.
pub fn mse_rgb(a: &RgbImage, b: &RgbImage) -> Result<f64> {
    check_same(a, b)?;
    let s: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum();
    Ok(s / a.as_raw().len() as f64)
}

/// PSNR in dB of 8-bit RGB images (infinite for identical images).
///
/// # Errors
/// [`Error::InvalidArgument`] if the sizes differ.
pub fn psnr_rgb(a: &RgbImage, b: &RgbImage) -> Result<f64> {
    let m = mse_rgb(a, b)?;
    Ok(if m == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / m).log10()
    })
}

/// How two signals differ sample by sample.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SampleDiff {
    /// Samples compared.
    pub samples: u64,
    /// Samples whose values differ.
    pub differing: u64,
    /// The largest absolute difference, in the signal's units (0–255 for 8-bit images,
    /// [−1, 1] for audio).
    pub max_abs: f64,
}

/// Which samples of two RGB images differ, and by how much at most.
///
/// # Errors
/// [`Error::InvalidArgument`] if the sizes differ.
pub fn sample_diff_rgb(a: &RgbImage, b: &RgbImage) -> Result<SampleDiff> {
    check_same(a, b)?;
    let pairs = a.as_raw().iter().zip(b.as_raw());
    Ok(sample_diff(
        pairs.map(|(&x, &y)| (f64::from(x), f64::from(y))),
    ))
}

/// Counts and bounds the differences of sample pairs.
fn sample_diff(pairs: impl Iterator<Item = (f64, f64)>) -> SampleDiff {
    let mut d = SampleDiff {
        samples: 0,
        differing: 0,
        max_abs: 0.0,
    };
    for (x, y) in pairs {
        d.samples += 1;
        if x != y {
            d.differing += 1;
            d.max_abs = d.max_abs.max((x - y).abs());
        }
    }
    d
}

fn check_same_audio(reference: &Audio, decoded: &Audio) -> Result<()> {
    let shape = |a: &Audio| (a.samples.len(), a.frames());
    if shape(reference) != shape(decoded) {
        return Err(Error::InvalidArgument(format!(
            "clips differ in (channels, frames): {:?} vs {:?}",
            shape(reference),
            shape(decoded)
        )));
    }
    Ok(())
}

/// SNR in dB of a decoded clip against its reference, over all channels:
/// `10·log10(Σ ref² / Σ (ref − decoded)²)` (infinite for identical clips).
///
/// # Errors
/// [`Error::InvalidArgument`] if the channel counts or lengths differ.
pub fn snr_audio(reference: &Audio, decoded: &Audio) -> Result<f64> {
    check_same_audio(reference, decoded)?;
    let (mut s, mut e) = (0f64, 0f64);
    for (x, y) in reference.samples.iter().zip(&decoded.samples) {
        for (&x, &y) in x.iter().zip(y) {
            s += f64::from(x).powi(2);
            e += (f64::from(x) - f64::from(y)).powi(2);
        }
    }
    Ok(if e == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (s / e).log10()
    })
}

/// Which samples of two clips differ, and by how much at most (in [−1, 1] units).
///
/// # Errors
/// [`Error::InvalidArgument`] if the channel counts or lengths differ.
pub fn sample_diff_audio(a: &Audio, b: &Audio) -> Result<SampleDiff> {
    check_same_audio(a, b)?;
    let pairs = a
        .samples
        .iter()
        .zip(&b.samples)
        .flat_map(|(x, y)| x.iter().zip(y));
    Ok(sample_diff(
        pairs.map(|(&x, &y)| (f64::from(x), f64::from(y))),
    ))
}

const MSSSIM_WEIGHTS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
const WIN: usize = 11;
const SIGMA: f64 = 1.5;

fn gaussian_window() -> [f64; WIN] {
    let mut g = [0.0; WIN];
    for (i, v) in g.iter_mut().enumerate() {
        let x = i as f64 - (WIN / 2) as f64;
        *v = (-(x * x) / (2.0 * SIGMA * SIGMA)).exp();
    }
    let s: f64 = g.iter().sum();
    g.map(|v| v / s)
}

/// A plane of `f64`, row-major.
struct Plane {
    w: usize,
    h: usize,
    v: Vec<f64>,
}

fn filter_valid(p: &Plane, win: &[f64; WIN]) -> Plane {
    let (oh, ow) = (p.h - (WIN - 1), p.w - (WIN - 1));
    let mut tmp = vec![0.0; oh * p.w];
    for y in 0..oh {
        for x in 0..p.w {
            let mut s = 0.0;
            for (k, wk) in win.iter().enumerate() {
                s += wk * p.v[(y + k) * p.w + x];
            }
            tmp[y * p.w + x] = s;
        }
    }
    let mut out = vec![0.0; oh * ow];
    for y in 0..oh {
        for x in 0..ow {
            let mut s = 0.0;
            for (k, wk) in win.iter().enumerate() {
                s += wk * tmp[y * p.w + x + k];
            }
            out[y * ow + x] = s;
        }
    }
    Plane {
        w: ow,
        h: oh,
        v: out,
    }
}

fn ssim_cs(x: &Plane, y: &Plane, win: &[f64; WIN]) -> (f64, f64) {
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let prod = |a: &Plane, b: &Plane| Plane {
        w: a.w,
        h: a.h,
        v: a.v.iter().zip(&b.v).map(|(p, q)| p * q).collect(),
    };
    let mx = filter_valid(x, win);
    let my = filter_valid(y, win);
    let sxx = filter_valid(&prod(x, x), win);
    let syy = filter_valid(&prod(y, y), win);
    let sxy = filter_valid(&prod(x, y), win);
    let n = mx.v.len() as f64;
    let (mut ssum, mut csum) = (0.0, 0.0);
    for i in 0..mx.v.len() {
        let (ux, uy) = (mx.v[i], my.v[i]);
        let vx = sxx.v[i] - ux * ux;
        let vy = syy.v[i] - uy * uy;
        let cxy = sxy.v[i] - ux * uy;
        let cs = (2.0 * cxy + c2) / (vx + vy + c2);
        let l = (2.0 * ux * uy + c1) / (ux * ux + uy * uy + c1);
        ssum += l * cs;
        csum += cs;
    }
    (ssum / n, csum / n)
}

fn avg_pool2(p: &Plane) -> Plane {
    let (w2, h2) = (p.w.div_ceil(2), p.h.div_ceil(2));
    let at = |x: usize, y: usize| {
        if x < p.w && y < p.h {
            p.v[y * p.w + x]
        } else {
            0.0
        }
    };
    let mut v = Vec::with_capacity(w2 * h2);
    for y in 0..h2 {
        for x in 0..w2 {
            v.push(
                0.25 * (at(2 * x, 2 * y)
                    + at(2 * x, 2 * y + 1)
                    + at(2 * x + 1, 2 * y)
                    + at(2 * x + 1, 2 * y + 1)),
            );
        }
    }
    Plane { w: w2, h: h2, v }
}

/// MS-SSIM of two 8-bit RGB images (mean over channels).
///
/// # Errors
/// [`Error::InvalidArgument`] if the sizes differ or a side is not larger than 160
/// pixels (five scales of an 11-tap window need that).
pub fn ms_ssim_rgb(a: &RgbImage, b: &RgbImage) -> Result<f64> {
    check_same(a, b)?;
    let (w, h) = (a.width() as usize, a.height() as usize);
    let min_side = (WIN - 1) << (MSSSIM_WEIGHTS.len() - 1);
    if w.min(h) <= min_side {
        return Err(Error::InvalidArgument(format!(
            "MS-SSIM needs sides larger than {min_side} pixels"
        )));
    }
    let win = gaussian_window();
    let mut total = 0.0;
    for c in 0..3 {
        let plane = |img: &RgbImage| Plane {
            w,
            h,
            v: img
                .as_raw()
                .iter()
                .skip(c)
                .step_by(3)
                .map(|&v| f64::from(v))
                .collect(),
        };
        let (mut x, mut y) = (plane(a), plane(b));
        let mut prod = 1.0;
        for (i, wt) in MSSSIM_WEIGHTS.iter().enumerate() {
            let (s, cs) = ssim_cs(&x, &y, &win);
            if i < MSSSIM_WEIGHTS.len() - 1 {
                prod *= cs.max(0.0).powf(*wt);
                x = avg_pool2(&x);
                y = avg_pool2(&y);
            } else {
                prod *= s.max(0.0).powf(*wt);
            }
        }
        total += prod;
    }
    Ok(total / 3.0)
}

/// A monotone piecewise cubic Hermite interpolant (SciPy's `PchipInterpolator`).
struct Pchip {
    x: Vec<f64>,
    y: Vec<f64>,
    d: Vec<f64>,
}

impl Pchip {
    fn new(x: Vec<f64>, y: Vec<f64>) -> Self {
        let n = x.len();
        let h: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
        let m: Vec<f64> = (0..n - 1).map(|k| (y[k + 1] - y[k]) / h[k]).collect();
        let mut d = vec![0.0; n];
        if n == 2 {
            d[0] = m[0];
            d[1] = m[0];
            return Self { x, y, d };
        }
        for k in 1..n - 1 {
            if m[k - 1] * m[k] > 0.0 {
                let w1 = 2.0 * h[k] + h[k - 1];
                let w2 = h[k] + 2.0 * h[k - 1];
                d[k] = (w1 + w2) / (w1 / m[k - 1] + w2 / m[k]);
            }
        }
        let edge = |h0: f64, h1: f64, m0: f64, m1: f64| {
            let d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
            if d.signum() != m0.signum() || m0 == 0.0 {
                0.0
            } else if m0.signum() != m1.signum() && d.abs() > 3.0 * m0.abs() {
                3.0 * m0
            } else {
                d
            }
        };
        d[0] = edge(h[0], h[1], m[0], m[1]);
        d[n - 1] = edge(h[n - 2], h[n - 3], m[n - 2], m[n - 3]);
        Self { x, y, d }
    }

    /// ∫ from x[k] to x[k] + t·h over segment k.
    fn seg_integral(&self, k: usize, t: f64) -> f64 {
        let h = self.x[k + 1] - self.x[k];
        let (t2, t3, t4) = (t * t, t * t * t, t * t * t * t);
        let h00 = t4 / 2.0 - t3 + t;
        let h10 = t4 / 4.0 - 2.0 * t3 / 3.0 + t2 / 2.0;
        let h01 = -t4 / 2.0 + t3;
        let h11 = t4 / 4.0 - t3 / 3.0;
        h * (h00 * self.y[k] + h10 * h * self.d[k] + h01 * self.y[k + 1] + h11 * h * self.d[k + 1])
    }

    /// ∫ from x[0] to `v` (v within the knots).
    fn antiderivative(&self, v: f64) -> f64 {
        let mut acc = 0.0;
        for k in 0..self.x.len() - 1 {
            if v >= self.x[k + 1] {
                acc += self.seg_integral(k, 1.0);
            } else {
                acc += self.seg_integral(k, (v - self.x[k]) / (self.x[k + 1] - self.x[k]));
                break;
            }
        }
        acc
    }

    fn integrate(&self, lo: f64, hi: f64) -> f64 {
        self.antiderivative(hi) - self.antiderivative(lo)
    }
}

/// Sorts by x, drops non-finite points and repeated x (keeping the first).
fn prep(xs: &[f64], ys: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {
    let mut pts: Vec<(f64, f64)> = xs
        .iter()
        .zip(ys)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(&x, &y)| (x, y))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    pts.dedup_by(|b, a| a.0 == b.0);
    (pts.len() >= 2).then(|| pts.into_iter().unzip())
}

/// Bjøntegaard delta rate of `test` against `reference`, in percent (negative: `test`
/// needs fewer bits for the same quality). Points are `(bpp, quality)`. `None` when the
/// quality ranges do not overlap or a curve has fewer than two distinct points.
pub fn bd_rate(reference: &[(f64, f64)], test: &[(f64, f64)]) -> Option<f64> {
    let curve = |c: &[(f64, f64)]| {
        let q: Vec<f64> = c.iter().map(|p| p.1).collect();
        let r: Vec<f64> = c.iter().map(|p| p.0.log10()).collect();
        prep(&q, &r)
    };
    let (rq, rr) = curve(reference)?;
    let (tq, tr) = curve(test)?;
    let lo = rq[0].max(tq[0]);
    let hi = rq[rq.len() - 1].min(tq[tq.len() - 1]);
    if hi <= lo {
        return None;
    }
    let it = Pchip::new(tq, tr).integrate(lo, hi);
    let ir = Pchip::new(rq, rr).integrate(lo, hi);
    Some((10f64.powf((it - ir) / (hi - lo)) - 1.0) * 100.0)
}

/// Bjøntegaard delta quality (BD-PSNR for PSNR): mean quality difference of `test` over
/// `reference` on the overlapping log-rate range.
pub fn bd_quality(reference: &[(f64, f64)], test: &[(f64, f64)]) -> Option<f64> {
    let curve = |c: &[(f64, f64)]| {
        let r: Vec<f64> = c.iter().map(|p| p.0.log10()).collect();
        let q: Vec<f64> = c.iter().map(|p| p.1).collect();
        prep(&r, &q)
    };
    let (rr, rq) = curve(reference)?;
    let (tr, tq) = curve(test)?;
    let lo = rr[0].max(tr[0]);
    let hi = rr[rr.len() - 1].min(tr[tr.len() - 1]);
    if hi <= lo {
        return None;
    }
    Some((Pchip::new(tr, tq).integrate(lo, hi) - Pchip::new(rr, rq).integrate(lo, hi)) / (hi - lo))
}

/// The points of a rate–quality curve that no other point dominates (another point with
/// no more bits and no less quality, better in one of them), in their original order.
/// A codec's levels need not all lie on its frontier (WaLLoC's base levels 4–7 are
/// beaten by refinement level 8 at a lower rate), and Bjøntegaard metrics assume a
/// monotone curve, so [`crate::eval::bd_against`] integrates this frontier.
pub fn rd_frontier(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    points
        .iter()
        .copied()
        .filter(|&(r, q)| {
            !points
                .iter()
                .any(|&(r2, q2)| r2 <= r && q2 >= q && (r2 < r || q2 > q))
        })
        .collect()
}
