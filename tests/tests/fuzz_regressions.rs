//! Files the fuzz campaign found (`fuzz/regressions/<target>/`, as the fuzzer wrote them),
//! replayed in an ordinary build as the fuzz target ran them: CRCs recomputed (fuzzing
//! builds skip them), the header's model if it is one of the target's family, else the
//! family's first. Each must now be refused with a typed error before the work its
//! header asks for.

use ncodec::codec::Decoded;
use ncodec::container::{Container, Limits};
use ncodec::registry;
use ncodec_models::burn::prelude::Device;

/// Decodes `fuzz/regressions/<target>/<name>` with a model of `family`.
fn replay(target: &str, name: &str, family: &str) -> ncodec::Result<Decoded> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target)
        .join(name);
    let raw = std::fs::read(&path).unwrap();
    let limits = Limits::default();
    let mut file =
        Container::from_bytes(&Container::with_fixed_crcs(&raw, &limits).unwrap(), &limits)
            .unwrap();
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
