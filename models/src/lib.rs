//! # ncodec-models
//!
//! Learned transforms for ncodec, in Burn 0.22 (run-time `Device`, no backend generic).
//!
//! - [`gdn`]: GDN / inverse GDN.
//! - [`bottleneck`]: the factorized entropy bottleneck for hyper-latents.
//! - [`gaussian`]: Gaussian-conditional likelihoods.
//! - [`hyperprior`]: scale and mean-scale hyperprior image models with variable rate.
//! - [`factorized`]: the factorized-prior image model (no hyper-latents).
//! - [`cpu`]: the fixed-order CPU kernel that runs `h_s` identically on every machine.
//! - [`export`]: freezing a trained model into integer tables for `ncodec-entropy`.
//! - [`postfilter`]: a small learned filter for decoded images.
//! - [`refine`]: encoder-side latent refinement for the hyperprior family.
//!
//! Choose a device with `Device::flex()` (CPU, default build) or, with the `wgpu`
//! feature, a GPU device; training wraps it with `.autodiff()`.

pub mod bottleneck;
pub mod bound;
pub mod cpu;
pub mod export;
pub mod factorized;
pub mod gaussian;
pub mod gdn;
pub mod hyperprior;
pub mod postfilter;
pub mod refine;
pub mod transforms;
pub mod walloc;
pub mod wavelet;

pub use burn;
