//! The WaLLoC codec: a [`Walloc`] model plus its frozen per-channel latent tables.
//!
//! An image file holds one section, `LATS`: the companded latents quantised with the
//! step of the file's quality level ([`image_step`]), context-coded by
//! [`crate::families::walloc::latent_context`] (prediction from decoded neighbours, per-image Laplace
//! scales for the magnitudes, adaptive sign models), or, for a model with a learned
//! latent context model ([`WallocModel::with_context`]), `LATL`
//! ([`crate::families::walloc::latent_learned`]) when that is smaller. Older files hold `LATQ` (the same
//! without sign models) or, from before quality levels, `LATC` (that at step 1, quality
//! byte 0); they still decode. Audio files hold one `CHNK` section per chunk
//! (see the `audio` submodule), each coded with the model's frozen per-channel tables
//! (the learned factorized prior). Either way every probability comes from integer
//! arithmetic on decoded symbols, so files decode identically on any device.
//!
//! The same latents are available without synthesis, for compressed-domain learning:
//! [`WallocModel::image_latents`], [`WallocModel::audio_latents`],
//! [`WallocModel::latents_of_file`] and [`WallocModel::latents_tensor`].

use image::RgbImage;
use ncodec_entropy::{
    BitWriter, CdfTables, decode as ent_decode, encode as ent_encode, least_decision_bits,
};
use ncodec_models::burn::prelude::*;
use ncodec_models::cpu::to_f32_vec as to_vec;
use ncodec_models::export::factorized_tables;
use ncodec_models::walloc::{Walloc, WallocConfig};
use ncodec_models::wavelet::{iwpt2_cpu, wpt2_cpu};

mod audio;
pub mod latent_context;
pub mod latent_learned;

pub use audio::{CHUNK_POSITIONS, Chunk, OVERLAP_POSITIONS, chunk_plan, chunk_weight};

use self::latent_context::{LatentCoding, decode_planes, encode_planes};
use self::latent_learned::LatentContextModel;
use crate::codec::{
    Codec, CodecInfo, EncodeOptions, Encoded, Family, Input, LatentArray, LatentSource, MediaSink,
    ModelFiles, model_digest, sink_image, weights_file,
};
use crate::container::{Container, Header, Limits, Section};
use crate::context::adaptive::ContextCoder;
use crate::context::planes::{add_residual, colour_transform, decode_residual, prune, quantise};
use crate::context::{binary_stream, channel_indexes, legacy_room};
use crate::error::{Error, Result};
use crate::media::MediaKind;
use crate::media::image::{Image, crop_to_rgb8, pad_replicate};

/// Independent entropy streams for the latents.
const STREAMS: usize = 4;

/// Quality levels of WaLLoC image files (`0..IMAGE_LEVELS`): [`BASE_LEVELS`] levels of
/// latents alone, then refinement levels that add a wavelet-domain residual (quantised by
/// [`crate::context::planes`], coded since section `RESA` by
/// [`crate::context::adaptive::ContextCoder`]; on the validation photos that saved 2.0–5.1 %
/// of the files at levels 8–14 against the table coder of `RESQ`).
pub const IMAGE_LEVELS: u8 = BASE_LEVELS + REFINEMENT_STEPS.len() as u8;

/// Levels `0..BASE_LEVELS` code the latents alone.
pub const BASE_LEVELS: u8 = 8;

/// The base level whose step is 1: the latents the model was trained to round.
pub const UNIT_STEP_QUALITY: u8 = 4;

/// The default level of WaLLoC image files: a refinement level, 0.52 bpp and 30.2 dB on Kodak with
/// `walloc-rgb-16x-r1` (its model card).
pub const DEFAULT_IMAGE_QUALITY: u8 = 10;

/// Quantisation steps of the base levels, `2^((4 − q)/2)`: each level up halves the
/// step's square. Exact `f32` constants, so encoders agree on every machine.
const IMAGE_STEPS: [f32; BASE_LEVELS as usize] = [
    4.0,
    2.0 * std::f32::consts::SQRT_2,
    2.0,
    std::f32::consts::SQRT_2,
    1.0,
    std::f32::consts::FRAC_1_SQRT_2,
    0.5,
    0.5 * std::f32::consts::FRAC_1_SQRT_2,
];

