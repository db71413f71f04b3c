//! The hyperprior family: scale hyperprior (Ballé et al. 2018, "Variational image
//! compression with a scale hyperprior", CompressAI `bmshj2018-hyperprior`) and
//! mean-scale hyperprior (Minnen et al. 2018, CompressAI `mbt2018-mean`), with per-level
//! channel gains for variable rate (Cui et al. 2021, "Asymmetric gained deep image
//! compression").
//!
//! ```text
//!  x ─g_a─▶ y ─·gain[q]─▶ y_s ──h_a──▶ z ──Q──▶ ẑ ──h_s (CPU, fixed order)──▶ σ (, μ)
//!                          │                   │ entropy bottleneck
//!                          └──Q(y_s − μ)──▶ ŷ_s ── ·inv_gain[q] ──g_s──▶ x̂
//! ```
//!
//! For the scale hyperprior `h_a` sees `|y_s|` and `h_s` outputs only σ; for the
//! mean-scale model `h_a` sees `y_s` and `h_s` outputs `(σ, μ)`.
//!
//! Parameter names follow CompressAI's `state_dict` with indices spelled out:
//! `g_a.0.weight` ↔ `g_a0.weight`, `g_a.1.beta` ↔ `g_a1.beta`, `h_s.4` ↔ `h_s4`, and so on
//! (see `docs/KEYMAP.md`), plus `gains` / `inv_gains` (`[levels, M]`).

use burn::module::Param;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::{leaky_relu, relu};

use crate::bottleneck::EntropyBottleneck;
use crate::cpu::{CpuLayer, CpuNet, to_f32_vec};
use crate::gaussian::gaussian_likelihood;
use crate::gdn::Gdn;
use crate::transforms::{Transforms, conv, deconv, gained_transforms_model};

/// Configuration of a hyperprior model (saved as JSON next to the weights).
#[derive(Config, Debug, PartialEq)]
pub struct HyperpriorConfig {
    /// Channels of the hidden layers (CompressAI's `N`).
    pub n: usize,
    /// Channels of the latent `y` (CompressAI's `M`).
    pub m: usize,
    /// True for the mean-scale model (`mbt2018-mean`), false for the scale hyperprior.
    #[config(default = true)]
    pub mean_scale: bool,
    /// The rate–distortion trade-off λ of each quality level, ascending.
    pub lambdas: Vec<f64>,
}

/// Pixels per latent (`y`) cell: `g_a` downsamples the image 16×.
pub const Y_CELL: usize = 16;

/// Pixels per hyper-latent (`z`) cell: `h_a` downsamples `y` 4× more.
pub const Z_CELL: usize = 64;

/// Slope of the leaky ReLUs in the mean-scale hyper transforms (PyTorch's default).
const LEAKY_SLOPE: f64 = 0.01;

gained_transforms_model! {
    /// A hyperprior image model. See the module docs for the dataflow.
    pub struct Hyperprior {
        /// `h_a.0`
        pub h_a0: Conv2d,
        /// `h_a.2`
        pub h_a2: Conv2d,
        /// `h_a.4`
        pub h_a4: Conv2d,
        /// `h_s.0`
        pub h_s0: ConvTranspose2d,
        /// `h_s.2`
        pub h_s2: ConvTranspose2d,
        /// `h_s.4`
        pub h_s4: Conv2d,
        /// `entropy_bottleneck`
        pub entropy_bottleneck: EntropyBottleneck,
        /// Mean-scale model?
        pub mean_scale: bool,
    }
}

/// What a training forward pass returns.
#[derive(Debug, Clone)]
pub struct RdOutput {
    /// Reconstruction, `[B, 3, H, W]`.
    pub x_hat: Tensor<4>,
    /// Likelihoods of the noisy `y`, `[B, M, H/16, W/16]`.
    pub y_likelihoods: Tensor<4>,
    /// Likelihoods of the noisy `z`, `[B, N, H/64, W/64]` (a single 1 for the factorized
    /// prior, which has no hyper-latents).
    pub z_likelihoods: Tensor<4>,
}

