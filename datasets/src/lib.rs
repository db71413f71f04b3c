//! # ncodec-datasets
//!
//! Image datasets for training and evaluating ncodec models:
//! - [`ImageFolder`]: every PNG/JPEG under a folder, sorted by path, with a manifest.
//! - [`kodak`]: the 24 Kodak images by name from a directory.
//! - [`PatchSampler`]: random crops and flips for training batches, reproducible from a
//!   seed.

use std::path::{Path, PathBuf};

use image::RgbImage;
use thiserror::Error;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Dataset errors.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A folder or file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An image could not be decoded.
    #[error("cannot decode image {path}")]
    Decode {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: image::ImageError,
    },
    /// The dataset is empty or unusable.
    #[error("{0}")]
    Invalid(String),
}

/// One entry of a folder manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path of the file.
    pub path: PathBuf,
    /// Path relative to the dataset root, `/`-separated (the image's name).
    pub name: String,
}

/// All PNG and JPEG files under a folder (recursively), sorted by relative path.
#[derive(Debug, Clone)]
pub struct ImageFolder {
    /// Root folder.
    pub root: PathBuf,
    /// Files in sorted order.
    pub entries: Vec<Entry>,
}

fn is_image(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("png" | "jpg" | "jpeg")
    )
}

impl ImageFolder {
    /// Scans `root` recursively.
    ///
    /// # Errors
    /// [`Error::Io`] if a folder cannot be listed, [`Error::Invalid`] if no image is found.
    pub fn scan(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        let mut entries = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let rd = std::fs::read_dir(&dir).map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
            for e in rd {
                let e = e.map_err(|source| Error::Io {
                    path: dir.clone(),
                    source,
                })?;
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if is_image(&p) {
                    let name = p
                        .strip_prefix(&root)
                        .unwrap_or(&p)
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/");
                    entries.push(Entry { path: p, name });
                }
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        if entries.is_empty() {
            return Err(Error::Invalid(format!(
                "no PNG or JPEG images under {}",
                root.display()
            )));
        }
        Ok(Self { root, entries })
    }

    /// The manifest: one `name` per line, in order.
    pub fn manifest(&self) -> String {
        self.entries
            .iter()
            .map(|e| format!("{}\n", e.name))
            .collect()
    }

    /// Loads every image as 8-bit RGB. JPEG files are downscaled by `jpeg_downscale`
    /// (1 = keep) with a box filter, which removes most of their blocking artifacts so a
    /// codec does not learn to reproduce them.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Decode`] for the first file that fails.
    pub fn load_rgb(&self, jpeg_downscale: u32) -> Result<Vec<RgbImage>> {
        self.entries
            .iter()
            .map(|e| {
                let img = load_rgb(&e.path)?;
                let is_jpeg = !e.name.to_ascii_lowercase().ends_with(".png");
                Ok(if is_jpeg && jpeg_downscale > 1 {
                    box_downscale(&img, jpeg_downscale)
                } else {
                    img
                })
            })
            .collect()
    }
}

/// Loads one image file as 8-bit RGB.
///
/// # Errors
/// [`Error::Io`] or [`Error::Decode`].
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    let img = image::load_from_memory(&bytes).map_err(|source| Error::Decode {
        path: path.into(),
        source,
    })?;
    Ok(img.to_rgb8())
}

/// Averages `f × f` blocks (edges that do not fill a block are dropped).
pub fn box_downscale(img: &RgbImage, f: u32) -> RgbImage {
    let (w, h) = (img.width() / f, img.height() / f);
    let mut out = RgbImage::new(w.max(1), h.max(1));
    let n = f * f;
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0u32; 3];
            for dy in 0..f {
                for dx in 0..f {
                    let p = img.get_pixel(x * f + dx, y * f + dy);
                    for c in 0..3 {
                        acc[c] += u32::from(p[c]);
                    }
                }
            }
            out.put_pixel(x, y, image::Rgb(acc.map(|a| ((a + n / 2) / n) as u8)));
        }
    }
    out
}