/// A refinement level: the base level of its latents and the residual's step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refinement {
    /// The base level (`0..BASE_LEVELS`) whose latents the file holds.
    pub base: u8,
    /// Quantisation step of the colour-transformed wavelet residual, in 8-bit pixel units
    /// (the coefficients' scale is that of the pixels, the packet being orthonormal).
    pub step: f32,
}

/// The base level of every refinement level: its latents cost 0.27 bpp on Kodak; levels
/// 2 and 4 were within 1 % of it on the validation photos (model card).
const REFINEMENT_BASE: u8 = 3;

/// Residual steps of the refinement levels `BASE_LEVELS..IMAGE_LEVELS`, coarse to fine,
/// in 8-bit units.
const REFINEMENT_STEPS: [f32; 8] = [96.0, 70.0, 52.0, 38.0, 28.0, 20.0, 15.0, 11.0];

/// The encoder's rate–distortion trade-off when it prunes isolated ±1 residual values
/// ([`crate::context::planes::prune`]): on the 24 validation photos 0.12 and 0.16 saved about
/// 2.4 % of the rate at equal PSNR, 0.08 1.4 % and 0.25 0.2 %. Only the encoder uses it.
const PRUNE_LAMBDA: f64 = 0.14;

fn out_of_range(quality: u8) -> Error {
    Error::InvalidArgument(format!(
        "quality {quality} out of range 0..={} (WaLLoC image levels)",
        IMAGE_LEVELS - 1
    ))
}

/// The refinement of image quality level `quality`: `None` for a base level.
///
/// # Errors
/// [`Error::InvalidArgument`] for a level outside `0..IMAGE_LEVELS`.
pub fn refinement(quality: u8) -> Result<Option<Refinement>> {
    match quality.checked_sub(BASE_LEVELS) {
        None => Ok(None),
        Some(i) => REFINEMENT_STEPS
            .get(usize::from(i))
            .map(|&step| {
                Some(Refinement {
                    base: REFINEMENT_BASE,
                    step,
                })
            })
            .ok_or_else(|| out_of_range(quality)),
    }
}

/// The latents' quantisation step of image quality level `quality` (a refinement level's
/// is its base level's): the encoder rounds `companded / step`, the decoder feeds
/// `integer · step` to the synthesis network.
///
/// # Errors
/// [`Error::InvalidArgument`] for a level outside `0..IMAGE_LEVELS`.
pub fn image_step(quality: u8) -> Result<f32> {
    let base = refinement(quality)?.map_or(quality, |r| r.base);
    Ok(IMAGE_STEPS[usize::from(base)])
}

/// Integer latents of one signal, `[channels, height, width]` row-major (audio: height 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Latents {
    /// Latent channels.
    pub channels: usize,
    /// Rows (1 for audio).
    pub height: usize,
    /// Columns (latent time steps for audio).
    pub width: usize,
    /// The values, channel-major.
    pub values: Vec<i32>,
    /// Quantisation step: the decoder's input is `values · step` (1 for audio and for
    /// images at [`UNIT_STEP_QUALITY`]).
    pub step: f32,
}

/// The family's name in a model folder's manifest.
pub const FAMILY: &str = "walloc";

/// The WaLLoC family: images (`dims = 2`) and audio (`dims = 1`).
#[derive(Debug, Clone, Copy)]
pub struct WallocFamily;

impl Family for WallocFamily {
    fn name(&self) -> &'static str {
        FAMILY
    }

    fn load(&self, files: &ModelFiles, device: &Device) -> Result<Box<dyn Codec>> {
        Ok(Box::new(WallocModel::from_files(files, device)?))
    }

    fn has_latents(&self) -> bool {
        true
    }

    fn describe_quality(&self, quality: u8, tags: &[[u8; 4]]) -> Option<String> {
        if !tags
            .iter()
            .any(|t| matches!(t, b"LATS" | b"LATQ" | b"LATL"))
        {
            return None;
        }
        let s = image_step(quality).ok()?;
        Some(match refinement(quality).ok()? {
            Some(r) => format!(
                "quantisation step {s} of level {}, residual step {} in 8-bit units",
                r.base, r.step
            ),
            None => format!("quantisation step {s}"),
        })
    }
}

