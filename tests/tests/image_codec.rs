//! The hyperprior and factorized-prior image codecs on tiny untrained models (fast, no
//! shared data): determinism of the entropy path, round trips at odd sizes, typed errors,
//! and short training runs of both families (export, reload, resume).
//! Rate–distortion of the trained models is checked in `trained_models.rs`.

use image::RgbImage;
use ncodec::Error;
use ncodec::codec::Codec;
use ncodec::container::{Container, Limits};
use ncodec::families::hyperprior::{HyperpriorModel, ImageNetRef};
use ncodec::media::image::{Colour, Image, crop_to_rgb8, pad_replicate};
use ncodec_models::burn::prelude::*;
use ncodec_models::cpu::FeatureMap;
use ncodec_models::factorized::{Factorized, FactorizedConfig};
use ncodec_models::hyperprior::{Hyperprior, HyperpriorConfig, RdImageNet};
use ncodec_tests::{decode, encode};
use ncodec_train::{HyperpriorOptions, ModelOptions, TrainOptions};

fn tiny(mean_scale: bool) -> (HyperpriorConfig, Hyperprior) {
    let cfg = HyperpriorConfig::new(8, 12, vec![0.005, 0.02]).with_mean_scale(mean_scale);
    let model = cfg.init(&Device::flex());
    (cfg, model)
}

fn codec(mean_scale: bool) -> HyperpriorModel {
    let (cfg, model) = tiny(mean_scale);
    let files =
        HyperpriorModel::export("tiny-test", ImageNetRef::Hyperprior(&cfg, &model)).unwrap();
    HyperpriorModel::from_files(&files, &Device::flex()).unwrap()
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
                let bytes = encode(&c, &img, q).unwrap().bytes;
                let again = encode(&c, &img, q).unwrap().bytes;
                assert_eq!(bytes, again, "encoding is not deterministic");
                let out = decode(&c, &bytes).unwrap();
                assert_eq!((out.width(), out.height()), (w, h));
                assert_eq!(out, decode(&c, &bytes).unwrap());
            }
        }
    }
}

#[test]
fn a_reloaded_model_decodes_what_another_instance_encoded() {
    // Two independent loads of the same exported files: the entropy path depends only on
    // the committed integers and the fixed-order kernel, so symbols must agree exactly.
    let (cfg, model) = tiny(true);
    let files =
        HyperpriorModel::export("tiny-test", ImageNetRef::Hyperprior(&cfg, &model)).unwrap();
    let a = HyperpriorModel::from_files(&files, &Device::flex()).unwrap();
    let b = HyperpriorModel::from_files(&files, &Device::flex()).unwrap();
    let img = test_image(100, 80);
    let bytes = encode(&a, &img, 1).unwrap().bytes;
    assert_eq!(decode(&a, &bytes).unwrap(), decode(&b, &bytes).unwrap());
}

#[test]
fn foreign_and_damaged_files_are_typed_errors() {
    let c = codec(true);
    let bytes = encode(&c, &test_image(40, 30), 0).unwrap().bytes;
    // Another model's digest.
    let other = codec(false);
    assert!(matches!(
        decode(&other, &bytes),
        Err(Error::ModelMismatch { .. })
    ));
    // A damaged payload byte is caught by the section CRC.
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 30] ^= 1;
    assert!(matches!(decode(&c, &bad), Err(Error::Corrupt(_))));
    // Every truncation is an error, never a panic.
    for cut in (0..bytes.len()).step_by(7) {
        assert!(decode(&c, &bytes[..cut]).is_err());
    }
    // Out-of-range quality.
    assert!(matches!(
        encode(&c, &test_image(4, 4), 9),
        Err(Error::InvalidArgument(_))
    ));
    // A file that names a different model id.
    let mut parsed = Container::from_bytes(&bytes, &Limits::default()).unwrap();
    parsed.header.model_id = "someone-else".into();
    assert!(matches!(
        c.decode_image(&parsed),
        Err(Error::UnknownModel(_))
    ));
}

