//! The hyperprior and factorized-prior image codecs on tiny untrained models (fast, no
//! shared data): determinism of the entropy path, round trips at odd sizes, typed errors,
//! and short training runs of both families (export, reload, resume).
//! Rate–distortion of the trained models is checked in `trained_models.rs`.

use image::RgbImage;
use ncodec::Error;
use ncodec::container::{Container, Limits};
use ncodec::image_codec::{
    ImageModel, ImageNetRef, crop_to_rgb8, pad_replicate, prepare_input, restore_channels,
};
use ncodec_models::burn::prelude::*;
use ncodec_models::cpu::FeatureMap;
use ncodec_models::factorized::{Factorized, FactorizedConfig};
use ncodec_models::hyperprior::{Hyperprior, HyperpriorConfig, RdImageNet};

fn tiny(mean_scale: bool) -> (HyperpriorConfig, Hyperprior) {
    let cfg = HyperpriorConfig::new(8, 12, vec![0.005, 0.02]).with_mean_scale(mean_scale);
    let model = cfg.init(&Device::flex());
    (cfg, model)
}

fn codec(mean_scale: bool) -> ImageModel {
    let (cfg, model) = tiny(mean_scale);
    let (c, w, t) = ImageModel::export(ImageNetRef::Hyperprior(&cfg, &model)).unwrap();
    ImageModel::from_parts("tiny-test", &c, &w, &t, &Device::flex()).unwrap()
}

fn test_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 7 + y * 3) as u8,
            (x * y) as u8,
            255u32.wrapping_sub(x * 5) as u8,
        ])
    })
}

#[test]
fn cpu_h_s_matches_burn_h_s() {
    for mean_scale in [true, false] {
        let (_, model) = tiny(mean_scale);
        let z = Tensor::<4>::random(
            [1, 8, 3, 5],
            ncodec_models::burn::tensor::Distribution::Normal(0.0, 3.0),
            &Device::flex(),
        );
        let zv = z.to_data().convert::<f32>().try_into_vec::<f32>().unwrap();
        let (scales, means) = model.h_s(z);
        let mut burn_out = scales
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        if let Some(m) = means {
            burn_out.extend(
                m.into_data()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    .unwrap(),
            );
        }
        let cpu = model.h_s_cpu().forward(FeatureMap {
            data: zv,
            c: 8,
            h: 3,
            w: 5,
        });
        assert_eq!((cpu.h, cpu.w), (12, 20));
        assert_eq!(cpu.data.len(), burn_out.len());
        let max_err = cpu
            .data
            .iter()
            .zip(&burn_out)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(max_err < 1e-4, "CPU kernel differs from Burn by {max_err}");
    }
}

#[test]
fn cpu_kernel_is_bit_identical_across_thread_counts() {
    let (_, model) = tiny(true);
    let net = model.h_s_cpu();
    let z: Vec<f32> = (0..8 * 4 * 6)
        .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.7)
        .collect();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                net.forward(FeatureMap {
                    data: z.clone(),
                    c: 8,
                    h: 4,
                    w: 6,
                })
                .data
            })
    };
    let one: Vec<u32> = run(1).iter().map(|v| v.to_bits()).collect();
    let three: Vec<u32> = run(3).iter().map(|v| v.to_bits()).collect();
    assert_eq!(one, three);
}

#[test]
fn round_trips_at_odd_sizes_and_is_deterministic() {
    for mean_scale in [true, false] {
        let c = codec(mean_scale);
        for (w, h) in [(1, 1), (17, 9), (70, 65)] {
            let img = test_image(w, h);
            for q in 0..2 {
                let (bytes, stats) = c.encode(&img, q).unwrap();
                assert_eq!(stats.bytes, bytes.len());
                let (again, _) = c.encode(&img, q).unwrap();
                assert_eq!(bytes, again, "encoding is not deterministic");
                let out = c.decode(&bytes, &Limits::default()).unwrap();
                assert_eq!((out.width(), out.height()), (w, h));
                assert_eq!(out, c.decode(&bytes, &Limits::default()).unwrap());
            }
        }
    }
}

