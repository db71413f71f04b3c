//! Training of the hyperprior and factorized-prior image models (`ncodec train image`).
//!
//! Rate–distortion loss `λ·255²·MSE + bpp` (plus the bottleneck's auxiliary loss), Adam
//! with gradient-norm clipping, random crops and flips from a folder, validation on a
//! second folder, checkpoints with resume, and a CSV log of the curves. The quality
//! levels are trained in turn, one level per step, each with its own λ and gain vector.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ncodec_datasets::{ImageFolder, PatchSampler};
use ncodec_models::burn::module::{Module, ParamGroup, ParamId};
use ncodec_models::burn::optim::grad_clipping::GradientClippingConfig;
use ncodec_models::burn::optim::lr_scheduler::module_lr_scheduler::{
    ModuleLearningRate, ModuleLrScheduler,
};
use ncodec_models::burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use ncodec_models::burn::prelude::*;
use ncodec_models::burn::store::ModuleRecord;
use ncodec_models::burn::tensor::Bytes;
use ncodec_models::factorized::{Factorized, FactorizedConfig};
use ncodec_models::hyperprior::{Hyperprior, HyperpriorConfig, RdImageNet, RdOutput, same_lambda};

use crate::error::{Error, Result, io_err};
use crate::image_codec::{ImageNetRef, is_factorized};

/// Everything a training run needs; saved as `train.json` in the output folder.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TrainOptions {
    /// Folder of training images.
    pub data: PathBuf,
    /// Folder of validation images.
    pub val: Option<PathBuf>,
    /// Output folder: checkpoints, log, final weights.
    pub out: PathBuf,
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
    /// Square patch size (multiple of 64).
    pub patch: u32,
    /// Batch size.
    pub batch: usize,
    /// Total steps to reach (a resumed run continues up to this).
    pub steps: u64,
    /// Adam learning rate.
    pub lr: f64,
    /// Seed of the patch sampler.
    pub seed: u64,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
    /// Steps between validations.
    pub val_every: u64,
    /// Downscale factor for JPEG training images (removes their artifacts).
    pub jpeg_downscale: u32,
    /// Divide each level's rate–distortion loss by its running mean, so that every
    /// level pulls on the shared transforms equally (see [`LevelBalance`]).
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
    /// to different pixels. Meant with `init`.
    #[serde(default)]
    pub decoder_only: bool,
}

/// Progress saved next to a checkpoint.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TrainState {
    /// Steps done.
    pub step: u64,
    /// Wall seconds spent training so far, over all sessions.
    pub wall_seconds: f64,
    /// The step at which Adam's state last started from zero (a fresh run, or a resume
    /// without `optim.bpk`); the learning rate warms up from there.
    #[serde(default)]
    pub optim_start: u64,
    /// Running mean of each level's rate–distortion loss (with `balance_levels`).
    #[serde(default)]
    pub level_loss_mean: Vec<f64>,
}

/// Per-level loss weights that give every quality level the same pull.
///
/// One step trains one level, and the shared transforms see that level's
/// `λ·255²·MSE + bpp`. Those losses grow with λ (on hp-mean-64-r1 and images-val, from
/// about 0.8 at λ = 0.0018 to 9 at λ = 0.0483), so the highest levels dominate the
/// shared weights. Dividing each level's loss by its running mean keeps every level's
/// optimum (the weight is a constant for that level) and balances them. It did not help
/// in its one clean trial (hp-mean-64-r1's card, 2026-12-02). Resuming r1 with the same
/// patches and seed for 750 steps, the validation rate at the lowest level was 1.01 bpp
/// with it and 0.61 bpp without, at about the same PSNR. It is off by default.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelBalance {
    mean: Vec<f64>,
}

/// Weight of one new observation in [`LevelBalance`]'s running means.
const LEVEL_MEAN_RATE: f64 = 0.02;

impl LevelBalance {
    /// Starts from saved running means (empty or missing levels start at their first
    /// observation).
    pub fn new(levels: usize, saved: &[f64]) -> Self {
        let mut mean = saved.to_vec();
        mean.resize(levels, 0.0);
        Self { mean }
    }