#[test]
fn input_formats_are_coded_faithfully_or_refused() {
    let gray = image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(5, 4, |x, _| {
        image::Luma([x as u8 * 40])
    }));
    let img = Image::from_dynamic(&gray).unwrap();
    assert_eq!(img.colour, Colour::Gray);
    assert!(matches!(
        img.into_dynamic(),
        image::DynamicImage::ImageLuma8(_)
    ));

    let opaque = image::DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
        3,
        3,
        image::Rgba([1, 2, 3, 255]),
    ));
    let img = Image::from_dynamic(&opaque).unwrap();
    assert_eq!(img.colour, Colour::Rgba);
    assert!(matches!(
        img.into_dynamic(),
        image::DynamicImage::ImageRgba8(_)
    ));

    let transparent = image::DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
        3,
        3,
        image::Rgba([1, 2, 3, 10]),
    ));
    assert!(matches!(
        Image::from_dynamic(&transparent),
        Err(Error::Unsupported(_))
    ));
    let deep = image::DynamicImage::ImageRgb16(image::ImageBuffer::new(3, 3));
    assert!(matches!(
        Image::from_dynamic(&deep),
        Err(Error::Unsupported(_))
    ));
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
    let files =
        HyperpriorModel::export("tiny-fact", ImageNetRef::Factorized(&cfg, &model)).unwrap();
    let fact = HyperpriorModel::from_files(&files, &Device::flex()).unwrap();
    assert!(fact.is_factorized() && fact.config().is_none());
    assert_eq!(fact.info().levels, 2);
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
            let bytes = encode(&fact, &img, q).unwrap().bytes;
            let file = Container::from_bytes(&bytes, &Limits::default()).unwrap();
            let tags: Vec<[u8; 4]> = file.sections.iter().map(|s| s.tag).collect();
            assert_eq!(tags, vec![*b"YHAT"]);
            let out = decode(&fact, &bytes).unwrap();
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
    let hp_file = encode(&hp, &test_image(20, 20), 0).unwrap().bytes;
    assert!(decode(&fact, &hp_file).is_err());
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
fn small_run(data: &std::path::Path, out: std::path::PathBuf) -> TrainOptions {
    TrainOptions {
        data: data.to_path_buf(),
        val: None,
        out,
        steps: 2,
        batch: 2,
        lr: 1e-4,
        seed: 1,
        checkpoint_every: 1,
        val_every: 100,
        patch: 64,
        jpeg_downscale: 1,
        model: ModelOptions::Hyperprior(HyperpriorOptions {
            n: 8,
            m: 12,
            mean_scale: true,
            factorized: false,
            lambdas: vec![0.005, 0.02],
            balance_levels: false,
            init: None,
            decoder_only: false,
        }),
    }
}

/// `opts` with its hyperprior options changed by `f`.
fn with_hp(mut opts: TrainOptions, f: impl FnOnce(&mut HyperpriorOptions)) -> TrainOptions {
    match &mut opts.model {
        ModelOptions::Hyperprior(h) => f(h),
        other => panic!("not a hyperprior run: {other:?}"),
    }
    opts
}

/// Runs (or resumes) `opts`.
fn train(opts: &TrainOptions) -> ncodec_train::Result<()> {
    ncodec_train::train(opts, &Device::flex(), &mut ncodec_train::PlainMonitor)
}

/// The hyperprior-family model a run exported.
fn exported(out: &std::path::Path) -> HyperpriorModel {
    let files = ncodec::codec::ModelFiles::from_dir(&out.join("export")).unwrap();
    assert_eq!(files.family, "hyperprior");
    HyperpriorModel::from_files(&files, &Device::flex()).unwrap()
}

