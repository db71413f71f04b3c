//! The factorized entropy bottleneck of Ballé et al. 2018 ("Variational image compression
//! with a scale hyperprior", appendix 6.1), as in CompressAI's `EntropyBottleneck`.
//!
//! Each channel has its own monotone cumulative density `c(x)`, a small network
//! `R → R` with filters `(1, 3, 3, 3, 1)`:
//!
//! ```text
//! h₀ = x;  h_{k+1} = softplus(H_k) h_k + b_k  (+ tanh(a_k) ⊙ tanh(h_{k+1}) except last)
//! p(x̃) = sigmoid(c(x̃ + ½)) − sigmoid(c(x̃ − ½))
//! ```
//!
//! `quantiles` (`[C, 1, 3]`) learn the tail quantiles and median of each channel through
//! the auxiliary loss; they bound the support of the exported integer tables.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::{sigmoid, softplus};

/// Filters of the density network (excluding the input and output size 1).
const FILTERS: [usize; 3] = [3, 3, 3];
/// Initial width of the density, as in CompressAI.
const INIT_SCALE: f64 = 10.0;
/// Probability mass the quantiles leave in each tail.
pub const TAIL_MASS: f64 = 1e-9;
/// Smallest likelihood used in the rate term (avoids log 0).
pub const LIKELIHOOD_BOUND: f64 = 1e-9;

/// Per-channel learned density for the hyper-latents `z`.
#[derive(Module, Debug)]
pub struct EntropyBottleneck {
    /// `_matrices.k`: `[C, f_{k+1}, f_k]`, stored before softplus.
    pub matrices: Vec<Param<Tensor<3>>>,
    /// `_biases.k`: `[C, f_{k+1}, 1]`.
    pub biases: Vec<Param<Tensor<3>>>,
    /// `_factors.k`: `[C, f_{k+1}, 1]`, stored before tanh.
    pub factors: Vec<Param<Tensor<3>>>,
    /// `quantiles`: `[C, 1, 3]` (lower tail, median, upper tail).
    pub quantiles: Param<Tensor<3>>,
}

impl EntropyBottleneck {
    /// A new bottleneck over `channels` channels, initialised as CompressAI does.
    pub fn new(channels: usize, device: &Device) -> Self {
        let dims: Vec<usize> = std::iter::once(1)
            .chain(FILTERS)
            .chain(std::iter::once(1))
            .collect();
        let scale = INIT_SCALE.powf(1.0 / (dims.len() - 1) as f64);
        let (mut matrices, mut biases, mut factors) = (vec![], vec![], vec![]);
        for k in 0..dims.len() - 1 {
            let (fin, fout) = (dims[k], dims[k + 1]);
            let init = (1.0 / scale / fout as f64).exp_m1().ln();
            matrices.push(Param::from_tensor(Tensor::<3>::full(
                [channels, fout, fin],
                init,
                device,
            )));
            biases.push(Param::from_tensor(Tensor::<3>::random(
                [channels, fout, 1],
                Distribution::Uniform(-0.5, 0.5),
                device,
            )));
            if k < dims.len() - 2 {
                factors.push(Param::from_tensor(Tensor::<3>::zeros(
                    [channels, fout, 1],
                    device,
                )));
            }
        }
        let q = Tensor::<1>::from_floats([-INIT_SCALE as f32, 0.0, INIT_SCALE as f32], device)
            .reshape([1, 1, 3])
            .repeat_dim(0, channels);
        Self {
            matrices,
            biases,
            factors,
            quantiles: Param::from_tensor(q),
        }
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.quantiles.dims()[0]
    }

    /// The cumulative logits `c(x)` per channel.
    ///
    /// With `stop_gradient`, the network's own parameters are detached, so only `x`
    /// receives gradients (used by the auxiliary loss).
    ///
    /// # Shapes
    /// `x`: `[C, 1, n]` → `[C, 1, n]`.
    pub fn logits_cumulative(&self, x: Tensor<3>, stop_gradient: bool) -> Tensor<3> {
        let p = |t: &Param<Tensor<3>>| {
            if stop_gradient {
                t.val().detach()
            } else {
                t.val()
            }
        };
        let mut h = x;
        let last = self.matrices.len() - 1;
        for k in 0..=last {
            h = softplus(p(&self.matrices[k]), 1.0).matmul(h) + p(&self.biases[k]);
            if k < last {
                h = h.clone() + p(&self.factors[k]).tanh() * h.tanh();
            }
        }
        h
    }

    /// Likelihoods of (noisy or quantised) values, bounded below by
    /// [`LIKELIHOOD_BOUND`].
    ///
    /// # Shapes
    /// `z`: `[B, C, H, W]` → `[B, C, H, W]`.
    pub fn likelihood(&self, z: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = z.dims();
        let x = z.permute([1, 0, 2, 3]).reshape([c, 1, b * h * w]);
        let lower = self.logits_cumulative(x.clone().sub_scalar(0.5), false);
        let upper = self.logits_cumulative(x.add_scalar(0.5), false);
        // Evaluate on the side of the median where the sigmoids are not saturated.
        let sign = (lower.clone() + upper.clone()).sign().neg();
        let lik = (sigmoid(sign.clone() * upper) - sigmoid(sign * lower)).abs();
        crate::bound::lower_bound(lik, LIKELIHOOD_BOUND)
            .reshape([c, b, h, w])
            .permute([1, 0, 2, 3])
    }

    /// The auxiliary loss that moves `quantiles` to the tail quantiles and median.
    pub fn aux_loss(&self) -> Tensor<1> {
        let c = self.channels();
        let t = (2.0 / TAIL_MASS - 1.0).ln() as f32;
        let target = Tensor::<1>::from_floats([-t, 0.0, t], &self.quantiles.device())
            .reshape([1, 1, 3])
            .repeat_dim(0, c);
        let logits = self.logits_cumulative(self.quantiles.val(), true);
        (logits - target).abs().sum()
    }

    /// Per-channel medians, `[C]`.
    pub fn medians(&self) -> Tensor<1> {
        let c = self.channels();
        self.quantiles.val().narrow(2, 1, 1).reshape([c])
    }
}
