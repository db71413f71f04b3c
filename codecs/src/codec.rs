//! The one interface every codec implements, whatever its medium and family.
//!
//! ```text
//!            Family ──load(ModelFiles)──▶ Box<dyn Codec>
//!                                            │
//!   Input (image │ audio stream) ──encode──▶ .ncx bytes ──decode──▶ MediaSink
//!                                            │                    (image │ audio stream)
//!                                            └──latents──▶ LatentArray
//! ```
//!
//! A [`Family`] (hyperprior, WaLLoC, wavelet, …) knows how to turn a model's files
//! ([`ModelFiles`]) into a loaded [`Codec`]; the registry (`crate::registry`) maps a model
//! id or a folder to its family. Everything outside `crate::families` works through these
//! two traits only, so adding a family is one folder and one registry line. The design
//! follows Symphonia (core traits, a registry, probing by content) and CompressAI (one
//! `CompressionModel` base that every model derives from).

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use image::RgbImage;
use ncodec_models::burn::module::Module;
use ncodec_models::burn::prelude::Device;
use ncodec_models::burn::store::ModuleRecord;
use ncodec_models::burn::tensor::Bytes;
use sha2::{Digest, Sha256};

use crate::container::{Container, Header, hex};
use crate::error::{Error, Result, io_err};
use crate::media::MediaKind;
use crate::media::audio::{AudioSink, AudioSource, WavFormat};
use crate::media::image::Image;

/// What identifies a loaded codec, and the quality levels it offers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CodecInfo {
    /// Id written into files (the shipped model's id, or a model folder's name).
    pub id: String,
    /// The family's name (as in a model folder's `manifest.json`).
    pub family: &'static str,
    /// The media it codes.
    pub medium: MediaKind,
    /// Quality levels `0..levels`.
    pub levels: u8,
    /// The level used when none is asked for.
    pub default_quality: u8,
    /// SHA-256 of the model's files (or of its format's constants), written into files
    /// so that a decoder with other weights refuses them.
    #[serde(serialize_with = "ser_digest")]
    pub digest: [u8; 32],
}

fn ser_digest<S: serde::Serializer>(d: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(d))
}

impl CodecInfo {
    /// `quality`, or the default level; checked against the levels.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a level out of range.
    pub fn quality(&self, quality: Option<u8>) -> Result<u8> {
        let q = quality.unwrap_or(self.default_quality);
        if q >= self.levels {
            return Err(Error::InvalidArgument(format!(
                "quality {q} out of range 0..={} for model {}",
                self.levels.saturating_sub(1),
                self.id
            )));
        }
        Ok(q)
    }

    /// Checks that a file was written by this model (same id and digest).
    ///
    /// # Errors
    /// [`Error::UnknownModel`] for another id, [`Error::ModelMismatch`] for other weights.
    pub fn check_file(&self, h: &Header) -> Result<()> {
        if h.model_id != self.id {
            return Err(Error::UnknownModel(h.model_id.clone()));
        }
        if h.model_digest != self.digest {
            return Err(Error::ModelMismatch {
                model: self.id.clone(),
                file: hex(&h.model_digest),
                ours: hex(&self.digest),
            });
        }
        Ok(())
    }
}

/// Called with `(done, total)` while a long encode advances (e.g. the tiles of a
/// refinement), so that a front end can show progress.
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(usize, usize) + Send + Sync>);

