//! Training of the learned post-filter of the wavelet codec (`ncodec train postfilter`).
//!
//! Each step picks one quality level, cuts random crops from the training photos, codes
//! and decodes each crop with the classic [`WaveletCodec`] (real files: the filter learns
//! the artifacts the decoder really makes), and trains the filter to map the decoded
//! centre of the crop back to the original with `255²·MSE`. The crop is the patch plus
//! [`MARGIN`] pixels on every side, so the patch's artifacts are not those of a crop
//! border. Validation: PSNR of the decoded and of the filtered centre crops of the
//! validation photos, at the lowest, middle and highest trained levels.

use image::RgbImage;
use ncodec::codec::{EncodeOptions, ModelFiles};
use ncodec::container::{Container, Limits};
use ncodec::families::wavelet::{WaveletCodec, step as level_step};
use ncodec::media::image::{Image, centred_planes, planes_to_rgb8};
use ncodec::models::burn::prelude::*;
use ncodec::models::cpu::to_f32_vec;
use ncodec::models::postfilter::PostFilter;
use ncodec_datasets::Rng;

use crate::data::{training_images, validation_images};
use crate::error::{Error, Result};
use crate::{Monitor, PostFilterOptions, Step, Task, TrainOptions, ValRow};

/// Pixels coded around each training patch.
pub const MARGIN: u32 = 32;

/// `img` coded at `quality` and decoded (the codec's real files and reconstruction).
fn coded(codec: &WaveletCodec, img: &RgbImage, quality: u8) -> Result<RgbImage> {
    let file = codec.encode_image(
        &Image::rgb(img.clone()),
        &EncodeOptions::new().quality(quality),
    )?;
    Ok(codec.decode_image(&Container::from_bytes(&file.bytes, &Limits::default())?)?)
}

/// The post-filter's [`Task`].
struct PostFilterTask {
    opts: PostFilterOptions,
    codec: WaveletCodec,
    images: Vec<RgbImage>,
    val: Vec<RgbImage>,
    rng: Rng,
    seed: u64,
    patch: u32,
    batch: usize,
}

/// Trains (or resumes) a post-filter.
pub(crate) fn train(
    opts: &TrainOptions,
    p: &PostFilterOptions,
    device: &Device,
    monitor: &mut dyn Monitor,
) -> Result<()> {
    let patch =
        u32::try_from(opts.patch).map_err(|_| Error::Invalid("patch size too large".into()))?;
    let c = patch + 2 * MARGIN;
    let images: Vec<RgbImage> = training_images(&opts.data, opts.jpeg_downscale, monitor)?
        .into_iter()
        .filter(|i| i.width() >= c && i.height() >= c)
        .collect();
    if images.is_empty() {
        return Err(Error::Invalid(format!(
            "no training image is at least {c}×{c}"
        )));
    }
    let mut task = PostFilterTask {
        opts: p.clone(),
        codec: WaveletCodec::classic(p.extension),
        images,
        val: validation_images(opts.val.as_ref())?,
        rng: Rng::new(0),
        seed: opts.seed,
        patch,
        batch: opts.batch,
    };
    let config = serde_json::to_vec_pretty(&p.model).expect("serialisable");
    crate::run(&mut task, opts, &config, device, monitor)
}

impl PostFilterTask {
    /// One training item: a crop coded at `quality`, its decoded and original centres.
    fn item(&mut self, quality: u8) -> Result<(Vec<f32>, Vec<f32>)> {
        let (rng, patch) = (&mut self.rng, self.patch);
        let img = &self.images[rng.below(self.images.len() as u64) as usize];
        let c = patch + 2 * MARGIN;
        let x = rng.below(u64::from(img.width() - c + 1)) as u32;
        let y = rng.below(u64::from(img.height() - c + 1)) as u32;
        let mut crop = image::imageops::crop_imm(img, x, y, c, c).to_image();
        if rng.below(2) == 1 {
            image::imageops::flip_horizontal_in_place(&mut crop);
        }
        let decoded = coded(&self.codec, &crop, quality)?;
        let centre = |i: &RgbImage| {
            centred_planes(&image::imageops::crop_imm(i, MARGIN, MARGIN, patch, patch).to_image())
        };
        Ok((centre(&decoded), centre(&crop)))
    }
}

