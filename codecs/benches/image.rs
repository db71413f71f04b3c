//! Encode and decode of one Kodak image (kodim23, 768×512) with each shipped image model
//! at its default level (WaLLoC, the default, in detail), on the CPU (flex). Criterion reports seconds per
//! image and megapixels per second. For WaLLoC, `latents` is the transform alone (wavelet
//! packet, 1×1 encoder, companding, rounding: what a compressed-domain pipeline runs),
//! `encode` adds entropy coding and the container; `decode` is `decode_latents` (entropy
//! decoding) plus `synthesis`. `NCODEC_BENCH_WALLOC_DIR=DIR` times an
//! exported model folder instead of the shipped one.
//! Uses `../shared/datasets/kodak/kodim23.png`, else the committed 200×176 fixture.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ncodec::codec::{Codec, EncodeOptions, Input, ModelFiles};
use ncodec::container::{Container, Limits};
use ncodec::families::walloc::{DEFAULT_IMAGE_QUALITY, UNIT_STEP_QUALITY, WallocModel};
use ncodec::media::MediaKind;
use ncodec::media::image::Image;
use ncodec::registry;
use ncodec_models::burn::prelude::Device;
use std::hint::black_box;

/// Encodes at `q`: the file's bytes.
fn encode(model: &dyn Codec, img: &Image, q: u8) -> Vec<u8> {
    model
        .encode(Input::Image(img), &EncodeOptions::new().quality(q))
        .unwrap()
        .bytes
}

/// Decodes a file's bytes to its image.
fn decode(model: &dyn Codec, bytes: &[u8]) -> Image {
    let c = Container::from_bytes(bytes, &Limits::default()).unwrap();
    model.decode_to_memory(&c).unwrap().into_image().unwrap()
}

fn bench(c: &mut Criterion) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let kodak = root.join("../../shared/datasets/kodak/kodim23.png");
    let path = if kodak.is_file() {
        kodak
    } else {
        root.join("../tests/fixtures/metrics_a.png")
    };
    let img = Image::rgb(image::open(&path).unwrap().to_rgb8());
    // Every shipped image model but the WaLLoC one (timed in detail below), at its
    // default level.
    let walloc_id = registry::default_with_latents(MediaKind::Image)
        .ok()
        .map(|m| m.id);
    for entry in registry::models()
        .into_iter()
        .filter(|m| m.kind == MediaKind::Image && Some(m.id) != walloc_id)
    {
        let model = registry::load(entry.id, &Device::flex()).unwrap();
        let q = entry.default_quality;
        let bytes = encode(model.as_ref(), &img, q);
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
            b.iter(|| encode(model.as_ref(), black_box(&img), q))
        });
        g.bench_function(format!("decode_q{q}"), |b| {
            b.iter(|| decode(model.as_ref(), black_box(&bytes)))
        });
        g.finish();
    }

    // NCODEC_BENCH_WALLOC_DIR times a model exported by `ncodec train walloc-image`.
    let files = match std::env::var_os("NCODEC_BENCH_WALLOC_DIR") {
        Some(dir) => ModelFiles::from_dir(dir.as_ref()).unwrap(),
        None => {
            let Some(id) = walloc_id else {
                eprintln!("no WaLLoC image model shipped: skipping its benchmarks");
                return;
            };
            registry::shipped_files(id).unwrap()
        }
    };
    let wm = WallocModel::from_files(&files, &Device::flex()).unwrap();
    let id = wm.info().id.clone();
    let bytes = encode(&wm, &img, DEFAULT_IMAGE_QUALITY);
    let mut g = c.benchmark_group(format!(
        "image/{id}/{}",
        path.file_name().unwrap().to_string_lossy()
    ));
    g.sample_size(20);
    g.throughput(Throughput::Elements(
        u64::from(img.width()) * u64::from(img.height()),
    ));
    g.bench_function("latents", |b| {
        b.iter(|| wm.image_latents(black_box(&img.pixels)).unwrap())
    });
    g.bench_function("encode", |b| {
        b.iter(|| encode(&wm, black_box(&img), DEFAULT_IMAGE_QUALITY))
    });
    g.bench_function("decode", |b| b.iter(|| decode(&wm, black_box(&bytes))));
    // The unit-step base level: latents alone, no residual (no synthesis in the encoder).
    let base = encode(&wm, &img, UNIT_STEP_QUALITY);
    g.bench_function("encode_q4", |b| {
        b.iter(|| encode(&wm, black_box(&img), UNIT_STEP_QUALITY))
    });
    g.bench_function("decode_q4", |b| b.iter(|| decode(&wm, black_box(&base))));
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
