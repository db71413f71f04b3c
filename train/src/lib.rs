//! # ncodec-train
//!
//! Training for ncodec's model families (`ncodec train …`): one loop, [`run`], with
//! checkpoints and resume, a CSV log, validation, learning-rate warm-up and export, into
//! which every family plugs through the [`Task`] trait.
//!
//! ```text
//!  TrainOptions ──▶ train() ──▶ Task (tasks::hyperprior, walloc, postfilter)
//!                       │          init · seed · start · step · validate · export
//!                       └──▶ run(): resume → steps (Adam) → log.csv, Monitor
//!                                      → checkpoint.bpk, optim.bpk, state.json
//!                                      → export/ (the model's files, `manifest.json`)
//! ```
//!
//! A run folder holds `model.json` and `train.json` (the options), the checkpoint
//! (`checkpoint.bpk`, `optim.bpk`, `state.json`, each replaced atomically), `log.csv` and
//! `export/`, a model folder `ncodec --model-dir` loads. Rerunning the same command
//! resumes. The latent context model of WaLLoC images is fitted, not trained by
//! gradient: [`tasks::latent_context::fit_latent_context`].
//!
//! This crate sits above `ncodec` (the codecs) and `ncodec-datasets`; nothing below it
//! depends on it.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use ncodec::codec::ModelFiles;
use ncodec::models::burn::module::{Module, ParamGroup, ParamId};
use ncodec::models::burn::optim::grad_clipping::GradientClippingConfig;
use ncodec::models::burn::optim::lr_scheduler::module_lr_scheduler::{
    ModuleLearningRate, ModuleLrScheduler,
};
use ncodec::models::burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use ncodec::models::burn::prelude::*;
use ncodec::models::burn::store::ModuleRecord;

pub mod data;
mod error;
pub mod options;
pub mod tasks;

pub use error::{Error, Result};
pub use options::{
    HyperpriorOptions, ModelOptions, PostFilterOptions, TrainOptions, WallocOptions,
};

/// Trains (or resumes) the model `opts` describes, reporting to `monitor`.
///
/// # Errors
/// Bad options (before the run folder is created), I/O and dataset errors, unreadable
/// checkpoints.
pub fn train(opts: &TrainOptions, device: &Device, monitor: &mut dyn Monitor) -> Result<()> {
    opts.check()?;
    match &opts.model {
        ModelOptions::Hyperprior(h) => tasks::hyperprior::train(opts, h, device, monitor),
        ModelOptions::WallocImage(w) | ModelOptions::WallocAudio(w) => {
            tasks::walloc::train(opts, w, device, monitor)
        }
        ModelOptions::PostFilter(p) => tasks::postfilter::train(opts, p, device, monitor),
    }
}

/// One family's part of training: its model, data, loss, validation and files.
pub trait Task {
    /// The Burn module trained.
    type Model: Module + Clone;

    /// The model at its starting point, on the autodiff `device` (a checkpoint, when the
    /// run has one, is loaded over it).
    ///
    /// # Errors
    /// The task's own (e.g. unreadable `--init` weights).
    fn init(&mut self, device: &Device) -> Result<Self::Model>;

    /// Prepares the data sources of a run that continues from `step` (a resumed run must
    /// not replay the same batches).
    ///
    /// # Errors
    /// Dataset errors.
    fn seed(&mut self, step: u64) -> Result<()>;

    /// Called once at step 0 of a new run (no checkpoint): e.g. loading `--init`
    /// weights, or an initialisation from data.
    ///
    /// # Errors
    /// The task's own.
    fn start(
        &mut self,
        model: Self::Model,
        device: &Device,
        monitor: &mut dyn Monitor,
    ) -> Result<Self::Model> {
        let _ = (device, monitor);
        Ok(model)
    }

    /// Restores what the task keeps in the run's state (after a resume).
    fn resume(&mut self, state: &TrainState) {
        let _ = state;
    }

    /// Writes what the task keeps into the run's state (before a checkpoint).
    fn save(&self, state: &mut TrainState) {
        let _ = state;
    }

    /// One step's forward pass and loss (`step` counts from 0).
    ///
    /// # Errors
    /// Data or coding errors.
    fn step(&mut self, model: &Self::Model, step: u64, device: &Device) -> Result<Step>;

    /// Per-parameter learning rates for a step at base rate `lr`.
    fn learning_rate(&self, model: &Self::Model, lr: f64) -> ModuleLearningRate {
        let _ = model;
        lr.into()
    }

