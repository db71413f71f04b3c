//! Training of WaLLoC models, images (`ncodec train walloc-image`) and audio
//! (`ncodec train walloc-audio`).
//!
//! Loss `λ·w·MSE + bits per position` (plus the bottleneck's auxiliary loss), with the
//! latents' rate from the learned factorized density; `w` is `255²` for images on
//! `[−½, ½]` and 1 for audio on `[−1, 1]`. With `λ = 0` (images) the loss is the paper's
//! distortion-only `255²·MSE` and the density is fitted to detached latents. Images are
//! random crops and flips; audio random segments of WAV files resampled to the model's
//! rate, with random polarity. At step 0 the linear path starts as a PCA codec of a
//! batch ([`pca_init`]). Validation: bpp and PSNR on centre crops of the validation
//! photos, kbit/s and SNR on the first 10 s of each validation clip.

use ncodec::codec::ModelFiles;
use ncodec::families::walloc::WallocModel;
use ncodec::media::image::centre_crop_planes;
use ncodec::models::burn::module::{Module, Param};
use ncodec::models::burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use ncodec::models::burn::prelude::*;
use ncodec::models::cpu::to_f32_vec;
use ncodec::models::walloc::{Walloc, WallocConfig, WallocOutput};
use ncodec_datasets::{PatchSampler, Rng};

use crate::data::{audio_folder, training_images, validation_images};
use crate::error::Result;
use crate::{Monitor, Step, Task, TrainOptions, ValRow, WallocOptions};

/// Steps at the start of a run in which the rate trains only the density.
const RATE_WARMUP: u64 = 300;

/// MSE and bits per position for one forward pass.
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

/// Where a WaLLoC run's items come from.
enum Data {
    /// Photos, cut into patches (`sampler` once seeded).
    Image {
        images: Vec<image::RgbImage>,
        sampler: Option<PatchSampler>,
        val: Vec<image::RgbImage>,
    },
    /// Signals at the model's rate (`channels` planes each), and their total length.
    Audio {
        signals: Vec<Vec<Vec<f32>>>,
        total: usize,
        rng: Rng,
        val: Vec<Vec<Vec<f32>>>,
        rate: u32,
    },
}

/// The WaLLoC family's [`Task`].
struct WallocTask {
    cfg: WallocConfig,
    data: Data,
    seed: u64,
    batch: usize,
    /// One item `[C, H, W]`.
    shape: [usize; 3],
    /// Weight of the MSE in the distortion (`255²` for images on `[−½, ½]`).
    dist_weight: f64,
    /// Largest magnitude of the signal (reconstructions are clamped to it).
    peak: f64,
}

/// Trains (or resumes) a WaLLoC image or audio model.
pub(crate) fn train(
    opts: &TrainOptions,
    w: &WallocOptions,
    device: &Device,
    monitor: &mut dyn Monitor,
) -> Result<()> {
    let cfg = w.model.clone();
    let p = opts.patch;
    let mut task = if cfg.dims == 2 {
        WallocTask {
            data: Data::Image {
                images: training_images(&opts.data, opts.jpeg_downscale, monitor)?,
                sampler: None,
                val: validation_images(opts.val.as_ref())?,
            },
            shape: [3, p, p],
            dist_weight: 255.0 * 255.0,
            peak: 0.5,
            cfg,
            seed: opts.seed,
            batch: opts.batch,
        }
    } else {
        let rate = cfg.sample_rate.unwrap_or_default();
        let signals = audio_folder(&opts.data, cfg.channels, rate)?;
        let total: usize = signals.iter().map(|s| s[0].len()).sum();
        monitor.note(&format!(
            "train: {} signals, {:.1} s at {rate} Hz from {}",
            signals.len(),
            total as f64 / f64::from(rate),
            opts.data.display()
        ));
        let val = match &opts.val {
            Some(v) => audio_folder(v, cfg.channels, rate)?,
            None => Vec::new(),
        };
        WallocTask {
            data: Data::Audio {
                signals,
                total,
                rng: Rng::new(0),
                val,
                rate,
            },
            shape: [cfg.channels, 1, p],
            dist_weight: 1.0,
            peak: 1.0,
            cfg,
            seed: opts.seed,
            batch: opts.batch,
        }
    };
    let config = serde_json::to_vec_pretty(&task.cfg).expect("serialisable");
    crate::run(&mut task, opts, &config, device, monitor)
}

impl WallocTask {
    /// `n` items, flattened, centred.
    fn items(&mut self, n: usize) -> Vec<f32> {
        match &mut self.data {
            Data::Image { sampler, .. } => sampler
                .as_mut()
                .expect("seeded")
                .batch(n)
                .into_iter()
                .map(|v| v - 0.5)
                .collect(),
            Data::Audio {
                signals,
                total,
                rng,
                ..
            } => {
                let [c, _, seg] = self.shape;
                let mut out = Vec::with_capacity(n * c * seg);
                for _ in 0..n {
                    // A signal with probability proportional to its length, then an offset.
                    let mut pick = (rng.next_u64() % *total as u64) as usize;
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
            }
        }
    }

    fn tensor(&mut self, n: usize, device: &Device) -> Tensor<4> {
        let [c, h, w] = self.shape;
        Tensor::<4>::from_data(TensorData::new(self.items(n), [n, c, h, w]), device)
    }
}

impl Task for WallocTask {
    type Model = Walloc;

