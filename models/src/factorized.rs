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
use crate::hyperprior::{Quantised, RdImageNet, RdOutput};
use crate::transforms::{Transforms, gained_transforms_model};

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

gained_transforms_model! {
    /// A factorized-prior image model. See the module docs for the dataflow.
    pub struct Factorized {
        /// `entropy_bottleneck`, over the `M` channels of `y`.
        pub entropy_bottleneck: EntropyBottleneck,
    }
}

impl FactorizedConfig {
    /// Builds a freshly initialised model.
    pub fn init(&self, device: &Device) -> Factorized {
        Factorized::with_transforms(
            Transforms::new(self.n, self.m, &self.lambdas, device),
            EntropyBottleneck::new(self.m, device),
        )
    }
}

impl Factorized {
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
