//! Training of WaLLoC image models (`ncodec train walloc-image`).
//!
//! Loss `λ·255²·MSE + bits per pixel` (plus the bottleneck's auxiliary loss) with the
//! latents' rate from the learned factorized density; with `λ = 0` the loss is the
//! paper's distortion-only `255²·MSE` and the density is fitted to detached latents.
//! Adam with gradient-norm clipping, random crops and flips, validation, checkpoints with
//! resume and a CSV log, as for the hyperprior models (see [`crate::train`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ncodec_datasets::{ImageFolder, PatchSampler};
use ncodec_models::burn::module::Module;
use ncodec_models::burn::optim::GradientsParams;
use ncodec_models::burn::prelude::*;
use ncodec_models::walloc::{Walloc, WallocConfig, WallocOutput};

use crate::error::{Error, Result};
use crate::train::{io_err, open_log, psnr, resume, save_checkpoint};
use crate::walloc_codec::WallocModel;

/// Everything a WaLLoC training run needs; saved as `train.json` in the output folder.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct WallocTrainOptions {
    /// Folder of training images.
    pub data: PathBuf,
    /// Folder of validation images.
    pub val: Option<PathBuf>,
    /// Output folder: checkpoints, log, exported model.
    pub out: PathBuf,
    /// The model to train.
    pub model: WallocConfig,
    /// Square patch size (multiple of `2^J`).
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
}

/// MSE (signal in `[−½, ½]`) and bits per position for one forward pass.
pub fn walloc_terms(x: &Tensor<4>, out: &WallocOutput) -> (Tensor<1>, Tensor<1>) {
    let [b, _, h, w] = x.dims();
    let mse = (out.x_hat.clone() - x.clone()).square().mean();
    let bits = out
        .likelihoods
        .clone()
        .log()
        .sum()
        .neg()
        .div_scalar((b * h * w) as f64 * std::f64::consts::LN_2);
    (mse, bits)
}

/// Trains (or resumes) a WaLLoC image model as `opts` says, printing progress to stderr.
///
/// # Errors
/// I/O and dataset errors, bad options, unreadable checkpoints.
pub fn train_walloc_image(opts: &WallocTrainOptions, device: &Device) -> Result<()> {
    let cfg = &opts.model;
    if cfg.dims != 2 || cfg.channels != 3 {
        return Err(Error::InvalidArgument(
            "an image model has dims 2 and 3 channels".into(),
        ));
    }
    if cfg.nd == 0 || !cfg.nd.is_multiple_of(32) || cfg.latent_dim == 0 || cfg.levels == 0 {
        return Err(Error::InvalidArgument(
            "nd must be a positive multiple of 32, latent_dim and levels positive".into(),
        ));
    }
    let m = cfg.multiple() as u32;
    if opts.patch == 0 || !opts.patch.is_multiple_of(m) {
        return Err(Error::InvalidArgument(format!(
            "patch size must be a positive multiple of {m}"
        )));
    }
    std::fs::create_dir_all(&opts.out).map_err(io_err(&opts.out))?;
    let cfg_path = opts.out.join("model.json");
    cfg.save(&cfg_path)
        .map_err(|e| Error::InvalidArgument(format!("cannot save config: {e}")))?;
    std::fs::write(
        opts.out.join("train.json"),
        serde_json::to_vec_pretty(opts).expect("serialisable"),
    )
    .map_err(io_err(&opts.out))?;

    let ds = |e: ncodec_datasets::Error| Error::InvalidArgument(format!("dataset: {e}"));
    let images = ImageFolder::scan(&opts.data)
        .map_err(ds)?
        .load_rgb(opts.jpeg_downscale)
        .map_err(ds)?;
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
    let (mut model, mut optim, mut state) = resume(cfg.init(&ad), &opts.out)?;
    let mut sampler = PatchSampler::new(
        images,
        opts.patch,
        opts.seed ^ state.step.wrapping_mul(0x9E37),
    )
    .map_err(ds)?;
    let log_path = opts.out.join("log.csv");
    let mut log = open_log(&log_path)?;

    let p = opts.patch as usize;
    let t0 = Instant::now();
    let wall0 = state.wall_seconds;
    let start_step = state.step;
    let mut acc = [0f64; 4];
    while state.step < opts.steps {
        let data = sampler.batch(opts.batch);
        let x = Tensor::<4>::from_data(TensorData::new(data, [opts.batch, 3, p, p]), &ad)
            .sub_scalar(0.5);
        let out = model.forward_train(x.clone(), cfg.lambda > 0.0);
        let (mse, bits) = walloc_terms(&x, &out);
        let aux = model.entropy_bottleneck.aux_loss();
        let dist = mse.clone().mul_scalar(255.0 * 255.0);
        let loss = if cfg.lambda > 0.0 {
            dist.mul_scalar(cfg.lambda) + bits.clone() + aux.clone()
        } else {
            dist + bits.clone() + aux.clone()
        };
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(opts.lr, model, grads);
        state.step += 1;

        acc[0] += f64::from(loss.into_scalar::<f32>());
        acc[1] += f64::from(mse.into_scalar::<f32>());
        acc[2] += f64::from(bits.into_scalar::<f32>());
        acc[3] += 1.0;
        let elapsed = t0.elapsed().as_secs_f64();
        state.wall_seconds = wall0 + elapsed;
        if state.step.is_multiple_of(50) || state.step == opts.steps {
            let n = acc[3];
            let (l, m, b) = (acc[0] / n, acc[1] / n, acc[2] / n);
            let rate = (state.step - start_step) as f64 / elapsed;
            let eta = (opts.steps - state.step) as f64 / rate.max(1e-9);
            eprintln!(
                "step {:>7}/{} [{:>5.1}%] loss {l:.4} psnr {:.2} dB bpp {b:.4} aux {:.1} | {rate:.2} it/s eta {:.1} h",
                state.step,
                opts.steps,
                100.0 * state.step as f64 / opts.steps as f64,
                psnr(m),
                aux.into_scalar::<f32>(),
                eta / 3600.0
            );
            writeln!(
                log,
                "{},train,0,{},{l},{m},{},{b},,{:.1}",
                state.step,
                cfg.lambda,
                psnr(m),
                state.wall_seconds
            )
            .map_err(io_err(&log_path))?;
            acc = [0.0; 4];
        }
        if state.step.is_multiple_of(opts.val_every) && !val_images.is_empty() {
            let (b, q) = validate(&model.valid(), &val_images, device)?;
            eprintln!("  val: bpp {b:.4} psnr {q:.2} dB");
            writeln!(
                log,
                "{},val,0,{},,,{q},{b},,{:.1}",
                state.step, cfg.lambda, state.wall_seconds
            )
            .map_err(io_err(&log_path))?;
        }
        if state.step.is_multiple_of(opts.checkpoint_every) || state.step == opts.steps {
            save_checkpoint(&model, &optim, &state, &opts.out)?;
            export_walloc(cfg, &model.valid(), &opts.out.join("export"))?;
        }
    }
    Ok(())
}

