//! One module per command; each has its arguments (a clap struct) and a `run`.

pub mod compare;
pub mod datasets;
pub mod decode;
pub mod encode;
pub mod eval;
pub mod info;
pub mod latents;
pub mod models;
pub mod train;
