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
use ncodec_entropy::{decode as ent_decode, encode as ent_encode, ensure_room, scale_index};
use ncodec_models::burn::prelude::*;
use ncodec_models::cpu::to_f32_vec as to_vec;
use ncodec_models::cpu::{CpuNet, FeatureMap};
use ncodec_models::export::FrozenPriors;
use ncodec_models::factorized::{Factorized, FactorizedConfig};
use ncodec_models::hyperprior::{Hyperprior, HyperpriorConfig};
use ncodec_models::refine::{RefineSettings, Tiling};

use crate::codec::{
    Codec, CodecInfo, EncodeOptions, Encoded, Family, Input, MediaSink, ModelFiles, model_digest,
    sink_image, weights_file,
};
use crate::container::{Container, Header, Section};
use crate::context::channel_indexes;
use crate::error::{Error, Result};
use crate::media::MediaKind;
use crate::media::image::{Image, crop_to_rgb8, pad_replicate};

/// Spatial downsampling of `z` relative to the image (`y` is 16×, `z` 64×).
pub const PAD_MULTIPLE: usize = ncodec_models::hyperprior::Z_CELL;

/// The largest padded side [`HyperpriorModel`] refines whole (2048): the backward pass
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

/// The family's name in a model folder's manifest.
pub const FAMILY: &str = "hyperprior";

/// The hyperprior family (scale and mean-scale hyperprior, factorized prior).
#[derive(Debug, Clone, Copy)]
pub struct HyperpriorFamily;

impl Family for HyperpriorFamily {
    fn name(&self) -> &'static str {
        FAMILY
    }

    fn load(&self, files: &ModelFiles, device: &Device) -> Result<Box<dyn Codec>> {
        Ok(Box::new(HyperpriorModel::from_files(files, device)?))
    }
}

/// A loaded hyperprior-family image model ready to encode and decode.
#[derive(Debug)]
pub struct HyperpriorModel {
    info: CodecInfo,
    net: Net,
    priors: FrozenPriors,
    device: Device,
}

/// A model config's `"factorized"` flag (absent: false). A factorized model's config
/// parses as a hyperprior's too, so the flag tells them apart.
pub fn is_factorized(config: &serde_json::Value) -> bool {
    config
        .get("factorized")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// The transform of a [`HyperpriorModel`].
#[derive(Debug)]
enum Net {
    /// Hyperprior, with `h_s` copied into the fixed-order CPU kernel.
    Hyperprior(Box<(HyperpriorConfig, Hyperprior, CpuNet)>),
    /// Factorized prior: `priors.z_tables` and `z_medians` are `y`'s.
    Factorized(Box<(FactorizedConfig, Factorized)>),
}

/// The image model configurations [`HyperpriorModel::export`] takes.
#[derive(Debug, Clone, Copy)]
pub enum ImageNetRef<'a> {
    /// A hyperprior model.
    Hyperprior(&'a HyperpriorConfig, &'a Hyperprior),
    /// A factorized-prior model.
    Factorized(&'a FactorizedConfig, &'a Factorized),
}

