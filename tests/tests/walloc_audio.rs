//! WaLLoC audio coding on tiny models whose linear path is set by hand (no shared
//! data): chunk plan and crossfade weights, sample-accurate reconstruction across
//! chunk joins and resampling, formats restored, determinism, typed errors, streams, and
//! a short training run (export, reload, resume).

use ncodec::Error;
use ncodec::container::{Container, Limits};
use ncodec::families::walloc::{CHUNK_POSITIONS, WallocModel, chunk_plan, chunk_weight};
use ncodec::media::MediaInfo;
use ncodec::media::audio::{
    Audio, AudioSink, AudioSource, MemorySource, WavFormat, WavSink, WavSource, write_wav,
};
use ncodec_models::burn::module::Param;
use ncodec_models::burn::prelude::*;
use ncodec_models::walloc::WallocConfig;

/// An audio model with `latent_dim` = wavelet channels whose encoder is `g·I` and whose
/// linear decoder path is `I/g`: it reconstructs up to the rounding of the latents.
fn identity_model(channels: usize, levels: usize, rate: u32) -> WallocModel {
    let d = Device::flex();
    let wc = channels << levels;
    let cfg = WallocConfig::new(1, channels, levels, wc, 32)
        .with_blocks(1)
        .with_sample_rate(Some(rate));
    let mut m = cfg.init(&d);
    let g = 4.0f32;
    let eye = |scale: f32| {
        let mut v = vec![0f32; wc * wc];
        for i in 0..wc {
            v[i * wc + i] = scale;
        }
        Tensor::<4>::from_data(TensorData::new(v, [wc, wc, 1, 1]), &d)
    };
    m.encoder.weight = Param::from_tensor(eye(g));
    m.encoder.bias = m
        .encoder
        .bias
        .map(|b| Param::from_tensor(b.val().zeros_like()));
    m.skip.weight = Param::from_tensor(eye(1.0 / g));
    let files = WallocModel::export("walloc-audio-test", &cfg, &m).unwrap();
    WallocModel::from_files(&files, &d).unwrap()
}

fn tone(format: WavFormat, frames: usize) -> Audio {
    let samples = (0..format.channels)
        .map(|c| {
            (0..frames)
                .map(|i| {
                    let t = i as f64 / f64::from(format.sample_rate);
                    let f = 220.0 * f64::from(c + 1);
                    ((2.0 * std::f64::consts::PI * f * t).sin() * 0.4) as f32
                })
                .collect()
        })
        .collect();
    Audio { format, samples }
}

fn fmt(rate: u32, channels: u16, bits: u16, float: bool) -> WavFormat {
    WavFormat {
        sample_rate: rate,
        channels,
        bits_per_sample: bits,
        float,
    }
}

