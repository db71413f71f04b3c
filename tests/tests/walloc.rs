//! The WaLLoC codec on a tiny untrained model (fast, no shared data): companding,
//! round trips at odd sizes, the latents API and `.npy`, typed errors.

use image::RgbImage;
use ncodec::Error;
use ncodec::container::Limits;
use ncodec::image_any::ImageCodec;
use ncodec::walloc_codec::WallocModel;
use ncodec_models::burn::prelude::*;
use ncodec_models::burn::tensor::Distribution;
use ncodec_models::hyperprior::to_f32_vec;
use ncodec_models::walloc::{WallocConfig, erfinv};

fn tiny_cfg() -> WallocConfig {
    WallocConfig::new(2, 3, 2, 4, 32).with_blocks(1)
}

fn codec() -> WallocModel {
    let cfg = tiny_cfg();
    let model = cfg.init(&Device::flex());
    let (c, w, t) = WallocModel::export(&cfg, &model).unwrap();
    WallocModel::from_parts("walloc-tiny", &c, &w, &t, &Device::flex()).unwrap()
}

fn test_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 9 + y) as u8,
            (x * y * 3) as u8,
            200u32.wrapping_sub(y * 4) as u8,
        ])
    })
}

#[test]
fn erfinv_inverts_erf() {
    let d = Device::flex();
    let x = Tensor::<1>::from_floats([-0.9998f32, -0.9, -0.5, 0.0, 0.3, 0.5, 0.99, 0.9998], &d);
    let back = to_f32_vec(erfinv(x.clone()).erf());
    for (a, b) in back.iter().zip(to_f32_vec(x)) {
        assert!((a - b).abs() < 2e-6, "erf(erfinv({b})) = {a}");
    }
    // scipy.special.erfinv(0.5)
    let v = to_f32_vec(erfinv(Tensor::<1>::from_floats([0.5f32], &d)))[0];
    assert!((v - 0.476_936_28).abs() < 1e-6, "{v}");
}

#[test]
fn companding_is_bounded_and_expand_inverts_it() {
    let d = Device::flex();
    let m = tiny_cfg().init(&d);
    let u = Tensor::<4>::random([1, 4, 3, 5], Distribution::Normal(0.0, 1.0), &d);
    let y = u
        .clone()
        .div_scalar(std::f64::consts::SQRT_2)
        .erf()
        .mul_scalar(127.499);
    let lim = to_f32_vec(y.clone())
        .iter()
        .fold(0f32, |a, v| a.max(v.abs()));
    assert!(lim < 127.5);
    let err = to_f32_vec(m.expand(y) - u)
        .iter()
        .fold(0f32, |a, v| a.max(v.abs()));
    assert!(err < 1e-3, "expand(compand(u)) differs by {err}");
}

#[test]
fn round_trips_at_odd_sizes_and_latents_match_the_file() {
    let c = codec();
    for (w, h) in [(1, 1), (17, 9), (40, 33)] {
        let img = test_image(w, h);
        let (bytes, stats) = c.encode_image(&img, 3).unwrap();
        assert_eq!(stats.bytes, bytes.len());
        let direct = c.image_latents(&img).unwrap();
        assert_eq!(direct.height, (h as usize).div_ceil(4));
        assert_eq!(direct.width, (w as usize).div_ceil(4));
        let from_file = c.latents_of_file(&bytes, &Limits::default()).unwrap();
        assert_eq!(direct, from_file, "{w}x{h}");
        let container =
            ncodec::container::Container::from_bytes(&bytes, &Limits::default()).unwrap();
        let out = c.decode_image(&container).unwrap();
        assert_eq!(out.dimensions(), (w, h));
        assert_eq!(
            out,
            c.image_from_latents(&direct, w as usize, h as usize)
                .unwrap()
        );
    }
}

#[test]
fn two_loads_write_identical_bytes() {
    let cfg = tiny_cfg();
    let model = cfg.init(&Device::flex());
    let (c, w, t) = WallocModel::export(&cfg, &model).unwrap();
    let a = WallocModel::from_parts("x", &c, &w, &t, &Device::flex()).unwrap();
    let b = WallocModel::from_parts("x", &c, &w, &t, &Device::flex()).unwrap();
    let img = test_image(64, 48);
    assert_eq!(
        a.encode_image(&img, 3).unwrap().0,
        b.encode_image(&img, 3).unwrap().0
    );
}

#[test]
fn npy_round_trip_and_header() {
    let c = codec();
    let l = c.image_latents(&test_image(24, 16)).unwrap();
    let npy = ncodec::npy::write_i32(&[l.channels, l.height, l.width], &l.values).unwrap();
    assert_eq!(&npy[..6], b"\x93NUMPY");
    assert_eq!(
        (npy.len() - (l.values.len())) % 64,
        0,
        "header padded to 64 bytes (int8)"
    );
    let (shape, values) = ncodec::npy::read_i32(&npy).unwrap();
    assert_eq!(shape, vec![4, 4, 6]);
    assert_eq!(values, l.values);
    let wide = ncodec::npy::write_i32(&[2], &[-40000, 7]).unwrap();
    assert_eq!(ncodec::npy::read_i32(&wide).unwrap().1, vec![-40000, 7]);
    assert!(ncodec::npy::read_i32(&npy[..npy.len() - 1]).is_err());
    assert!(ncodec::npy::write_i32(&[3], &[1, 2]).is_err());
}

#[test]
fn quality_other_than_zero_and_foreign_files_are_refused() {
    let any = ImageCodec::Walloc(Box::new(codec()));
    let err = any.encode(&test_image(8, 8), 2).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");

    // A file from a model with different weights.
    let cfg = tiny_cfg();
    let other = cfg.init(&Device::flex());
    let (c, w, t) = WallocModel::export(&cfg, &other).unwrap();
    let other = WallocModel::from_parts("walloc-tiny", &c, &w, &t, &Device::flex()).unwrap();
    let (bytes, _) = other.encode_image(&test_image(8, 8), 3).unwrap();
    let err = any.decode(&bytes, &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::ModelMismatch { .. }), "{err}");
}

#[test]
fn corrupt_payloads_error_without_panicking() {
    let c = ImageCodec::Walloc(Box::new(codec()));
    let (bytes, _) = c.encode(&test_image(32, 32), 0).unwrap();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x41;
        assert!(
            c.decode(&b, &Limits::default()).is_err(),
            "flip at {i} accepted"
        );
    }
}