impl HyperpriorConfig {
    /// Builds a freshly initialised model.
    pub fn init(&self, device: &Device) -> Hyperprior {
        let (n, m) = (self.n, self.m);
        let (hs_mid, hs_out) = if self.mean_scale {
            (m * 3 / 2, 2 * m)
        } else {
            (n, m)
        };
        let hs_in_mid = if self.mean_scale { m } else { n };
        Hyperprior::with_transforms(
            Transforms::new(n, m, &self.lambdas, device),
            conv(m, n, 3, 1, device),
            conv(n, n, 5, 2, device),
            conv(n, n, 5, 2, device),
            deconv(n, hs_in_mid, 5, 2, device),
            deconv(hs_in_mid, hs_mid, 5, 2, device),
            conv(hs_mid, hs_out, 3, 1, device),
            EntropyBottleneck::new(n, device),
            self.mean_scale,
        )
    }
}

/// Whether two λs name the same quality level (equal up to rounding in their decimal
/// spelling).
pub fn same_lambda(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs()
}

/// Gain rows `[to.len(), M]` for the λs `to`, from trained rows `[from.len(), M]` for the
/// λs `from` (both ascending; `from` needs at least two levels). A λ of `from` keeps its
/// row; any other λ gets, channel by channel, `log |g|` linear in `log λ` through the two
/// nearest levels of `from` (interpolated between them, extrapolated beyond the ends),
/// with the sign of the nearer row. Used to add quality levels to a trained model.
pub fn resample_level_rows(rows: &[f32], m: usize, from: &[f64], to: &[f64]) -> Vec<f32> {
    assert!(
        from.len() >= 2 && rows.len() == from.len() * m,
        "rows [{}, {m}]",
        from.len()
    );
    let row = |l: usize| &rows[l * m..(l + 1) * m];
    let mut out = Vec::with_capacity(to.len() * m);
    for &lambda in to {
        if let Some(l) = from.iter().position(|&f| same_lambda(lambda, f)) {
            out.extend_from_slice(row(l));
            continue;
        }
        // The pair of levels that brackets λ, or the two at the nearer end.
        let hi = from
            .partition_point(|&f| f < lambda)
            .clamp(1, from.len() - 1);
        let lo = hi - 1;
        let t = (lambda.ln() - from[lo].ln()) / (from[hi].ln() - from[lo].ln());
        let near = if t < 0.5 { lo } else { hi };
        for c in 0..m {
            let (a, b) = (row(lo)[c], row(hi)[c]);
            let v = if a == 0.0 || b == 0.0 {
                row(near)[c]
            } else {
                let mag = (f64::from(a.abs()).ln() * (1.0 - t) + f64::from(b.abs()).ln() * t).exp();
                (mag as f32).copysign(row(near)[c])
            };
            out.push(v);
        }
    }
    out
}

impl Hyperprior {
    /// The same model with quality levels for the λs `to` instead of `from` (the λs its
    /// gains were trained for; see [`resample_level_rows`]): gains and inverse gains are
    /// resampled, every other weight is kept.
    ///
    /// # Panics
    /// If `from` does not match the model's levels or has fewer than two.
    pub fn with_levels(mut self, from: &[f64], to: &[f64]) -> Self {
        let m = self.latent_channels();
        assert_eq!(from.len(), self.levels(), "λs of the trained levels");
        let device = self.gains.device();
        let resample = |p: &Param<Tensor<2>>| {
            let rows = to_f32_vec(p.val());
            let rows = resample_level_rows(&rows, m, from, to);
            Param::from_tensor(
                Tensor::<1>::from_floats(rows.as_slice(), &device).reshape([to.len(), m]),
            )
        };
        self.gains = resample(&self.gains);
        self.inv_gains = resample(&self.inv_gains);
        self
    }
}

