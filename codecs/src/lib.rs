//! # ncodec
//!
//! Learned media codecs (images, audio, video) with a versioned, checksummed container.
//! This is the crate applications depend on; the `ncodec` binary is a thin front end.
//!
//! ## Tour
//! - [`container`]: the `.ncx` file format (`docs/FORMAT.md`): header with model id and
//!   weights digest, sections with CRC32, limits checked before every allocation.
//! - [`registry`]: the trained models this build ships.
//! - [`info`]: a file summary without decoding (what `ncodec info` prints).
//! - Entropy coding lives in [`ncodec_entropy`], transforms in `ncodec-models`.
//!
//! ```
//! use ncodec::container::{Container, Header, Limits, MediaInfo, Section};
//! let header = Header {
//!     version: ncodec::container::FORMAT_VERSION,
//!     flags: 0,
//!     model_id: "example".into(),
//!     model_digest: [0; 32],
//!     quality: 1,
//!     media: MediaInfo::Image { width: 4, height: 3, channels: 3, bit_depth: 8 },
//! };
//! let file = Container { header, sections: vec![Section { tag: *b"DATA", data: vec![1, 2, 3] }] };
//! let bytes = file.to_bytes()?;
//! assert_eq!(Container::from_bytes(&bytes, &Limits::default())?, file);
//! # Ok::<(), ncodec::Error>(())
//! ```
//!
//! ## Features
//! - `wgpu`: run the transforms on a GPU through Burn's wgpu backend (the entropy path
//!   stays on the CPU, so files are identical either way).

pub mod adaptive_coder;
pub mod audio_io;
pub mod container;
pub mod device;
mod error;
pub mod eval;
pub mod image_any;
pub mod image_codec;
pub mod info;
pub mod latent_context;
pub mod latent_learned;
pub mod metrics;
pub mod npy;
pub mod plot;
pub mod registry;
pub mod residual;
pub mod train;
pub mod train_postfilter;
pub mod train_walloc;
pub mod train_walloc_audio;
pub mod walloc_codec;
pub mod wavelet_codec;

pub use error::{Error, Result};
pub use ncodec_datasets as datasets;
pub use ncodec_entropy as entropy;
pub use ncodec_models as models;
