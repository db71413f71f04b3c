//! The classic wavelet codecs `dwt97-rgb` and `dwt97s-rgb` (no weights, fast; periodic
//! and symmetric extension): round trips at odd sizes, rate and quality ordered by level,
//! and typed errors for foreign, out-of-range and damaged files.

use image::RgbImage;
use ncodec::Error;
use ncodec::codec::{Codec, ModelFiles};
use ncodec::container::{Container, Limits, Section};
use ncodec::families::wavelet::{
    DEFAULT_QUALITY, DWT_ID, DWT_SYMMETRIC_ID, Extension, QUALITY_LEVELS, ROUNDING, WaveletCodec,
    step,
};
use ncodec::metrics::psnr_rgb;
use ncodec::registry;
use ncodec_models::burn::prelude::Device;
use ncodec_tests::{decode, encode};

fn codec() -> WaveletCodec {
    WaveletCodec::new()
}

/// Both classic codecs: periodic, then symmetric extension.
fn codecs() -> [WaveletCodec; 2] {
    [Extension::Periodic, Extension::Symmetric].map(WaveletCodec::classic)
}

/// The learned variant `id` with a post-filter's `model.json` and `weights.bpk`.
fn with_filter(id: &str, config: &[u8], weights: &[u8]) -> ncodec::Result<WaveletCodec> {
    let files = ModelFiles::new(
        id,
        "wavelet",
        vec![
            ("model.json", config.to_vec().into()),
            ("weights.bpk", weights.to_vec().into()),
        ],
    );
    WaveletCodec::with_filter(&files, &Device::flex())
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
    for c in codecs() {
        for (w, h) in [(1, 1), (17, 9), (33, 65), (130, 7)] {
            let img = test_image(w, h);
            let file = encode(&c, &img, QUALITY_LEVELS - 1).unwrap();
            let bytes = file.bytes.clone();
            let out = decode(&c, &bytes).unwrap();
            assert_eq!(out.dimensions(), (w, h));
            let p = psnr_rgb(&img, &out).unwrap();
            assert!(
                p > 38.0,
                "{} {w}×{h}: {p:.2} dB at the top level",
                c.info().id
            );
        }
    }
}

#[test]
fn finer_levels_cost_more_and_reconstruct_better() {
    for c in codecs() {
        let img = test_image(96, 80);
        let mut last = (0usize, 0f64);
        for q in 0..QUALITY_LEVELS {
            assert!(step(q).unwrap() > 0.0);
            let bytes = encode(&c, &img, q).unwrap().bytes;
            let h = Container::from_bytes(&bytes, &Limits::default())
                .unwrap()
                .header;
            assert_eq!((h.model_id.as_str(), h.quality), (c.info().id.as_str(), q));
            let p = psnr_rgb(&img, &decode(&c, &bytes).unwrap()).unwrap();
            assert!(
                bytes.len() >= last.0 && p > last.1,
                "level {q}: {} B, {p:.2} dB after {last:?}",
                bytes.len()
            );
            last = (bytes.len(), p);
        }
    }
}

#[test]
fn symmetric_extension_codes_a_ramp_in_fewer_bytes() {
    // The test image's gradients wrap into jumps at the borders under periodic extension.
    let [per, sym] = codecs();
    assert_eq!(sym.info().id, DWT_SYMMETRIC_ID);
    let img = test_image(96, 80);
    for q in [3, DEFAULT_QUALITY, QUALITY_LEVELS - 1] {
        let bp = encode(&per, &img, q).unwrap().bytes;
        let bs = encode(&sym, &img, q).unwrap().bytes;
        let pp = psnr_rgb(&img, &decode(&per, &bp).unwrap()).unwrap();
        let ps = psnr_rgb(&img, &decode(&sym, &bs).unwrap()).unwrap();
        eprintln!(
            "level {q}: periodic {} B {pp:.2} dB, symmetric {} B {ps:.2} dB",
            bp.len(),
            bs.len()
        );
        assert!(
            bs.len() < bp.len(),
            "level {q}: {} B ≥ {} B",
            bs.len(),
            bp.len()
        );
        assert!(ps > pp - 0.5, "level {q}: {ps:.2} dB against {pp:.2} dB");
    }
}

#[test]
fn the_registry_ships_it_but_not_as_default() {
    let m = registry::find(DWT_ID).unwrap();
    assert!(!m.default);
    assert_eq!(m.default_quality, DEFAULT_QUALITY);
    let loaded = registry::load(DWT_ID, &Device::flex()).unwrap();
    assert_eq!(loaded.info().digest, WaveletCodec::new().info().digest);
    let m = registry::find(DWT_SYMMETRIC_ID).unwrap();
    assert!(!m.default);
    let loaded = registry::load(DWT_SYMMETRIC_ID, &Device::flex()).unwrap();
    let sym = WaveletCodec::classic(Extension::Symmetric);
    assert_eq!(loaded.info().digest, sym.info().digest);
    assert_ne!(sym.info().digest, WaveletCodec::new().info().digest);
}