impl Progress {
    /// Wraps `f`.
    pub fn new(f: impl Fn(usize, usize) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Reports `done` of `total`.
    pub fn report(&self, done: usize, total: usize) {
        (self.0)(done, total);
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// Encoder-side latent refinement (see [`ncodec_models::refine`]): the encoder optimises
/// each image's latents for the real rate–distortion cost before coding them. Files stay
/// ordinary files of the model; only encoding takes longer. Hyperprior models only.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Refinement {
    /// Gradient steps per image.
    pub steps: usize,
    /// Adam's initial step size (decays linearly to zero).
    pub lr: f64,
}

impl Refinement {
    /// The default step size, chosen on eight `images-val` photos (see
    /// `hp-mean-64-r5-wide`'s model card).
    pub const DEFAULT_LR: f64 = 0.01;

    /// `steps` steps at the default step size.
    pub fn steps(steps: usize) -> Self {
        Self {
            steps,
            lr: Self::DEFAULT_LR,
        }
    }

    /// `steps` steps at step size `lr`, or `None` for 0 steps.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if there are steps and `lr` is not a finite positive
    /// number.
    pub fn new(steps: usize, lr: f64) -> Result<Option<Self>> {
        if steps > 0 && !(lr.is_finite() && lr > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "refinement step size {lr} is not a positive number"
            )));
        }
        Ok((steps > 0).then_some(Self { steps, lr }))
    }
}

/// How to encode: the quality level and the encoder's optional extra work.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct EncodeOptions {
    /// Quality level (`None`: the codec's default).
    pub quality: Option<u8>,
    /// Refine the latents before coding (hyperprior models; others refuse it).
    pub refine: Option<Refinement>,
    /// Told how a long encode advances.
    pub progress: Option<Progress>,
}

impl EncodeOptions {
    /// The defaults: the codec's default level, no refinement, no progress.
    pub fn new() -> Self {
        Self::default()
    }

    /// At quality level `quality`.
    pub fn quality(mut self, quality: u8) -> Self {
        self.quality = Some(quality);
        self
    }

    /// With latent refinement `refine` (`None`: none).
    pub fn refine(mut self, refine: Option<Refinement>) -> Self {
        self.refine = refine;
        self
    }

    /// Reporting progress to `progress`.
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// [`Error::InvalidArgument`] if refinement is asked of `codec`, which has none.
    ///
    /// # Errors
    /// As said.
    pub fn refuse_refinement(&self, info: &CodecInfo) -> Result<()> {
        if self.refine.is_some() {
            return Err(Error::InvalidArgument(format!(
                "model {}: latent refinement needs a hyperprior model",
                info.id
            )));
        }
        Ok(())
    }
}

/// Media handed to [`Codec::encode`].
pub enum Input<'a> {
    /// An image in memory.
    Image(&'a Image),
    /// Audio read block by block (memory does not grow with the clip's length).
    Audio(&'a mut dyn AudioSource),
}

impl<'a> Input<'a> {
    /// The image of an image input; [`Error::Unsupported`] for another medium, for the
    /// codec `info` that codes only images.
    ///
    /// # Errors
    /// As said.
    pub fn image(self, info: &CodecInfo) -> Result<&'a Image> {
        match self {
            Input::Image(img) => Ok(img),
            other => Err(Error::Unsupported(format!(
                "model {} codes images, not {}",
                info.id,
                other.kind()
            ))),
        }
    }

    /// The medium of this input.
    pub fn kind(&self) -> MediaKind {
        match self {
            Self::Image(_) => MediaKind::Image,
            Self::Audio(_) => MediaKind::Audio,
        }
    }
}

impl std::fmt::Debug for Input<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Input::{}", self.kind())
    }
}

/// What [`Codec::encode`] returns.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The whole `.ncx` file.
    pub bytes: Vec<u8>,
    /// The quality level it was coded at.
    pub quality: u8,
    /// Bits the model's probabilities assign to the symbols (its estimate of the rate;
    /// compare with `bytes`).
    pub estimated_bits: f64,
}

/// Receives what [`Codec::decode`] produces, as it is produced.
pub trait MediaSink {
    /// A decoded image.
    ///
    /// # Errors
    /// The sink's own errors (e.g. writing a file).
    fn image(&mut self, image: Image) -> Result<()>;

