//! A classic wavelet image codec (`dwt97-rgb`): no learned weights, ncodec's context
//! coder on a dyadic CDF 9/7 transform.
//!
//! It exists because it was measured to beat the learned pipelines this project has
//! trained so far: on the 24 validation photos, coding the image's dyadic wavelet
//! coefficients directly with [`crate::context::planes`]'s context coder gave about 1 dB more
//! than WaLLoC's latents plus the same coder on their residual, at the same rate (the
//! latents cost more than the detail they carry). It is an honest baseline for the
//! learned models to beat and a codec for users who want small files now; it is not the
//! default, because this project ships learned codecs (see its model card,
//! `models/weights/dwt97-rgb/MODEL_CARD.md`).
//!
//! Pipeline: the image is padded to a multiple of `2^levels` (by repeating its last row
//! and column for `dwt97-rgb`, by letting them fade for `dwt97s-rgb`: [`pad_smooth`]),
//! centred on zero, and turned into a luma and two colour differences by the
//! orthonormal matrix [`crate::context::planes::COLOUR`]. Each of the three planes goes through
//! `levels` levels of the dyadic bior4.4 (CDF 9/7) transform, with periodic extension
//! (`dwt97-rgb`, the first format) or symmetric extension (`dwt97s-rgb`, by lifting:
//! −6.1 % rate at equal PSNR on the validation photos, most of them padded from sizes
//! that are not multiples of 32, and −0.9 % on Kodak, whose sizes are). The transform
//! is nearly orthonormal, so one quantisation step for every band is the step that
//! minimises the pixel MSE for a rate. The coefficients are quantised with the dead-zone
//! quantiser of [`crate::context::planes::quantise_with`] (offset [`ROUNDING`]; learned variants
//! keep the offset their filter was trained with), isolated ±1 values are pruned when
//! their
//! bits outweigh the error they remove, and the groups of equal-size bands are coded in
//! one stream by [`ContextCoder`] (context-adaptive binary decisions): the three colours'
//! low-pass bands first (one band each), then the detail bands (H, V, D) of each level,
//! coarse to fine. A detail value's context adds the magnitudes of its parent (the same
//! band one level coarser) and the parent's neighbours (`docs/FORMAT.md` has the
//! formula). Files written before that coder code each group with
//! [`crate::context::planes::encode_residual_with_prior`]'s Laplace tables (section `DWTQ`);
//! they still decode.
//!
//! Every probability comes from integer arithmetic on decoded values, so the decoder
//! reads the same integers on every machine; the float inverse transform only moves
//! pixel values.
//!
//! A learned variant ([`WaveletCodec::with_filter`], shipped as `dwt97-pf-r1`) writes
//! the same section under its own id and decodes through a small convolutional
//! post-filter trained by `ncodec train postfilter` (crate `ncodec-train`); the
//! filter runs on the decoded 8-bit image in tiles, after every symbol is decoded.
//!
//! Section `DWTA`: `levels u8`, then the [`ContextCoder`] stream of every group
//! (low-pass, then levels coarse to fine). Older section `DWTQ`: `levels u8`, then per
//! group a `u32` little-endian length and that many bytes of [`crate::context::planes`] payload.

use image::RgbImage;
use ncodec_entropy::{BitWriter, least_decision_bits};
use ncodec_models::burn::prelude::*;
use ncodec_models::cpu::CpuNet;
use ncodec_models::postfilter::{PostFilter, PostFilterConfig};
use ncodec_models::wavelet::{dwt2_symmetric, idwt2_symmetric, iwpt2_cpu, wpt2_cpu};
use sha2::{Digest, Sha256};

