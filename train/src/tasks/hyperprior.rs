//! Training of the hyperprior and factorized-prior image models (`ncodec train image`).
//!
//! Rate–distortion loss `λ·255²·MSE + bpp` (plus the bottleneck's auxiliary loss) on
//! random crops and flips, one quality level per step in turn, each with its own λ and
//! gain vector. `--init` starts from an exported or shipped model (resampling its levels
//! to new λs, or widening its latents); `--decoder-only` trains only its synthesis.

use ncodec::codec::ModelFiles;
use ncodec::families::hyperprior::{self, HyperpriorModel, ImageNetRef, is_factorized};
use ncodec::media::image::centre_crop_planes;
use ncodec::models::burn::module::Module;
use ncodec::models::burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use ncodec::models::burn::prelude::*;
use ncodec::models::burn::store::ModuleRecord;
use ncodec::models::burn::tensor::Bytes;
use ncodec::models::factorized::FactorizedConfig;
use ncodec::models::hyperprior::{HyperpriorConfig, RdImageNet, RdOutput, same_lambda};
use ncodec_datasets::PatchSampler;

use crate::data::{training_images, validation_images};
use crate::error::{Error, Result};
use crate::{HyperpriorOptions, Monitor, Step, Task, TrainOptions, TrainState, ValRow};

/// Per-level loss weights that give every quality level the same pull.
///
/// One step trains one level, and the shared transforms see that level's
/// `λ·255²·MSE + bpp`. Those losses grow with λ (on hp-mean-64-r1 and images-val, from
/// about 0.8 at λ = 0.0018 to 9 at λ = 0.0483), so the highest levels dominate the
/// shared weights. Dividing each level's loss by its running mean keeps every level's
/// optimum (the weight is a constant for that level) and balances them. It did not help
/// in its one clean trial (on the retired hp-mean-64-r1, 2026-12-02; MODELS.md). Resuming r1 with the same
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

/// Mean squared error and bits per pixel of one RD output.
pub fn rd_terms(x: &Tensor<4>, out: &RdOutput) -> (Tensor<1>, Tensor<1>) {
    let [b, _, h, w] = x.dims();
    let mse = (out.x_hat.clone() - x.clone()).square().mean();
    let nats = out.y_likelihoods.clone().log().sum() + out.z_likelihoods.clone().log().sum();
    let bpp = nats
        .neg()
        .div_scalar((b * h * w) as f64 * std::f64::consts::LN_2);
    (mse, bpp)
}

/// Trains (or resumes) a hyperprior-family model.
pub(crate) fn train(
    opts: &TrainOptions,
    h: &HyperpriorOptions,
    device: &Device,
    monitor: &mut dyn Monitor,
) -> Result<()> {
    let init = init_source(opts, h)?;
    if h.factorized {
        let cfg = FactorizedConfig::new(h.n, h.m, h.lambdas.clone());
        if let Some((config, _)) = &init {
            check_init_config(&cfg, h, config)?;
        }
        let export_cfg = cfg.clone();
        let config = serde_json::to_vec_pretty(&cfg).expect("serialisable");
        let mut task = HyperpriorTask::new(
            opts,
            h,
            Box::new(move |ad: &Device| Ok(cfg.init(ad))),
            init.map(|(_, w)| w),
            Box::new(move |m| {
                HyperpriorModel::export("export", ImageNetRef::Factorized(&export_cfg, m))
            }),
            monitor,
        )?;
        return crate::run(&mut task, opts, &config, device, monitor);
    }
    let cfg = HyperpriorConfig::new(h.n, h.m, h.lambdas.clone()).with_mean_scale(h.mean_scale);
    // A source trained for other λs, or with fewer latent channels (the same model
    // otherwise), starts this run with its quality levels resampled to this run's λs and
    // its latents widened to this run's M.
    let (mut from_lambdas, mut from_m) = (None, None);
    if let Some((config, _)) = &init {
        from_m = init_latents(&cfg, config);
        let widened = HyperpriorConfig {
            m: from_m.unwrap_or(cfg.m),
            ..cfg.clone()
        };
        from_lambdas = init_lambdas(&widened, h, config)?;
        let trained = HyperpriorConfig {
            lambdas: from_lambdas.clone().unwrap_or_else(|| cfg.lambdas.clone()),
            ..widened
        };
        check_init_config(&trained, h, config)?;
    }
    let config = serde_json::to_vec_pretty(&cfg).expect("serialisable");
    let export_cfg = cfg.clone();
    let export = Box::new(move |m: &_| {
        HyperpriorModel::export("export", ImageNetRef::Hyperprior(&export_cfg, m))
    });
    let (init_fn, weights): (InitFn<_>, _) = match (from_lambdas, from_m, init) {
        (from, m, Some((_, weights))) if from.is_some() || m.is_some() => {
            let source_cfg = HyperpriorConfig {
                lambdas: from.clone().unwrap_or_else(|| cfg.lambdas.clone()),
                m: m.unwrap_or(cfg.m),
                ..cfg.clone()
            };
            let name = h.init.clone().unwrap_or_default();
            let note = match (&from, m) {
                (Some(f), _) if *f != cfg.lambdas => Some(format!(
                    "train: quality levels resampled from λ {f:?} to {:?}",
                    cfg.lambdas
                )),
                _ => None,
            };
            let widen = m.map(|m| (m, cfg.m));
            let to = cfg.lambdas.clone();
            if let Some(n) = &note {
                monitor.note(n);
            }
            if let Some((m, to_m)) = widen {
                monitor.note(&format!(
                    "train: latent channels widened from {m} to {to_m}"
                ));
            }
            (
                Box::new(move |ad: &Device| {
                    let mut model = load_weights(source_cfg.init(ad), weights.clone(), &name)?;
                    if source_cfg.lambdas != to {
                        model = model.with_levels(&source_cfg.lambdas, &to);
                    }
                    if let Some((_, to_m)) = widen {
                        model = model.widen_latents(to_m);
                    }
                    Ok(model)
                }),
                None,
            )
        }
        (_, _, init) => (
            Box::new(move |ad: &Device| Ok(cfg.init(ad))),
            init.map(|(_, w)| w),
        ),
    };
    let mut task = HyperpriorTask::new(opts, h, init_fn, weights, export, monitor)?;
    crate::run(&mut task, opts, &config, device, monitor)
}

