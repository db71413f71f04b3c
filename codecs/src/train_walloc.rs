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

use crate::error::{Error, Result, io_err};
use crate::train::{open_log, psnr, resume, save_checkpoint, start_run_dir, step_lr, warmup_lr};
use crate::walloc_codec::WallocModel;

/// Steps at the start of a run in which the rate trains only the density.
const RATE_WARMUP: u64 = 300;

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
    check_sizes(cfg)?;
    let m = cfg.multiple() as u32;
    if opts.patch == 0 || !opts.patch.is_multiple_of(m) {
        return Err(Error::InvalidArgument(format!(
            "patch size must be a positive multiple of {m}"
        )));
    }
    start_run_dir(&opts.out, cfg, opts)?;

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

    let p = opts.patch as usize;
    let spec = LoopSpec {
        out: &opts.out,
        cfg,
        steps: opts.steps,
        lr: opts.lr,
        checkpoint_every: opts.checkpoint_every,
        val_every: opts.val_every,
        batch: opts.batch,
        shape: [3, p, p],
        dist_weight: 255.0 * 255.0,
        peak: 0.5,
        rate_unit: "bpp",
    };
    train_loop(
        &spec,
        device,
        |step| {
            let mut s =
                PatchSampler::new(images, opts.patch, opts.seed ^ step.wrapping_mul(0x9E37))
                    .map_err(ds)?;
            Ok(move |n: usize| s.batch(n).into_iter().map(|v| v - 0.5).collect())
        },
        |m| {
            if val_images.is_empty() {
                Ok(None)
            } else {
                validate(m, &val_images, device).map(Some)
            }
        },
    )
}

/// The size checks every WaLLoC trainer makes: `nd` a positive multiple of 32 (group
/// norm), `latent_dim` and `levels` positive.
pub(crate) fn check_sizes(cfg: &WallocConfig) -> Result<()> {
    if cfg.nd == 0 || !cfg.nd.is_multiple_of(32) || cfg.latent_dim == 0 || cfg.levels == 0 {
        return Err(Error::InvalidArgument(
            "nd must be a positive multiple of 32, latent_dim and levels positive".into(),
        ));
    }
    Ok(())
}

/// What [`train_loop`] needs besides the data.
pub(crate) struct LoopSpec<'a> {
    pub out: &'a Path,
    pub cfg: &'a WallocConfig,
    pub steps: u64,
    pub lr: f64,
    pub checkpoint_every: u64,
    pub val_every: u64,
    pub batch: usize,
    /// One training item `[C, H, W]`.
    pub shape: [usize; 3],
    /// Weight of the MSE in the distortion (`255²` for images on `[−½, ½]`).
    pub dist_weight: f64,
    /// Largest magnitude of the signal (reconstructions are clamped to it).
    pub peak: f64,
    /// Unit of the validation rate (`bpp`, `kbit/s`).
    pub rate_unit: &'static str,
}

