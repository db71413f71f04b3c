//! Metrics and BD-rate against values produced by the Python references
//! (`tests/fixtures/make_metric_fixtures.py` runs `rdmetrics.py` and `bdrate.py`).

use ncodec::media::audio::{Audio, WavFormat};
use ncodec::metrics::{
    bd_quality, bd_rate, ms_ssim_rgb, psnr_rgb, rd_frontier, sample_diff_audio, sample_diff_rgb,
    snr_audio,
};
use serde_json::Value;

fn load(name: &str) -> image::RgbImage {
    image::open(ncodec_tests::fixtures().join(name))
        .unwrap()
        .to_rgb8()
}

fn json(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(ncodec_tests::fixtures().join(name)).unwrap()).unwrap()
}

#[test]
fn psnr_and_ms_ssim_match_rdmetrics_py() {
    let j = json("rdmetrics.json");
    let a = load(j["reference"].as_str().unwrap());
    for p in j["pairs"].as_array().unwrap() {
        let b = load(p["file"].as_str().unwrap());
        let psnr = psnr_rgb(&a, &b).unwrap();
        let ms = ms_ssim_rgb(&a, &b).unwrap();
        let (want_psnr, want_ms) = (p["psnr"].as_f64().unwrap(), p["ms_ssim"].as_f64().unwrap());
        assert!(
            (psnr - want_psnr).abs() < 1e-4,
            "{}: psnr {psnr} vs {want_psnr}",
            p["file"]
        );
        assert!(
            (ms - want_ms).abs() < 1e-5,
            "{}: ms-ssim {ms} vs {want_ms}",
            p["file"]
        );
    }
    assert_eq!(psnr_rgb(&a, &a).unwrap(), f64::INFINITY);
    assert!((ms_ssim_rgb(&a, &a).unwrap() - 1.0).abs() < 1e-12);
}

#[test]
fn metrics_reject_bad_shapes() {
    let a = image::RgbImage::new(200, 200);
    assert!(psnr_rgb(&a, &image::RgbImage::new(200, 199)).is_err());
    assert!(
        ms_ssim_rgb(
            &image::RgbImage::new(160, 300),
            &image::RgbImage::new(160, 300)
        )
        .is_err()
    );
}

#[test]
fn bd_rate_matches_bdrate_py() {
    let j = json("bdrate.json");
    let curve = |n: &str| -> Vec<(f64, f64)> {
        j["curves"][n]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
            .collect()
    };
    for c in j["cases"].as_array().unwrap() {
        let (t, r) = (c["test"].as_str().unwrap(), c["ref"].as_str().unwrap());
        let got = bd_rate(&curve(r), &curve(t)).unwrap();
        let want = c["bd_rate"].as_f64().unwrap();
        assert!(
            (got - want).abs() < 1e-6,
            "{t} vs {r}: BD-rate {got} vs {want}"
        );
        let got = bd_quality(&curve(r), &curve(t)).unwrap();
        let want = c["bd_psnr"].as_f64().unwrap();
        assert!(
            (got - want).abs() < 1e-6,
            "{t} vs {r}: BD-PSNR {got} vs {want}"
        );
    }
    // Disjoint curves have no BD-rate.
    assert_eq!(
        bd_rate(&[(0.1, 20.0), (0.2, 21.0)], &[(1.0, 40.0), (2.0, 41.0)]),
        None
    );
}

/// The frontier drops exactly the dominated points (more bits for no more quality), keeps
/// order and ties that are not dominated, and so removes a dip from a BD curve.
#[test]
fn rd_frontier_drops_dominated_levels() {
    let pts = [
        (0.1, 24.0),
        (0.2, 26.0),
        (0.35, 27.0), // beaten by (0.3, 28.0)
        (0.5, 27.5),  // beaten by (0.3, 28.0)
        (0.3, 28.0),
        (0.6, 30.0),
        (0.6, 30.0), // an equal point does not dominate
        (0.7, 29.0), // beaten by (0.6, 30.0)
    ];
    assert_eq!(
        rd_frontier(&pts),
        [
            (0.1, 24.0),
            (0.2, 26.0),
            (0.3, 28.0),
            (0.6, 30.0),
            (0.6, 30.0)
        ]
    );
    assert!(rd_frontier(&[]).is_empty());
}

#[test]
fn sample_differences_count_and_bound() {
    let a = image::RgbImage::from_fn(5, 4, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut b = a.clone();
    b.put_pixel(1, 2, image::Rgb([1, 5, 7])); // green 2 → 5
    b.put_pixel(4, 0, image::Rgb([6, 0, 7])); // red 4 → 6
    let d = sample_diff_rgb(&a, &b).unwrap();
    assert_eq!((d.samples, d.differing, d.max_abs), (60, 2, 3.0));
    assert_eq!(sample_diff_rgb(&a, &a).unwrap().differing, 0);
    assert!(sample_diff_rgb(&a, &image::RgbImage::new(4, 5)).is_err());
}

#[test]
fn audio_snr_and_differences() {
    let clip = |ch: Vec<Vec<f32>>| Audio {
        format: WavFormat {
            sample_rate: 16_000,
            channels: ch.len() as u16,
            bits_per_sample: 16,
            float: false,
        },
        samples: ch,
    };
    let a = clip(vec![vec![0.5, -0.5, 0.5, -0.5], vec![0.5; 4]]);
    // Error energy 0.05² + 0.1² = 0.0125 against signal energy 8 × 0.25 = 2.
    let b = clip(vec![vec![0.55, -0.5, 0.5, -0.5], vec![0.5, 0.5, 0.4, 0.5]]);
    let snr = snr_audio(&a, &b).unwrap();
    assert!(
        (snr - 10.0 * (2.0f64 / 0.0125).log10()).abs() < 1e-4,
        "{snr}"
    );
    assert_eq!(snr_audio(&a, &a).unwrap(), f64::INFINITY);
    let d = sample_diff_audio(&a, &b).unwrap();
    assert_eq!((d.samples, d.differing), (8, 2));
    assert!((d.max_abs - 0.1).abs() < 1e-6);
    // Other lengths or channel counts are refused.
    assert!(snr_audio(&a, &clip(vec![vec![0.5; 4]])).is_err());
    assert!(sample_diff_audio(&a, &clip(vec![vec![0.5; 3], vec![0.5; 3]])).is_err());
}
