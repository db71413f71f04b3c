//! `ncodec`: the command-line front end of the ncodec library.
//!
//! Thin by design: argument parsing and printing live here, everything else in the
//! `ncodec` crate. Errors print their whole cause chain and exit with status 1.

use std::error::Error as _;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ncodec::container::{Limits, MediaInfo};

/// Learned image, audio and video compression.
#[derive(Debug, Parser)]
#[command(name = "ncodec", version, about = "Learned image, audio and video compression", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the header, sections and rate of an .ncx file (`-` reads stdin).
    Info {
        /// The file to inspect.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the trained models this build ships.
    Models {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Compress an image (PNG or JPEG) or a WAV file into an .ncx file.
    Encode {
        /// Input image or WAV file (`-` reads stdin).
        input: PathBuf,
        /// Output .ncx file (`-` writes stdout).
        #[arg(short, long)]
        output: PathBuf,
        /// Shipped model to use (default: the default image model; see `ncodec models`).
        #[arg(long, conflicts_with = "model_dir")]
        model: Option<String>,
        /// Use a model exported by `ncodec train` from this folder instead.
        #[arg(long)]
        model_dir: Option<PathBuf>,
        /// Quality level (higher is better quality and larger files).
        #[arg(short, long)]
        quality: Option<u8>,
        /// Refine each image's latents with this many gradient steps before coding
        /// (hyperprior models only; the file decodes as usual, encoding is slower).
        #[arg(long, default_value_t = 0)]
        refine: usize,
        /// Initial step size of --refine.
        #[arg(long, default_value_t = ncodec::image_codec::Refinement::DEFAULT_LR)]
        refine_lr: f64,
    },
    /// Decompress an .ncx file; images follow the output's extension (.png, .jpg),
    /// audio is written as WAV in its original rate and sample format.
    Decode {
        /// Input .ncx file (`-` reads stdin).
        input: PathBuf,
        /// Output image or WAV file (`-` writes PNG or WAV to stdout).
        #[arg(short, long)]
        output: PathBuf,
        /// Decode with a model exported by `ncodec train` from this folder.
        #[arg(long)]
        model_dir: Option<PathBuf>,
    },
    /// Write the integer latents of an image, WAV or .ncx file as NumPy .npy (WaLLoC
    /// models) without synthesising pixels or samples: shape (channels, height, width)
    /// for images, (channel groups × latent channels, positions) for audio. Images are
    /// quantised at step 1 unless `--quality` says otherwise; an .ncx keeps its own
    /// level. The step is printed (the decoder's input is value × step).
    Latents {
        /// Input image (PNG/JPEG), WAV or .ncx file (`-` reads stdin).
        input: PathBuf,
        /// Output .npy file (`-` writes stdout).
        #[arg(short, long)]
        output: PathBuf,
        /// Shipped WaLLoC model for image input (default: the shipped WaLLoC image model).
        #[arg(long, conflicts_with = "model_dir")]
        model: Option<String>,
        /// Use a WaLLoC model exported by `ncodec train` from this folder.
        #[arg(long)]
        model_dir: Option<PathBuf>,
        /// Image input only: quantise at this quality level's step, as `ncodec encode
        /// --quality` would (default: the level with step 1).
        #[arg(long)]
        quality: Option<u8>,
    },
    /// Compare decoded images or WAV files with a reference: PSNR and MS-SSIM for
    /// images, SNR for audio, and how many samples differ and by how much at most
    /// (e.g. the same file decoded on two devices).
    Compare {
        /// The reference image (PNG/JPEG) or WAV file.
        reference: PathBuf,
        /// Files to compare with it, of the same kind and size.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Download or check datasets.
    #[command(subcommand)]
    Datasets(DatasetsCommand),
    /// Measure rate–distortion on a folder of images (e.g. Kodak), with BD-rates.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Train a model (runs until --steps; rerun the same command to resume).
    #[command(subcommand)]
    Train(TrainCommand),
}

#[derive(Debug, Subcommand)]
enum DatasetsCommand {
    /// Download a dataset into a cache folder, verifying every file's SHA-256.
    Fetch {
        /// Dataset name (only `kodak` for now).
        name: String,
        /// Folder to download into (default: ~/.cache/ncodec/kodak).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Check a local copy of a dataset against its checksums.
    Verify {
        /// Dataset name (only `kodak` for now).
        name: String,
        /// Folder holding the files.
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum EvalCommand {
    /// Evaluate an image model.
    Image(EvalImageArgs),
}

#[derive(Debug, clap::Args)]
struct EvalImageArgs {
    /// Folder of PNG/JPEG images (searched recursively).
    #[arg(long)]
    data: PathBuf,
    /// Shipped model (default: the default image model).
    #[arg(long, conflicts_with = "model_dir")]
    model: Option<String>,
    /// A model exported by `ncodec train` in this folder.
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Quality levels: `all` or a comma-separated list.
    #[arg(long, default_value = "all")]
    quality: String,
    /// Refine each image's latents with this many gradient steps before coding
    /// (hyperprior models only; the file decodes as usual, encoding is slower).
    #[arg(long, default_value_t = 0)]
    refine: usize,
    /// Initial step size of --refine.
    #[arg(long, default_value_t = ncodec::image_codec::Refinement::DEFAULT_LR)]
    refine_lr: f64,
    /// Write the report as JSON (schema: docs/EVAL.md).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write per-image results as CSV.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Draw the RD curve with the anchors (SVG).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Anchor curves (anchors_kodak.json or a CompressAI results JSON); default:
    /// ../shared/anchors/image/anchors_kodak.json when it exists.
    #[arg(long)]
    anchors: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum TrainCommand {
    /// Train a hyperprior (or, with --factorized, a factorized-prior) image model on a
    /// folder of PNG/JPEG photos.
    Image(TrainImageArgs),
    /// Train a WaLLoC image model (wavelet packet + linear encoder) on PNG/JPEG photos.
    WallocImage(TrainWallocImageArgs),
    /// Train a WaLLoC audio model on a folder of WAV files.
    WallocAudio(TrainWallocAudioArgs),
    /// Train the learned post-filter of the wavelet codec (dwt97s-rgb or dwt97-rgb) on PNG/JPEG photos.
    Postfilter(TrainPostfilterArgs),
    /// Fit the learned context model of a WaLLoC image model's latents (section LATL) on
    /// PNG/JPEG photos; writes `context.bin`, which goes next to the model's weights.
    LatentContext(TrainLatentContextArgs),
}

#[derive(Debug, clap::Args)]
struct TrainLatentContextArgs {
    /// Folder of training images (searched recursively).
    #[arg(long)]
    data: PathBuf,
    /// Shipped WaLLoC image model whose latents to model.
    #[arg(long, conflicts_with = "model_dir")]
    model: Option<String>,
    /// Folder of a WaLLoC image model exported by `ncodec train walloc-image`.
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Output file (`context.bin`).
    #[arg(long, short)]
    out: PathBuf,
    /// Quality levels whose latents to fit on (comma-separated base levels, 0–7).
    #[arg(long, value_delimiter = ',', default_value = "1,3,4,6")]
    qualities: Vec<u8>,
    /// Downscale JPEG training images by this factor (1 keeps them).
    #[arg(long, default_value_t = 2)]
    jpeg_downscale: u32,
}

#[derive(Debug, clap::Args)]
struct TrainPostfilterArgs {
    /// Folder of training images (searched recursively).
    #[arg(long)]
    data: PathBuf,
    /// Folder of validation images.
    #[arg(long)]
    val: Option<PathBuf>,
    /// Output folder for checkpoints, log.csv and the exported filter.
    #[arg(long, short)]
    out: PathBuf,
    /// Channels of the hidden convolutions.
    #[arg(long, default_value_t = 24)]
    width: usize,
    /// Convolutions in all (3×3 each).
    #[arg(long, default_value_t = 5)]
    layers: usize,
    /// Patch size the loss sees (each is coded with 32 more pixels on every side).
    #[arg(long, default_value_t = 64)]
    patch: u32,
    /// Patches per step.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Total number of steps.
    #[arg(long, default_value_t = 20_000)]
    steps: u64,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = 250)]
    checkpoint_every: u64,
    /// Steps between validations.
    #[arg(long, default_value_t = 1000)]
    val_every: u64,
    /// Downscale JPEG training images by this factor (1 keeps them).
    #[arg(long, default_value_t = 2)]
    jpeg_downscale: u32,
    /// Quality levels of the wavelet codec to train on (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "0,3,6,9,12,15")]
    qualities: Vec<u8>,
    /// Border extension of the wavelet codec that codes the crops: `symmetric`
    /// (dwt97s-rgb) or `periodic` (dwt97-rgb); the export records it.
    #[arg(long, default_value = "symmetric")]
    extension: String,
}

/// Options shared by the WaLLoC trainers.
#[derive(Debug, clap::Args)]
struct WallocCommonArgs {
    /// Decoder width (multiple of 32).
    #[arg(long, default_value_t = 64)]
    nd: usize,
    /// Residual blocks in the decoder.
    #[arg(long, default_value_t = 5)]
    blocks: usize,
    /// Bits of the companded latent range.
    #[arg(long, default_value_t = 8)]
    latent_bits: usize,
    /// Batch size.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 3e-4)]
    lr: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = 250)]
    checkpoint_every: u64,
}

#[derive(Debug, clap::Args)]
struct TrainWallocAudioArgs {
    /// Folder of training WAV files (searched recursively).
    #[arg(long)]
    data: PathBuf,
    /// Folder of validation WAV files.
    #[arg(long)]
    val: Option<PathBuf>,
    /// Output folder for checkpoints, log.csv and the exported model.
    #[arg(long, short)]
    out: PathBuf,
    /// The model's sample rate in Hz (clips are resampled to it).
    #[arg(long, default_value_t = 16_000)]
    sample_rate: u32,
    /// Channels of the model (1: each channel coded alone; 2: stereo pairs).
    #[arg(long, default_value_t = 1)]
    channels: usize,
    /// Wavelet packet levels J (C·2^J wavelet channels at 1/2^J of the rate).
    #[arg(long, default_value_t = 6)]
    levels: usize,
    /// Latent channels.
    #[arg(long, default_value_t = 8)]
    latent_dim: usize,
    /// Rate weight λ in λ·MSE + bits per sample frame (samples in [−1, 1]).
    #[arg(long, default_value_t = 1e5)]
    lambda: f64,
    /// Segment length in samples at the model's rate (multiple of 2^J).
    #[arg(long, default_value_t = 16_384)]
    segment: usize,
    /// Total number of steps.
    #[arg(long, default_value_t = 20_000)]
    steps: u64,
    /// Steps between validations.
    #[arg(long, default_value_t = 500)]
    val_every: u64,
    /// Decoder size, batch, learning rate, seed, checkpoints.
    #[command(flatten)]
    common: WallocCommonArgs,
}

#[derive(Debug, clap::Args)]
struct TrainWallocImageArgs {
    /// Folder of training images (searched recursively).
    #[arg(long)]
    data: PathBuf,
    /// Folder of validation images.
    #[arg(long)]
    val: Option<PathBuf>,
    /// Output folder for checkpoints, log.csv and the exported model.
    #[arg(long, short)]
    out: PathBuf,
    /// Wavelet packet levels J (3 gives 192 wavelet channels at 1/8 resolution).
    #[arg(long, default_value_t = 3)]
    levels: usize,
    /// Latent channels (12 with J = 3 is the paper's 16× RGB configuration).
    #[arg(long, default_value_t = 12)]
    latent_dim: usize,
    /// Rate weight λ in λ·255²·MSE + bpp; 0 trains on distortion only (the paper).
    #[arg(long, default_value_t = 0.01)]
    lambda: f64,
    /// Patch size (multiple of 2^J).
    #[arg(long, default_value_t = 256)]
    patch: u32,
    /// Total number of steps.
    #[arg(long, default_value_t = 50_000)]
    steps: u64,
    /// Steps between validations.
    #[arg(long, default_value_t = 1000)]
    val_every: u64,
    /// Downscale JPEG training images by this factor (1 keeps them).
    #[arg(long, default_value_t = 2)]
    jpeg_downscale: u32,
    /// Decoder size, batch, learning rate, seed, checkpoints.
    #[command(flatten)]
    common: WallocCommonArgs,
}

#[derive(Debug, clap::Args)]
struct TrainImageArgs {
    /// Folder of training images (searched recursively).
    #[arg(long)]
    data: PathBuf,
    /// Folder of validation images.
    #[arg(long)]
    val: Option<PathBuf>,
    /// Output folder for checkpoints, log.csv and the final weights.
    #[arg(long, short)]
    out: PathBuf,
    /// Hidden channels N.
    #[arg(long, default_value_t = 64)]
    n: usize,
    /// Latent channels M.
    #[arg(long, default_value_t = 96)]
    m: usize,
    /// Train the scale-only hyperprior instead of the mean-scale one.
    #[arg(long, conflicts_with = "factorized")]
    scale_only: bool,
    /// Train the factorized-prior model (bmshj2018-factorized: no hyper-latents).
    #[arg(long)]
    factorized: bool,
    /// λ of each quality level, ascending, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483])]
    lambdas: Vec<f64>,
    /// Patch size (multiple of 64).
    #[arg(long, default_value_t = 128)]
    patch: u32,
    /// Batch size.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Total number of steps.
    #[arg(long, default_value_t = 100_000)]
    steps: u64,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = 500)]
    checkpoint_every: u64,
    /// Steps between validations.
    #[arg(long, default_value_t = 2000)]
    val_every: u64,
    /// Downscale JPEG training images by this factor (1 keeps them).
    #[arg(long, default_value_t = 2)]
    jpeg_downscale: u32,
    /// Divide each quality level's loss by its running mean, so that the high-λ levels
    /// do not dominate the shared transforms.
    #[arg(long)]
    balance_levels: bool,
    /// Start from this model's weights: a folder exported by `ncodec train image` (e.g. a
    /// run's `export/`) or a shipped model's id; its model.json must match this run's
    /// options, except that --lambdas may add quality levels to a hyperprior's (its gains
    /// are then extrapolated or interpolated in log λ; --steps 0 only exports that), and a
    /// larger --m widens a hyperprior's latents (new channels start unused, so the model
    /// starts reconstructing as the source does). Steps count from 0 in the new run; a run
    /// with a checkpoint ignores it.
    #[arg(long, value_name = "DIR_OR_ID")]
    init: Option<String>,
    /// Train only the decoder of the --init model (synthesis transform and inverse gains)
    /// on the latents as the codec rounds them; the encoder and the priors stay fixed, so
    /// files of the new model carry the same symbols and decode to other pixels.
    #[arg(long, requires = "init")]
    decoder_only: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = format!("error: {e}");
            let mut src = e.source();
            while let Some(s) = src {
                msg.push_str(&format!("\n  caused by: {s}"));
                src = s.source();
            }
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}

