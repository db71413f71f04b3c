//! The models this build ships, by id, and loading of models from folders.
//!
//! Every shipped learned entry has real trained weights committed under
//! `models/weights/<id>/` with a model card, embedded into the binary so no configuration
//! is needed. Two entries, `dwt97-rgb` and `dwt97s-rgb` (periodic and symmetric border
//! extension), are classic wavelet codecs with no weights (their cards are in
//! `models/weights/` too), shipped as baselines and never as defaults; the learned
//! variants (`dwt97-pf-r1`, …) code the same files and decode them through a trained
//! post-filter. An id found in a file but not here is an [`Error::UnknownModel`].

use std::path::Path;

use ncodec_models::burn::prelude::Device;

use crate::container::MediaKind;
use crate::error::{Error, Result, io_err};
use crate::image_any::ImageCodec;
use crate::image_codec::ImageModel;
use crate::latent_learned::LatentContextModel;
use crate::walloc_codec::WallocModel;
use crate::wavelet_codec::{DWT_ID, DWT_SYMMETRIC_ID, Extension, WaveletCodec};

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

/// Model families, told apart by their `model.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Hyperprior,
    Walloc,
    /// No weights: [`crate::wavelet_codec::WaveletCodec`] with this border extension.
    Classic(Extension),
    /// The wavelet codec with a learned post-filter (`model.json`, `weights.bpk`).
    Filtered,
}