use crate::codec::{
    Codec, CodecInfo, EncodeOptions, Encoded, Family, Input, MediaSink, ModelFiles, model_digest,
    sink_image, weights_file,
};
use crate::container::{Container, Header, Section};
use crate::context::adaptive::ContextCoder;
use crate::context::planes::{
    colour_transform, decode_residual_with_prior, dequantise, prune_with_prior, quantise_with,
};
use crate::context::{binary_stream, legacy_room};
use crate::error::{Error, Result};
use crate::media::MediaKind;
use crate::media::image::{Image, centred_planes, crop_to_rgb8, pad_replicate, planes_to_rgb8};

/// The id written into files by the classic codec with periodic extension.
pub const DWT_ID: &str = "dwt97-rgb";

/// The id written into files by the classic codec with symmetric extension.
pub const DWT_SYMMETRIC_ID: &str = "dwt97s-rgb";

/// How the transform extends a plane beyond its borders. The format of a file follows
/// from its model id; the payload is laid out the same way for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Extension {
    /// Periodic (PyWavelets' `periodization`): the first format (`dwt97-rgb`,
    /// `dwt97-pf-r1`). An image's right edge meets its left one, which costs bits in
    /// every detail band along the borders.
    #[default]
    Periodic,
    /// Whole-sample symmetric, as in JPEG 2000 (`dwt97s-rgb`, `dwt97s-pf-r2`): the
    /// plane is mirrored at its borders. Inside the plane the coefficients are the
    /// periodic transform's.
    Symmetric,
}

impl Extension {
    /// The name used in a post-filter's `model.json` (`"extension"`).
    pub fn name(self) -> &'static str {
        match self {
            Extension::Periodic => "periodic",
            Extension::Symmetric => "symmetric",
        }
    }

    /// Parses [`Extension::name`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for another name.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "periodic" => Ok(Extension::Periodic),
            "symmetric" => Ok(Extension::Symmetric),
            other => Err(Error::InvalidArgument(format!(
                "unknown wavelet extension {other:?} (periodic or symmetric)"
            ))),
        }
    }
}

/// Quality levels (`0..QUALITY_LEVELS`).
pub const QUALITY_LEVELS: u8 = STEPS.len() as u8;

/// The default quality level: 0.50 bpp and 32.2 dB on Kodak for `dwt97s-rgb` (its card).
pub const DEFAULT_QUALITY: u8 = 7;

/// Quantisation steps in 8-bit units, `160 · 2^(−q/4)` rounded to three significant
/// digits: each level up lowers the step by a quarter octave. Exact `f32` constants.
const STEPS: [f32; 16] = [
    160.0, 135.0, 113.0, 95.1, 80.0, 67.3, 56.6, 47.6, 40.0, 33.6, 28.3, 23.8, 20.0, 16.8, 14.1,
    11.9,
];

/// Transform levels the encoder uses: five beat four by 3.9 % on the validation photos
/// (six gained 0.5 % more, at the cost of padding to multiples of 64).
const ENCODE_LEVELS: u8 = 5;

/// The most transform levels a file may declare.
const MAX_LEVELS: u8 = 8;

/// The classic encoders' dead-zone offset ([`crate::context::planes::quantise_with`]). With the
/// adaptive coder (`DWTA`), on the validation photos at equal PSNR (`ncodec eval
/// --quality all`, `dwt97s-rgb`), 0.45 needed 2.5 % fewer bits than the 1/3 chosen for
/// the table coder (0.40: −2.0 %, 0.50: −2.2 % at five levels). Only the encoder uses
/// it. New post-filter exports record it (`"rounding"` in `model.json`).
pub const ROUNDING: f32 = 0.45;

/// The offset of a post-filter whose `model.json` names none: the one `dwt97-pf-r1` and
/// `dwt97s-pf-r2` were trained with. With 0.45 instead, r2's filter gained less (on
/// Kodak at level 15 it lowered PSNR by 0.04 dB), so a filter keeps the quantiser it
/// learned.
pub const FILTER_DEFAULT_ROUNDING: f32 = 1.0 / 3.0;

