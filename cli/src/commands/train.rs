//! `ncodec train`: train a model (runs until `--steps`; rerun the same command to
//! resume), through `ncodec-train`'s one training loop.

use std::path::PathBuf;

use ncodec::families::wavelet::Extension;
use ncodec::models::postfilter::PostFilterConfig;
use ncodec::models::walloc::WallocConfig;
use ncodec_train::tasks::latent_context::{LatentContextOptions, fit_latent_context};
use ncodec_train::{
    HyperpriorOptions, ModelOptions, PostFilterOptions, TrainOptions, WallocOptions,
};

use crate::error::{Result, ctx};
use crate::io::write_output;
use crate::progress::TrainProgress;

/// Train a model (runs until --steps; rerun the same command to resume).
#[derive(Debug, clap::Subcommand)]
pub enum TrainCommand {
    /// Train a hyperprior (or, with --factorized, a factorized-prior) image model on a
    /// folder of PNG/JPEG photos.
    Image(TrainImageArgs),
    /// Train a WaLLoC image model (wavelet packet + linear encoder) on PNG/JPEG photos.
    WallocImage(TrainWallocImageArgs),
    /// Train a WaLLoC audio model on a folder of WAV files.
    WallocAudio(TrainWallocAudioArgs),
    /// Train the learned post-filter of the wavelet codec (dwt97s-rgb or dwt97-rgb) on
    /// PNG/JPEG photos.
    Postfilter(TrainPostfilterArgs),
    /// Fit the learned context model of a WaLLoC image model's latents (section LATL) on
    /// PNG/JPEG photos; writes `context.bin`, which goes next to the model's weights.
    LatentContext(TrainLatentContextArgs),
}

/// What every training run takes: data, run folder, schedule, checkpoints. Each command
/// sets its own defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Folder of training data (searched recursively).
    #[arg(long)]
    pub data: PathBuf,
    /// Folder of validation data.
    #[arg(long)]
    pub val: Option<PathBuf>,
    /// Output folder for checkpoints, log.csv and the exported model (export/).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Total number of steps.
    #[arg(long, default_value_t = 100_000)]
    pub steps: u64,
    /// Items per step.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-4)]
    pub lr: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: u64,
    /// Steps between validations.
    #[arg(long, default_value_t = 2000)]
    pub val_every: u64,
    /// Downscale JPEG training images by this factor (1 keeps them).
    #[arg(long, default_value_t = 2)]
    pub jpeg_downscale: u32,
}

impl RunArgs {
    /// The run's options, with items of size `patch` and the model `model`.
    fn options(self, patch: usize, model: ModelOptions) -> TrainOptions {
        TrainOptions {
            data: self.data,
            val: self.val,
            out: self.out,
            steps: self.steps,
            batch: self.batch,
            lr: self.lr,
            seed: self.seed,
            checkpoint_every: self.checkpoint_every.max(1),
            val_every: self.val_every.max(1),
            patch,
            jpeg_downscale: self.jpeg_downscale.max(1),
            model,
        }
    }
}

/// `ncodec train image`.
#[derive(Debug, clap::Args)]
pub struct TrainImageArgs {
    /// Data, run folder, schedule.
    #[command(flatten)]
    pub run: RunArgs,
    /// Hidden channels N.
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    /// Latent channels M.
    #[arg(long, default_value_t = 96)]
    pub m: usize,
    /// Train the scale-only hyperprior instead of the mean-scale one.
    #[arg(long, conflicts_with = "factorized")]
    pub scale_only: bool,
    /// Train the factorized-prior model (bmshj2018-factorized: no hyper-latents).
    #[arg(long)]
    pub factorized: bool,
    /// λ of each quality level, ascending, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483])]
    pub lambdas: Vec<f64>,
    /// Patch size (multiple of 64).
    #[arg(long, default_value_t = 128)]
    pub patch: usize,
    /// Divide each quality level's loss by its running mean, so that the high-λ levels
    /// do not dominate the shared transforms.
    #[arg(long)]
    pub balance_levels: bool,
    /// Start from this model's weights: a folder exported by `ncodec train image` (e.g. a
    /// run's `export/`) or a shipped model's id; its model.json must match this run's
    /// options, except that --lambdas may add quality levels to a hyperprior's (its gains
    /// are then extrapolated or interpolated in log λ; --steps 0 only exports that), and a
    /// larger --m widens a hyperprior's latents (new channels start unused, so the model
    /// starts reconstructing as the source does). Steps count from 0 in the new run; a run
    /// with a checkpoint ignores it.
    #[arg(long, value_name = "DIR_OR_ID")]
    pub init: Option<String>,
    /// Train only the decoder of the --init model (synthesis transform and inverse gains)
    /// on the latents as the codec rounds them; the encoder and the priors stay fixed, so
    /// files of the new model carry the same symbols and decode to other pixels.
    #[arg(long, requires = "init")]
    pub decoder_only: bool,
}

