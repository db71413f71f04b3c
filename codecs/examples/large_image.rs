//! Encode and decode of a large photo with a model (default: the default image model):
//! seconds, megapixels per second and peak resident memory, for the speed targets of
//! large images.
//!
//! ```text
//! cargo run --release -p ncodec --example large_image -- [MODEL] [QUALITY]
//! ```
//!
//! The photo is a 6144 × 4096 mosaic (25.2 MP) of the 24 Kodak images (each used
//! once, then again mirrored) when `../shared/datasets/kodak` exists, else of the
//! committed test photo.

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use image::RgbImage;
use ncodec::codec::{EncodeOptions, Input};
use ncodec::container::{Container, Limits};
use ncodec::media::MediaKind;
use ncodec::media::image::Image;

/// The photos tiled into the mosaic, 768 × 512 each (landscape; portrait ones turned).
fn tiles(root: &Path) -> Result<Vec<RgbImage>, Box<dyn Error>> {
    let kodak = root.join("../shared/datasets/kodak");
    let mut out = Vec::new();
    if kodak.is_dir() {
        for i in 1..=24 {
            let img = image::open(kodak.join(format!("kodim{i:02}.png")))?.to_rgb8();
            let img = if img.width() < img.height() {
                image::imageops::rotate90(&img)
            } else {
                img
            };
            out.push(image::imageops::resize(
                &img,
                768,
                512,
                image::imageops::FilterType::Triangle,
            ));
        }
    } else {
        let img = image::open(root.join("tests/fixtures/metrics_a.png"))?.to_rgb8();
        out.push(image::imageops::resize(
            &img,
            768,
            512,
            image::imageops::FilterType::Triangle,
        ));
    }
    Ok(out)
}

/// Peak resident memory of this process so far, in MiB (Linux).
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() -> Result<(), Box<dyn Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut args = std::env::args().skip(1);
    let device = ncodec::device::default_device();
    let codec = match args.next() {
        Some(id) => ncodec::registry::load(&id, &device)?,
        None => ncodec::registry::load_default(MediaKind::Image, &device)?,
    };
    let quality = args.next().map(|q| q.parse()).transpose()?;
    let tiles = tiles(&root)?;
    let (cols, rows) = (8u32, 8u32);
    let mut mosaic = RgbImage::new(cols * 768, rows * 512);
    for r in 0..rows {
        for c in 0..cols {
            let i = (r * cols + c) as usize;
            let mut t = tiles[i % tiles.len()].clone();
            if (i / tiles.len()) % 2 == 1 {
                image::imageops::flip_horizontal_in_place(&mut t);
            }
            image::imageops::replace(&mut mosaic, &t, i64::from(c * 768), i64::from(r * 512));
        }
    }
    let mp = f64::from(mosaic.width()) * f64::from(mosaic.height()) / 1e6;
    let img = Image::rgb(mosaic);
    let mut options = EncodeOptions::new();
    options.quality = quality;
    let t = Instant::now();
    let file = codec.encode(Input::Image(&img), &options)?;
    let enc = t.elapsed().as_secs_f64();
    let peak_enc = peak_mib();
    let t = Instant::now();
    let out = codec
        .decode_to_memory(&Container::from_bytes(&file.bytes, &Limits::default())?)?
        .into_image()?;
    let dec = t.elapsed().as_secs_f64();
    let psnr = ncodec::metrics::psnr_rgb(&img.pixels, &out.pixels)?;
    println!(
        "{} q{}: {}x{} ({mp:.1} MP), {:.4} bpp, {psnr:.2} dB",
        codec.info().id,
        file.quality,
        img.width(),
        img.height(),
        file.bytes.len() as f64 * 8.0 / (mp * 1e6)
    );
    println!(
        "encode {enc:.2} s ({:.2} MP/s), decode {dec:.2} s ({:.2} MP/s); peak resident {:.0} MiB after encode, {:.0} MiB in all",
        mp / enc,
        mp / dec,
        peak_enc.unwrap_or(f64::NAN),
        peak_mib().unwrap_or(f64::NAN)
    );
    Ok(())
}
