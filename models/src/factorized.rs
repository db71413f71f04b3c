//! The factorized-prior model (Ballé et al. 2018, "Variational image compression with a
//! scale hyperprior", the baseline; CompressAI `bmshj2018-factorized`), with per-level
//! channel gains for variable rate as in [`crate::hyperprior`].
//!
//! ```text
//!  x ─g_a─▶ y ─·gain[q]─▶ y_s ──Q(y_s − median)──▶ ŷ_s ── ·inv_gain[q] ──g_s──▶ x̂
//!                                  │ entropy bottleneck (one learned density per channel)
//! ```
//!
//! Parameter names follow CompressAI's `state_dict` like the hyperprior's (`g_a.0.weight`
//! ↔ `g_a0.weight`, …, `entropy_bottleneck.*`), plus `gains` / `inv_gains`.

use burn::module::Param;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn::tensor::Distribution;

use crate::bottleneck::EntropyBottleneck;
use crate::gdn::Gdn;
use crate::hyperprior::{Quantised, RdImageNet, RdOutput, conv, deconv, level_gains};

/// Configuration of a factorized-prior model (saved as JSON next to the weights).
#[derive(Config, Debug, PartialEq)]
pub struct FactorizedConfig {
    /// Channels of the hidden layers (CompressAI's `N`).
    pub n: usize,
    /// Channels of the latent `y` (CompressAI's `M`).
    pub m: usize,
    /// The rate–distortion trade-off λ of each quality level, ascending.
    pub lambdas: Vec<f64>,
    /// Always true: tells a model folder's `model.json` apart from a hyperprior's.
    #[config(default = true)]
    pub factorized: bool,
}

/// A factorized-prior image model. See the module docs for the dataflow.
#[derive(Module, Debug)]
pub struct Factorized {
    /// `g_a.0`
    pub g_a0: Conv2d,
    /// `g_a.1`
    pub g_a1: Gdn,
    /// `g_a.2`
    pub g_a2: Conv2d,
    /// `g_a.3`
    pub g_a3: Gdn,
    /// `g_a.4`
    pub g_a4: Conv2d,
    /// `g_a.5`
    pub g_a5: Gdn,
    /// `g_a.6`
    pub g_a6: Conv2d,
    /// `g_s.0`
    pub g_s0: ConvTranspose2d,
    /// `g_s.1`
    pub g_s1: Gdn,
    /// `g_s.2`
    pub g_s2: ConvTranspose2d,
    /// `g_s.3`
    pub g_s3: Gdn,
    /// `g_s.4`
    pub g_s4: ConvTranspose2d,
    /// `g_s.5`
    pub g_s5: Gdn,
    /// `g_s.6`
    pub g_s6: ConvTranspose2d,
    /// `entropy_bottleneck`, over the `M` channels of `y`.
    pub entropy_bottleneck: EntropyBottleneck,
    /// Per-level channel gains applied to `y`, `[levels, M]`.
    pub gains: Param<Tensor<2>>,
    /// Per-level inverse gains applied to `ŷ` before `g_s`, `[levels, M]`.
    pub inv_gains: Param<Tensor<2>>,
}

impl FactorizedConfig {
    /// Builds a freshly initialised model.
    pub fn init(&self, device: &Device) -> Factorized {
        let (n, m) = (self.n, self.m);
        let gains = level_gains(&self.lambdas, m, device);
        Factorized {
            g_a0: conv(3, n, 5, 2, device),
            g_a1: Gdn::new(n, false, device),
            g_a2: conv(n, n, 5, 2, device),
            g_a3: Gdn::new(n, false, device),
            g_a4: conv(n, n, 5, 2, device),
            g_a5: Gdn::new(n, false, device),
            g_a6: conv(n, m, 5, 2, device),
            g_s0: deconv(m, n, 5, 2, device),
            g_s1: Gdn::new(n, true, device),
            g_s2: deconv(n, n, 5, 2, device),
            g_s3: Gdn::new(n, true, device),
            g_s4: deconv(n, n, 5, 2, device),
            g_s5: Gdn::new(n, true, device),
            g_s6: deconv(n, 3, 5, 2, device),
            entropy_bottleneck: EntropyBottleneck::new(m, device),
            gains: Param::from_tensor(gains.clone()),
            inv_gains: Param::from_tensor(gains.recip()),
        }
    }
}

impl Factorized {
    /// Number of quality levels.
    pub fn levels(&self) -> usize {
        self.gains.dims()[0]
    }

    /// Latent channels `M`.
    pub fn latent_channels(&self) -> usize {
        self.gains.dims()[1]
    }

    fn gain(&self, p: &Param<Tensor<2>>, level: usize) -> Tensor<4> {
        let m = self.latent_channels();
        p.val().narrow(0, level, 1).reshape([1, m, 1, 1])
    }

    /// Analysis transform with the level's gain: `y_s = g_a(x) · gain[level]`.
    ///
    /// # Shapes
    /// `x`: `[B, 3, H, W]` (H, W multiples of 16) → `[B, M, H/16, W/16]`.
    pub fn g_a(&self, x: Tensor<4>, level: usize) -> Tensor<4> {
        let x = self.g_a1.forward(self.g_a0.forward(x));
        let x = self.g_a3.forward(self.g_a2.forward(x));
        let x = self.g_a5.forward(self.g_a4.forward(x));
        self.g_a6.forward(x) * self.gain(&self.gains, level)
    }

    /// Synthesis transform after the level's inverse gain.
    ///
    /// # Shapes
    /// `y_hat`: `[B, M, h, w]` → `[B, 3, 16h, 16w]`.
    pub fn g_s(&self, y_hat: Tensor<4>, level: usize) -> Tensor<4> {
        let x = y_hat * self.gain(&self.inv_gains, level);
        let x = self.g_s1.forward(self.g_s0.forward(x));
        let x = self.g_s3.forward(self.g_s2.forward(x));
        let x = self.g_s5.forward(self.g_s4.forward(x));
        self.g_s6.forward(x)
    }

    fn no_hyper(&self, like: &Tensor<4>) -> Tensor<4> {
        Tensor::<4>::ones([1, 1, 1, 1], &like.device())
    }
}

impl RdImageNet for Factorized {
    fn rd_levels(&self) -> usize {
        self.levels()
    }

    /// Additive uniform noise in place of rounding.
    fn forward_train(&self, x: Tensor<4>, level: usize) -> RdOutput {
        let y = self.g_a(x, level);
        let y_tilde = y.clone() + y.random_like(Distribution::Uniform(-0.5, 0.5));
        let y_likelihoods = self.entropy_bottleneck.likelihood(y_tilde.clone());
        let x_hat = self.g_s(y_tilde, level);
        RdOutput {
            z_likelihoods: self.no_hyper(&x_hat),
            x_hat,
            y_likelihoods,
        }
    }

    /// Rounding around the per-channel medians, as the codec quantises.
    fn quantise(&self, x: Tensor<4>, level: usize) -> Quantised {
        let y = self.g_a(x, level);
        let m = self.latent_channels();
        let med = self.entropy_bottleneck.medians().reshape([1, m, 1, 1]);
        let y_hat = (y - med.clone()).round() + med;
        let y_likelihoods = self.entropy_bottleneck.likelihood(y_hat.clone());
        Quantised {
            z_likelihoods: self.no_hyper(&y_hat),
            y_hat,
            y_likelihoods,
        }
    }

    fn synthesis(&self, y_hat: Tensor<4>, level: usize) -> Tensor<4> {
        self.g_s(y_hat, level)
    }

    fn bottleneck(&self) -> &EntropyBottleneck {
        &self.entropy_bottleneck
    }
}