    /// The weight of `level`'s loss this step, given its current value `loss` (used only
    /// for a level not seen before).
    pub fn weight(&self, level: usize, loss: f64) -> f64 {
        let m = self.mean[level];
        let m = if m > 0.0 { m } else { loss };
        if m > 0.0 && m.is_finite() {
            1.0 / m
        } else {
            1.0
        }
    }

    /// Folds `level`'s observed loss into its running mean.
    pub fn observe(&mut self, level: usize, loss: f64) {
        if !loss.is_finite() || loss <= 0.0 {
            return;
        }
        let m = &mut self.mean[level];
        *m = if *m > 0.0 {
            *m + LEVEL_MEAN_RATE * (loss - *m)
        } else {
            loss
        };
    }

    /// The running means, for saving with a checkpoint.
    pub fn means(&self) -> &[f64] {
        &self.mean
    }
}

/// Steps over which the learning rate ramps up after Adam's state starts from zero.
///
/// Adam's first updates move every parameter by about the learning rate whatever its
/// gradient's scale. Resuming hp-mean-64-r1's weights with a fresh Adam at lr 3e-4
/// dropped its training PSNR from the run's level to 20.4 dB over the first 50 steps;
/// the ramp avoids that shock.
pub const LR_WARMUP_STEPS: u64 = 200;

/// The learning rate for `step`: `lr`, ramped linearly over [`LR_WARMUP_STEPS`] steps
/// from `optim_start`.
pub fn warmup_lr(lr: f64, step: u64, optim_start: u64) -> f64 {
    let k = step.saturating_sub(optim_start) + 1;
    lr * (k.min(LR_WARMUP_STEPS) as f64 / LR_WARMUP_STEPS as f64)
}

/// Learning rate of the bottleneck's `quantiles`, which only the auxiliary loss moves:
/// constant, without warm-up, as CompressAI's separate auxiliary Adam.
///
/// At the main learning rate the quantiles fell behind the density they track: training
/// on from hp-mean-64-r2 at lr 1e-4, the auxiliary loss grew from 2,212 to 2,431 over the
/// first 3,350 steps.
pub const AUX_LR: f64 = 1e-3;

/// Per-parameter learning rates of one step: `lr` for every parameter except the entropy
/// bottleneck's `quantiles` (the parameter with id `quantiles`), which get [`AUX_LR`].
/// Used by the image and WaLLoC trainers.
pub fn step_lr(lr: f64, quantiles: ParamId) -> ModuleLearningRate {
    ModuleLrScheduler::new(lr)
        .with_group(ParamGroup::from_ids(vec![quantiles]), AUX_LR)
        .step()
}

fn record_err(e: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("checkpoint: {e}"))
}

/// Mean squared error, bits per pixel, and the loss for one RD output.
pub fn rd_terms(x: &Tensor<4>, out: &RdOutput) -> (Tensor<1>, Tensor<1>) {
    let [b, _, h, w] = x.dims();
    let mse = (out.x_hat.clone() - x.clone()).square().mean();
    let nats = out.y_likelihoods.clone().log().sum() + out.z_likelihoods.clone().log().sum();
    let bpp = nats
        .neg()
        .div_scalar((b * h * w) as f64 * std::f64::consts::LN_2);
    (mse, bpp)
}