/// The encoder's trade-off when it prunes ±1 values ([`crate::context::planes::prune`]): 0.1
/// was best on the validation photos (against 0.14: none +0.7 %, 0.07 −0.6 %, 0.2
/// +2.7 %; against 0.07: 0.1 −0.3 %). Only the encoder uses it.
const PRUNE_LAMBDA: f64 = 0.1;

/// The context prior of a detail group `gh × gw` from the group coded before it (its
/// parent level, one level coarser): for each colour and band (H, V, D) and position, the
/// magnitudes of the co-located parent value `p` and of its four neighbours `n` (edges
/// repeated), as `(4·|p| + Σ|n|) / 3`. `None` after the low-pass group, whose bands are
/// not the details' parents. On the validation photos this saved 4.1 % of the rate at
/// equal PSNR; `|p|` alone (weights 1, 2, 4, 8) saved 3.2, 3.0, 2.4 and 1.4 %, the
/// neighbourhood with divisors 6 and 1.5 instead of 3 saved 3.5 and 3.9 %.
fn parent_prior(prev: &[i32], prev_bands: usize, gh: usize, gw: usize) -> Option<Vec<u32>> {
    if prev_bands != 3 {
        return None;
    }
    let (ph, pw) = (gh / 2, gw / 2);
    let mut out = Vec::with_capacity(9 * gh * gw);
    for plane in prev.chunks_exact(ph * pw) {
        let at = |y: usize, x: usize| plane[y * pw + x].unsigned_abs();
        for i in 0..gh {
            let y = i / 2;
            let (up, down) = (y.saturating_sub(1), (y + 1).min(ph - 1));
            out.extend((0..gw).map(|j| {
                let x = j / 2;
                let (left, right) = (x.saturating_sub(1), (x + 1).min(pw - 1));
                // Values lie within ±MAX_VALUE: no overflow.
                let n = at(up, x) + at(down, x) + at(y, left) + at(y, right);
                (4 * at(y, x) + n) / 3
            }));
        }
    }
    Some(out)
}

/// The first section's tag: per group, a [`crate::context::planes`] table-coded payload.
/// Files written before the adaptive coder; still decoded.
const TAG: [u8; 4] = *b"DWTQ";

/// The section written today: one [`ContextCoder`] stream for the whole image.
const TAG_ADAPTIVE: [u8; 4] = *b"DWTA";

/// The family's name in a model folder's manifest.
pub const FAMILY: &str = "wavelet";

/// The wavelet family: the classic codecs (no weights; `model.json` may name the
/// `"extension"`) and their learned variants with a post-filter (`model.json` and
/// `weights.bpk` of `ncodec train postfilter`).
#[derive(Debug, Clone, Copy)]
pub struct WaveletFamily;

impl Family for WaveletFamily {
    fn name(&self) -> &'static str {
        FAMILY
    }

    fn load(&self, files: &ModelFiles, device: &Device) -> Result<Box<dyn Codec>> {
        let mut codec = if files.get("weights.bpk").is_some() {
            WaveletCodec::with_filter(files, device)?
        } else {
            let ext = match files.get("model.json") {
                Some(config) => extension_of(config).map_err(|e| files.bad("config", &e))?,
                None => Extension::default(),
            };
            WaveletCodec::classic(ext)
        };
        if let Some(q) = files.default_quality {
            codec.info.default_quality = q.min(QUALITY_LEVELS - 1);
        }
        Ok(Box::new(codec))
    }

    fn describe_quality(&self, quality: u8, tags: &[[u8; 4]]) -> Option<String> {
        let s = step(quality).ok()?;
        tags.iter()
            .any(|t| *t == TAG_ADAPTIVE || *t == TAG)
            .then(|| format!("quantisation step {s} in 8-bit units"))
    }
}

