//! Generalized divisive normalization (Ballé, Laparra, Simoncelli 2016).
//!
//! `y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²)` (GDN) and `y_i = x_i · sqrt(…)` (inverse GDN),
//! computed as a 1×1 convolution of `x²` with `γ` as weight and `β` as bias. `β` and `γ`
//! are kept positive with CompressAI's `NonNegativeParametrizer`: the stored value `p`
//! maps to `max(p, bound)² − pedestal`.

use burn::module::Param;
use burn::prelude::*;

use crate::bound::lower_bound;

const PEDESTAL: f64 = 1.0 / (1u64 << 36) as f64; // reparam_offset² with offset 2^-18
const BETA_MIN: f64 = 1e-6;
const GAMMA_INIT: f64 = 0.1;

/// A GDN or inverse-GDN layer over `channels` channels.
///
/// Parameter keys mirror CompressAI: `beta` (`[C]`) and `gamma` (`[C, C]`), both in the
/// reparametrised (stored) form.
#[derive(Module, Debug)]
pub struct Gdn {
    /// Reparametrised β, shape `[C]`.
    pub beta: Param<Tensor<1>>,
    /// Reparametrised γ, shape `[C, C]`.
    pub gamma: Param<Tensor<2>>,
    /// True for inverse GDN (multiply instead of divide).
    pub inverse: bool,
}

impl Gdn {
    /// A new layer initialised as CompressAI does (`β = 1`, `γ = 0.1·I`).
    pub fn new(channels: usize, inverse: bool, device: &Device) -> Self {
        let beta = Tensor::<1>::ones([channels], device)
            .add_scalar(PEDESTAL)
            .sqrt();
        let gamma = Tensor::<2>::eye(channels, device)
            .mul_scalar(GAMMA_INIT)
            .add_scalar(PEDESTAL)
            .sqrt();
        Self {
            beta: Param::from_tensor(beta),
            gamma: Param::from_tensor(gamma),
            inverse,
        }
    }

    /// The effective (positive) β, shape `[C]`.
    pub fn beta_value(&self) -> Tensor<1> {
        let bound = (BETA_MIN + PEDESTAL).sqrt();
        lower_bound(self.beta.val(), bound)
            .square()
            .sub_scalar(PEDESTAL)
    }

    /// The effective (non-negative) γ, shape `[C, C]`.
    pub fn gamma_value(&self) -> Tensor<2> {
        let bound = PEDESTAL.sqrt();
        lower_bound(self.gamma.val(), bound)
            .square()
            .sub_scalar(PEDESTAL)
    }

    /// Applies the layer.
    ///
    /// # Shapes
    /// `x`: `[B, C, H, W]` → `[B, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        // The 1×1 convolution with γ as one batched matrix product over the pixels: the
        // same sums, without a convolution's im2col copies.
        let [b, c, h, w] = x.dims();
        let squares = x.clone().square().reshape([b, c, h * w]);
        let gamma = self.gamma_value().unsqueeze_dim::<3>(0).expand([b, c, c]);
        let norm = (gamma.matmul(squares) + self.beta_value().reshape([1, c, 1]))
            .sqrt()
            .reshape([b, c, h, w]);
        if self.inverse { x * norm } else { x / norm }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GDN and its inverse against the per-pixel formula
    /// `y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²)` (times for the inverse).
    #[test]
    fn gdn_matches_the_per_pixel_formula() {
        let device = Device::flex();
        let (b, c, h, w) = (2, 3, 2, 3);
        let xs: Vec<f32> = (0..b * c * h * w)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0)
            .collect();
        let gammas = [0.5f32, 0.1, 0.2, 0.05, 0.7, 0.0, 0.3, 0.15, 0.9];
        let betas = [1.0f32, 0.5, 2.0];
        for inverse in [false, true] {
            let mut gdn = Gdn::new(c, inverse, &device);
            // Stored values are sqrt(value + pedestal).
            let stored = |v: &[f32]| {
                v.iter()
                    .map(|&g| (f64::from(g) + PEDESTAL).sqrt() as f32)
                    .collect::<Vec<_>>()
            };
            gdn.gamma = Param::from_tensor(
                Tensor::<1>::from_floats(stored(&gammas).as_slice(), &device).reshape([c, c]),
            );
            gdn.beta =
                Param::from_tensor(Tensor::<1>::from_floats(stored(&betas).as_slice(), &device));
            let x = Tensor::<1>::from_floats(xs.as_slice(), &device).reshape([b, c, h, w]);
            let got: Vec<f32> = gdn.forward(x).into_data().try_to_vec::<f32>().unwrap();
            for n in 0..b {
                for p in 0..h * w {
                    let at = |ch: usize| xs[(n * c + ch) * h * w + p];
                    for i in 0..c {
                        let norm = (betas[i]
                            + (0..c)
                                .map(|j| gammas[i * c + j] * at(j) * at(j))
                                .sum::<f32>())
                        .sqrt();
                        let want = if inverse { at(i) * norm } else { at(i) / norm };
                        let g = got[(n * c + i) * h * w + p];
                        assert!(
                            (g - want).abs() < 1e-5 * want.abs().max(1.0),
                            "{g} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
