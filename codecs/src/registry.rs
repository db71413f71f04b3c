//! The models this build ships, by id.
//!
//! Every entry here has real trained weights committed under `models/weights/` with a
//! model card. The list grows as codecs land; an id found in a file but not here is an
//! [`Error::UnknownModel`](crate::Error::UnknownModel).

use crate::container::MediaKind;
use crate::error::{Error, Result};

/// A shipped model, as listed by `ncodec models`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelEntry {
    /// Id written into files, e.g. `hyperprior-mse`.
    pub id: &'static str,
    /// Media the model codes.
    pub kind: MediaKind,
    /// One-line description.
    pub description: &'static str,
    /// Lowest quality level.
    pub min_quality: u8,
    /// Highest quality level.
    pub max_quality: u8,
    /// Quality used when `--quality` is not given.
    pub default_quality: u8,
    /// Whether this is the default model for its media kind.
    pub default: bool,
}

/// All shipped models. Empty until the first trained model lands (see the issues).
pub fn models() -> Vec<ModelEntry> {
    Vec::new()
}

/// The shipped model with this id.
///
/// # Errors
/// [`Error::UnknownModel`] if there is none.
pub fn find(id: &str) -> Result<ModelEntry> {
    models()
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| Error::UnknownModel(id.to_string()))
}