/// The `"extension"` of a wavelet model's `model.json` (periodic when absent, as in the
/// first exports).
fn extension_of(config: &[u8]) -> Result<Extension> {
    let json: serde_json::Value = serde_json::from_slice(config)
        .map_err(|e| Error::InvalidArgument(format!("model.json: {e}")))?;
    match json.get("extension") {
        None => Ok(Extension::Periodic),
        Some(v) => Extension::from_name(v.as_str().unwrap_or_default()),
    }
}

/// The codec: its identity and, for a learned variant, the post-filter its decoder runs.
#[derive(Debug, Clone)]
pub struct WaveletCodec {
    info: CodecInfo,
    extension: Extension,
    /// The encoder's dead-zone offset.
    rounding: f32,
    filter: Option<Filter>,
}

/// A learned post-filter ([`PostFilter`]), run by the CPU kernel of
/// [`PostFilter::filter_cpu`] (faster here than Burn's convolutions, and the same on every
/// CPU).
#[derive(Debug, Clone)]
struct Filter {
    config: PostFilterConfig,
    net: CpuNet,
}

/// Width and height of the tiles the post-filter runs on (plus its reach on every side),
/// so that memory stays bounded for any image size. Wide tiles: the kernel's first and
/// last columns of each row (where taps fall outside) are computed one output at a time.
const FILTER_TILE: (usize, usize) = (1024, 256);

impl Filter {
    /// Filters a decoded image tile by tile; each tile sees `reach` pixels of context on
    /// every side, so the result is the whole-image filter's (up to float rounding).
    fn apply(&self, img: &RgbImage, step: f32) -> RgbImage {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let r = self.config.reach();
        let mut out = img.clone();
        let (tile_w, tile_h) = FILTER_TILE;
        for ty in (0..h).step_by(tile_h) {
            for tx in (0..w).step_by(tile_w) {
                let (x0, y0) = (tx.saturating_sub(r), ty.saturating_sub(r));
                let (x1, y1) = ((tx + tile_w + r).min(w), (ty + tile_h + r).min(h));
                let (cw, ch) = (x1 - x0, y1 - y0);
                let crop =
                    image::imageops::crop_imm(img, x0 as u32, y0 as u32, cw as u32, ch as u32)
                        .to_image();
                let y = PostFilter::filter_cpu(
                    &self.net,
                    &centred_planes(&crop),
                    ch,
                    cw,
                    f64::from(step),
                );
                let filtered = planes_to_rgb8(&y, cw, ch);
                let (tw, th) = (tile_w.min(w - tx), tile_h.min(h - ty));
                let inner = image::imageops::crop_imm(
                    &filtered,
                    (tx - x0) as u32,
                    (ty - y0) as u32,
                    tw as u32,
                    th as u32,
                );
                image::imageops::replace(&mut out, &*inner, tx as i64, ty as i64);
            }
        }
        out
    }
}

impl Default for WaveletCodec {
    fn default() -> Self {
        Self::new()
    }
}

/// The quantisation step of quality level `quality`, in 8-bit units.
///
/// # Errors
/// [`Error::InvalidArgument`] for a level outside `0..QUALITY_LEVELS`.
pub fn step(quality: u8) -> Result<f32> {
    STEPS.get(usize::from(quality)).copied().ok_or_else(|| {
        Error::InvalidArgument(format!(
            "quality {quality} out of range 0..={} ({DWT_ID} levels)",
            QUALITY_LEVELS - 1
        ))
    })
}

/// Plane sizes of a `w × h` image at `levels`: the padded size.
fn padded(w: usize, h: usize, levels: u8) -> (usize, usize) {
    let m = 1usize << levels;
    (w.div_ceil(m) * m, h.div_ceil(m) * m)
}

/// Times the padding is smoothed per row or column in [`pad_smooth`].
const PAD_SMOOTHING: usize = 4;