struct Embedded {
    entry: ModelEntry,
    family: Family,
    config: &'static [u8],
    weights: &'static [u8],
    tables: &'static [u8],
    /// A WaLLoC image model's learned latent context model (`context.bin`), or empty.
    context: &'static [u8],
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

/// A shipped hyperprior-family release with six quality levels (0–5, default 3) that is
/// not the default model: its `model.json`, `weights.bpk` and `tables.bin`.
macro_rules! hyperprior_release {
    ($id:literal, $description:literal) => {
        hyperprior_release!($id, $description, max_quality: 5, default_quality: 3)
    };
    ($id:literal, $description:literal, max_quality: $max:literal, default_quality: $default:literal) => {
        Embedded {
            entry: ModelEntry {
                id: $id,
                kind: MediaKind::Image,
                description: $description,
                min_quality: 0,
                max_quality: $max,
                default_quality: $default,
                default: false,
            },
            family: Family::Hyperprior,
            config: weights!($id, "model.json"),
            weights: weights!($id, "weights.bpk"),
            tables: weights!($id, "tables.bin"),
            context: &[],
        }
    };
}

/// The embedded models (files and model cards in `models/weights/<id>/`).
const EMBEDDED: &[Embedded] = &[
    hyperprior_release!(
        "hp-mean-64-r1",
        "mean-scale hyperprior (Minnen 2018), N=64 M=96, 6 gain levels; early training release, see its model card"
    ),
    hyperprior_release!(
        "hp-mean-64-r2",
        "mean-scale hyperprior, N=64 M=96, 6 gain levels: hp-mean-64-r1 trained 15,750 steps further; early training release, see its model card"
    ),
    hyperprior_release!(
        "hp-mean-64-r3",
        "mean-scale hyperprior, N=64 M=96, 6 gain levels: hp-mean-64-r2 trained 12,000 steps further; early training release, see its model card"
    ),
    hyperprior_release!(
        "hp-mean-64-r4",
        "mean-scale hyperprior, N=64 M=96, 6 gain levels: hp-mean-64-r3 trained 14,000 steps further; early training release, see its model card"
    ),
    hyperprior_release!(
        "hp-mean-64-r5",
        "mean-scale hyperprior, N=64 M=96, 6 gain levels: hp-mean-64-r4 trained 13,000 steps further; early training release, see its model card"
    ),
    hyperprior_release!(
        "hp-mean-64-r5-wide",
        "mean-scale hyperprior, N=64 M=96, 10 gain levels: hp-mean-64-r5 with four levels added by extrapolating its gains (0.09–0.94 bpp on Kodak; no further training); early training release, see its model card",
        max_quality: 9,
        default_quality: 6
    ),
    Embedded {
        entry: ModelEntry {
            id: "walloc-rgb-16x-r1",
            kind: MediaKind::Image,
            description: "WaLLoC RGB 16x (J=3, 12 latents), context-coded latents; levels 0–7 latents alone, 8–15 plus a wavelet residual; early training release, see its model card",
            min_quality: 0,
            max_quality: crate::walloc_codec::IMAGE_LEVELS - 1,
            default_quality: crate::walloc_codec::DEFAULT_IMAGE_QUALITY,
            default: false,
        },
        family: Family::Walloc,
        config: weights!("walloc-rgb-16x-r1", "model.json"),
        weights: weights!("walloc-rgb-16x-r1", "weights.bpk"),
        tables: weights!("walloc-rgb-16x-r1", "tables.bin"),
        context: weights!("walloc-rgb-16x-r1", "context.bin"),
    },
    Embedded {
        entry: ModelEntry {
            id: DWT_ID,
            kind: MediaKind::Image,
            description: "classic wavelet codec, no learned weights: dyadic CDF 9/7 (5 levels) with ncodec's context coder; a baseline, see its card",
            min_quality: 0,
            max_quality: crate::wavelet_codec::QUALITY_LEVELS - 1,
            default_quality: crate::wavelet_codec::DEFAULT_QUALITY,
            default: false,
        },
        family: Family::Classic(Extension::Periodic),
        config: &[],
        weights: &[],
        tables: &[],
        context: &[],
    },
    Embedded {
        entry: ModelEntry {
            id: DWT_SYMMETRIC_ID,
            kind: MediaKind::Image,
            description: "dwt97-rgb with symmetric instead of periodic extension at the borders (smaller files); classic, no learned weights, a baseline, see its card",
            min_quality: 0,
            max_quality: crate::wavelet_codec::QUALITY_LEVELS - 1,
            default_quality: crate::wavelet_codec::DEFAULT_QUALITY,
            default: false,
        },
        family: Family::Classic(Extension::Symmetric),
        config: &[],
        weights: &[],
        tables: &[],
        context: &[],
    },
    Embedded {
        entry: ModelEntry {
            id: "dwt97-pf-r1",
            kind: MediaKind::Image,
            description: "dwt97-rgb's files decoded through a learned post-filter (5 conv layers, 24 channels) trained by `ncodec train postfilter`; see its model card",
            min_quality: 0,
            max_quality: crate::wavelet_codec::QUALITY_LEVELS - 1,
            default_quality: crate::wavelet_codec::DEFAULT_QUALITY,
            default: false,
        },
        family: Family::Filtered,
        config: weights!("dwt97-pf-r1", "model.json"),
        weights: weights!("dwt97-pf-r1", "weights.bpk"),
        tables: &[],
        context: &[],
    },
    Embedded {
        entry: ModelEntry {
            id: "dwt97s-pf-r2",
            kind: MediaKind::Image,
            description: "dwt97s-rgb's files (symmetric extension) decoded through a learned post-filter (5 conv layers, 24 channels), dwt97-pf-r1's filter trained further; see its model card",
            min_quality: 0,
            max_quality: crate::wavelet_codec::QUALITY_LEVELS - 1,
            default_quality: crate::wavelet_codec::DEFAULT_QUALITY,
            default: true,
        },
        family: Family::Filtered,
        config: weights!("dwt97s-pf-r2", "model.json"),
        weights: weights!("dwt97s-pf-r2", "weights.bpk"),
        tables: &[],
        context: &[],
    },
    Embedded {
        entry: ModelEntry {
            id: "walloc-speech-16k-r1",
            kind: MediaKind::Audio,
            description: "WaLLoC speech, mono 16 kHz (J=6, 8 latents), any WAV resampled; early training release, see its model card",
            min_quality: 0,
            max_quality: 0,
            default_quality: 0,
            default: true,
        },
        family: Family::Walloc,
        config: weights!("walloc-speech-16k-r1", "model.json"),
        weights: weights!("walloc-speech-16k-r1", "weights.bpk"),
        tables: weights!("walloc-speech-16k-r1", "tables.bin"),
        context: &[],
    },
    Embedded {
        entry: ModelEntry {
            id: "walloc-music-44k-r1",
            kind: MediaKind::Audio,
            description: "WaLLoC stereo 44.1 kHz (J=8, 32 latents), the paper's stereo setting; early training release, on music not yet better than the speech model: see its model card",
            min_quality: 0,
            max_quality: 0,
            default_quality: 0,
            default: false,
        },
        family: Family::Walloc,
        config: weights!("walloc-music-44k-r1", "model.json"),
        weights: weights!("walloc-music-44k-r1", "weights.bpk"),
        tables: weights!("walloc-music-44k-r1", "tables.bin"),
        context: &[],
    },
];

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

/// The id of the shipped WaLLoC image model (the default for `ncodec latents`).
///
/// # Errors
/// [`Error::Unsupported`] if this build ships none.
pub fn default_walloc_image() -> Result<&'static str> {
    EMBEDDED
        .iter()
        .find(|e| e.family == Family::Walloc && e.entry.kind == MediaKind::Image)
        .map(|e| e.entry.id)
        .ok_or_else(|| {
            Error::Unsupported("this build ships no trained WaLLoC image model yet".into())
        })
}

/// Loads a shipped image model.
///
/// # Errors
/// [`Error::UnknownModel`] if `id` is not shipped or is not an image model.
pub fn load_image_model(id: &str, device: &Device) -> Result<ImageCodec> {
    let e = EMBEDDED
        .iter()
        .find(|e| e.entry.id == id && e.entry.kind == MediaKind::Image)
        .ok_or_else(|| Error::UnknownModel(id.to_string()))?;
    load_parts(
        e.family, id, e.config, e.weights, e.tables, e.context, device,
    )
}

