//! # ncodec
//!
//! Learned media codecs (images, audio, video) with a versioned, checksummed container.
//! This is the crate applications depend on; the `ncodec` binary (crate `ncodec-cli`) and
//! the trainers (crate `ncodec-train`) are built on it.
//!
//! ## Layers
//!
//! ```text
//!  ncodec-cli, ncodec-train, tests          front ends: use the registry and the traits
//!  ─────────────────────────────────────────────────────────────────────────────────────
//!  registry      families + shipped models: model id or folder → Box<dyn Codec>
//!  eval, info    measure and describe files through the traits
//!  families/     hyperprior/ · walloc/ · wavelet/   one folder per family: transform
//!                glue, entropy model and format; each implements Family and Codec
//!  codec         trait Codec { info, encode, decode, latents } and trait Family { load }
//!  context/      the context coders the families share
//!  container/    the .ncx format          media/   image, audio, media descriptors
//!  ─────────────────────────────────────────────────────────────────────────────────────
//!  ncodec-models (Burn transforms)  ←  ncodec-entropy (integer tables, rANS)
//! ```
//!
//! Arrows point down only: a module imports the layers below it, never one above. A new
//! family is one folder under `families/` implementing [`codec::Family`] and
//! [`codec::Codec`], and one line in [`registry`].
//!
//! ## Tour
//! - Encode and decode: [`registry::load`] a shipped model (or [`registry::load_dir`] a
//!   folder exported by `ncodec train`), then [`codec::Codec::encode`] an
//!   [`codec::Input`] and [`codec::Codec::decode`] a parsed [`container::Container`]
//!   into a [`codec::MediaSink`] (or [`codec::Codec::decode_to_memory`]).
//! - Choose a device with [`device::default_device`]: the CPU, or a GPU with the `wgpu`
//!   feature and `NCODEC_DEVICE=wgpu`. Files are identical either way.
//! - [`container`]: the `.ncx` file format (`docs/FORMAT.md`): header with model id and
//!   weights digest, sections with CRC32, limits checked before every allocation.
//! - [`info`]: a file summary without decoding (what `ncodec info` prints).
//! - [`eval`] and [`metrics`]: rate–distortion evaluation, PSNR, MS-SSIM, BD-rate.
//! - Entropy coding lives in [`ncodec_entropy`], transforms in `ncodec-models`.
//!
//! ```
//! use ncodec::container::{Container, Header, Limits, Section};
//! use ncodec::media::MediaInfo;
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

pub mod codec;
pub mod container;
pub mod context;
pub mod device;
mod error;
pub mod eval;
pub mod families;
pub mod info;
pub mod media;
pub mod metrics;
pub mod registry;

pub use error::{Error, Result};
pub use ncodec_entropy as entropy;
pub use ncodec_models as models;