/// The WaLLoC model's size and loss, shared by image and audio runs.
#[derive(Debug, Clone, clap::Args)]
pub struct WallocArgs {
    /// Decoder width (multiple of 32).
    #[arg(long, default_value_t = 64)]
    pub nd: usize,
    /// Residual blocks in the decoder.
    #[arg(long, default_value_t = 5)]
    pub blocks: usize,
    /// Bits of the companded latent range.
    #[arg(long, default_value_t = 8)]
    pub latent_bits: usize,
}

/// `ncodec train walloc-image`.
#[derive(Debug, clap::Args)]
#[command(
    mut_arg("steps", |a| a.default_value("50000")),
    mut_arg("lr", |a| a.default_value("0.0003")),
    mut_arg("checkpoint_every", |a| a.default_value("250")),
    mut_arg("val_every", |a| a.default_value("1000"))
)]
pub struct TrainWallocImageArgs {
    /// Data, run folder, schedule.
    #[command(flatten)]
    pub run: RunArgs,
    /// Decoder size.
    #[command(flatten)]
    pub walloc: WallocArgs,
    /// Wavelet packet levels J (3 gives 192 wavelet channels at 1/8 resolution).
    #[arg(long, default_value_t = 3)]
    pub levels: usize,
    /// Latent channels (12 with J = 3 is the paper's 16× RGB configuration).
    #[arg(long, default_value_t = 12)]
    pub latent_dim: usize,
    /// Rate weight λ in λ·255²·MSE + bpp; 0 trains on distortion only (the paper).
    #[arg(long, default_value_t = 0.01)]
    pub lambda: f64,
    /// Patch size (multiple of 2^J).
    #[arg(long, default_value_t = 256)]
    pub patch: usize,
}

/// `ncodec train walloc-audio`.
#[derive(Debug, clap::Args)]
#[command(
    mut_arg("steps", |a| a.default_value("20000")),
    mut_arg("lr", |a| a.default_value("0.0003")),
    mut_arg("checkpoint_every", |a| a.default_value("250")),
    mut_arg("val_every", |a| a.default_value("500"))
)]
pub struct TrainWallocAudioArgs {
    /// Data (WAV files), run folder, schedule.
    #[command(flatten)]
    pub run: RunArgs,
    /// Decoder size.
    #[command(flatten)]
    pub walloc: WallocArgs,
    /// The model's sample rate in Hz (clips are resampled to it).
    #[arg(long, default_value_t = 16_000)]
    pub sample_rate: u32,
    /// Channels of the model (1: each channel coded alone; 2: stereo pairs).
    #[arg(long, default_value_t = 1)]
    pub channels: usize,
    /// Wavelet packet levels J (C·2^J wavelet channels at 1/2^J of the rate).
    #[arg(long, default_value_t = 6)]
    pub levels: usize,
    /// Latent channels.
    #[arg(long, default_value_t = 8)]
    pub latent_dim: usize,
    /// Rate weight λ in λ·MSE + bits per sample frame (samples in [−1, 1]).
    #[arg(long, default_value_t = 1e5)]
    pub lambda: f64,
    /// Segment length in samples at the model's rate (multiple of 2^J).
    #[arg(long, default_value_t = 16_384)]
    pub segment: usize,
}

/// `ncodec train postfilter`.
#[derive(Debug, clap::Args)]
#[command(
    mut_arg("steps", |a| a.default_value("20000")),
    mut_arg("batch", |a| a.default_value("16")),
    mut_arg("lr", |a| a.default_value("0.001")),
    mut_arg("checkpoint_every", |a| a.default_value("250")),
    mut_arg("val_every", |a| a.default_value("1000"))
)]
pub struct TrainPostfilterArgs {
    /// Data, run folder, schedule.
    #[command(flatten)]
    pub run: RunArgs,
    /// Channels of the hidden convolutions.
    #[arg(long, default_value_t = 24)]
    pub width: usize,
    /// Convolutions in all (3×3 each).
    #[arg(long, default_value_t = 5)]
    pub layers: usize,
    /// Patch size the loss sees (each is coded with 32 more pixels on every side).
    #[arg(long, default_value_t = 64)]
    pub patch: usize,
    /// Quality levels of the wavelet codec to train on (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "0,3,6,9,12,15")]
    pub qualities: Vec<u8>,
    /// Border extension of the wavelet codec that codes the crops: `symmetric`
    /// (dwt97s-rgb) or `periodic` (dwt97-rgb); the export records it.
    #[arg(long, default_value = "symmetric")]
    pub extension: String,
}

