//! Generalized divisive normalization (Ballé, Laparra, Simoncelli 2016).
//!
//! `y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²)` (GDN) and `y_i = x_i · sqrt(…)` (inverse GDN),
//! computed as a 1×1 convolution of `x²` with `γ` as weight and `β` as bias. `β` and `γ`
//! are kept positive with CompressAI's `NonNegativeParametrizer`: the stored value `p`
//! maps to `max(p, bound)² − pedestal`.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

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
        let [c, _] = self.gamma.dims();
        let gamma = self.gamma_value().reshape([c, c, 1, 1]);
        let norm = conv2d(
            x.clone().square(),
            gamma,
            Some(self.beta_value()),
            ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
        )
        .sqrt();
        if self.inverse { x * norm } else { x / norm }
    }
}
