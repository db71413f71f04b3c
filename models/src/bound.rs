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