/// Loads a shipped audio model (a WaLLoC model with `dims = 1`).
///
/// # Errors
/// [`Error::UnknownModel`] if `id` is not a shipped audio model.
pub fn load_audio_model(id: &str, device: &Device) -> Result<WallocModel> {
    let e = EMBEDDED
        .iter()
        .find(|e| e.entry.id == id && e.entry.kind == MediaKind::Audio)
        .ok_or_else(|| Error::UnknownModel(id.to_string()))?;
    WallocModel::from_parts(id, e.config, e.weights, e.tables, device)
}

/// Loads an audio model exported by `ncodec train walloc-audio` from a folder (see
/// [`load_image_model_dir`]).
///
/// # Errors
/// As [`load_image_model_dir`]; [`Error::Unsupported`] if the folder holds no audio
/// model.
pub fn load_audio_model_dir(dir: &Path, device: &Device) -> Result<WallocModel> {
    match load_image_model_dir(dir, device)? {
        ImageCodec::Walloc(m) if m.config().dims == 1 => Ok(*m),
        other => Err(Error::Unsupported(format!(
            "model {} in {} is not an audio model",
            other.id(),
            dir.display()
        ))),
    }
}

fn load_parts(
    family: Family,
    id: &str,
    config: &[u8],
    weights: &[u8],
    tables: &[u8],
    context: &[u8],
    device: &Device,
) -> Result<ImageCodec> {
    Ok(match family {
        Family::Hyperprior => ImageCodec::Hyperprior(Box::new(ImageModel::from_parts(
            id, config, weights, tables, device,
        )?)),
        Family::Walloc => {
            let m = WallocModel::from_parts(id, config, weights, tables, device)?;
            ImageCodec::Walloc(Box::new(if context.is_empty() {
                m
            } else {
                m.with_context(LatentContextModel::from_bytes(context)?)?
            }))
        }
        Family::Classic(ext) => ImageCodec::Wavelet(Box::new(WaveletCodec::classic(ext))),
        Family::Filtered => ImageCodec::Wavelet(Box::new(WaveletCodec::with_filter(
            id, config, weights, device,
        )?)),
    })
}

/// The `model.json` and `weights.bpk` bytes of a hyperprior-family image model (scale or
/// mean-scale hyperprior, factorized prior), to start training from (`ncodec train image
/// --init`): `source` is a folder holding those two files (e.g. a run's `export/`) or the
/// id of a shipped model.
///
/// # Errors
/// [`Error::Io`] if a folder's file cannot be read, [`Error::InvalidArgument`] if
/// `source` is neither a folder nor a shipped image model's id, or is another family.
pub fn hyperprior_parts(source: &str) -> Result<(Vec<u8>, Vec<u8>)> {
    let dir = Path::new(source);
    let (family, config, weights) = if dir.is_dir() {
        let config = read_model_file(dir, "model.json")?;
        (
            family_of(&config),
            config,
            read_model_file(dir, "weights.bpk")?,
        )
    } else {
        let e = EMBEDDED
            .iter()
            .find(|e| e.entry.id == source && e.entry.kind == MediaKind::Image)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "{source}: neither a model folder nor a shipped image model (see `ncodec models`)"
                ))
            })?;
        (e.family, e.config.to_vec(), e.weights.to_vec())
    };
    if family != Family::Hyperprior {
        return Err(Error::InvalidArgument(format!(
            "{source}: not a hyperprior or factorized-prior model"
        )));
    }
    Ok((config, weights))
}

/// One file of a model folder, with its path in the error.
fn read_model_file(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let p = dir.join(name);
    std::fs::read(&p).map_err(io_err(&p))
}

/// The family a `model.json` describes: WaLLoC configs have `latent_dim`, post-filters
/// `layers`.
fn family_of(config: &[u8]) -> Family {
    match serde_json::from_slice::<serde_json::Value>(config) {
        Ok(v) if v.get("latent_dim").is_some() => Family::Walloc,
        Ok(v) if v.get("layers").is_some() => Family::Filtered,
        _ => Family::Hyperprior,
    }
}

/// Loads a model exported by `ncodec train` from a folder holding `model.json`,
/// `weights.bpk` and `tables.bin` (an image model, or a WaLLoC audio model inside
/// [`ImageCodec::Walloc`]; a post-filter of `ncodec train postfilter` has no
/// `tables.bin` and loads as the wavelet codec decoding through it). A WaLLoC image
/// model's `context.bin` (`ncodec train latent-context`) is loaded when present. Its id
/// is the folder's name.
///
/// # Errors
/// [`Error::Io`] if a file is missing, [`Error::InvalidArgument`] if they do not parse.
pub fn load_image_model_dir(dir: &Path, device: &Device) -> Result<ImageCodec> {
    let read = |name: &str| read_model_file(dir, name);
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
    let config = read("model.json")?;
    let family = family_of(&config);
    // A post-filter has no probability tables.
    let tables = match family {
        Family::Filtered => Vec::new(),
        _ => read("tables.bin")?,
    };
    // A WaLLoC image model may have a learned latent context model.
    let context = match dir.join("context.bin") {
        p if p.is_file() => read("context.bin")?,
        _ => Vec::new(),
    };
    load_parts(
        family,
        &id,
        &config,
        &read("weights.bpk")?,
        &tables,
        &context,
        device,
    )
}
