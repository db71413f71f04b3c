//! A fixed-order CPU kernel for the hyper-synthesis `h_s`.
//!
//! Everything that selects a symbol's probability must be computed bit-identically by
//! encoder and decoder on any machine. Burn backends differ in the low bits (flex, wgpu,
//! ndarray disagree on ~98% of outputs by ~1e-7), which is enough to flip a scale index.
//! So `h_s` runs here: plain `f32` arithmetic in one fixed summation order per output
//! (bias, then input channel, kernel row, kernel column), no FMA contraction (Rust never
//! fuses), parallel only across output channels. IEEE-754 makes the result identical on
//! every platform and thread count.

use rayon::prelude::*;

/// One layer of a [`CpuNet`].
#[derive(Debug, Clone, PartialEq)]
pub enum CpuLayer {
    /// 2-D convolution, weight `[C_out, C_in, k, k]`, PyTorch semantics.
    Conv {
        /// Weights, row-major `[C_out, C_in, k, k]`.
        weight: Vec<f32>,
        /// Bias `[C_out]`.
        bias: Vec<f32>,
        /// `[C_out, C_in, k]`.
        dims: [usize; 3],
        /// Stride.
        stride: usize,
        /// Zero padding on every side.
        padding: usize,
    },
    /// Transposed 2-D convolution, weight `[C_in, C_out, k, k]`, PyTorch semantics.
    ConvTranspose {
        /// Weights, row-major `[C_in, C_out, k, k]`.
        weight: Vec<f32>,
        /// Bias `[C_out]`.
        bias: Vec<f32>,
        /// `[C_in, C_out, k]`.
        dims: [usize; 3],
        /// Stride.
        stride: usize,
        /// Padding removed from every side.
        padding: usize,
        /// Extra rows/columns added at the bottom/right.
        padding_out: usize,
    },
    /// `max(x, 0)`.
    Relu,
    /// `x` if positive else `slope · x`.
    LeakyRelu(f32),
}

impl CpuLayer {
    /// A Burn convolution's weights as a [`CpuLayer::Conv`] ("same" padding, `k / 2`).
    pub fn from_conv(c: &burn::nn::conv::Conv2d) -> Self {
        let [co, ci, k, _] = c.weight.dims();
        CpuLayer::Conv {
            weight: to_f32_vec(c.weight.val()),
            bias: c
                .bias
                .as_ref()
                .map_or(vec![0.0; co], |b| to_f32_vec(b.val())),
            dims: [co, ci, k],
            stride: c.stride[0],
            padding: k / 2,
        }
    }

    /// A Burn transposed convolution's weights as a [`CpuLayer::ConvTranspose`].
    pub fn from_conv_transpose(c: &burn::nn::conv::ConvTranspose2d) -> Self {
        let [ci, co, k, _] = c.weight.dims();
        CpuLayer::ConvTranspose {
            weight: to_f32_vec(c.weight.val()),
            bias: c
                .bias
                .as_ref()
                .map_or(vec![0.0; co], |b| to_f32_vec(b.val())),
            dims: [ci, co, k],
            stride: c.stride[0],
            padding: c.padding[0],
            padding_out: c.padding_out[0],
        }
    }
}

/// A tensor's values as `f32`, row-major (one host transfer).
pub fn to_f32_vec<const D: usize>(t: burn::prelude::Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("converted to f32")
}

/// A feature map `[C, H, W]`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMap {
    /// Values.
    pub data: Vec<f32>,
    /// Channels.
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
}

/// A small sequential network evaluated deterministically on the CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuNet {
    /// Layers in order.
    pub layers: Vec<CpuLayer>,
}

impl CpuNet {
    /// Runs the network.
    ///
    /// # Panics
    /// If the input channel count does not match the first layer.
    pub fn forward(&self, mut x: FeatureMap) -> FeatureMap {
        for layer in &self.layers {
            x = match layer {
                CpuLayer::Conv {
                    weight,
                    bias,
                    dims,
                    stride,
                    padding,
                } => conv(&x, weight, bias, *dims, *stride, *padding),
                CpuLayer::ConvTranspose {
                    weight,
                    bias,
                    dims,
                    stride,
                    padding,
                    padding_out,
                } => conv_t(&x, weight, bias, *dims, *stride, *padding, *padding_out),
                CpuLayer::Relu => {
                    x.data.iter_mut().for_each(|v| *v = v.max(0.0));
                    x
                }
                CpuLayer::LeakyRelu(s) => {
                    x.data.iter_mut().for_each(|v| {
                        if *v < 0.0 {
                            *v *= s;
                        }
                    });
                    x
                }
            };
        }
        x
    }
}