/// Builds a task's model on the autodiff device.
type InitFn<N> = Box<dyn Fn(&Device) -> Result<N>>;
/// Exports a task's model as files.
type ExportFn<N> = Box<dyn Fn(&N) -> ncodec::Result<ModelFiles>>;

/// The hyperprior family's [`Task`], for either transform ([`RdImageNet`]).
struct HyperpriorTask<N: RdImageNet> {
    opts: HyperpriorOptions,
    batch: usize,
    patch: usize,
    seed: u64,
    init_fn: InitFn<N>,
    /// Weights to load at step 0 (`--init` with the same λs and M).
    init_weights: Option<Vec<u8>>,
    export_fn: ExportFn<N>,
    images: Vec<image::RgbImage>,
    sampler: Option<PatchSampler>,
    val_images: Vec<image::RgbImage>,
    balance: Option<LevelBalance>,
}

impl<N: RdImageNet> HyperpriorTask<N> {
    fn new(
        opts: &TrainOptions,
        h: &HyperpriorOptions,
        init_fn: InitFn<N>,
        init_weights: Option<Vec<u8>>,
        export_fn: ExportFn<N>,
        monitor: &mut dyn Monitor,
    ) -> Result<Self> {
        Ok(Self {
            opts: h.clone(),
            batch: opts.batch,
            patch: opts.patch,
            seed: opts.seed,
            init_fn,
            init_weights,
            export_fn,
            images: training_images(&opts.data, opts.jpeg_downscale, monitor)?,
            sampler: None,
            val_images: validation_images(opts.val.as_ref())?,
            balance: h
                .balance_levels
                .then(|| LevelBalance::new(h.lambdas.len(), &[])),
        })
    }
}

impl<N: RdImageNet> Task for HyperpriorTask<N> {
    type Model = N;

    fn init(&mut self, device: &Device) -> Result<N> {
        (self.init_fn)(device)
    }

    fn seed(&mut self, step: u64) -> Result<()> {
        // A resumed run must not replay the same patches: mix the step into the seed.
        self.sampler = Some(PatchSampler::new(
            std::mem::take(&mut self.images),
            self.patch as u32,
            self.seed ^ step.wrapping_mul(0x9E37),
        )?);
        Ok(())
    }

    fn start(&mut self, model: N, _device: &Device, monitor: &mut dyn Monitor) -> Result<N> {
        let Some(w) = self.init_weights.take() else {
            return Ok(model);
        };
        let source = self.opts.init.as_deref().unwrap_or_default();
        let model = load_weights(model, w, source)?;
        monitor.note(&format!("train: weights from {source}"));
        Ok(model)
    }

    fn resume(&mut self, state: &TrainState) {
        if let Some(b) = &mut self.balance {
            *b = LevelBalance::new(self.opts.lambdas.len(), &state.level_loss_mean);
        }
    }

    fn save(&self, state: &mut TrainState) {
        if let Some(b) = &self.balance {
            state.level_loss_mean = b.means().to_vec();
        }
    }

