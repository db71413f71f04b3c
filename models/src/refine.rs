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
use crate::hyperprior::{Hyperprior, Y_CELL, Z_CELL};

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

/// How [`Hyperprior::refine_latents_tiled`] splits an image, in pixels of the padded
/// image. Both sides are multiples of 64, the size of one hyper-latent cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    /// Side of the square of latents refined at a time (the tile's core), in pixels.
    pub core: usize,
    /// Context on each side of a core, in pixels: its latents enter the cost's transforms
    /// but are held fixed, and its pixels and bits are not counted. A latent reaches
    /// about 32 pixels through the synthesis transform (four 5×5 stride-2 transposed
    /// convolutions), so with a halo of 64 or more a core's pixels are reconstructed as
    /// in the whole image; through `h_a` and `h_s` it reaches about 14 latents (224
    /// pixels), so rates near a core's edge are estimates unless the halo is that wide.
    pub halo: usize,
}

/// A rectangle `[r0, r1) × [c0, c1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rect {
    r0: usize,
    r1: usize,
    c0: usize,
    c1: usize,
}

impl Rect {
    fn rows(&self) -> usize {
        self.r1 - self.r0
    }

    fn cols(&self) -> usize {
        self.c1 - self.c0
    }

    fn is_empty(&self) -> bool {
        self.r1 <= self.r0 || self.c1 <= self.c0
    }

    /// This rectangle, `by` smaller (`by` divides its sides).
    fn scaled_down(&self, by: usize) -> Rect {
        Rect {
            r0: self.r0 / by,
            r1: self.r1 / by,
            c0: self.c0 / by,
            c1: self.c1 / by,
        }
    }

    /// This rectangle in the coordinates of one starting at `origin`.
    fn relative_to(&self, origin: &Rect) -> Rect {
        Rect {
            r0: self.r0 - origin.r0,
            r1: self.r1 - origin.r0,
            c0: self.c0 - origin.c0,
            c1: self.c1 - origin.c0,
        }
    }

    /// The rows and columns of `t` (`[b, c, h, w]`) this rectangle covers.
    fn crop(&self, t: Tensor<4>) -> Tensor<4> {
        t.narrow(2, self.r0, self.rows())
            .narrow(3, self.c0, self.cols())
    }
}

/// `round(v)` in the forward pass, the identity in the backward pass.
fn ste_round(v: Tensor<4>) -> Tensor<4> {
    let r = v.clone().round();
    v.clone() + (r - v).detach()
}

impl Hyperprior {
    /// Refines the latents of one image for its rate–distortion cost at `level` (see the
    /// module docs), the whole image at once.
    ///
    /// `x` is the padded image `[1, 3, H, W]` in `[0, 1]` (H, W multiples of 64);
    /// distortion counts only its top-left `valid = (height, width)` pixels, the image
    /// itself, and rate is counted per valid pixel. The model's own tensors never require
    /// gradients; only the latents do. The backward pass keeps the whole image's
    /// activations; [`Hyperprior::refine_latents_tiled`] bounds them.
    ///
    /// # Panics
    /// If `valid` is empty or larger than `x`, `x`'s sides are not multiples of 64, or
    /// `level` is out of range.
    pub fn refine_latents(
        &self,
        x: Tensor<4>,
        level: usize,
        valid: (usize, usize),
        settings: RefineSettings,
    ) -> Refined {
        let [_, _, ph, pw] = x.dims();
        let whole = Tiling {
            core: ph.max(pw).next_multiple_of(Z_CELL),
            halo: 0,
        };
        self.refine_latents_tiled(x, level, valid, settings, whole, &|_, _| {})
    }