/// A loaded WaLLoC model ready to encode and decode.
#[derive(Debug)]
pub struct WallocModel {
    info: CodecInfo,
    config: WallocConfig,
    model: Walloc,
    tables: CdfTables,
    device: Device,
    context: Option<LatentContextModel>,
}

impl WallocModel {
    /// Loads a model from its files: `model.json`, `weights.bpk`, `tables.bin`, and an
    /// image model's learned latent context model `context.bin` when there is one
    /// ([`WallocModel::with_context`]).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if a file is missing, does not parse or does not fit
    /// the config.
    pub fn from_files(files: &ModelFiles, device: &Device) -> Result<Self> {
        let (config, weights, tables) = (
            files.require("model.json")?,
            files.require("weights.bpk")?,
            files.require("tables.bin")?,
        );
        let bad = |what: &str, e: &dyn std::fmt::Display| files.bad(what, e);
        let cfg: WallocConfig = serde_json::from_slice(config).map_err(|e| bad("config", &e))?;
        if !(cfg.dims == 1 || cfg.dims == 2)
            || !cfg.nd.is_multiple_of(32)
            || cfg.levels > 12
            || !(2..=16).contains(&cfg.latent_bits)
        {
            return Err(bad("config", &"unsupported dimensions"));
        }
        let model = files.load_weights(cfg.init(device))?;
        let cdf = CdfTables::from_bytes(tables).map_err(|e| bad("tables", &e))?;
        if cdf.len() != cfg.latent_dim {
            return Err(bad("tables", &"channel count differs from the config"));
        }
        let digest = model_digest(config, weights, tables);
        let info = if cfg.dims == 1 {
            files.info(FAMILY, MediaKind::Audio, 1, 0, digest)
        } else {
            files.info(
                FAMILY,
                MediaKind::Image,
                IMAGE_LEVELS,
                DEFAULT_IMAGE_QUALITY,
                digest,
            )
        };
        let m = Self {
            info,
            config: cfg,
            model,
            tables: cdf,
            device: device.clone(),
            context: None,
        };
        match files.get("context.bin") {
            Some(ctx) => m.with_context(LatentContextModel::from_bytes(ctx)?),
            None => Ok(m),
        }
    }

    /// Adds a learned latent context model (`context.bin`, [`latent_learned`]): image
    /// encoders then also try section `LATL` and keep whichever of it and `LATS` is
    /// smaller, and decoders read `LATL`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the context model has another channel count.
    pub fn with_context(mut self, context: LatentContextModel) -> Result<Self> {
        if context.channels() != self.config.latent_dim {
            return Err(Error::InvalidArgument(format!(
                "model {}: a {}-channel latent context model for {} latent channels",
                self.info.id,
                context.channels(),
                self.config.latent_dim
            )));
        }
        self.context = Some(context);
        Ok(self)
    }

    /// The learned latent context model, if the model has one.
    pub fn context(&self) -> Option<&LatentContextModel> {
        self.context.as_ref()
    }

    /// Serialises a trained model into the files [`WallocModel::from_files`] reads, with
    /// model id `id`, freezing the latent densities into integer tables.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the tables cannot be frozen or weights not written.
    pub fn export(id: &str, config: &WallocConfig, model: &Walloc) -> Result<ModelFiles> {
        let (tables, _) = factorized_tables(&model.entropy_bottleneck, true)
            .map_err(|e| Error::InvalidArgument(format!("export: {e}")))?;
        let weights = weights_file(model)?;
        let cfg = serde_json::to_vec_pretty(config).expect("serialisable");
        Ok(ModelFiles::new(
            id,
            FAMILY,
            vec![
                ("model.json", cfg.into()),
                ("weights.bpk", weights.into()),
                ("tables.bin", tables.to_bytes().into()),
            ],
        ))
    }

    /// The model's configuration.
    pub fn config(&self) -> &WallocConfig {
        &self.config
    }

