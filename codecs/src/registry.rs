//! The codec families this build knows and the trained models it ships.
//!
//! A file names its model by id; [`load`] finds the shipped model with that id and its
//! family loads it. A model folder exported by `ncodec train` names its family in its
//! `manifest.json`; [`load_dir`] reads it. Nothing is guessed from a model's files.
//!
//! Every shipped learned model has real trained weights committed under
//! `models/weights/<id>/` with a model card, embedded into the binary so no configuration
//! is needed. `dwt97-rgb` and `dwt97s-rgb` are classic wavelet codecs with no weights
//! (their cards are in `models/weights/` too), shipped as baselines and never as defaults.
//! An id found in a file but not here is an [`Error::UnknownModel`].

use std::borrow::Cow;
use std::path::Path;

use ncodec_models::burn::prelude::Device;

use crate::codec::{Codec, Family, ModelFiles};
use crate::error::{Error, Result};
use crate::families::hyperprior::HyperpriorFamily;
use crate::families::walloc::WallocFamily;
use crate::families::wavelet::WaveletFamily;
use crate::media::MediaKind;

/// Every family this build knows: adding a family is one folder under
/// `codecs/src/families/` and one line here.
static FAMILIES: &[&dyn Family] = &[&HyperpriorFamily, &WallocFamily, &WaveletFamily];

/// A shipped model, as listed by `ncodec models`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelEntry {
    /// Id written into files, e.g. `dwt97s-pf-r2`.
    pub id: &'static str,
    /// Media the model codes.
    pub kind: MediaKind,
    /// The family that loads it.
    pub family: &'static str,
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

/// A shipped model: its listing and its embedded files.
struct Shipped {
    entry: ModelEntry,
    files: &'static [(&'static str, &'static [u8])],
}

/// The bytes of file `$file` of shipped model `$id` (`models/weights/$id/$file`).
macro_rules! file {
    ($id:literal, $file:literal) => {
        (
            $file,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../models/weights/",
                $id,
                "/",
                $file
            ))
            .as_slice(),
        )
    };
}

/// One shipped model: id, kind, family, quality range, default level, whether it is
/// its kind's default, its files and its description.
macro_rules! shipped {
    (
        $id:literal, $kind:ident, $family:expr, levels $max:expr, default $q:expr,
        $default:literal, [$($file:literal),*], $description:literal
    ) => {
        Shipped {
            entry: ModelEntry {
                id: $id,
                kind: MediaKind::$kind,
                family: $family,
                description: $description,
                min_quality: 0,
                max_quality: $max - 1,
                default_quality: $q,
                default: $default,
            },
            files: &[$(file!($id, $file)),*],
        }
    };
}

use crate::families::{hyperprior, walloc, wavelet};

/// The shipped models (files and model cards in `models/weights/<id>/`).
static SHIPPED: &[Shipped] = &[
    shipped!(
        "dwt97s-pf-r2", Image, wavelet::FAMILY, levels wavelet::QUALITY_LEVELS,
        default wavelet::DEFAULT_QUALITY, true, ["model.json", "weights.bpk"],
        "dwt97s-rgb's files (symmetric extension) decoded through a learned post-filter (5 conv layers, 24 channels), dwt97-pf-r1's filter trained further; see its model card"
    ),
    shipped!(
        "dwt97-pf-r1", Image, wavelet::FAMILY, levels wavelet::QUALITY_LEVELS,
        default wavelet::DEFAULT_QUALITY, false, ["model.json", "weights.bpk"],
        "dwt97-rgb's files decoded through a learned post-filter (5 conv layers, 24 channels) trained by `ncodec train postfilter`; see its model card"
    ),
    Shipped {
        entry: classic_entry(
            wavelet::DWT_SYMMETRIC_ID,
            "dwt97-rgb with symmetric instead of periodic extension at the borders (smaller files); classic, no learned weights, a baseline, see its card",
        ),
        files: &[("model.json", br#"{"extension": "symmetric"}"#)],
    },
    Shipped {
        entry: classic_entry(
            wavelet::DWT_ID,
            "classic wavelet codec, no learned weights: dyadic CDF 9/7 (5 levels) with ncodec's context coder; a baseline, see its card",
        ),
        files: &[("model.json", br#"{"extension": "periodic"}"#)],
    },
    shipped!(
        "walloc-rgb-16x-r1", Image, walloc::FAMILY, levels walloc::IMAGE_LEVELS,
        default walloc::DEFAULT_IMAGE_QUALITY, false,
        ["model.json", "weights.bpk", "tables.bin", "context.bin"],
        "WaLLoC RGB 16x (J=3, 12 latents), context-coded latents; levels 0–7 latents alone, 8–15 plus a wavelet residual; early training release, see its model card"
    ),
    shipped!(
        "hp-mean-64-r5-wide", Image, hyperprior::FAMILY, levels 10, default 6, false,
        ["model.json", "weights.bpk", "tables.bin"],
        "mean-scale hyperprior, N=64 M=96, 10 gain levels: hp-mean-64-r5 with four levels added by extrapolating its gains (0.09–0.94 bpp on Kodak; no further training); early training release, see its model card"
    ),
    shipped!(
        "hp-mean-64-r5", Image, hyperprior::FAMILY, levels 6, default 3, false,
        ["model.json", "weights.bpk", "tables.bin"],
        "mean-scale hyperprior, N=64 M=96, 6 gain levels, 58,000 training steps (five runs, MODELS.md); early training release, see its model card"
    ),
    shipped!(
        "walloc-speech-16k-r1", Audio, walloc::FAMILY, levels 1, default 0, true,
        ["model.json", "weights.bpk", "tables.bin"],
        "WaLLoC speech, mono 16 kHz (J=6, 8 latents), any WAV resampled; early training release, see its model card"
    ),
    shipped!(
        "walloc-music-44k-r1", Audio, walloc::FAMILY, levels 1, default 0, false,
        ["model.json", "weights.bpk", "tables.bin"],
        "WaLLoC stereo 44.1 kHz (J=8, 32 latents), the paper's stereo setting; early training release, on music not yet better than the speech model: see its model card"
    ),
];

/// The listing of a classic wavelet codec (no weights, never a default).
const fn classic_entry(id: &'static str, description: &'static str) -> ModelEntry {
    ModelEntry {
        id,
        kind: MediaKind::Image,
        family: wavelet::FAMILY,
        description,
        min_quality: 0,
        max_quality: wavelet::QUALITY_LEVELS - 1,
        default_quality: wavelet::DEFAULT_QUALITY,
        default: false,
    }
}

/// Every family this build knows.
pub fn families() -> &'static [&'static dyn Family] {
    FAMILIES
}

/// The names of the families, for messages.
pub fn family_names() -> Vec<&'static str> {
    FAMILIES.iter().map(|f| f.name()).collect()
}

/// The family called `name`.
///
/// # Errors
/// [`Error::InvalidArgument`] if this build has none of that name.
pub fn family(name: &str) -> Result<&'static dyn Family> {
    FAMILIES
        .iter()
        .copied()
        .find(|f| f.name() == name)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "unknown model family {name:?} (this build has {})",
                family_names().join(", ")
            ))
        })
}

