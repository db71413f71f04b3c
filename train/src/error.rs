//! The training crate's error type.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong preparing or running a training run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The options are inconsistent, or a model named by them does not fit the run.
    #[error("{0}")]
    Invalid(String),
    /// A file of the run could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint could not be read or written.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The training or validation data could not be read.
    #[error("dataset")]
    Dataset(#[from] ncodec_datasets::Error),
    /// Coding, model or media errors from the codecs.
    #[error(transparent)]
    Codec(#[from] ncodec::Error),
}

impl Error {
    /// Maps an I/O error on `path` to [`Error::Io`].
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A checkpoint error.
    pub(crate) fn checkpoint(e: impl std::fmt::Display) -> Error {
        Error::Checkpoint(e.to_string())
    }
}