/// `[3, ph, pw]` planes of `img` in `[0, 1]`, padded for the symmetric codecs. Each
/// column right of the image is the column before it, smoothed four times
/// along the image's rows by `[1, 2, 1]/4` (ends repeated). Each row below the image is
/// the row above it, smoothed the same way along the whole padded width. The stripes that
/// plain repetition draws across the padding fade into a smooth surface, which costs
/// fewer bits. The decoder never reads the padding: this is the encoder's choice, and
/// files stay the same format. On the validation photos (levels 1, 4, 7, 10, 13 of
/// `dwt97s-rgb`, equal PSNR) the rate was 0.98 % below plain repetition. One
/// smoothing per step gave 0.85 % and two gave 0.94 %. Mirroring the image into the
/// padding cost 1.63 % more than repetition.
///
/// # Panics
/// If the image is empty or larger than `pw × ph`.
pub fn pad_smooth(img: &RgbImage, pw: usize, ph: usize) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut out = pad_replicate(img, pw, ph);
    let smooth = |line: &mut Vec<f32>| {
        let n = line.len();
        for _ in 0..PAD_SMOOTHING {
            let prev = line.clone();
            for (i, v) in line.iter_mut().enumerate() {
                *v = (prev[i.saturating_sub(1)] + 2.0 * prev[i] + prev[(i + 1).min(n - 1)]) / 4.0;
            }
        }
    };
    for plane in out.chunks_exact_mut(pw * ph) {
        for x in w..pw {
            let mut col: Vec<f32> = (0..h).map(|y| plane[y * pw + x - 1]).collect();
            smooth(&mut col);
            for (y, v) in col.into_iter().enumerate() {
                plane[y * pw + x] = v;
            }
        }
        for y in h..ph {
            let mut row = plane[(y - 1) * pw..y * pw].to_vec();
            smooth(&mut row);
            plane[y * pw..(y + 1) * pw].copy_from_slice(&row);
        }
    }
    out
}

/// The dyadic transform of one plane: the low-pass band and, per level (finest first),
/// the H, V and D bands concatenated.
fn forward(
    plane: Vec<f32>,
    h: usize,
    w: usize,
    levels: u8,
    ext: Extension,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let (mut ll, mut ph, mut pw) = (plane, h, w);
    let mut details = Vec::with_capacity(usize::from(levels));
    for _ in 0..levels {
        let mut bands = match ext {
            Extension::Periodic => wpt2_cpu(&ll, 1, ph, pw, 1),
            Extension::Symmetric => dwt2_symmetric(&ll, ph, pw),
        };
        let n = ph * pw / 4;
        let rest = bands.split_off(n);
        ll = bands;
        details.push(rest);
        ph /= 2;
        pw /= 2;
    }
    (ll, details)
}

/// A group of equal-size bands: its coefficients, bands per colour, plane height and
/// width.
type Group = (Vec<f32>, usize, usize, usize);

/// Coefficients of the three colour planes, grouped as they are coded: the three
/// low-pass bands, then per level (coarse to fine) the three colours' H, V and D bands.
fn groups(planes: Vec<f32>, h: usize, w: usize, levels: u8, ext: Extension) -> Vec<Group> {
    let per = h * w;
    let mut lls = Vec::with_capacity(3 * (per >> (2 * levels)));
    let mut details: Vec<Vec<f32>> = vec![Vec::new(); usize::from(levels)];
    for c in 0..3 {
        let (ll, d) = forward(planes[c * per..(c + 1) * per].to_vec(), h, w, levels, ext);
        lls.extend(ll);
        for (acc, level) in details.iter_mut().zip(d) {
            acc.extend(level);
        }
    }
    let (lh, lw) = (h >> levels, w >> levels);
    let mut out = vec![(lls, 1, lh, lw)];
    for l in (0..usize::from(levels)).rev() {
        let d = std::mem::take(&mut details[l]);
        out.push((d, 3, h >> (l + 1), w >> (l + 1)));
    }
    out
}

