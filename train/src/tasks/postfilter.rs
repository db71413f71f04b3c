//! Training of the learned post-filter of the wavelet codec (`ncodec train postfilter`).
//!
//! Each step picks one quality level, cuts random crops from the training photos, codes
//! and decodes each crop with [`WaveletCodec`] (real files: the filter learns the
//! artifacts the decoder really makes), and trains the filter to map the decoded centre
//! of the crop back to the original with `255²·MSE`. The crop is the patch plus
//! [`MARGIN`] pixels on every side, so the patch's artifacts are not those of a crop
//! border. Adam with gradient-norm clipping, checkpoints with resume, validation on whole
//! photos and a CSV log, as for the other trainers ([`crate::train`]).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use image::RgbImage;
use ncodec_datasets::{ImageFolder, Rng};
use ncodec_models::burn::module::Module;
use ncodec_models::burn::optim::GradientsParams;
use ncodec_models::burn::prelude::*;
use ncodec_models::hyperprior::to_f32_vec;
use ncodec_models::postfilter::{PostFilter, PostFilterConfig};

use crate::container::{Container, Limits};
use crate::error::{Error, Result, io_err};
use crate::image_codec::{crop_to_rgb8, pad_replicate};
use crate::train::{open_log, psnr, resume, save_checkpoint, start_run_dir, warmup_lr};
use crate::wavelet_codec::{Extension, QUALITY_LEVELS, WaveletCodec, step};

/// Pixels coded around each training patch.
pub const MARGIN: u32 = 32;

/// Everything a post-filter training run needs; saved as `train.json` in the run folder.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PostFilterTrainOptions {
    /// Folder of training images.
    pub data: PathBuf,
    /// Folder of validation images.
    pub val: Option<PathBuf>,
    /// Output folder: checkpoints, log, exported filter.
    pub out: PathBuf,
    /// The filter to train.
    pub model: PostFilterConfig,
    /// Square patch size the loss sees.
    pub patch: u32,
    /// Patches per step.
    pub batch: usize,
    /// Total steps to reach (a resumed run continues up to this).
    pub steps: u64,
    /// Adam learning rate.
    pub lr: f64,
    /// Seed of the crop sampler.
    pub seed: u64,
    /// Steps between checkpoints (and exports).
    pub checkpoint_every: u64,
    /// Steps between validations (of the lowest, middle and highest of `qualities`).
    pub val_every: u64,
    /// Downscale factor for JPEG training images (removes their artifacts).
    pub jpeg_downscale: u32,
    /// The codec's quality levels to train on.
    pub qualities: Vec<u8>,
    /// The border extension of the codec that codes the crops, written into the
    /// export's `model.json` (runs from before this option used the periodic one).
    #[serde(default)]
    pub extension: Extension,
}

/// `[3, h, w]` planes of an 8-bit image, centred on zero.
pub fn centred_planes(img: &RgbImage) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut planes = pad_replicate(img, w, h);
    for v in &mut planes {
        *v -= 0.5;
    }
    planes
}

/// The filter's output `[1, 3, h, w]` (centred on zero) rounded to an 8-bit image.
pub fn planes_to_rgb8(planes: &[f32], w: usize, h: usize) -> RgbImage {
    let shifted: Vec<f32> = planes.iter().map(|v| v + 0.5).collect();
    crop_to_rgb8(&shifted, w, h, w, h)
}

/// `img` coded at `quality` and decoded (the codec's real files and reconstruction).
fn coded(codec: &WaveletCodec, img: &RgbImage, quality: u8) -> Result<RgbImage> {
    let (bytes, _) = codec.encode_image(img, 3, quality)?;
    codec.decode_image(&Container::from_bytes(&bytes, &Limits::default())?)
}

/// One training item: a crop coded at `quality`, its decoded and original centres.
fn item(
    codec: &WaveletCodec,
    img: &RgbImage,
    rng: &mut Rng,
    patch: u32,
    quality: u8,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let c = patch + 2 * MARGIN;
    let x = rng.below(u64::from(img.width() - c + 1)) as u32;
    let y = rng.below(u64::from(img.height() - c + 1)) as u32;
    let mut crop = image::imageops::crop_imm(img, x, y, c, c).to_image();
    if rng.below(2) == 1 {
        image::imageops::flip_horizontal_in_place(&mut crop);
    }
    let decoded = coded(codec, &crop, quality)?;
    let centre = |i: &RgbImage| {
        centred_planes(&image::imageops::crop_imm(i, MARGIN, MARGIN, patch, patch).to_image())
    };
    Ok((centre(&decoded), centre(&crop)))
}

