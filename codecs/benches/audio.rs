//! Encode and decode of a speech clip with the default audio model (WaLLoC) on the CPU
//! (flex). Criterion reports seconds per clip and audio seconds per second (as
//! "elements": sample frames at the clip's rate). Uses the 1.5 s LJSpeech fixture
//! (22.05 kHz, so resampling is included) repeated to 10 s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ncodec::container::{Container, Limits};
use ncodec::families::walloc::WallocModel;
use ncodec::media::MediaKind;
use ncodec::media::audio::read_wav;
use ncodec::registry;
use ncodec_models::burn::prelude::Device;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let wav = root.join("../tests/fixtures/speech_ljspeech_LJ001-0027_0.5-2.0s.wav");
    let mut clip = read_wav(&std::fs::read(wav).unwrap(), 1 << 24).unwrap();
    let rate = clip.format.sample_rate as usize;
    for ch in &mut clip.samples {
        let one = ch.clone();
        while ch.len() < 10 * rate {
            ch.extend_from_slice(&one);
        }
        ch.truncate(10 * rate);
    }
    let entry = registry::default_for(MediaKind::Audio).unwrap();
    let files = registry::shipped_files(entry.id).unwrap();
    let model = WallocModel::from_files(&files, &Device::flex()).unwrap();
    let (bytes, _) = model.encode_audio(&clip).unwrap();
    let file = Container::from_bytes(&bytes, &Limits::default()).unwrap();
    let mut g = c.benchmark_group(format!("audio/{}/speech-10s", entry.id));
    g.sample_size(10);
    g.throughput(Throughput::Elements(clip.frames() as u64));
    g.bench_function("encode", |b| {
        b.iter(|| model.encode_audio(black_box(&clip)).unwrap())
    });
    g.bench_function("latents", |b| {
        b.iter(|| model.audio_latents(black_box(&clip)).unwrap())
    });
    g.bench_function("decode", |b| {
        b.iter(|| model.decode_audio(black_box(&file)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
