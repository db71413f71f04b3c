//! The learned image codec: a hyperprior or factorized-prior model plus its frozen
//! integer priors.
//!
//! Sections of a hyperprior image file (see `docs/FORMAT.md` for the container):
//! - `ZHAT`: the hyper-latents `round(z − median)`, one table per channel.
//! - `YHAT`: the latents `round(y − μ)` (μ = 0 for the scale model), table chosen by
//!   the scale that `h_s` predicts from `ẑ`.
//!
//! A factorized-prior file holds only `YHAT`: `round(y − median)`, one table per channel
//! (the model's frozen densities).
//!
//! `h_s` runs in the fixed-order CPU kernel on both sides, so scale indices and means
//! are bit-identical whatever device ran `g_a` and `g_s`.

use image::RgbImage;
use ncodec_entropy::{decode as ent_decode, encode as ent_encode, scale_index};
use ncodec_models::burn::module::Module;
use ncodec_models::burn::prelude::*;
use ncodec_models::burn::store::ModuleRecord;
use ncodec_models::burn::tensor::Bytes;
use ncodec_models::cpu::{CpuNet, FeatureMap};
use ncodec_models::export::FrozenPriors;
use ncodec_models::factorized::{Factorized, FactorizedConfig};
use ncodec_models::hyperprior::{Hyperprior, HyperpriorConfig, to_f32_vec as to_vec};
use ncodec_models::refine::{RefineSettings, Tiling};
use sha2::{Digest, Sha256};

use crate::container::{Container, FORMAT_VERSION, Header, Limits, MediaInfo, Section, hex};
use crate::error::{Error, Result};

/// Spatial downsampling of `z` relative to the image (`y` is 16×, `z` 64×).
pub const PAD_MULTIPLE: usize = ncodec_models::hyperprior::Z_CELL;

/// The largest padded side [`ImageModel::encode`] refines whole (2048): the backward pass
/// keeps the whole image's activations, and a 2048 × 2048 encode with
/// `hp-mean-64-r5-wide` peaked at 2.0 GB resident with refinement (0.83 GB without). An
/// image with a longer side is refined in [`REFINE_TILING`] tiles.
pub const REFINE_WHOLE_MAX_SIDE: usize = 2048;

/// The tiles of an image refined in parts: 1024-pixel cores with 128 pixels of context.
pub const REFINE_TILING: Tiling = Tiling {
    core: 1024,
    halo: 128,
};

/// Independent entropy streams for `y` (lets decoding use several cores).
const Y_STREAMS: usize = 4;

/// A loaded image model ready to encode and decode.
#[derive(Debug)]
pub struct ImageModel {
    id: String,
    net: Net,
    priors: FrozenPriors,
    digest: [u8; 32],
    device: Device,
    refine: Option<Refinement>,
    refine_progress: Option<RefineProgress>,
}

/// Told `(done, total)` before the first tile and after each while
/// [`ImageModel::encode`] refines an image in tiles (see [`REFINE_WHOLE_MAX_SIDE`]), so
/// that a front end can show progress.
#[derive(Clone)]
pub struct RefineProgress(std::sync::Arc<dyn Fn(usize, usize) + Send + Sync>);

impl RefineProgress {
    /// Wraps `f`.
    pub fn new(f: impl Fn(usize, usize) + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(f))
    }
}

impl std::fmt::Debug for RefineProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefineProgress")
    }
}

/// Encoder-side latent refinement of a hyperprior model's files (see
/// [`ncodec_models::refine`]): the files stay ordinary files of the model, only encoding
/// takes longer.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Refinement {
    /// Gradient steps per image.
    pub steps: usize,
    /// Adam's initial step size (decays linearly to zero).
    pub lr: f64,
}

impl Refinement {
    /// The default step size, chosen on eight `images-val` photos (see
    /// `hp-mean-64-r5-wide`'s model card).
    pub const DEFAULT_LR: f64 = 0.01;

    /// `steps` steps at the default step size.
    pub fn steps(steps: usize) -> Self {
        Self {
            steps,
            lr: Self::DEFAULT_LR,
        }
    }
}