/// Writes `model.json`, `weights.bpk` and `tables.bin` into `dir`.
///
/// # Errors
/// I/O errors and export failures.
pub fn export_walloc(cfg: &WallocConfig, model: &Walloc, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let (c, w, t) = WallocModel::export(cfg, model)?;
    for (name, bytes) in [("model.json", c), ("weights.bpk", w), ("tables.bin", t)] {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(io_err(&p))?;
    }
    Ok(())
}

/// Mean estimated bpp and PSNR over center crops (multiples of `2^J`, at most 512²),
/// with rounding as the codec quantises.
fn validate(model: &Walloc, images: &[image::RgbImage], device: &Device) -> Result<(f64, f64)> {
    let m = 1usize << model.levels;
    let (mut sb, mut sp) = (0.0, 0.0);
    for img in images {
        let w = img.width().min(512) as usize / m * m;
        let h = img.height().min(512) as usize / m * m;
        if w == 0 || h == 0 {
            continue;
        }
        let (x0, y0) = (
            (img.width() as usize - w) / 2,
            (img.height() as usize - h) / 2,
        );
        let mut v = vec![0f32; 3 * h * w];
        for y in 0..h {
            for x in 0..w {
                let px = img.get_pixel((x0 + x) as u32, (y0 + y) as u32);
                for c in 0..3 {
                    v[(c * h + y) * w + x] = f32::from(px[c]) / 255.0 - 0.5;
                }
            }
        }
        let x = Tensor::<4>::from_data(TensorData::new(v, [1, 3, h, w]), device);
        let mut out = model.forward_eval(x.clone());
        out.x_hat = out.x_hat.clamp(-0.5, 0.5);
        let (mse, bits) = walloc_terms(&x, &out);
        sb += f64::from(bits.into_scalar::<f32>());
        sp += psnr(f64::from(mse.into_scalar::<f32>()));
    }
    let n = images.len().max(1) as f64;
    Ok((sb / n, sp / n))
}