/// `ncodec train latent-context`.
#[derive(Debug, clap::Args)]
pub struct TrainLatentContextArgs {
    /// Folder of training images (searched recursively).
    #[arg(long)]
    pub data: PathBuf,
    /// Shipped WaLLoC image model whose latents to model.
    #[arg(
        long,
        conflicts_with = "model_dir",
        default_value = "walloc-rgb-16x-r1"
    )]
    pub model: String,
    /// Folder of a WaLLoC image model exported by `ncodec train walloc-image`.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// Output file (`context.bin`).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Quality levels whose latents to fit on (comma-separated base levels, 0–7).
    #[arg(long, value_delimiter = ',', default_value = "1,3,4,6")]
    pub qualities: Vec<u8>,
    /// Downscale JPEG training images by this factor (1 keeps them).
    #[arg(long, default_value_t = 2)]
    pub jpeg_downscale: u32,
}

/// Runs `ncodec train`.
///
/// # Errors
/// Bad options, unreadable data, and training failures.
pub fn run(cmd: TrainCommand) -> Result<()> {
    let opts = match cmd {
        TrainCommand::Image(a) => a.run.options(
            a.patch,
            ModelOptions::Hyperprior(HyperpriorOptions {
                n: a.n,
                m: a.m,
                mean_scale: !a.scale_only,
                factorized: a.factorized,
                lambdas: a.lambdas,
                balance_levels: a.balance_levels,
                init: a.init,
                decoder_only: a.decoder_only,
            }),
        ),
        TrainCommand::WallocImage(a) => {
            let model = a
                .walloc
                .config(WallocConfig::new(2, 3, a.levels, a.latent_dim, a.walloc.nd))
                .with_lambda(a.lambda);
            a.run
                .options(a.patch, ModelOptions::WallocImage(WallocOptions { model }))
        }
        TrainCommand::WallocAudio(a) => {
            let model = a
                .walloc
                .config(WallocConfig::new(
                    1,
                    a.channels,
                    a.levels,
                    a.latent_dim,
                    a.walloc.nd,
                ))
                .with_lambda(a.lambda)
                .with_sample_rate(Some(a.sample_rate));
            a.run.options(
                a.segment,
                ModelOptions::WallocAudio(WallocOptions { model }),
            )
        }
        TrainCommand::Postfilter(a) => a.run.options(
            a.patch,
            ModelOptions::PostFilter(PostFilterOptions {
                model: PostFilterConfig::new()
                    .with_width(a.width)
                    .with_layers(a.layers),
                qualities: a.qualities,
                extension: Extension::from_name(&a.extension).map_err(ctx("bad --extension"))?,
            }),
        ),
        TrainCommand::LatentContext(a) => return latent_context(a),
    };
    let device = ncodec::device::default_device();
    ncodec_train::train(&opts, &device, &mut TrainProgress::new()).map_err(ctx("training failed"))
}

impl WallocArgs {
    /// `cfg` with this decoder size.
    fn config(&self, cfg: WallocConfig) -> WallocConfig {
        cfg.with_blocks(self.blocks)
            .with_latent_bits(self.latent_bits)
    }
}

/// `ncodec train latent-context`: fits, then writes `context.bin`.
fn latent_context(a: TrainLatentContextArgs) -> Result<()> {
    let model = match &a.model_dir {
        Some(dir) => dir.to_string_lossy().into_owned(),
        None => a.model.clone(),
    };
    let opts = LatentContextOptions {
        data: a.data,
        model,
        qualities: a.qualities,
        jpeg_downscale: a.jpeg_downscale,
    };
    let device = ncodec::device::default_device();
    let fitted =
        fit_latent_context(&opts, &device, &mut TrainProgress::new()).map_err(ctx("fit failed"))?;
    let bytes = fitted.to_bytes();
    write_output(&a.out, &bytes)?;
    eprintln!(
        "wrote {} ({} bytes, id {})",
        a.out.display(),
        bytes.len(),
        ncodec::container::hex(&fitted.id())
    );
    Ok(())
}