/// A model config's `"factorized"` flag (absent: false). A factorized model's config
/// parses as a hyperprior's too, so the flag tells them apart.
pub(crate) fn is_factorized(config: &serde_json::Value) -> bool {
    config
        .get("factorized")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// The error for refinement asked of a model outside the hyperprior family.
pub(crate) fn refinement_unsupported(id: &str) -> Error {
    Error::InvalidArgument(format!(
        "model {id}: latent refinement needs a hyperprior model"
    ))
}

/// The transform of an [`ImageModel`].
#[derive(Debug)]
enum Net {
    /// Hyperprior, with `h_s` copied into the fixed-order CPU kernel.
    Hyperprior(Box<(HyperpriorConfig, Hyperprior, CpuNet)>),
    /// Factorized prior: `priors.z_tables` and `z_medians` are `y`'s.
    Factorized(Box<(FactorizedConfig, Factorized)>),
}

/// The image model configurations [`ImageModel::export`] takes.
#[derive(Debug, Clone, Copy)]
pub enum ImageNetRef<'a> {
    /// A hyperprior model.
    Hyperprior(&'a HyperpriorConfig, &'a Hyperprior),
    /// A factorized-prior model.
    Factorized(&'a FactorizedConfig, &'a Factorized),
}

/// What [`ImageModel::encode`] returns besides the bytes.
#[derive(Debug, Clone)]
pub struct EncodeStats {
    /// Bits the integer tables assign to the symbols (the model's estimate of the rate).
    pub estimated_bits: f64,
    /// Real size in bytes of the whole file.
    pub bytes: usize,
}

/// Digest of a model: SHA-256 over its config, weights and tables, each length-prefixed.
pub fn model_digest(config: &[u8], weights: &[u8], tables: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [config, weights, tables] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().into()
}