impl Hyperprior {
    /// The same model with `m` latent channels instead of its `M` (`m ≥ M`; Net2Net-style
    /// widening, Chen et al. 2016), to give a trained model more capacity at high rates.
    ///
    /// Every trained weight keeps its place. The new channels of `y` get freshly
    /// initialised rows in `g_a`'s last layer (scaled down by a factor of ten) and
    /// new hyper-synthesis outputs (scale, and
    /// mean for the mean-scale model), while the weights that read them (`g_s`'s first
    /// layer, `h_a`'s first layer) and those reading `h_s`'s new hidden units start at
    /// zero. So the widened model reconstructs exactly as before, and its old channels keep
    /// their hyper-latents, means and scales; only the new channels' symbols add bits
    /// until training puts them to use. The new channels' gains at each level are the
    /// geometric mean of the level's trained gains, and their inverse gains its
    /// reciprocal.
    ///
    /// # Panics
    /// If `m` is smaller than the model's `M`.
    pub fn widen_latents(self, m: usize) -> Self {
        let old_m = self.latent_channels();
        assert!(m >= old_m, "widen {old_m} latent channels to {m}");
        if m == old_m {
            return self;
        }
        let device = self.gains.device();
        let levels = self.levels();
        let fresh = HyperpriorConfig {
            n: self.hyper_channels(),
            m,
            mean_scale: self.mean_scale,
            lambdas: vec![1.0; levels],
        }
        .init(&device);

        // Gains: geometric mean of each level's trained gains for the new channels.
        let old_gains = to_f32_vec(self.gains.val());
        let mut gains = Vec::with_capacity(levels * m);
        let mut inv_gains = Vec::with_capacity(levels * m);
        let old_inv = to_f32_vec(self.inv_gains.val());
        for l in 0..levels {
            let row = &old_gains[l * old_m..(l + 1) * old_m];
            let mean_log = row.iter().map(|g| f64::from(g.abs()).ln()).sum::<f64>() / old_m as f64;
            let g = mean_log.exp() as f32;
            gains.extend_from_slice(row);
            gains.extend(std::iter::repeat_n(g, m - old_m));
            inv_gains.extend_from_slice(&old_inv[l * old_m..(l + 1) * old_m]);
            inv_gains.extend(std::iter::repeat_n(1.0 / g, m - old_m));
        }
        let rows = |v: Vec<f32>| {
            Param::from_tensor(Tensor::<1>::from_floats(v.as_slice(), &device).reshape([levels, m]))
        };

        let Hyperprior {
            g_a6,
            g_s0,
            h_a0,
            h_s0,
            h_s2,
            h_s4,
            ..
        } = &self;
        // The new channels start small, so that their symbols cost few bits and their
        // rate's gradient does not disturb the trained encoder; training grows them.
        let shrink = |p: &Param<Tensor<4>>| leaf(p.val().mul_scalar(NEW_CHANNEL_SCALE));
        let shrink_bias = |p: &Option<Param<Tensor<1>>>| {
            p.as_ref()
                .map(|b| leaf(b.val().mul_scalar(NEW_CHANNEL_SCALE)))
        };
        let mut out = Hyperprior {
            g_a6: Conv2d {
                weight: graft(&shrink(&fresh.g_a6.weight), &g_a6.weight),
                bias: graft_bias(&shrink_bias(&fresh.g_a6.bias), &[(0, 0, old_m)], &g_a6.bias),
                ..fresh.g_a6.clone()
            },
            g_s0: ConvTranspose2d {
                weight: graft(&zeroed(&fresh.g_s0.weight), &g_s0.weight),
                bias: g_s0.bias.clone(),
                ..fresh.g_s0.clone()
            },
            h_a0: Conv2d {
                weight: graft(&zeroed(&fresh.h_a0.weight), &h_a0.weight),
                bias: h_a0.bias.clone(),
                ..fresh.h_a0.clone()
            },
            gains: rows(gains),
            inv_gains: rows(inv_gains),
            ..self.clone()
        };
        if self.mean_scale {
            // h_s: N → M → 3M/2 → 2M (scales, then means).
            let old_mid = h_s2.weight.dims()[1];
            let mid = fresh.h_s2.weight.dims()[1];
            out.h_s0 = ConvTranspose2d {
                weight: graft(&fresh.h_s0.weight, &h_s0.weight),
                bias: graft_bias(&fresh.h_s0.bias, &[(0, 0, old_m)], &h_s0.bias),
                ..fresh.h_s0.clone()
            };
            // The new hidden units of h_s0 feed nothing yet.
            let w = fresh.h_s2.weight.val();
            let [_, _, k, _] = w.dims();
            let w = w.slice_assign(
                [old_m..m, 0..mid, 0..k, 0..k],
                Tensor::zeros([m - old_m, mid, k, k], &device),
            );
            out.h_s2 = ConvTranspose2d {
                weight: graft(&leaf(w), &h_s2.weight),
                bias: graft_bias(&fresh.h_s2.bias, &[(0, 0, old_mid)], &h_s2.bias),
                ..fresh.h_s2.clone()
            };
            // Old outputs read no new hidden unit; scales keep rows 0.., means move from
            // row M.. to row m...
            let w = fresh.h_s4.weight.val();
            let [_, _, k, _] = w.dims();
            let zero = || Tensor::zeros([old_m, mid - old_mid, k, k], &device);
            let w = w
                .slice_assign([0..old_m, old_mid..mid, 0..k, 0..k], zero())
                .slice_assign([m..m + old_m, old_mid..mid, 0..k, 0..k], zero());
            let old = h_s4.weight.val();
            let w = w
                .slice_assign(
                    [0..old_m, 0..old_mid, 0..k, 0..k],
                    old.clone().narrow(0, 0, old_m),
                )
                .slice_assign(
                    [m..m + old_m, 0..old_mid, 0..k, 0..k],
                    old.narrow(0, old_m, old_m),
                );
            out.h_s4 = Conv2d {
                weight: leaf(w),
                bias: graft_bias(
                    &fresh.h_s4.bias,
                    &[(0, 0, old_m), (m, old_m, old_m)],
                    &h_s4.bias,
                ),
                ..fresh.h_s4.clone()
            };
        } else {
            // h_s: N → N → N → M.
            out.h_s4 = Conv2d {
                weight: graft(&fresh.h_s4.weight, &h_s4.weight),
                bias: graft_bias(&fresh.h_s4.bias, &[(0, 0, old_m)], &h_s4.bias),
                ..fresh.h_s4.clone()
            };
        }
        out
    }
}