/// Trains (or resumes) a model as `opts` says, printing progress to stderr.
///
/// # Errors
/// I/O and dataset errors, bad options, unreadable checkpoints.
pub fn train_image(opts: &TrainOptions, device: &Device) -> Result<()> {
    if !opts.patch.is_multiple_of(64) || opts.patch == 0 {
        return Err(Error::InvalidArgument(
            "patch size must be a positive multiple of 64".into(),
        ));
    }
    if opts.lambdas.is_empty() {
        return Err(Error::InvalidArgument("need at least one λ".into()));
    }
    if opts.decoder_only && opts.init.is_none() {
        return Err(Error::InvalidArgument(
            "--decoder-only trains the decoder of a trained model: name it with --init".into(),
        ));
    }
    if opts.factorized {
        let cfg = FactorizedConfig::new(opts.n, opts.m, opts.lambdas.clone());
        let init = init_source(opts)?;
        if let Some((config, _)) = &init {
            check_init_config(&cfg, opts, config)?;
        }
        start_run_dir(&opts.out, &cfg, opts)?;
        let export = |m: &Factorized, dir: &Path| export(ImageNetRef::Factorized(&cfg, m), dir);
        run(
            opts,
            device,
            |ad| cfg.init(ad),
            init.map(|(_, w)| w),
            export,
        )
    } else {
        let cfg = HyperpriorConfig::new(opts.n, opts.m, opts.lambdas.clone())
            .with_mean_scale(opts.mean_scale);
        let init = init_source(opts)?;
        // A source trained for other λs, or with fewer latent channels (the same model
        // otherwise), starts this run with its quality levels resampled to this run's λs
        // and its latents widened to this run's M.
        let (mut from_lambdas, mut from_m) = (None, None);
        if let Some((config, _)) = &init {
            from_m = init_latents(&cfg, config);
            let widened = HyperpriorConfig {
                m: from_m.unwrap_or(cfg.m),
                ..cfg.clone()
            };
            from_lambdas = init_lambdas(&widened, opts, config)?;
            let trained = HyperpriorConfig {
                lambdas: from_lambdas.clone().unwrap_or_else(|| cfg.lambdas.clone()),
                ..widened
            };
            check_init_config(&trained, opts, config)?;
        }
        start_run_dir(&opts.out, &cfg, opts)?;
        let export = |m: &Hyperprior, dir: &Path| export(ImageNetRef::Hyperprior(&cfg, m), dir);
        match (from_lambdas, from_m, init) {
            (from, m, Some((_, weights))) if from.is_some() || m.is_some() => {
                let ad = device.clone().autodiff();
                let from = from.unwrap_or_else(|| cfg.lambdas.clone());
                let source = HyperpriorConfig {
                    lambdas: from.clone(),
                    m: m.unwrap_or(cfg.m),
                    ..cfg.clone()
                }
                .init(&ad);
                let mut model = load_weights(source, weights, opts)?;
                if from != cfg.lambdas {
                    model = model.with_levels(&from, &cfg.lambdas);
                    eprintln!(
                        "train: quality levels resampled from λ {from:?} to {:?}",
                        cfg.lambdas
                    );
                }
                if let Some(m) = m {
                    model = model.widen_latents(cfg.m);
                    eprintln!("train: latent channels widened from {m} to {}", cfg.m);
                }
                run(opts, device, |_| model.clone(), None, export)
            }
            (_, _, init) => run(
                opts,
                device,
                |ad| cfg.init(ad),
                init.map(|(_, w)| w),
                export,
            ),
        }
    }
}

/// The `model.json` and weights `opts.init` names; `None` without `--init`, or when the
/// run resumes from its own checkpoint (the folder or model named may be gone by then).
fn init_source(opts: &TrainOptions) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    match &opts.init {
        Some(source) if !opts.out.join("checkpoint.bpk").is_file() => {
            crate::registry::hyperprior_parts(source).map(Some)
        }
        _ => Ok(None),
    }
}

/// `--init {source}: {e}` as an invalid-argument error.
fn init_error(opts: &TrainOptions, e: &dyn std::fmt::Display) -> Error {
    let source = opts.init.as_deref().unwrap_or_default();
    Error::InvalidArgument(format!("--init {source}: {e}"))
}

/// Checks that the `--init` source's `model.json` (`config`) describes the model `cfg`
/// describes.
fn check_init_config<C: Config>(cfg: &C, opts: &TrainOptions, config: &[u8]) -> Result<()> {
    let bad = |e: &dyn std::fmt::Display| init_error(opts, e);
    let raw: serde_json::Value = serde_json::from_slice(config).map_err(|e| bad(&e))?;
    // Compared as this run's config type sees it (defaults filled in); a config that is not
    // of that type differs.
    let theirs = serde_json::from_slice::<C>(config)
        .ok()
        .and_then(|c| serde_json::to_value(c).ok());
    let ours = serde_json::to_value(cfg).map_err(|e| bad(&e))?;
    if theirs.as_ref() != Some(&ours) || is_factorized(&raw) != is_factorized(&ours) {
        return Err(bad(&format_args!(
            "its model.json {raw} differs from this run's {ours}"
        )));
    }
    Ok(())
}