impl ImageModel {
    /// Loads a model from its three files' bytes.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if a part does not parse or does not fit the config.
    pub fn from_parts(
        id: &str,
        config: &[u8],
        weights: &[u8],
        tables: &[u8],
        device: &Device,
    ) -> Result<Self> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            Error::InvalidArgument(format!("model {id}: {what}: {e}"))
        };
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights.to_vec()))
            .map_err(|e| bad("weights", &e))?;
        let priors = FrozenPriors::from_bytes(tables).map_err(|e| bad("tables", &e))?;
        let factorized = is_factorized(
            &serde_json::from_slice::<serde_json::Value>(config).map_err(|e| bad("config", &e))?,
        );
        let (net, density_channels) = if factorized {
            let cfg: FactorizedConfig =
                serde_json::from_slice(config).map_err(|e| bad("config", &e))?;
            let model = cfg
                .init(device)
                .try_load_record(record)
                .map_err(|e| bad("weights", &e))?;
            let c = model.latent_channels();
            (Net::Factorized(Box::new((cfg, model))), c)
        } else {
            let cfg: HyperpriorConfig =
                serde_json::from_slice(config).map_err(|e| bad("config", &e))?;
            let model = cfg
                .init(device)
                .try_load_record(record)
                .map_err(|e| bad("weights", &e))?;
            let c = model.hyper_channels();
            let h_s = model.h_s_cpu();
            (Net::Hyperprior(Box::new((cfg, model, h_s))), c)
        };
        if priors.z_tables.len() != density_channels {
            return Err(bad("tables", &"channel count differs from the weights"));
        }
        Ok(Self {
            id: id.to_string(),
            digest: model_digest(config, weights, tables),
            net,
            priors,
            device: device.clone(),
            refine: None,
            refine_progress: None,
        })
    }

    /// Serialises a (trained) model into the three parts `from_parts` reads, freezing its
    /// priors. This is the export step; its output is what gets committed.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the priors cannot be frozen or weights not written.
    pub fn export(net: ImageNetRef<'_>) -> Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
        let fail = |e: &dyn std::fmt::Display| Error::InvalidArgument(format!("export: {e}"));
        let (cfg, eb, record) = match net {
            ImageNetRef::Hyperprior(c, m) => (
                serde_json::to_vec_pretty(c),
                &m.entropy_bottleneck,
                m.clone().into_record().into_bytes(),
            ),
            ImageNetRef::Factorized(c, m) => (
                serde_json::to_vec_pretty(c),
                &m.entropy_bottleneck,
                m.clone().into_record().into_bytes(),
            ),
        };
        let priors = FrozenPriors::from_bottleneck(eb).map_err(|e| fail(&e))?;
        let weights = record.map_err(|e| fail(&e))?;
        Ok((
            cfg.expect("serialisable"),
            weights.to_vec(),
            priors.to_bytes(),
        ))
    }

    /// The model id written into files.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Number of quality levels (`0..levels`).
    pub fn levels(&self) -> usize {
        match &self.net {
            Net::Hyperprior(b) => b.1.levels(),
            Net::Factorized(b) => b.1.levels(),
        }
    }

    /// SHA-256 of config, weights and tables.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// The configuration of a hyperprior model (`None` for a factorized prior).
    pub fn config(&self) -> Option<&HyperpriorConfig> {
        match &self.net {
            Net::Hyperprior(b) => Some(&b.0),
            Net::Factorized(_) => None,
        }
    }

    /// Makes [`ImageModel::encode`] refine each image's latents before coding them
    /// (`None`, or 0 steps, turns it off).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a factorized-prior model (it has no refinement) or
    /// a step size that is not finite and positive.
    pub fn set_refinement(&mut self, refine: Option<Refinement>) -> Result<()> {
        if let Some(r) = refine {
            if self.is_factorized() {
                return Err(refinement_unsupported(&self.id));
            }
            if !(r.lr.is_finite() && r.lr > 0.0) {
                return Err(Error::InvalidArgument(format!(
                    "refinement step size {} is not a positive number",
                    r.lr
                )));
            }
        }
        self.refine = refine.filter(|r| r.steps > 0);
        Ok(())
    }

    /// The refinement [`ImageModel::encode`] applies, if any.
    pub fn refinement(&self) -> Option<Refinement> {
        self.refine
    }

    /// Makes [`ImageModel::encode`] report each tile of a refinement done in tiles.
    pub fn set_refine_progress(&mut self, progress: Option<RefineProgress>) {
        self.refine_progress = progress;
    }

    /// True for a factorized-prior model (no hyper-latents).
    pub fn is_factorized(&self) -> bool {
        matches!(self.net, Net::Factorized(_))
    }

    /// Encodes an 8-bit RGB image at `quality` (a level index).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty image or a quality out of range.
    pub fn encode(&self, img: &RgbImage, quality: u8) -> Result<(Vec<u8>, EncodeStats)> {
        self.encode_with_channels(img, 3, quality)
    }

    /// Like [`ImageModel::encode`], recording `channels` (1, 3 or 4) as the layout to
    /// restore on decode (see [`prepare_input`]).
    ///
    /// # Errors
    /// As [`ImageModel::encode`].
    pub fn encode_with_channels(
        &self,
        img: &RgbImage,
        channels: u8,
        quality: u8,
    ) -> Result<(Vec<u8>, EncodeStats)> {
        let level = usize::from(quality);
        if level >= self.levels() {
            return Err(Error::InvalidArgument(format!(
                "quality {quality} out of range 0..={} for model {}",
                self.levels() - 1,
                self.id
            )));
        }
        let (w, h) = (img.width() as usize, img.height() as usize);
        if w == 0 || h == 0 {
            return Err(Error::InvalidArgument("empty image".into()));
        }
        let (pw, ph) = (
            w.div_ceil(PAD_MULTIPLE) * PAD_MULTIPLE,
            h.div_ceil(PAD_MULTIPLE) * PAD_MULTIPLE,
        );
        let x = Tensor::<4>::from_data(
            TensorData::new(pad_replicate(img, pw, ph), [1, 3, ph, pw]),
            &self.device,
        );
        let (sections, est) = match &self.net {
            Net::Hyperprior(b) => self.encode_hyperprior((&b.0, &b.1, &b.2), x, level, (h, w))?,
            Net::Factorized(b) => {
                let y = b.1.g_a(x, level);
                let [_, m, yh, yw] = y.dims();
                let (sym, idx) = self.per_channel_symbols(&to_vec(y), m, yh * yw);
                let est = self.priors.z_tables.estimate_bits(&sym, &idx)?;
                let ys = ent_encode(&self.priors.z_tables, &sym, &idx, Y_STREAMS.min(sym.len()))?;
                let section = Section {
                    tag: *b"YHAT",
                    data: ys,
                };
                (vec![section], est)
            }
        };
        let header = image_header(&self.id, self.digest, quality, w as u32, h as u32, channels);
        let bytes = Container { header, sections }.to_bytes()?;
        let stats = EncodeStats {
            estimated_bits: est,
            bytes: bytes.len(),
        };
        Ok((bytes, stats))
    }

    /// Symbols `round(v − median_c)` of `values` (`channels` planes of `per` values) and
    /// their per-channel table indexes.
    fn per_channel_symbols(
        &self,
        values: &[f32],
        channels: usize,
        per: usize,
    ) -> (Vec<i32>, Vec<u16>) {
        let meds = &self.priors.z_medians;
        let sym = values
            .iter()
            .enumerate()
            .map(|(i, &v)| (v - meds[i / per]).round() as i32)
            .collect();
        (sym, channel_indexes(channels * per, per))
    }

    /// `symbol + median_c` of per-channel symbols (`per` values a channel): the inverse
    /// of [`ImageModel::per_channel_symbols`].
    fn add_medians(&self, sym: &[i32], per: usize) -> Vec<f32> {
        let meds = &self.priors.z_medians;
        sym.iter()
            .enumerate()
            .map(|(i, &s)| s as f32 + meds[i / per])
            .collect()
    }

    /// `ZHAT` and `YHAT` of a hyperprior model, and the estimated bits.
    fn encode_hyperprior(
        &self,
        (cfg, model, h_s): (&HyperpriorConfig, &Hyperprior, &CpuNet),
        x: Tensor<4>,
        level: usize,
        valid: (usize, usize),
    ) -> Result<(Vec<Section>, f64)> {
        let y = match self.refine {
            Some(r) => {
                let settings = RefineSettings {
                    steps: r.steps,
                    lr: r.lr,
                    lambda: cfg.lambdas[level],
                };
                let [_, _, ph, pw] = x.dims();
                if ph.max(pw) <= REFINE_WHOLE_MAX_SIDE {
                    model.refine_latents(x, level, valid, settings).y
                } else {
                    let report = |done, total| {
                        if let Some(p) = &self.refine_progress {
                            (p.0)(done, total);
                        }
                    };
                    model
                        .refine_latents_tiled(x, level, valid, settings, REFINE_TILING, &report)
                        .y
                }
            }
            None => model.g_a(x, level),
        };
        let z = model.h_a(y.clone());
        let [_, m, yh, yw] = y.dims();
        let [_, n, zh, zw] = z.dims();
        let y = to_vec(y);
        // Hyper-latents: symbols relative to the medians, one table per channel.
        let (z_sym, z_idx) = self.per_channel_symbols(&to_vec(z), n, zh * zw);
        let (scales, means) = self.hyper_synthesis((model, h_s), &z_sym, n, zh, zw, m);
        let y_idx: Vec<u16> = scales
            .iter()
            .map(|&s| scale_index(&self.priors.scale_table, s))
            .collect();
        let y_sym: Vec<i32> = y
            .iter()
            .zip(&means)
            .map(|(&v, &mu)| (v - mu).round() as i32)
            .collect();
        debug_assert_eq!(y_sym.len(), m * yh * yw);
        let est = self.priors.z_tables.estimate_bits(&z_sym, &z_idx)?
            + self.priors.y_tables.estimate_bits(&y_sym, &y_idx)?;
        let zs = ent_encode(&self.priors.z_tables, &z_sym, &z_idx, 1)?;
        let ys = ent_encode(
            &self.priors.y_tables,
            &y_sym,
            &y_idx,
            Y_STREAMS.min(y_sym.len()),
        )?;
        let sections = vec![
            Section {
                tag: *b"ZHAT",
                data: zs,
            },
            Section {
                tag: *b"YHAT",
                data: ys,
            },
        ];
        Ok((sections, est))
    }

    /// `ẑ = symbol + median`, then `h_s` on the CPU; returns per-element scales and means
    /// of `y` (means all zero for the scale-only model).
    fn hyper_synthesis(
        &self,
        (model, h_s): (&Hyperprior, &CpuNet),
        z_sym: &[i32],
        n: usize,
        zh: usize,
        zw: usize,
        m: usize,
    ) -> (Vec<f32>, Vec<f32>) {
        let out = h_s.forward(FeatureMap {
            data: self.add_medians(z_sym, zh * zw),
            c: n,
            h: zh,
            w: zw,
        });
        let per = out.h * out.w;
        if model.mean_scale {
            let (s, mu) = out.data.split_at(m * per);
            (s.to_vec(), mu.to_vec())
        } else {
            (out.data, vec![0.0; m * per])
        }
    }

    /// Decodes a file written by [`ImageModel::encode`] with this model.
    ///
    /// # Errors
    /// Container errors, [`Error::UnknownModel`] / [`Error::ModelMismatch`] if the file
    /// was written by another model, [`Error::Corrupt`] for inconsistent payloads.
    pub fn decode(&self, bytes: &[u8], limits: &Limits) -> Result<RgbImage> {
        let c = Container::from_bytes(bytes, limits)?;
        self.decode_container(&c)
    }

    /// Decodes an already parsed container.
    ///
    /// # Errors
    /// As [`ImageModel::decode`].
    pub fn decode_container(&self, c: &Container) -> Result<RgbImage> {
        let h = &c.header;
        check_identity(h, &self.id, &self.digest)?;
        let (w, hgt) = image_size(h)?;
        let level = usize::from(h.quality);
        if level >= self.levels() {
            return Err(Error::Corrupt(format!(
                "quality {} out of range",
                h.quality
            )));
        }
        let (pw, ph) = (
            w.div_ceil(PAD_MULTIPLE) * PAD_MULTIPLE,
            hgt.div_ceil(PAD_MULTIPLE) * PAD_MULTIPLE,
        );
        let (yh, yw) = (ph / 16, pw / 16);
        let x_hat = match &self.net {
            Net::Hyperprior(b) => {
                let model = &b.1;
                let (m, n) = (model.latent_channels(), model.hyper_channels());
                let (zh, zw) = (ph / PAD_MULTIPLE, pw / PAD_MULTIPLE);
                let z_idx = channel_indexes(n * zh * zw, zh * zw);
                let z_sym = ent_decode(&self.priors.z_tables, c.section(b"ZHAT")?, &z_idx)?;
                let (scales, means) = self.hyper_synthesis((model, &b.2), &z_sym, n, zh, zw, m);
                let y_idx: Vec<u16> = scales
                    .iter()
                    .map(|&s| scale_index(&self.priors.scale_table, s))
                    .collect();
                let y_sym = ent_decode(&self.priors.y_tables, c.section(b"YHAT")?, &y_idx)?;
                let y_hat: Vec<f32> = y_sym
                    .iter()
                    .zip(&means)
                    .map(|(&s, &mu)| s as f32 + mu)
                    .collect();
                let y_hat =
                    Tensor::<4>::from_data(TensorData::new(y_hat, [1, m, yh, yw]), &self.device);
                to_vec(model.g_s(y_hat, level))
            }
            Net::Factorized(b) => {
                let model = &b.1;
                let m = model.latent_channels();
                let per = yh * yw;
                let idx = channel_indexes(m * per, per);
                let sym = ent_decode(&self.priors.z_tables, c.section(b"YHAT")?, &idx)?;
                let y_hat = self.add_medians(&sym, per);
                let y_hat =
                    Tensor::<4>::from_data(TensorData::new(y_hat, [1, m, yh, yw]), &self.device);
                to_vec(model.g_s(y_hat, level))
            }
        };
        Ok(crop_to_rgb8(&x_hat, pw, ph, w, hgt))
    }
}

