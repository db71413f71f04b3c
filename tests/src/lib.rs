//! Shared helpers for ncodec's integration tests.

use std::path::{Path, PathBuf};

/// The committed fixtures folder (`tests/fixtures`).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// `../shared` beside the project, if present; tests that need it skip otherwise.
pub fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: ../shared is absent");
        None
    }
}

/// Compares `bytes` with fixture `name`; with `NCODEC_BLESS=1` rewrites it first.
///
/// # Panics
/// If the fixture is missing or differs.
pub fn check_golden(name: &str, bytes: &[u8]) {
    let path = fixtures().join(name);
    if std::env::var_os("NCODEC_BLESS").is_some() {
        std::fs::write(&path, bytes).expect("write golden");
    }
    let want = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (NCODEC_BLESS=1 creates it)", path.display()));
    assert!(bytes == want.as_slice(), "bytes differ from golden {name}");
}

/// A fresh folder under the system temp dir for one test (name and process id).
///
/// # Panics
/// If it cannot be created.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ncodec-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// The progress a training run saved in `out/state.json`.
///
/// # Panics
/// If it is missing or does not parse.
pub fn train_state(out: &Path) -> ncodec_train::TrainState {
    let bytes = std::fs::read(out.join("state.json")).expect("state.json");
    serde_json::from_slice(&bytes).expect("state.json parses")
}

/// Encodes an RGB image with `codec` at `quality`.
///
/// # Errors
/// As [`ncodec::codec::Codec::encode`].
pub fn encode(
    codec: &dyn ncodec::codec::Codec,
    img: &image::RgbImage,
    quality: u8,
) -> ncodec::Result<ncodec::codec::Encoded> {
    let img = ncodec::media::image::Image::rgb(img.clone());
    codec.encode(
        ncodec::codec::Input::Image(&img),
        &ncodec::codec::EncodeOptions::new().quality(quality),
    )
}

/// Decodes a file's bytes to RGB pixels.
///
/// # Errors
/// Container errors and as [`ncodec::codec::Codec::decode`].
pub fn decode(codec: &dyn ncodec::codec::Codec, bytes: &[u8]) -> ncodec::Result<image::RgbImage> {
    let c = ncodec::container::Container::from_bytes(bytes, &ncodec::container::Limits::default())?;
    Ok(codec.decode_to_memory(&c)?.into_image()?.pixels)
}

/// A model of `family` from its exported files, as a [`ncodec::codec::Codec`].
///
/// # Panics
/// If it does not load.
pub fn load(files: &ncodec::codec::ModelFiles) -> Box<dyn ncodec::codec::Codec> {
    ncodec::registry::load_files(files, &ncodec::models::burn::prelude::Device::flex())
        .expect("the exported files load")
}