    /// Like [`Hyperprior::refine_latents`], one tile's core at a time (row-major), so that
    /// memory is bounded by a tile with its halo whatever the image's size.
    ///
    /// A tile's cost is the rate of its core's latents (and of the hyper-latents over the
    /// core) plus the distortion of the core's valid pixels; its halo's latents, already
    /// refined for the tiles before it, are held fixed. The returned costs are the tiles'
    /// estimates averaged over valid pixels, and `best_step` is the latest step any tile
    /// returned. One tile as large as the image is [`Hyperprior::refine_latents`].
    /// `on_tile(done, total)` is called before the first tile (`done` = 0) and after each.
    ///
    /// # Panics
    /// As [`Hyperprior::refine_latents`], and if the core is empty or the core or halo is
    /// not a multiple of 64.
    pub fn refine_latents_tiled(
        &self,
        x: Tensor<4>,
        level: usize,
        valid: (usize, usize),
        settings: RefineSettings,
        tiling: Tiling,
        on_tile: &dyn Fn(usize, usize),
    ) -> Refined {
        let [_, _, ph, pw] = x.dims();
        let (h, w) = valid;
        assert!(
            h > 0 && w > 0 && h <= ph && w <= pw,
            "valid region in the image"
        );
        assert!(
            ph % Z_CELL == 0 && pw % Z_CELL == 0,
            "image padded to multiples of {Z_CELL}"
        );
        assert!(level < self.levels(), "level in range");
        let Tiling { core: side, halo } = tiling;
        assert!(
            side > 0 && side % Z_CELL == 0 && halo % Z_CELL == 0,
            "tiles of whole hyper-latent cells"
        );
        let mut y = self.g_a(x.clone(), level).detach();
        let m = y.dims()[1];
        let tiles = ph.div_ceil(side) * pw.div_ceil(side);
        let mut done = 0;
        on_tile(0, tiles);
        let (mut initial_cost, mut cost, mut best_step, mut counted_px) = (0.0, 0.0, 0, 0.0);
        for r0 in (0..ph).step_by(side) {
            for c0 in (0..pw).step_by(side) {
                let core = Rect {
                    r0,
                    r1: (r0 + side).min(ph),
                    c0,
                    c1: (c0 + side).min(pw),
                };
                // Padding is less than a hyper-latent cell, so every core holds pixels
                // of the image.
                let counted = Rect {
                    r1: core.r1.min(h),
                    c1: core.c1.min(w),
                    ..core
                };
                debug_assert!(!counted.is_empty());
                let crop = Rect {
                    r0: r0.saturating_sub(halo),
                    r1: (core.r1 + halo).min(ph),
                    c0: c0.saturating_sub(halo),
                    c1: (core.c1 + halo).min(pw),
                };
                let tile = self.refine_tile(
                    crop.crop(x.clone()),
                    crop.scaled_down(Y_CELL).crop(y.clone()),
                    level,
                    core.relative_to(&crop),
                    counted.relative_to(&crop),
                    settings,
                );
                let n = (counted.rows() * counted.cols()) as f64;
                initial_cost += tile.initial_cost * n;
                cost += tile.cost * n;
                counted_px += n;
                best_step = best_step.max(tile.best_step);
                if tiles == 1 {
                    // The one tile is the whole image: its latents are all of `y`.
                    y = tile.y;
                } else {
                    let at = core.scaled_down(Y_CELL);
                    let refined = core.relative_to(&crop).scaled_down(Y_CELL).crop(tile.y);
                    y = y.slice_assign([0..1, 0..m, at.r0..at.r1, at.c0..at.c1], refined);
                }
                done += 1;
                on_tile(done, tiles);
            }
        }
        Refined {
            y,
            initial_cost: initial_cost / counted_px,
            cost: cost / counted_px,
            best_step,
        }
    }