/// The outputs `o` (of `n_out`) that read input `i = o·s + k_off − p` inside `0..n_in`, as
/// a range of `o`: the loops below run over it without a bounds test per element.
fn valid_outputs(n_out: usize, n_in: usize, s: usize, k_off: usize, p: usize) -> (usize, usize) {
    // i ≥ 0 ⇔ o·s ≥ p − k_off; i < n_in ⇔ o·s < n_in + p − k_off.
    let lo = p.saturating_sub(k_off).div_ceil(s);
    let hi = (n_in + p).saturating_sub(k_off).div_ceil(s).min(n_out);
    (lo, hi.max(lo))
}

fn conv(x: &FeatureMap, w: &[f32], b: &[f32], dims: [usize; 3], s: usize, p: usize) -> FeatureMap {
    let [co_n, ci_n, k] = dims;
    assert_eq!(x.c, ci_n, "conv input channels");
    let ho = (x.h + 2 * p - k) / s + 1;
    let wo = (x.w + 2 * p - k) / s + 1;
    let mut out = vec![0f32; co_n * ho * wo];
    if s == 1 {
        return FeatureMap {
            data: conv_s1(x, w, b, (co_n, ci_n, k, p), (ho, wo), has_avx2()),
            c: co_n,
            h: ho,
            w: wo,
        };
    }
    out.par_chunks_mut(ho * wo).enumerate().for_each(|(co, o)| {
        o.fill(b[co]);
        for ci in 0..ci_n {
            let plane = &x.data[ci * x.h * x.w..(ci + 1) * x.h * x.w];
            for ky in 0..k {
                let (oy0, oy1) = valid_outputs(ho, x.h, s, ky, p);
                for kx in 0..k {
                    let wv = w[((co * ci_n + ci) * k + ky) * k + kx];
                    let (ox0, ox1) = valid_outputs(wo, x.w, s, kx, p);
                    if ox0 == ox1 {
                        continue;
                    }
                    let ix0 = ox0 * s + kx - p;
                    for oy in oy0..oy1 {
                        let iy = oy * s + ky - p;
                        let row = &plane[iy * x.w..(iy + 1) * x.w];
                        let orow = &mut o[oy * wo + ox0..oy * wo + ox1];
                        let n = orow.len();
                        if s == 1 {
                            for (ov, &iv) in orow.iter_mut().zip(&row[ix0..ix0 + n]) {
                                *ov += wv * iv;
                            }
                        } else {
                            for (ov, &iv) in orow.iter_mut().zip(row[ix0..].iter().step_by(s)) {
                                *ov += wv * iv;
                            }
                        }
                    }
                }
            }
        }
    });
    FeatureMap {
        data: out,
        c: co_n,
        h: ho,
        w: wo,
    }
}

/// Output channels a stride-1 convolution computes together, sharing each input load.
const CO_BLOCK: usize = 4;

/// Output positions a stride-1 convolution keeps in registers at once, per channel.
const LANES: usize = 8;

/// Output rows per parallel task of a stride-1 convolution.
const ROWS_PER_TASK: usize = 8;

/// The weights of one block of [`CO_BLOCK`] output channels from `co0`, by tap
/// (`(ci·k + ky)·k + kx`) then channel, and their biases; channels past `co_n` get zeros
/// (computed and dropped).
type BlockWeights = (Vec<[f32; CO_BLOCK]>, [f32; CO_BLOCK]);

fn block_weights(
    w: &[f32],
    b: &[f32],
    co0: usize,
    (co_n, ci_n, k): (usize, usize, usize),
) -> BlockWeights {
    let taps = ci_n * k * k;
    let wt = (0..taps)
        .map(|tap| {
            std::array::from_fn(|c| {
                if co0 + c < co_n {
                    w[(co0 + c) * taps + tap]
                } else {
                    0.0
                }
            })
        })
        .collect();
    let bias = std::array::from_fn(|c| if co0 + c < co_n { b[co0 + c] } else { 0.0 });
    (wt, bias)
}

/// The input of the stride-1 kernels: `c` planes of `h × w` values, value
/// `(ci, iy, ix)` at `ci·c_stride + iy·row_stride + ix` (planar `[c, h, w]`, or rows of
/// channels `[h, c, w]`).
#[derive(Debug, Clone, Copy)]
struct Planes<'a> {
    data: &'a [f32],
    h: usize,
    w: usize,
    c_stride: usize,
    row_stride: usize,
}