/// Factor on the fresh initialisation of `g_a`'s new rows in
/// [`Hyperprior::widen_latents`].
const NEW_CHANNEL_SCALE: f64 = 0.1;

/// `base` with `part` written over its leading corner (the first rows and columns).
fn graft(base: &Param<Tensor<4>>, part: &Param<Tensor<4>>) -> Param<Tensor<4>> {
    let [p0, p1, k0, k1] = part.dims();
    leaf(
        base.val()
            .slice_assign([0..p0, 0..p1, 0..k0, 0..k1], part.val()),
    )
}

/// A zero tensor shaped like `p`.
fn zeroed(p: &Param<Tensor<4>>) -> Param<Tensor<4>> {
    leaf(p.val().zeros_like())
}

/// `base` with `(to, from, len)` runs of `part` copied in; `None` stays `None`.
fn graft_bias(
    base: &Option<Param<Tensor<1>>>,
    runs: &[(usize, usize, usize)],
    part: &Option<Param<Tensor<1>>>,
) -> Option<Param<Tensor<1>>> {
    let (base, part) = (base.as_ref()?.val(), part.as_ref()?.val());
    let mut t = base;
    for &(to, from, len) in runs {
        t = t.slice_assign(s![to..to + len], part.clone().narrow(0, from, len));
    }
    Some(leaf(t))
}

/// A new trainable parameter holding `t`'s values (outside any autodiff graph).
fn leaf<const D: usize>(t: Tensor<D>) -> Param<Tensor<D>> {
    Param::from_tensor(t.detach())
}

/// What the image trainer needs of a model: training and evaluation passes at a level,
/// and the entropy bottleneck (for its auxiliary loss).
pub trait RdImageNet: Module {
    /// Number of quality levels.
    fn rd_levels(&self) -> usize;
    /// The training pass (additive uniform noise in place of rounding).
    fn forward_train(&self, x: Tensor<4>, level: usize) -> RdOutput;
    /// The latents quantised as the codec quantises them, with their likelihoods; the
    /// reconstruction is left to [`RdImageNet::synthesis`].
    fn quantise(&self, x: Tensor<4>, level: usize) -> Quantised;
    /// The synthesis transform at a level, from quantised latents.
    fn synthesis(&self, y_hat: Tensor<4>, level: usize) -> Tensor<4>;
    /// The factorized density whose quantiles the auxiliary loss fits.
    fn bottleneck(&self) -> &EntropyBottleneck;