/// Trains (or resumes) a post-filter as `opts` says, printing progress to stderr.
///
/// # Errors
/// I/O and dataset errors, bad options, unreadable checkpoints.
pub fn train_postfilter(opts: &PostFilterTrainOptions, device: &Device) -> Result<()> {
    let cfg = &opts.model;
    if cfg.layers < 2 || cfg.width == 0 || opts.patch == 0 || opts.batch == 0 {
        return Err(Error::InvalidArgument(
            "layers ≥ 2, and width, patch and batch > 0".into(),
        ));
    }
    if opts.qualities.is_empty() || opts.qualities.iter().any(|&q| q >= QUALITY_LEVELS) {
        return Err(Error::InvalidArgument(format!(
            "qualities must be a non-empty list within 0..{QUALITY_LEVELS}"
        )));
    }
    start_run_dir(&opts.out, cfg, opts)?;
    let ds = |e: ncodec_datasets::Error| Error::InvalidArgument(format!("dataset: {e}"));
    let c = opts.patch + 2 * MARGIN;
    let images: Vec<RgbImage> = ImageFolder::scan(&opts.data)
        .map_err(ds)?
        .load_rgb(opts.jpeg_downscale)
        .map_err(ds)?
        .into_iter()
        .filter(|i| i.width() >= c && i.height() >= c)
        .collect();
    if images.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "no training image is at least {c}×{c}"
        )));
    }
    eprintln!(
        "train: {} images from {}",
        images.len(),
        opts.data.display()
    );
    let val_images = match &opts.val {
        Some(v) => ImageFolder::scan(v).map_err(ds)?.load_rgb(1).map_err(ds)?,
        None => Vec::new(),
    };

    let codec = WaveletCodec::classic(opts.extension);
    let ad = device.clone().autodiff();
    let (mut model, mut optim, mut state) = resume(cfg.init(&ad), &opts.out)?;
    let log_path = opts.out.join("log.csv");
    let mut log = open_log(&log_path)?;
    let mut rng = Rng::new(opts.seed ^ state.step.wrapping_mul(0x9E37_79B9));
    let (p, n) = (opts.patch as usize, opts.batch);
    let t0 = Instant::now();
    let (wall0, start_step) = (state.wall_seconds, state.step);
    let (mut acc, mut count) = ([0f64; 2], 0f64);
    while state.step < opts.steps {
        let q = opts.qualities[rng.below(opts.qualities.len() as u64) as usize];
        let (mut xs, mut ys) = (Vec::with_capacity(n * 3 * p * p), Vec::new());
        for _ in 0..n {
            let img = &images[rng.below(images.len() as u64) as usize];
            let (x, y) = item(&codec, img, &mut rng, opts.patch, q)?;
            xs.extend(x);
            ys.extend(y);
        }
        let x = Tensor::<4>::from_data(TensorData::new(xs, [n, 3, p, p]), &ad);
        let y = Tensor::<4>::from_data(TensorData::new(ys, [n, 3, p, p]), &ad);
        let before = (x.clone() - y.clone()).square().mean();
        let mse = (model.forward(x, f64::from(step(q)?)) - y).square().mean();
        let loss = mse.clone().mul_scalar(255.0 * 255.0);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(
            warmup_lr(opts.lr, state.step, state.optim_start),
            model,
            grads,
        );
        state.step += 1;
        acc[0] += f64::from(before.into_scalar::<f32>());
        acc[1] += f64::from(mse.into_scalar::<f32>());
        count += 1.0;
        state.wall_seconds = wall0 + t0.elapsed().as_secs_f64();
        if state.step.is_multiple_of(50) || state.step == opts.steps {
            let (b, a) = (psnr(acc[0] / count), psnr(acc[1] / count));
            let rate = (state.step - start_step) as f64 / t0.elapsed().as_secs_f64();
            eprintln!(
                "step {:>7}/{} decoded {b:.2} dB filtered {a:.2} dB (gain {:+.3} dB) | {rate:.2} it/s",
                state.step,
                opts.steps,
                a - b
            );
            writeln!(
                log,
                "{},train,,,{},{},{a},,,{:.1}",
                state.step,
                255.0 * 255.0 * acc[1] / count,
                acc[1] / count,
                state.wall_seconds
            )
            .map_err(io_err(&log_path))?;
            (acc, count) = ([0.0; 2], 0.0);
        }
        if state.step.is_multiple_of(opts.val_every) && !val_images.is_empty() {
            // The lowest, middle and highest trained levels.
            let mut levels = opts.qualities.clone();
            levels.sort_unstable();
            levels = vec![
                levels[0],
                levels[levels.len() / 2],
                levels[levels.len() - 1],
            ];
            levels.dedup();
            for &vq in &levels {
                let (b, a) = validate(&codec, &model.valid(), &val_images, vq, device)?;
                eprintln!(
                    "  val q{vq}: decoded {b:.3} dB, filtered {a:.3} dB ({:+.3})",
                    a - b
                );
                writeln!(
                    log,
                    "{},val,{vq},,,,{a},,,{:.1}",
                    state.step, state.wall_seconds
                )
                .map_err(io_err(&log_path))?;
            }
        }
        if state.step.is_multiple_of(opts.checkpoint_every) || state.step == opts.steps {
            save_checkpoint(&model, &optim, &state, &opts.out)?;
            export_postfilter(
                cfg,
                opts.extension,
                &model.valid(),
                &opts.out.join("export"),
            )?;
        }
    }
    Ok(())
}