#[test]
fn a_reloaded_model_decodes_what_another_instance_encoded() {
    // Two independent loads of the same exported files: the entropy path depends only on
    // the committed integers and the fixed-order kernel, so symbols must agree exactly.
    let (cfg, model) = tiny(true);
    let (c, w, t) = ImageModel::export(ImageNetRef::Hyperprior(&cfg, &model)).unwrap();
    let a = ImageModel::from_parts("tiny-test", &c, &w, &t, &Device::flex()).unwrap();
    let b = ImageModel::from_parts("tiny-test", &c, &w, &t, &Device::flex()).unwrap();
    let img = test_image(100, 80);
    let (bytes, _) = a.encode(&img, 1).unwrap();
    assert_eq!(
        a.decode(&bytes, &Limits::default()).unwrap(),
        b.decode(&bytes, &Limits::default()).unwrap()
    );
}

#[test]
fn foreign_and_damaged_files_are_typed_errors() {
    let c = codec(true);
    let (bytes, _) = c.encode(&test_image(40, 30), 0).unwrap();
    // Another model's digest.
    let other = codec(false);
    assert!(matches!(
        other.decode(&bytes, &Limits::default()),
        Err(Error::ModelMismatch { .. })
    ));
    // A damaged payload byte is caught by the section CRC.
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 30] ^= 1;
    assert!(matches!(
        c.decode(&bad, &Limits::default()),
        Err(Error::Corrupt(_))
    ));
    // Every truncation is an error, never a panic.
    for cut in (0..bytes.len()).step_by(7) {
        assert!(c.decode(&bytes[..cut], &Limits::default()).is_err());
    }
    // Out-of-range quality.
    assert!(matches!(
        c.encode(&test_image(4, 4), 9),
        Err(Error::InvalidArgument(_))
    ));
    // A file that names a different model id.
    let mut parsed = Container::from_bytes(&bytes, &Limits::default()).unwrap();
    parsed.header.model_id = "someone-else".into();
    assert!(matches!(
        c.decode_container(&parsed),
        Err(Error::UnknownModel(_))
    ));
}

#[test]
fn input_formats_are_coded_faithfully_or_refused() {
    let gray = image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(5, 4, |x, _| {
        image::Luma([x as u8 * 40])
    }));
    let (rgb, ch) = prepare_input(&gray).unwrap();
    assert_eq!(ch, 1);
    assert!(matches!(
        restore_channels(rgb, ch),
        image::DynamicImage::ImageLuma8(_)
    ));

    let opaque = image::DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
        3,
        3,
        image::Rgba([1, 2, 3, 255]),
    ));
    let (rgb, ch) = prepare_input(&opaque).unwrap();
    assert_eq!(ch, 4);
    assert!(matches!(
        restore_channels(rgb, ch),
        image::DynamicImage::ImageRgba8(_)
    ));

    let transparent = image::DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
        3,
        3,
        image::Rgba([1, 2, 3, 10]),
    ));
    assert!(matches!(
        prepare_input(&transparent),
        Err(Error::Unsupported(_))
    ));
    let deep = image::DynamicImage::ImageRgb16(image::ImageBuffer::new(3, 3));
    assert!(matches!(prepare_input(&deep), Err(Error::Unsupported(_))));
}

fn tiny_factorized() -> (FactorizedConfig, Factorized) {
    let cfg = FactorizedConfig::new(8, 12, vec![0.005, 0.02]);
    let model = cfg.init(&Device::flex());
    (cfg, model)
}

