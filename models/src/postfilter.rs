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
}