#[test]
fn out_of_range_and_foreign_files_are_refused() {
    let c = codec();
    let err = encode(&c, &test_image(8, 8), QUALITY_LEVELS).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    let err = encode(&c, &RgbImage::new(0, 4), 0).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");

    let bytes = encode(&c, &test_image(8, 8), 3).unwrap().bytes;
    let good = Container::from_bytes(&bytes, &Limits::default()).unwrap();
    // Another model's id, another digest, a quality beyond the table.
    let mut other = good.clone();
    other.header.model_id = "walloc-rgb-16x-r1".into();
    let err = decode(&c, &other.to_bytes().unwrap()).unwrap_err();
    assert!(matches!(err, Error::UnknownModel(_)), "{err}");
    let mut other = good.clone();
    other.header.model_digest[0] ^= 1;
    let err = decode(&c, &other.to_bytes().unwrap()).unwrap_err();
    assert!(matches!(err, Error::ModelMismatch { .. }), "{err}");
    let mut other = good;
    other.header.quality = QUALITY_LEVELS;
    let err = decode(&c, &other.to_bytes().unwrap()).unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err}");
}

/// Payloads that pass the container's checksums but are malformed: every one is a typed
/// error (the payload's framing, or the entropy decoder's), never a panic.
#[test]
fn malformed_payloads_are_corrupt_not_panics() {
    for c in codecs() {
        malformed_payloads_are_corrupt(&c);
    }
}