/// Table indexes of `len` channel-major values, `per` a channel: symbol `i` uses the
/// table of channel `i / per`.
pub(crate) fn channel_indexes(len: usize, per: usize) -> Vec<u16> {
    (0..len).map(|i| (i / per.max(1)) as u16).collect()
}

/// Checks that a file was written by the loaded model `id` with digest `digest`.
///
/// # Errors
/// [`Error::UnknownModel`] for another id, [`Error::ModelMismatch`] for other weights.
pub(crate) fn check_identity(h: &Header, id: &str, digest: &[u8; 32]) -> Result<()> {
    if h.model_id != id {
        return Err(Error::UnknownModel(h.model_id.clone()));
    }
    if &h.model_digest != digest {
        return Err(Error::ModelMismatch {
            model: id.to_string(),
            file: hex(&h.model_digest),
            ours: hex(digest),
        });
    }
    Ok(())
}

/// Width and height of an 8-bit image file of 1, 3 or 4 channels.
///
/// # Errors
/// [`Error::Unsupported`] for other media.
pub(crate) fn image_size(h: &Header) -> Result<(usize, usize)> {
    match h.media {
        MediaInfo::Image {
            width,
            height,
            channels: 1 | 3 | 4,
            bit_depth: 8,
        } => Ok((width as usize, height as usize)),
        _ => Err(Error::Unsupported(format!(
            "{:?} is not an 8-bit RGB image",
            h.media
        ))),
    }
}