/// With the `--init` source's `model.json` (`config`) describing a hyperprior with fewer
/// latent channels than `cfg` (and otherwise the same model, up to its λs), its `M`;
/// `None` otherwise. Such a source is widened ([`Hyperprior::widen_latents`]).
fn init_latents(cfg: &HyperpriorConfig, config: &[u8]) -> Option<usize> {
    let theirs = serde_json::from_slice::<HyperpriorConfig>(config).ok()?;
    let raw = serde_json::from_slice::<serde_json::Value>(config).ok()?;
    let same_but_m = HyperpriorConfig {
        m: cfg.m,
        lambdas: cfg.lambdas.clone(),
        ..theirs.clone()
    } == *cfg;
    (theirs.m < cfg.m && same_but_m && !is_factorized(&raw)).then_some(theirs.m)
}

/// With the `--init` source's `model.json` (`config`) describing a hyperprior trained for
/// other λs than `cfg`'s (and otherwise the same model), the λs it was trained for;
/// `None` when they are the same or the model differs otherwise (which
/// [`check_init_config`] reports). This run's λs must then include the source's, so that
/// every trained level is kept, and the source must have at least two levels.
fn init_lambdas(
    cfg: &HyperpriorConfig,
    opts: &TrainOptions,
    config: &[u8],
) -> Result<Option<Vec<f64>>> {
    let (Ok(raw), Ok(theirs)) = (
        serde_json::from_slice::<serde_json::Value>(config),
        serde_json::from_slice::<HyperpriorConfig>(config),
    ) else {
        return Ok(None);
    };
    let same_but_lambdas = HyperpriorConfig {
        lambdas: cfg.lambdas.clone(),
        ..theirs.clone()
    } == *cfg;
    if theirs.lambdas == cfg.lambdas || is_factorized(&raw) || !same_but_lambdas {
        return Ok(None);
    }
    let kept = theirs
        .lambdas
        .iter()
        .all(|&f| cfg.lambdas.iter().any(|&l| same_lambda(l, f)));
    let ascending = |v: &[f64]| v.windows(2).all(|w| w[0] < w[1]) && v.iter().all(|&l| l > 0.0);
    if !kept || theirs.lambdas.len() < 2 || !ascending(&cfg.lambdas) || !ascending(&theirs.lambdas)
    {
        return Err(init_error(
            opts,
            &format_args!(
                "it was trained for λ {:?}; to add quality levels, --lambdas must be ascending \
                 and include all of them (and the source needs at least two levels)",
                theirs.lambdas
            ),
        ));
    }
    Ok(Some(theirs.lambdas))
}

/// `model` with the `--init` weights loaded.
fn load_weights<M: Module>(model: M, weights: Vec<u8>, opts: &TrainOptions) -> Result<M> {
    let bad = |e: &dyn std::fmt::Display| init_error(opts, &format_args!("weights: {e}"));
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights)).map_err(|e| bad(&e))?;
    model.try_load_record(record).map_err(|e| bad(&e))
}