impl<'a> Planes<'a> {
    /// `len` values of channel `ci`, row `iy` from column `ix`.
    #[inline(always)]
    fn row(&self, ci: usize, iy: usize, ix: usize, len: usize) -> &'a [f32] {
        let start = ci * self.c_stride + iy * self.row_stride + ix;
        &self.data[start..start + len]
    }
}

/// Where the stride-1 kernels write: value `(c, r, ox)` of a block (`r` counted from
/// the first row of the task) at `c·c_stride + r·row_stride + ox`; only the first
/// `keep` channels of a block are written (the rest are padding).
#[derive(Debug, Clone, Copy)]
struct OutLayout {
    c_stride: usize,
    row_stride: usize,
    keep: usize,
    relu: bool,
}

/// A stride-1 convolution (`[co_n, ci_n, k, k]` weights, zero padding `p`) of the
/// planar `x`, the output `[co_n, ho, wo]` computed in tasks of `ROWS_PER_TASK` (8) rows
/// on all cores. Every output gets its bias, then its products in the order input
/// channel, kernel row, kernel column, one multiply and one add each (no FMA), with or
/// without `simd` (AVX2, and AVX-512 where the CPU has it): the bits are those of the
/// reference.
fn conv_s1(
    x: &FeatureMap,
    w: &[f32],
    b: &[f32],
    (co_n, ci_n, k, p): (usize, usize, usize, usize),
    (ho, wo): (usize, usize),
    simd: bool,
) -> Vec<f32> {
    let input = Planes {
        data: &x.data,
        h: x.h,
        w: x.w,
        c_stride: x.h * x.w,
        row_stride: x.w,
    };
    let blocks: Vec<BlockWeights> = (0..co_n.div_ceil(CO_BLOCK))
        .map(|blk| block_weights(w, b, blk * CO_BLOCK, (co_n, ci_n, k)))
        .collect();
    let tasks: Vec<(usize, usize)> = (0..ho)
        .step_by(ROWS_PER_TASK)
        .map(|r0| (r0, (r0 + ROWS_PER_TASK).min(ho)))
        .collect();
    let parts: Vec<Vec<f32>> = tasks
        .par_iter()
        .map(|&(r0, r1)| {
            let n = (r1 - r0) * wo;
            let mut buf = vec![0f32; blocks.len() * CO_BLOCK * n];
            let layout = OutLayout {
                c_stride: n,
                row_stride: wo,
                keep: CO_BLOCK,
                relu: false,
            };
            for (blk, ob) in blocks.iter().zip(buf.chunks_exact_mut(CO_BLOCK * n)) {
                conv_s1_rows(input, blk, (ci_n, k, p), (r0, r1, wo), ob, layout, simd);
            }
            buf
        })
        .collect();
    let mut out = vec![0f32; co_n * ho * wo];
    for (&(r0, r1), buf) in tasks.iter().zip(&parts) {
        let n = (r1 - r0) * wo;
        for co in 0..co_n {
            out[co * ho * wo + r0 * wo..][..n].copy_from_slice(&buf[co * n..(co + 1) * n]);
        }
    }
    out
}