    /// The evaluation pass (rounding, as the codec quantises).
    fn forward_eval(&self, x: Tensor<4>, level: usize) -> RdOutput {
        let q = self.quantise(x, level);
        RdOutput {
            x_hat: self.synthesis(q.y_hat, level),
            y_likelihoods: q.y_likelihoods,
            z_likelihoods: q.z_likelihoods,
        }
    }

    /// The decoder-training pass: [`RdImageNet::forward_eval`] with the quantised latents
    /// and their likelihoods computed outside the autodiff graph, so that a loss on it
    /// moves only the synthesis transform and the inverse gains. The encoder, the priors
    /// and so every symbol and its probability stay as they are; the decoder learns the
    /// rounded latents the codec actually sends instead of the noisy ones of
    /// [`RdImageNet::forward_train`].
    fn forward_decoder(&self, x: Tensor<4>, level: usize) -> RdOutput {
        // The encoder side runs without autodiff (no graph is recorded for it).
        let q = self.valid().quantise(x.inner(), level);
        RdOutput {
            x_hat: self.synthesis(q.y_hat.autodiff(), level),
            y_likelihoods: q.y_likelihoods.autodiff(),
            z_likelihoods: q.z_likelihoods.autodiff(),
        }
    }
}

/// Latents quantised as the codec quantises them ([`RdImageNet::quantise`]).
#[derive(Debug, Clone)]
pub struct Quantised {
    /// Quantised latents, `[B, M, H/16, W/16]`.
    pub y_hat: Tensor<4>,
    /// Likelihoods of `y_hat`.
    pub y_likelihoods: Tensor<4>,
    /// Likelihoods of the quantised hyper-latents (a single 1 for the factorized prior).
    pub z_likelihoods: Tensor<4>,
}

impl RdImageNet for Hyperprior {
    fn rd_levels(&self) -> usize {
        self.levels()
    }
    fn forward_train(&self, x: Tensor<4>, level: usize) -> RdOutput {
        Hyperprior::forward_train(self, x, level)
    }
    fn quantise(&self, x: Tensor<4>, level: usize) -> Quantised {
        Hyperprior::quantise(self, x, level)
    }
    fn synthesis(&self, y_hat: Tensor<4>, level: usize) -> Tensor<4> {
        self.g_s(y_hat, level)
    }
    fn bottleneck(&self) -> &EntropyBottleneck {
        &self.entropy_bottleneck
    }
}

impl Hyperprior {
    /// Hyper-latent channels `N`.
    pub fn hyper_channels(&self) -> usize {
        self.entropy_bottleneck.channels()
    }

    /// Hyper-analysis.
    ///
    /// # Shapes
    /// `y`: `[B, M, h, w]` → `[B, N, h/4, w/4]`.
    pub fn h_a(&self, y: Tensor<4>) -> Tensor<4> {
        if self.mean_scale {
            let x = leaky_relu(self.h_a0.forward(y), LEAKY_SLOPE);
            let x = leaky_relu(self.h_a2.forward(x), LEAKY_SLOPE);
            self.h_a4.forward(x)
        } else {
            let x = relu(self.h_a0.forward(y.abs()));
            let x = relu(self.h_a2.forward(x));
            self.h_a4.forward(x)
        }
    }

    /// Hyper-synthesis in Burn (training only; coding uses [`Hyperprior::h_s_cpu`]).
    /// Returns `(scales, means)`.
    ///
    /// # Shapes
    /// `z_hat`: `[B, N, h, w]` → two `[B, M, 4h, 4w]` (means `None` for the scale model).
    pub fn h_s(&self, z_hat: Tensor<4>) -> (Tensor<4>, Option<Tensor<4>>) {
        if self.mean_scale {
            let x = leaky_relu(self.h_s0.forward(z_hat), LEAKY_SLOPE);
            let x = leaky_relu(self.h_s2.forward(x), LEAKY_SLOPE);
            let mut parts = self.h_s4.forward(x).chunk(2, 1);
            let means = parts.pop().expect("two chunks");
            (parts.pop().expect("two chunks"), Some(means))
        } else {
            let x = relu(self.h_s0.forward(z_hat));
            let x = relu(self.h_s2.forward(x));
            (relu(self.h_s4.forward(x)), None)
        }
    }