/// The training loop for any image model: `init` builds it on the autodiff device,
/// `export` writes its shipped files.
fn run<N: RdImageNet>(
    opts: &TrainOptions,
    device: &Device,
    init: impl Fn(&Device) -> N,
    init_weights: Option<Vec<u8>>,
    export: impl Fn(&N, &Path) -> Result<()>,
) -> Result<()> {
    let ds = |e: ncodec_datasets::Error| Error::InvalidArgument(format!("dataset: {e}"));
    let folder = ImageFolder::scan(&opts.data).map_err(ds)?;
    let images = folder.load_rgb(opts.jpeg_downscale).map_err(ds)?;
    eprintln!(
        "train: {} images from {}",
        images.len(),
        opts.data.display()
    );
    let val_images = match &opts.val {
        Some(v) => ImageFolder::scan(v).map_err(ds)?.load_rgb(1).map_err(ds)?,
        None => Vec::new(),
    };

    let ad = device.clone().autodiff();
    let (mut model, mut optim, mut state) = resume(init(&ad), &opts.out)?;
    if let (0, Some(weights)) = (state.step, init_weights) {
        model = load_weights(model, weights, opts)?;
        eprintln!(
            "train: weights from {}",
            opts.init.as_deref().unwrap_or_default()
        );
    }
    // A resumed run must not replay the same patches: mix the step into the seed.
    let mut sampler = PatchSampler::new(
        images,
        opts.patch,
        opts.seed ^ state.step.wrapping_mul(0x9E37),
    )
    .map_err(ds)?;

    let log_path = opts.out.join("log.csv");
    let mut log = open_log(&log_path)?;
    let p = opts.patch as usize;
    let levels = opts.lambdas.len();
    let t0 = Instant::now();
    let wall0 = state.wall_seconds;
    let start_step = state.step;
    let mut balance = opts
        .balance_levels
        .then(|| LevelBalance::new(levels, &state.level_loss_mean));
    // Sums since the last log line: rate–distortion loss (unweighted, without the
    // auxiliary loss), mse, bpp, count.
    let mut acc = [0f64; 4];
    if opts.steps == 0 {
        // No training: export the starting weights (e.g. a model with added levels).
        export(&model.valid(), &opts.out.join("export"))?;
    }
    while state.step < opts.steps {
        let level = (state.step % levels as u64) as usize;
        let lambda = opts.lambdas[level];
        let data = sampler.batch(opts.batch);
        let x = Tensor::<4>::from_data(TensorData::new(data, [opts.batch, 3, p, p]), &ad);
        let out = if opts.decoder_only {
            model.forward_decoder(x.clone(), level)
        } else {
            model.forward_train(x.clone(), level)
        };
        let (mse, bpp) = rd_terms(&x, &out);
        // A decoder-only run leaves the bottleneck's quantiles (and so its tables) alone,
        // and reads its auxiliary loss only for the log, without autodiff. Computed with
        // autodiff and detached, it was never part of a backward pass, and steps slowed
        // down progressively (3.3 to under 1 it/s within 1,000 steps); Burn appears to
        // keep such unreachable graphs (tracel-ai/burn#4970, open).
        let aux = if opts.decoder_only {
            model.bottleneck().valid().aux_loss()
        } else {
            model.bottleneck().aux_loss()
        };
        let rd = mse.clone().mul_scalar(lambda * 255.0 * 255.0) + bpp.clone();
        // Only a balanced run reads the loss back before the backward pass.
        let balanced = balance.as_ref().map(|b| {
            let value = f64::from(rd.clone().into_scalar::<f32>());
            (value, b.weight(level, value))
        });
        let loss = match balanced {
            Some((_, weight)) => rd.mul_scalar(weight),
            None => rd,
        };
        let loss = if opts.decoder_only {
            loss
        } else {
            loss + aux.clone()
        };
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = step_lr(
            warmup_lr(opts.lr, state.step, state.optim_start),
            model.bottleneck().quantiles.id,
        );
        model = optim.step(lr, model, grads);
        state.step += 1;
        if let (Some(b), Some((value, _))) = (balance.as_mut(), balanced) {
            b.observe(level, value);
            state.level_loss_mean = b.means().to_vec();
        }

        let (m, b) = (
            f64::from(mse.into_scalar::<f32>()),
            f64::from(bpp.into_scalar::<f32>()),
        );
        acc[0] += lambda * 255.0 * 255.0 * m + b;
        acc[1] += m;
        acc[2] += b;
        acc[3] += 1.0;
        let elapsed = t0.elapsed().as_secs_f64();
        state.wall_seconds = wall0 + elapsed;
        if state.step.is_multiple_of(50) || state.step == opts.steps {
            let n = acc[3];
            let (l, m, b) = (acc[0] / n, acc[1] / n, acc[2] / n);
            let rate = (state.step - start_step) as f64 / elapsed;
            let eta = (opts.steps - state.step) as f64 / rate.max(1e-9);
            let a = aux.into_scalar::<f32>();
            eprintln!(
                "step {:>7}/{} [{:>5.1}%] loss {l:.4} psnr {:.2} dB bpp {b:.4} aux {a:.1} | {rate:.2} it/s eta {:.1} h",
                state.step,
                opts.steps,
                100.0 * state.step as f64 / opts.steps as f64,
                psnr(m),
                eta / 3600.0
            );
            writeln!(
                log,
                "{},train,all,,{l},{m},{},{b},{a},{:.1}",
                state.step,
                psnr(m),
                state.wall_seconds
            )
            .map_err(io_err(&log_path))?;
            acc = [0.0; 4];
        }
        if state.step.is_multiple_of(opts.val_every) && !val_images.is_empty() {
            validate(
                &model.valid(),
                &val_images,
                &opts.lambdas,
                device,
                state.step,
                state.wall_seconds,
                &mut log,
            )?;
        }
        if state.step.is_multiple_of(opts.checkpoint_every) || state.step == opts.steps {
            save_checkpoint(&model, &optim, &state, &opts.out)?;
            export(&model.valid(), &opts.out.join("export"))?;
        }
    }
    Ok(())
}