    /// Decoded audio starts: `frames` sample frames in `format` follow, written to the
    /// returned sink block by block.
    ///
    /// # Errors
    /// The sink's own errors, or a clip too long for it.
    fn audio(&mut self, format: WavFormat, frames: u64) -> Result<&mut dyn AudioSink>;
}

/// Hands the pixels decoded from `file` to `sink`, in the colour layout the file records.
///
/// # Errors
/// [`Error::Unsupported`] if the file is not an 8-bit image of 1, 3 or 4 channels, and
/// the sink's errors.
pub fn sink_image(sink: &mut dyn MediaSink, file: &Container, pixels: RgbImage) -> Result<()> {
    sink.image(Image {
        pixels,
        colour: file.header.image_colour()?,
    })
}

/// Media decoded into memory: a [`MediaSink`] that keeps what it is given.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub enum Decoded {
    /// Nothing yet.
    #[default]
    Empty,
    /// An image.
    Image(Image),
    /// An audio clip.
    Audio(crate::media::audio::Audio),
}

impl MediaSink for Decoded {
    fn image(&mut self, image: Image) -> Result<()> {
        *self = Self::Image(image);
        Ok(())
    }

    fn audio(&mut self, format: WavFormat, frames: u64) -> Result<&mut dyn AudioSink> {
        let limit = crate::media::audio::MAX_AUDIO_FRAMES;
        if frames > limit {
            return Err(Error::LimitExceeded {
                what: "audio sample frames decoded into memory",
                value: frames,
                limit,
            });
        }
        *self = Self::Audio(crate::media::audio::Audio {
            format,
            samples: vec![Vec::new(); usize::from(format.channels)],
        });
        match self {
            Self::Audio(a) => Ok(a),
            _ => unreachable!("just set"),
        }
    }
}

impl Decoded {
    /// The decoded image.
    ///
    /// # Errors
    /// [`Error::Unsupported`] if the file held another medium.
    pub fn into_image(self) -> Result<Image> {
        match self {
            Self::Image(i) => Ok(i),
            _ => Err(Error::Unsupported("the file does not hold an image".into())),
        }
    }

    /// The decoded audio clip.
    ///
    /// # Errors
    /// [`Error::Unsupported`] if the file held another medium.
    pub fn into_audio(self) -> Result<crate::media::audio::Audio> {
        match self {
            Self::Audio(a) => Ok(a),
            _ => Err(Error::Unsupported("the file does not hold audio".into())),
        }
    }
}

/// Where [`Codec::latents`] takes its latents from.
#[derive(Debug)]
pub enum LatentSource<'a> {
    /// Media to encode, at a quality level (`None`: the codec's choice for latents).
    Input(Input<'a>, Option<u8>),
    /// A file of this model: its latents are read from the payload, without synthesis.
    File(&'a Container),
}

/// Integer latents as an n-dimensional array (row-major), for compressed-domain
/// learning: what `ncodec latents` writes as `.npy`.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentArray {
    /// Dimensions, outermost first (e.g. `[channels, height, width]`).
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub values: Vec<i32>,
    /// Quantisation step: the decoder's input is `value × step`.
    pub step: f32,
}

/// A loaded model of any family, medium and quality range.
///
/// # Examples
/// ```no_run
/// use ncodec::codec::{Decoded, EncodeOptions, Input};
/// use ncodec::container::{Container, Limits};
/// use ncodec::media::image::Image;
/// let device = ncodec::device::default_device();
/// let codec = ncodec::registry::load_default(ncodec::media::MediaKind::Image, &device)?;
/// let img = Image::from_dynamic(&image::open("photo.png").expect("a photo"))?;
/// let file = codec.encode(Input::Image(&img), &EncodeOptions::new().quality(5))?;
/// let mut out = Decoded::default();
/// codec.decode(&Container::from_bytes(&file.bytes, &Limits::default())?, &mut out)?;
/// let decoded = out.into_image()?;
/// # Ok::<(), ncodec::Error>(())
/// ```
pub trait Codec: std::fmt::Debug {
    /// Identity, medium and quality levels.
    fn info(&self) -> &CodecInfo;

