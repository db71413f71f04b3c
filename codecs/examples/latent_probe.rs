//! A linear probe trained on WaLLoC latents, without synthesising pixels.
//!
//! Each latent position of the shipped WaLLoC image model covers a `2^J × 2^J` block of
//! pixels. The probe learns, by least squares on the dequantised latents of half of the
//! images, an affine map from a position's latent vector to its block's mean RGB colour,
//! and reports R² on the other half. Perception models consume the same tensor
//! ([`WallocModel::latents_tensor`]) in place of pixels.
//!
//! ```text
//! cargo run --release -p ncodec --example latent_probe -- [FOLDER_OF_IMAGES]
//! ```
//!
//! Without an argument it uses `../shared/datasets/kodak` when that exists, else the small
//! test images committed in `tests/fixtures`.

use std::error::Error;
use std::path::{Path, PathBuf};

use image::RgbImage;
use ncodec::families::walloc::WallocModel;
use ncodec::media::MediaKind;
use ncodec::registry;
use ncodec_models::cpu::to_f32_vec;

/// Latent features (with a constant 1 for the bias) and block-mean RGB targets.
#[derive(Default)]
struct Samples {
    features: Vec<Vec<f64>>,
    targets: Vec<[f64; 3]>,
}

/// Adds one sample per latent position whose pixel block lies inside the image.
fn add_image(model: &WallocModel, img: &RgbImage, out: &mut Samples) -> Result<(), Box<dyn Error>> {
    let latents = model.image_latents(img)?;
    let y = to_f32_vec(model.latents_tensor(&latents));
    let (c, h, w) = (latents.channels, latents.height, latents.width);
    let block = model.config().multiple();
    for ly in 0..h {
        for lx in 0..w {
            let (x0, y0) = (lx * block, ly * block);
            if x0 + block > img.width() as usize || y0 + block > img.height() as usize {
                continue;
            }
            let mut f: Vec<f64> = (0..c)
                .map(|k| f64::from(y[(k * h + ly) * w + lx]))
                .collect();
            f.push(1.0);
            let mut mean = [0f64; 3];
            for py in y0..y0 + block {
                for px in x0..x0 + block {
                    let p = img.get_pixel(px as u32, py as u32);
                    for (m, v) in mean.iter_mut().zip(p.0) {
                        *m += f64::from(v) / 255.0;
                    }
                }
            }
            mean.iter_mut().for_each(|m| *m /= (block * block) as f64);
            out.features.push(f);
            out.targets.push(mean);
        }
    }
    Ok(())
}

/// Solves `(XᵀX + εI) B = XᵀY` by Gaussian elimination with partial pivoting.
fn least_squares(s: &Samples) -> Vec<[f64; 3]> {
    let d = s.features[0].len();
    let mut a = vec![vec![0f64; d + 3]; d];
    for (f, t) in s.features.iter().zip(&s.targets) {
        for i in 0..d {
            for j in 0..d {
                a[i][j] += f[i] * f[j];
            }
            for k in 0..3 {
                a[i][d + k] += f[i] * t[k];
            }
        }
    }
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += 1e-6;
    }
    for col in 0..d {
        let piv = (col..d)
            .max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))
            .expect("non-empty");
        a.swap(col, piv);
        for r in 0..d {
            if r != col {
                let factor = a[r][col] / a[col][col];
                let pivot_row = a[col].clone();
                for (x, p) in a[r].iter_mut().zip(pivot_row) {
                    *x -= factor * p;
                }
            }
        }
    }
    (0..d)
        .map(|i| [0, 1, 2].map(|k| a[i][d + k] / a[i][i]))
        .collect()
}

/// R² of the probe `b` on `s`, per colour channel.
fn r_squared(b: &[[f64; 3]], s: &Samples) -> [f64; 3] {
    let n = s.targets.len() as f64;
    let mut mean = [0f64; 3];
    for t in &s.targets {
        for k in 0..3 {
            mean[k] += t[k] / n;
        }
    }
    let (mut res, mut tot) = ([0f64; 3], [0f64; 3]);
    for (f, t) in s.features.iter().zip(&s.targets) {
        for k in 0..3 {
            let pred: f64 = f.iter().zip(b).map(|(x, row)| x * row[k]).sum();
            res[k] += (t[k] - pred).powi(2);
            tot[k] += (t[k] - mean[k]).powi(2);
        }
    }
    [0, 1, 2].map(|k| 1.0 - res[k] / tot[k].max(1e-12))
}

fn image_paths(dir: &Path) -> Result<Vec<PathBuf>, Box<dyn Error>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        })
        .collect();
    paths.sort();
    Ok(paths)
}

fn main() -> Result<(), Box<dyn Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = match std::env::args_os().nth(1) {
        Some(d) => PathBuf::from(d),
        None if root.join("../shared/datasets/kodak").is_dir() => {
            root.join("../shared/datasets/kodak")
        }
        None => root.join("tests/fixtures"),
    };
    let paths = image_paths(&dir)?;
    if paths.len() < 2 {
        return Err(format!("{} holds fewer than two images", dir.display()).into());
    }
    let device = ncodec::device::default_device();
    let id = registry::default_with_latents(MediaKind::Image)?.id;
    let model = WallocModel::from_files(&registry::shipped_files(id)?, &device)?;
    let (mut train, mut test) = (Samples::default(), Samples::default());
    for (i, p) in paths.iter().enumerate() {
        let img = image::open(p)?.to_rgb8();
        add_image(
            &model,
            &img,
            if i % 2 == 0 { &mut train } else { &mut test },
        )?;
    }
    let b = least_squares(&train);
    let [r, g, bl] = r_squared(&b, &test);
    println!(
        "{id}: linear probe latents → {0}×{0} block mean RGB",
        model.config().multiple()
    );
    println!(
        "  {} images from {}: {} training and {} test positions",
        paths.len(),
        dir.display(),
        train.targets.len(),
        test.targets.len()
    );
    println!("  test R²: R {r:.4}  G {g:.4}  B {bl:.4}");
    Ok(())
}