    /// The Burn module (for compressed-domain work on the device).
    pub fn module(&self) -> &Walloc {
        &self.model
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    fn require_image(&self) -> Result<()> {
        if self.config.dims != 2 || self.config.channels != 3 {
            return Err(Error::Unsupported(format!(
                "model {} is not an RGB image model",
                self.info.id
            )));
        }
        Ok(())
    }

    /// Padded size of an image: the next multiples of `2^J`.
    fn padded(&self, w: usize, h: usize) -> (usize, usize) {
        let m = self.config.multiple();
        (w.div_ceil(m) * m, h.div_ceil(m) * m)
    }

    /// The integer latents of an 8-bit RGB image at step 1 (the model's own rounding,
    /// [`UNIT_STEP_QUALITY`]), without entropy coding.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty image, [`Error::Unsupported`] if this is
    /// not an image model.
    pub fn image_latents(&self, img: &RgbImage) -> Result<Latents> {
        self.image_latents_at(img, UNIT_STEP_QUALITY)
    }

    /// The largest latent magnitude at quantisation step `step`.
    fn max_at(&self, step: f32) -> i32 {
        (self.model.latent_max_int() as f32 / step).floor() as i32
    }

    /// The integer latents of an 8-bit RGB image quantised at the step of quality level
    /// `quality` ([`image_step`]), without entropy coding.
    ///
    /// # Errors
    /// As [`WallocModel::image_latents`], and [`Error::InvalidArgument`] for a quality
    /// level out of range.
    pub fn image_latents_at(&self, img: &RgbImage, quality: u8) -> Result<Latents> {
        let step = image_step(quality)?;
        let (xw, lh, lw) = self.wavelets(img)?;
        Ok(self.quantise_latents(&xw, lh, lw, step))
    }

    /// The wavelet packet coefficients of an 8-bit RGB image (padded, centred on zero),
    /// with the coefficient planes' height and width.
    fn wavelets(&self, img: &RgbImage) -> Result<(Vec<f32>, usize, usize)> {
        self.require_image()?;
        let (w, h) = (img.width() as usize, img.height() as usize);
        if w == 0 || h == 0 {
            return Err(Error::InvalidArgument("empty image".into()));
        }
        let (pw, ph) = self.padded(w, h);
        // The wavelet packet runs on the CPU (faster than convolutions for this), the rest
        // on the model's device.
        let planes: Vec<f32> = pad_replicate(img, pw, ph)
            .into_iter()
            .map(|v| v - 0.5)
            .collect();
        let j = self.config.levels;
        Ok((wpt2_cpu(&planes, 3, ph, pw, j), ph >> j, pw >> j))
    }

    /// Encoder transform and quantisation of wavelet coefficients at `step`.
    fn quantise_latents(&self, xw: &[f32], lh: usize, lw: usize, step: f32) -> Latents {
        let gain = self.model.wavelet_gain() as f32;
        let xw: Vec<f32> = xw.iter().map(|v| v / gain).collect();
        let c = self.config.wavelet_channels();
        let xw = Tensor::<4>::from_data(TensorData::new(xw, [1, c, lh, lw]), &self.device);
        let max = f64::from(self.max_at(step));
        let y = self
            .model
            .compand(xw)
            .div_scalar(step)
            .round()
            .clamp(-max, max);
        let [_, c, lh, lw] = y.dims();
        let values = to_vec(y).into_iter().map(|v| v as i32).collect();
        Latents {
            channels: c,
            height: lh,
            width: lw,
            values,
            step,
        }
    }

    /// Dequantised latents as a device tensor `[1, latent_dim, h, w]`: what a
    /// compressed-domain model consumes (values in the encoder's scale, before the
    /// decoder's first convolution).
    pub fn latents_tensor(&self, l: &Latents) -> Tensor<4> {
        self.model.expand(self.rounded_tensor(l))
    }

    /// The quantised latents as a device tensor `[1, channels, height, width]` (the
    /// companded values, integers times the step, that the decoder takes).
    fn rounded_tensor(&self, l: &Latents) -> Tensor<4> {
        Tensor::<4>::from_data(
            TensorData::new(
                l.values
                    .iter()
                    .map(|&v| v as f32 * l.step)
                    .collect::<Vec<_>>(),
                [1, l.channels, l.height, l.width],
            ),
            &self.device,
        )
    }

    /// Synthesises an image of `w × h` pixels from its latents.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the latents do not fit that size.
    pub fn image_from_latents(&self, l: &Latents, w: usize, h: usize) -> Result<RgbImage> {
        self.require_image()?;
        let (pw, ph) = self.padded(w, h);
        let m = self.config.multiple();
        if l.channels != self.config.latent_dim
            || l.height != ph / m
            || l.width != pw / m
            || l.values.len() != l.channels * l.height * l.width
        {
            return Err(Error::InvalidArgument(format!(
                "latents {}×{}×{} do not fit a {w}×{h} image",
                l.channels, l.height, l.width
            )));
        }
        Ok(self.pixels(&self.synthesise(l), l, w, h))
    }

    /// The decoder network on the model's device: wavelet coefficients in the scale of
    /// [`WallocModel::wavelets`].
    fn synthesise(&self, l: &Latents) -> Vec<f32> {
        let gain = self.model.wavelet_gain() as f32;
        to_vec(self.model.g_s(self.rounded_tensor(l)))
            .into_iter()
            .map(|v| v * gain)
            .collect()
    }

    /// The inverse packet transform on the CPU (much faster there than as transposed
    /// convolutions), cropped to `w × h` 8-bit pixels.
    fn pixels(&self, xw: &[f32], l: &Latents, w: usize, h: usize) -> RgbImage {
        let (pw, ph) = self.padded(w, h);
        let x: Vec<f32> = iwpt2_cpu(xw, 3, l.height, l.width, self.config.levels)
            .into_iter()
            .map(|v| v + 0.5)
            .collect();
        crop_to_rgb8(&x, pw, ph, w, h)
    }

    /// Entropy-codes latents with the frozen tables.
    ///
    /// # Errors
    /// Entropy-coder errors.
    pub fn code_latents(&self, l: &Latents) -> Result<(Vec<u8>, f64)> {
        let per = l.height * l.width;
        let idx = channel_indexes(l.values.len(), per);
        let est = self.tables.estimate_bits(&l.values, &idx)?;
        let bytes = ent_encode(
            &self.tables,
            &l.values,
            &idx,
            STREAMS.min(l.values.len().max(1)),
        )?;
        Ok((bytes, est))
    }

    fn decode_latent_section(&self, data: &[u8], height: usize, width: usize) -> Result<Latents> {
        let c = self.config.latent_dim;
        let per = height * width;
        let idx = channel_indexes(c * per, per);
        let values = ent_decode(&self.tables, data, &idx)?;
        let max = self.model.latent_max_int();
        if values.iter().any(|v| v.abs() > max) {
            return Err(Error::Corrupt("latent out of the model's range".into()));
        }
        Ok(Latents {
            channels: c,
            height,
            width,
            values,
            step: 1.0,
        })
    }

    /// Encodes an image as `options` say (quality levels `0..IMAGE_LEVELS`).
    ///
    /// # Errors
    /// As [`WallocModel::image_latents_at`]; [`Error::InvalidArgument`] for latent
    /// refinement (WaLLoC has none).
    pub fn encode_image(&self, image: &Image, options: &EncodeOptions) -> Result<Encoded> {
        options.refuse_refinement(&self.info)?;
        let quality = self.info.quality(options.quality)?;
        let img = &image.pixels;
        let refine = refinement(quality)?;
        let l = {
            let (xw, lh, lw) = self.wavelets(img)?;
            self.quantise_latents(&xw, lh, lw, image_step(quality)?)
        };
        let (lh, lw) = (l.height, l.width);
        let (mut data, mut est) = encode_planes(&l.values, l.channels, l.height, l.width)?;
        let mut tag = *b"LATS";
        if let Some(ctx) = &self.context {
            let (learned, learned_est) =
                latent_learned::encode_planes(ctx, &l.values, l.channels, l.height, l.width)?;
            if learned.len() < data.len() {
                (data, est, tag) = (learned, learned_est, *b"LATL");
            }
        }
        let mut sections = vec![Section { tag, data }];
        if let Some(r) = refine {
            // The image's coefficients are computed again rather than kept through the
            // synthesis, whose activations are the peak of memory for large images.
            let mut res = self.synthesise(&l);
            for (s, x) in res.iter_mut().zip(self.wavelets(img)?.0) {
                *s = x - *s;
            }
            let per = res.len() / 3;
            colour_transform(&mut res, per, false);
            let mut q = quantise(&res, r.step / 255.0);
            let bands = self.config.wavelet_channels() / 3;
            for v in &mut res {
                *v = *v * 255.0 / r.step;
            }
            prune(&mut q, &res, bands, lh, lw, PRUNE_LAMBDA)?;
            drop(res);
            let mut out = BitWriter::new();
            ContextCoder::new().encode(&mut out, &q, bands, lh, lw, None)?;
            est += out.ideal_bits();
            sections.push(Section {
                tag: *b"RESA",
                data: out.finish(),
            });
        }
        let header = Header::image(
            &self.info.id,
            self.info.digest,
            quality,
            img.width(),
            img.height(),
            image.colour.channels(),
        );
        Ok(Encoded {
            bytes: Container { header, sections }.to_bytes()?,
            quality,
            estimated_bits: est,
        })
    }

    /// The integer latents stored in an image file, without synthesis.
    ///
    /// # Errors
    /// Container errors, model mismatch, corrupt payloads.
    pub fn latents_of_container(&self, c: &Container) -> Result<(Latents, usize, usize)> {
        self.require_image()?;
        self.info.check_file(&c.header)?;
        let (w, h) = c.header.image_size()?;
        let (pw, ph) = self.padded(w, h);
        let m = self.config.multiple();
        let (lh, lw) = (ph / m, pw / m);
        // `LATL` (learned context), `LATS` and `LATQ` (no sign models): quantised at the
        // step of the quality byte.
        // `LATC` (written before quality levels): `LATQ`'s coding at step 1, quality
        // byte 0.
        let step = || {
            image_step(c.header.quality)
                .map_err(|_| Error::Corrupt(format!("quality {}", c.header.quality)))
        };
        let (values, step) = if let Some(data) = c.find(b"LATL") {
            let ctx = self.context.as_ref().ok_or_else(|| {
                Error::Unsupported(format!(
                    "model {} has no learned latent context model for section LATL",
                    self.info.id
                ))
            })?;
            let step = step()?;
            let max = self.max_at(step);
            let dim = self.config.latent_dim;
            let values =
                latent_learned::decode_planes(ctx, data, dim, lh, lw, max, c.header.version)?;
            (values, step)
        } else {
            let (data, step, coding) = if let Some(data) = c.find(b"LATS") {
                (data, step()?, LatentCoding::SignContexts)
            } else if let Some(data) = c.find(b"LATQ") {
                legacy_room(b"LATQ", data.len(), (w * h) as u64)?;
                (data, step()?, LatentCoding::Tables)
            } else {
                if c.header.quality != 0 {
                    return Err(Error::Corrupt(format!(
                        "quality {} with a step-1 LATC section",
                        c.header.quality
                    )));
                }
                let data = c.section(b"LATC")?;
                legacy_room(b"LATC", data.len(), (w * h) as u64)?;
                (data, 1.0, LatentCoding::Tables)
            };
            let max = self.max_at(step);
            let dim = self.config.latent_dim;
            let version = c.header.version;
            (
                decode_planes(data, dim, lh, lw, max, coding, version)?,
                step,
            )
        };
        let l = Latents {
            channels: self.config.latent_dim,
            height: lh,
            width: lw,
            values,
            step,
        };
        Ok((l, w, h))
    }

    /// The integer latents of an image file's bytes.
    ///
    /// # Errors
    /// As [`WallocModel::latents_of_container`].
    pub fn latents_of_file(&self, bytes: &[u8], limits: &Limits) -> Result<Latents> {
        let c = Container::from_bytes(bytes, limits)?;
        Ok(self.latents_of_container(&c)?.0)
    }

    /// Decodes an image file written by [`WallocModel::encode_image`].
    ///
    /// # Errors
    /// As [`WallocModel::latents_of_container`].
    pub fn decode_image(&self, c: &Container) -> Result<RgbImage> {
        let (l, w, h) = self.latents_of_container(c)?;
        // `RESA`: the adaptive coder's stream; `RESQ` (older files): table-coded.
        let resa = c.find(b"RESA");
        let has_residual = resa.is_some() || c.find(b"RESQ").is_some();
        // latents_of_container accepted the quality byte.
        let Some(r) = refinement(c.header.quality).ok().flatten() else {
            if has_residual {
                return Err(Error::Corrupt(format!(
                    "a residual in a quality {} file",
                    c.header.quality
                )));
            }
            return self.image_from_latents(&l, w, h);
        };
        let bands = self.config.wavelet_channels() / 3;
        // The residual's stream is checked before synthesis (every value codes at least
        // its zero flag), which then comes first: its activations are the peak of
        // memory, and the residual's integers need not be alive then.
        let resa = match resa {
            Some(data) => {
                let least = (3 * bands * l.height * l.width) as f64 * least_decision_bits();
                Some(binary_stream(data, None, c.header.version, least)?)
            }
            None => {
                let data = c.section(b"RESQ")?;
                legacy_room(b"RESQ", data.len(), (w * h) as u64)?;
                None
            }
        };
        let mut xw = self.synthesise(&l);
        let q = if let Some(mut input) = resa {
            let q = ContextCoder::new().decode(&mut input, bands, l.height, l.width, None)?;
            input.finish()?;
            q
        } else {
            decode_residual(c.section(b"RESQ")?, bands, l.height, l.width)?
        };
        add_residual(&mut xw, &q, r.step / 255.0);
        drop(q);
        Ok(self.pixels(&xw, &l, w, h))
    }
}

impl Codec for WallocModel {
    fn info(&self) -> &CodecInfo {
        &self.info
    }