    /// Encodes `input` into a whole `.ncx` file.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for another medium, [`Error::InvalidArgument`] for a quality
    /// out of range, an empty input or an option the codec does not have, and the input's
    /// own errors.
    fn encode(&self, input: Input<'_>, options: &EncodeOptions) -> Result<Encoded>;

    /// Decodes a file written by this model into `sink`.
    ///
    /// # Errors
    /// [`Error::UnknownModel`] / [`Error::ModelMismatch`] for another model's file,
    /// [`Error::Corrupt`] / [`Error::Truncated`] for damaged payloads, limits, and the
    /// sink's errors.
    fn decode(&self, file: &Container, sink: &mut dyn MediaSink) -> Result<()>;

    /// The integer latents of an input or a file, without synthesis.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for a codec without latents (the default), else as
    /// [`Codec::encode`] and [`Codec::decode`].
    fn latents(&self, source: LatentSource<'_>) -> Result<LatentArray> {
        let _ = source;
        Err(Error::Unsupported(format!(
            "model {} has no latents API (see `ncodec models`)",
            self.info().id
        )))
    }

    /// Decodes a file into memory.
    ///
    /// # Errors
    /// As [`Codec::decode`].
    fn decode_to_memory(&self, file: &Container) -> Result<Decoded> {
        let mut out = Decoded::default();
        self.decode(file, &mut out)?;
        Ok(out)
    }
}

/// The files a model is made of: `model.json`, `weights.bpk`, `tables.bin` and, for some
/// families, more (`context.bin`), by name. A shipped model's are embedded in the binary,
/// an exported one's are read from its folder; its `manifest.json` names the family.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// The model id files are written with.
    pub id: String,
    /// The family's name.
    pub family: String,
    /// The quality level to use when none is asked for (a shipped model's; `None`: the
    /// family's default).
    pub default_quality: Option<u8>,
    files: Vec<(&'static str, Cow<'static, [u8]>)>,
}

/// The file of a model folder that names its family: `{"family": "hyperprior"}`.
pub const MANIFEST: &str = "manifest.json";

/// The files a model folder may hold besides [`MANIFEST`].
pub const MODEL_FILE_NAMES: [&str; 4] = ["model.json", "weights.bpk", "tables.bin", "context.bin"];

/// The contents of [`MANIFEST`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Manifest {
    family: String,
}

impl ModelFiles {
    /// A model made of `files` (name and bytes).
    pub fn new(
        id: impl Into<String>,
        family: impl Into<String>,
        files: Vec<(&'static str, Cow<'static, [u8]>)>,
    ) -> Self {
        Self {
            id: id.into(),
            family: family.into(),
            default_quality: None,
            files,
        }
    }