    /// The training forward pass with additive uniform noise in place of rounding.
    ///
    /// # Shapes
    /// `x`: `[B, 3, H, W]`, H and W multiples of 64.
    pub fn forward_train(&self, x: Tensor<4>, level: usize) -> RdOutput {
        let y = self.g_a(x, level);
        let z = self.h_a(y.clone());
        let z_tilde = z.clone() + z.random_like(Distribution::Uniform(-0.5, 0.5));
        let z_likelihoods = self.entropy_bottleneck.likelihood(z_tilde.clone());
        let (scales, means) = self.h_s(z_tilde);
        let y_tilde = y.clone() + y.random_like(Distribution::Uniform(-0.5, 0.5));
        let y_likelihoods = gaussian_likelihood(y_tilde.clone(), scales, means);
        let x_hat = self.g_s(y_tilde, level);
        RdOutput {
            x_hat,
            y_likelihoods,
            z_likelihoods,
        }
    }

    /// An evaluation forward pass with rounding (medians for `z`, means for `y`), as the
    /// codec quantises; returns reconstruction and likelihoods of the quantised values.
    ///
    /// # Shapes
    /// `x`: `[B, 3, H, W]`, H and W multiples of 64.
    pub fn forward_eval(&self, x: Tensor<4>, level: usize) -> RdOutput {
        RdImageNet::forward_eval(self, x, level)
    }

    /// The latents of [`Hyperprior::forward_eval`], before the synthesis transform.
    ///
    /// # Shapes
    /// `x`: `[B, 3, H, W]`, H and W multiples of 64.
    pub fn quantise(&self, x: Tensor<4>, level: usize) -> Quantised {
        let y = self.g_a(x, level);
        let z = self.h_a(y.clone());
        let c = self.hyper_channels();
        let med = self.entropy_bottleneck.medians().reshape([1, c, 1, 1]);
        let z_hat = (z - med.clone()).round() + med;
        let z_likelihoods = self.entropy_bottleneck.likelihood(z_hat.clone());
        let (scales, means) = self.h_s(z_hat);
        let y_hat = match &means {
            Some(m) => (y - m.clone()).round() + m.clone(),
            None => y.round(),
        };
        let y_likelihoods = gaussian_likelihood(y_hat.clone(), scales, means);
        Quantised {
            y_hat,
            y_likelihoods,
            z_likelihoods,
        }
    }

