//! Metrics and BD-rate against values produced by the Python references
//! (`tests/fixtures/make_metric_fixtures.py` runs `rdmetrics.py` and `bdrate.py`).

use ncodec::metrics::{bd_quality, bd_rate, ms_ssim_rgb, psnr_rgb, rd_frontier};
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