    /// Reads a model folder: [`MANIFEST`] and whichever of [`MODEL_FILE_NAMES`] it holds.
    /// The id is the folder's name (printable ASCII, at most 64 characters).
    ///
    /// # Errors
    /// [`Error::Io`] if a file cannot be read, [`Error::InvalidArgument`] if the manifest
    /// is missing or does not parse.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let manifest = dir.join(MANIFEST);
        if !manifest.is_file() {
            return Err(Error::InvalidArgument(format!(
                "{} has no {MANIFEST} naming its family (a folder exported before 2026-12-07: \
                 add one, e.g. {{\"family\": \"hyperprior\"}}; `ncodec models` shows the \
                 families)",
                dir.display()
            )));
        }
        let bytes = std::fs::read(&manifest).map_err(io_err(&manifest))?;
        let m: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| Error::InvalidArgument(format!("{}: {e}", manifest.display())))?;
        let mut files = Vec::new();
        for name in MODEL_FILE_NAMES {
            let p = dir.join(name);
            if p.is_file() {
                files.push((name, Cow::Owned(std::fs::read(&p).map_err(io_err(&p))?)));
            }
        }
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
        Ok(Self::new(id, m.family, files))
    }

    /// Writes [`MANIFEST`] and every file into `dir` (created if needed).
    ///
    /// # Errors
    /// I/O errors.
    pub fn write_dir(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let manifest = serde_json::to_vec_pretty(&Manifest {
            family: self.family.clone(),
        })
        .expect("serialisable");
        let all = std::iter::once((MANIFEST, manifest.as_slice()))
            .chain(self.files.iter().map(|(n, b)| (*n, b.as_ref())));
        for (name, bytes) in all {
            let p = dir.join(name);
            std::fs::write(&p, bytes).map_err(io_err(&p))?;
        }
        Ok(())
    }

    /// The [`CodecInfo`] of a model of `family` made of these files, with `levels`
    /// quality levels and the family's default level `default` (unless the files name
    /// another).
    pub fn info(
        &self,
        family: &'static str,
        medium: MediaKind,
        levels: u8,
        default: u8,
        digest: [u8; 32],
    ) -> CodecInfo {
        CodecInfo {
            id: self.id.clone(),
            family,
            medium,
            levels,
            default_quality: self
                .default_quality
                .unwrap_or(default)
                .min(levels.saturating_sub(1)),
            digest,
        }
    }

    /// The file `name`, if the model has it.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| b.as_ref())
    }

    /// The file `name`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the model lacks it.
    pub fn require(&self, name: &str) -> Result<&[u8]> {
        self.get(name).ok_or_else(|| {
            Error::InvalidArgument(format!("model {}: no {name} among its files", self.id))
        })
    }

    /// `model` with the parameters of `weights.bpk` loaded.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the file is missing, does not parse, or does not fit
    /// `model` (a missing tensor or another shape).
    pub fn load_weights<M: Module>(&self, model: M) -> Result<M> {
        let bad = |e: &dyn std::fmt::Display| self.bad("weights", e);
        let bytes = Bytes::from_bytes_vec(self.require("weights.bpk")?.to_vec());
        let record = ModuleRecord::from_bytes(bytes).map_err(|e| bad(&e))?;
        model.try_load_record(record).map_err(|e| bad(&e))
    }

    /// An [`Error::InvalidArgument`] about part `what` of this model.
    pub fn bad(&self, what: &str, e: &dyn std::fmt::Display) -> Error {
        Error::InvalidArgument(format!("model {}: {what}: {e}", self.id))
    }
}

/// The bytes of `weights.bpk` for `model`: its parameters as a Burn record.
///
/// # Errors
/// [`Error::InvalidArgument`] if they cannot be serialised.
pub fn weights_file<M: Module>(model: &M) -> Result<Vec<u8>> {
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| Error::InvalidArgument(format!("export: {e}")))?;
    Ok(bytes.to_vec())
}

/// Digest of a model: SHA-256 over its config, weights and tables, each length-prefixed.
pub fn model_digest(config: &[u8], weights: &[u8], tables: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [config, weights, tables] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// A codec family: how its models are loaded, and what it can say about its files.
pub trait Family: Sync {
    /// The family's name, as a model folder's [`MANIFEST`] gives it.
    fn name(&self) -> &'static str;

    /// Loads a model of this family from its files, to run on `device`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if a file is missing or does not parse, or the files do
    /// not fit each other.
    fn load(&self, files: &ModelFiles, device: &Device) -> Result<Box<dyn Codec>>;

    /// Whether its models have [`Codec::latents`].
    fn has_latents(&self) -> bool {
        false
    }

    /// What a file's quality level means (e.g. its quantisation step), for `ncodec info`,
    /// when the file's section tags are this family's; `None` otherwise.
    fn describe_quality(&self, quality: u8, tags: &[[u8; 4]]) -> Option<String> {
        let _ = (quality, tags);
        None
    }
}
