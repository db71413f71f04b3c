//! The wavelet packet transform against PyWavelets (`bior4.4`, periodization) fixtures
//! written by `tests/fixtures/wavelet/make_wavelet_fixtures.py`, and perfect reconstruction.

use ncodec_models::burn::prelude::*;
use ncodec_models::burn::tensor::Distribution;
use ncodec_models::hyperprior::to_f32_vec;
use ncodec_models::wavelet::{iwpt1, iwpt2, iwpt2_cpu, wpt1, wpt2, wpt2_cpu};
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
