//! The wavelet packet transform against PyWavelets (`bior4.4`, periodization) fixtures
//! written by `tests/fixtures/wavelet/make_wavelet_fixtures.py`, and perfect reconstruction.

use ncodec_models::burn::prelude::*;
use ncodec_models::burn::tensor::Distribution;
use ncodec_models::cpu::to_f32_vec;
use ncodec_models::wavelet::{
    dwt2_symmetric, idwt2_symmetric, iwpt1, iwpt2, iwpt2_cpu, wpt1, wpt2, wpt2_cpu,
};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let p = ncodec_tests::fixtures().join("wavelet/bior44_periodization.json");
    let v: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn shape(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn matches_pywavelets_and_inverts() {
    let device = Device::flex();
    let cases = cases();
    assert_eq!(cases.len(), 5);
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let levels = c["levels"].as_u64().unwrap() as usize;
        let input = floats(&c["input"]);
        let want = floats(&c["output"]);
        let (ishape, oshape) = (shape(&c["input_shape"]), shape(&c["output_shape"]));
        let x = Tensor::<1>::from_floats(input.as_slice(), &device);
        let (got, back) = if ishape.len() == 4 {
            let x: Tensor<4> = x.reshape([ishape[0], ishape[1], ishape[2], ishape[3]]);
            let y = wpt2(x, levels);
            assert_eq!(y.dims().to_vec(), oshape, "{name}");
            (to_f32_vec(y.clone()), to_f32_vec(iwpt2(y, levels)))
        } else {
            let x: Tensor<3> = x.reshape([ishape[0], ishape[1], ishape[2]]);
            let y = wpt1(x, levels);
            assert_eq!(y.dims().to_vec(), oshape, "{name}");
            (to_f32_vec(y.clone()), to_f32_vec(iwpt1(y, levels)))
        };
        if ishape.len() == 4 {
            // The CPU encoder path, one batch item at a time.
            let per = ishape[1] * ishape[2] * ishape[3];
            let cpu: Vec<f32> = input
                .chunks(per)
                .flat_map(|x| wpt2_cpu(x, ishape[1], ishape[2], ishape[3], levels))
                .collect();
            let d = max_abs_diff(&cpu, &want);
            assert!(d < 1e-5, "{name}: wpt2_cpu differs from PyWavelets by {d}");
            // And the CPU synthesis inverts the PyWavelets coefficients.
            let per_out = want.len() / ishape[0];
            let (oh, ow) = (ishape[2] >> levels, ishape[3] >> levels);
            let back: Vec<f32> = want
                .chunks(per_out)
                .flat_map(|y| iwpt2_cpu(y, ishape[1], oh, ow, levels))
                .collect();
            let r = max_abs_diff(&back, &input);
            assert!(
                r < 1e-5,
                "{name}: iwpt2_cpu does not invert PyWavelets by {r}"
            );
        }
        let d = max_abs_diff(&got, &want);
        assert!(d < 1e-5, "{name}: forward differs from PyWavelets by {d}");
        let r = max_abs_diff(&back, &input);
        assert!(r < 1e-5, "{name}: reconstruction error {r}");
    }
}

#[test]
fn packet_of_an_image_sized_input_reconstructs() {
    let device = Device::flex();
    let x = Tensor::<4>::random([1, 3, 64, 96], Distribution::Uniform(-0.5, 0.5), &device);
    let y = wpt2(x.clone(), 3);
    assert_eq!(y.dims(), [1, 192, 8, 12]);
    // Orthogonality is not expected (biorthogonal filters), but energy is close to kept.
    let r = max_abs_diff(&to_f32_vec(iwpt2(y, 3)), &to_f32_vec(x));
    assert!(r < 1e-5, "reconstruction error {r}");
}

/// A deterministic pseudo-random plane in 0..255.
fn noise_plane(h: usize, w: usize, seed: u64) -> Vec<f32> {
    let mut x = seed;
    (0..h * w)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 40) as f32 / (1u64 << 24) as f32 * 255.0
        })
        .collect()
}

#[test]
fn symmetric_lifting_inverts_and_equals_the_periodic_transform_inside() {
    for (h, w) in [(2, 2), (2, 8), (6, 10), (64, 32)] {
        let x = noise_plane(h, w, (h * 100 + w) as u64);
        let c = dwt2_symmetric(&x, h, w);
        assert_eq!(c.len(), h * w);
        let back = idwt2_symmetric(&c, h / 2, w / 2);
        let err = max_abs_diff(&x, &back);
        assert!(err < 1e-3, "{h}×{w}: reconstruction error {err}");
    }
    // Away from the borders (the 9/7 filters reach 4 samples, 2 coefficients), both
    // extensions give the same coefficients in the same order and sign.
    let (h, w) = (64, 48);
    let x = noise_plane(h, w, 7);
    let (s, p) = (dwt2_symmetric(&x, h, w), wpt2_cpu(&x, 1, h, w, 1));
    let (h2, w2) = (h / 2, w / 2);
    for band in 0..4 {
        for i in 3..h2 - 3 {
            for j in 3..w2 - 3 {
                let k = band * h2 * w2 + i * w2 + j;
                assert!(
                    (s[k] - p[k]).abs() < 1e-2,
                    "band {band} ({i},{j}): {} vs {}",
                    s[k],
                    p[k]
                );
            }
        }
    }
}

#[test]
fn symmetric_extension_leaves_no_border_edge_in_a_ramp() {
    // A horizontal ramp: its detail coefficients vanish inside. Periodic extension makes
    // the right edge (248) meet the left one (0), a jump; symmetric extension only folds
    // the ramp at its ends.
    let (h, w) = (16, 32);
    let x: Vec<f32> = (0..h * w).map(|i| (i % w) as f32 * 8.0).collect();
    let border = |c: &[f32]| {
        let n = h * w / 4;
        c[n..].iter().fold(0f32, |m, v| m.max(v.abs()))
    };
    let (sym, per) = (
        border(&dwt2_symmetric(&x, h, w)),
        border(&wpt2_cpu(&x, 1, h, w, 1)),
    );
    eprintln!("largest detail: symmetric {sym}, periodic {per}");
    assert!(
        sym * 4.0 < per,
        "symmetric details up to {sym}, periodic {per}"
    );
}