    fn init(&mut self, device: &Device) -> Result<Walloc> {
        Ok(self.cfg.init(device))
    }

    fn seed(&mut self, step: u64) -> Result<()> {
        let seed = self.seed;
        let [_, _, p] = self.shape;
        match &mut self.data {
            Data::Image {
                images, sampler, ..
            } => {
                *sampler = Some(PatchSampler::new(
                    std::mem::take(images),
                    p as u32,
                    seed ^ step.wrapping_mul(0x9E37),
                )?);
            }
            Data::Audio { rng, .. } => *rng = Rng::new(seed ^ step.wrapping_mul(0x9E37_79B9)),
        }
        Ok(())
    }

    fn start(
        &mut self,
        model: Walloc,
        device: &Device,
        monitor: &mut dyn Monitor,
    ) -> Result<Walloc> {
        let n = 32;
        let x = self.tensor(n, device);
        let (m, g, q, b) = pca_init(
            model.valid(),
            x,
            self.cfg.lambda,
            self.dist_weight,
            self.peak,
            monitor,
        );
        monitor.note(&format!(
            "train: PCA initialisation, gain {g}: {q:.2} dB at {b:.4} bits per position on {n} items"
        ));
        Ok(model.load_record(m.into_record()))
    }

    fn step(&mut self, model: &Walloc, step: u64, device: &Device) -> Result<Step> {
        let x = self.tensor(self.batch, device);
        let lambda = self.cfg.lambda;
        // The density starts untrained: let it fit the latents before its rate moves them.
        let rate_gradient = lambda > 0.0 && step >= RATE_WARMUP;
        let out = model.forward_train(x.clone(), rate_gradient);
        let (mse, bits) = walloc_terms(&x, &out);
        let aux = model.entropy_bottleneck.aux_loss();
        let weight = if lambda > 0.0 { lambda } else { 1.0 };
        let loss = mse.clone().mul_scalar(self.dist_weight * weight) + bits.clone() + aux.clone();
        Ok(Step {
            loss,
            mse,
            dist_weight: weight * self.dist_weight,
            rate: Some(bits),
            aux: Some(aux),
            baseline_mse: None,
        })
    }

    fn learning_rate(&self, model: &Walloc, lr: f64) -> ModuleLearningRate {
        crate::step_lr(lr, model.entropy_bottleneck.quantiles.id)
    }

    fn validate(&mut self, model: &Walloc, device: &Device) -> Result<Vec<ValRow>> {
        let (rate, q, unit) = match &self.data {
            Data::Image { val, .. } if !val.is_empty() => {
                let (b, q) = validate_images(model, val, device);
                (b, q, "bpp")
            }
            Data::Audio { val, rate, .. } if !val.is_empty() => {
                let (k, s) = validate_audio(model, val, *rate, device);
                (k, s, "kbit/s")
            }
            _ => return Ok(Vec::new()),
        };
        Ok(vec![ValRow {
            kind: "val",
            level: "0".into(),
            lambda: self.cfg.lambda.to_string(),
            psnr: Some(q),
            rate: Some(rate),
            line: format!("  val: {rate:.4} {unit} {q:.2} dB"),
        }])
    }

    fn export(&self, model: &Walloc) -> Result<ModelFiles> {
        Ok(WallocModel::export("export", &self.cfg, model)?)
    }

    fn psnr(&self, mse: f64) -> f64 {
        crate::psnr(mse / (4.0 * self.peak * self.peak))
    }

    fn rate_unit(&self) -> &'static str {
        "bits/pos"
    }

    fn row_label(&self) -> (String, String) {
        ("0".into(), self.cfg.lambda.to_string())
    }
}

/// Mean estimated bpp and PSNR over center crops (multiples of `2^J`, at most 512²),
/// with rounding as the codec quantises.
fn validate_images(model: &Walloc, images: &[image::RgbImage], device: &Device) -> (f64, f64) {
    let m = 1u32 << model.levels;
    let (mut sb, mut sp) = (0.0, 0.0);
    for img in images {
        let Some((v, w, h)) = centre_crop_planes(img, 512, m, -0.5) else {
            continue;
        };
        let x = Tensor::<4>::from_data(TensorData::new(v, [1, 3, h, w]), device);
        let mut out = model.forward_eval(x.clone());
        out.x_hat = out.x_hat.clamp(-0.5, 0.5);
        let (mse, bits) = walloc_terms(&x, &out);
        sb += f64::from(bits.into_scalar::<f32>());
        sp += crate::psnr(f64::from(mse.into_scalar::<f32>()));
    }
    let n = images.len().max(1) as f64;
    (sb / n, sp / n)
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
    monitor: &mut dyn Monitor,
) -> (Walloc, f64, f64, f64) {
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
        let (q, bpp) = (crate::psnr(mse / (4.0 * peak * peak)), bits / pixels);
        let score = if lambda > 0.0 {
            lambda * dist_weight * mse + bpp
        } else {
            (q - 32.5).abs()
        };
        monitor.note(&format!(
            "  pca init: gain {g}: psnr {q:.2} dB, {bpp:.4} bpp (empirical)"
        ));
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
    let mut rng = Rng::new(7);
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