/// The header of an 8-bit image file.
pub(crate) fn image_header(
    model_id: &str,
    digest: [u8; 32],
    quality: u8,
    width: u32,
    height: u32,
    channels: u8,
) -> Header {
    Header {
        version: FORMAT_VERSION,
        flags: 0,
        model_id: model_id.to_string(),
        model_digest: digest,
        quality,
        media: MediaInfo::Image {
            width,
            height,
            channels,
            bit_depth: 8,
        },
    }
}

/// The image as `[3, ph, pw]` planes in `[0, 1]`, padded by repeating the last row and
/// column (cheaper to code than a hard zero border). The one padding helper.
pub fn pad_replicate(img: &RgbImage, pw: usize, ph: usize) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let mut out = vec![0f32; 3 * pw * ph];
    for y in 0..ph {
        let sy = y.min(h - 1);
        for x in 0..pw {
            let sx = x.min(w - 1);
            let p = &raw[(sy * w + sx) * 3..(sy * w + sx) * 3 + 3];
            for c in 0..3 {
                out[(c * ph + y) * pw + x] = f32::from(p[c]) / 255.0;
            }
        }
    }
    out
}

/// Crops `[3, ph, pw]` planes to `w × h` and rounds to 8-bit RGB.
pub fn crop_to_rgb8(planes: &[f32], pw: usize, ph: usize, w: usize, h: usize) -> RgbImage {
    let mut raw = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let v = planes[(c * ph + y) * pw + x];
                raw.push((v * 255.0).round().clamp(0.0, 255.0) as u8);
            }
        }
    }
    RgbImage::from_raw(w as u32, h as u32, raw).expect("sized buffer")
}