/// The training loop shared by image and audio models: resume, PCA initialisation at
/// step 0, Adam steps on `λ·w·MSE + bits per position + aux`, logging, validation,
/// checkpoints and export. `sampler(step)` makes the batch source for a run starting at
/// `step`; it returns `n` items, flattened, already centred.
pub(crate) fn train_loop<S, F>(
    spec: &LoopSpec,
    device: &Device,
    sampler: S,
    validate: impl Fn(&Walloc) -> Result<Option<(f64, f64)>>,
) -> Result<()>
where
    S: FnOnce(u64) -> Result<F>,
    F: FnMut(usize) -> Vec<f32>,
{
    let cfg = spec.cfg;
    let [c, h, w] = spec.shape;
    let ad = device.clone().autodiff();
    let (mut model, mut optim, mut state) = resume(cfg.init(&ad), spec.out)?;
    let mut batch = sampler(state.step)?;
    if state.step == 0 {
        let n = 32;
        let x = Tensor::<4>::from_data(TensorData::new(batch(n), [n, c, h, w]), device);
        let (m, g, q, b) = pca_init(model.valid(), x, cfg.lambda, spec.dist_weight, spec.peak);
        eprintln!(
            "train: PCA initialisation, gain {g}: {q:.2} dB at {b:.4} bits per position on {n} items"
        );
        model = model.load_record(m.into_record());
    }
    let log_path = spec.out.join("log.csv");
    let mut log = open_log(&log_path)?;
    let n_batch = spec.batch;

    let t0 = Instant::now();
    let wall0 = state.wall_seconds;
    let start_step = state.step;
    let mut acc = [0f64; 4];
    while state.step < spec.steps {
        let x = Tensor::<4>::from_data(TensorData::new(batch(n_batch), [n_batch, c, h, w]), &ad);
        // The density starts untrained: let it fit the latents before its rate moves them.
        let rate_gradient = cfg.lambda > 0.0 && state.step >= RATE_WARMUP;
        let out = model.forward_train(x.clone(), rate_gradient);
        let (mse, bits) = walloc_terms(&x, &out);
        let aux = model.entropy_bottleneck.aux_loss();
        let dist = mse.clone().mul_scalar(spec.dist_weight);
        let weight = if cfg.lambda > 0.0 { cfg.lambda } else { 1.0 };
        let loss = dist.mul_scalar(weight) + bits.clone() + aux.clone();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = step_lr(
            warmup_lr(spec.lr, state.step, state.optim_start),
            model.entropy_bottleneck.quantiles.id,
        );
        model = optim.step(lr, model, grads);
        state.step += 1;

        let (m, b) = (
            f64::from(mse.into_scalar::<f32>()),
            f64::from(bits.into_scalar::<f32>()),
        );
        // The logged loss leaves the auxiliary loss out (it has its own column).
        acc[0] += weight * spec.dist_weight * m + b;
        acc[1] += m;
        acc[2] += b;
        acc[3] += 1.0;
        let elapsed = t0.elapsed().as_secs_f64();
        state.wall_seconds = wall0 + elapsed;
        if state.step.is_multiple_of(50) || state.step == spec.steps {
            let n = acc[3];
            let (l, m, b) = (acc[0] / n, acc[1] / n, acc[2] / n);
            let rate = (state.step - start_step) as f64 / elapsed;
            let eta = (spec.steps - state.step) as f64 / rate.max(1e-9);
            let q = psnr(m / (4.0 * spec.peak * spec.peak));
            let a = aux.into_scalar::<f32>();
            eprintln!(
                "step {:>7}/{} [{:>5.1}%] loss {l:.4} psnr {q:.2} dB bits/pos {b:.4} aux {a:.1} | {rate:.2} it/s eta {:.1} h",
                state.step,
                spec.steps,
                100.0 * state.step as f64 / spec.steps as f64,
                eta / 3600.0
            );
            writeln!(
                log,
                "{},train,0,{},{l},{m},{q},{b},{a},{:.1}",
                state.step, cfg.lambda, state.wall_seconds
            )
            .map_err(io_err(&log_path))?;
            acc = [0.0; 4];
        }
        if state.step.is_multiple_of(spec.val_every)
            && let Some((b, q)) = validate(&model.valid())?
        {
            eprintln!("  val: {b:.4} {} {q:.2} dB", spec.rate_unit);
            writeln!(
                log,
                "{},val,0,{},,,{q},{b},,{:.1}",
                state.step, cfg.lambda, state.wall_seconds
            )
            .map_err(io_err(&log_path))?;
        }
        if state.step.is_multiple_of(spec.checkpoint_every) || state.step == spec.steps {
            save_checkpoint(&model, &optim, &state, spec.out)?;
            export_walloc(cfg, &model.valid(), &spec.out.join("export"))?;
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

/// Initialises the linear path (encoder and `skip`) as a PCA codec of the wavelet
/// coefficients of `data` (`[n, C, H, W]`, values in `[−peak, peak]`): the encoder
/// projects on the top `latent_dim` principal directions times a gain `g`, `skip` maps
/// back. The gain is the one of a small grid that minimises `λ·dist_weight·MSE + bits per
/// position` on `data` (bits from the empirical entropy of the rounded latents), or gives
/// 30–35 dB PSNR when `λ = 0`. Training then starts from a working codec instead of from
/// zero, which saves thousands of CPU steps.
///
/// Returns the chosen gain, PSNR (peak-to-peak `2·peak`) and bits per position.
pub fn pca_init(
    model: Walloc,
    data: Tensor<4>,
    lambda: f64,
    dist_weight: f64,
    peak: f64,
) -> (Walloc, f64, f64, f64) {
    use ncodec_models::burn::module::Param;
    use ncodec_models::hyperprior::to_f32_vec;
    let device = data.device();
    let x = data.clone().detach();
    let xw = model.analysis(x.clone()).detach();
    let [_, c, _, _] = xw.dims();
    let k = model.latent_dim();
    // Rows = positions, columns = wavelet channels.
    let rows = to_f32_vec(xw.permute([0, 2, 3, 1]));
    let n = rows.len() / c;
    let mut mean = vec![0f64; c];
    for r in rows.chunks_exact(c) {
        for (m, &v) in mean.iter_mut().zip(r) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = vec![0f64; c * c];
    for r in rows.chunks_exact(c) {
        let d: Vec<f64> = r
            .iter()
            .zip(&mean)
            .map(|(&v, m)| f64::from(v) - m)
            .collect();
        for i in 0..c {
            let di = d[i];
            for j in i..c {
                cov[i * c + j] += di * d[j];
            }
        }
    }
    for i in 0..c {
        for j in i..c {
            cov[i * c + j] /= n as f64;
            cov[j * c + i] = cov[i * c + j];
        }
    }
    let v = top_eigenvectors(&cov, c, k);
    let v = &v;

    let mut best: Option<(f64, f64, f64, f64)> = None; // (score, g, psnr, bpp)
    let pixels = {
        let [b, _, h, w] = x.dims();
        (b * h * w) as f64
    };
    let with_gain = |m: Walloc, g: f64| -> Walloc {
        let mut m = m;
        let enc: Vec<f32> = (0..k)
            .flat_map(|j| (0..c).map(move |i| (g * v[i * k + j]) as f32))
            .collect();
        let enc_b: Vec<f32> = (0..k)
            .map(|j| (-(0..c).map(|i| g * v[i * k + j] * mean[i]).sum::<f64>()) as f32)
            .collect();
        let skip: Vec<f32> = (0..c)
            .flat_map(|i| (0..k).map(move |j| (v[i * k + j] / g) as f32))
            .collect();
        let skip_b: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
        let t =
            |d: Vec<f32>, s: [usize; 4]| Tensor::<1>::from_floats(d.as_slice(), &device).reshape(s);
        m.encoder.weight = Param::from_tensor(t(enc, [k, c, 1, 1]));
        m.encoder.bias = Some(Param::from_tensor(Tensor::<1>::from_floats(
            enc_b.as_slice(),
            &device,
        )));
        m.skip.weight = Param::from_tensor(t(skip, [c, k, 1, 1]));
        m.skip.bias = Some(Param::from_tensor(Tensor::<1>::from_floats(
            skip_b.as_slice(),
            &device,
        )));
        m
    };
    for g in [
        0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 35.0,
    ] {
        let m = with_gain(model.clone(), g);
        let y = m.encode_latents(x.clone());
        let x_hat = m.decode_latents(y.clone()).clamp(-peak, peak);
        let mse = f64::from((x_hat - x.clone()).square().mean().into_scalar::<f32>());
        let bits = empirical_bits(&to_f32_vec(y.permute([1, 0, 2, 3])), k);
        let (q, bpp) = (psnr(mse / (4.0 * peak * peak)), bits / pixels);
        let score = if lambda > 0.0 {
            lambda * dist_weight * mse + bpp
        } else {
            (q - 32.5).abs()
        };
        eprintln!("  pca init: gain {g}: psnr {q:.2} dB, {bpp:.4} bpp (empirical)");
        if best.is_none_or(|b| score < b.0) {
            best = Some((score, g, q, bpp));
        }
    }
    let (_, g, q, bpp) = best.expect("grid is not empty");
    (with_gain(model, g), g, q, bpp)
}

/// Bits of channel-major integer values under each channel's own empirical histogram.
fn empirical_bits(values: &[f32], channels: usize) -> f64 {
    let per = values.len() / channels;
    let mut total = 0.0;
    for ch in values.chunks_exact(per) {
        let mut counts = std::collections::HashMap::<i32, usize>::new();
        for &v in ch {
            *counts.entry(v as i32).or_default() += 1;
        }
        total += counts
            .values()
            .map(|&n| -(n as f64) * (n as f64 / per as f64).log2())
            .sum::<f64>();
    }
    total
}

/// The `k` leading eigenvectors of a symmetric `c × c` matrix by orthogonal iteration,
/// as a `c × k` row-major matrix (columns in descending eigenvalue order).
fn top_eigenvectors(a: &[f64], c: usize, k: usize) -> Vec<f64> {
    let mut rng = ncodec_datasets::Rng::new(7);
    let mut q: Vec<f64> = (0..c * k)
        .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
        .collect();
    let orthonormalise = |q: &mut Vec<f64>| {
        for j in 0..k {
            for p in 0..j {
                let dot: f64 = (0..c).map(|i| q[i * k + j] * q[i * k + p]).sum();
                for i in 0..c {
                    q[i * k + j] -= dot * q[i * k + p];
                }
            }
            let norm = (0..c)
                .map(|i| q[i * k + j].powi(2))
                .sum::<f64>()
                .sqrt()
                .max(1e-300);
            for i in 0..c {
                q[i * k + j] /= norm;
            }
        }
    };
    orthonormalise(&mut q);
    for _ in 0..500 {
        let mut z = vec![0f64; c * k];
        for i in 0..c {
            for l in 0..c {
                let a_il = a[i * c + l];
                if a_il != 0.0 {
                    for j in 0..k {
                        z[i * k + j] += a_il * q[l * k + j];
                    }
                }
            }
        }
        q = z;
        orthonormalise(&mut q);
    }
    q
}
