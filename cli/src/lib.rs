//! The `ncodec` command line as a library: one module per command
//! ([`commands`]), the argument groups they share ([`args`]), folders in one command
//! ([`batch`]), input and output handling
//! ([`io`]), progress display ([`progress`]) and the error type that prints a cause
//! chain ([`error`]). `main.rs` only parses the command line and dispatches.
//!
//! Every command works through the codec interface of the `ncodec` crate
//! (`ncodec::codec::Codec`), whatever the model's family.

pub mod args;
pub mod batch;
pub mod commands;
pub mod error;
pub mod io;
pub mod progress;