/// Writes `model.json`, `weights.bpk` and `tables.bin` (frozen priors) into `dir`: the
/// files an image model ships as.
///
/// # Errors
/// I/O errors and export failures.
pub fn export(net: ImageNetRef<'_>, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let (c, w, t) = crate::image_codec::ImageModel::export(net)?;
    for (name, bytes) in [("model.json", c), ("weights.bpk", w), ("tables.bin", t)] {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(io_err(&p))?;
    }
    Ok(())
}

/// The model, optimizer and progress of a run: from `checkpoint.bpk`, `optim.bpk` and
/// `state.json` in `out` when they exist, else `model` fresh.
pub(crate) fn resume<M: Module>(model: M, out: &Path) -> Result<(M, ModuleOptimizer, TrainState)> {
    let mut model = model;
    let mut optim: ModuleOptimizer = AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let ckpt = out.join("checkpoint.bpk");
    let optim_path = out.join("optim.bpk");
    let state_path = out.join("state.json");
    let mut state = TrainState {
        step: 0,
        wall_seconds: 0.0,
        optim_start: 0,
        level_loss_mean: Vec::new(),
    };
    if ckpt.is_file() && state_path.is_file() {
        model = model.load_record(ModuleRecord::load(&ckpt).map_err(record_err)?);
        let s = std::fs::read(&state_path).map_err(io_err(&state_path))?;
        state = serde_json::from_slice(&s)
            .map_err(|e| Error::InvalidArgument(format!("state.json: {e}")))?;
        if optim_path.is_file() {
            optim = optim.load(&optim_path).map_err(record_err)?;
        } else {
            // Weights without their Adam state (e.g. a shipped model): warm up again.
            state.optim_start = state.step;
        }
        eprintln!("train: resumed at step {}", state.step);
    }
    Ok((model, optim, state))
}

/// Creates a run folder and writes the model's `model.json` and the run's `train.json`
/// (its options) into it.
pub(crate) fn start_run_dir<C: Config>(
    out: &Path,
    config: &C,
    opts: &impl serde::Serialize,
) -> Result<()> {
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    config
        .save(out.join("model.json"))
        .map_err(|e| Error::InvalidArgument(format!("cannot save config: {e}")))?;
    std::fs::write(
        out.join("train.json"),
        serde_json::to_vec_pretty(opts).expect("serialisable"),
    )
    .map_err(io_err(out))
}

/// Opens (appending) the CSV log of a run, writing the header to a new file.
///
/// Rows `step,kind,level,lambda,loss,mse,psnr,bpp,aux,seconds`; each trainer leaves the
/// columns empty that do not apply. In `train` rows, which average the steps since the
/// previous row, `loss` is the rate–distortion loss without the auxiliary loss, and `aux`
/// the auxiliary loss at the row's step. For `ncodec train image`, `loss` is
/// `λ·255²·MSE + bpp` with each step's λ (unweighted by level balancing); its `val` rows
/// (one per level) have PSNR and estimated bpp of rounded latents, and its `val-noisy`
/// rows the bpp with uniform noise for rounding, as training sees it.
pub(crate) fn open_log(path: &Path) -> Result<std::fs::File> {
    let new_log = !path.exists();
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err(path))?;
    if new_log {
        writeln!(log, "step,kind,level,lambda,loss,mse,psnr,bpp,aux,seconds")
            .map_err(io_err(path))?;
    }
    Ok(log)
}

