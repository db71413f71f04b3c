//! Encoder-side latent refinement for the hyperprior family.
//!
//! The analysis transform `g_a` is amortised: one network guesses good latents for every
//! image. For a given image, the latents can be improved by gradient descent on that
//! image's own rate–distortion cost `bits/pixel + λ·255²·MSE`, with the decoder side
//! (`h_a`, `h_s`, `g_s`, the priors) fixed — Campos et al. 2019, "Content adaptive
//! optimization for neural image compression"; Yang et al. 2020, "Improving inference
//! for neural image compression".
//!
//! The result is ordinary latents: the codec quantises and codes them exactly as it codes
//! `g_a`'s output, so refined files decode with any decoder of the same model. Only the
//! encoder spends more time.
//!
//! Rounding is made differentiable with the straight-through estimator: the forward pass
//! computes the cost of the values the codec will code (`ẑ`, `ŷ` rounded around the
//! medians and means), and gradients pass through the rounding unchanged. The cost of
//! every iterate is therefore the codec's own estimate, and the best iterate is returned,
//! so refinement never returns latents with a higher estimated cost than `g_a`'s.

use burn::prelude::*;

use crate::gaussian::gaussian_likelihood;
use crate::hyperprior::Hyperprior;

/// Settings of [`Hyperprior::refine_latents`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefineSettings {
    /// Gradient steps (0 returns `g_a`'s latents unchanged).
    pub steps: usize,
    /// Adam's step size at the start; it decays linearly to zero over `steps`.
    pub lr: f64,
    /// The rate–distortion trade-off `λ` of the cost `bpp + λ·255²·MSE` (the level's
    /// training λ).
    pub lambda: f64,
}

/// What [`Hyperprior::refine_latents`] returns.
#[derive(Debug, Clone)]
pub struct Refined {
    /// The refined (unquantised) latents `y_s`, `[1, M, h, w]`, on the input's device.
    pub y: Tensor<4>,
    /// Estimated cost `bpp + λ·255²·MSE` of `g_a`'s latents.
    pub initial_cost: f64,
    /// Estimated cost of the returned latents (≤ `initial_cost`).
    pub cost: f64,
    /// The step whose latents are returned (0: `g_a`'s).
    pub best_step: usize,
}

/// `round(v)` in the forward pass, the identity in the backward pass.
fn ste_round(v: Tensor<4>) -> Tensor<4> {
    let r = v.clone().round();
    v.clone() + (r - v).detach()
}

