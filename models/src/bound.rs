//! A lower bound that keeps gradients alive (CompressAI's `LowerBound`).

use burn::prelude::*;

/// `max(x, bound)` in the forward pass, identity in the backward pass.
///
/// A plain `clamp_min` has zero gradient below the bound, so a GDN weight or a predicted
/// scale that drifts under it can never come back. CompressAI's `LowerBound` passes the
/// gradient where it would raise `x`; this straight-through form passes it always, which
/// also lets such values recover. The Gaussian scale uses the exact CompressAI rule
/// instead ([`crate::gaussian::scale_lower_bound`]).
pub fn lower_bound<const D: usize>(x: Tensor<D>, bound: f64) -> Tensor<D> {
    let clamped = x.clone().clamp_min(bound);
    x.clone() + (clamped - x).detach()
}

/// `max(x, bound)` whose gradient passes where `x ≥ bound`, and below the bound only where
/// `pass_below` holds (CompressAI's `LowerBound` rule, when the caller knows in the forward
/// pass which values the gradient would raise).
pub fn lower_bound_where<const D: usize>(
    x: Tensor<D>,
    bound: f64,
    pass_below: Tensor<D, Bool>,
) -> Tensor<D> {
    let fixed = x.clone().detach();
    let pass = fixed
        .clone()
        .greater_equal_elem(bound)
        .bool_or(pass_below)
        .float();
    fixed.clamp_min(bound) + (x.clone() - x.detach()) * pass
}
