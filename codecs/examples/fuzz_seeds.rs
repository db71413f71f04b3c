//! Writes the fuzz campaign's seed files: small real files of every shipped model, at its
//! lowest, default and highest quality, into one folder per fuzz target, and the stored
//! `.ncx` version-1 conformance files (older sections and streams without end marks),
//! named `v1-…`.
//!
//! ```text
//! cargo run -p ncodec --example fuzz_seeds -- fuzz/seeds
//! ```

use std::path::Path;

use ncodec::codec::{EncodeOptions, Input};
use ncodec::media::MediaKind;
use ncodec::media::audio::{MemorySource, read_wav};
use ncodec::media::image::Image;
use ncodec::registry;

/// A committed test image and clip, cut small so a decode takes milliseconds.
const IMAGE: &str = "tests/fixtures/metrics_a.png";
const CLIP: &str = "tests/fixtures/speech_ljspeech_LJ001-0027_0.5-2.0s.wav";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).ok_or("usage: fuzz_seeds OUT_DIR")?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let photo = image::open(root.join(IMAGE))?.to_rgb8();
    let crops: Vec<Image> = [(40, 32), (17, 9)]
        .into_iter()
        .map(|(w, h)| Image::rgb(image::imageops::crop_imm(&photo, 60, 50, w, h).to_image()))
        .collect();
    let mut clip = read_wav(&std::fs::read(root.join(CLIP))?, 1 << 24)?;
    let frames = clip.format.sample_rate as usize / 4;
    for c in &mut clip.samples {
        c.truncate(frames);
    }
    let device = ncodec::device::default_device();
    let mut written = 0;
    for m in registry::models() {
        let codec = registry::load(m.id, &device)?;
        let targets = match (m.family, m.kind) {
            ("wavelet", _) => vec!["decode_wavelet"],
            ("hyperprior", _) => vec!["decode_hyperprior"],
            ("walloc", MediaKind::Image) => vec!["decode_walloc_image", "latents_walloc"],
            ("walloc", _) => vec!["decode_walloc_audio", "latents_walloc"],
            (f, _) => return Err(format!("no fuzz target for family {f}").into()),
        };
        let mut qualities = vec![m.min_quality, m.default_quality, m.max_quality];
        qualities.dedup();
        for q in qualities {
            let options = EncodeOptions::new().quality(q);
            let mut files = Vec::new();
            if m.kind == MediaKind::Image {
                for img in &crops {
                    let f = codec.encode(Input::Image(img), &options)?;
                    let (w, h) = img.pixels.dimensions();
                    files.push((format!("{}-q{q}-{w}x{h}.ncx", m.id), f.bytes));
                }
            } else {
                let f = codec.encode(Input::Audio(&mut MemorySource::new(&clip)), &options)?;
                files.push((format!("{}-q{q}-250ms.ncx", m.id), f.bytes));
            }
            for (name, bytes) in files {
                for t in targets.iter().chain(["container_read"].iter()) {
                    let dir = Path::new(&out).join(t);
                    std::fs::create_dir_all(&dir)?;
                    std::fs::write(dir.join(&name), &bytes)?;
                }
                written += 1;
            }
        }
    }
    written += copy_version_1(&root.join("tests/fixtures/conformance"), Path::new(&out))?;
    println!("{written} seed files in {out}");
    Ok(())
}

/// The fuzz targets each stored version-1 conformance file goes to, by its name's start
/// (files under 8 KiB, the campaign's largest input).
const VERSION_1: [(&str, &[&str]); 4] = [
    ("dwt97", &["decode_wavelet", "container_read"]),
    ("hp-mean", &["decode_hyperprior", "container_read"]),
    ("walloc-rgb", &["decode_walloc_image", "latents_walloc"]),
    ("walloc-", &["decode_walloc_audio", "latents_walloc"]),
];

/// Copies the version-1 files of `conformance` (and of its sub-folders of older
/// sections) into the targets' folders of `out`; returns how many were copied.
fn copy_version_1(conformance: &Path, out: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let mut copied = 0;
    for sub in ["", "dwtq", "lats", "resq"] {
        let dir = conformance.join(sub);
        let mut names: Vec<String> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".ncx"))
            .collect();
        names.sort();
        for name in names {
            let bytes = std::fs::read(dir.join(&name))?;
            let file = ncodec::container::Container::read_header(&bytes, &Default::default())?;
            if file.version != 1 || bytes.len() > 8192 {
                continue;
            }
            let Some((_, targets)) = VERSION_1.iter().find(|(p, _)| name.starts_with(p)) else {
                continue;
            };
            let prefix = if sub.is_empty() {
                "v1-".to_string()
            } else {
                format!("v1-{sub}-")
            };
            for t in *targets {
                std::fs::write(out.join(t).join(format!("{prefix}{name}")), &bytes)?;
            }
            copied += 1;
        }
    }
    Ok(copied)
}
