//! The families' training tasks, one module each.

pub mod hyperprior;
pub mod latent_context;
pub mod postfilter;
pub mod walloc;