pub(crate) fn psnr(mse: f64) -> f64 {
    10.0 * (1.0 / mse.max(1e-12)).log10()
}

pub(crate) fn save_checkpoint<M: Module>(
    model: &M,
    optim: &ModuleOptimizer,
    state: &TrainState,
    out: &Path,
) -> Result<()> {
    // Write to temporary names, then rename, so an interrupted save keeps the old files.
    let tmp = out.join("checkpoint.bpk.tmp");
    model.clone().valid().save_file(&tmp).map_err(record_err)?;
    let otmp = out.join("optim.bpk.tmp");
    optim.save(&otmp).map_err(record_err)?;
    let stmp = out.join("state.json.tmp");
    std::fs::write(
        &stmp,
        serde_json::to_vec_pretty(state).expect("serialisable"),
    )
    .map_err(io_err(&stmp))?;
    for (a, b) in [
        ("checkpoint.bpk.tmp", "checkpoint.bpk"),
        ("optim.bpk.tmp", "optim.bpk"),
        ("state.json.tmp", "state.json"),
    ] {
        std::fs::rename(out.join(a), out.join(b)).map_err(io_err(out))?;
    }
    Ok(())
}

/// Validation: each image center-cropped to a multiple of 64 (at most 512×512), coded at
/// every level with rounding; logs mean estimated bpp and PSNR per level.
fn validate<N: RdImageNet>(
    model: &N,
    images: &[image::RgbImage],
    lambdas: &[f64],
    device: &Device,
    step: u64,
    seconds: f64,
    log: &mut std::fs::File,
) -> Result<()> {
    for (level, &lambda) in lambdas.iter().enumerate() {
        let (mut sb, mut sp, mut sn) = (0.0, 0.0, 0.0);
        for img in images {
            let w = (img.width().min(512) / 64 * 64) as usize;
            let h = (img.height().min(512) / 64 * 64) as usize;
            let (x0, y0) = (
                (img.width() as usize - w) / 2,
                (img.height() as usize - h) / 2,
            );
            let mut v = vec![0f32; 3 * h * w];
            for y in 0..h {
                for x in 0..w {
                    let px = img.get_pixel((x0 + x) as u32, (y0 + y) as u32);
                    for c in 0..3 {
                        v[(c * h + y) * w + x] = f32::from(px[c]) / 255.0;
                    }
                }
            }
            let x = Tensor::<4>::from_data(TensorData::new(v, [1, 3, h, w]), device);
            let mut out = model.forward_eval(x.clone(), level);
            out.x_hat = out.x_hat.clamp(0.0, 1.0);
            let (mse, bpp) = rd_terms(&x, &out);
            sb += f64::from(bpp.into_scalar::<f32>());
            sp += psnr(f64::from(mse.into_scalar::<f32>()));
            // The rate that training sees (additive uniform noise instead of rounding).
            let (_, noisy_bpp) = rd_terms(&x, &model.forward_train(x.clone(), level));
            sn += f64::from(noisy_bpp.into_scalar::<f32>());
        }
        let n = images.len() as f64;
        eprintln!(
            "  val level {level} (λ={lambda}): bpp {:.4} psnr {:.2} dB (with noise: bpp {:.4})",
            sb / n,
            sp / n,
            sn / n
        );
        writeln!(
            log,
            "{step},val,{level},{lambda},,,{},{},,{seconds:.1}",
            sp / n,
            sb / n
        )
        .map_err(Error::Io)?;
        writeln!(
            log,
            "{step},val-noisy,{level},{lambda},,,,{},,{seconds:.1}",
            sn / n
        )
        .map_err(Error::Io)?;
    }
    Ok(())
}
