//! The models this build ships, by id, and loading of models from folders.
//!
//! Every shipped entry has real trained weights committed under `models/weights/<id>/`
//! with a model card, embedded into the binary so no configuration is needed. An id found
//! in a file but not here is an [`Error::UnknownModel`].

use std::path::Path;

use ncodec_models::burn::prelude::Device;

use crate::container::MediaKind;
use crate::error::{Error, Result};
use crate::image_codec::ImageModel;

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

struct Embedded {
    entry: ModelEntry,
    config: &'static [u8],
    weights: &'static [u8],
    tables: &'static [u8],
}

macro_rules! weights {
    ($id:literal, $file:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../models/weights/",
            $id,
            "/",
            $file
        ))
    };
}

/// The embedded models (files and model cards in `models/weights/<id>/`).
const EMBEDDED: &[Embedded] = &[Embedded {
    entry: ModelEntry {
        id: "hp-mean-64-r1",
        kind: MediaKind::Image,
        description: "mean-scale hyperprior (Minnen 2018), N=64 M=96, 6 gain levels; early training release, see its model card",
        min_quality: 0,
        max_quality: 5,
        default_quality: 3,
        default: true,
    },
    config: weights!("hp-mean-64-r1", "model.json"),
    weights: weights!("hp-mean-64-r1", "weights.bpk"),
    tables: weights!("hp-mean-64-r1", "tables.bin"),
}];

/// All shipped models.
pub fn models() -> Vec<ModelEntry> {
    EMBEDDED.iter().map(|e| e.entry.clone()).collect()
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

/// The default model for a media kind.
///
/// # Errors
/// [`Error::Unsupported`] if this build ships none.
pub fn default_for(kind: MediaKind) -> Result<ModelEntry> {
    models()
        .into_iter()
        .find(|m| m.kind == kind && m.default)
        .ok_or_else(|| Error::Unsupported(format!("this build ships no trained {kind} model yet")))
}

/// Loads a shipped image model.
///
/// # Errors
/// [`Error::UnknownModel`] if `id` is not shipped or is not an image model.
pub fn load_image_model(id: &str, device: &Device) -> Result<ImageModel> {
    let e = EMBEDDED
        .iter()
        .find(|e| e.entry.id == id && e.entry.kind == MediaKind::Image)
        .ok_or_else(|| Error::UnknownModel(id.to_string()))?;
    ImageModel::from_parts(id, e.config, e.weights, e.tables, device)
}

/// Loads an image model exported by `ncodec train image` from a folder holding
/// `model.json`, `weights.bpk` and `tables.bin`. Its id is the folder's name.
///
/// # Errors
/// [`Error::Io`] if a file is missing, [`Error::InvalidArgument`] if they do not parse.
pub fn load_image_model_dir(dir: &Path, device: &Device) -> Result<ImageModel> {
    let read = |name: &str| {
        let p = dir.join(name);
        std::fs::read(&p).map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", p.display()),
            ))
        })
    };
    let canon = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let id: String = canon
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(64)
                .collect()
        })
        .filter(|s: &String| !s.is_empty())
        .unwrap_or_else(|| "local-model".into());
    ImageModel::from_parts(
        &id,
        &read("model.json")?,
        &read("weights.bpk")?,
        &read("tables.bin")?,
        device,
    )
}