    /// Copies `h_s` into the fixed-order CPU kernel used for coding.
    pub fn h_s_cpu(&self) -> CpuNet {
        let act = if self.mean_scale {
            CpuLayer::LeakyRelu(LEAKY_SLOPE as f32)
        } else {
            CpuLayer::Relu
        };
        let mut layers = vec![
            CpuLayer::from_conv_transpose(&self.h_s0),
            act.clone(),
            CpuLayer::from_conv_transpose(&self.h_s2),
            act,
            CpuLayer::from_conv(&self.h_s4),
        ];
        if !self.mean_scale {
            layers.push(CpuLayer::Relu);
        }
        CpuNet { layers }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kept rows stay exact; others follow `log |g|` linear in `log λ`, between the
    /// bracketing levels or beyond the nearer end, with the nearer row's sign.
    #[test]
    fn level_rows_resample_log_linearly() {
        // Two channels; the second negative, the third level has a zero.
        let rows = [1.0f32, -2.0, 2.0, -4.0, 8.0, 0.0];
        let from = [1.0, 4.0, 16.0];
        let got = resample_level_rows(&rows, 2, &from, &[0.25, 1.0, 2.0, 4.0, 64.0]);
        let want = [
            0.5,
            -1.0,
            1.0,
            -2.0,
            2f32.sqrt(),
            -(8f32.sqrt()),
            2.0,
            -4.0,
            32.0,
            0.0,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
        assert_eq!(got.len(), want.len());
    }

    /// The decoder-training pass reconstructs exactly as the evaluation pass does, and a
    /// loss on it reaches the synthesis transform and the inverse gains only.
    #[test]
    fn the_decoder_pass_trains_only_the_decoder() {
        use burn::tensor::Distribution;
        let device = Device::flex().autodiff();
        let model = HyperpriorConfig::new(8, 8, vec![0.01, 0.05])
            .with_mean_scale(true)
            .init(&device);
        let x = Tensor::<4>::random([1, 3, 64, 64], Distribution::Uniform(0.0, 1.0), &device);
        let dec = model.forward_decoder(x.clone(), 1);
        let eval = model.forward_eval(x.clone(), 1);
        let values = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(values(dec.x_hat.clone()), values(eval.x_hat.clone()));
        assert_eq!(
            values(dec.y_likelihoods.clone()),
            values(eval.y_likelihoods)
        );

        let grads = (dec.x_hat - x.clone()).square().mean().backward();
        assert!(model.g_s0.weight.val().grad(&grads).is_some());
        assert!(model.g_s6.weight.val().grad(&grads).is_some());
        assert!(model.inv_gains.val().grad(&grads).is_some());
        assert!(model.g_a0.weight.val().grad(&grads).is_none());
        assert!(model.g_a6.weight.val().grad(&grads).is_none());
        assert!(model.gains.val().grad(&grads).is_none());
        assert!(model.h_a0.weight.val().grad(&grads).is_none());
        assert!(model.h_s0.weight.val().grad(&grads).is_none());
        assert!(
            model
                .entropy_bottleneck
                .quantiles
                .val()
                .grad(&grads)
                .is_none()
        );
        // The evaluation pass, by contrast, lets the loss reach the encoder.
        let grads = (eval.x_hat - x).square().mean().backward();
        assert!(model.g_a0.weight.val().grad(&grads).is_some());
    }

    /// A widened model reconstructs exactly as the original, keeps its old channels'
    /// likelihoods, and the new channels receive gradients through the rate–distortion
    /// loss (they are not stuck at a saddle).
    #[test]
    fn widening_the_latents_keeps_the_model() {
        use burn::tensor::Distribution;
        for mean_scale in [true, false] {
            let device = Device::flex().autodiff();
            let model = HyperpriorConfig::new(8, 6, vec![0.01, 0.05])
                .with_mean_scale(mean_scale)
                .init(&device);
            let wide = model.clone().widen_latents(10);
            assert_eq!(wide.latent_channels(), 10);
            let x = Tensor::<4>::random([1, 3, 64, 64], Distribution::Uniform(0.0, 1.0), &device);
            for level in 0..2 {
                let a = model.forward_eval(x.clone(), level);
                let b = wide.forward_eval(x.clone(), level);
                // Equal up to the summation order of the wider convolutions.
                let close = |p: Tensor<4>, q: Tensor<4>, what: &str| {
                    let d = (p - q).abs().max().into_scalar::<f32>();
                    assert!(
                        d < 1e-5,
                        "{what} (mean-scale {mean_scale}): max difference {d}"
                    );
                };
                close(a.x_hat, b.x_hat, "reconstruction");
                close(a.z_likelihoods, b.z_likelihoods, "z likelihoods");
                close(
                    a.y_likelihoods,
                    b.y_likelihoods.narrow(1, 0, 6),
                    "y likelihoods",
                );
                // The CPU hyper-synthesis sees the same widening.
                assert_eq!(wide.h_s_cpu().layers.len(), model.h_s_cpu().layers.len());
            }
            let gains = to_f32_vec(wide.gains.val());
            assert_eq!(&gains[..6], &to_f32_vec(model.gains.val())[..6]);
            assert!(gains[6..10].iter().all(|g| *g > 0.0));

            let out = wide.forward_train(x.clone(), 1);
            let loss = (out.x_hat - x).square().mean() - out.y_likelihoods.log().mean();
            let grads = loss.backward();
            let new_rows = |t: Tensor<4>| {
                let g = t.narrow(0, 6, 4).abs().sum().into_scalar::<f32>();
                assert!(g > 0.0, "no gradient on the new channels");
            };
            new_rows(wide.g_s0.weight.val().grad(&grads).unwrap());
            new_rows(wide.g_a6.weight.val().grad(&grads).unwrap());
        }
    }
}