/// The factorized-prior codec quantises like the model's evaluation pass (rounding around
/// the medians): the decoded image is close to that pass's reconstruction, at every level
/// and at odd sizes; its files hold `YHAT` only.
#[test]
fn factorized_files_decode_close_to_the_evaluation_pass() {
    let (cfg, model) = tiny_factorized();
    let (c, w, t) = ImageModel::export(ImageNetRef::Factorized(&cfg, &model)).unwrap();
    let fact = ImageModel::from_parts("tiny-fact", &c, &w, &t, &Device::flex()).unwrap();
    assert!(fact.is_factorized() && fact.config().is_none());
    assert_eq!(fact.levels(), 2);
    for (w, h) in [(1, 1), (17, 9), (70, 65)] {
        let img = test_image(w, h);
        let (pw, ph) = (
            (w as usize).div_ceil(64) * 64,
            (h as usize).div_ceil(64) * 64,
        );
        let x = Tensor::<4>::from_data(
            TensorData::new(pad_replicate(&img, pw, ph), [1, 3, ph, pw]),
            &Device::flex(),
        );
        for q in 0..2u8 {
            let (bytes, _) = fact.encode(&img, q).unwrap();
            let file = Container::from_bytes(&bytes, &Limits::default()).unwrap();
            let tags: Vec<[u8; 4]> = file.sections.iter().map(|s| s.tag).collect();
            assert_eq!(tags, vec![*b"YHAT"]);
            let out = fact.decode(&bytes, &Limits::default()).unwrap();
            let eval = model.forward_eval(x.clone(), usize::from(q)).x_hat;
            let eval = eval
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .unwrap();
            // The evaluation pass rounds around the learned quantile medians, the codec
            // around the frozen densities' medians: nearly the same image.
            let want = crop_to_rgb8(&eval, pw, ph, w as usize, h as usize);
            let agree = ncodec::metrics::psnr_rgb(&want, &out).unwrap();
            assert!(
                agree > 35.0,
                "{w}x{h} q{q}: {agree:.1} dB from the evaluation pass"
            );
        }
    }
    // A hyperprior file is refused by the factorized model and the other way round.
    let hp = codec(true);
    let (hp_file, _) = hp.encode(&test_image(20, 20), 0).unwrap();
    assert!(fact.decode(&hp_file, &Limits::default()).is_err());
}

/// Two small photos in `dir/data`, the training folder of the training tests.
fn training_photos(dir: &std::path::Path) -> std::path::PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for (i, (w, h)) in [(96u32, 80u32), (70, 100)].into_iter().enumerate() {
        test_image(w, h)
            .save(data.join(format!("{i}.png")))
            .unwrap();
    }
    data
}

/// The options of the training tests' small runs: two steps of a tiny mean-scale
/// hyperprior with two levels on `data`, writing into `out`, without validation.
fn small_run(data: &std::path::Path, out: std::path::PathBuf) -> ncodec::train::TrainOptions {
    ncodec::train::TrainOptions {
        data: data.to_path_buf(),
        val: None,
        out,
        n: 8,
        m: 12,
        mean_scale: true,
        factorized: false,
        lambdas: vec![0.005, 0.02],
        patch: 64,
        batch: 2,
        steps: 2,
        lr: 1e-4,
        seed: 1,
        checkpoint_every: 1,
        val_every: 100,
        jpeg_downscale: 1,
        balance_levels: false,
        init: None,
        decoder_only: false,
    }
}

