//! The `ncodec` crate's error type.

use thiserror::Error;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong reading, writing, encoding or decoding.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file or stream failed.
    #[error("I/O error")]
    Io(#[from] std::io::Error),
    /// The input does not start with the ncodec magic bytes.
    #[error("not an ncodec file (bad magic bytes)")]
    NotNcodec,
    /// The input ends before the data it announces.
    #[error("truncated file: {0}")]
    Truncated(String),
    /// The input is complete but inconsistent (bad field, checksum mismatch, …).
    #[error("corrupt file: {0}")]
    Corrupt(String),
    /// The file was written by a newer format version.
    #[error("unsupported format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// Version found in the file.
        found: u8,
        /// Highest version this build reads.
        supported: u8,
    },
    /// The file names a model this build does not ship.
    #[error("unknown model `{0}` (see `ncodec models`)")]
    UnknownModel(String),
    /// The file was written with different weights or tables than the model here.
    #[error("model `{model}` digest mismatch: file has {file}, this build has {ours}")]
    ModelMismatch {
        /// Model id.
        model: String,
        /// Digest stored in the file (hex).
        file: String,
        /// Digest of the model in this build (hex).
        ours: String,
    },
    /// A size read from the input exceeds a limit.
    #[error("limit exceeded: {what} is {value}, the limit is {limit}")]
    LimitExceeded {
        /// What was too large.
        what: &'static str,
        /// The size asked for.
        value: u64,
        /// The largest size accepted.
        limit: u64,
    },
    /// A feature of the input (media kind, pixel format, …) that is not supported.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The caller passed an invalid argument.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The entropy coder rejected the data.
    #[error("entropy coding failed")]
    Entropy(#[from] ncodec_entropy::Error),
}

/// Maps an I/O error on `path` to [`Error::Io`] with the path in its message.
pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        ))
    }
}