impl Hyperprior {
    /// Refines the latents of one image for its rate–distortion cost at `level` (see the
    /// module docs).
    ///
    /// `x` is the padded image `[1, 3, H, W]` in `[0, 1]` (H, W multiples of 64);
    /// distortion counts only its top-left `valid = (height, width)` pixels, the image
    /// itself, and rate is counted per valid pixel. The model's own tensors never require
    /// gradients; only the latents do.
    ///
    /// # Panics
    /// If `valid` is empty or larger than `x`, or `level` is out of range.
    pub fn refine_latents(
        &self,
        x: Tensor<4>,
        level: usize,
        valid: (usize, usize),
        settings: RefineSettings,
    ) -> Refined {
        let [_, _, ph, pw] = x.dims();
        let (h, w) = valid;
        assert!(
            h > 0 && w > 0 && h <= ph && w <= pw,
            "valid region in the image"
        );
        assert!(level < self.levels(), "level in range");
        let y0 = self.g_a(x.clone(), level).detach();
        let x = x.narrow(2, 0, h).narrow(3, 0, w).autodiff();
        let pixels = (h * w) as f64;
        let c = self.hyper_channels();
        let medians = self.entropy_bottleneck.medians().reshape([1, c, 1, 1]);
        // The cost of `y`, and its gradient when another step will use it.
        let cost_and_grad = |y: Tensor<4>, with_grad: bool| -> (f64, Option<Tensor<4>>) {
            let y = y.autodiff().require_grad();
            let z = self.h_a(y.clone());
            let z_hat = ste_round(z - medians.clone()) + medians.clone();
            let z_bits = self
                .entropy_bottleneck
                .likelihood(z_hat.clone())
                .log()
                .sum()
                .neg();
            let (scales, means) = self.h_s(z_hat);
            let y_hat = match &means {
                Some(mu) => ste_round(y.clone() - mu.clone()) + mu.clone(),
                None => ste_round(y.clone()),
            };
            let y_bits = gaussian_likelihood(y_hat.clone(), scales, means)
                .log()
                .sum()
                .neg();
            let x_hat = self.g_s(y_hat, level).narrow(2, 0, h).narrow(3, 0, w);
            let mse = (x_hat - x.clone()).square().mean();
            let bpp = (y_bits + z_bits).div_scalar(pixels * std::f64::consts::LN_2);
            let cost = bpp + mse.mul_scalar(settings.lambda * 255.0 * 255.0);
            let value = f64::from(cost.clone().into_scalar::<f32>());
            let g = with_grad.then(|| {
                let grads = cost.backward();
                y.grad(&grads).expect("the latents require gradients")
            });
            (value, g)
        };

        let (b1, b2, eps): (f64, f64, f64) = (0.9, 0.999, 1e-8);
        let mut y = y0.clone();
        let mut m = y.zeros_like();
        let mut v = y.zeros_like();
        let (initial_cost, mut g) = cost_and_grad(y.clone(), settings.steps > 0);
        let (mut best, mut best_cost, mut best_step) = (y0, initial_cost, 0);
        for step in 1..=settings.steps {
            let lr = settings.lr * (settings.steps + 1 - step) as f64 / settings.steps as f64;
            let grad = g.take().expect("a gradient for every step");
            m = m.mul_scalar(b1) + grad.clone().mul_scalar(1.0 - b1);
            v = v.mul_scalar(b2) + grad.square().mul_scalar(1.0 - b2);
            let m_hat = m.clone().div_scalar(1.0 - b1.powi(step as i32));
            let v_hat = v.clone().div_scalar(1.0 - b2.powi(step as i32));
            y = y - (m_hat / v_hat.sqrt().add_scalar(eps)).mul_scalar(lr);
            let (cost, grad) = cost_and_grad(y.clone(), step < settings.steps);
            if cost < best_cost {
                (best, best_cost, best_step) = (y.clone(), cost, step);
            }
            g = grad;
        }
        Refined {
            y: best,
            initial_cost,
            cost: best_cost,
            best_step,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hyperprior::HyperpriorConfig;
    use burn::tensor::Distribution;

    /// With no steps the latents are `g_a`'s, and the cost refinement starts from is the
    /// quantised forward pass's `bpp + λ·255²·MSE` (`forward_eval`), so what it lowers is
    /// the codec's own estimate. With steps it never returns a costlier iterate.
    #[test]
    fn the_starting_cost_is_the_quantised_rd_cost() {
        let device = Device::flex();
        let model = HyperpriorConfig::new(8, 8, vec![0.01, 0.05])
            .with_mean_scale(true)
            .init(&device);
        let x = Tensor::<4>::random([1, 3, 64, 64], Distribution::Uniform(0.0, 1.0), &device);
        let lambda = 0.05;
        let settings = RefineSettings {
            steps: 0,
            lr: 0.01,
            lambda,
        };
        let r = model.refine_latents(x.clone(), 1, (64, 64), settings);
        assert_eq!(r.best_step, 0);
        assert_eq!(r.cost, r.initial_cost);
        let y0: Vec<f32> = model
            .g_a(x.clone(), 1)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let y: Vec<f32> = r.y.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(y, y0);

        let out = model.forward_eval(x.clone(), 1);
        let bits = |l: Tensor<4>| -f64::from(l.log().sum().into_scalar::<f32>());
        let bpp = (bits(out.y_likelihoods) + bits(out.z_likelihoods))
            / (64.0 * 64.0 * std::f64::consts::LN_2);
        let mse = f64::from((out.x_hat - x.clone()).square().mean().into_scalar::<f32>());
        let want = bpp + lambda * 255.0 * 255.0 * mse;
        assert!(
            (r.initial_cost - want).abs() < 1e-4 * want,
            "{} vs {want}",
            r.initial_cost
        );

        let stepped = model.refine_latents(
            x,
            1,
            (64, 64),
            RefineSettings {
                steps: 3,
                ..settings
            },
        );
        assert!(stepped.cost <= stepped.initial_cost);
        assert!(stepped.best_step <= 3);
        assert_eq!(stepped.initial_cost, r.initial_cost);
    }
}