/// SHA-256 of a description of the format's constants.
fn format_digest(ext: Extension) -> [u8; 32] {
    let mut h = Sha256::new();
    match ext {
        Extension::Periodic => h.update(format!(
            "{DWT_ID} v1: bior4.4 dyadic periodic, colour {:?}, steps {STEPS:?}, residual coder, parent prior (4p+n)/3",
            crate::context::planes::COLOUR
        )),
        Extension::Symmetric => h.update(format!(
            "{DWT_SYMMETRIC_ID} v1: bior4.4 dyadic symmetric (lifting), colour {:?}, steps {STEPS:?}, residual coder, parent prior (4p+n)/3",
            crate::context::planes::COLOUR
        )),
    }
    h.finalize().into()
}

impl WaveletCodec {
    /// The classic codec with periodic extension, `dwt97-rgb`. Its digest is SHA-256 of a
    /// description of the format's constants, so a decoder built with different steps
    /// refuses the file instead of misreading it.
    pub fn new() -> Self {
        Self::classic(Extension::Periodic)
    }

    /// The classic codec with extension `ext`: `dwt97-rgb` or `dwt97s-rgb`.
    pub fn classic(ext: Extension) -> Self {
        let id = match ext {
            Extension::Periodic => DWT_ID,
            Extension::Symmetric => DWT_SYMMETRIC_ID,
        };
        Self {
            info: CodecInfo {
                id: id.into(),
                family: FAMILY,
                medium: MediaKind::Image,
                levels: QUALITY_LEVELS,
                default_quality: DEFAULT_QUALITY,
                digest: format_digest(ext),
            },
            extension: ext,
            rounding: ROUNDING,
            filter: None,
        }
    }

    /// The transform's border extension.
    pub fn extension(&self) -> Extension {
        self.extension
    }

    /// The encoder's dead-zone offset: [`ROUNDING`] for the classic codecs, a
    /// post-filter's `"rounding"` (or [`FILTER_DEFAULT_ROUNDING`]) for learned ones.
    pub fn rounding(&self) -> f32 {
        self.rounding
    }

    /// A learned variant: the classic files, decoded through a trained post-filter
    /// (`model.json` and `weights.bpk` of `ncodec train postfilter`) run on `device`.
    /// The transform's extension is `model.json`'s `"extension"` (periodic when absent,
    /// as in the first exports), the encoder's dead-zone offset its `"rounding"`
    /// ([`FILTER_DEFAULT_ROUNDING`] when absent). Its digest covers the format and the
    /// filter's files.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the files do not parse or do not fit each other.
    pub fn with_filter(files: &ModelFiles, device: &Device) -> Result<Self> {
        let (config, weights) = (files.require("model.json")?, files.require("weights.bpk")?);
        let bad = |what: &str, e: &dyn std::fmt::Display| files.bad(what, e);
        let cfg: PostFilterConfig =
            serde_json::from_slice(config).map_err(|e| bad("config", &e))?;
        if cfg.layers < 2 || cfg.layers > 64 || cfg.width == 0 || cfg.width > 1024 {
            return Err(bad("config", &"unsupported size"));
        }
        let json: serde_json::Value =
            serde_json::from_slice(config).map_err(|e| bad("config", &e))?;
        let ext = extension_of(config).map_err(|e| bad("config", &e))?;
        let rounding = match json.get("rounding") {
            None => FILTER_DEFAULT_ROUNDING,
            Some(v) => match v.as_f64() {
                Some(r) if (0.0..=0.5).contains(&r) => r as f32,
                _ => return Err(bad("config", &"rounding must be a number in 0..=0.5")),
            },
        };
        let model = files.load_weights(cfg.init(device))?;
        let mut h = Sha256::new();
        h.update(format_digest(ext));
        h.update(model_digest(config, weights, &[]));
        Ok(Self {
            info: files.info(
                FAMILY,
                MediaKind::Image,
                QUALITY_LEVELS,
                DEFAULT_QUALITY,
                h.finalize().into(),
            ),
            extension: ext,
            rounding,
            filter: Some(Filter {
                config: cfg,
                net: model.cpu_net(),
            }),
        })
    }