/// Writes `model.json` (the filter's configuration, the codec's `"extension"` and the
/// classic encoder's `"rounding"`, with which the training crops are coded) and
/// `weights.bpk` into `dir`.
///
/// # Errors
/// I/O errors and serialisation failures.
pub fn export_postfilter(
    cfg: &PostFilterConfig,
    extension: Extension,
    model: &PostFilter,
    dir: &std::path::Path,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let weights = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| Error::InvalidArgument(format!("export: {e}")))?;
    let mut config = serde_json::to_value(cfg).expect("serialisable");
    if let Some(map) = config.as_object_mut() {
        map.insert("extension".into(), extension.name().into());
        map.insert(
            "rounding".into(),
            f64::from(crate::wavelet_codec::ROUNDING).into(),
        );
    }
    let config = serde_json::to_vec_pretty(&config).expect("serialisable");
    for (name, bytes) in [("model.json", config), ("weights.bpk", weights.to_vec())] {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(io_err(&p))?;
    }
    Ok(())
}

/// Mean PSNR of the decoded and of the filtered centre crops (at most 512², multiples of
/// 32) of the validation photos coded at `quality`.
fn validate(
    codec: &WaveletCodec,
    model: &PostFilter,
    images: &[RgbImage],
    quality: u8,
    device: &Device,
) -> Result<(f64, f64)> {
    let (mut sb, mut sa, mut n) = (0.0, 0.0, 0f64);
    for img in images {
        let w = img.width().min(512) / 32 * 32;
        let h = img.height().min(512) / 32 * 32;
        if w == 0 || h == 0 {
            continue;
        }
        let crop =
            image::imageops::crop_imm(img, (img.width() - w) / 2, (img.height() - h) / 2, w, h)
                .to_image();
        let decoded = coded(codec, &crop, quality)?;
        let (wu, hu) = (w as usize, h as usize);
        let x = Tensor::<4>::from_data(
            TensorData::new(centred_planes(&decoded), [1, 3, hu, wu]),
            device,
        );
        let y = model.forward(x, f64::from(step(quality)?));
        let filtered = planes_to_rgb8(&to_f32_vec(y), wu, hu);
        sb += crate::metrics::psnr_rgb(&crop, &decoded)?;
        sa += crate::metrics::psnr_rgb(&crop, &filtered)?;
        n += 1.0;
    }
    Ok((sb / n.max(1.0), sa / n.max(1.0)))
}
