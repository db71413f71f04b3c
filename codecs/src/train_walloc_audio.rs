//! Training of WaLLoC audio models (`ncodec train walloc-audio`).
//!
//! Random segments of WAV files (resampled to the model's rate; a mono model takes every
//! channel as its own signal, a stereo model duplicates mono files) with random polarity;
//! loss `λ·MSE + bits per sample frame` on samples in `[−1, 1]`, with the loop, PCA
//! initialisation, checkpoints and resume of [`crate::train_walloc`]. Validation reports
//! kbit/s and SNR (dB) on whole clips.

use std::path::{Path, PathBuf};

use ncodec_datasets::Rng;
use ncodec_models::burn::prelude::*;
use ncodec_models::walloc::{Walloc, WallocConfig};

use crate::audio_io::{read_wav, resample};
use crate::error::{Error, Result, io_err};
use crate::train::start_run_dir;
use crate::train_walloc::{LoopSpec, check_sizes, train_loop, walloc_terms};
use crate::walloc_codec::MAX_AUDIO_FRAMES;

/// Everything a WaLLoC audio training run needs; saved as `train.json`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct WallocAudioTrainOptions {
    /// Folder of training WAV files (searched recursively).
    pub data: PathBuf,
    /// Folder of validation WAV files.
    pub val: Option<PathBuf>,
    /// Output folder: checkpoints, log, exported model.
    pub out: PathBuf,
    /// The model (`dims = 1`, `sample_rate` set).
    pub model: WallocConfig,
    /// Segment length in samples at the model's rate (a multiple of `2^J`).
    pub segment: usize,
    /// Batch size.
    pub batch: usize,
    /// Total steps to reach.
    pub steps: u64,
    /// Adam learning rate.
    pub lr: f64,
    /// Seed of the segment sampler.
    pub seed: u64,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
    /// Steps between validations.
    pub val_every: u64,
}

/// WAV files under `dir`, sorted.
fn wav_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(io_err(&d))? {
            let p = e.map_err(io_err(&d))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav")) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The signals of the WAV files under `dir` for a model with `channels` channels at
/// `rate`: each signal is `channels` planes at `rate`.
///
/// # Errors
/// I/O and WAV errors; [`Error::InvalidArgument`] if there are no WAV files.
pub fn load_audio_folder(dir: &Path, channels: usize, rate: u32) -> Result<Vec<Vec<Vec<f32>>>> {
    let mut signals = Vec::new();
    for p in wav_files(dir)? {
        let bytes = std::fs::read(&p).map_err(io_err(&p))?;
        let a = read_wav(&bytes, MAX_AUDIO_FRAMES)
            .map_err(|e| Error::InvalidArgument(format!("{}: {e}", p.display())))?;
        let x = resample(&a.samples, a.format.sample_rate, rate)?;
        match (channels, x.len()) {
            (1, _) => signals.extend(x.into_iter().map(|c| vec![c])),
            (2, 1) => signals.push(vec![x[0].clone(), x[0].clone()]),
            (2, 2) => signals.push(x),
            (m, a) => {
                return Err(Error::Unsupported(format!(
                    "{}: {a} channels for a {m}-channel model",
                    p.display()
                )));
            }
        }
    }
    if signals.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "no WAV files in {}",
            dir.display()
        )));
    }
    Ok(signals)
}