/// All shipped models.
pub fn models() -> Vec<ModelEntry> {
    SHIPPED.iter().map(|s| s.entry.clone()).collect()
}

fn shipped(id: &str) -> Result<&'static Shipped> {
    SHIPPED
        .iter()
        .find(|s| s.entry.id == id)
        .ok_or_else(|| Error::UnknownModel(id.to_string()))
}

/// The shipped model with this id.
///
/// # Errors
/// [`Error::UnknownModel`] if there is none.
pub fn find(id: &str) -> Result<ModelEntry> {
    Ok(shipped(id)?.entry.clone())
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

/// The model whose latents `ncodec latents` gives for a media kind: the default model
/// when its family has latents, else the first shipped model of that kind that has.
///
/// # Errors
/// [`Error::Unsupported`] if this build ships none.
pub fn default_with_latents(kind: MediaKind) -> Result<ModelEntry> {
    let has = |m: &ModelEntry| family(m.family).is_ok_and(|f| f.has_latents());
    let mut of_kind: Vec<ModelEntry> = models().into_iter().filter(|m| m.kind == kind).collect();
    of_kind.sort_by_key(|m| !m.default);
    of_kind.into_iter().find(has).ok_or_else(|| {
        Error::Unsupported(format!(
            "this build ships no {kind} model with a latents API yet"
        ))
    })
}

/// The files of the shipped model `id`.
///
/// # Errors
/// [`Error::UnknownModel`] if there is none.
pub fn shipped_files(id: &str) -> Result<ModelFiles> {
    let s = shipped(id)?;
    let mut files = ModelFiles::new(
        s.entry.id,
        s.entry.family,
        s.files
            .iter()
            .map(|&(name, bytes)| (name, Cow::Borrowed(bytes)))
            .collect(),
    );
    files.default_quality = Some(s.entry.default_quality);
    Ok(files)
}

/// The files of a model named on a command line: a folder holding an exported model, or
/// a shipped model's id.
///
/// # Errors
/// As [`ModelFiles::from_dir`]; [`Error::InvalidArgument`] if `source` is neither a folder
/// nor a shipped model's id.
pub fn model_files(source: &str) -> Result<ModelFiles> {
    let dir = Path::new(source);
    if dir.is_dir() {
        return ModelFiles::from_dir(dir);
    }
    shipped_files(source).map_err(|_| {
        Error::InvalidArgument(format!(
            "{source}: neither a model folder nor a shipped model (see `ncodec models`)"
        ))
    })
}

/// Loads a model from its files, through its family.
///
/// # Errors
/// As [`family`] and [`Family::load`].
pub fn load_files(files: &ModelFiles, device: &Device) -> Result<Box<dyn Codec>> {
    family(&files.family)?.load(files, device)
}

/// Loads the shipped model `id`.
///
/// # Errors
/// [`Error::UnknownModel`] if this build does not ship it.
pub fn load(id: &str, device: &Device) -> Result<Box<dyn Codec>> {
    load_files(&shipped_files(id)?, device)
}

/// Loads the default model for a media kind.
///
/// # Errors
/// As [`default_for`] and [`load`].
pub fn load_default(kind: MediaKind, device: &Device) -> Result<Box<dyn Codec>> {
    load(default_for(kind)?.id, device)
}

/// Loads a model exported by `ncodec train` from a folder (its id is the folder's name).
///
/// # Errors
/// As [`ModelFiles::from_dir`] and [`load_files`].
pub fn load_dir(dir: &Path, device: &Device) -> Result<Box<dyn Codec>> {
    load_files(&ModelFiles::from_dir(dir)?, device)
}

/// What a file's quality level means, as the family whose sections the file holds says
/// (for `ncodec info`).
pub fn describe_quality(quality: u8, tags: &[[u8; 4]]) -> Option<String> {
    FAMILIES
        .iter()
        .find_map(|f| f.describe_quality(quality, tags))
}