    /// Validation of the model as it is now (without autodiff).
    ///
    /// # Errors
    /// Data or coding errors.
    fn validate(&mut self, model: &Self::Model, device: &Device) -> Result<Vec<ValRow>>;

    /// The model's files (what `export/` holds and a codec loads).
    ///
    /// # Errors
    /// Export errors.
    fn export(&self, model: &Self::Model) -> Result<ModelFiles>;

    /// PSNR in dB of a training MSE (on the task's signal scale).
    fn psnr(&self, mse: f64) -> f64 {
        psnr(mse)
    }

    /// Name of the rate in progress lines (`bpp`, `bits/pos`), if the loss has one.
    fn rate_unit(&self) -> &'static str {
        "bpp"
    }

    /// The `level` and `lambda` columns of the log's training rows.
    fn row_label(&self) -> (String, String) {
        (String::new(), String::new())
    }
}

/// What [`Task::step`] computed.
#[derive(Debug)]
pub struct Step {
    /// The loss to minimise (its gradients train the model).
    pub loss: Tensor<1>,
    /// Mean squared error of the reconstruction.
    pub mse: Tensor<1>,
    /// Weight of the MSE in the logged loss (`dist_weight · mse + rate`).
    pub dist_weight: f64,
    /// The rate term (bits per pixel or position), if the loss has one.
    pub rate: Option<Tensor<1>>,
    /// The entropy bottleneck's auxiliary loss, if any (logged, not averaged).
    pub aux: Option<Tensor<1>>,
    /// MSE of the input before the model (a post-filter's decoded crops), if any.
    pub baseline_mse: Option<Tensor<1>>,
}

/// One row of a validation: a log row and a line for the monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct ValRow {
    /// The log's `kind` column (`val`, `val-noisy`).
    pub kind: &'static str,
    /// The `level` column.
    pub level: String,
    /// The `lambda` column.
    pub lambda: String,
    /// PSNR in dB.
    pub psnr: Option<f64>,
    /// Rate (bpp, bits per position or kbit/s).
    pub rate: Option<f64>,
    /// What the monitor shows.
    pub line: String,
}

/// Where a run reports its progress: a terminal's progress bar, or plain lines.
pub trait Monitor {
    /// A line of information (data loaded, resume, initialisation, validation).
    fn note(&mut self, line: &str);

    /// Training reached `report.step`.
    fn step(&mut self, report: &StepReport<'_>);
}

/// What [`Monitor::step`] is told.
#[derive(Debug, Clone, Copy)]
pub struct StepReport<'a> {
    /// Steps done.
    pub step: u64,
    /// Steps the run goes to.
    pub total: u64,
    /// The step this session started from.
    pub start_step: u64,
    /// Seconds since this session started.
    pub elapsed: f64,
    /// The latest averaged figures, e.g. `loss 1.2345 psnr 28.10 dB bpp 0.4321`.
    pub summary: &'a str,
    /// True when the figures were just averaged (every [`LOG_EVERY`] steps and at the
    /// end): where plain output prints a line.
    pub periodic: bool,
}

/// Steps between the log's training rows.
pub const LOG_EVERY: u64 = 50;

/// A [`Monitor`] that prints to standard error: notes as they come, a line every
/// [`LOG_EVERY`] steps with the rate and the time left.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlainMonitor;

impl Monitor for PlainMonitor {
    fn note(&mut self, line: &str) {
        eprintln!("{line}");
    }