/// The CLI's error: a library error with the path or action it concerns.
#[derive(Debug)]
struct CliError {
    context: String,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.context)
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

fn ctx<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    context: impl Into<String>,
) -> impl FnOnce(E) -> CliError {
    let context = context.into();
    move |e| CliError {
        context,
        source: e.into(),
    }
}

fn read_input(path: &PathBuf, limit: u64) -> Result<Vec<u8>, CliError> {
    let name = path.display().to_string();
    let mut buf = Vec::new();
    let reader: Box<dyn Read> = if name == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).map_err(ctx(format!("cannot open {name}")))?)
    };
    // Read at most limit + 1 bytes so an oversized input is reported, not buffered.
    reader
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(ctx(format!("cannot read {name}")))?;
    if buf.len() as u64 > limit {
        return Err(CliError {
            context: format!("{name} is too large"),
            source: Box::new(ncodec::Error::LimitExceeded {
                what: "file size",
                value: buf.len() as u64,
                limit,
            }),
        });
    }
    Ok(buf)
}

fn write_output(path: &PathBuf, data: &[u8]) -> Result<(), CliError> {
    let name = path.display().to_string();
    if name == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(data)
            .and_then(|()| out.flush())
            .map_err(ctx("cannot write to stdout"))
    } else {
        // Write next to the target and rename, so a failure never leaves half a file.
        let tmp = tmp_path(path);
        std::fs::write(&tmp, data)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                ctx(format!("cannot write {name}"))(e)
            })
    }
}