    /// The files of a learned variant with post-filter `model` (configuration `cfg`) for
    /// the codec with extension `extension`, under id `id`: `model.json` (the filter's
    /// configuration, the codec's `"extension"` and the classic encoder's `"rounding"`,
    /// with which its training crops are coded) and `weights.bpk`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the weights cannot be serialised.
    pub fn export_filter(
        id: &str,
        cfg: &PostFilterConfig,
        extension: Extension,
        model: &PostFilter,
    ) -> Result<ModelFiles> {
        let weights = weights_file(model)?;
        let mut config = serde_json::to_value(cfg).expect("serialisable");
        if let Some(map) = config.as_object_mut() {
            map.insert("extension".into(), extension.name().into());
            map.insert("rounding".into(), f64::from(ROUNDING).into());
        }
        let config = serde_json::to_vec_pretty(&config).expect("serialisable");
        Ok(ModelFiles::new(
            id,
            FAMILY,
            vec![
                ("model.json", config.into()),
                ("weights.bpk", weights.into()),
            ],
        ))
    }

    /// Whether the decoder runs a learned post-filter.
    pub fn is_learned(&self) -> bool {
        self.filter.is_some()
    }

    /// Encodes an image as `options` say.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty image, a quality out of range or latent
    /// refinement (this codec has none).
    pub fn encode_image(&self, image: &Image, options: &EncodeOptions) -> Result<Encoded> {
        options.refuse_refinement(&self.info)?;
        let quality = self.info.quality(options.quality)?;
        let img = &image.pixels;
        let step = step(quality)?;
        let (w, h) = (img.width() as usize, img.height() as usize);
        if w == 0 || h == 0 {
            return Err(Error::InvalidArgument("empty image".into()));
        }
        let levels = ENCODE_LEVELS;
        let (pw, ph) = padded(w, h, levels);
        let padded_planes = match self.extension {
            Extension::Periodic => pad_replicate(img, pw, ph),
            Extension::Symmetric => pad_smooth(img, pw, ph),
        };
        let mut planes: Vec<f32> = padded_planes
            .into_iter()
            .map(|v| v * 255.0 - 127.5)
            .collect();
        colour_transform(&mut planes, ph * pw, false);
        let mut coder = ContextCoder::new();
        let mut out = BitWriter::new();
        let mut prev: (Vec<i32>, usize) = (Vec::new(), 0);
        for (coeffs, bands, gh, gw) in groups(planes, ph, pw, levels, self.extension) {
            let mut q = quantise_with(&coeffs, step, self.rounding);
            let scaled: Vec<f32> = coeffs.iter().map(|v| v / step).collect();
            drop(coeffs);
            let prior = parent_prior(&prev.0, prev.1, gh, gw);
            prune_with_prior(
                &mut q,
                &scaled,
                bands,
                gh,
                gw,
                PRUNE_LAMBDA,
                prior.as_deref(),
            )?;
            coder.encode(&mut out, &q, bands, gh, gw, prior.as_deref())?;
            prev = (q, bands);
        }
        let est = out.ideal_bits();
        let mut data = vec![levels];
        data.extend(out.finish());
        let header = Header::image(
            &self.info.id,
            self.info.digest,
            quality,
            img.width(),
            img.height(),
            image.colour.channels(),
        );
        let bytes = Container {
            header,
            sections: vec![Section {
                tag: TAG_ADAPTIVE,
                data,
            }],
        }
        .to_bytes()?;
        Ok(Encoded {
            bytes,
            quality,
            estimated_bits: est,
        })
    }