/// A few steps of `ncodec train image` for each family on two small photos: checkpoints,
/// export, reload through the model-folder loader, and resume to a later step.
#[test]
fn both_families_train_export_and_resume() {
    let dir = ncodec_tests::scratch_dir("train-test");
    let data = training_photos(&dir);
    for factorized in [false, true] {
        let out = dir.join(if factorized { "fact" } else { "hyper" });
        let mut opts = with_hp(
            TrainOptions {
                val: Some(data.clone()),
                val_every: 2,
                ..small_run(&data, out.clone())
            },
            |h| {
                h.factorized = factorized;
                h.balance_levels = !factorized;
            },
        );
        train(&opts).unwrap();
        let codec = ncodec::registry::load_dir(&out.join("export"), &Device::flex()).unwrap();
        assert_eq!(codec.info().family, "hyperprior");
        assert_eq!(exported(&out).is_factorized(), factorized);
        let img = test_image(33, 21);
        let bytes = encode(codec.as_ref(), &img, 1).unwrap().bytes;
        assert_eq!(
            decode(codec.as_ref(), &bytes).unwrap().dimensions(),
            (33, 21)
        );
        opts.steps = 3;
        train(&opts).unwrap();
        let state = ncodec_tests::train_state(&out);
        assert_eq!((state.step, state.optim_start), (3, 0));
        // With balanced levels, each level's running loss is saved for the resume.
        if !factorized {
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
        train(&opts).unwrap();
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
    train(&a).unwrap();
    let a_export = a.out.join("export");
    let a_init = Some(a_export.to_string_lossy().into_owned());
    // One step at a negligible learning rate from A's weights, and the same from scratch.
    let from = |name: &str, init: Option<String>| {
        with_hp(
            TrainOptions {
                out: dir.join(name),
                steps: 1,
                lr: 1e-12,
                ..a.clone()
            },
            |h| h.init = init,
        )
    };
    let b = from("b", a_init.clone());
    train(&b).unwrap();
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
    train(&c).unwrap();
    let img = test_image(64, 64);
    let at = |codec: &dyn Codec, q: u8| {
        let bytes = encode(codec, &img, q).unwrap().bytes;
        (decode(codec, &bytes).unwrap(), bytes.len())
    };
    let decoded = |out: &std::path::Path| at(&exported(out), 1).0;
    let (da, db, dc) = (decoded(&a.out), decoded(&b.out), decoded(&c.out));
    let ab = ncodec::metrics::psnr_rgb(&da, &db).unwrap();
    let ac = ncodec::metrics::psnr_rgb(&da, &dc).unwrap();
    assert!(
        ab > 50.0 && ab > ac + 10.0,
        "A~B {ab:.1} dB, A~C {ac:.1} dB"
    );
    // More quality levels than the source: its levels are kept, the others resampled.
    let five = vec![0.0025, 0.005, 0.01, 0.02, 0.04];
    // No steps: the run only exports the resampled model.
    let wider = with_hp(from("i", a_init.clone()), |h| h.lambdas = five.clone());
    let wider = TrainOptions { steps: 0, ..wider };
    train(&wider).unwrap();
    let wide = exported(&wider.out);
    assert_eq!(wide.info().levels, 5);
    let a_codec = exported(&a.out);
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
    let widened = with_hp(from("w", a_init.clone()), |h| h.m = 20);
    let widened = TrainOptions {
        steps: 0,
        ..widened
    };
    train(&widened).unwrap();
    let wide_m = exported(&widened.out);
    let config = std::fs::read_to_string(widened.out.join("export/model.json")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["m"], 20, "{config}");
    for q in [0, 1] {
        let p = ncodec::metrics::psnr_rgb(&at(&a_codec, q).0, &at(&wide_m, q).0).unwrap();
        assert!(p > 50.0, "A's level {q} vs the widened run's: {p:.1} dB");
    }
    let both = with_hp(from("wl", a_init.clone()), |h| {
        h.lambdas = five.clone();
        h.m = 20;
    });
    let both = TrainOptions { steps: 0, ..both };
    train(&both).unwrap();
    let both = exported(&both.out);
    let p = ncodec::metrics::psnr_rgb(&at(&a_codec, 1).0, &at(&both, 3).0).unwrap();
    assert!(
        p > 50.0,
        "A's level 1 vs the widened run's level 3: {p:.1} dB"
    );
    // Rerun later, B resumes from its own checkpoint and no longer reads the model named.
    let b2 = with_hp(
        TrainOptions {
            steps: 2,
            ..b.clone()
        },
        |h| {
            h.init = Some(dir.join("gone").to_string_lossy().into_owned());
        },
    );
    train(&b2).unwrap();
    assert_eq!(ncodec_tests::train_state(&b.out).step, 2);

    let refused = |opts: TrainOptions, what: &str| {
        let e = train(&opts).unwrap_err();
        assert!(e.to_string().contains(what), "{e}");
        assert!(!opts.out.exists(), "a refused run creates no folder");
    };
    refused(
        with_hp(from("d", a_init.clone()), |h| h.n = 16),
        "differs from this run's",
    );
    // A smaller M is not a widening.
    refused(
        with_hp(from("d", a_init.clone()), |h| h.m = 8),
        "differs from this run's",
    );
    refused(
        with_hp(from("e", a_init.clone()), |h| h.factorized = true),
        "differs from this run's",
    );
    // Other λs that drop one of the source's, or out of order.
    for (name, lambdas) in [("j", vec![0.005, 0.03]), ("k", vec![0.02, 0.005, 0.04])] {
        refused(
            with_hp(from(name, a_init.clone()), |h| h.lambdas = lambdas),
            "include all of them",
        );
    }
    // Shipped models by id: one of another size, one of another family, and no model.
    refused(
        from("f", Some("hp-mean-64-r5".into())),
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
    let img = test_image(70, 45);
    for factorized in [false, true] {
        let name = if factorized { "fact" } else { "hyper" };
        let a = with_hp(small_run(&data, dir.join(name)), |h| {
            h.factorized = factorized;
        });
        train(&a).unwrap();
        let a_export = a.out.join("export");
        let b = with_hp(
            TrainOptions {
                out: dir.join(format!("{name}-dec")),
                steps: 4,
                lr: 1e-2,
                ..a.clone()
            },
            |h| {
                h.init = Some(a_export.to_string_lossy().into_owned());
                h.decoder_only = true;
            },
        );
        train(&b).unwrap();
        let b_export = b.out.join("export");
        let read = |d: &std::path::Path| std::fs::read(d.join("tables.bin")).unwrap();
        assert_eq!(read(&a_export), read(&b_export), "{name}: tables");
        let (ca, cb) = (exported(&a.out), exported(&b.out));
        for q in 0..2 {
            let fa = encode(&ca, &img, q).unwrap().bytes;
            let fb = encode(&cb, &img, q).unwrap().bytes;
            let sections = |f: &[u8]| {
                Container::from_bytes(f, &Limits::default())
                    .unwrap()
                    .sections
            };
            assert_eq!(sections(&fa), sections(&fb), "{name} level {q}: symbols");
            let db = decode(&cb, &fb).unwrap();
            assert_eq!(db.dimensions(), img.dimensions());
        }
        // The decoder did change (an untrained model's pixels may all clamp to black, so
        // the weights are compared rather than the decoded images).
        let weights = |d: &std::path::Path| std::fs::read(d.join("weights.bpk")).unwrap();
        assert_ne!(weights(&a_export), weights(&b_export), "{name}: weights");
    }
    let no_init = with_hp(
        TrainOptions {
            steps: 1,
            ..small_run(&data, dir.join("no-init"))
        },
        |h| {
            h.lambdas = vec![0.005];
            h.decoder_only = true;
        },
    );
    let e = train(&no_init).unwrap_err();
    assert!(e.to_string().contains("--init"), "{e}");
    assert!(!dir.join("no-init").exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn balanced_levels_weigh_each_level_by_its_running_loss() {
    use ncodec_train::tasks::hyperprior::LevelBalance;
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
    use ncodec_train::{LR_WARMUP_STEPS, warmup_lr};
    let n = LR_WARMUP_STEPS;
    assert_eq!(warmup_lr(2.0, 0, 0), 2.0 / n as f64);
    assert_eq!(warmup_lr(2.0, n - 1, 0), 2.0);
    assert_eq!(warmup_lr(2.0, 10 * n, 0), 2.0);
    assert_eq!(warmup_lr(2.0, 500, 500), 2.0 / n as f64);
    assert!(warmup_lr(2.0, 550, 500) < warmup_lr(2.0, 551, 500));
}

#[test]
fn quantiles_learn_at_their_own_rate() {
    use ncodec_models::burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
    use ncodec_train::{AUX_LR, step_lr};
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