/// Runs `layers` ("same" stride-1 convolutions, each optionally followed by a ReLU) on
/// `x`, `c` channels of `h × w` values laid out as rows of channels (`[h, c, w]`),
/// returning the last layer's output in that layout. Each task of `ROWS_PER_TASK` (8)
/// output rows writes its rows in place, so nothing is copied between layers. The sums
/// are those of [`CpuNet::forward`] in the same order: the same bits.
///
/// # Panics
/// If a layer is not a stride-1 convolution with padding `k / 2` or a ReLU after one,
/// or the channels do not chain.
pub fn forward_rows(layers: &[CpuLayer], x: Vec<f32>, c: usize, h: usize, w: usize) -> Vec<f32> {
    let simd = has_avx2();
    let mut data = x;
    let mut ci_n = c;
    let mut i = 0;
    while i < layers.len() {
        let CpuLayer::Conv {
            weight,
            bias,
            dims: [co_n, wci, k],
            stride: 1,
            padding,
        } = &layers[i]
        else {
            panic!("forward_rows runs stride-1 convolutions and ReLUs");
        };
        let (co_n, k, p) = (*co_n, *k, *padding);
        assert!(
            *wci == ci_n && 2 * p + 1 == k,
            "a same convolution on {ci_n} channels"
        );
        let relu = matches!(layers.get(i + 1), Some(CpuLayer::Relu));
        let input = Planes {
            data: &data,
            h,
            w,
            c_stride: w,
            row_stride: ci_n * w,
        };
        let blocks: Vec<BlockWeights> = (0..co_n.div_ceil(CO_BLOCK))
            .map(|blk| block_weights(weight, bias, blk * CO_BLOCK, (co_n, ci_n, k)))
            .collect();
        let mut out = vec![0f32; h * co_n * w];
        out.par_chunks_mut(ROWS_PER_TASK * co_n * w)
            .enumerate()
            .for_each(|(t, o)| {
                let r0 = t * ROWS_PER_TASK;
                let r1 = r0 + o.len() / (co_n * w);
                for (blk, bw) in blocks.iter().enumerate() {
                    let layout = OutLayout {
                        c_stride: w,
                        row_stride: co_n * w,
                        keep: (co_n - blk * CO_BLOCK).min(CO_BLOCK),
                        relu,
                    };
                    let o = &mut o[blk * CO_BLOCK * w..];
                    conv_s1_rows(input, bw, (ci_n, k, p), (r0, r1, w), o, layout, simd);
                }
            });
        data = out;
        ci_n = co_n;
        i += if relu { 2 } else { 1 };
    }
    data
}

/// Rows `r0..r1` (of width `wo`) of one block of output channels into `o`, laid out as
/// `layout` says. Inner positions (every tap inside the input) are computed several at a
/// time by the strip kernels; the border positions and the inner ones left over one by
/// one, skipping the taps outside the input (zero padding).
fn conv_s1_rows(
    x: Planes<'_>,
    (wt, bias): &BlockWeights,
    (ci_n, k, p): (usize, usize, usize),
    (r0, r1, wo): (usize, usize, usize),
    o: &mut [f32],
    layout: OutLayout,
    simd: bool,
) {
    // Inner columns: ox − p ≥ 0 and ox − p + k ≤ width.
    let inner0 = p.min(wo);
    let inner1 = (x.w + p + 1).saturating_sub(k).min(wo).max(inner0);
    let mut put = |oy: usize, ox: usize, c: usize, vals: &[f32]| {
        let at = c * layout.c_stride + (oy - r0) * layout.row_stride + ox;
        let dst = &mut o[at..at + vals.len()];
        if layout.relu {
            for (d, &v) in dst.iter_mut().zip(vals) {
                *d = v.max(0.0);
            }
        } else {
            dst.copy_from_slice(vals);
        }
    };
    for oy in r0..r1 {
        // Kernel rows inside the input for this output row, with their input rows.
        let rows: Vec<(usize, usize)> = (0..k)
            .filter_map(|ky| {
                (oy + ky)
                    .checked_sub(p)
                    .filter(|&iy| iy < x.h)
                    .map(|iy| (ky, iy))
            })
            .collect();
        let mut ox = inner0;
        #[cfg(target_arch = "x86_64")]
        if simd && has_avx512() {
            while ox + 4 * LANES <= inner1 {
                // SAFETY: the CPU has AVX-512F (`has_avx512`).
                let acc = unsafe { strip4_avx512(x, wt, *bias, &rows, (ci_n, k, p), ox) };
                for (c, a) in acc.iter().enumerate().take(layout.keep) {
                    put(oy, ox, c, a);
                }
                ox += 4 * LANES;
            }
        }
        #[cfg(target_arch = "x86_64")]
        if simd {
            while ox + 2 * LANES <= inner1 {
                // SAFETY: `simd` is only set when the CPU has AVX2 (`has_avx2`).
                let acc = unsafe { strip2_avx2(x, wt, *bias, &rows, (ci_n, k, p), ox) };
                for (c, a) in acc.iter().enumerate().take(layout.keep) {
                    put(oy, ox, c, a);
                }
                ox += 2 * LANES;
            }
        }
        while ox + LANES <= inner1 {
            let acc = strip(x, wt, *bias, &rows, (ci_n, k, p), ox, simd);
            for (c, a) in acc.iter().enumerate().take(layout.keep) {
                put(oy, ox, c, a);
            }
            ox += LANES;
        }
        // The inner columns left over: one more strip that ends at `inner1`, overlapping
        // the one before (an output's value does not depend on the strip it is in).
        if ox < inner1 && inner1 - inner0 >= LANES {
            let at = inner1 - LANES;
            let acc = strip(x, wt, *bias, &rows, (ci_n, k, p), at, simd);
            for (c, a) in acc.iter().enumerate().take(layout.keep) {
                put(oy, at, c, a);
            }
            ox = inner1;
        }
        for ox in (0..inner0).chain(ox..wo) {
            let mut acc = *bias;
            for ci in 0..ci_n {
                for &(ky, iy) in &rows {
                    let row = x.row(ci, iy, 0, x.w);
                    for kx in 0..k {
                        let Some(ix) = (ox + kx).checked_sub(p).filter(|&ix| ix < x.w) else {
                            continue;
                        };
                        let ws = &wt[(ci * k + ky) * k + kx];
                        for c in 0..CO_BLOCK {
                            acc[c] += ws[c] * row[ix];
                        }
                    }
                }
            }
            for (c, a) in acc.iter().enumerate().take(layout.keep) {
                put(oy, ox, c, std::slice::from_ref(a));
            }
        }
    }
}