fn malformed_payloads_are_corrupt(c: &WaveletCodec) {
    let bytes = encode(c, &test_image(40, 24), 5).unwrap().bytes;
    let good = Container::from_bytes(&bytes, &Limits::default()).unwrap();
    // Today's files hold one adaptive stream (`DWTA`); the first files' layout (`DWTQ`,
    // with a length per group) is checked on stored files in `trained_models.rs`.
    assert_eq!(good.sections[0].tag, *b"DWTA");
    let data = good.sections[0].data.clone();
    let with = |d: Vec<u8>| {
        let mut f = good.clone();
        f.sections = vec![Section {
            tag: *b"DWTA",
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
    // Other level counts than the encoder's, and the stream cut by whole words.
    for l in [1, 2, 4, 6, 8] {
        let mut d = data.clone();
        d[0] = l;
        cases.push(d);
    }
    cases.push(data[..data.len() - 4].to_vec());
    cases.push(data[..5].to_vec());
    for (i, d) in cases.into_iter().enumerate() {
        match decode(c, &with(d)) {
            Err(Error::Corrupt(_) | Error::Entropy(_)) => {}
            other => panic!("{} case {i}: {other:?}", c.info().id),
        }
    }
    // Flipping any bit inside the payload either errors or decodes to an image of the
    // right size; it never panics.
    for i in 0..data.len() {
        let mut d = data.clone();
        d[i] ^= 0x10;
        if let Ok(img) = decode(c, &with(d)) {
            assert_eq!(img.dimensions(), (40, 24));
        }
    }
    // A file without the section.
    let mut f = good.clone();
    f.sections.clear();
    assert!(decode(c, &f.to_bytes().unwrap()).is_err());
}

/// An untrained post-filter (the identity): its configuration and exported weights.
fn identity_filter() -> (ncodec_models::postfilter::PostFilterConfig, Vec<u8>) {
    use ncodec_models::burn::module::Module;
    let cfg = ncodec_models::postfilter::PostFilterConfig::new()
        .with_width(4)
        .with_layers(3);
    let weights = cfg
        .init(&Device::flex())
        .into_record()
        .into_bytes()
        .unwrap()
        .to_vec();
    (cfg, weights)
}

/// A post-filter whose last convolution is not zero (an untrained filter is the
/// identity), as the bytes `ncodec train postfilter` exports.
fn nonzero_filter() -> (Vec<u8>, Vec<u8>) {
    use ncodec_models::burn::module::{Module, Param};
    use ncodec_models::burn::tensor::Distribution;
    use ncodec_models::postfilter::PostFilterConfig;
    let cfg = PostFilterConfig::new().with_width(4).with_layers(3);
    let mut f = cfg.init(&Device::flex());
    let last = f.convs.last_mut().unwrap();
    let w = last.weight.val();
    last.weight = Param::from_tensor(w.random_like(Distribution::Uniform(-0.05, 0.05)));
    let weights = f.into_record().into_bytes().unwrap().to_vec();
    // Coded with the classic encoder's offset, like a new export.
    let mut config = serde_json::to_value(&cfg).unwrap();
    config["rounding"] = f64::from(ROUNDING).into();
    (serde_json::to_vec(&config).unwrap(), weights)
}

/// The learned variant writes the same payload under its own id and digest; the plain
/// codec refuses its files and the other way round; an untrained (identity) filter
/// decodes to the plain codec's pixels; the tiled filter equals one pass over the whole
/// image.
#[test]
fn the_post_filtered_variant_has_its_own_identity_and_tiles_exactly() {
    use ncodec_models::burn::prelude::{Tensor, TensorData};
    use ncodec_models::postfilter::PostFilterConfig;
    let plain = WaveletCodec::new();
    let img = test_image(300, 270);
    let (cfg, ident_bytes) = identity_filter();
    // The classic encoder's offset, so that both write the same integers.
    let mut config = serde_json::to_value(&cfg).unwrap();
    config["rounding"] = f64::from(ROUNDING).into();
    let config = serde_json::to_vec(&config).unwrap();
    let identity = with_filter("dwt-ident", &config, &ident_bytes).unwrap();
    assert!(identity.is_learned() && !plain.is_learned());
    assert_ne!(identity.info().digest, plain.info().digest);
    let a = encode(&plain, &img, 6).unwrap().bytes;
    let b = encode(&identity, &img, 6).unwrap().bytes;
    let (ca, cb) = (
        Container::from_bytes(&a, &Limits::default()).unwrap(),
        Container::from_bytes(&b, &Limits::default()).unwrap(),
    );
    assert_eq!(ca.sections, cb.sections);
    assert_eq!(cb.header.model_id, "dwt-ident");
    assert!(matches!(
        plain.decode_image(&cb),
        Err(Error::UnknownModel(_))
    ));
    assert!(matches!(
        identity.decode_image(&ca),
        Err(Error::UnknownModel(_))
    ));
    let base = plain.decode_image(&ca).unwrap();
    assert_eq!(identity.decode_image(&cb).unwrap(), base);

    let (config, weights) = nonzero_filter();
    let learned = with_filter("dwt-test", &config, &weights).unwrap();
    let bytes = encode(&learned, &img, 6).unwrap().bytes;
    let tiled = learned
        .decode_image(&Container::from_bytes(&bytes, &Limits::default()).unwrap())
        .unwrap();
    assert_ne!(tiled, base);
    // One pass over the whole image with the same weights.
    let model = {
        use ncodec_models::burn::module::Module;
        use ncodec_models::burn::store::ModuleRecord;
        use ncodec_models::burn::tensor::Bytes;
        let cfg: PostFilterConfig = serde_json::from_slice(&config).unwrap();
        cfg.init(&Device::flex())
            .load_record(ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights.clone())).unwrap())
    };
    let x = Tensor::<4>::from_data(
        TensorData::new(
            ncodec::media::image::centred_planes(&base),
            [1, 3, 270, 300],
        ),
        &Device::flex(),
    );
    let y = ncodec_models::cpu::to_f32_vec(model.forward(x, f64::from(step(6).unwrap())));
    let whole = ncodec::media::image::planes_to_rgb8(&y, 300, 270);
    let diff = ncodec::metrics::sample_diff_rgb(&whole, &tiled).unwrap();
    assert!(diff.max_abs <= 1.0, "{diff:?}");

    // Bad filter files are typed errors.
    assert!(with_filter("x", b"{}", &weights).is_err());
    assert!(with_filter("x", &config, &weights[..10]).is_err());
}

/// `ncodec train postfilter` in miniature: it trains, exports a folder that loads as the
/// learned codec, and resumes.
#[test]
fn post_filter_training_exports_and_resumes() {
    let dir = ncodec_tests::scratch_dir("postfilter-train");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for (i, (w, h)) in [(100u32, 96u32), (128, 100)].into_iter().enumerate() {
        test_image(w, h)
            .save(data.join(format!("{i}.png")))
            .unwrap();
    }
    let out = dir.join("run");
    let filter = |qualities: Vec<u8>| {
        ncodec_train::ModelOptions::PostFilter(ncodec_train::PostFilterOptions {
            model: ncodec_models::postfilter::PostFilterConfig::new()
                .with_width(4)
                .with_layers(3),
            qualities,
            extension: Extension::Symmetric,
        })
    };
    let mut opts = ncodec_train::TrainOptions {
        data: data.clone(),
        val: Some(data.clone()),
        out: out.clone(),
        steps: 2,
        batch: 2,
        lr: 1e-3,
        seed: 1,
        checkpoint_every: 1,
        val_every: 2,
        patch: 32,
        jpeg_downscale: 1,
        model: filter(vec![2, 9]),
    };
    let train = |o: &ncodec_train::TrainOptions| {
        ncodec_train::train(o, &Device::flex(), &mut ncodec_train::PlainMonitor)
    };
    train(&opts).unwrap();
    let export = out.join("export");
    let codec = registry::load_dir(&export, &Device::flex()).unwrap();
    assert_eq!(codec.info().family, "wavelet");
    let w = WaveletCodec::with_filter(&ModelFiles::from_dir(&export).unwrap(), &Device::flex())
        .unwrap();
    assert!(w.is_learned());
    assert_eq!(w.extension(), Extension::Symmetric);
    // The export records the offset its training crops were quantised with.
    assert_eq!(w.rounding(), ROUNDING);
    let bytes = encode(codec.as_ref(), &test_image(21, 13), 4)
        .unwrap()
        .bytes;
    assert_eq!(
        decode(codec.as_ref(), &bytes).unwrap().dimensions(),
        (21, 13)
    );
    opts.steps = 3;
    train(&opts).unwrap();
    assert_eq!(ncodec_tests::train_state(&out).step, 3);
    // Levels the codec does not have, and images too small for a crop, are refused.
    opts.model = filter(vec![QUALITY_LEVELS]);
    assert!(train(&opts).is_err());
    opts.model = filter(vec![1]);
    opts.patch = 200;
    assert!(train(&opts).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_filter_config_names_its_extension_and_rounding() {
    let (cfg, weights) = identity_filter();
    let load = |v: serde_json::Value| with_filter("f", &serde_json::to_vec(&v).unwrap(), &weights);
    let with = |ext: &str| {
        let mut v = serde_json::to_value(&cfg).unwrap();
        v["extension"] = ext.into();
        v["rounding"] = f64::from(ROUNDING).into();
        load(v)
    };
    let sym = with("symmetric").unwrap();
    assert_eq!(sym.extension(), Extension::Symmetric);
    assert_eq!(sym.rounding(), ROUNDING);
    // Without "rounding", the offset the first filters were trained with; a bad one is
    // an error.
    let mut v = serde_json::to_value(&cfg).unwrap();
    v["extension"] = "symmetric".into();
    let old = load(v.clone()).unwrap();
    assert_eq!(
        old.rounding(),
        ncodec::families::wavelet::FILTER_DEFAULT_ROUNDING
    );
    for bad in [serde_json::json!(0.7), serde_json::json!("half")] {
        v["rounding"] = bad;
        assert!(matches!(load(v.clone()), Err(Error::InvalidArgument(_))));
    }
    // The offset is the encoder's: the same image gives other integers, same format.
    let img = test_image(40, 24);
    let c = encode(&old, &img, 6).unwrap().bytes;
    let d = encode(&sym, &img, 6).unwrap().bytes;
    assert_ne!(c, d);
    assert!(
        sym.decode_image(&Container::from_bytes(&d, &Limits::default()).unwrap())
            .is_ok()
    );
    let a = encode(&WaveletCodec::classic(Extension::Symmetric), &img, 6)
        .unwrap()
        .bytes;
    let b = encode(&sym, &img, 6).unwrap().bytes;
    let sections = |x: &[u8]| {
        Container::from_bytes(x, &Limits::default())
            .unwrap()
            .sections
    };
    assert_eq!(sections(&a), sections(&b));
    assert_eq!(with("periodic").unwrap().extension(), Extension::Periodic);
    assert_ne!(with("periodic").unwrap().info().digest, sym.info().digest);
    assert!(matches!(with("mirror"), Err(Error::InvalidArgument(_))));
}

#[test]
fn smooth_padding_keeps_the_image_and_fades_the_stripes() {
    use ncodec::families::wavelet::pad_smooth;
    use ncodec::media::image::pad_replicate;
    let (w, h, pw, ph) = (37usize, 21usize, 64usize, 32usize);
    // Stripes: a row whose values alternate, repeated down the image.
    let img = RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let v = if x % 2 == 0 { 40 } else { 220 };
        image::Rgb([v, v / 2 + y as u8, 255 - v])
    });
    let (s, r) = (pad_smooth(&img, pw, ph), pad_replicate(&img, pw, ph));
    assert_eq!(s.len(), r.len());
    assert!(s.iter().all(|v| (0.0..=1.0).contains(v)));
    // The image itself is untouched.
    for c in 0..3 {
        for y in 0..h {
            for x in 0..w {
                let i = (c * ph + y) * pw + x;
                assert_eq!(s[i], r[i]);
            }
        }
    }
    // Below the image, plain repetition keeps the stripes at full strength; smoothing
    // fades them.
    let variation = |p: &[f32]| -> f32 {
        (h..ph)
            .flat_map(|y| (1..pw).map(move |x| (y, x)))
            .map(|(y, x)| (p[y * pw + x] - p[y * pw + x - 1]).abs())
            .sum()
    };
    let (vs, vr) = (variation(&s), variation(&r));
    assert!(vs < vr / 4.0, "smoothed {vs}, repeated {vr}");
}