impl Task for PostFilterTask {
    type Model = PostFilter;

    fn init(&mut self, device: &Device) -> Result<PostFilter> {
        Ok(self.opts.model.init(device))
    }

    fn seed(&mut self, step: u64) -> Result<()> {
        self.rng = Rng::new(self.seed ^ step.wrapping_mul(0x9E37_79B9));
        Ok(())
    }

    fn step(&mut self, model: &PostFilter, _step: u64, device: &Device) -> Result<Step> {
        let qualities = &self.opts.qualities;
        let q = qualities[self.rng.below(qualities.len() as u64) as usize];
        let (p, n) = (self.patch as usize, self.batch);
        let (mut xs, mut ys) = (Vec::with_capacity(n * 3 * p * p), Vec::new());
        for _ in 0..n {
            let (x, y) = self.item(q)?;
            xs.extend(x);
            ys.extend(y);
        }
        let x = Tensor::<4>::from_data(TensorData::new(xs, [n, 3, p, p]), device);
        let y = Tensor::<4>::from_data(TensorData::new(ys, [n, 3, p, p]), device);
        let before = (x.clone() - y.clone()).square().mean();
        let mse = (model.forward(x, f64::from(level_step(q)?)) - y)
            .square()
            .mean();
        let dist_weight = 255.0 * 255.0;
        Ok(Step {
            loss: mse.clone().mul_scalar(dist_weight),
            mse,
            dist_weight,
            rate: None,
            aux: None,
            baseline_mse: Some(before),
        })
    }

    fn validate(&mut self, model: &PostFilter, device: &Device) -> Result<Vec<ValRow>> {
        if self.val.is_empty() {
            return Ok(Vec::new());
        }
        // The lowest, middle and highest trained levels.
        let mut levels = self.opts.qualities.clone();
        levels.sort_unstable();
        levels = vec![
            levels[0],
            levels[levels.len() / 2],
            levels[levels.len() - 1],
        ];
        levels.dedup();
        let mut rows = Vec::new();
        for q in levels {
            let (b, a) = self.validate_level(model, q, device)?;
            rows.push(ValRow {
                kind: "val",
                level: q.to_string(),
                lambda: String::new(),
                psnr: Some(a),
                rate: None,
                line: format!(
                    "  val q{q}: decoded {b:.3} dB, filtered {a:.3} dB ({:+.3})",
                    a - b
                ),
            });
        }
        Ok(rows)
    }

    fn export(&self, model: &PostFilter) -> Result<ModelFiles> {
        Ok(WaveletCodec::export_filter(
            "export",
            &self.opts.model,
            self.opts.extension,
            model,
        )?)
    }

    fn rate_unit(&self) -> &'static str {
        ""
    }
}

impl PostFilterTask {
    /// Mean PSNR of the decoded and of the filtered centre crops (at most 512²,
    /// multiples of 32) of the validation photos coded at `quality`.
    fn validate_level(
        &self,
        model: &PostFilter,
        quality: u8,
        device: &Device,
    ) -> Result<(f64, f64)> {
        let (mut sb, mut sa, mut n) = (0.0, 0.0, 0f64);
        for img in &self.val {
            let w = img.width().min(512) / 32 * 32;
            let h = img.height().min(512) / 32 * 32;
            if w == 0 || h == 0 {
                continue;
            }
            let crop =
                image::imageops::crop_imm(img, (img.width() - w) / 2, (img.height() - h) / 2, w, h)
                    .to_image();
            let decoded = coded(&self.codec, &crop, quality)?;
            let (wu, hu) = (w as usize, h as usize);
            let x = Tensor::<4>::from_data(
                TensorData::new(centred_planes(&decoded), [1, 3, hu, wu]),
                device,
            );
            let y = model.forward(x, f64::from(level_step(quality)?));
            let filtered = planes_to_rgb8(&to_f32_vec(y), wu, hu);
            sb += ncodec::metrics::psnr_rgb(&crop, &decoded)?;
            sa += ncodec::metrics::psnr_rgb(&crop, &filtered)?;
            n += 1.0;
        }
        Ok((sb / n.max(1.0), sa / n.max(1.0)))
    }
}