/// [`LANES`] outputs of a block of channels at columns `ox..ox + LANES` of one output
/// row, every tap inside the input (`rows`: the kernel rows and their input rows): bias
/// first, then the products in the order input channel, kernel row, kernel column, one
/// multiply and one add each, with AVX2 if `simd`.
#[inline(always)]
fn strip(
    x: Planes<'_>,
    wt: &[[f32; CO_BLOCK]],
    bias: [f32; CO_BLOCK],
    rows: &[(usize, usize)],
    (ci_n, k, p): (usize, usize, usize),
    ox: usize,
    simd: bool,
) -> [[f32; LANES]; CO_BLOCK] {
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: `simd` is only set when the CPU has AVX2 (`has_avx2`).
        return unsafe { strip_avx2(x, wt, bias, rows, (ci_n, k, p), ox) };
    }
    let _ = simd;
    let mut acc: [[f32; LANES]; CO_BLOCK] = bias.map(|v| [v; LANES]);
    for (ci, wci) in wt.chunks_exact(k * k).take(ci_n).enumerate() {
        for &(ky, iy) in rows {
            let row = x.row(ci, iy, ox - p, LANES + k - 1);
            for (kx, ws) in wci[ky * k..(ky + 1) * k].iter().enumerate() {
                let src = &row[kx..kx + LANES];
                for (a, &wv) in acc.iter_mut().zip(ws) {
                    for (al, &v) in a.iter_mut().zip(src) {
                        *al += wv * v;
                    }
                }
            }
        }
    }
    acc
}

/// [`strip`] with AVX2: each channel's eight sums in one register.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn strip_avx2(
    x: Planes<'_>,
    wt: &[[f32; CO_BLOCK]],
    bias: [f32; CO_BLOCK],
    rows: &[(usize, usize)],
    (ci_n, k, p): (usize, usize, usize),
    ox: usize,
) -> [[f32; LANES]; CO_BLOCK] {
    use std::arch::x86_64::{
        _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_storeu_ps,
    };
    let [mut a0, mut a1, mut a2, mut a3] = bias.map(|v| _mm256_set1_ps(v));
    for (ci, wci) in wt.chunks_exact(k * k).take(ci_n).enumerate() {
        for &(ky, iy) in rows {
            // The LANES + k − 1 inputs the k taps of this row read.
            let row = x.row(ci, iy, ox - p, LANES + k - 1);
            for (kx, ws) in wci[ky * k..(ky + 1) * k].iter().enumerate() {
                // SAFETY: kx + LANES ≤ row.len(), so the 8 floats read are in `row`.
                let v = unsafe { _mm256_loadu_ps(row.as_ptr().add(kx)) };
                a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_set1_ps(ws[0]), v));
                a1 = _mm256_add_ps(a1, _mm256_mul_ps(_mm256_set1_ps(ws[1]), v));
                a2 = _mm256_add_ps(a2, _mm256_mul_ps(_mm256_set1_ps(ws[2]), v));
                a3 = _mm256_add_ps(a3, _mm256_mul_ps(_mm256_set1_ps(ws[3]), v));
            }
        }
    }
    let mut out = [[0f32; LANES]; CO_BLOCK];
    for (o, a) in out.iter_mut().zip([a0, a1, a2, a3]) {
        // SAFETY: `o` holds LANES = 8 floats.
        unsafe { _mm256_storeu_ps(o.as_mut_ptr(), a) };
    }
    out
}