/// A few steps of `ncodec train image` for each family on two small photos: checkpoints,
/// export, reload through the model-folder loader, and resume to a later step.
#[test]
fn both_families_train_export_and_resume() {
    let dir = ncodec_tests::scratch_dir("train-test");
    let data = training_photos(&dir);
    for factorized in [false, true] {
        let out = dir.join(if factorized { "fact" } else { "hyper" });
        let mut opts = ncodec::train::TrainOptions {
            val: Some(data.clone()),
            factorized,
            val_every: 2,
            balance_levels: !factorized,
            ..small_run(&data, out.clone())
        };
        ncodec::train::train_image(&opts, &Device::flex()).unwrap();
        let codec =
            ncodec::registry::load_image_model_dir(&out.join("export"), &Device::flex()).unwrap();
        let ncodec::image_any::ImageCodec::Hyperprior(m) = &codec else {
            panic!("a trained image model loads as the learned-image family");
        };
        assert_eq!(m.is_factorized(), factorized);
        let img = test_image(33, 21);
        let (bytes, _) = codec.encode(&img, 1).unwrap();
        assert_eq!(
            codec
                .decode(&bytes, &Limits::default())
                .unwrap()
                .dimensions(),
            (33, 21)
        );
        opts.steps = 3;
        ncodec::train::train_image(&opts, &Device::flex()).unwrap();
        let state = ncodec_tests::train_state(&out);
        assert_eq!((state.step, state.optim_start), (3, 0));
        // With balanced levels, each level's running loss is saved for the resume.
        if opts.balance_levels {
            assert_eq!(
                state.level_loss_mean.len(),
                2,
                "{:?}",
                state.level_loss_mean
            );
            assert!(state.level_loss_mean.iter().all(|&m| m > 0.0));
        } else {
            assert!(state.level_loss_mean.is_empty());
        }
        // Weights without Adam's state (as when resuming from shipped weights): the
        // learning rate warms up again from there.
        std::fs::remove_file(out.join("optim.bpk")).unwrap();
        opts.steps = 4;
        ncodec::train::train_image(&opts, &Device::flex()).unwrap();
        let state = ncodec_tests::train_state(&out);
        assert_eq!((state.step, state.optim_start), (4, 3));
        let log = std::fs::read_to_string(out.join("log.csv")).unwrap();
        assert!(log.lines().any(|l| l.contains(",val,1,")), "{log}");
        // Validation also logs the rate that training sees, with noise for rounding.
        assert!(log.lines().any(|l| l.contains(",val-noisy,1,")), "{log}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `ncodec train image --init`: a new run starts from an exported model's weights; a
/// model whose `model.json` differs from the run's, or of another family, is refused.
#[test]
fn training_starts_from_an_exported_model() {
    let dir = ncodec_tests::scratch_dir("train-init");
    let data = training_photos(&dir);
    let a = small_run(&data, dir.join("a"));
    let device = Device::flex();
    ncodec::train::train_image(&a, &device).unwrap();
    let a_export = a.out.join("export");
    // One step at a negligible learning rate from A's weights, and the same from scratch.
    let from = |name: &str, init: Option<String>| ncodec::train::TrainOptions {
        out: dir.join(name),
        steps: 1,
        lr: 1e-12,
        init,
        ..a.clone()
    };
    let b = from("b", Some(a_export.to_string_lossy().into_owned()));
    ncodec::train::train_image(&b, &device).unwrap();
    let state = ncodec_tests::train_state(&b.out);
    assert_eq!((state.step, state.optim_start), (1, 0));
    // The log's loss of that one step (level 0) is its rate–distortion loss; the
    // auxiliary loss has its own column.
    let log = std::fs::read_to_string(b.out.join("log.csv")).unwrap();
    let row: Vec<f64> = log
        .lines()
        .find(|l| l.starts_with("1,train,"))
        .unwrap_or_else(|| panic!("{log}"))
        .split(',')
        .map(|v| v.parse().unwrap_or(f64::NAN))
        .collect();
    let (loss, mse, bpp, aux) = (row[4], row[5], row[7], row[8]);
    let want = 0.005 * 255.0 * 255.0 * mse + bpp;
    assert!((loss - want).abs() < 1e-9 * want, "{log}");
    assert!(aux.is_finite() && aux > 0.0, "{log}");
    let c = from("c", None);
    ncodec::train::train_image(&c, &device).unwrap();
    let img = test_image(64, 64);
    let decoded = |out: &std::path::Path| {
        let codec = ncodec::registry::load_image_model_dir(&out.join("export"), &device).unwrap();
        let (bytes, _) = codec.encode(&img, 1).unwrap();
        codec.decode(&bytes, &Limits::default()).unwrap()
    };
    let (da, db, dc) = (decoded(&a.out), decoded(&b.out), decoded(&c.out));
    let ab = ncodec::metrics::psnr_rgb(&da, &db).unwrap();
    let ac = ncodec::metrics::psnr_rgb(&da, &dc).unwrap();
    assert!(
        ab > 50.0 && ab > ac + 10.0,
        "A~B {ab:.1} dB, A~C {ac:.1} dB"
    );
    // More quality levels than the source: its levels are kept, the others resampled.
    let wider = ncodec::train::TrainOptions {
        lambdas: vec![0.0025, 0.005, 0.01, 0.02, 0.04],
        // No steps: the run only exports the resampled model.
        steps: 0,
        ..from("i", Some(a_export.to_string_lossy().into_owned()))
    };
    ncodec::train::train_image(&wider, &device).unwrap();
    let wide = ncodec::registry::load_image_model_dir(&wider.out.join("export"), &device).unwrap();
    assert_eq!(wide.levels(), 5);
    let at = |codec: &ncodec::image_any::ImageCodec, q: u8| {
        let (bytes, stats) = codec.encode(&img, q).unwrap();
        (
            codec.decode(&bytes, &Limits::default()).unwrap(),
            stats.bytes,
        )
    };
    let a_codec = ncodec::registry::load_image_model_dir(&a_export, &device).unwrap();
    for (qa, qw) in [(0, 1), (1, 3)] {
        let p = ncodec::metrics::psnr_rgb(&at(&a_codec, qa).0, &at(&wide, qw).0).unwrap();
        assert!(
            p > 50.0,
            "A's level {qa} vs the wider run's {qw}: {p:.1} dB"
        );
    }
    // The added levels code at rates that follow λ.
    let sizes: Vec<usize> = (0..5).map(|q| at(&wide, q).1).collect();
    assert!(sizes[0] <= sizes[1] && sizes[3] <= sizes[4], "{sizes:?}");
    // A larger M widens the source's latents: the new channels start unused, so every
    // level decodes to the source's pixels; adding levels at the same time works too.
    let widened = ncodec::train::TrainOptions {
        m: 20,
        steps: 0,
        ..from("w", Some(a_export.to_string_lossy().into_owned()))
    };
    ncodec::train::train_image(&widened, &device).unwrap();
    let wide_m =
        ncodec::registry::load_image_model_dir(&widened.out.join("export"), &device).unwrap();
    let config = std::fs::read_to_string(widened.out.join("export/model.json")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["m"], 20, "{config}");
    for q in [0, 1] {
        let p = ncodec::metrics::psnr_rgb(&at(&a_codec, q).0, &at(&wide_m, q).0).unwrap();
        assert!(p > 50.0, "A's level {q} vs the widened run's: {p:.1} dB");
    }
    let both = ncodec::train::TrainOptions {
        lambdas: vec![0.0025, 0.005, 0.01, 0.02, 0.04],
        ..from("wl", Some(a_export.to_string_lossy().into_owned()))
    };
    let both = ncodec::train::TrainOptions {
        m: 20,
        steps: 0,
        ..both
    };
    ncodec::train::train_image(&both, &device).unwrap();
    let both = ncodec::registry::load_image_model_dir(&both.out.join("export"), &device).unwrap();
    let p = ncodec::metrics::psnr_rgb(&at(&a_codec, 1).0, &at(&both, 3).0).unwrap();
    assert!(
        p > 50.0,
        "A's level 1 vs the widened run's level 3: {p:.1} dB"
    );
    // Rerun later, B resumes from its own checkpoint and no longer reads the model named.
    let b2 = ncodec::train::TrainOptions {
        steps: 2,
        init: Some(dir.join("gone").to_string_lossy().into_owned()),
        ..b.clone()
    };
    ncodec::train::train_image(&b2, &device).unwrap();
    assert_eq!(ncodec_tests::train_state(&b.out).step, 2);

    let refused = |opts: ncodec::train::TrainOptions, what: &str| {
        let e = ncodec::train::train_image(&opts, &device).unwrap_err();
        assert!(e.to_string().contains(what), "{e}");
        assert!(!opts.out.exists(), "a refused run creates no folder");
    };
    let init = Some(a_export.to_string_lossy().into_owned());
    refused(
        ncodec::train::TrainOptions {
            n: 16,
            ..from("d", init.clone())
        },
        "differs from this run's",
    );
    // A smaller M is not a widening.
    refused(
        ncodec::train::TrainOptions {
            m: 8,
            ..from("d", init.clone())
        },
        "differs from this run's",
    );
    refused(
        ncodec::train::TrainOptions {
            factorized: true,
            ..from("e", init)
        },
        "differs from this run's",
    );
    // Other λs that drop one of the source's, or out of order.
    for (name, lambdas) in [("j", vec![0.005, 0.03]), ("k", vec![0.02, 0.005, 0.04])] {
        refused(
            ncodec::train::TrainOptions {
                lambdas,
                ..from(name, Some(a_export.to_string_lossy().into_owned()))
            },
            "include all of them",
        );
    }
    // Shipped models by id: one of another size, one of another family, and no model.
    refused(
        from("f", Some("hp-mean-64-r1".into())),
        "differs from this run's",
    );
    refused(
        from("g", Some("dwt97s-rgb".into())),
        "not a hyperprior or factorized-prior model",
    );
    refused(
        from("h", Some("no-such-model".into())),
        "neither a model folder",
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// `ncodec train image --decoder-only`: the run trains the decoder of its `--init` model,
/// for both families, so files of the result carry the same symbols as the source's,
/// with other decoder weights; without `--init` it is refused.
#[test]
fn decoder_only_training_keeps_every_symbol() {
    let dir = ncodec_tests::scratch_dir("train-decoder");
    let data = training_photos(&dir);
    let device = Device::flex();
    let img = test_image(70, 45);
    for factorized in [false, true] {
        let name = if factorized { "fact" } else { "hyper" };
        let a = ncodec::train::TrainOptions {
            factorized,
            ..small_run(&data, dir.join(name))
        };
        ncodec::train::train_image(&a, &device).unwrap();
        let a_export = a.out.join("export");
        let b = ncodec::train::TrainOptions {
            out: dir.join(format!("{name}-dec")),
            steps: 4,
            lr: 1e-2,
            init: Some(a_export.to_string_lossy().into_owned()),
            decoder_only: true,
            ..a.clone()
        };
        ncodec::train::train_image(&b, &device).unwrap();
        let b_export = b.out.join("export");
        let read = |d: &std::path::Path| std::fs::read(d.join("tables.bin")).unwrap();
        assert_eq!(read(&a_export), read(&b_export), "{name}: tables");
        let ca = ncodec::registry::load_image_model_dir(&a_export, &device).unwrap();
        let cb = ncodec::registry::load_image_model_dir(&b_export, &device).unwrap();
        for q in 0..2 {
            let (fa, _) = ca.encode(&img, q).unwrap();
            let (fb, _) = cb.encode(&img, q).unwrap();
            let sections = |f: &[u8]| {
                Container::from_bytes(f, &Limits::default())
                    .unwrap()
                    .sections
            };
            assert_eq!(sections(&fa), sections(&fb), "{name} level {q}: symbols");
            let db = cb.decode(&fb, &Limits::default()).unwrap();
            assert_eq!(db.dimensions(), img.dimensions());
        }
        // The decoder did change (an untrained model's pixels may all clamp to black, so
        // the weights are compared rather than the decoded images).
        let weights = |d: &std::path::Path| std::fs::read(d.join("weights.bpk")).unwrap();
        assert_ne!(weights(&a_export), weights(&b_export), "{name}: weights");
    }
    let e = ncodec::train::train_image(
        &ncodec::train::TrainOptions {
            lambdas: vec![0.005],
            steps: 1,
            decoder_only: true,
            ..small_run(&data, dir.join("no-init"))
        },
        &device,
    )
    .unwrap_err();
    assert!(e.to_string().contains("--init"), "{e}");
    assert!(!dir.join("no-init").exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn balanced_levels_weigh_each_level_by_its_running_loss() {
    use ncodec::train::LevelBalance;
    let mut b = LevelBalance::new(2, &[4.0]);
    // A saved mean is used; an unseen level is weighted by its first loss.
    assert_eq!(b.weight(0, 100.0), 0.25);
    assert_eq!(b.weight(1, 0.5), 2.0);
    b.observe(1, 0.5);
    assert_eq!(b.means(), &[4.0, 0.5]);
    // A new loss moves the mean a little towards it; non-finite losses are ignored.
    b.observe(0, 5.0);
    assert!(b.means()[0] > 4.0 && b.means()[0] < 4.1, "{:?}", b.means());
    b.observe(0, f64::NAN);
    assert!(b.means()[0] < 4.1);
    // The weight stays finite even for a zero loss.
    assert_eq!(LevelBalance::new(1, &[]).weight(0, 0.0), 1.0);
}

#[test]
fn learning_rate_ramps_up_after_a_fresh_optimizer() {
    use ncodec::train::{LR_WARMUP_STEPS, warmup_lr};
    let n = LR_WARMUP_STEPS;
    assert_eq!(warmup_lr(2.0, 0, 0), 2.0 / n as f64);
    assert_eq!(warmup_lr(2.0, n - 1, 0), 2.0);
    assert_eq!(warmup_lr(2.0, 10 * n, 0), 2.0);
    assert_eq!(warmup_lr(2.0, 500, 500), 2.0 / n as f64);
    assert!(warmup_lr(2.0, 550, 500) < warmup_lr(2.0, 551, 500));
}

#[test]
fn quantiles_learn_at_their_own_rate() {
    use ncodec::train::{AUX_LR, step_lr};
    use ncodec_models::burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
    let ad = Device::flex().autodiff();
    let model = HyperpriorConfig::new(8, 12, vec![0.005])
        .with_mean_scale(true)
        .init(&ad);
    let x = Tensor::<4>::from_data(
        TensorData::new(
            (0..3 * 64 * 64).map(|i| (i % 7) as f32 / 7.0).collect(),
            [1, 3, 64, 64],
        ),
        &ad,
    );
    let out = model.forward_train(x, 0);
    let loss = out.y_likelihoods.log().sum().neg() + model.bottleneck().aux_loss();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let q0 = model.entropy_bottleneck.quantiles.val().into_data();
    let w0 = model.g_a0.weight.val().into_data();
    let lr = step_lr(1e-9, model.entropy_bottleneck.quantiles.id);
    let mut optim: ModuleOptimizer = AdamConfig::new().init();
    let model = optim.step(lr, model, grads);
    let moved = |a: TensorData, b: TensorData| {
        let (a, b) = (
            a.try_to_vec::<f32>().unwrap(),
            b.try_to_vec::<f32>().unwrap(),
        );
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    };
    // Adam's first step moves each parameter by about its learning rate.
    let dq = moved(q0, model.entropy_bottleneck.quantiles.val().into_data());
    let dw = moved(w0, model.g_a0.weight.val().into_data());
    assert!(dq > 0.5 * AUX_LR as f32 && dq < 2.0 * AUX_LR as f32, "{dq}");
    assert!(dw < 1e-6, "{dw}");
}