    fn step(&mut self, model: &N, step: u64, device: &Device) -> Result<Step> {
        let levels = self.opts.lambdas.len();
        let level = (step % levels as u64) as usize;
        let lambda = self.opts.lambdas[level];
        let (b, p) = (self.batch, self.patch);
        let data = self.sampler.as_mut().expect("seeded").batch(b);
        let x = Tensor::<4>::from_data(TensorData::new(data, [b, 3, p, p]), device);
        let decoder_only = self.opts.decoder_only;
        let out = if decoder_only {
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
        let aux = if decoder_only {
            model.bottleneck().valid().aux_loss()
        } else {
            model.bottleneck().aux_loss()
        };
        let dist_weight = lambda * 255.0 * 255.0;
        let rd = mse.clone().mul_scalar(dist_weight) + bpp.clone();
        // Only a balanced run reads the loss back before the backward pass.
        let loss = match &mut self.balance {
            Some(bal) => {
                let value = f64::from(rd.clone().into_scalar::<f32>());
                let weight = bal.weight(level, value);
                bal.observe(level, value);
                rd.mul_scalar(weight)
            }
            None => rd,
        };
        let loss = if decoder_only {
            loss
        } else {
            loss + aux.clone()
        };
        Ok(Step {
            loss,
            mse,
            dist_weight,
            rate: Some(bpp),
            aux: Some(aux),
            baseline_mse: None,
        })
    }

    fn learning_rate(&self, model: &N, lr: f64) -> ModuleLearningRate {
        crate::step_lr(lr, model.bottleneck().quantiles.id)
    }

    /// Each image center-cropped to a multiple of 64 (at most 512×512), coded at every
    /// level with rounding: mean estimated bpp and PSNR per level, and the bpp with noise
    /// for rounding, as training sees it.
    fn validate(&mut self, model: &N, device: &Device) -> Result<Vec<ValRow>> {
        let mut rows = Vec::new();
        for (level, &lambda) in self.opts.lambdas.iter().enumerate() {
            let (mut sb, mut sp, mut sn, mut n) = (0.0, 0.0, 0.0, 0.0);
            for img in &self.val_images {
                let Some((v, w, h)) = centre_crop_planes(img, 512, 64, 0.0) else {
                    continue;
                };
                let x = Tensor::<4>::from_data(TensorData::new(v, [1, 3, h, w]), device);
                let mut out = model.forward_eval(x.clone(), level);
                out.x_hat = out.x_hat.clamp(0.0, 1.0);
                let (mse, bpp) = rd_terms(&x, &out);
                sb += f64::from(bpp.into_scalar::<f32>());
                sp += crate::psnr(f64::from(mse.into_scalar::<f32>()));
                let (_, noisy_bpp) = rd_terms(&x, &model.forward_train(x.clone(), level));
                sn += f64::from(noisy_bpp.into_scalar::<f32>());
                n += 1.0;
            }
            if n == 0.0 {
                continue;
            }
            let (b, p, bn) = (sb / n, sp / n, sn / n);
            rows.push(ValRow {
                kind: "val",
                level: level.to_string(),
                lambda: lambda.to_string(),
                psnr: Some(p),
                rate: Some(b),
                line: format!(
                    "  val level {level} (λ={lambda}): bpp {b:.4} psnr {p:.2} dB (with noise: bpp {bn:.4})"
                ),
            });
            rows.push(ValRow {
                kind: "val-noisy",
                level: level.to_string(),
                lambda: lambda.to_string(),
                psnr: None,
                rate: Some(bn),
                line: String::new(),
            });
        }
        Ok(rows)
    }

    fn export(&self, model: &N) -> Result<ModelFiles> {
        Ok((self.export_fn)(model)?)
    }

    fn row_label(&self) -> (String, String) {
        ("all".into(), String::new())
    }
}

/// The `model.json` and weights `--init` names; `None` without it, or when the run
/// resumes from its own checkpoint (the folder or model named may be gone by then).
fn init_source(opts: &TrainOptions, h: &HyperpriorOptions) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    let Some(source) = &h.init else {
        return Ok(None);
    };
    if opts.out.join("checkpoint.bpk").is_file() {
        return Ok(None);
    }
    let files = ncodec::registry::model_files(source)?;
    if files.family != hyperprior::FAMILY {
        return Err(Error::Invalid(format!(
            "{source}: not a hyperprior or factorized-prior model"
        )));
    }
    let part = |name: &str| -> Result<Vec<u8>> { Ok(files.require(name)?.to_vec()) };
    Ok(Some((part("model.json")?, part("weights.bpk")?)))
}

/// `--init {source}: {e}` as an invalid-options error.
fn init_error(h: &HyperpriorOptions, e: &dyn std::fmt::Display) -> Error {
    let source = h.init.as_deref().unwrap_or_default();
    Error::Invalid(format!("--init {source}: {e}"))
}

/// Checks that the `--init` source's `model.json` (`config`) describes the model `cfg`
/// describes.
fn check_init_config<C: serde::Serialize + serde::de::DeserializeOwned>(
    cfg: &C,
    h: &HyperpriorOptions,
    config: &[u8],
) -> Result<()> {
    let bad = |e: &dyn std::fmt::Display| init_error(h, e);
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
/// `None` otherwise. Such a source is widened (`Hyperprior::widen_latents`).
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
    h: &HyperpriorOptions,
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
            h,
            &format_args!(
                "it was trained for λ {:?}; to add quality levels, --lambdas must be ascending \
                 and include all of them (and the source needs at least two levels)",
                theirs.lambdas
            ),
        ));
    }
    Ok(Some(theirs.lambdas))
}

/// `model` with the `--init` weights of `source` loaded.
fn load_weights<M: Module>(model: M, weights: Vec<u8>, source: &str) -> Result<M> {
    let bad = |e: &dyn std::fmt::Display| Error::Invalid(format!("--init {source}: weights: {e}"));
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights)).map_err(|e| bad(&e))?;
    model.try_load_record(record).map_err(|e| bad(&e))
}
