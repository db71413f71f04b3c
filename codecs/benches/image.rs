//! Encode and decode of one Kodak image (kodim23, 768×512) with each shipped image model
//! at its default level (WaLLoC, the default, in detail), on the CPU (flex). Criterion reports seconds per
//! image and megapixels per second. For WaLLoC, `latents` is the transform alone (wavelet
//! packet, 1×1 encoder, companding, rounding: what a compressed-domain pipeline runs),
//! `encode` adds entropy coding and the container; `decode` is `decode_latents` (entropy
//! decoding) plus `synthesis`. `NCODEC_BENCH_WALLOC_DIR=DIR` times an
//! exported model folder instead of the shipped one.
//! Uses `../shared/datasets/kodak/kodim23.png`, else the committed 200×176 fixture.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ncodec::container::{Limits, MediaKind};
use ncodec::registry;
use ncodec::walloc_codec::{DEFAULT_IMAGE_QUALITY, UNIT_STEP_QUALITY};
use ncodec_models::burn::prelude::Device;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let kodak = root.join("../../shared/datasets/kodak/kodim23.png");
    let path = if kodak.is_file() {
        kodak
    } else {
        root.join("../tests/fixtures/metrics_a.png")
    };
    let img = image::open(&path).unwrap().to_rgb8();
    // Every shipped image model but the WaLLoC one (timed in detail below), at its
    // default level.
    let walloc_id = registry::default_walloc_image().ok();
    for entry in registry::models()
        .into_iter()
        .filter(|m| m.kind == MediaKind::Image && Some(m.id) != walloc_id)
    {
        let model = registry::load_image_model(entry.id, &Device::flex()).unwrap();
        let q = entry.default_quality;
        let (bytes, _) = model.encode(&img, q).unwrap();
        let mut g = c.benchmark_group(format!(
            "image/{}/{}",
            entry.id,
            path.file_name().unwrap().to_string_lossy()
        ));
        g.sample_size(10);
        g.throughput(Throughput::Elements(
            u64::from(img.width()) * u64::from(img.height()),
        ));
        g.bench_function(format!("encode_q{q}"), |b| {
            b.iter(|| model.encode(black_box(&img), q).unwrap())
        });
        g.bench_function(format!("decode_q{q}"), |b| {
            b.iter(|| model.decode(black_box(&bytes), &Limits::default()).unwrap())
        });
        g.finish();
    }

    // NCODEC_BENCH_WALLOC_DIR times a model exported by `ncodec train walloc-image`.
    let any = match std::env::var_os("NCODEC_BENCH_WALLOC_DIR") {
        Some(dir) => registry::load_image_model_dir(dir.as_ref(), &Device::flex()).unwrap(),
        None => {
            let Ok(id) = registry::default_walloc_image() else {
                eprintln!("no WaLLoC image model shipped: skipping its benchmarks");
                return;
            };
            registry::load_image_model(id, &Device::flex()).unwrap()
        }
    };
    let id = any.id().to_string();
    let ncodec::image_any::ImageCodec::Walloc(wm) = &any else {
        unreachable!("registry returned another family for a WaLLoC id")
    };
    let (bytes, _) = any.encode(&img, DEFAULT_IMAGE_QUALITY).unwrap();
    let mut g = c.benchmark_group(format!(
        "image/{id}/{}",
        path.file_name().unwrap().to_string_lossy()
    ));
    g.sample_size(20);
    g.throughput(Throughput::Elements(
        u64::from(img.width()) * u64::from(img.height()),
    ));
    g.bench_function("latents", |b| {
        b.iter(|| wm.image_latents(black_box(&img)).unwrap())
    });
    g.bench_function("encode", |b| {
        b.iter(|| any.encode(black_box(&img), DEFAULT_IMAGE_QUALITY).unwrap())
    });
    g.bench_function("decode", |b| {
        b.iter(|| any.decode(black_box(&bytes), &Limits::default()).unwrap())
    });
    // The unit-step base level: latents alone, no residual (no synthesis in the encoder).
    let (base, _) = any.encode(&img, UNIT_STEP_QUALITY).unwrap();
    g.bench_function("encode_q4", |b| {
        b.iter(|| any.encode(black_box(&img), UNIT_STEP_QUALITY).unwrap())
    });
    g.bench_function("decode_q4", |b| {
        b.iter(|| any.decode(black_box(&base), &Limits::default()).unwrap())
    });
    // The two halves of decode: entropy decoding of the latents, and synthesis from them.
    let latents = wm.latents_of_file(&bytes, &Limits::default()).unwrap();
    g.bench_function("decode_latents", |b| {
        b.iter(|| {
            wm.latents_of_file(black_box(&bytes), &Limits::default())
                .unwrap()
        })
    });
    let (w, h) = (img.width() as usize, img.height() as usize);
    g.bench_function("synthesis", |b| {
        b.iter(|| wm.image_from_latents(black_box(&latents), w, h).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