fn max_err(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn chunks_cover_the_clip_and_weights_sum_to_one() {
    for m in [1usize, 4, 256] {
        for n in [
            1usize,
            m,
            CHUNK_POSITIONS * m,
            CHUNK_POSITIONS * m + 1,
            3 * CHUNK_POSITIONS * m + 17 * m + 3,
        ] {
            let plan = chunk_plan(n, m);
            assert_eq!(plan[0].start, 0);
            assert!(plan.last().map(|c| c.start + c.len >= n).unwrap());
            let mut sum = vec![0f32; n];
            for (k, c) in plan.iter().enumerate() {
                assert!(c.len.is_multiple_of(m) && c.len <= CHUNK_POSITIONS * m && c.len > 0);
                for i in 0..c.len {
                    if c.start + i < n {
                        sum[c.start + i] += chunk_weight(&plan, k, i, m);
                    }
                }
            }
            let worst = sum.iter().map(|s| (s - 1.0).abs()).fold(0.0, f32::max);
            assert!(worst < 1e-5, "m {m} n {n}: weights sum off by {worst}");
        }
    }
}

#[test]
fn long_clips_reconstruct_across_chunk_joins() {
    // 4 samples per position: chunks of 4096 samples, so 20000 samples make 5 chunks.
    let model = identity_model(1, 2, 16000);
    let a = tone(fmt(16000, 2, 16, false), 20000);
    let (bytes, estimated_bits) = model.encode_audio(&a).unwrap();
    assert!(estimated_bits > 0.0);
    let c = Container::from_bytes(&bytes, &Limits::default()).unwrap();
    // A mono model codes the two channels separately: 5 chunks × 2 groups.
    assert_eq!(c.sections.iter().filter(|s| &s.tag == b"CHNK").count(), 10);
    let b = model.decode_audio(&c).unwrap();
    assert_eq!(b.format, a.format);
    assert_eq!(b.frames(), a.frames());
    for ch in 0..2 {
        let e = max_err(&a.samples[ch], &b.samples[ch]);
        assert!(e < 0.01, "channel {ch}: error {e}");
    }
    // Same bytes again, and the latents of the file are those of the clip.
    assert_eq!(model.encode_audio(&a).unwrap().0, bytes);
    let (from_file, _, frames, n) = model.latents_of_audio_container(&c).unwrap();
    assert_eq!((frames, n), (20000, 20000));
    assert_eq!(from_file, model.audio_latents(&a).unwrap());
    let s = model.stitch_audio_latents(&from_file, n, 2);
    assert_eq!((s.channels, s.width), (2 * 4, 20000 / 4));
}

#[test]
fn other_rates_and_formats_are_restored() {
    let model = identity_model(2, 2, 16000);
    for f in [
        fmt(22050, 2, 24, false),
        fmt(8000, 1, 32, true),
        fmt(44100, 1, 16, false),
    ] {
        let a = tone(f, f.sample_rate as usize / 2 + 7);
        let (bytes, _) = model.encode_audio(&a).unwrap();
        let c = Container::from_bytes(&bytes, &Limits::default()).unwrap();
        let MediaInfo::Audio {
            model_rate,
            sample_rate,
            ..
        } = c.header.media
        else {
            panic!("not audio");
        };
        assert_eq!((model_rate, sample_rate), (16000, f.sample_rate));
        let b = model.decode_audio(&c).unwrap();
        assert_eq!(b.format, f);
        assert_eq!(b.frames(), a.frames());
        // Resampling twice leaves the tones (≤ 440 Hz) intact away from the clip's edges.
        let edge = f.sample_rate as usize / 20;
        let n = a.frames();
        for ch in 0..usize::from(f.channels) {
            let e = max_err(
                &a.samples[ch][edge..n - edge],
                &b.samples[ch][edge..n - edge],
            );
            assert!(e < 0.02, "{f:?} channel {ch}: error {e}");
        }
    }
}

#[test]
fn bad_audio_inputs_give_typed_errors() {
    let model = identity_model(1, 2, 16000);
    let empty = Audio {
        format: fmt(16000, 1, 16, false),
        samples: vec![vec![]],
    };
    assert!(matches!(
        model.encode_audio(&empty),
        Err(Error::InvalidArgument(_))
    ));
    let stereo = identity_model(2, 2, 16000);
    let three = tone(fmt(16000, 3, 16, false), 100);
    assert!(matches!(
        stereo.encode_audio(&three),
        Err(Error::Unsupported(_))
    ));
    // A missing chunk, a foreign model, a clip length that would need a huge buffer.
    let a = tone(fmt(16000, 1, 16, false), 9000);
    let (bytes, _) = model.encode_audio(&a).unwrap();
    let mut c = Container::from_bytes(&bytes, &Limits::default()).unwrap();
    assert!(matches!(
        stereo.decode_audio(&c),
        Err(Error::ModelMismatch { .. } | Error::UnknownModel(_))
    ));
    let mut huge = c.clone();
    if let MediaInfo::Audio {
        frames,
        sample_rate,
        ..
    } = &mut huge.header.media
    {
        *frames = 1 << 30;
        *sample_rate = 16000;
    }
    assert!(matches!(
        model.decode_audio(&huge),
        Err(Error::LimitExceeded { .. })
    ));
    let mut slow = c.clone();
    if let MediaInfo::Audio { sample_rate, .. } = &mut slow.header.media {
        // 9000 frames at 1 Hz would be 144 million frames at the model's rate.
        *sample_rate = 1;
    }
    assert!(matches!(
        model.decode_audio(&slow),
        Err(Error::LimitExceeded { .. })
    ));
    c.sections
        .retain(|s| &s.tag != b"CHNK" || s.data.is_empty());
    assert!(matches!(model.decode_audio(&c), Err(Error::Corrupt(_))));
}

/// Counts the blocks a sink receives.
struct Counting(Audio, usize);

impl AudioSink for Counting {
    fn write(&mut self, block: &[Vec<f32>]) -> ncodec::Result<()> {
        self.1 += 1;
        self.0.write(block)
    }
}

/// Encoding from a WAV stream gives the bytes of encoding the clip in memory; decoding
/// into a sink delivers the clip chunk by chunk (not all at the end) and equals the
/// in-memory decode, also through a WAV writer.
#[test]
fn streams_code_like_whole_clips() {
    let model = identity_model(1, 2, 16000);
    // 20000 frames at 22.05 kHz → 14512 at 16 kHz: 4 chunks per channel.
    let a = tone(fmt(22050, 2, 16, false), 20000);
    let wav = write_wav(&a).unwrap();
    let a = ncodec::media::audio::read_wav(&wav, 1 << 20).unwrap();
    let (bytes, _) = model.encode_audio(&a).unwrap();
    let mut src = WavSource::new(std::io::Cursor::new(&wav), 1 << 20).unwrap();
    assert_eq!(model.encode_audio_stream(&mut src).unwrap().0, bytes);

    let c = Container::from_bytes(&bytes, &Limits::default()).unwrap();
    let whole = model.decode_audio(&c).unwrap();
    let (format, frames) = model.audio_file_format(&c).unwrap();
    assert_eq!((format, frames), (a.format, 20000));
    let mut sink = Counting(
        Audio {
            format,
            samples: vec![Vec::new(); 2],
        },
        0,
    );
    model.decode_audio_stream(&c, &mut sink).unwrap();
    assert_eq!(sink.0, whole);
    assert!(sink.1 >= 4, "{} blocks", sink.1);
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = WavSink::new(&mut out, format).unwrap();
    model.decode_audio_stream(&c, &mut w).unwrap();
    w.finish().unwrap();
    assert_eq!(out.into_inner(), write_wav(&whole).unwrap());
}

/// A source that delivers fewer frames than it announced.
struct Short<'a>(MemorySource<'a>);

