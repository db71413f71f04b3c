//! Rate–distortion evaluation of an image model on a folder of images
//! (`ncodec eval image`), with BD-rates against anchor curves.
//!
//! The JSON report's schema is documented in `docs/EVAL.md` and kept stable.

use std::path::Path;
use std::time::Instant;

pub mod plot;

use crate::codec::{Codec, EncodeOptions, Input, Refinement};
use crate::container::{Container, Limits};
use crate::error::{Error, Result, io_err};
use crate::media::image::Image;
use crate::metrics::{bd_quality, bd_rate, bits_per_pixel, ms_ssim_rgb, psnr_rgb, rd_frontier};

/// Version of the JSON report schema.
pub const SCHEMA_VERSION: u32 = 1;

/// One image coded at one quality.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ImageResult {
    /// Image name (path relative to the dataset folder).
    pub name: String,
    /// Quality level.
    pub quality: u8,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// File size in bytes, header included.
    pub bytes: usize,
    /// Bits per pixel from `bytes`.
    pub bpp: f64,
    /// Bits per pixel the model's integer tables assign to the symbols.
    pub estimated_bpp: f64,
    /// PSNR (RGB, dB).
    pub psnr: f64,
    /// MS-SSIM (RGB); `None` for images with a side of 160 pixels or less.
    pub ms_ssim: Option<f64>,
    /// Encode wall time, seconds.
    pub encode_seconds: f64,
    /// Decode wall time, seconds.
    pub decode_seconds: f64,
}

/// Means over the images at one quality.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct QualityPoint {
    /// Quality level.
    pub quality: u8,
    /// Mean bpp.
    pub bpp: f64,
    /// Mean estimated bpp.
    pub estimated_bpp: f64,
    /// Mean of per-image PSNR.
    pub psnr: f64,
    /// Mean MS-SSIM over images where it is defined.
    pub ms_ssim: Option<f64>,
    /// Mean encode time, seconds.
    pub encode_seconds: f64,
    /// Mean decode time, seconds.
    pub decode_seconds: f64,
}

/// BD metrics of the model against one anchor curve.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BdResult {
    /// Anchor name.
    pub anchor: String,
    /// BD-rate (PSNR) in percent; negative = fewer bits than the anchor.
    pub bd_rate_psnr: Option<f64>,
    /// BD-PSNR in dB; positive = better quality than the anchor.
    pub bd_psnr: Option<f64>,
    /// BD-rate (MS-SSIM) in percent, when the anchor publishes MS-SSIM.
    pub bd_rate_ms_ssim: Option<f64>,
}

/// A whole evaluation report.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema: u32,
    /// Model id.
    pub model: String,
    /// Model digest (hex).
    pub model_digest: String,
    /// Dataset folder.
    pub dataset: String,
    /// Number of images.
    pub images: usize,
    /// Per-quality means, ascending quality.
    pub points: Vec<QualityPoint>,
    /// Per-image results.
    pub per_image: Vec<ImageResult>,
    /// BD metrics against anchors.
    pub bd: Vec<BdResult>,
    /// Encoder-side latent refinement the files were made with (`None`: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refine: Option<Refinement>,
}

/// An anchor RD curve: `(bpp, psnr, ms_ssim)` points.
#[derive(Debug, Clone)]
pub struct Anchor {
    /// Name.
    pub name: String,
    /// Points.
    pub points: Vec<(f64, f64, Option<f64>)>,
}

/// Reads anchor curves from `anchors_kodak.json` (`{"anchors": {name: {"points": [...]}}}`)
/// or a CompressAI results file (`{"name": .., "results": {"bpp": [..], "psnr": [..]}}`).
///
/// # Errors
/// [`Error::Io`] or [`Error::InvalidArgument`] if the file does not parse.
pub fn load_anchors(path: &Path) -> Result<Vec<Anchor>> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::InvalidArgument(format!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    if let Some(map) = v.get("anchors").and_then(|a| a.as_object()) {
        for (name, a) in map {
            let pts = a["points"].as_array().map(|ps| {
                ps.iter()
                    .filter_map(|p| {
                        Some((
                            p["bpp"].as_f64()?,
                            p["psnr"].as_f64()?,
                            p["ms_ssim"].as_f64(),
                        ))
                    })
                    .collect::<Vec<_>>()
            });
            if let Some(points) = pts.filter(|p| p.len() >= 2) {
                out.push(Anchor {
                    name: name.clone(),
                    points,
                });
            }
        }
    } else if let Some(r) = v.get("results") {
        let name = v["name"].as_str().unwrap_or("anchor").to_string();
        let col = |k: &str| {
            r[k].as_array()
                .map(|a| a.iter().map(|x| x.as_f64()).collect::<Vec<_>>())
        };
        let (bpp, psnr, ms) = (col("bpp"), col("psnr"), col("ms-ssim"));
        if let (Some(b), Some(p)) = (bpp, psnr) {
            let points = b
                .iter()
                .zip(&p)
                .enumerate()
                .filter_map(|(i, (b, p))| {
                    Some((
                        b.as_ref().copied()?,
                        p.as_ref().copied()?,
                        ms.as_ref().and_then(|m| m.get(i).copied().flatten()),
                    ))
                })
                .collect();
            out.push(Anchor { name, points });
        }
    }
    if out.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{}: no anchor curves found",
            path.display()
        )));
    }
    Ok(out)
}

