//! A learned post-filter: a small convolutional network that removes coding artifacts
//! from a decoded image, conditioned on the quantisation step that made them.
//!
//! ```text
//!  x̂ (RGB, centred) ──┬─ concat(step / STEP_SCALE) ─ conv 3×3 ─ ReLU ─ … ─ conv 3×3 ─┐
//!                     └──────────────────────────────────────────────────────────── (+) ─▶ x̃
//! ```
//!
//! The last convolution starts at zero, so an untrained filter is the identity. The
//! filter only moves pixel values after decoding: it never decides a symbol's
//! probability, so files decode to the same integers on every machine whatever device
//! runs it.

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::cpu::{CpuLayer, CpuNet, forward_rows};

/// The step input is `step / STEP_SCALE` (8-bit units), of order one.
pub const STEP_SCALE: f64 = 64.0;

/// Configuration of a post-filter (saved as JSON next to the weights).
#[derive(Config, Debug, PartialEq)]
pub struct PostFilterConfig {
    /// Channels of the hidden convolutions.
    #[config(default = 24)]
    pub width: usize,
    /// Convolutions in all (at least 2).
    #[config(default = 5)]
    pub layers: usize,
}

/// The network: `layers` 3×3 convolutions with ReLU between them, added to its input.
#[derive(Module, Debug)]
pub struct PostFilter {
    /// The convolutions, input first.
    pub convs: Vec<Conv2d>,
}

impl PostFilterConfig {
    /// Pixels of context on each side that the output at a position depends on.
    pub fn reach(&self) -> usize {
        self.layers
    }

    /// A new filter that is the identity.
    ///
    /// # Panics
    /// If `layers < 2` or `width == 0`.
    pub fn init(&self, device: &Device) -> PostFilter {
        assert!(self.layers >= 2 && self.width > 0, "layers ≥ 2, width > 0");
        let conv = |cin: usize, cout: usize| {
            Conv2dConfig::new([cin, cout], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let mut convs = vec![conv(4, self.width)];
        for _ in 2..self.layers {
            convs.push(conv(self.width, self.width));
        }
        let mut last = conv(self.width, 3);
        last.weight = Param::from_tensor(last.weight.val().zeros_like().detach());
        last.bias = last
            .bias
            .map(|b| Param::from_tensor(b.val().zeros_like().detach()));
        convs.push(last);
        PostFilter { convs }
    }
}

impl PostFilter {
    /// The filter's convolutions and ReLUs as a [`CpuNet`]: its input is the four planes
    /// `[R, G, B, step / STEP_SCALE]`, its output the residual to add to RGB (see
    /// [`PostFilter::filter_cpu`]).
    pub fn cpu_net(&self) -> CpuNet {
        let n = self.convs.len();
        let mut layers = Vec::with_capacity(2 * n);
        for (i, conv) in self.convs.iter().enumerate() {
            layers.push(CpuLayer::from_conv(conv));
            if i + 1 < n {
                layers.push(CpuLayer::Relu);
            }
        }
        CpuNet { layers }
    }

    /// [`PostFilter::forward`] on the CPU with `net` (its [`PostFilter::cpu_net`]): `x` is
    /// `[3, h, w]` planes (RGB in `[−½, ½]`) decoded at quantisation step `step`; the
    /// result has the same layout. Several times faster than Burn's convolutions here,
    /// and the same on every CPU.
    pub fn filter_cpu(net: &CpuNet, x: &[f32], h: usize, w: usize, step: f64) -> Vec<f32> {
        // Rows of channels ([h, 4, w]: R, G, B, step), as `forward_rows` runs them.
        let s = (step / STEP_SCALE) as f32;
        let mut rows = Vec::with_capacity(4 * h * w);
        for y in 0..h {
            for c in 0..3 {
                rows.extend_from_slice(&x[(c * h + y) * w..(c * h + y + 1) * w]);
            }
            rows.resize(rows.len() + w, s);
        }
        let residual = forward_rows(&net.layers, rows, 4, h, w);
        let mut out = vec![0f32; 3 * h * w];
        for y in 0..h {
            for c in 0..3 {
                let (o, r) = ((c * h + y) * w, (y * 3 + c) * w);
                for i in 0..w {
                    out[o + i] = residual[r + i] + x[o + i];
                }
            }
        }
        out
    }

    /// Filters `x` (`[B, 3, H, W]`, RGB in `[−½, ½]`) decoded at quantisation step `step`
    /// (8-bit units).
    pub fn forward(&self, x: Tensor<4>, step: f64) -> Tensor<4> {
        let [b, _, h, w] = x.dims();
        let s = Tensor::<4>::full([b, 1, h, w], step / STEP_SCALE, &x.device());
        let mut y = Tensor::cat(vec![x.clone(), s], 1);
        let n = self.convs.len();
        for (i, conv) in self.convs.iter().enumerate() {
            y = conv.forward(y);
            if i + 1 < n {
                y = relu(y);
            }
        }
        x + y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_filter_is_the_identity_and_keeps_the_shape() {
        let dev = Device::flex();
        let f = PostFilterConfig::new()
            .with_width(8)
            .with_layers(3)
            .init(&dev);
        let x = Tensor::<4>::random(
            [2, 3, 9, 7],
            burn::tensor::Distribution::Uniform(-0.5, 0.5),
            &dev,
        );
        let y = f.forward(x.clone(), 40.0);
        assert_eq!(y.dims(), [2, 3, 9, 7]);
        let d: f32 = (y - x).abs().max().into_scalar();
        assert_eq!(d, 0.0);
    }

    /// The CPU path computes what Burn's convolutions compute, up to the order of
    /// float additions.
    #[test]
    fn the_cpu_path_agrees_with_burn() {
        let dev = Device::flex();
        let mut f = PostFilterConfig::new()
            .with_width(8)
            .with_layers(3)
            .init(&dev);
        let last = f.convs.last_mut().unwrap();
        last.weight = Param::from_tensor(
            last.weight
                .val()
                .random_like(burn::tensor::Distribution::Uniform(-0.1, 0.1)),
        );
        let (h, w) = (13, 29);
        let x = Tensor::<4>::random(
            [1, 3, h, w],
            burn::tensor::Distribution::Uniform(-0.5, 0.5),
            &dev,
        );
        let want = crate::cpu::to_f32_vec(f.forward(x.clone(), 40.0));
        let got = PostFilter::filter_cpu(&f.cpu_net(), &crate::cpu::to_f32_vec(x), h, w, 40.0);
        assert_eq!(got.len(), want.len());
        let err = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(err < 1e-5, "{err}");
    }
}
