//! The classic wavelet codec `dwt97-rgb` (no weights, fast): round trips at odd sizes,
//! rate and quality ordered by level, and typed errors for foreign, out-of-range and
//! damaged files.

use image::RgbImage;
use ncodec::Error;
use ncodec::container::{Container, Limits, Section};
use ncodec::image_any::ImageCodec;
use ncodec::metrics::psnr_rgb;
use ncodec::registry;
use ncodec::wavelet_codec::{DEFAULT_QUALITY, DWT_ID, QUALITY_LEVELS, WaveletCodec, step};
use ncodec_models::burn::prelude::Device;

fn codec() -> ImageCodec {
    ImageCodec::Wavelet(Box::new(WaveletCodec::new()))
}

/// A smooth gradient with one sharp edge.
fn test_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let edge = if x > w / 2 { 60 } else { 0 };
        image::Rgb([
            (x * 3 + y + edge) as u8,
            (100 + y * 2) as u8,
            200u32.wrapping_sub(x + edge) as u8,
        ])
    })
}

#[test]
fn round_trips_at_odd_sizes() {
    let c = codec();
    for (w, h) in [(1, 1), (17, 9), (33, 65), (130, 7)] {
        let img = test_image(w, h);
        let (bytes, stats) = c.encode(&img, QUALITY_LEVELS - 1).unwrap();
        assert_eq!(stats.bytes, bytes.len());
        let out = c.decode(&bytes, &Limits::default()).unwrap();
        assert_eq!(out.dimensions(), (w, h));
        let p = psnr_rgb(&img, &out).unwrap();
        assert!(p > 38.0, "{w}×{h}: {p:.2} dB at the top level");
    }
}

#[test]
fn finer_levels_cost_more_and_reconstruct_better() {
    let c = codec();
    let img = test_image(96, 80);
    let mut last = (0usize, 0f64);
    for q in 0..QUALITY_LEVELS {
        assert!(step(q).unwrap() > 0.0);
        let (bytes, _) = c.encode(&img, q).unwrap();
        let h = Container::from_bytes(&bytes, &Limits::default())
            .unwrap()
            .header;
        assert_eq!((h.model_id.as_str(), h.quality), (DWT_ID, q));
        let p = psnr_rgb(&img, &c.decode(&bytes, &Limits::default()).unwrap()).unwrap();
        assert!(
            bytes.len() >= last.0 && p > last.1,
            "level {q}: {} B, {p:.2} dB after {last:?}",
            bytes.len()
        );
        last = (bytes.len(), p);
    }
}

#[test]
fn the_registry_ships_it_but_not_as_default() {
    let m = registry::find(DWT_ID).unwrap();
    assert!(!m.default);
    assert_eq!(m.default_quality, DEFAULT_QUALITY);
    let loaded = registry::load_image_model(DWT_ID, &Device::flex()).unwrap();
    assert_eq!(loaded.digest(), WaveletCodec::new().digest());
}

#[test]
fn out_of_range_and_foreign_files_are_refused() {
    let c = codec();
    let err = c.encode(&test_image(8, 8), QUALITY_LEVELS).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    let err = c.encode(&RgbImage::new(0, 4), 0).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");

    let (bytes, _) = c.encode(&test_image(8, 8), 3).unwrap();
    let good = Container::from_bytes(&bytes, &Limits::default()).unwrap();
    // Another model's id, another digest, a quality beyond the table.
    let mut other = good.clone();
    other.header.model_id = "walloc-rgb-16x-r1".into();
    let err = c
        .decode(&other.to_bytes().unwrap(), &Limits::default())
        .unwrap_err();
    assert!(matches!(err, Error::UnknownModel(_)), "{err}");
    let mut other = good.clone();
    other.header.model_digest[0] ^= 1;
    let err = c
        .decode(&other.to_bytes().unwrap(), &Limits::default())
        .unwrap_err();
    assert!(matches!(err, Error::ModelMismatch { .. }), "{err}");
    let mut other = good;
    other.header.quality = QUALITY_LEVELS;
    let err = c
        .decode(&other.to_bytes().unwrap(), &Limits::default())
        .unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err}");
}

/// Payloads that pass the container's checksums but are malformed: every one is a typed
/// error (the payload's framing, or the entropy decoder's), never a panic.
#[test]
fn malformed_payloads_are_corrupt_not_panics() {
    let c = codec();
    let (bytes, _) = c.encode(&test_image(40, 24), 5).unwrap();
    let good = Container::from_bytes(&bytes, &Limits::default()).unwrap();
    let data = good.sections[0].data.clone();
    let with = |d: Vec<u8>| {
        let mut f = good.clone();
        f.sections = vec![Section {
            tag: *b"DWTQ",
            data: d,
        }];
        f.to_bytes().unwrap()
    };
    let mut cases = vec![
        Vec::new(),
        vec![0],
        vec![9],
        data[..data.len() - 1].to_vec(),
        [data.as_slice(), &[0]].concat(),
    ];
    // Other level counts than the encoder's, and every length field made too long.
    for l in [1, 2, 4, 6, 8] {
        let mut d = data.clone();
        d[0] = l;
        cases.push(d);
    }
    let mut d = data.clone();
    d[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
    cases.push(d);
    for (i, d) in cases.into_iter().enumerate() {
        match c.decode(&with(d), &Limits::default()) {
            Err(Error::Corrupt(_) | Error::Entropy(_)) => {}
            other => panic!("case {i}: {other:?}"),
        }
    }
    // Flipping any bit inside the payload either errors or decodes to an image of the
    // right size; it never panics.
    for i in 0..data.len() {
        let mut d = data.clone();
        d[i] ^= 0x10;
        if let Ok(img) = c.decode(&with(d), &Limits::default()) {
            assert_eq!(img.dimensions(), (40, 24));
        }
    }
    // A file without the section.
    let mut f = good.clone();
    f.sections.clear();
    assert!(
        c.decode(&f.to_bytes().unwrap(), &Limits::default())
            .is_err()
    );
}