    fn step(&mut self, r: &StepReport<'_>) {
        if !r.periodic {
            return;
        }
        let rate = (r.step - r.start_step) as f64 / r.elapsed.max(1e-9);
        let eta = (r.total - r.step) as f64 / rate.max(1e-9);
        eprintln!(
            "step {:>7}/{} [{:>5.1}%] {} | {rate:.2} it/s eta {:.1} h",
            r.step,
            r.total,
            100.0 * r.step as f64 / r.total.max(1) as f64,
            r.summary,
            eta / 3600.0
        );
    }
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
    /// Running mean of each level's rate–distortion loss (with balanced levels).
    #[serde(default)]
    pub level_loss_mean: Vec<f64>,
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
pub fn step_lr(lr: f64, quantiles: ParamId) -> ModuleLearningRate {
    ModuleLrScheduler::new(lr)
        .with_group(ParamGroup::from_ids(vec![quantiles]), AUX_LR)
        .step()
}

/// PSNR in dB of a mean squared error on a signal of peak 1.
pub fn psnr(mse: f64) -> f64 {
    10.0 * (1.0 / mse.max(1e-12)).log10()
}

/// The model, optimizer and progress of a run: from `checkpoint.bpk`, `optim.bpk` and
/// `state.json` in `out` when they exist, else `model` fresh.
fn resume<M: Module>(
    model: M,
    out: &Path,
    monitor: &mut dyn Monitor,
) -> Result<(M, ModuleOptimizer, TrainState)> {
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
        model = model.load_record(ModuleRecord::load(&ckpt).map_err(Error::checkpoint)?);
        let s = std::fs::read(&state_path).map_err(Error::io(&state_path))?;
        state = serde_json::from_slice(&s)
            .map_err(|e| Error::Invalid(format!("{}: {e}", state_path.display())))?;
        if optim_path.is_file() {
            optim = optim.load(&optim_path).map_err(Error::checkpoint)?;
        } else {
            // Weights without their Adam state (e.g. a shipped model): warm up again.
            state.optim_start = state.step;
        }
        monitor.note(&format!("train: resumed at step {}", state.step));
    }
    Ok((model, optim, state))
}

/// Creates a run folder and writes the model's `model.json` (`config`) and the run's
/// `train.json` (its options) into it.
fn start_run_dir(opts: &TrainOptions, config: &[u8]) -> Result<()> {
    let out = &opts.out;
    std::fs::create_dir_all(out).map_err(Error::io(out))?;
    for (name, bytes) in [
        ("model.json", config.to_vec()),
        (
            "train.json",
            serde_json::to_vec_pretty(opts).expect("serialisable"),
        ),
    ] {
        let p = out.join(name);
        std::fs::write(&p, bytes).map_err(Error::io(&p))?;
    }
    Ok(())
}

/// Opens (appending) the CSV log of a run, writing the header to a new file.
///
/// Rows `step,kind,level,lambda,loss,mse,psnr,bpp,aux,seconds`; each task leaves the
/// columns empty that do not apply. In `train` rows, which average the steps since the
/// previous row, `loss` is `dist_weight · mse + rate` without the auxiliary loss, and
/// `aux` the auxiliary loss at the row's step. For `ncodec train image`, `loss` is
/// `λ·255²·MSE + bpp` with each step's λ (unweighted by level balancing); its `val` rows
/// (one per level) have PSNR and estimated bpp of rounded latents, and its `val-noisy`
/// rows the bpp with uniform noise for rounding, as training sees it.
fn open_log(path: &Path) -> Result<std::fs::File> {
    let new_log = !path.exists();
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(Error::io(path))?;
    if new_log {
        writeln!(log, "step,kind,level,lambda,loss,mse,psnr,bpp,aux,seconds")
            .map_err(Error::io(path))?;
    }
    Ok(log)
}

fn save_checkpoint<M: Module>(
    model: &M,
    optim: &ModuleOptimizer,
    state: &TrainState,
    out: &Path,
) -> Result<()> {
    // Write to temporary names, then rename, so an interrupted save keeps the old files.
    let tmp = out.join("checkpoint.bpk.tmp");
    model
        .clone()
        .valid()
        .save_file(&tmp)
        .map_err(Error::checkpoint)?;
    let otmp = out.join("optim.bpk.tmp");
    optim.save(&otmp).map_err(Error::checkpoint)?;
    let stmp = out.join("state.json.tmp");
    std::fs::write(
        &stmp,
        serde_json::to_vec_pretty(state).expect("serialisable"),
    )
    .map_err(Error::io(&stmp))?;
    for (a, b) in [
        ("checkpoint.bpk.tmp", "checkpoint.bpk"),
        ("optim.bpk.tmp", "optim.bpk"),
        ("state.json.tmp", "state.json"),
    ] {
        std::fs::rename(out.join(a), out.join(b)).map_err(Error::io(out))?;
    }
    Ok(())
}

/// Sums of the figures since the last log row.
#[derive(Debug, Default)]
struct Figures {
    loss: f64,
    mse: f64,
    rate: Option<f64>,
    baseline_mse: Option<f64>,
    count: f64,
}

/// `a + b` where either may be missing.
fn add(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    }
}

fn scalar(t: Tensor<1>) -> f64 {
    f64::from(t.into_scalar::<f32>())
}