    fn encode(&self, input: Input<'_>, options: &EncodeOptions) -> Result<Encoded> {
        match input {
            Input::Image(img) => self.encode_image(img, options),
            Input::Audio(src) => {
                options.refuse_refinement(&self.info)?;
                let quality = self.info.quality(options.quality)?;
                let (bytes, estimated_bits) = self.encode_audio_stream(src)?;
                Ok(Encoded {
                    bytes,
                    quality,
                    estimated_bits,
                })
            }
        }
    }

    fn decode(&self, file: &Container, sink: &mut dyn MediaSink) -> Result<()> {
        if self.info.medium == MediaKind::Audio {
            let (format, frames) = self.audio_file_format(file)?;
            return self.decode_audio_stream(file, sink.audio(format, frames)?);
        }
        sink_image(sink, file, self.decode_image(file)?)
    }

    fn latents(&self, source: LatentSource<'_>) -> Result<LatentArray> {
        let image = |l: Latents| LatentArray {
            shape: vec![l.channels, l.height, l.width],
            values: l.values,
            step: l.step,
        };
        // Audio: each chunk's latents, stitched per channel group into `[groups ×
        // latent channels, positions]`.
        let audio = |chunks: &[Latents], channels: usize, n: usize| {
            let groups = if self.config.channels == 1 {
                channels
            } else {
                1
            };
            let l = self.stitch_audio_latents(chunks, n, groups);
            LatentArray {
                shape: vec![l.channels, l.width],
                values: l.values,
                step: l.step,
            }
        };
        match source {
            LatentSource::Input(Input::Image(img), quality) => Ok(image(
                self.image_latents_at(&img.pixels, quality.unwrap_or(UNIT_STEP_QUALITY))?,
            )),
            LatentSource::Input(Input::Audio(_), Some(_)) => Err(Error::InvalidArgument(
                "a quality level applies to image input only (audio latents have one)".into(),
            )),
            LatentSource::Input(Input::Audio(src), None) => {
                let channels = usize::from(src.format().channels);
                let (chunks, n) = self.audio_latents_stream(src)?;
                Ok(audio(&chunks, channels, n))
            }
            LatentSource::File(c) if self.info.medium == MediaKind::Audio => {
                let (chunks, format, _, n) = self.latents_of_audio_container(c)?;
                Ok(audio(&chunks, usize::from(format.channels), n))
            }
            LatentSource::File(c) => Ok(image(self.latents_of_container(c)?.0)),
        }
    }
}
