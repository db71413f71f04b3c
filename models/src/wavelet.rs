//! Wavelet packet transform (WPT) with the CDF 9/7 filters (`bior4.4` in PyWavelets) and
//! periodic extension (PyWavelets' `mode="periodization"`), in 1D and 2D, with its exact
//! inverse. Built from Burn convolutions, so it runs on any device and is differentiable.
//!
//! One 2D level turns `[B, C, H, W]` into `[B, 4C, H/2, W/2]`: channel `4c + f` holds band
//! `f ∈ {A, H, V, D}` of input channel `c`, in PyWavelets' `dwt2` order
//! `(cA, (cH, cV, cD))`. A packet transform of `J` levels applies the level to *every*
//! channel again, giving `C·4^J` channels at `1/2^J` resolution. In 1D a level turns
//! `[B, C, L]` into `[B, 2C, L/2]` with channel `2c + f`, `f ∈ {A, D}`.
//!
//! ```text
//! analysis (per axis):  c_f[k] = Σ_j dec_f[j] · x[(2k + 5 − j) mod N]
//! synthesis (per axis): x[(2k − 4 + j) mod N] += Σ_f c_f[k] · rec_f[j]
//! ```
//!
//! The offsets 5 and −4 are PyWavelets' alignment for these 10-tap filters; the tests
//! compare against fixtures written by PyWavelets (`tests/fixtures/wavelet/`).
//!
//! For the classic image codec there is also one 2D level with *symmetric* extension
//! ([`dwt2_symmetric`], [`idwt2_symmetric`]), computed on the CPU by the CDF 9/7 lifting
//! steps: the same bands as the periodic level inside the plane, mirrored at its borders.

