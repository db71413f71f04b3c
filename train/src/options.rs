//! The one set of options every training run takes: data, run folder, schedule and
//! checkpoints, and the family's model options. Saved as the run's `train.json`.

use std::path::PathBuf;

use ncodec::families::wavelet::{Extension, QUALITY_LEVELS};
use ncodec::models::postfilter::PostFilterConfig;
use ncodec::models::walloc::WallocConfig;

use crate::error::{Error, Result};

/// Everything a training run needs.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TrainOptions {
    /// Folder of training data (images, or WAV files for audio), searched recursively.
    pub data: PathBuf,
    /// Folder of validation data (none: no validation).
    pub val: Option<PathBuf>,
    /// Output folder: checkpoints, `log.csv`, `export/`.
    pub out: PathBuf,
    /// Total steps to reach (a resumed run continues up to this).
    pub steps: u64,
    /// Items per step.
    pub batch: usize,
    /// Adam's learning rate (ramped up after a fresh optimizer, see
    /// [`crate::warmup_lr`]).
    pub lr: f64,
    /// Seed of the data sampler.
    pub seed: u64,
    /// Steps between checkpoints (and exports).
    pub checkpoint_every: u64,
    /// Steps between validations.
    pub val_every: u64,
    /// Training item size: the side of square image patches in pixels, or the length of
    /// audio segments in samples at the model's rate.
    pub patch: usize,
    /// Downscale factor for JPEG training images (removes their artifacts; 1 keeps them).
    pub jpeg_downscale: u32,
    /// The model to train.
    pub model: ModelOptions,
}

/// The model a run trains, by family.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "family", rename_all = "kebab-case")]
pub enum ModelOptions {
    /// A hyperprior or factorized-prior image model (`ncodec train image`).
    Hyperprior(HyperpriorOptions),
    /// A WaLLoC image model (`ncodec train walloc-image`).
    WallocImage(WallocOptions),
    /// A WaLLoC audio model (`ncodec train walloc-audio`).
    WallocAudio(WallocOptions),
    /// The wavelet codec's post-filter (`ncodec train postfilter`).
    PostFilter(PostFilterOptions),
}

/// Options of a hyperprior-family run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct HyperpriorOptions {
    /// Hidden channels N.
    pub n: usize,
    /// Latent channels M.
    pub m: usize,
    /// Mean-scale (true) or scale-only hyperprior.
    pub mean_scale: bool,
    /// A factorized-prior model instead of a hyperprior (`mean_scale` is then unused).
    #[serde(default)]
    pub factorized: bool,
    /// λ per quality level, ascending.
    pub lambdas: Vec<f64>,
    /// Divide each level's rate–distortion loss by its running mean, so that every
    /// level pulls on the shared transforms equally (see
    /// [`crate::tasks::hyperprior::LevelBalance`]).
    #[serde(default)]
    pub balance_levels: bool,
    /// Start from this model's weights instead of a random initialisation: a folder
    /// exported by `ncodec train image` (e.g. a run's `export/`) or a shipped model's id.
    /// Its `model.json` must equal this run's, except for λs (its levels are resampled to
    /// this run's, which must include them) and a smaller `M` (its latents are widened).
    /// Adam's state starts from zero, so the learning rate warms up; a run that already
    /// has a checkpoint resumes from that.
    #[serde(default)]
    pub init: Option<String>,
    /// Train only the decoder (synthesis transform and inverse gains) on the latents
    /// rounded as the codec rounds them, for `λ·255²·MSE`: the encoder, the priors and
    /// the tables stay as `init` has them, so files keep their symbols and only decode
    /// to different pixels. Needs `init`.
    #[serde(default)]
    pub decoder_only: bool,
}

/// Options of a WaLLoC run: the model (`dims` 2 with 3 channels for images; `dims` 1
/// with 1 or 2 channels and a sample rate for audio).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct WallocOptions {
    /// The model to train.
    pub model: WallocConfig,
}

/// Options of a post-filter run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PostFilterOptions {
    /// The filter to train.
    pub model: PostFilterConfig,
    /// The codec's quality levels to train on.
    pub qualities: Vec<u8>,
    /// The border extension of the codec that codes the crops, recorded in the export.
    pub extension: Extension,
}

impl TrainOptions {
    /// Checks what does not depend on the data: sizes, schedule, the family's options.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the option.
    pub fn check(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Invalid(m.into()));
        if self.batch == 0 || self.patch == 0 {
            return bad("batch and patch must be positive");
        }
        if self.checkpoint_every == 0 || self.val_every == 0 || self.jpeg_downscale == 0 {
            return bad(
                "checkpoint and validation intervals and the JPEG downscale must be positive",
            );
        }
        match &self.model {
            ModelOptions::Hyperprior(h) => {
                if !self.patch.is_multiple_of(64) {
                    return bad("patch size must be a positive multiple of 64");
                }
                if h.lambdas.is_empty() {
                    return bad("need at least one λ");
                }
                if h.decoder_only && h.init.is_none() {
                    return bad(
                        "--decoder-only trains the decoder of a trained model: name it with --init",
                    );
                }
            }
            ModelOptions::WallocImage(w) | ModelOptions::WallocAudio(w) => {
                let c = &w.model;
                if c.nd == 0 || !c.nd.is_multiple_of(32) || c.latent_dim == 0 || c.levels == 0 {
                    return bad(
                        "nd must be a positive multiple of 32, latent_dim and levels positive",
                    );
                }
                let audio = matches!(self.model, ModelOptions::WallocAudio(_));
                match (audio, c.dims, c.channels, c.sample_rate) {
                    (false, 2, 3, _) => {}
                    (false, ..) => return bad("an image model has dims 2 and 3 channels"),
                    (true, 1, 1 | 2, Some(r)) if r > 0 => {}
                    (true, ..) => {
                        return bad("an audio model has dims 1, 1 or 2 channels and a sample rate");
                    }
                }
                if audio && c.lambda <= 0.0 {
                    return bad("audio training needs λ > 0");
                }
                let m = c.multiple();
                if !self.patch.is_multiple_of(m) {
                    return Err(Error::Invalid(format!(
                        "{} must be a positive multiple of {m}",
                        if audio {
                            "segment length"
                        } else {
                            "patch size"
                        }
                    )));
                }
            }
            ModelOptions::PostFilter(p) => {
                if p.model.layers < 2 || p.model.width == 0 {
                    return bad("layers ≥ 2, and width, patch and batch > 0");
                }
                if p.qualities.is_empty() || p.qualities.iter().any(|&q| q >= QUALITY_LEVELS) {
                    return Err(Error::Invalid(format!(
                        "qualities must be a non-empty list within 0..{QUALITY_LEVELS}"
                    )));
                }
            }
        }
        Ok(())
    }
}