/// The Kodak set: `kodim01.png` … `kodim24.png` in `dir`.
///
/// # Errors
/// [`Error::Invalid`] if any of the 24 files is missing.
pub fn kodak(dir: impl AsRef<Path>) -> Result<Vec<Entry>> {
    let dir = dir.as_ref();
    (1..=24)
        .map(|i| {
            let name = format!("kodim{i:02}.png");
            let path = dir.join(&name);
            if path.is_file() {
                Ok(Entry { path, name })
            } else {
                Err(Error::Invalid(format!(
                    "Kodak image {} is missing",
                    path.display()
                )))
            }
        })
        .collect()
}

/// SHA-256 of the 24 canonical Kodak PNG files (`kodimNN.png`), as published with the
/// set used for the anchors.
pub const KODAK_SHA256SUMS: &str = include_str!("kodak.sha256");

/// Where the Kodak images are published.
pub const KODAK_URL: &str = "https://r0k.us/graphics/kodak/kodak";

fn kodak_sums() -> Vec<(&'static str, &'static str)> {
    KODAK_SHA256SUMS
        .lines()
        .filter_map(|l| l.split_once("  "))
        .map(|(h, n)| (n.trim(), h.trim()))
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks the Kodak files in `dir` against [`KODAK_SHA256SUMS`]; returns the names of
/// missing or mismatching files (empty when the set is complete and intact).
///
/// # Errors
/// [`Error::Io`] if a present file cannot be read.
pub fn verify_kodak(dir: impl AsRef<Path>) -> Result<Vec<String>> {
    let dir = dir.as_ref();
    let mut bad = Vec::new();
    for (name, want) in kodak_sums() {
        let p = dir.join(name);
        if !p.is_file() {
            bad.push(name.to_string());
            continue;
        }
        let bytes = std::fs::read(&p).map_err(|source| Error::Io {
            path: p.clone(),
            source,
        })?;
        if sha256_hex(&bytes) != want {
            bad.push(name.to_string());
        }
    }
    Ok(bad)
}

/// The default cache folder for the Kodak set: `$XDG_CACHE_HOME/ncodec/kodak`, else
/// `$HOME/.cache/ncodec/kodak`.
pub fn kodak_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("ncodec").join("kodak")
}

/// Downloads the Kodak images missing from (or damaged in) `dir` from [`KODAK_URL`],
/// checking each file's SHA-256 before it is kept. Returns how many were downloaded.
///
/// # Errors
/// [`Error::Io`] for file errors, [`Error::Invalid`] for a failed download or a
/// checksum mismatch (the bad file is not kept).
#[cfg(feature = "fetch")]
pub fn fetch_kodak(dir: impl AsRef<Path>, mut progress: impl FnMut(&str)) -> Result<usize> {
    use std::io::Read;
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.into(),
        source,
    })?;
    let todo = verify_kodak(dir)?;
    let sums = kodak_sums();
    for name in &todo {
        progress(name);
        let url = format!("{KODAK_URL}/{name}");
        let resp = ureq::get(&url)
            .call()
            .map_err(|e| Error::Invalid(format!("download {url}: {e}")))?;
        let mut bytes = Vec::new();
        resp.into_body()
            .into_reader()
            .take(16 << 20)
            .read_to_end(&mut bytes)
            .map_err(|source| Error::Io {
                path: dir.join(name),
                source,
            })?;
        let want = sums
            .iter()
            .find(|s| s.0 == name)
            .map(|s| s.1)
            .unwrap_or_default();
        if sha256_hex(&bytes) != want {
            return Err(Error::Invalid(format!(
                "{url}: SHA-256 mismatch, file not kept"
            )));
        }
        let tmp = dir.join(format!("{name}.part"));
        std::fs::write(&tmp, &bytes).map_err(|source| Error::Io {
            path: tmp.clone(),
            source,
        })?;
        std::fs::rename(&tmp, dir.join(name)).map_err(|source| Error::Io {
            path: dir.join(name),
            source,
        })?;
    }
    Ok(todo.len())
}

