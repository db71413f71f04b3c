//! The analysis and synthesis transforms of Ballé et al. (2018) that the hyperprior and
//! factorized-prior models share, with per-level channel gains for variable rate (Cui et
//! al. 2021):
//!
//! ```text
//!  g_a: conv 5×5/2 ─ GDN ─ conv 5×5/2 ─ GDN ─ conv 5×5/2 ─ GDN ─ conv 5×5/2   (3 → N → M)
//!  g_s: deconv 5×5/2 ─ IGDN ─ deconv ─ IGDN ─ deconv ─ IGDN ─ deconv 5×5/2   (M → N → 3)
//!  y_s = g_a(x) · gain[q]          x̂ = g_s(ŷ_s · inv_gain[q])
//! ```
//!
//! The layers keep CompressAI's names with indices spelled out (`g_a.0` ↔ `g_a0`), which
//! the weights files key by, so a model declares them as its own fields through
//! the `gained_transforms_model!` macro rather than as a nested module.

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::prelude::*;

use crate::gdn::Gdn;

/// A `k × k` convolution with stride `stride` and "same" padding.
pub(crate) fn conv(cin: usize, cout: usize, k: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
        .init(device)
}

/// A `k × k` transposed convolution that upsamples by `stride`.
pub(crate) fn deconv(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    device: &Device,
) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding([k / 2, k / 2])
        .with_padding_out([stride - 1, stride - 1])
        .init(device)
}

/// Initial per-level channel gains `[levels, M]`: spread like the λs (rate grows with
/// gain), `(λ_l / λ_mid)^0.35`; training refines them.
pub(crate) fn level_gains(lambdas: &[f64], m: usize, device: &Device) -> Tensor<2> {
    let levels = lambdas.len().max(1);
    let mid = lambdas.get(levels / 2).copied().unwrap_or(1.0);
    let g: Vec<f32> = (0..levels)
        .flat_map(|l| {
            let r = (lambdas.get(l).copied().unwrap_or(1.0) / mid).powf(0.35) as f32;
            std::iter::repeat_n(r, m)
        })
        .collect();
    Tensor::<1>::from_floats(g.as_slice(), device).reshape([levels, m])
}

/// The shared layers and gains, freshly initialised: what a model built with
/// [`gained_transforms_model`] starts from.
pub(crate) struct Transforms {
    pub(crate) g_a: ([Conv2d; 4], [Gdn; 3]),
    pub(crate) g_s: ([ConvTranspose2d; 4], [Gdn; 3]),
    pub(crate) gains: Param<Tensor<2>>,
    pub(crate) inv_gains: Param<Tensor<2>>,
}

impl Transforms {
    /// `g_a` and `g_s` for `n` hidden and `m` latent channels, and gains for `lambdas`.
    pub(crate) fn new(n: usize, m: usize, lambdas: &[f64], device: &Device) -> Self {
        let gdn = |inverse| std::array::from_fn(|_| Gdn::new(n, inverse, device));
        let gains = level_gains(lambdas, m, device);
        Self {
            g_a: (
                [(3, n), (n, n), (n, n), (n, m)].map(|(i, o)| conv(i, o, 5, 2, device)),
                gdn(false),
            ),
            g_s: (
                [(m, n), (n, n), (n, n), (n, 3)].map(|(i, o)| deconv(i, o, 5, 2, device)),
                gdn(true),
            ),
            inv_gains: Param::from_tensor(gains.clone().recip()),
            gains: Param::from_tensor(gains),
        }
    }
}

/// Declares a Burn module whose fields are the shared transforms' (`g_a0` … `g_a6`,
/// `g_s0` … `g_s6`), then the model's own fields, then `gains` and `inv_gains`
/// (`[levels, M]`), and gives it `with_transforms` (its constructor from a
/// [`Transforms`] and its own fields), `levels`, `latent_channels`, `g_a` and `g_s`.
macro_rules! gained_transforms_model {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Module, Debug)]
        pub struct $name {
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
            $( $(#[$fmeta])* pub $field: $ty, )*
            /// Per-level channel gains applied to `y`, `[levels, M]`.
            pub gains: Param<Tensor<2>>,
            /// Per-level inverse gains applied to `ŷ` before `g_s`, `[levels, M]`.
            pub inv_gains: Param<Tensor<2>>,
        }

        impl $name {
            /// The model made of the shared transforms `t` and its own fields.
            // One argument per field of the model's own.
            #[allow(clippy::too_many_arguments)]
            pub(crate) fn with_transforms(
                t: $crate::transforms::Transforms,
                $( $field: $ty ),*
            ) -> Self {
                let ([g_a0, g_a2, g_a4, g_a6], [g_a1, g_a3, g_a5]) = t.g_a;
                let ([g_s0, g_s2, g_s4, g_s6], [g_s1, g_s3, g_s5]) = t.g_s;
                Self {
                    g_a0, g_a1, g_a2, g_a3, g_a4, g_a5, g_a6,
                    g_s0, g_s1, g_s2, g_s3, g_s4, g_s5, g_s6,
                    $( $field, )*
                    gains: t.gains,
                    inv_gains: t.inv_gains,
                }
            }

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
        }
    };
}

pub(crate) use gained_transforms_model;