impl HyperpriorModel {
    /// Loads a model from its files (`model.json`, `weights.bpk`, `tables.bin`).
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
        let priors = FrozenPriors::from_bytes(tables).map_err(|e| bad("tables", &e))?;
        let factorized = is_factorized(
            &serde_json::from_slice::<serde_json::Value>(config).map_err(|e| bad("config", &e))?,
        );
        let (net, density_channels, levels) = if factorized {
            let cfg: FactorizedConfig =
                serde_json::from_slice(config).map_err(|e| bad("config", &e))?;
            let model = files.load_weights(cfg.init(device))?;
            let (c, l) = (model.latent_channels(), model.levels());
            (Net::Factorized(Box::new((cfg, model))), c, l)
        } else {
            let cfg: HyperpriorConfig =
                serde_json::from_slice(config).map_err(|e| bad("config", &e))?;
            let model = files.load_weights(cfg.init(device))?;
            let (c, l) = (model.hyper_channels(), model.levels());
            let h_s = model.h_s_cpu();
            (Net::Hyperprior(Box::new((cfg, model, h_s))), c, l)
        };
        if priors.z_tables.len() != density_channels {
            return Err(bad("tables", &"channel count differs from the weights"));
        }
        let levels = u8::try_from(levels)
            .ok()
            .filter(|&l| l > 0)
            .ok_or_else(|| bad("config", &"1 to 255 quality levels"))?;
        Ok(Self {
            info: files.info(
                FAMILY,
                MediaKind::Image,
                levels,
                levels / 2,
                model_digest(config, weights, tables),
            ),
            net,
            priors,
            device: device.clone(),
        })
    }

    /// Serialises a (trained) model into the files [`HyperpriorModel::from_files`]
    /// reads, freezing its priors, with model id `id`. This is the export step; its
    /// output is what gets committed.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the priors cannot be frozen or weights not written.
    pub fn export(id: &str, net: ImageNetRef<'_>) -> Result<ModelFiles> {
        let fail = |e: &dyn std::fmt::Display| Error::InvalidArgument(format!("export: {e}"));
        let (cfg, eb, weights) = match net {
            ImageNetRef::Hyperprior(c, m) => (
                serde_json::to_vec_pretty(c),
                &m.entropy_bottleneck,
                weights_file(m)?,
            ),
            ImageNetRef::Factorized(c, m) => (
                serde_json::to_vec_pretty(c),
                &m.entropy_bottleneck,
                weights_file(m)?,
            ),
        };
        let priors = FrozenPriors::from_bottleneck(eb).map_err(|e| fail(&e))?;
        Ok(ModelFiles::new(
            id,
            FAMILY,
            vec![
                ("model.json", cfg.expect("serialisable").into()),
                ("weights.bpk", weights.into()),
                ("tables.bin", priors.to_bytes().into()),
            ],
        ))
    }

    /// The configuration of a hyperprior model (`None` for a factorized prior).
    pub fn config(&self) -> Option<&HyperpriorConfig> {
        match &self.net {
            Net::Hyperprior(b) => Some(&b.0),
            Net::Factorized(_) => None,
        }
    }

    /// True for a factorized-prior model (no hyper-latents).
    pub fn is_factorized(&self) -> bool {
        matches!(self.net, Net::Factorized(_))
    }

    /// Encodes an image as `options` say.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty image, a quality out of range, or
    /// refinement asked of a factorized-prior model.
    pub fn encode_image(&self, img: &Image, options: &EncodeOptions) -> Result<Encoded> {
        let quality = self.info.quality(options.quality)?;
        let level = usize::from(quality);
        if self.is_factorized() {
            options.refuse_refinement(&self.info)?;
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
            TensorData::new(pad_replicate(&img.pixels, pw, ph), [1, 3, ph, pw]),
            &self.device,
        );
        let (sections, est) = match &self.net {
            Net::Hyperprior(b) => {
                self.encode_hyperprior((&b.0, &b.1, &b.2), x, level, (h, w), options)?
            }
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
        let header = Header::image(
            &self.info.id,
            self.info.digest,
            quality,
            w as u32,
            h as u32,
            img.colour.channels(),
        );
        Ok(Encoded {
            bytes: Container { header, sections }.to_bytes()?,
            quality,
            estimated_bits: est,
        })
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
    /// of [`HyperpriorModel::per_channel_symbols`].
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
        options: &EncodeOptions,
    ) -> Result<(Vec<Section>, f64)> {
        let y = match options.refine {
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
                        if let Some(p) = &options.progress {
                            p.report(done, total);
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

    /// Decodes a file written by this model to its RGB pixels.
    ///
    /// # Errors
    /// [`Error::UnknownModel`] / [`Error::ModelMismatch`] if the file was written by
    /// another model, [`Error::Corrupt`] for inconsistent payloads.
    pub fn decode_image(&self, c: &Container) -> Result<RgbImage> {
        let h = &c.header;
        self.info.check_file(h)?;
        let (w, hgt) = h.image_size()?;
        let level = usize::from(h.quality);
        if h.quality >= self.info.levels {
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
                let z_data = c.section(b"ZHAT")?;
                // The size the header gives must fit the data before anything is built.
                ensure_room(&self.priors.z_tables, z_data, &per_channel(n, zh * zw))?;
                let z_idx = channel_indexes(n * zh * zw, zh * zw);
                let z_sym = ent_decode(&self.priors.z_tables, z_data, &z_idx)?;
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
                let data = c.section(b"YHAT")?;
                ensure_room(&self.priors.z_tables, data, &per_channel(m, per))?;
                let idx = channel_indexes(m * per, per);
                let sym = ent_decode(&self.priors.z_tables, data, &idx)?;
                let y_hat = self.add_medians(&sym, per);
                let y_hat =
                    Tensor::<4>::from_data(TensorData::new(y_hat, [1, m, yh, yw]), &self.device);
                to_vec(model.g_s(y_hat, level))
            }
        };
        Ok(crop_to_rgb8(&x_hat, pw, ph, w, hgt))
    }
}

impl Codec for HyperpriorModel {
    fn info(&self) -> &CodecInfo {
        &self.info
    }

    fn encode(&self, input: Input<'_>, options: &EncodeOptions) -> Result<Encoded> {
        self.encode_image(input.image(&self.info)?, options)
    }

    fn decode(&self, file: &Container, sink: &mut dyn MediaSink) -> Result<()> {
        sink_image(sink, file, self.decode_image(file)?)
    }
}

/// `(table, count)` for `channels` channels of `per` symbols each, table `c` for channel
/// `c`: what [`ensure_room`] checks.
fn per_channel(channels: usize, per: usize) -> Vec<(u16, u64)> {
    (0..channels).map(|c| (c as u16, per as u64)).collect()
}