impl AudioSource for Short<'_> {
    fn format(&self) -> WavFormat {
        self.0.format()
    }
    fn frames(&self) -> u64 {
        self.0.frames() + 5000
    }
    fn read(&mut self, max: usize) -> ncodec::Result<Vec<Vec<f32>>> {
        self.0.read(max)
    }
}

#[test]
fn a_stream_shorter_than_announced_is_an_error() {
    let model = identity_model(1, 2, 16000);
    let a = tone(fmt(16000, 1, 16, false), 9000);
    let err = model
        .encode_audio_stream(&mut Short(MemorySource::new(&a)))
        .unwrap_err();
    assert!(matches!(err, Error::Truncated(_)), "{err}");
}

/// A few steps of `ncodec train walloc-audio` on two short WAVs (one stereo, one mono
/// at another rate): export, reload as an audio model, code a clip, resume.
#[test]
fn walloc_audio_training_exports_and_resumes() {
    let dir = ncodec_tests::scratch_dir("audio-train");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("a.wav"),
        write_wav(&tone(fmt(16000, 2, 16, false), 12000)).unwrap(),
    )
    .unwrap();
    std::fs::write(
        data.join("b.wav"),
        write_wav(&tone(fmt(22050, 1, 16, false), 15000)).unwrap(),
    )
    .unwrap();
    let out = dir.join("run");
    let mut opts = ncodec_train::TrainOptions {
        data: data.clone(),
        val: Some(data.clone()),
        out: out.clone(),
        steps: 2,
        batch: 2,
        lr: 1e-4,
        seed: 1,
        checkpoint_every: 1,
        val_every: 2,
        patch: 1024,
        jpeg_downscale: 1,
        model: ncodec_train::ModelOptions::WallocAudio(ncodec_train::WallocOptions {
            model: WallocConfig::new(1, 1, 2, 2, 32)
                .with_blocks(1)
                .with_lambda(1e4)
                .with_sample_rate(Some(16000)),
        }),
    };
    let train = |o: &ncodec_train::TrainOptions| {
        ncodec_train::train(o, &Device::flex(), &mut ncodec_train::PlainMonitor).unwrap();
    };
    train(&opts);
    let model = ncodec::registry::load_dir(&out.join("export"), &Device::flex()).unwrap();
    assert_eq!(model.info().medium, ncodec::media::MediaKind::Audio);
    let clip = tone(fmt(44100, 2, 16, false), 5000);
    let bytes = model
        .encode(
            ncodec::codec::Input::Audio(&mut MemorySource::new(&clip)),
            &ncodec::codec::EncodeOptions::new(),
        )
        .unwrap()
        .bytes;
    let back = model
        .decode_to_memory(&Container::from_bytes(&bytes, &Limits::default()).unwrap())
        .unwrap()
        .into_audio()
        .unwrap();
    assert_eq!((back.format, back.frames()), (clip.format, 5000));
    opts.steps = 3;
    train(&opts);
    let state = ncodec_tests::train_state(&out);
    assert_eq!(state.step, 3);
    std::fs::remove_dir_all(&dir).ok();
}