    fn check_header(&self, h: &Header) -> Result<(usize, usize, f32)> {
        self.info.check_file(h)?;
        let (w, hgt) = h.image_size()?;
        let step = step(h.quality).map_err(|_| Error::Corrupt(format!("quality {}", h.quality)))?;
        Ok((w, hgt, step))
    }

    /// Decodes an image file written by [`WaveletCodec::encode_image`].
    ///
    /// # Errors
    /// [`Error::UnknownModel`] or [`Error::ModelMismatch`] for another codec's file,
    /// [`Error::Corrupt`] for a damaged payload.
    pub fn decode_image(&self, c: &Container) -> Result<RgbImage> {
        let (w, h, step) = self.check_header(&c.header)?;
        let (data, adaptive) = match c.find(&TAG_ADAPTIVE) {
            Some(data) => (data, true),
            None => {
                let data = c.section(&TAG)?;
                legacy_room(&TAG, data.len(), (w * h) as u64)?;
                (data, false)
            }
        };
        let corrupt = |what: &str| Error::Corrupt(format!("{}: {what}", self.info.id));
        let (&levels, mut rest) = data.split_first().ok_or_else(|| corrupt("empty section"))?;
        if levels == 0 || levels > MAX_LEVELS {
            return Err(corrupt("transform levels out of range"));
        }
        let (pw, ph) = padded(w, h, levels);
        // `DWTA`: one stream for every group; `DWTQ`: a length and a payload per group.
        let mut stream = if adaptive {
            // Every coefficient codes at least its zero flag.
            let least = 3.0 * (pw * ph) as f64 * least_decision_bits();
            let reader = binary_stream(rest, None, c.header.version, least)?;
            rest = &[];
            Some((ContextCoder::new(), reader))
        } else {
            None
        };
        let mut prev: (Vec<i32>, usize) = (Vec::new(), 0);
        let mut next = |bands: usize, gh: usize, gw: usize| -> Result<Vec<f32>> {
            let prior = parent_prior(&prev.0, prev.1, gh, gw);
            let q = match &mut stream {
                Some((coder, reader)) => coder.decode(reader, bands, gh, gw, prior.as_deref())?,
                None => {
                    if rest.len() < 4 {
                        return Err(corrupt("truncated"));
                    }
                    let (len, tail) = rest.split_at(4);
                    let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
                    if tail.len() < len {
                        return Err(corrupt("truncated"));
                    }
                    let (payload, tail) = tail.split_at(len);
                    rest = tail;
                    decode_residual_with_prior(payload, bands, gh, gw, prior.as_deref())?
                }
            };
            let out = dequantise(&q, step);
            prev = (q, bands);
            Ok(out)
        };
        let (lh, lw) = (ph >> levels, pw >> levels);
        let ll = next(1, lh, lw)?;
        let mut planes: Vec<Vec<f32>> = ll.chunks_exact(lh * lw).map(<[f32]>::to_vec).collect();
        let (mut gh, mut gw) = (lh, lw);
        for _ in 0..levels {
            let d = next(3, gh, gw)?;
            let n = 3 * gh * gw;
            for (c, plane) in planes.iter_mut().enumerate() {
                plane.extend_from_slice(&d[c * n..(c + 1) * n]);
                *plane = match self.extension {
                    Extension::Periodic => iwpt2_cpu(plane, 1, gh, gw, 1),
                    Extension::Symmetric => idwt2_symmetric(plane, gh, gw),
                };
            }
            gh *= 2;
            gw *= 2;
        }
        if let Some((_, reader)) = stream {
            reader.finish()?;
        }
        if !rest.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        let mut x = planes.concat();
        colour_transform(&mut x, ph * pw, true);
        for v in &mut x {
            *v = (*v + 127.5) / 255.0;
        }
        let img = crop_to_rgb8(&x, pw, ph, w, h);
        Ok(match &self.filter {
            Some(f) => f.apply(&img, step),
            None => img,
        })
    }
}

impl Codec for WaveletCodec {
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
