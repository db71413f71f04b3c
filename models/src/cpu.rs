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

    #[test]
    fn fast_kernels_match_the_reference_bit_for_bit() {
        let mut seed = 1;
        for &(h, w) in &[(1, 1), (3, 5), (8, 6), (7, 9)] {
            for &(k, s, p) in &[(3, 1, 1), (5, 2, 2), (3, 2, 1), (5, 1, 2), (1, 1, 0)] {
                for po in [0, s - 1] {
                    seed += 1;
                    let (ci, co) = (3, 4);
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
