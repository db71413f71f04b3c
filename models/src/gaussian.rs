//! The Gaussian conditional of Ballé et al. 2018 / Minnen et al. 2018 (CompressAI's
//! `GaussianConditional`): likelihoods for training, scale-table indices for coding.

use burn::prelude::*;

use crate::bound::lower_bound;

/// Smallest scale used anywhere (CompressAI's `scale_bound`, equal to `SCALES_MIN`).
pub const SCALE_BOUND: f64 = 0.11;

/// Likelihood of `y` (noisy or quantised) under `N(means, scales²)` convolved with a unit
/// box, bounded below by [`crate::bottleneck::LIKELIHOOD_BOUND`].
///
/// # Shapes
/// All three `[B, M, H, W]` → `[B, M, H, W]`.
pub fn gaussian_likelihood(y: Tensor<4>, scales: Tensor<4>, means: Option<Tensor<4>>) -> Tensor<4> {
    let v = match means {
        Some(m) => (y - m).abs(),
        None => y.abs(),
    };
    let s = lower_bound(scales, SCALE_BOUND);
    let upper = std_cdf((v.clone().neg().add_scalar(0.5)) / s.clone());
    let lower = std_cdf((v.neg().sub_scalar(0.5)) / s);
    lower_bound(upper - lower, crate::bottleneck::LIKELIHOOD_BOUND)
}

fn std_cdf(x: Tensor<4>) -> Tensor<4> {
    x.mul_scalar(std::f64::consts::FRAC_1_SQRT_2)
        .erf()
        .add_scalar(1.0)
        .mul_scalar(0.5)
}