/// SplitMix64: small, fast, reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Draws random `size × size` crops with random horizontal flips.
#[derive(Debug)]
pub struct PatchSampler {
    images: Vec<RgbImage>,
    size: u32,
    rng: Rng,
}

impl PatchSampler {
    /// A sampler over `images` (each at least `size` on both sides).
    ///
    /// # Errors
    /// [`Error::Invalid`] if no image is large enough; smaller ones are dropped.
    pub fn new(images: Vec<RgbImage>, size: u32, seed: u64) -> Result<Self> {
        let images: Vec<RgbImage> = images
            .into_iter()
            .filter(|i| i.width() >= size && i.height() >= size)
            .collect();
        if images.is_empty() {
            return Err(Error::Invalid(format!(
                "no image is at least {size}x{size}"
            )));
        }
        Ok(Self {
            images,
            size,
            rng: Rng::new(seed),
        })
    }

    /// Number of usable images.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Always false (construction rejects empty sets).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The next batch as `f32` in `[0, 1]`, layout `[batch, 3, size, size]` (NCHW).
    pub fn batch(&mut self, batch: usize) -> Vec<f32> {
        let s = self.size as usize;
        let mut out = vec![0f32; batch * 3 * s * s];
        for b in 0..batch {
            let img = &self.images[self.rng.below(self.images.len() as u64) as usize];
            let x0 = self.rng.below(u64::from(img.width() - self.size) + 1) as u32;
            let y0 = self.rng.below(u64::from(img.height() - self.size) + 1) as u32;
            let flip = self.rng.below(2) == 1;
            for y in 0..s {
                for x in 0..s {
                    let sx = if flip { s - 1 - x } else { x };
                    let p = img.get_pixel(x0 + sx as u32, y0 + y as u32);
                    for c in 0..3 {
                        out[((b * 3 + c) * s + y) * s + x] = f32::from(p[c]) / 255.0;
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampler_is_reproducible_and_in_range() {
        let img = RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut a = PatchSampler::new(vec![img.clone()], 16, 5).unwrap();
        let mut b = PatchSampler::new(vec![img], 16, 5).unwrap();
        let (x, y) = (a.batch(3), b.batch(3));
        assert_eq!(x, y);
        assert_eq!(x.len(), 3 * 3 * 16 * 16);
        assert!(x.iter().all(|v| (0.0..=1.0).contains(v)));
        // Blue channel is constant 7/255 everywhere.
        assert!(x[2 * 256..3 * 256].iter().all(|&v| v == 7.0 / 255.0));
    }

    #[test]
    fn too_small_images_are_rejected() {
        let img = RgbImage::new(8, 8);
        assert!(PatchSampler::new(vec![img], 16, 0).is_err());
    }

    #[test]
    fn kodak_checksums_cover_the_24_images() {
        let sums = kodak_sums();
        assert_eq!(sums.len(), 24);
        assert!(
            sums.iter()
                .all(|(n, h)| n.starts_with("kodim") && h.len() == 64)
        );
    }

    #[test]
    fn verify_kodak_reports_missing_and_damaged_files() {
        let dir = std::env::temp_dir().join(format!("ncodec-kodak-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("kodim01.png"), b"not the real file").unwrap();
        let bad = verify_kodak(&dir).unwrap();
        assert_eq!(bad.len(), 24);
        assert!(bad.contains(&"kodim01.png".to_string()));
        std::fs::remove_dir_all(&dir).ok();
        // The shared copy, when present, is intact.
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/kodak");
        if shared.is_dir() {
            assert_eq!(verify_kodak(&shared).unwrap(), Vec::<String>::new());
        } else {
            eprintln!("skipping the shared Kodak check: ../shared is absent");
        }
    }

    #[test]
    fn box_downscale_averages() {
        let img = RgbImage::from_fn(4, 2, |x, _| {
            image::Rgb([if x % 2 == 0 { 0 } else { 200 }, 10, 20])
        });
        let d = box_downscale(&img, 2);
        assert_eq!((d.width(), d.height()), (2, 1));
        assert_eq!(d.get_pixel(0, 0).0, [100, 10, 20]);
    }
}