/// BD metrics of `points` against each anchor, over the frontier of `points`
/// ([`rd_frontier`], per metric): levels that another level beats at no more bits are
/// left out.
pub fn bd_against(points: &[QualityPoint], anchors: &[Anchor]) -> Vec<BdResult> {
    let ours_p = rd_frontier(&points.iter().map(|p| (p.bpp, p.psnr)).collect::<Vec<_>>());
    let ours_m = rd_frontier(
        &points
            .iter()
            .filter_map(|p| Some((p.bpp, p.ms_ssim?)))
            .collect::<Vec<_>>(),
    );
    anchors
        .iter()
        .map(|a| {
            let ap: Vec<(f64, f64)> = a.points.iter().map(|p| (p.0, p.1)).collect();
            let am: Vec<(f64, f64)> = a.points.iter().filter_map(|p| Some((p.0, p.2?))).collect();
            BdResult {
                anchor: a.name.clone(),
                bd_rate_psnr: bd_rate(&ap, &ours_p),
                bd_psnr: bd_quality(&ap, &ours_p),
                bd_rate_ms_ssim: if am.len() >= 2 && ours_m.len() >= 2 {
                    bd_rate(&am, &ours_m)
                } else {
                    None
                },
            }
        })
        .collect()
}

/// One image of an evaluation set.
#[derive(Debug, Clone)]
pub struct EvalImage {
    /// Its name in the report (path relative to the dataset folder).
    pub name: String,
    /// The image.
    pub image: Image,
}

/// Evaluates `codec` at each of `qualities` (with `options`' other settings) on every
/// image of `images` from the folder `dataset`, calling `progress(done, total, result)`
/// after each image.
///
/// # Errors
/// Coding or metric errors.
pub fn evaluate(
    codec: &dyn Codec,
    dataset: &Path,
    images: &[EvalImage],
    qualities: &[u8],
    options: &EncodeOptions,
    mut progress: impl FnMut(usize, usize, &ImageResult),
) -> Result<Report> {
    let total = images.len() * qualities.len();
    let mut per_image = Vec::with_capacity(total);
    let mut points = Vec::new();
    let limits = Limits::default();
    for &q in qualities {
        let start = per_image.len();
        let opts = options.clone().quality(q);
        for e in images {
            let img = &e.image.pixels;
            let t = Instant::now();
            let file = codec.encode(Input::Image(&e.image), &opts)?;
            let encode_seconds = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let out = codec
                .decode_to_memory(&Container::from_bytes(&file.bytes, &limits)?)?
                .into_image()?
                .pixels;
            let decode_seconds = t.elapsed().as_secs_f64();
            let (w, h) = img.dimensions();
            let r = ImageResult {
                name: e.name.clone(),
                quality: q,
                width: w,
                height: h,
                bytes: file.bytes.len(),
                bpp: bits_per_pixel(file.bytes.len(), w, h),
                estimated_bpp: file.estimated_bits / (f64::from(w) * f64::from(h)),
                psnr: psnr_rgb(img, &out)?,
                ms_ssim: ms_ssim_rgb(img, &out).ok(),
                encode_seconds,
                decode_seconds,
            };
            per_image.push(r);
            progress(per_image.len(), total, per_image.last().expect("pushed"));
        }
        let rs = &per_image[start..];
        let n = rs.len() as f64;
        let mean = |f: &dyn Fn(&ImageResult) -> f64| rs.iter().map(f).sum::<f64>() / n;
        let ms: Vec<f64> = rs.iter().filter_map(|r| r.ms_ssim).collect();
        points.push(QualityPoint {
            quality: q,
            bpp: mean(&|r| r.bpp),
            estimated_bpp: mean(&|r| r.estimated_bpp),
            psnr: mean(&|r| r.psnr),
            ms_ssim: (!ms.is_empty()).then(|| ms.iter().sum::<f64>() / ms.len() as f64),
            encode_seconds: mean(&|r| r.encode_seconds),
            decode_seconds: mean(&|r| r.decode_seconds),
        });
    }
    let info = codec.info();
    Ok(Report {
        schema: SCHEMA_VERSION,
        model: info.id.clone(),
        model_digest: crate::container::hex(&info.digest),
        dataset: dataset.display().to_string(),
        images: images.len(),
        points,
        per_image,
        bd: Vec::new(),
        refine: options.refine,
    })
}

/// The per-image results as CSV (header line first).
pub fn to_csv(r: &Report) -> String {
    let mut s = String::from(
        "name,quality,width,height,bytes,bpp,estimated_bpp,psnr,ms_ssim,encode_seconds,decode_seconds\n",
    );
    for i in &r.per_image {
        s.push_str(&format!(
            "{},{},{},{},{},{:.6},{:.6},{:.4},{},{:.4},{:.4}\n",
            i.name,
            i.quality,
            i.width,
            i.height,
            i.bytes,
            i.bpp,
            i.estimated_bpp,
            i.psnr,
            i.ms_ssim.map_or(String::new(), |v| format!("{v:.6}")),
            i.encode_seconds,
            i.decode_seconds
        ));
    }
    s
}

/// The quality levels of `points` off the PSNR frontier (see [`bd_against`]).
pub fn off_frontier(points: &[QualityPoint]) -> Vec<u8> {
    let curve: Vec<(f64, f64)> = points.iter().map(|p| (p.bpp, p.psnr)).collect();
    let front = rd_frontier(&curve);
    points
        .iter()
        .filter(|p| !front.contains(&(p.bpp, p.psnr)))
        .map(|p| p.quality)
        .collect()
}
