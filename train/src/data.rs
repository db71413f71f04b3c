//! Training and validation data: image folders (through `ncodec-datasets`) and folders
//! of WAV files.

use std::path::{Path, PathBuf};

use ncodec::media::audio::{MAX_AUDIO_FRAMES, read_wav, resample};

use crate::Monitor;
use crate::error::{Error, Result};

/// The training images of a run: every PNG/JPEG under `dir`, JPEGs box-downscaled by
/// `jpeg_downscale`.
///
/// # Errors
/// Dataset errors.
pub fn training_images(
    dir: &Path,
    jpeg_downscale: u32,
    monitor: &mut dyn Monitor,
) -> Result<Vec<image::RgbImage>> {
    let images = ncodec_datasets::ImageFolder::scan(dir)?.load_rgb(jpeg_downscale)?;
    monitor.note(&format!(
        "train: {} images from {}",
        images.len(),
        dir.display()
    ));
    Ok(images)
}

/// The validation images of a run (none without a folder).
///
/// # Errors
/// Dataset errors.
pub fn validation_images(dir: Option<&PathBuf>) -> Result<Vec<image::RgbImage>> {
    match dir {
        Some(v) => Ok(ncodec_datasets::ImageFolder::scan(v)?.load_rgb(1)?),
        None => Ok(Vec::new()),
    }
}

/// WAV files under `dir`, sorted.
fn wav_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(Error::io(&d))? {
            let p = e.map_err(Error::io(&d))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav")) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The signals of the WAV files under `dir` for a model with `channels` channels at
/// `rate`: each signal is `channels` planes at `rate` (a mono model takes every channel
/// as its own signal, a stereo model duplicates mono files).
///
/// # Errors
/// I/O and WAV errors; [`Error::Invalid`] if there are no WAV files.
pub fn audio_folder(dir: &Path, channels: usize, rate: u32) -> Result<Vec<Vec<Vec<f32>>>> {
    let mut signals = Vec::new();
    for p in wav_files(dir)? {
        let bytes = std::fs::read(&p).map_err(Error::io(&p))?;
        let a = read_wav(&bytes, MAX_AUDIO_FRAMES)
            .map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))?;
        let x = resample(&a.samples, a.format.sample_rate, rate)?;
        match (channels, x.len()) {
            (1, _) => signals.extend(x.into_iter().map(|c| vec![c])),
            (2, 1) => signals.push(vec![x[0].clone(), x[0].clone()]),
            (2, 2) => signals.push(x),
            (m, a) => {
                return Err(Error::Invalid(format!(
                    "{}: {a} channels for a {m}-channel model",
                    p.display()
                )));
            }
        }
    }
    if signals.is_empty() {
        return Err(Error::Invalid(format!("no WAV files in {}", dir.display())));
    }
    Ok(signals)
}