/// The training loop every family shares: creates (or resumes) the run in
/// `opts.out` with the model config `config` (its `model.json`), then Adam steps on
/// [`Task::step`]'s loss with gradient-norm clipping and warm-up ([`warmup_lr`]), a log
/// row every [`LOG_EVERY`] steps, validation every `opts.val_every` steps when there is
/// validation data, and a checkpoint and export every `opts.checkpoint_every` steps and
/// at the end. A run of 0 steps only exports its starting model.
///
/// # Errors
/// As [`train`].
pub fn run<T: Task>(
    task: &mut T,
    opts: &TrainOptions,
    config: &[u8],
    device: &Device,
    monitor: &mut dyn Monitor,
) -> Result<()> {
    start_run_dir(opts, config)?;
    let ad = device.clone().autodiff();
    let model = task.init(&ad)?;
    let (mut model, mut optim, mut state) = resume(model, &opts.out, monitor)?;
    task.resume(&state);
    task.seed(state.step)?;
    if state.step == 0 {
        model = task.start(model, device, monitor)?;
    }
    let export_dir = opts.out.join("export");
    let log_path = opts.out.join("log.csv");
    let mut log = open_log(&log_path)?;
    let t0 = Instant::now();
    let (wall0, start_step) = (state.wall_seconds, state.step);
    let (level, lambda) = task.row_label();
    let mut acc = Figures::default();
    let mut summary = String::new();
    if opts.steps == 0 {
        task.export(&model.valid())?.write_dir(&export_dir)?;
    }
    while state.step < opts.steps {
        let out = task.step(&model, state.step, &ad)?;
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        let lr = task.learning_rate(&model, warmup_lr(opts.lr, state.step, state.optim_start));
        model = optim.step(lr, model, grads);
        state.step += 1;

        let mse = scalar(out.mse);
        let rate = out.rate.map(scalar);
        acc.loss += out.dist_weight * mse + rate.unwrap_or(0.0);
        acc.mse += mse;
        acc.rate = add(acc.rate, rate);
        acc.baseline_mse = add(acc.baseline_mse, out.baseline_mse.map(scalar));
        acc.count += 1.0;
        let elapsed = t0.elapsed().as_secs_f64();
        state.wall_seconds = wall0 + elapsed;
        let periodic = state.step.is_multiple_of(LOG_EVERY) || state.step == opts.steps;
        if periodic {
            let n = acc.count;
            let (l, m) = (acc.loss / n, acc.mse / n);
            let q = task.psnr(m);
            let rate = acc.rate.map(|r| r / n);
            let aux = out.aux.map(scalar);
            summary = format!("loss {l:.4} psnr {q:.2} dB");
            if let Some(r) = rate {
                summary += &format!(" {} {r:.4}", task.rate_unit());
            }
            if let Some(a) = aux {
                summary += &format!(" aux {a:.1}");
            }
            if let Some(b) = acc.baseline_mse {
                let before = task.psnr(b / n);
                summary += &format!(" (input {before:.2} dB, gain {:+.3} dB)", q - before);
            }
            let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
            writeln!(
                log,
                "{},train,{level},{lambda},{l},{m},{q},{},{},{:.1}",
                state.step,
                opt(rate),
                opt(aux),
                state.wall_seconds
            )
            .map_err(Error::io(&log_path))?;
            acc = Figures::default();
        }
        monitor.step(&StepReport {
            step: state.step,
            total: opts.steps,
            start_step,
            elapsed,
            summary: &summary,
            periodic,
        });
        if state.step.is_multiple_of(opts.val_every) && opts.val.is_some() {
            for r in task.validate(&model.valid(), device)? {
                if !r.line.is_empty() {
                    monitor.note(&r.line);
                }
                let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
                writeln!(
                    log,
                    "{},{},{},{},,,{},{},,{:.1}",
                    state.step,
                    r.kind,
                    r.level,
                    r.lambda,
                    opt(r.psnr),
                    opt(r.rate),
                    state.wall_seconds
                )
                .map_err(Error::io(&log_path))?;
            }
        }
        if state.step.is_multiple_of(opts.checkpoint_every) || state.step == opts.steps {
            task.save(&mut state);
            save_checkpoint(&model, &optim, &state, &opts.out)?;
            task.export(&model.valid())?.write_dir(&export_dir)?;
        }
    }
    Ok(())
}