    /// Refines the latents `y0` (of the image crop `x`) inside `core`, for the rate of
    /// `core`'s latents and the distortion of the pixels in `counted` (both in `x`'s
    /// pixels); returns the whole crop's latents.
    fn refine_tile(
        &self,
        x: Tensor<4>,
        y0: Tensor<4>,
        level: usize,
        core: Rect,
        counted: Rect,
        settings: RefineSettings,
    ) -> Refined {
        let x = counted.crop(x).autodiff();
        let pixels = (counted.rows() * counted.cols()) as f64;
        let (core_y, core_z) = (core.scaled_down(Y_CELL), core.scaled_down(Z_CELL));
        let [_, ch, yh, yw] = y0.dims();
        // Gradients outside the core are zeroed, so Adam leaves those latents as they are.
        let mask = (core_y.rows() != yh || core_y.cols() != yw).then(|| {
            y0.zeros_like().slice_fill(
                [0..1, 0..ch, core_y.r0..core_y.r1, core_y.c0..core_y.c1],
                1.0,
            )
        });
        let c = self.hyper_channels();
        let medians = self.entropy_bottleneck.medians().reshape([1, c, 1, 1]);
        // The cost of `y`, and its gradient when another step will use it.
        let cost_and_grad = |y: Tensor<4>, with_grad: bool| -> (f64, Option<Tensor<4>>) {
            let y = y.autodiff().require_grad();
            let z = self.h_a(y.clone());
            let z_hat = ste_round(z - medians.clone()) + medians.clone();
            let z_bits = core_z
                .crop(self.entropy_bottleneck.likelihood(z_hat.clone()))
                .log()
                .sum()
                .neg();
            let (scales, means) = self.h_s(z_hat);
            let y_hat = match &means {
                Some(mu) => ste_round(y.clone() - mu.clone()) + mu.clone(),
                None => ste_round(y.clone()),
            };
            let y_bits = core_y
                .crop(gaussian_likelihood(y_hat.clone(), scales, means))
                .log()
                .sum()
                .neg();
            let x_hat = counted.crop(self.g_s(y_hat, level));
            let mse = (x_hat - x.clone()).square().mean();
            let bpp = (y_bits + z_bits).div_scalar(pixels * std::f64::consts::LN_2);
            let cost = bpp + mse.mul_scalar(settings.lambda * 255.0 * 255.0);
            let value = f64::from(cost.clone().into_scalar::<f32>());
            let g = with_grad.then(|| {
                let grads = cost.backward();
                let g = y.grad(&grads).expect("the latents require gradients");
                match &mask {
                    Some(mask) => g * mask.clone(),
                    None => g,
                }
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

    /// An untrained mean-scale hyperprior with N = M = 8 and two levels, on the CPU.
    fn tiny_model() -> (Hyperprior, Device) {
        let device = Device::flex();
        let model = HyperpriorConfig::new(8, 8, vec![0.01, 0.05])
            .with_mean_scale(true)
            .init(&device);
        (model, device)
    }

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// With no steps the latents are `g_a`'s, and the cost refinement starts from is the
    /// quantised forward pass's `bpp + λ·255²·MSE` (`forward_eval`), so what it lowers is
    /// the codec's own estimate. With steps it never returns a costlier iterate.
    #[test]
    fn the_starting_cost_is_the_quantised_rd_cost() {
        let (model, device) = tiny_model();
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
        assert_eq!(values(r.y), values(model.g_a(x.clone(), 1)));

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

    /// Tiles whose halo reaches across the image each see the whole image, so their costs
    /// (the rate of a core's latents and hyper-latents, the distortion of a core's valid
    /// pixels) add up exactly to the whole image's cost: cores, counted pixels and rates
    /// partition the image. With steps, tiled refinement lowers its estimate too.
    #[test]
    fn tiles_partition_the_whole_image_cost() {
        let (model, device) = tiny_model();
        let valid = (120, 170);
        let across = Tiling {
            core: 64,
            halo: 192,
        };
        // Rate alone (λ = 0) of an image far outside `[0, 1]`, whose latents cost an
        // untrained model many bits; then an image in range with distortion, which
        // dominates an untrained model's cost.
        for (range, lambda) in [(100.0, 0.0), (1.0, 0.05)] {
            let x =
                Tensor::<4>::random([1, 3, 128, 192], Distribution::Uniform(0.0, range), &device);
            let settings = RefineSettings {
                steps: 0,
                lr: 0.01,
                lambda,
            };
            let whole = model.refine_latents(x.clone(), 1, valid, settings);
            let calls = std::cell::RefCell::new(Vec::new());
            let on_tile = |done, total| calls.borrow_mut().push((done, total));
            let tiled = model.refine_latents_tiled(x.clone(), 1, valid, settings, across, &on_tile);
            // 128 × 192 pixels in 64-pixel cores: 2 × 3 tiles, reported before the first
            // and after each.
            assert_eq!(
                calls.into_inner(),
                (0..=6).map(|d| (d, 6)).collect::<Vec<_>>()
            );
            let y0 = values(whole.y);
            assert_eq!(values(tiled.y), y0);
            assert!(
                (tiled.initial_cost - whole.initial_cost).abs() < 1e-5 * whole.initial_cost,
                "λ {lambda}: {} vs {}",
                tiled.initial_cost,
                whole.initial_cost
            );
            if lambda == 0.0 {
                continue;
            }
            let stepped = model.refine_latents_tiled(
                x,
                1,
                valid,
                RefineSettings {
                    steps: 5,
                    lr: 0.5,
                    lambda: 1.0,
                },
                Tiling { core: 64, halo: 64 },
                &|_, _| {},
            );
            assert!(stepped.cost < stepped.initial_cost);
            assert_ne!(values(stepped.y), y0);
        }
    }

    /// A halo of 64 pixels is wider than a latent's reach through `g_s`: with distortion
    /// dominating the cost, 128-pixel tiles with that halo add up to the whole image's
    /// cost although no crop is the whole image; without a halo they do not.
    #[test]
    fn a_64_pixel_halo_reconstructs_a_core_as_the_whole_image_does() {
        let (model, device) = tiny_model();
        let x = Tensor::<4>::random([1, 3, 384, 448], Distribution::Uniform(0.0, 1.0), &device);
        let valid = (384, 448);
        let settings = RefineSettings {
            steps: 0,
            lr: 0.01,
            lambda: 10.0,
        };
        let whole = model
            .refine_latents(x.clone(), 0, valid, settings)
            .initial_cost;
        let tiled = |halo| {
            let tiling = Tiling { core: 128, halo };
            model
                .refine_latents_tiled(x.clone(), 0, valid, settings, tiling, &|_, _| {})
                .initial_cost
        };
        let (with_halo, without) = (tiled(64), tiled(0));
        assert!(
            (with_halo - whole).abs() < 1e-5 * whole,
            "{with_halo} vs {whole}"
        );
        assert!(
            (without - whole).abs() > 1e-5 * whole,
            "{without} vs {whole}"
        );
    }

    /// A tile changes only its core's latents; its halo's stay as they were.
    #[test]
    fn a_tile_refines_only_its_core() {
        let (model, device) = tiny_model();
        let x = Tensor::<4>::random([1, 3, 128, 192], Distribution::Uniform(0.0, 1.0), &device);
        let y0 = model.g_a(x.clone(), 0);
        let core = Rect {
            r0: 64,
            r1: 128,
            c0: 64,
            c1: 128,
        };
        let settings = RefineSettings {
            steps: 5,
            lr: 0.5,
            lambda: 1.0,
        };
        let tile = model.refine_tile(x, y0.clone(), 0, core, core, settings);
        assert!(tile.best_step > 0);
        let (a, b) = (values(y0), values(tile.y));
        // `y` is `[1, 8, 8, 12]`; the core is rows 4..8, columns 4..8.
        let mut changed = 0;
        for (i, (u, v)) in a.iter().zip(&b).enumerate() {
            let (r, c) = ((i / 12) % 8, i % 12);
            if (4..8).contains(&r) && (4..8).contains(&c) {
                changed += usize::from(u != v);
            } else {
                assert_eq!(u, v, "latent {i} outside the core changed");
            }
        }
        assert!(changed > 0, "no latent in the core changed");
    }
}
