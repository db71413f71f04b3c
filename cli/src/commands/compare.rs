//! `ncodec compare`: PSNR and MS-SSIM of images, SNR of WAV files, against a reference,
//! and how many samples differ and by how much at most.

use std::io::Write;
use std::path::{Path, PathBuf};

use ncodec::container::Limits;
use ncodec::media::audio::{is_wav, read_wav};
use ncodec::metrics;

use super::encode::image_input;
use crate::error::{Result, ctx};
use crate::io::read_input;

/// Compare decoded images or WAV files with a reference: PSNR and MS-SSIM for images,
/// SNR for audio, and how many samples differ and by how much at most (e.g. the same file
/// decoded on two devices).
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The reference image (PNG/JPEG) or WAV file.
    pub reference: PathBuf,
    /// Files to compare with it, of the same kind and size.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One file's comparison with the reference, as `ncodec compare --json` prints it.
#[derive(serde::Serialize)]
struct Comparison {
    file: String,
    /// PSNR in dB (images; `null` when identical).
    #[serde(skip_serializing_if = "Option::is_none")]
    psnr: Option<f64>,
    /// MS-SSIM (images with both sides over 160 pixels).
    #[serde(skip_serializing_if = "Option::is_none")]
    ms_ssim: Option<f64>,
    /// SNR in dB (audio; `null` when identical).
    #[serde(skip_serializing_if = "Option::is_none")]
    snr: Option<f64>,
    #[serde(flatten)]
    diff: metrics::SampleDiff,
}

/// Metrics of each file against the reference.
fn compare(reference: &Path, files: &[PathBuf]) -> Result<Vec<Comparison>> {
    let limits = Limits::default();
    let read = |p: &Path| read_input(p, limits.max_file_bytes);
    let name = |p: &Path| p.display().to_string();
    let failed = |p: &Path| {
        ctx(format!(
            "cannot compare {} with {}",
            name(p),
            name(reference)
        ))
    };
    let ref_bytes = read(reference)?;
    let mut out = Vec::new();
    if is_wav(&ref_bytes) {
        let wav = |b: &[u8], p: &Path| {
            read_wav(b, limits.max_file_bytes).map_err(ctx(format!("cannot read WAV {}", name(p))))
        };
        let a = wav(&ref_bytes, reference)?;
        for f in files {
            let b = wav(&read(f)?, f)?;
            let snr = metrics::snr_audio(&a, &b).map_err(failed(f))?;
            out.push(Comparison {
                file: name(f),
                psnr: None,
                ms_ssim: None,
                snr: Some(snr),
                diff: metrics::sample_diff_audio(&a, &b).map_err(failed(f))?,
            });
        }
    } else {
        let a = image_input(&ref_bytes, &name(reference), &limits, "compare", false)?
            .image
            .pixels;
        for f in files {
            let b = image_input(&read(f)?, &name(f), &limits, "compare", false)?
                .image
                .pixels;
            out.push(Comparison {
                file: name(f),
                psnr: Some(metrics::psnr_rgb(&a, &b).map_err(failed(f))?),
                ms_ssim: metrics::ms_ssim_rgb(&a, &b).ok(),
                snr: None,
                diff: metrics::sample_diff_rgb(&a, &b).map_err(failed(f))?,
            });
        }
    }
    Ok(out)
}

/// Runs `ncodec compare`.
///
/// # Errors
/// Unreadable files, and files of another kind or size than the reference.
pub fn run(a: CompareArgs) -> Result<()> {
    let results = compare(&a.reference, &a.files)?;
    let text = if a.json {
        serde_json::to_string_pretty(&results).map_err(ctx("cannot format JSON"))? + "\n"
    } else {
        let db = |v: f64| {
            if v.is_finite() {
                format!("{v:.3} dB")
            } else {
                "identical".to_string()
            }
        };
        let mut s = String::new();
        for r in &results {
            let mut line = format!("{}:", r.file);
            if let Some(p) = r.psnr {
                line += &format!(" PSNR {}", db(p));
            }
            if let Some(m) = r.ms_ssim {
                line += &format!(", MS-SSIM {m:.5}");
            }
            if let Some(snr) = r.snr {
                line += &format!(" SNR {}", db(snr));
            }
            let d = &r.diff;
            line += &format!(
                ", {} of {} samples differ, by at most {}",
                d.differing, d.samples, d.max_abs
            );
            s += &line;
            s.push('\n');
        }
        s
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(ctx("cannot write to stdout"))
}
