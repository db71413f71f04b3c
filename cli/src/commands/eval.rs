//! `ncodec eval`: rate–distortion of a model on a folder of images, with BD-rates against
//! anchor curves, a JSON report, per-image CSV and an RD plot.

use std::io::Write;
use std::path::PathBuf;

use ncodec::codec::EncodeOptions;
use ncodec::eval::EvalImage;
use ncodec::media::MediaKind;
use ncodec::media::image::Image;

use crate::args::{ModelArgs, RefineArgs};
use crate::error::{Result, ctx};
use crate::io::write_output;
use crate::progress::ItemProgress;

/// Measure rate–distortion on a folder of images (e.g. Kodak), with BD-rates.
#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// Evaluate an image model.
    Image(EvalImageArgs),
}

/// `ncodec eval image`.
#[derive(Debug, clap::Args)]
pub struct EvalImageArgs {
    /// Folder of PNG/JPEG images (searched recursively).
    #[arg(long)]
    pub data: PathBuf,
    /// The model (default: the default image model).
    #[command(flatten)]
    pub model: ModelArgs,
    /// Quality levels: `all` or a comma-separated list.
    #[arg(long, default_value = "all")]
    pub quality: String,
    /// Latent refinement.
    #[command(flatten)]
    pub refine: RefineArgs,
    /// Write the report as JSON (schema: docs/EVAL.md).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write per-image results as CSV.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Draw the RD curve with the anchors (SVG).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Anchor curves (anchors_kodak.json or a CompressAI results JSON); default:
    /// ../shared/anchors/image/anchors_kodak.json when it exists.
    #[arg(long)]
    pub anchors: Vec<PathBuf>,
}

/// Runs `ncodec eval`.
///
/// # Errors
/// Unreadable datasets or anchors, unknown models, coding errors.
pub fn run(cmd: EvalCommand) -> Result<()> {
    let EvalCommand::Image(a) = cmd;
    let codec = a.model.load(MediaKind::Image)?;
    let options = EncodeOptions::new().refine(a.refine.refinement()?);
    let qualities: Vec<u8> = if a.quality == "all" {
        (0..codec.info().levels).collect()
    } else {
        a.quality
            .split(',')
            .map(|q| q.trim().parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(ctx(format!(
                "bad --quality {:?}: use `all` or numbers like 0,2,5",
                a.quality
            )))?
    };
    let folder = ncodec_datasets::ImageFolder::scan(&a.data)
        .map_err(ctx(format!("cannot read dataset {}", a.data.display())))?;
    let images = folder
        .entries
        .iter()
        .map(|e| {
            Ok(EvalImage {
                name: e.name.clone(),
                image: Image::rgb(ncodec_datasets::load_rgb(&e.path)?),
            })
        })
        .collect::<Result<Vec<_>, ncodec_datasets::Error>>()
        .map_err(ctx(format!("cannot read dataset {}", a.data.display())))?;
    let mut anchor_files = a.anchors.clone();
    let default_anchors = PathBuf::from("../shared/anchors/image/anchors_kodak.json");
    if anchor_files.is_empty() && default_anchors.is_file() {
        anchor_files.push(default_anchors);
    }
    let mut anchors = Vec::new();
    for f in &anchor_files {
        anchors.extend(
            ncodec::eval::load_anchors(f)
                .map_err(ctx(format!("cannot read anchors {}", f.display())))?,
        );
    }
    let start = std::time::Instant::now();
    let total = (images.len() * qualities.len()) as u64;
    let progress = ItemProgress::new(total, "images");
    let mut report = ncodec::eval::evaluate(
        codec.as_ref(),
        &a.data,
        &images,
        &qualities,
        &options,
        |done, total, r| {
            progress.update(
                done as u64,
                total as u64,
                &format!(
                    "q{} {} {:.3} bpp {:.2} dB",
                    r.quality, r.name, r.bpp, r.psnr
                ),
            );
        },
    )
    .map_err(ctx("evaluation failed"))?;
    progress.finish();
    eprintln!("done in {:.1} s", start.elapsed().as_secs_f64());
    report.bd = ncodec::eval::bd_against(&report.points, &anchors);
    let text = summary(&a, &report, anchor_files.len());
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(ctx("cannot write to stdout"))?;
    if let Some(p) = &a.json {
        let s = serde_json::to_vec_pretty(&report).map_err(ctx("cannot format JSON"))?;
        write_output(p, &s)?;
    }
    if let Some(p) = &a.csv {
        write_output(p, ncodec::eval::to_csv(&report).as_bytes())?;
    }
    if let Some(p) = &a.plot {
        let svg = ncodec::eval::plot::rd_plot_svg(&report, &anchors)
            .map_err(ctx("cannot draw the plot"))?;
        write_output(p, svg.as_bytes())?;
    }
    Ok(())
}

/// The table `ncodec eval` prints: one row per level, the levels off the frontier, and
/// the BD metrics against the anchors shown.
fn summary(a: &EvalImageArgs, report: &ncodec::eval::Report, anchor_files: usize) -> String {
    let mut s = format!(
        "model {} on {} ({} images){}\n",
        report.model,
        a.data.display(),
        report.images,
        report.refine.map_or(String::new(), |r| format!(
            ", latents refined ({} steps, lr {})",
            r.steps, r.lr
        ))
    );
    s += &format!(
        "{:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
        "quality", "bpp", "est.bpp", "PSNR", "MS-SSIM", "enc s", "dec s"
    );
    for p in &report.points {
        s += &format!(
            "{:>7} {:>8.4} {:>8.4} {:>8.3} {:>8} {:>8.3} {:>8.3}\n",
            p.quality,
            p.bpp,
            p.estimated_bpp,
            p.psnr,
            p.ms_ssim.map_or("-".into(), |v| format!("{v:.5}")),
            p.encode_seconds,
            p.decode_seconds
        );
    }
    let off = ncodec::eval::off_frontier(&report.points);
    if !off.is_empty() {
        s += &format!(
            "levels {off:?} lie below the rate–PSNR frontier (another level has more quality \
             for no more bits); the BD metrics below leave them out\n"
        );
    }
    let shown = [
        "jpeg420",
        "webp",
        "avif",
        "bmshj2018-hyperprior",
        "vtm_compressai",
    ];
    for b in report
        .bd
        .iter()
        .filter(|b| shown.contains(&b.anchor.as_str()) || anchor_files > 1 || report.bd.len() <= 5)
    {
        let f = |v: Option<f64>, unit: &str| {
            v.map_or("n/a (no overlap)".to_string(), |v| format!("{v:+.2}{unit}"))
        };
        s += &format!(
            "BD-rate vs {:<22} {:>18}   BD-PSNR {}\n",
            b.anchor,
            f(b.bd_rate_psnr, " %"),
            f(b.bd_psnr, " dB")
        );
    }
    s
}