/// Where an output is written before it is renamed into place: next to it, `.tmp` added.
fn tmp_path(path: &std::path::Path) -> PathBuf {
    path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("out")
    ))
}

/// Resolves `--model-dir` / `--model` / the default image model, with the quality to use
/// when `--quality` is not given.
fn load_model(
    model: Option<&str>,
    model_dir: Option<&PathBuf>,
) -> Result<(ncodec::image_any::ImageCodec, u8), CliError> {
    let device = ncodec::device::default_device();
    match (model_dir, model) {
        (Some(dir), _) => {
            let m = ncodec::registry::load_image_model_dir(dir, &device)
                .map_err(ctx(format!("cannot load model from {}", dir.display())))?;
            let q = (m.levels() / 2) as u8;
            Ok((m, q))
        }
        (None, id) => {
            let entry = match id {
                Some(id) => ncodec::registry::find(id),
                None => ncodec::registry::default_for(ncodec::container::MediaKind::Image),
            }
            .map_err(ctx("no model to use"))?;
            let m = ncodec::registry::load_image_model(entry.id, &device)
                .map_err(ctx(format!("cannot load model {}", entry.id)))?;
            Ok((m, entry.default_quality))
        }
    }
}

/// Applies `--refine` / `--refine-lr` (0 steps: none).
fn set_refinement(
    codec: &mut ncodec::image_any::ImageCodec,
    steps: usize,
    lr: f64,
) -> Result<(), CliError> {
    let refine = (steps > 0).then_some(ncodec::image_codec::Refinement { steps, lr });
    codec
        .set_refinement(refine)
        .map_err(ctx("cannot use --refine"))
}

/// Decodes an input image within the pixel limit and prepares it for coding: 8-bit RGB
/// and the channel count to restore on decode. `verb` (`encode`, `compare`, ...) names
/// what failed in the error.
fn image_input(
    bytes: &[u8],
    name: &str,
    limits: &Limits,
    verb: &str,
) -> Result<(image::RgbImage, u8), CliError> {
    let img = image::load_from_memory(bytes).map_err(ctx(format!("cannot decode image {name}")))?;
    let (w, h) = (u64::from(img.width()), u64::from(img.height()));
    if w * h > limits.max_pixels {
        return Err(CliError {
            context: format!("{name} is too large"),
            source: Box::new(ncodec::Error::LimitExceeded {
                what: "image pixels",
                value: w * h,
                limit: limits.max_pixels,
            }),
        });
    }
    ncodec::image_codec::prepare_input(&img).map_err(ctx(format!("cannot {verb} {name}")))
}

/// Resolves `--model-dir` / a model id / the default audio model.
fn load_audio_model(
    model: Option<&str>,
    model_dir: Option<&PathBuf>,
) -> Result<ncodec::walloc_codec::WallocModel, CliError> {
    let device = ncodec::device::default_device();
    match (model_dir, model) {
        (Some(dir), _) => ncodec::registry::load_audio_model_dir(dir, &device)
            .map_err(ctx(format!("cannot load model from {}", dir.display()))),
        (None, id) => {
            let id = match id {
                Some(id) => id.to_string(),
                None => ncodec::registry::default_for(ncodec::container::MediaKind::Audio)
                    .map_err(ctx("no model to use"))?
                    .id
                    .to_string(),
            };
            ncodec::registry::load_audio_model(&id, &device)
                .map_err(ctx(format!("cannot load audio model {id}")))
        }
    }
}

