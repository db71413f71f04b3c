//! The shipped trained models: they load, decode their stored conformance files, and keep
//! their rate–distortion behaviour. Regenerate the goldens with `NCODEC_BLESS=1` after a
//! deliberate model change (and bump the model id).

use ncodec::container::{Limits, MediaKind};
use ncodec::metrics::{bits_per_pixel, psnr_rgb};
use ncodec::registry;
use ncodec_models::burn::prelude::Device;

fn fixture_image() -> image::RgbImage {
    image::open(ncodec_tests::fixtures().join("metrics_a.png"))
        .unwrap()
        .to_rgb8()
}

fn bless() -> bool {
    std::env::var_os("NCODEC_BLESS").is_some()
}

#[test]
fn every_shipped_model_loads_with_its_advertised_levels() {
    let models = registry::models();
    assert!(
        models
            .iter()
            .any(|m| m.kind == MediaKind::Image && m.default),
        "no default image model"
    );
    for m in models.iter().filter(|m| m.kind == MediaKind::Image) {
        let model = registry::load_image_model(m.id, &Device::flex()).unwrap();
        assert_eq!(model.levels(), usize::from(m.max_quality) + 1, "{}", m.id);
        assert!(m.default_quality <= m.max_quality);
    }
}

/// Decoder conformance: a stored file must decode to the stored reconstruction (within
/// float noise of `g_s`; the entropy-decoded symbols themselves are exact).
#[test]
fn stored_files_decode_to_stored_reconstructions() {
    let dir = ncodec_tests::fixtures().join("conformance");
    for m in registry::models()
        .iter()
        .filter(|m| m.kind == MediaKind::Image)
    {
        let model = registry::load_image_model(m.id, &Device::flex()).unwrap();
        let ncx = dir.join(format!("{}-q{}.ncx", m.id, m.default_quality));
        let png = dir.join(format!("{}-q{}.png", m.id, m.default_quality));
        if bless() {
            std::fs::create_dir_all(&dir).unwrap();
            let (bytes, _) = model.encode(&fixture_image(), m.default_quality).unwrap();
            std::fs::write(&ncx, &bytes).unwrap();
            model
                .decode(&bytes, &Limits::default())
                .unwrap()
                .save(&png)
                .unwrap();
        }
        let bytes = std::fs::read(&ncx)
            .unwrap_or_else(|e| panic!("{}: {e} (NCODEC_BLESS=1)", ncx.display()));
        let want = image::open(&png).unwrap().to_rgb8();
        let got = model.decode(&bytes, &Limits::default()).unwrap();
        let agreement = psnr_rgb(&want, &got).unwrap();
        assert!(
            agreement > 50.0,
            "{}: decode differs from the stored reconstruction ({agreement:.1} dB)",
            m.id
        );
    }
}

/// End-to-end RD: bpp and PSNR grow with quality, and stay near the stored values.
#[test]
fn rate_distortion_stays_in_range() {
    let img = fixture_image();
    for m in registry::models()
        .iter()
        .filter(|m| m.kind == MediaKind::Image)
    {
        let model = registry::load_image_model(m.id, &Device::flex()).unwrap();
        let mut points = Vec::new();
        for q in m.min_quality..=m.max_quality {
            let (bytes, _) = model.encode(&img, q).unwrap();
            let out = model.decode(&bytes, &Limits::default()).unwrap();
            points.push((
                bits_per_pixel(bytes.len(), img.width(), img.height()),
                psnr_rgb(&img, &out).unwrap(),
            ));
        }
        assert!(
            points.windows(2).all(|w| w[1].0 > w[0].0),
            "{}: bpp not increasing with quality: {points:?}",
            m.id
        );
        // On this small noisy synthetic image the top levels of an early model saturate:
        // PSNR may not fall by more than 0.1 dB from one level to the next, and the top
        // level must clearly beat the bottom one.
        assert!(
            points.windows(2).all(|w| w[1].1 > w[0].1 - 0.1),
            "{}: PSNR drops with quality: {points:?}",
            m.id
        );
        assert!(
            points[points.len() - 1].1 > points[0].1 + 0.5,
            "{}: no quality range: {points:?}",
            m.id
        );
        let path = ncodec_tests::fixtures().join(format!("rd-{}.json", m.id));
        if bless() {
            std::fs::write(&path, serde_json::to_vec_pretty(&points).unwrap()).unwrap();
        }
        let stored: Vec<(f64, f64)> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for ((b, p), (sb, sp)) in points.iter().zip(&stored) {
            assert!(
                (b / sb - 1.0).abs() < 0.02,
                "{}: bpp {b} vs stored {sb}",
                m.id
            );
            assert!((p - sp).abs() < 0.1, "{}: PSNR {p} vs stored {sp}", m.id);
        }
    }
}