/// Trains (or resumes) a WaLLoC audio model as `opts` says, printing progress to stderr.
///
/// # Errors
/// I/O and WAV errors, bad options, unreadable checkpoints.
pub fn train_walloc_audio(opts: &WallocAudioTrainOptions, device: &Device) -> Result<()> {
    let cfg = &opts.model;
    let rate = match (cfg.dims, cfg.sample_rate, cfg.channels) {
        (1, Some(r), 1 | 2) if r > 0 => r,
        _ => {
            return Err(Error::InvalidArgument(
                "an audio model has dims 1, 1 or 2 channels and a sample rate".into(),
            ));
        }
    };
    check_sizes(cfg)?;
    if cfg.lambda <= 0.0 {
        return Err(Error::InvalidArgument("audio training needs λ > 0".into()));
    }
    let m = cfg.multiple();
    if opts.segment == 0 || !opts.segment.is_multiple_of(m) {
        return Err(Error::InvalidArgument(format!(
            "segment length must be a positive multiple of {m}"
        )));
    }
    start_run_dir(&opts.out, cfg, opts)?;

    let signals = load_audio_folder(&opts.data, cfg.channels, rate)?;
    let total: usize = signals.iter().map(|s| s[0].len()).sum();
    eprintln!(
        "train: {} signals, {:.1} s at {rate} Hz from {}",
        signals.len(),
        total as f64 / f64::from(rate),
        opts.data.display()
    );
    let val = match &opts.val {
        Some(v) => load_audio_folder(v, cfg.channels, rate)?,
        None => Vec::new(),
    };
    let (c, seg) = (cfg.channels, opts.segment);
    let spec = LoopSpec {
        out: &opts.out,
        cfg,
        steps: opts.steps,
        lr: opts.lr,
        checkpoint_every: opts.checkpoint_every,
        val_every: opts.val_every,
        batch: opts.batch,
        shape: [c, 1, seg],
        dist_weight: 1.0,
        peak: 1.0,
        rate_unit: "kbit/s",
    };
    let signals = &signals;
    train_loop(
        &spec,
        device,
        |step| {
            let mut rng = Rng::new(opts.seed ^ step.wrapping_mul(0x9E37_79B9));
            Ok(move |n: usize| {
                let mut out = Vec::with_capacity(n * c * seg);
                for _ in 0..n {
                    // A signal with probability proportional to its length, then an offset.
                    let mut pick = (rng.next_u64() % total as u64) as usize;
                    let s = signals
                        .iter()
                        .find(|s| {
                            let hit = pick < s[0].len();
                            if !hit {
                                pick -= s[0].len();
                            }
                            hit
                        })
                        .expect("pick < total");
                    let len = s[0].len();
                    let start = if len > seg {
                        (rng.next_u64() % (len - seg + 1) as u64) as usize
                    } else {
                        0
                    };
                    let sign = if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 };
                    for plane in s {
                        out.extend(
                            (start..start + seg)
                                .map(|i| sign * plane.get(i).copied().unwrap_or(0.0)),
                        );
                    }
                }
                out
            })
        },
        |model| {
            if val.is_empty() {
                Ok(None)
            } else {
                Ok(Some(validate_audio(model, &val, rate, device)))
            }
        },
    )
}

/// Mean kbit/s (estimated from the density) and SNR in dB over the first 10 s of each
/// validation signal, with rounding as the codec quantises.
fn validate_audio(model: &Walloc, val: &[Vec<Vec<f32>>], rate: u32, device: &Device) -> (f64, f64) {
    let m = 1usize << model.levels;
    let (mut kbps, mut snr, mut n) = (0.0, 0.0, 0f64);
    for s in val {
        let len = s[0].len().min(10 * rate as usize) / m * m;
        if len == 0 {
            continue;
        }
        let v: Vec<f32> = s.iter().flat_map(|p| p[..len].iter().copied()).collect();
        let power = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / v.len() as f64;
        let x = Tensor::<4>::from_data(TensorData::new(v, [1, s.len(), 1, len]), device);
        let mut out = model.forward_eval(x.clone());
        out.x_hat = out.x_hat.clamp(-1.0, 1.0);
        let (mse, bits) = walloc_terms(&x, &out);
        let mse = f64::from(mse.into_scalar::<f32>());
        let bits_per_frame = f64::from(bits.into_scalar::<f32>());
        kbps += bits_per_frame * f64::from(rate) / 1000.0;
        snr += 10.0 * (power / mse.max(1e-20)).log10();
        n += 1.0;
    }
    (kbps / n.max(1.0), snr / n.max(1.0))
}