/// True if the file at `path` begins with a RIFF/WAVE header.
fn file_starts_as_wav(path: &PathBuf) -> Result<bool, CliError> {
    let name = path.display().to_string();
    let f = std::fs::File::open(path).map_err(ctx(format!("cannot open {name}")))?;
    let mut head = Vec::with_capacity(12);
    f.take(12)
        .read_to_end(&mut head)
        .map_err(ctx(format!("cannot read {name}")))?;
    Ok(ncodec::audio_io::is_wav(&head))
}

/// `ncodec decode` of an audio file: the WAV is written chunk after chunk (to a file
/// next to the target, renamed at the end; stdout gets the whole file at the end).
fn decode_audio(
    m: &ncodec::walloc_codec::WallocModel,
    c: &ncodec::container::Container,
    name: &str,
    output: &PathBuf,
) -> Result<(), CliError> {
    use ncodec::audio_io::WavSink;
    let failed = |e: ncodec::Error| ctx(format!("cannot decode {name}"))(e);
    let (format, _) = m.audio_file_format(c).map_err(&failed)?;
    if output.as_os_str() == "-" {
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut sink = WavSink::new(&mut buf, format).map_err(&failed)?;
        m.decode_audio_stream(c, &mut sink).map_err(&failed)?;
        sink.finish().map_err(&failed)?;
        return write_output(output, &buf.into_inner());
    }
    let tmp = tmp_path(output);
    let run = || -> Result<(), CliError> {
        let f = std::fs::File::create(&tmp)
            .map_err(ctx(format!("cannot write {}", output.display())))?;
        let mut sink = WavSink::new(std::io::BufWriter::new(f), format).map_err(&failed)?;
        m.decode_audio_stream(c, &mut sink).map_err(&failed)?;
        sink.finish().map_err(&failed)?;
        std::fs::rename(&tmp, output).map_err(ctx(format!("cannot write {}", output.display())))
    };
    run().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// `ncodec encode` of a WAV file, read block by block.
fn encode_audio(
    src: &mut dyn ncodec::audio_io::AudioSource,
    name: &str,
    output: &PathBuf,
    model: Option<&str>,
    model_dir: Option<&PathBuf>,
    quality: Option<u8>,
) -> Result<(), CliError> {
    if quality.is_some_and(|q| q != 0) {
        return Err(CliError {
            context: format!("cannot encode {name}"),
            source: "audio models have one quality level, 0".into(),
        });
    }
    let (f, frames) = (src.format(), src.frames());
    let m = load_audio_model(model, model_dir)?;
    let (ncx, stats) = m
        .encode_audio_stream(src)
        .map_err(ctx(format!("cannot encode {name}")))?;
    write_output(output, &ncx)?;
    let seconds = frames as f64 / f64::from(f.sample_rate);
    eprintln!(
        "{name}: {} ch, {} Hz, {seconds:.2} s -> {} bytes, {:.2} kbit/s (model {}; estimate {:.2} kbit/s)",
        f.channels,
        f.sample_rate,
        stats.bytes,
        stats.bytes as f64 * 8.0 / seconds / 1000.0,
        m.id(),
        stats.estimated_bits / seconds / 1000.0
    );
    Ok(())
}

/// `ncodec latents` of a WAV or audio .ncx file: the chunks' latents stitched.
fn audio_latents(
    bytes: &[u8],
    name: &str,
    container: Option<&ncodec::container::Container>,
    model: Option<&str>,
    model_dir: Option<&PathBuf>,
) -> Result<(ncodec::walloc_codec::Latents, String), CliError> {
    use ncodec::audio_io::AudioSource as _;
    let id = container.map(|c| c.header.model_id.as_str()).or(model);
    let m = load_audio_model(id, model_dir)?;
    let (chunks, channels, n) = match container {
        Some(c) => {
            let (l, f, _, n) = m
                .latents_of_audio_container(c)
                .map_err(ctx(format!("cannot read latents of {name}")))?;
            (l, usize::from(f.channels), n)
        }
        None => {
            let mut src = ncodec::audio_io::WavSource::new(
                std::io::Cursor::new(bytes),
                ncodec::walloc_codec::MAX_STREAM_FRAMES,
            )
            .map_err(ctx(format!("cannot read WAV {name}")))?;
            let (l, n) = m
                .audio_latents_stream(&mut src)
                .map_err(ctx(format!("cannot encode {name}")))?;
            (l, usize::from(src.format().channels), n)
        }
    };
    let groups = if m.config().channels == 1 {
        channels
    } else {
        1
    };
    Ok((
        m.stitch_audio_latents(&chunks, n, groups),
        m.id().to_string(),
    ))
}

/// `ncodec latents`: the latents of an image (encoded now) or of an .ncx file (read
/// from its payload, no synthesis).
fn latents(
    input: &PathBuf,
    output: &PathBuf,
    model: Option<&str>,
    model_dir: Option<&PathBuf>,
    quality: Option<u8>,
) -> Result<(), CliError> {
    use ncodec::image_any::ImageCodec;
    let limits = Limits::default();
    let bytes = read_input(input, limits.max_file_bytes)?;
    let name = input.display().to_string();
    let device = ncodec::device::default_device();
    let is_ncx = bytes.starts_with(&ncodec::container::MAGIC);
    let container = if is_ncx {
        Some(
            ncodec::container::Container::from_bytes(&bytes, &limits)
                .map_err(ctx(format!("cannot read {name}")))?,
        )
    } else {
        None
    };
    let audio_file =
        matches!(&container, Some(c) if matches!(c.header.media, MediaInfo::Audio { .. }));
    let wav = ncodec::audio_io::is_wav(&bytes);
    if quality.is_some() && (container.is_some() || wav) {
        return Err(CliError {
            context: format!("cannot use --quality with {name}"),
            source: "--quality applies to image input only (an .ncx file keeps its own level)"
                .into(),
        });
    }
    if audio_file || wav {
        let (l, id) = audio_latents(&bytes, &name, container.as_ref(), model, model_dir)?;
        let npy = ncodec::npy::write_i32(&[l.channels, l.width], &l.values)
            .map_err(ctx("cannot format .npy"))?;
        write_output(output, &npy)?;
        eprintln!("{name}: latents {}x{} (model {id})", l.channels, l.width);
        return Ok(());
    }
    let codec = match (model_dir, model, &container) {
        (Some(dir), _, _) => ncodec::registry::load_image_model_dir(dir, &device)
            .map_err(ctx(format!("cannot load model from {}", dir.display())))?,
        (None, Some(id), None) => ncodec::registry::load_image_model(id, &device)
            .map_err(ctx(format!("cannot load model {id}")))?,
        (None, _, Some(c)) => ncodec::registry::load_image_model(&c.header.model_id, &device)
            .map_err(ctx(format!("cannot read latents of {name}")))?,
        (None, None, None) => {
            let id = ncodec::registry::default_walloc_image()
                .map_err(ctx("no model to compute latents with"))?;
            ncodec::registry::load_image_model(id, &device)
                .map_err(ctx(format!("cannot load model {id}")))?
        }
    };
    let ImageCodec::Walloc(wm) = &codec else {
        return Err(CliError {
            context: format!("cannot write latents with model {}", codec.id()),
            source: "the latents API needs a WaLLoC model (see `ncodec models`)".into(),
        });
    };
    let l = match &container {
        Some(c) => {
            wm.latents_of_container(c)
                .map_err(ctx(format!("cannot read latents of {name}")))?
                .0
        }
        None => {
            let (rgb, _) = image_input(&bytes, &name, &limits, "encode")?;
            wm.image_latents_at(
                &rgb,
                quality.unwrap_or(ncodec::walloc_codec::UNIT_STEP_QUALITY),
            )
            .map_err(ctx(format!("cannot encode {name}")))?
        }
    };
    let npy = ncodec::npy::write_i32(&[l.channels, l.height, l.width], &l.values)
        .map_err(ctx("cannot format .npy"))?;
    write_output(output, &npy)?;
    eprintln!(
        "{name}: latents {}x{}x{} (model {}, quantisation step {}: the decoder's input is value × step)",
        l.channels,
        l.height,
        l.width,
        codec.id(),
        l.step
    );
    Ok(())
}

fn eval_image(a: EvalImageArgs) -> Result<(), CliError> {
    let (mut model, _) = load_model(a.model.as_deref(), a.model_dir.as_ref())?;
    set_refinement(&mut model, a.refine, a.refine_lr)?;
    let qualities: Vec<u8> = if a.quality == "all" {
        (0..model.levels() as u8).collect()
    } else {
        a.quality
            .split(',')
            .map(|q| q.trim().parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(ctx(format!(
                "bad --quality {:?}: use `all` or numbers like 0,2,5",
                a.quality
            )))?
    };
    let folder = ncodec::datasets::ImageFolder::scan(&a.data)
        .map_err(ctx(format!("cannot read dataset {}", a.data.display())))?;
    let mut anchor_files = a.anchors.clone();
    let default_anchors = PathBuf::from("../shared/anchors/image/anchors_kodak.json");
    if anchor_files.is_empty() && default_anchors.is_file() {
        anchor_files.push(default_anchors);
    }
    let mut anchors = Vec::new();
    for f in &anchor_files {
        anchors.extend(
            ncodec::eval::load_anchors(f)
                .map_err(ctx(format!("cannot read anchors {}", f.display())))?,
        );
    }
    let start = std::time::Instant::now();
    let mut report = ncodec::eval::evaluate(
        &model,
        &a.data,
        &folder.entries,
        &qualities,
        |done, total, r| {
            let width = 30;
            let filled = done * width / total.max(1);
            eprint!(
                "\r[{}{}] {done}/{total} q{} {} {:.3} bpp {:.2} dB   ",
                "#".repeat(filled),
                "-".repeat(width - filled),
                r.quality,
                r.name,
                r.bpp,
                r.psnr
            );
        },
    )
    .map_err(ctx("evaluation failed"))?;
    eprintln!("\ndone in {:.1} s", start.elapsed().as_secs_f64());
    report.bd = ncodec::eval::bd_against(&report.points, &anchors);
    let mut out = std::io::stdout().lock();
    let w = |r: std::io::Result<()>| r.map_err(ctx("cannot write to stdout"));
    w(writeln!(
        out,
        "model {} on {} ({} images){}",
        report.model,
        a.data.display(),
        report.images,
        report.refine.map_or(String::new(), |r| format!(
            ", latents refined ({} steps, lr {})",
            r.steps, r.lr
        ))
    ))?;
    w(writeln!(
        out,
        "{:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "quality", "bpp", "est.bpp", "PSNR", "MS-SSIM", "enc s", "dec s"
    ))?;
    for p in &report.points {
        w(writeln!(
            out,
            "{:>7} {:>8.4} {:>8.4} {:>8.3} {:>8} {:>8.3} {:>8.3}",
            p.quality,
            p.bpp,
            p.estimated_bpp,
            p.psnr,
            p.ms_ssim.map_or("-".into(), |v| format!("{v:.5}")),
            p.encode_seconds,
            p.decode_seconds
        ))?;
    }
    let off = ncodec::eval::off_frontier(&report.points);
    if !off.is_empty() {
        w(writeln!(
            out,
            "levels {off:?} lie below the rate–PSNR frontier (another level has more quality \
             for no more bits); the BD metrics below leave them out"
        ))?;
    }
    let shown = [
        "jpeg420",
        "webp",
        "avif",
        "bmshj2018-hyperprior",
        "vtm_compressai",
    ];
    for b in report.bd.iter().filter(|b| {
        shown.contains(&b.anchor.as_str()) || anchor_files.len() > 1 || report.bd.len() <= 5
    }) {
        let f = |v: Option<f64>, unit: &str| {
            v.map_or("n/a (no overlap)".to_string(), |v| format!("{v:+.2}{unit}"))
        };
        w(writeln!(
            out,
            "BD-rate vs {:<22} {:>18}   BD-PSNR {}",
            b.anchor,
            f(b.bd_rate_psnr, " %"),
            f(b.bd_psnr, " dB")
        ))?;
    }
    if let Some(p) = &a.json {
        let s = serde_json::to_vec_pretty(&report).map_err(ctx("cannot format JSON"))?;
        write_output(p, &s)?;
    }
    if let Some(p) = &a.csv {
        write_output(p, ncodec::eval::to_csv(&report).as_bytes())?;
    }
    if let Some(p) = &a.plot {
        let svg =
            ncodec::plot::rd_plot_svg(&report, &anchors).map_err(ctx("cannot draw the plot"))?;
        write_output(p, svg.as_bytes())?;
    }
    Ok(())
}

/// One file's comparison with the reference, as `ncodec compare --json` prints it.
#[derive(serde::Serialize)]
struct Comparison {
    file: String,
    /// PSNR in dB (images; `null` when identical).
    #[serde(skip_serializing_if = "Option::is_none")]
    psnr: Option<f64>,
    /// MS-SSIM (images with both sides over 160 pixels).
    #[serde(skip_serializing_if = "Option::is_none")]
    ms_ssim: Option<f64>,
    /// SNR in dB (audio; `null` when identical).
    #[serde(skip_serializing_if = "Option::is_none")]
    snr: Option<f64>,
    #[serde(flatten)]
    diff: ncodec::metrics::SampleDiff,
}

/// `ncodec compare`: metrics of each file against the reference.
fn compare(reference: &PathBuf, files: &[PathBuf]) -> Result<Vec<Comparison>, CliError> {
    use ncodec::metrics;
    let limits = Limits::default();
    let read = |p: &PathBuf| read_input(p, limits.max_file_bytes);
    let name = |p: &PathBuf| p.display().to_string();
    let failed = |p: &PathBuf| {
        ctx(format!(
            "cannot compare {} with {}",
            name(p),
            name(reference)
        ))
    };
    let ref_bytes = read(reference)?;
    let mut out = Vec::new();
    if ncodec::audio_io::is_wav(&ref_bytes) {
        let wav = |b: &[u8], p: &PathBuf| {
            ncodec::audio_io::read_wav(b, limits.max_file_bytes)
                .map_err(ctx(format!("cannot read WAV {}", name(p))))
        };
        let a = wav(&ref_bytes, reference)?;
        for f in files {
            let b = wav(&read(f)?, f)?;
            let snr = metrics::snr_audio(&a, &b).map_err(failed(f))?;
            out.push(Comparison {
                file: name(f),
                psnr: None,
                ms_ssim: None,
                snr: Some(snr),
                diff: metrics::sample_diff_audio(&a, &b).map_err(failed(f))?,
            });
        }
    } else {
        let (a, _) = image_input(&ref_bytes, &name(reference), &limits, "compare")?;
        for f in files {
            let (b, _) = image_input(&read(f)?, &name(f), &limits, "compare")?;
            out.push(Comparison {
                file: name(f),
                psnr: Some(metrics::psnr_rgb(&a, &b).map_err(failed(f))?),
                ms_ssim: metrics::ms_ssim_rgb(&a, &b).ok(),
                snr: None,
                diff: metrics::sample_diff_rgb(&a, &b).map_err(failed(f))?,
            });
        }
    }
    Ok(out)
}

fn run(cli: Cli) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    let w = |r: std::io::Result<()>| r.map_err(ctx("cannot write to stdout"));
    match cli.command {
        Command::Info { file, json } => {
            let limits = Limits::default();
            let bytes = read_input(&file, limits.max_file_bytes)?;
            let info = ncodec::info::file_info(&bytes, &limits)
                .map_err(ctx(format!("cannot read {}", file.display())))?;
            if json {
                let s = serde_json::to_string_pretty(&info).map_err(ctx("cannot format JSON"))?;
                w(writeln!(out, "{s}"))?;
            } else {
                w(print_info(&mut out, &file, &info))?;
            }
        }
        Command::Compare {
            reference,
            files,
            json,
        } => {
            let results = compare(&reference, &files)?;
            if json {
                let s =
                    serde_json::to_string_pretty(&results).map_err(ctx("cannot format JSON"))?;
                w(writeln!(out, "{s}"))?;
                return Ok(());
            }
            for r in &results {
                let db = |v: f64| {
                    if v.is_finite() {
                        format!("{v:.3} dB")
                    } else {
                        "identical".to_string()
                    }
                };
                let mut line = format!("{}:", r.file);
                if let Some(p) = r.psnr {
                    line += &format!(" PSNR {}", db(p));
                }
                if let Some(m) = r.ms_ssim {
                    line += &format!(", MS-SSIM {m:.5}");
                }
                if let Some(s) = r.snr {
                    line += &format!(" SNR {}", db(s));
                }
                let d = &r.diff;
                line += &format!(
                    ", {} of {} samples differ, by at most {}",
                    d.differing, d.samples, d.max_abs
                );
                w(writeln!(out, "{line}"))?;
            }
        }
        Command::Models { json } => {
            let models = ncodec::registry::models();
            if json {
                let s = serde_json::to_string_pretty(&models).map_err(ctx("cannot format JSON"))?;
                w(writeln!(out, "{s}"))?;
            } else if models.is_empty() {
                w(writeln!(
                    out,
                    "no trained models are shipped in this build yet"
                ))?;
            } else {
                w(writeln!(
                    out,
                    "{:<24} {:<6} {:<9} description",
                    "model", "kind", "quality"
                ))?;
                for m in models {
                    let q = format!("{}..={}", m.min_quality, m.max_quality);
                    let star = if m.default { " (default)" } else { "" };
                    w(writeln!(
                        out,
                        "{:<24} {:<6} {:<9} {}{star}",
                        m.id, m.kind, q, m.description
                    ))?;
                }
            }
        }
        Command::Encode {
            input,
            output,
            model,
            model_dir,
            quality,
            refine,
            refine_lr,
        } => {
            let limits = Limits::default();
            let name = input.display().to_string();
            // A WAV file is read as a stream (bounded memory, any length); stdin and
            // images are read whole.
            let streamed = name != "-" && file_starts_as_wav(&input)?;
            let bytes = if streamed {
                Vec::new()
            } else {
                read_input(&input, limits.max_file_bytes)?
            };
            if streamed || ncodec::audio_io::is_wav(&bytes) {
                use ncodec::audio_io::{AudioSource, WavSource};
                let max = ncodec::walloc_codec::MAX_STREAM_FRAMES;
                let src: ncodec::Result<Box<dyn AudioSource>> = if streamed {
                    let f =
                        std::fs::File::open(&input).map_err(ctx(format!("cannot open {name}")))?;
                    WavSource::new(std::io::BufReader::new(f), max).map(|s| Box::new(s) as _)
                } else {
                    WavSource::new(std::io::Cursor::new(&bytes[..]), max).map(|s| Box::new(s) as _)
                };
                let mut src = src.map_err(ctx(format!("cannot read WAV {name}")))?;
                return encode_audio(
                    src.as_mut(),
                    &name,
                    &output,
                    model.as_deref(),
                    model_dir.as_ref(),
                    quality,
                );
            }
            let (rgb, channels) = image_input(&bytes, &name, &limits, "encode")?;
            let (w, h) = (u64::from(rgb.width()), u64::from(rgb.height()));
            let (mut codec, default_q) = load_model(model.as_deref(), model_dir.as_ref())?;
            set_refinement(&mut codec, refine, refine_lr)?;
            let tile_name = name.clone();
            codec.set_refine_progress(Some(ncodec::image_codec::RefineProgress::new(
                move |done, total| {
                    eprint!("\r{tile_name}: refining latents, {done}/{total} tiles done");
                    if done == total {
                        eprintln!();
                    }
                },
            )));
            let q = quality.unwrap_or(default_q);
            let (ncx, stats) = codec
                .encode_with_channels(&rgb, channels, q)
                .map_err(ctx(format!("cannot encode {name}")))?;
            write_output(&output, &ncx)?;
            eprintln!(
                "{name}: {}x{} -> {} bytes, {:.4} bpp (model {}, quality {q}{}; estimate {:.4} bpp)",
                w,
                h,
                stats.bytes,
                stats.bytes as f64 * 8.0 / (w * h) as f64,
                codec.id(),
                codec.refinement().map_or(String::new(), |r| format!(
                    ", latents refined in {} steps",
                    r.steps
                )),
                stats.estimated_bits / (w * h) as f64
            );
        }
        Command::Decode {
            input,
            output,
            model_dir,
        } => {
            let limits = Limits::default();
            let bytes = read_input(&input, limits.max_file_bytes)?;
            let name = input.display().to_string();
            let c = ncodec::container::Container::from_bytes(&bytes, &limits)
                .map_err(ctx(format!("cannot read {name}")))?;
            let device = ncodec::device::default_device();
            if let MediaInfo::Audio { .. } = c.header.media {
                let m = load_audio_model(Some(&c.header.model_id), model_dir.as_ref())?;
                return decode_audio(&m, &c, &name, &output);
            }
            let codec = match &model_dir {
                Some(dir) => ncodec::registry::load_image_model_dir(dir, &device)
                    .map_err(ctx(format!("cannot load model from {}", dir.display())))?,
                None => ncodec::registry::load_image_model(&c.header.model_id, &device)
                    .map_err(ctx(format!("cannot decode {name}")))?,
            };
            let rgb = codec
                .decode_container(&c)
                .map_err(ctx(format!("cannot decode {name}")))?;
            let channels = match c.header.media {
                MediaInfo::Image { channels, .. } => channels,
                _ => 3,
            };
            let img = ncodec::image_codec::restore_channels(rgb, channels);
            let out_name = output.display().to_string();
            let format = if out_name == "-" {
                image::ImageFormat::Png
            } else {
                image::ImageFormat::from_path(&output).map_err(ctx(format!("cannot tell the image format of {out_name} from its extension (use .png or .jpg)")))?
            };
            let mut buf = std::io::Cursor::new(Vec::new());
            let img = if format == image::ImageFormat::Jpeg && img.color().has_alpha() {
                image::DynamicImage::ImageRgb8(img.to_rgb8())
            } else {
                img
            };
            img.write_to(&mut buf, format)
                .map_err(ctx(format!("cannot write {out_name}")))?;
            write_output(&output, &buf.into_inner())?;
        }
        Command::Latents {
            input,
            output,
            model,
            model_dir,
            quality,
        } => latents(
            &input,
            &output,
            model.as_deref(),
            model_dir.as_ref(),
            quality,
        )?,
        Command::Datasets(cmd) => {
            let (name, dir, fetch) = match cmd {
                DatasetsCommand::Fetch { name, dir } => (
                    name,
                    dir.unwrap_or_else(ncodec_datasets::kodak_cache_dir),
                    true,
                ),
                DatasetsCommand::Verify { name, dir } => (name, dir, false),
            };
            if name != "kodak" {
                return Err(CliError {
                    context: format!("unknown dataset {name:?}"),
                    source: "the datasets ncodec knows are: kodak".into(),
                });
            }
            if fetch {
                let n = ncodec_datasets::fetch_kodak(&dir, |f| eprintln!("downloading {f}"))
                    .map_err(ctx(format!("cannot fetch kodak into {}", dir.display())))?;
                eprintln!("{n} files downloaded");
            }
            let bad = ncodec_datasets::verify_kodak(&dir)
                .map_err(ctx(format!("cannot check {}", dir.display())))?;
            if !bad.is_empty() {
                return Err(CliError {
                    context: format!(
                        "{}: {} of 24 Kodak files missing or damaged",
                        dir.display(),
                        bad.len()
                    ),
                    source: bad.join(", ").into(),
                });
            }
            w(writeln!(
                out,
                "kodak: 24 files verified in {}",
                dir.display()
            ))?;
        }
        Command::Eval(EvalCommand::Image(a)) => eval_image(a)?,
        Command::Train(TrainCommand::Image(a)) => {
            let opts = ncodec::train::TrainOptions {
                data: a.data,
                val: a.val,
                out: a.out,
                n: a.n,
                m: a.m,
                mean_scale: !a.scale_only,
                factorized: a.factorized,
                lambdas: a.lambdas,
                patch: a.patch,
                batch: a.batch,
                steps: a.steps,
                lr: a.lr,
                seed: a.seed,
                checkpoint_every: a.checkpoint_every.max(1),
                val_every: a.val_every.max(1),
                jpeg_downscale: a.jpeg_downscale.max(1),
                balance_levels: a.balance_levels,
                init: a.init,
                decoder_only: a.decoder_only,
            };
            let device = ncodec::device::default_device();
            ncodec::train::train_image(&opts, &device).map_err(ctx("training failed"))?;
        }
        Command::Train(TrainCommand::WallocAudio(a)) => {
            let c = a.common;
            let model = ncodec::models::walloc::WallocConfig::new(
                1,
                a.channels,
                a.levels,
                a.latent_dim,
                c.nd,
            )
            .with_blocks(c.blocks)
            .with_latent_bits(c.latent_bits)
            .with_lambda(a.lambda)
            .with_sample_rate(Some(a.sample_rate));
            let opts = ncodec::train_walloc_audio::WallocAudioTrainOptions {
                data: a.data,
                val: a.val,
                out: a.out,
                model,
                segment: a.segment,
                batch: c.batch,
                steps: a.steps,
                lr: c.lr,
                seed: c.seed,
                checkpoint_every: c.checkpoint_every.max(1),
                val_every: a.val_every.max(1),
            };
            let device = ncodec::device::default_device();
            ncodec::train_walloc_audio::train_walloc_audio(&opts, &device)
                .map_err(ctx("training failed"))?;
        }
        Command::Train(TrainCommand::LatentContext(a)) => train_latent_context(a)?,
        Command::Train(TrainCommand::Postfilter(a)) => {
            let opts = ncodec::train_postfilter::PostFilterTrainOptions {
                data: a.data,
                val: a.val,
                out: a.out,
                model: ncodec::models::postfilter::PostFilterConfig::new()
                    .with_width(a.width)
                    .with_layers(a.layers),
                patch: a.patch,
                batch: a.batch,
                steps: a.steps,
                lr: a.lr,
                seed: a.seed,
                checkpoint_every: a.checkpoint_every.max(1),
                val_every: a.val_every.max(1),
                jpeg_downscale: a.jpeg_downscale.max(1),
                qualities: a.qualities,
                extension: ncodec::wavelet_codec::Extension::from_name(&a.extension)
                    .map_err(ctx("bad --extension"))?,
            };
            let device = ncodec::device::default_device();
            ncodec::train_postfilter::train_postfilter(&opts, &device)
                .map_err(ctx("training failed"))?;
        }
        Command::Train(TrainCommand::WallocImage(a)) => {
            let c = a.common;
            let model =
                ncodec::models::walloc::WallocConfig::new(2, 3, a.levels, a.latent_dim, c.nd)
                    .with_blocks(c.blocks)
                    .with_latent_bits(c.latent_bits)
                    .with_lambda(a.lambda);
            let opts = ncodec::train_walloc::WallocTrainOptions {
                data: a.data,
                val: a.val,
                out: a.out,
                model,
                patch: a.patch,
                batch: c.batch,
                steps: a.steps,
                lr: c.lr,
                seed: c.seed,
                checkpoint_every: c.checkpoint_every.max(1),
                val_every: a.val_every.max(1),
                jpeg_downscale: a.jpeg_downscale.max(1),
            };
            let device = ncodec::device::default_device();
            ncodec::train_walloc::train_walloc_image(&opts, &device)
                .map_err(ctx("training failed"))?;
        }
    }
    Ok(())
}

fn print_info(
    out: &mut impl Write,
    file: &std::path::Path,
    info: &ncodec::info::FileInfo,
) -> std::io::Result<()> {
    let h = &info.header;
    writeln!(out, "file:        {}", file.display())?;
    writeln!(out, "format:      ncx version {}", h.version)?;
    writeln!(out, "media:       {}", h.media.kind())?;
    writeln!(out, "model:       {}", h.model_id)?;
    writeln!(
        out,
        "digest:      {}",
        ncodec::container::hex(&h.model_digest)
    )?;
    // WaLLoC image levels are quantisation steps, and a residual's step above level 7;
    // the wavelet codec's levels are its coefficients' steps.
    let latq = info
        .sections
        .iter()
        .any(|s| s.tag == "LATQ" || s.tag == "LATS");
    let step = match (
        ncodec::walloc_codec::image_step(h.quality),
        ncodec::walloc_codec::refinement(h.quality),
    ) {
        (Ok(s), Ok(Some(r))) if latq => format!(
            " (quantisation step {s} of level {}, residual step {} in 8-bit units)",
            r.base, r.step
        ),
        (Ok(s), _) if latq => format!(" (quantisation step {s})"),
        _ => match ncodec::wavelet_codec::step(h.quality) {
            Ok(s)
                if info
                    .sections
                    .iter()
                    .any(|s| s.tag == "DWTA" || s.tag == "DWTQ") =>
            {
                format!(" (quantisation step {s} in 8-bit units)")
            }
            _ => String::new(),
        },
    };
    writeln!(out, "quality:     {}{step}", h.quality)?;
    match &h.media {
        MediaInfo::Image {
            width,
            height,
            channels,
            bit_depth,
        } => {
            writeln!(
                out,
                "size:        {width}x{height}, {channels} channels, {bit_depth} bit"
            )?;
        }
        MediaInfo::Audio {
            sample_rate,
            channels,
            frames,
            bits_per_sample,
            float,
            model_rate,
        } => {
            let fmt = if *float { "float" } else { "int" };
            writeln!(
                out,
                "audio:       {sample_rate} Hz, {channels} ch, {frames} frames, {bits_per_sample}-bit {fmt} (coded at {model_rate} Hz)"
            )?;
        }
        MediaInfo::Video {
            width,
            height,
            frames,
            fps_num,
            fps_den,
            chroma,
        } => {
            let c = ["4:2:0", "4:2:2", "4:4:4"][usize::from(*chroma).min(2)];
            writeln!(
                out,
                "video:       {width}x{height} {c}, {frames} frames at {fps_num}/{fps_den} fps"
            )?;
        }
    }
    writeln!(out, "bytes:       {}", info.file_bytes)?;
    if let Some(bpp) = info.bits_per_pixel {
        writeln!(out, "bpp:         {bpp:.4}")?;
    }
    if let Some(kbps) = info.kbps {
        writeln!(out, "kbps:        {kbps:.3}")?;
    }
    writeln!(out, "sections:")?;
    for s in &info.sections {
        writeln!(out, "  {:<4} {:>10} bytes", s.tag, s.bytes)?;
    }
    Ok(())
}

/// `ncodec train latent-context`: the latents of every image at every level, then
/// [`ncodec::latent_learned::fit`].
fn train_latent_context(a: TrainLatentContextArgs) -> Result<(), CliError> {
    let id = a.model.as_deref().unwrap_or("walloc-rgb-16x-r1");
    let (codec, _) = load_model(Some(id), a.model_dir.as_ref())?;
    let ncodec::image_any::ImageCodec::Walloc(model) = codec else {
        return Err(CliError {
            context: format!("model {id}"),
            source: "a latent context model needs a WaLLoC image model".into(),
        });
    };
    let folder = ncodec::datasets::ImageFolder::scan(&a.data)
        .map_err(ctx(format!("cannot read {}", a.data.display())))?;
    let images = folder
        .load_rgb(a.jpeg_downscale.max(1))
        .map_err(ctx("cannot load the training images"))?;
    let mut planes = Vec::with_capacity(images.len() * a.qualities.len());
    for &q in &a.qualities {
        if q >= ncodec::walloc_codec::BASE_LEVELS {
            return Err(CliError {
                context: format!("quality {q}"),
                source: "not a base level (0–7)".into(),
            });
        }
        for img in &images {
            let l = model
                .image_latents_at(img, q)
                .map_err(ctx("cannot compute latents"))?;
            planes.push(ncodec::latent_learned::Planes {
                channels: l.channels,
                height: l.height,
                width: l.width,
                values: l.values,
            });
        }
    }
    eprintln!(
        "{} images × {} levels: {} latent planes",
        images.len(),
        a.qualities.len(),
        planes.len()
    );
    let total = planes.len();
    let start = std::time::Instant::now();
    let fitted = ncodec::latent_learned::fit(&planes, model.config().latent_dim, |pass, n| {
        if n == total {
            eprintln!("{pass}: {n} done, {:.0} s", start.elapsed().as_secs_f64());
        }
    })
    .map_err(ctx("fit failed"))?;
    write_output(&a.out, &fitted.to_bytes())?;
    eprintln!(
        "wrote {} ({} bytes, id {})",
        a.out.display(),
        fitted.to_bytes().len(),
        fitted
            .id()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    Ok(())
}
