//! The Gaussian conditional of Ballé et al. 2018 / Minnen et al. 2018 (CompressAI's
//! `GaussianConditional`): likelihoods for training, scale-table indices for coding.

use burn::prelude::*;

use crate::bound::{lower_bound, lower_bound_where};

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
    let s = scale_lower_bound(scales, v.clone());
    let upper = std_cdf((v.clone().neg().add_scalar(0.5)) / s.clone());
    let lower = std_cdf((v.neg().sub_scalar(0.5)) / s);
    lower_bound(upper - lower, crate::bottleneck::LIKELIHOOD_BOUND)
}

/// `max(scales, SCALE_BOUND)` with CompressAI's `LowerBound` gradient: below the bound,
/// only a gradient that raises the scale passes.
///
/// A scale only enters the loss through its own symbol's rate `−log p`, so the sign of its
/// gradient at the bound is known in the forward pass: the bin's mass
/// `Φ((½−v)/s) − Φ((−½−v)/s)` grows with `s` iff `v > ½` and `v/s² > ln((v+½)/(v−½))`,
/// with `v = |y − μ|`. Elsewhere below the bound the gradient is zero, so a predicted scale
/// neither drifts further down (as under a straight-through bound, where the rate of
/// near-zero symbols keeps pushing it) nor gets stuck (as under a plain clamp).
pub fn scale_lower_bound(scales: Tensor<4>, v: Tensor<4>) -> Tensor<4> {
    let b = SCALE_BOUND;
    let v = v.detach();
    let above_half = v.clone().greater_elem(0.5);
    let vc = v.clamp_min(0.5 + 1e-3);
    let ratio = (vc.clone().add_scalar(0.5) / vc.clone().sub_scalar(0.5)).log();
    let grows = vc.div_scalar(b * b).greater(ratio).bool_and(above_half);
    lower_bound_where(scales, b, grows)
}

fn std_cdf(x: Tensor<4>) -> Tensor<4> {
    x.mul_scalar(std::f64::consts::FRAC_1_SQRT_2)
        .erf()
        .add_scalar(1.0)
        .mul_scalar(0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rate gradients reach a scale below the bound only when they would raise it, and
    /// the forward value is the bounded scale's likelihood.
    #[test]
    fn scale_bound_passes_only_raising_gradients() {
        let device = Device::flex().autodiff();
        let raw = Tensor::<1>::from_floats([0.05, 0.05, 0.3, 0.05], &device).require_grad();
        let scales = raw.clone().reshape([1, 4, 1, 1]);
        let y = Tensor::<1>::from_floats([0.0, 0.8, 0.0, 0.52], &device).reshape([1, 4, 1, 1]);
        let lik = gaussian_likelihood(y.clone(), scales, None);
        let bounded = Tensor::<1>::from_floats(
            [
                SCALE_BOUND as f32,
                SCALE_BOUND as f32,
                0.3,
                SCALE_BOUND as f32,
            ],
            &device,
        )
        .reshape([1, 4, 1, 1]);
        let expected = gaussian_likelihood(y, bounded, None);
        let got: Vec<f32> = lik.clone().into_data().try_to_vec::<f32>().unwrap();
        let want: Vec<f32> = expected.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(got, want);

        let grads = lik.log().neg().sum().backward();
        let g: Vec<f32> = raw
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        // v = 0 below the bound: the rate would lower the scale; blocked.
        assert_eq!(g[0], 0.0);
        // v = 0.8 below the bound: the rate raises the scale; passed (negative gradient).
        assert!(g[1] < 0.0, "{g:?}");
        // Above the bound: the ordinary gradient (v = 0 lowers the scale).
        assert!(g[2] > 0.0, "{g:?}");
        // v = 0.52 at s = 0.11: the bin [0.02, 1.02] gains mass as s grows; passed.
        assert!(g[3] < 0.0, "{g:?}");
    }
}
