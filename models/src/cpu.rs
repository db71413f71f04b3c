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
                for kx in 0..k {
                    let wv = w[((co * ci_n + ci) * k + ky) * k + kx];
                    for oy in 0..ho {
                        let iy = (oy * s + ky) as isize - p as isize;
                        if iy < 0 || iy >= x.h as isize {
                            continue;
                        }
                        let row = &plane[iy as usize * x.w..(iy as usize + 1) * x.w];
                        let orow = &mut o[oy * wo..(oy + 1) * wo];
                        for (ox, ov) in orow.iter_mut().enumerate() {
                            let ix = (ox * s + kx) as isize - p as isize;
                            if ix >= 0 && (ix as usize) < x.w {
                                *ov += wv * row[ix as usize];
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
                for kx in 0..k {
                    let wv = w[((ci * co_n + co) * k + ky) * k + kx];
                    for iy in 0..x.h {
                        let oy = (iy * s + ky) as isize - p as isize;
                        if oy < 0 || oy >= ho as isize {
                            continue;
                        }
                        let row = &plane[iy * x.w..(iy + 1) * x.w];
                        let orow = &mut o[oy as usize * wo..(oy as usize + 1) * wo];
                        for (ix, &iv) in row.iter().enumerate() {
                            let ox = (ix * s + kx) as isize - p as isize;
                            if ox >= 0 && (ox as usize) < wo {
                                orow[ox as usize] += wv * iv;
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