use burn::prelude::*;
use burn::tensor::module::{conv_transpose1d, conv_transpose2d, conv1d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

/// Analysis low-pass filter of `bior4.4` (PyWavelets `dec_lo`).
pub const DEC_LO: [f64; 10] = [
    0.0,
    0.037_828_455_507_264_04,
    -0.023_849_465_019_556_843,
    -0.110_624_404_418_437_18,
    0.377_402_855_612_830_66,
    0.852_698_679_008_893_8,
    0.377_402_855_612_830_66,
    -0.110_624_404_418_437_18,
    -0.023_849_465_019_556_843,
    0.037_828_455_507_264_04,
];
/// Analysis high-pass filter of `bior4.4` (PyWavelets `dec_hi`).
pub const DEC_HI: [f64; 10] = [
    0.0,
    -0.064_538_882_628_697_06,
    0.040_689_417_609_164_06,
    0.418_092_273_221_617_24,
    -0.788_485_616_405_582_9,
    0.418_092_273_221_617_24,
    0.040_689_417_609_164_06,
    -0.064_538_882_628_697_06,
    0.0,
    0.0,
];
/// Synthesis low-pass filter of `bior4.4` (PyWavelets `rec_lo`).
pub const REC_LO: [f64; 10] = [
    0.0,
    -0.064_538_882_628_697_06,
    -0.040_689_417_609_164_06,
    0.418_092_273_221_617_24,
    0.788_485_616_405_582_9,
    0.418_092_273_221_617_24,
    -0.040_689_417_609_164_06,
    -0.064_538_882_628_697_06,
    0.0,
    0.0,
];
/// Synthesis high-pass filter of `bior4.4` (PyWavelets `rec_hi`).
pub const REC_HI: [f64; 10] = [
    0.0,
    -0.037_828_455_507_264_04,
    -0.023_849_465_019_556_843,
    0.110_624_404_418_437_18,
    0.377_402_855_612_830_66,
    -0.852_698_679_008_893_8,
    0.377_402_855_612_830_66,
    0.110_624_404_418_437_18,
    -0.023_849_465_019_556_843,
    -0.037_828_455_507_264_04,
];

const TAPS: usize = 10;
/// Circular padding before the strided analysis correlation (left, right).
const A_PAD: (usize, usize) = (4, 4);
/// Circular padding of the coefficients before the synthesis transposed convolution.
const S_PAD: usize = 3;
/// Where the periodic signal starts in the transposed convolution's output: `2·S_PAD + 4`.
const S_SHIFT: usize = 2 * S_PAD + 4;

/// Circular padding along axis `dim` by `left` and `right` elements (any amounts, also
/// more than the length: the signal is periodic).
fn pad_circular<const D: usize>(x: Tensor<D>, dim: usize, left: usize, right: usize) -> Tensor<D> {
    let n = x.dims()[dim];
    let idx: Vec<i64> = (0..n + left + right)
        .map(|i| ((i + n * (left / n + 1) - left) % n) as i64)
        .collect();
    let idx = Tensor::<1, Int>::from_ints(idx.as_slice(), &x.device());
    x.select(dim, idx)
}

/// Analysis weights `[2, 1, TAPS]`: the decomposition filters reversed, because Burn's
/// convolution is a correlation.
fn analysis_weights(device: &Device) -> Tensor<3> {
    let w: Vec<f32> = DEC_LO
        .iter()
        .rev()
        .chain(DEC_HI.iter().rev())
        .map(|&v| v as f32)
        .collect();
    Tensor::<1>::from_floats(w.as_slice(), device).reshape([2, 1, TAPS])
}

/// Synthesis weights `[2, 1, TAPS]` for the transposed convolution (no reversal).
fn synthesis_weights(device: &Device) -> Tensor<3> {
    let w: Vec<f32> = REC_LO
        .iter()
        .chain(REC_HI.iter())
        .map(|&v| v as f32)
        .collect();
    Tensor::<1>::from_floats(w.as_slice(), device).reshape([2, 1, TAPS])
}

fn check_even(what: &str, n: usize) {
    assert!(
        n >= 2 && n.is_multiple_of(2),
        "wavelet {what}: length {n} must be even and at least 2"
    );
}

/// One 2D analysis level.
///
/// # Shapes
/// `[B, C, H, W]` → `[B, 4C, H/2, W/2]`.
///
/// # Panics
/// If `H` or `W` is odd.
pub fn dwt2(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    check_even("height", h);
    check_even("width", w);
    let device = x.device();
    let wts = analysis_weights(&device);
    // Along the width: [B·C, 1, H, W] → [B·C, 2, H, W/2] (channel = width band).
    let x = pad_circular(x.reshape([b * c, 1, h, w]), 3, A_PAD.0, A_PAD.1);
    let x = conv2d(
        x,
        wts.clone().reshape([2, 1, 1, TAPS]),
        None,
        ConvOptions::new([1, 2], [0, 0], [1, 1], 1),
    );
    // Along the height: [B·C·2, 1, H, W/2] → [B·C·2, 2, H/2, W/2].
    let x = pad_circular(x.reshape([b * c * 2, 1, h, w / 2]), 2, A_PAD.0, A_PAD.1);
    let x = conv2d(
        x,
        wts.reshape([2, 1, TAPS, 1]),
        None,
        ConvOptions::new([2, 1], [0, 0], [1, 1], 1),
    );
    // Index 4c + 2·w_band + h_band: A, H (detail along height), V, D as in PyWavelets.
    x.reshape([b, 4 * c, h / 2, w / 2])
}

/// Inverse of [`dwt2`].
///
/// # Shapes
/// `[B, 4C, h, w]` → `[B, C, 2h, 2w]`.
///
/// # Panics
/// If the channel count is not a multiple of 4.
pub fn idwt2(x: Tensor<4>) -> Tensor<4> {
    let [b, c4, h, w] = x.dims();
    assert!(
        c4.is_multiple_of(4),
        "idwt2: {c4} channels is not a multiple of 4"
    );
    let c = c4 / 4;
    let device = x.device();
    let wts = synthesis_weights(&device);
    // Along the height: [B·C·2, 2 (h band), h, w] → [B·C·2, 1, 2h, w].
    let x = pad_circular(x.reshape([b * c * 2, 2, h, w]), 2, S_PAD, S_PAD);
    let x = conv_transpose2d(
        x,
        wts.clone().reshape([2, 1, TAPS, 1]),
        None,
        ConvTransposeOptions::new([2, 1], [0, 0], [0, 0], [1, 1], 1),
    )
    .narrow(2, S_SHIFT, 2 * h);
    // Along the width: [B·C, 2 (w band), 2h, w] → [B·C, 1, 2h, 2w].
    let x = pad_circular(x.reshape([b * c, 2, 2 * h, w]), 3, S_PAD, S_PAD);
    let x = conv_transpose2d(
        x,
        wts.reshape([2, 1, 1, TAPS]),
        None,
        ConvTransposeOptions::new([1, 2], [0, 0], [0, 0], [1, 1], 1),
    )
    .narrow(3, S_SHIFT, 2 * w);
    x.reshape([b, c, 2 * h, 2 * w])
}

/// One 1D analysis level.
///
/// # Shapes
/// `[B, C, L]` → `[B, 2C, L/2]`.
///
/// # Panics
/// If `L` is odd.
pub fn dwt1(x: Tensor<3>) -> Tensor<3> {
    let [b, c, l] = x.dims();
    check_even("length", l);
    let wts = analysis_weights(&x.device());
    let x = pad_circular(x.reshape([b * c, 1, l]), 2, A_PAD.0, A_PAD.1);
    let x = conv1d(x, wts, None, ConvOptions::new([2], [0], [1], 1));
    x.reshape([b, 2 * c, l / 2])
}

/// Inverse of [`dwt1`].
///
/// # Shapes
/// `[B, 2C, l]` → `[B, C, 2l]`.
///
/// # Panics
/// If the channel count is odd.
pub fn idwt1(x: Tensor<3>) -> Tensor<3> {
    let [b, c2, l] = x.dims();
    assert!(
        c2.is_multiple_of(2),
        "idwt1: {c2} channels is not a multiple of 2"
    );
    let wts = synthesis_weights(&x.device());
    let x = pad_circular(x.reshape([b * c2 / 2, 2, l]), 2, S_PAD, S_PAD);
    let x = conv_transpose1d(
        x,
        wts,
        None,
        ConvTransposeOptions::new([2], [0], [0], [1], 1),
    )
    .narrow(2, S_SHIFT, 2 * l);
    x.reshape([b, c2 / 2, 2 * l])
}

/// `J`-level 2D wavelet packet analysis.
///
/// # Shapes
/// `[B, C, H, W]` → `[B, C·4^J, H/2^J, W/2^J]`.
///
/// # Panics
/// If `H` or `W` is not a multiple of `2^J`.
pub fn wpt2(mut x: Tensor<4>, levels: usize) -> Tensor<4> {
    for _ in 0..levels {
        x = dwt2(x);
    }
    x
}

/// Inverse of [`wpt2`].
///
/// # Shapes
/// `[B, C·4^J, h, w]` → `[B, C, h·2^J, w·2^J]`.
pub fn iwpt2(mut x: Tensor<4>, levels: usize) -> Tensor<4> {
    for _ in 0..levels {
        x = idwt2(x);
    }
    x
}

/// `J`-level 1D wavelet packet analysis.
///
/// # Shapes
/// `[B, C, L]` → `[B, C·2^J, L/2^J]`.
///
/// # Panics
/// If `L` is not a multiple of `2^J`.
pub fn wpt1(mut x: Tensor<3>, levels: usize) -> Tensor<3> {
    for _ in 0..levels {
        x = dwt1(x);
    }
    x
}

/// Inverse of [`wpt1`].
///
/// # Shapes
/// `[B, C·2^J, l]` → `[B, C, l·2^J]`.
pub fn iwpt1(mut x: Tensor<3>, levels: usize) -> Tensor<3> {
    for _ in 0..levels {
        x = idwt1(x);
    }
    x
}

/// One periodic analysis step along a line: `lo[k] = Σ_j DEC_LO[j]·x[(2k + 5 − j) mod n]`
/// and the same with `DEC_HI`, using a circularly padded copy in `buf`.
fn analyse_line(x: &[f32], lo: &mut [f32], hi: &mut [f32], buf: &mut Vec<f32>) {
    let n = x.len();
    buf.clear();
    // buf[i] = x[(i − 4) mod n] for i in 0..n + 10.
    buf.extend((0..n + TAPS).map(|i| x[(i + 4 * n - 4) % n]));
    let (dl, dh) = (taps_f32(&DEC_LO), taps_f32(&DEC_HI));
    for k in 0..n / 2 {
        let base = 2 * k + 9;
        let (mut a, mut d) = (0f32, 0f32);
        for j in 0..TAPS {
            let v = buf[base - j];
            a += dl[j] * v;
            d += dh[j] * v;
        }
        lo[k] = a;
        hi[k] = d;
    }
}

fn taps_f32(t: &[f64; TAPS]) -> [f32; TAPS] {
    t.map(|v| v as f32)
}

/// One 2D analysis level of one plane `h × w` into four planes `h/2 × w/2` in the order
/// of [`dwt2`] (A, H, V, D).
fn dwt2_plane(x: &[f32], h: usize, w: usize) -> [Vec<f32>; 4] {
    let (h2, w2) = (h / 2, w / 2);
    // Along the width: two planes h × w/2.
    let mut wl = vec![0f32; h * w2];
    let mut wh = vec![0f32; h * w2];
    let mut buf = Vec::with_capacity(w.max(h) + TAPS);
    for y in 0..h {
        analyse_line(
            &x[y * w..(y + 1) * w],
            &mut wl[y * w2..(y + 1) * w2],
            &mut wh[y * w2..(y + 1) * w2],
            &mut buf,
        );
    }
    // Along the height, whole rows at a time (vectorises over the columns).
    let (dl, dh) = (taps_f32(&DEC_LO), taps_f32(&DEC_HI));
    let column_pass = |p: &[f32]| -> (Vec<f32>, Vec<f32>) {
        let mut lo = vec![0f32; h2 * w2];
        let mut hi = vec![0f32; h2 * w2];
        for k in 0..h2 {
            let (lo_row, hi_row) = (&mut lo[k * w2..(k + 1) * w2], &mut hi[k * w2..(k + 1) * w2]);
            for j in 0..TAPS {
                let src = (2 * k + 5 + h * TAPS - j) % h;
                let row = &p[src * w2..(src + 1) * w2];
                let (a, d) = (dl[j], dh[j]);
                if a != 0.0 || d != 0.0 {
                    for ((l, o), &v) in lo_row.iter_mut().zip(hi_row.iter_mut()).zip(row) {
                        *l += a * v;
                        *o += d * v;
                    }
                }
            }
        }
        (lo, hi)
    };
    let (a, hh) = column_pass(&wl);
    let (v, d) = column_pass(&wh);
    // Index 2·w_band + h_band: (lo,lo), (lo w, hi h), (hi w, lo h), (hi, hi).
    [a, hh, v, d]
}

/// [`wpt2`] on the CPU without Burn, for encoders: `planes` holds `C` planes of `h × w`
/// (row-major), the result `C·4^J` planes of `h/2^J × w/2^J`. Channels run in parallel.
/// Equal to [`wpt2`] up to float rounding (the summation order differs).
///
/// # Panics
/// If `h` or `w` is not a multiple of `2^J`, or `planes` is not `C·h·w` long.
pub fn wpt2_cpu(planes: &[f32], c: usize, h: usize, w: usize, levels: usize) -> Vec<f32> {
    use rayon::prelude::*;
    assert_eq!(planes.len(), c * h * w, "wpt2_cpu: size");
    assert!(
        h.is_multiple_of(1 << levels) && w.is_multiple_of(1 << levels),
        "wpt2_cpu: {h}×{w} is not a multiple of 2^{levels}"
    );
    let (mut cur, mut ch, mut ph, mut pw) = (planes.to_vec(), c, h, w);
    for _ in 0..levels {
        let size = ph * pw;
        let next: Vec<Vec<f32>> = cur
            .par_chunks(size)
            .flat_map_iter(|p| dwt2_plane(p, ph, pw))
            .collect();
        cur = next.concat();
        ch *= 4;
        ph /= 2;
        pw /= 2;
    }
    debug_assert_eq!(cur.len(), ch * ph * pw);
    cur
}

/// One periodic synthesis step along a line, the inverse of [`analyse_line`]:
/// `x[m] = Σ_t REC_LO[t]·lo[k] + REC_HI[t]·hi[k]` over `t` with `m + 10 − t` even,
/// `k = ((m + 10 − t)/2 − 3) mod l` (the transposed convolution of [`idwt1`]).
fn synthesise_line(lo: &[f32], hi: &[f32], x: &mut [f32]) {
    let l = lo.len();
    let (rl, rh) = (taps_f32(&REC_LO), taps_f32(&REC_HI));
    for (m, out) in x.iter_mut().enumerate() {
        let mut acc = 0f32;
        for t in ((m + TAPS) % 2..TAPS).step_by(2) {
            let k = ((m + TAPS - t) / 2 + 3 * l - 3) % l;
            acc += rl[t] * lo[k] + rh[t] * hi[k];
        }
        *out = acc;
    }
}

/// One 2D synthesis level: four planes `h × w` (A, H, V, D as [`dwt2`] orders them) into
/// one plane `2h × 2w`.
fn idwt2_plane(p: &[f32], h: usize, w: usize) -> Vec<f32> {
    let n = h * w;
    let (a, hh, v, d) = (&p[..n], &p[n..2 * n], &p[2 * n..3 * n], &p[3 * n..4 * n]);
    // Along the height, whole rows at a time: (A, H) → low width band, (V, D) → high.
    let (rl, rh) = (taps_f32(&REC_LO), taps_f32(&REC_HI));
    let rows = |lo: &[f32], hi: &[f32]| -> Vec<f32> {
        let mut out = vec![0f32; 2 * h * w];
        for m in 0..2 * h {
            let row = &mut out[m * w..(m + 1) * w];
            for t in ((m + TAPS) % 2..TAPS).step_by(2) {
                let k = ((m + TAPS - t) / 2 + 3 * h - 3) % h;
                let (cl, ch) = (rl[t], rh[t]);
                for ((o, &x), &y) in row
                    .iter_mut()
                    .zip(&lo[k * w..(k + 1) * w])
                    .zip(&hi[k * w..(k + 1) * w])
                {
                    *o += cl * x + ch * y;
                }
            }
        }
        out
    };
    let wl = rows(a, hh);
    let wh = rows(v, d);
    // Along the width.
    let mut out = vec![0f32; 4 * n];
    for y in 0..2 * h {
        synthesise_line(
            &wl[y * w..(y + 1) * w],
            &wh[y * w..(y + 1) * w],
            &mut out[y * 2 * w..(y + 1) * 2 * w],
        );
    }
    out
}

/// [`iwpt2`] on the CPU without Burn, for decoders: `planes` holds `C·4^J` planes of
/// `h × w`, the result `C` planes of `h·2^J × w·2^J`. Groups of planes run in parallel.
/// Equal to [`iwpt2`] up to float rounding.
///
/// # Panics
/// If `planes` is not `C·4^J·h·w` long for a whole `C`.
pub fn iwpt2_cpu(planes: &[f32], c: usize, h: usize, w: usize, levels: usize) -> Vec<f32> {
    use rayon::prelude::*;
    assert_eq!(
        planes.len(),
        c * (1 << (2 * levels)) * h * w,
        "iwpt2_cpu: size"
    );
    let (mut cur, mut ph, mut pw) = (planes.to_vec(), h, w);
    for _ in 0..levels {
        let group = 4 * ph * pw;
        let next: Vec<Vec<f32>> = cur
            .par_chunks(group)
            .map(|g| idwt2_plane(g, ph, pw))
            .collect();
        cur = next.concat();
        ph *= 2;
        pw *= 2;
    }
    cur
}

/// CDF 9/7 lifting coefficients (Daubechies and Sweldens), with `K` the final scaling.
const LIFT: [(f32, f32); 2] = [(-1.586_134_3, -0.052_980_118), (0.882_911_1, 0.443_506_85)];
const LIFT_K: f32 = 1.230_174_1;

/// One predict step: `d[i] += c · (s[i] + s[i + 1])` on items `len` floats wide, the
/// item after the last even one being the last even one (symmetric extension).
fn predict(d: &mut [f32], s: &[f32], len: usize, c: f32) {
    let m = s.len() / len;
    for i in 0..m {
        let next = (i + 1).min(m - 1);
        let (si, sn) = (&s[i * len..(i + 1) * len], &s[next * len..(next + 1) * len]);
        for ((o, &a), &b) in d[i * len..(i + 1) * len].iter_mut().zip(si).zip(sn) {
            *o += c * (a + b);
        }
    }
}

/// One update step: `s[i] += c · (d[i − 1] + d[i])`, the item before the first odd one
/// being the first odd one (symmetric extension).
fn update(s: &mut [f32], d: &[f32], len: usize, c: f32) {
    let m = d.len() / len;
    for i in 0..m {
        let prev = i.saturating_sub(1);
        let (dp, di) = (&d[prev * len..(prev + 1) * len], &d[i * len..(i + 1) * len]);
        for ((o, &a), &b) in s[i * len..(i + 1) * len].iter_mut().zip(dp).zip(di) {
            *o += c * (a + b);
        }
    }
}

/// The lifting steps of one axis on `m` pairs of items (`s` the even, `d` the odd ones),
/// each item `len` floats wide (1 for a row's samples, a whole row for the columns),
/// with whole-sample symmetric extension (see [`predict`] and [`update`]).
fn lift_items(s: &mut [f32], d: &mut [f32], len: usize) {
    for &(p, u) in &LIFT {
        predict(d, s, len, p);
        update(s, d, len, u);
    }
    let (ls, ld) = (
        std::f32::consts::SQRT_2 / LIFT_K,
        -LIFT_K / std::f32::consts::SQRT_2,
    );
    s.iter_mut().for_each(|v| *v *= ls);
    d.iter_mut().for_each(|v| *v *= ld);
}

/// The inverse of [`lift_items`]: the same steps in reverse order with negated
/// coefficients (`x + (−c)·y` is exactly `x − c·y` in floating point).
fn unlift_items(s: &mut [f32], d: &mut [f32], len: usize) {
    let (ls, ld) = (
        LIFT_K / std::f32::consts::SQRT_2,
        -std::f32::consts::SQRT_2 / LIFT_K,
    );
    s.iter_mut().for_each(|v| *v *= ls);
    d.iter_mut().for_each(|v| *v *= ld);
    for &(p, u) in LIFT.iter().rev() {
        update(s, d, len, -u);
        predict(d, s, len, -p);
    }
}

/// One level of the 2D CDF 9/7 transform of one plane `h × w` with *symmetric*
/// extension (whole-sample, as in JPEG 2000's irreversible path), by lifting on the CPU:
/// four planes `h/2 × w/2` concatenated in [`dwt2`]'s order (A, H, V, D). Inside the
/// plane the coefficients equal [`wpt2_cpu`]'s (same filters, alignment and scaling, up
/// to float rounding); only the borders differ: the signal is mirrored instead of
/// wrapped, so an image's opposite edges never meet.
///
/// # Panics
/// If `h` or `w` is odd or zero, or `x` is not `h·w` long.
pub fn dwt2_symmetric(x: &[f32], h: usize, w: usize) -> Vec<f32> {
    assert!(
        h > 0 && w > 0 && h.is_multiple_of(2) && w.is_multiple_of(2) && x.len() == h * w,
        "dwt2_symmetric: {h}×{w} must be even and match the data"
    );
    let (h2, w2) = (h / 2, w / 2);
    // Along the width: lo and hi planes h × w/2.
    let mut lo = vec![0f32; h * w2];
    let mut hi = vec![0f32; h * w2];
    for y in 0..h {
        let row = &x[y * w..(y + 1) * w];
        let (s, d) = (&mut lo[y * w2..(y + 1) * w2], &mut hi[y * w2..(y + 1) * w2]);
        for k in 0..w2 {
            s[k] = row[2 * k];
            d[k] = row[2 * k + 1];
        }
        lift_items(s, d, 1);
    }
    // Along the height, whole rows at a time.
    let mut out = Vec::with_capacity(h * w);
    for p in [lo, hi] {
        let mut s = Vec::with_capacity(h2 * w2);
        let mut d = Vec::with_capacity(h2 * w2);
        for k in 0..h2 {
            s.extend_from_slice(&p[2 * k * w2..(2 * k + 1) * w2]);
            d.extend_from_slice(&p[(2 * k + 1) * w2..(2 * k + 2) * w2]);
        }
        lift_items(&mut s, &mut d, w2);
        out.extend(s);
        out.extend(d);
    }
    out
}

/// The exact inverse of [`dwt2_symmetric`] (up to float rounding): four planes
/// `h × w` (A, H, V, D) into one plane `2h × 2w`.
///
/// # Panics
/// If `h` or `w` is zero or `p` is not `4·h·w` long.
pub fn idwt2_symmetric(p: &[f32], h: usize, w: usize) -> Vec<f32> {
    assert!(
        h > 0 && w > 0 && p.len() == 4 * h * w,
        "idwt2_symmetric: {h}×{w} does not match the data"
    );
    let n = h * w;
    // Along the height: (A, H) → the low width band, (V, D) → the high one, 2h × w each.
    let rows = |s: &[f32], d: &[f32]| -> Vec<f32> {
        let (mut s, mut d) = (s.to_vec(), d.to_vec());
        unlift_items(&mut s, &mut d, w);
        let mut out = Vec::with_capacity(2 * n);
        for k in 0..h {
            out.extend_from_slice(&s[k * w..(k + 1) * w]);
            out.extend_from_slice(&d[k * w..(k + 1) * w]);
        }
        out
    };
    let lo = rows(&p[..n], &p[n..2 * n]);
    let hi = rows(&p[2 * n..3 * n], &p[3 * n..]);
    // Along the width.
    let mut out = vec![0f32; 4 * n];
    let (mut s, mut d) = (vec![0f32; w], vec![0f32; w]);
    for y in 0..2 * h {
        s.copy_from_slice(&lo[y * w..(y + 1) * w]);
        d.copy_from_slice(&hi[y * w..(y + 1) * w]);
        unlift_items(&mut s, &mut d, 1);
        let row = &mut out[y * 2 * w..(y + 1) * 2 * w];
        for k in 0..w {
            row[2 * k] = s[k];
            row[2 * k + 1] = d[k];
        }
    }
    out
}