/// Defines a strip kernel that keeps each channel's sums in two vector registers of
/// `$lanes` floats (`2·$lanes` outputs of each of the [`CO_BLOCK`] channels from `ox`),
/// each weight broadcast once for both: [`strip`]'s sums, in its order, with the
/// instructions of `$feature`.
macro_rules! two_register_strip {
    (
        $(#[$doc:meta])* $name:ident, $feature:literal, $lanes:expr,
        $load:ident, $store:ident, $set1:ident, $add:ident, $mul:ident
    ) => {
        $(#[$doc])*
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feature)]
        fn $name(
            x: Planes<'_>,
            wt: &[[f32; CO_BLOCK]],
            bias: [f32; CO_BLOCK],
            rows: &[(usize, usize)],
            (ci_n, k, p): (usize, usize, usize),
            ox: usize,
        ) -> [[f32; 2 * $lanes]; CO_BLOCK] {
            use std::arch::x86_64::{$add, $load, $mul, $set1, $store};
            let [mut a0, mut a1, mut a2, mut a3] = bias.map(|v| $set1(v));
            let [mut b0, mut b1, mut b2, mut b3] = [a0, a1, a2, a3];
            for (ci, wci) in wt.chunks_exact(k * k).take(ci_n).enumerate() {
                for &(ky, iy) in rows {
                    // The 2·lanes + k − 1 inputs the k taps of this row read.
                    let row = x.row(ci, iy, ox - p, 2 * $lanes + k - 1);
                    for (kx, ws) in wci[ky * k..(ky + 1) * k].iter().enumerate() {
                        // SAFETY: kx + 2·lanes ≤ row.len(): both reads are in `row`.
                        let (u, v) = unsafe {
                            (
                                $load(row.as_ptr().add(kx)),
                                $load(row.as_ptr().add(kx + $lanes)),
                            )
                        };
                        let w0 = $set1(ws[0]);
                        a0 = $add(a0, $mul(w0, u));
                        b0 = $add(b0, $mul(w0, v));
                        let w1 = $set1(ws[1]);
                        a1 = $add(a1, $mul(w1, u));
                        b1 = $add(b1, $mul(w1, v));
                        let w2 = $set1(ws[2]);
                        a2 = $add(a2, $mul(w2, u));
                        b2 = $add(b2, $mul(w2, v));
                        let w3 = $set1(ws[3]);
                        a3 = $add(a3, $mul(w3, u));
                        b3 = $add(b3, $mul(w3, v));
                    }
                }
            }
            let mut out = [[0f32; 2 * $lanes]; CO_BLOCK];
            for (o, (a, b)) in out.iter_mut().zip([(a0, b0), (a1, b1), (a2, b2), (a3, b3)]) {
                // SAFETY: `o` holds 2·lanes floats.
                unsafe {
                    $store(o.as_mut_ptr(), a);
                    $store(o.as_mut_ptr().add($lanes), b);
                }
            }
            out
        }
    };
}

two_register_strip!(
    /// Two [`strip`]s side by side with AVX2 (`2·LANES` outputs of each channel).
    strip2_avx2, "avx2", LANES,
    _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_add_ps, _mm256_mul_ps
);

two_register_strip!(
    /// Four [`strip`]s side by side with AVX-512 (`4·LANES` outputs of each channel).
    strip4_avx512, "avx512f", 2 * LANES,
    _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_add_ps, _mm512_mul_ps
);

/// Whether the AVX-512 strip kernel may run.
#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// Whether the AVX2 strip kernels may run.
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn conv_t(
    x: &FeatureMap,
    w: &[f32],
    b: &[f32],
    dims: [usize; 3],
    s: usize,
    p: usize,
    po: usize,
) -> FeatureMap {
    let [ci_n, co_n, k] = dims;
    assert_eq!(x.c, ci_n, "transposed conv input channels");
    let ho = (x.h - 1) * s + k + po - 2 * p;
    let wo = (x.w - 1) * s + k + po - 2 * p;
    let mut out = vec![0f32; co_n * ho * wo];
    out.par_chunks_mut(ho * wo).enumerate().for_each(|(co, o)| {
        o.fill(b[co]);
        for ci in 0..ci_n {
            let plane = &x.data[ci * x.h * x.w..(ci + 1) * x.h * x.w];
            for ky in 0..k {
                // Input row iy writes output row iy·s + ky − p, when inside 0..ho.
                let (iy0, iy1) = valid_inputs(x.h, ho, s, ky, p);
                for kx in 0..k {
                    let wv = w[((ci * co_n + co) * k + ky) * k + kx];
                    let (ix0, ix1) = valid_inputs(x.w, wo, s, kx, p);
                    if ix0 == ix1 {
                        continue;
                    }
                    let ox0 = ix0 * s + kx - p;
                    for iy in iy0..iy1 {
                        let oy = iy * s + ky - p;
                        let row = &plane[iy * x.w + ix0..iy * x.w + ix1];
                        let orow = &mut o[oy * wo + ox0..(oy + 1) * wo];
                        for (ov, &iv) in orow.iter_mut().step_by(s).zip(row) {
                            *ov += wv * iv;
                        }
                    }
                }
            }
        }
    });
    FeatureMap {
        data: out,
        c: co_n,
        h: ho,
        w: wo,
    }
}

