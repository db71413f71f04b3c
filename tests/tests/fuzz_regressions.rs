//! Files the fuzz campaign found (`fuzz/regressions/<target>/`, as the fuzzer wrote them),
//! replayed in an ordinary build as the fuzz target ran them: CRCs recomputed (fuzzing
//! builds skip them), the header's model if it is one of the target's family, else the
//! family's first. Each must now be refused with a typed error before the work its
//! header asks for.

use ncodec::codec::Decoded;
use ncodec::container::{Container, Limits};
use ncodec::registry;
use ncodec_models::burn::prelude::Device;

/// Reads and decodes `fuzz/regressions/<target>/<name>` with a model of `family`.
fn replay(target: &str, name: &str, family: &str) -> ncodec::Result<Decoded> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target)
        .join(name);
    let raw = std::fs::read(&path).unwrap();
    let limits = Limits::default();
    let mut file = Container::from_bytes(&Container::with_fixed_crcs(&raw, &limits)?, &limits)?;
    let models: Vec<_> = registry::models()
        .into_iter()
        .filter(|m| m.family == family && m.kind == file.header.media.kind())
        .collect();
    let model = models
        .iter()
        .find(|m| m.id == file.header.model_id)
        .unwrap_or(&models[0]);
    let codec = registry::load(model.id, &Device::flex()).unwrap();
    file.header.model_id = codec.info().id.clone();
    file.header.model_digest = codec.info().digest;
    codec.decode_to_memory(&file)
}

/// A 294-byte `dwt97-rgb` file (version 1) that says 40 × 2,687,008 pixels (107 MP) with
/// a 205-byte `DWTA` stream decoded for 42 s (debug build) before failing at the
/// stream's end: the free run of "no" decisions an unmarked ANS stream ends with made
/// any length plausible. It is now refused by the stream-length check, before any plane
/// is allocated.
#[test]
fn wavelet_107_megapixels_in_205_bytes() {
    match replay(
        "decode_wavelet",
        "dwt97-rgb-40x2687008-in-205-bytes.ncx",
        "wavelet",
    ) {
        Err(ncodec::Error::Entropy(ncodec::entropy::Error::Truncated(_))) => {}
        other => panic!("{other:?}"),
    }
}

/// A `walloc-music-44k-r1` file whose original sample rate said 4,294,923,810 Hz: the
/// rate converter to it took 1.4 GB and 33 s (debug build) before the decode failed. Rates
/// outside 1 kHz to 768 kHz are now refused when the header is read.
#[test]
fn audio_at_4_ghz() {
    match replay(
        "decode_walloc_audio",
        "walloc-music-at-4294923810-hz.ncx",
        "walloc",
    ) {
        Err(ncodec::Error::Corrupt(e)) if e.contains("sample rate") => {}
        other => panic!("{other:?}"),
    }
}