/// Converts a decoded input image to the RGB the model codes, with the channel count to
/// restore on decode.
///
/// 8-bit RGB is coded as is, 8-bit grayscale as gray RGB (decoded back to grayscale), and
/// RGBA/gray-alpha only when fully opaque (decoded with opaque alpha).
///
/// # Errors
/// [`Error::Unsupported`] for 16-bit or float images and for images with transparency:
/// this codec would silently lose that information.
pub fn prepare_input(img: &image::DynamicImage) -> Result<(RgbImage, u8)> {
    use image::DynamicImage as D;
    match img {
        D::ImageRgb8(i) => Ok((i.clone(), 3)),
        D::ImageLuma8(_) => Ok((img.to_rgb8(), 1)),
        D::ImageRgba8(i) => {
            if i.pixels().all(|p| p[3] == 255) {
                Ok((img.to_rgb8(), 4))
            } else {
                Err(Error::Unsupported(
                    "images with transparency (alpha < 255) cannot be coded; flatten them first"
                        .into(),
                ))
            }
        }
        D::ImageLumaA8(i) => {
            if i.pixels().all(|p| p[1] == 255) {
                Ok((img.to_rgb8(), 1))
            } else {
                Err(Error::Unsupported(
                    "images with transparency (alpha < 255) cannot be coded; flatten them first"
                        .into(),
                ))
            }
        }
        other => Err(Error::Unsupported(format!(
            "{:?} images are not supported: ncodec codes 8-bit images; convert to 8-bit first",
            other.color()
        ))),
    }
}

/// Restores the channel layout recorded at encode time.
pub fn restore_channels(rgb: RgbImage, channels: u8) -> image::DynamicImage {
    let d = image::DynamicImage::ImageRgb8(rgb);
    match channels {
        1 => image::DynamicImage::ImageLuma8(d.to_luma8()),
        4 => image::DynamicImage::ImageRgba8(d.to_rgba8()),
        _ => d,
    }
}