/// The inputs `i` (of `n_in`) whose output `o = i·s + k_off − p` lies inside `0..n_out`.
fn valid_inputs(n_in: usize, n_out: usize, s: usize, k_off: usize, p: usize) -> (usize, usize) {
    // o ≥ 0 ⇔ i·s ≥ p − k_off; o < n_out ⇔ i·s < n_out + p − k_off.
    valid_outputs(n_in, n_out, s, k_off, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The straightforward kernels, with a bounds test per element: the fast ones above
    /// must match them bit for bit (same products, same summation order per output).
    fn reference(layer: &CpuLayer, x: &FeatureMap) -> FeatureMap {
        match layer {
            CpuLayer::Conv {
                weight: w,
                bias: b,
                dims: [co_n, ci_n, k],
                stride: s,
                padding: p,
            } => {
                let (co_n, ci_n, k, s, p) = (*co_n, *ci_n, *k, *s, *p);
                let ho = (x.h + 2 * p - k) / s + 1;
                let wo = (x.w + 2 * p - k) / s + 1;
                let mut out = vec![0f32; co_n * ho * wo];
                for co in 0..co_n {
                    for oy in 0..ho {
                        for ox in 0..wo {
                            let mut acc = b[co];
                            for ci in 0..ci_n {
                                for ky in 0..k {
                                    for kx in 0..k {
                                        let iy = (oy * s + ky) as isize - p as isize;
                                        let ix = (ox * s + kx) as isize - p as isize;
                                        if iy < 0
                                            || ix < 0
                                            || iy >= x.h as isize
                                            || ix >= x.w as isize
                                        {
                                            continue;
                                        }
                                        let wv = w[((co * ci_n + ci) * k + ky) * k + kx];
                                        acc += wv
                                            * x.data[(ci * x.h + iy as usize) * x.w + ix as usize];
                                    }
                                }
                            }
                            out[(co * ho + oy) * wo + ox] = acc;
                        }
                    }
                }
                FeatureMap {
                    data: out,
                    c: co_n,
                    h: ho,
                    w: wo,
                }
            }
            CpuLayer::ConvTranspose {
                weight: w,
                bias: b,
                dims: [ci_n, co_n, k],
                stride: s,
                padding: p,
                padding_out: po,
            } => {
                let (ci_n, co_n, k, s, p, po) = (*ci_n, *co_n, *k, *s, *p, *po);
                let ho = (x.h - 1) * s + k + po - 2 * p;
                let wo = (x.w - 1) * s + k + po - 2 * p;
                let mut out = vec![0f32; co_n * ho * wo];
                for co in 0..co_n {
                    for oy in 0..ho {
                        for ox in 0..wo {
                            let mut acc = b[co];
                            for ci in 0..ci_n {
                                for ky in 0..k {
                                    for kx in 0..k {
                                        // Output (oy, ox) reads input (iy, ix) with
                                        // iy·s + ky − p = oy.
                                        let ny = oy as isize + p as isize - ky as isize;
                                        let nx = ox as isize + p as isize - kx as isize;
                                        if ny < 0
                                            || nx < 0
                                            || ny % s as isize != 0
                                            || nx % s as isize != 0
                                        {
                                            continue;
                                        }
                                        let (iy, ix) = (ny as usize / s, nx as usize / s);
                                        if iy >= x.h || ix >= x.w {
                                            continue;
                                        }
                                        let wv = w[((ci * co_n + co) * k + ky) * k + kx];
                                        acc += wv * x.data[(ci * x.h + iy) * x.w + ix];
                                    }
                                }
                            }
                            out[(co * ho + oy) * wo + ox] = acc;
                        }
                    }
                }
                FeatureMap {
                    data: out,
                    c: co_n,
                    h: ho,
                    w: wo,
                }
            }
            _ => unreachable!("only convolutions"),
        }
    }

    /// Pseudo-random values in [−1, 1) with a wide spread of exponents, so that any
    /// change in the order of the additions shows in the low bits.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let u = (state >> 40) as f32 / (1u64 << 24) as f32;
                (u * 2.0 - 1.0) * 2f32.powi((state % 7) as i32 - 3)
            })
            .collect()
    }

    /// The portable stride-1 path (what a CPU without AVX2 runs) matches the reference
    /// too, so every x86-64 CPU computes the same bits.
    #[test]
    fn the_portable_stride_1_path_matches_the_reference() {
        let (ci, co, h, w, k, p) = (3, 6, 9, 21, 3, 1);
        let x = FeatureMap {
            data: values(ci * h * w, 7),
            c: ci,
            h,
            w,
        };
        let (weight, bias) = (values(co * ci * k * k, 8), values(co, 9));
        let out = conv_s1(&x, &weight, &bias, (co, ci, k, p), (h, w), false);
        let layer = CpuLayer::Conv {
            weight,
            bias,
            dims: [co, ci, k],
            stride: 1,
            padding: p,
        };
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&out), bits(&reference(&layer, &x).data));
    }

    /// `forward_rows` (rows of channels, ReLUs fused) computes what `CpuNet::forward`
    /// computes on planes, bit for bit.
    #[test]
    fn rows_of_channels_give_the_planar_bits() {
        let (h, w) = (19, 83);
        let conv = |co: usize, ci: usize, seed: u64| CpuLayer::Conv {
            weight: values(co * ci * 9, seed),
            bias: values(co, seed + 1),
            dims: [co, ci, 3],
            stride: 1,
            padding: 1,
        };
        let layers = vec![conv(6, 4, 10), CpuLayer::Relu, conv(3, 6, 20)];
        let planar = values(4 * h * w, 30);
        let want = CpuNet {
            layers: layers.clone(),
        }
        .forward(FeatureMap {
            data: planar.clone(),
            c: 4,
            h,
            w,
        });
        // [c, h, w] → [h, c, w] and back.
        let to_rows = |v: &[f32], c: usize| -> Vec<f32> {
            (0..h)
                .flat_map(|y| (0..c).flat_map(move |ch| (0..w).map(move |x| (ch, y, x))))
                .map(|(ch, y, x)| v[(ch * h + y) * w + x])
                .collect()
        };
        let got = forward_rows(&layers, to_rows(&planar, 4), 4, h, w);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&to_rows(&want.data, 3)));
    }

    #[test]
    fn fast_kernels_match_the_reference_bit_for_bit() {
        let mut seed = 1;
        for &(h, w) in &[(1, 1), (3, 5), (8, 6), (7, 9), (11, 37), (4, 70)] {
            for &(k, s, p) in &[(3, 1, 1), (5, 2, 2), (3, 2, 1), (5, 1, 2), (1, 1, 0)] {
                for po in [0, s - 1] {
                    seed += 1;
                    // Six output channels: a block of four and a rest of two.
                    let (ci, co) = (3, 6);
                    let x = FeatureMap {
                        data: values(ci * h * w, seed),
                        c: ci,
                        h,
                        w,
                    };
                    let layers = [
                        CpuLayer::Conv {
                            weight: values(co * ci * k * k, seed + 100),
                            bias: values(co, seed + 200),
                            dims: [co, ci, k],
                            stride: s,
                            padding: p,
                        },
                        CpuLayer::ConvTranspose {
                            weight: values(ci * co * k * k, seed + 300),
                            bias: values(co, seed + 400),
                            dims: [ci, co, k],
                            stride: s,
                            padding: p,
                            padding_out: po,
                        },
                    ];
                    for layer in &layers {
                        if let CpuLayer::Conv { .. } = layer
                            && (h + 2 * p < k || w + 2 * p < k)
                        {
                            continue;
                        }
                        let net = CpuNet {
                            layers: vec![layer.clone()],
                        };
                        let fast = net.forward(x.clone());
                        let want = reference(layer, &x);
                        assert_eq!((fast.c, fast.h, fast.w), (want.c, want.h, want.w));
                        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                        assert_eq!(bits(&fast.data), bits(&want.data), "{layer:?} on {h}×{w}");
                    }
                }
            }
        }
    }
}
