//! WAV reading and writing, and sample-rate conversion.

use ncodec::Error;
use ncodec::media::audio::{
    Audio, AudioSink, AudioSource, StreamResampler, WavFormat, WavSink, WavSource, is_wav,
    read_wav, resample, resampled_len, write_wav,
};

fn format(rate: u32, channels: u16, bits: u16, float: bool) -> WavFormat {
    WavFormat {
        sample_rate: rate,
        channels,
        bits_per_sample: bits,
        float,
    }
}

/// A clip whose samples are exact in `bits` (integer multiples of 2^−(bits−1)).
fn clip(f: WavFormat, frames: usize) -> Audio {
    let top = (1i64 << (f.bits_per_sample - 1)) as f64;
    let samples = (0..f.channels)
        .map(|c| {
            (0..frames)
                .map(|i| {
                    let v = ((i as f64 * 0.05 + f64::from(c)).sin() * 0.9 * top).round();
                    if f.float {
                        (v / top) as f32 * 0.75
                    } else {
                        (v / top) as f32
                    }
                })
                .collect()
        })
        .collect();
    Audio { format: f, samples }
}

#[test]
fn integer_and_float_wavs_round_trip_exactly() {
    for f in [
        format(16000, 1, 16, false),
        format(44100, 2, 16, false),
        format(48000, 2, 24, false),
        format(22050, 1, 8, false),
        format(8000, 2, 32, true),
    ] {
        let a = clip(f, 1000);
        let bytes = write_wav(&a).unwrap();
        assert!(is_wav(&bytes));
        let b = read_wav(&bytes, 1 << 20).unwrap();
        assert_eq!(b.format, f);
        assert_eq!(b.frames(), 1000);
        assert_eq!(a, b, "{f:?}: samples changed");
        assert_eq!(write_wav(&b).unwrap(), bytes, "{f:?}: bytes changed");
    }
}

#[test]
fn out_of_range_samples_are_clipped_on_write() {
    let a = Audio {
        format: format(8000, 1, 16, false),
        samples: vec![vec![1.5, -1.5, 1.0, -1.0, 0.5]],
    };
    let b = read_wav(&write_wav(&a).unwrap(), 100).unwrap();
    assert_eq!(
        b.samples[0],
        vec![32767.0 / 32768.0, -1.0, 32767.0 / 32768.0, -1.0, 0.5]
    );
}

#[test]
fn bad_wavs_are_refused_with_typed_errors() {
    assert!(matches!(
        read_wav(b"RIFF\0\0\0\0WAVEjunk", 100),
        Err(Error::InvalidArgument(_) | Error::Io(_))
    ));
    assert!(read_wav(&[], 100).is_err());
    // Three channels are not supported.
    let a = clip(format(8000, 3, 16, false), 10);
    let three = write_wav(&Audio {
        format: format(8000, 1, 16, false),
        samples: vec![a.samples.concat()],
    })
    .unwrap();
    let mut patched = three.clone();
    // The fmt chunk's channel count (offset 22), byte rate (28) and block align (32):
    // 3 channels.
    patched[22] = 3;
    patched[28..32].copy_from_slice(&(8000u32 * 6).to_le_bytes());
    patched[32] = 6;
    let r = read_wav(&patched, 100);
    assert!(matches!(r, Err(Error::Unsupported(_))), "{r:?}");
    // Longer than the limit.
    let long = write_wav(&clip(format(8000, 1, 16, false), 500)).unwrap();
    assert!(matches!(
        read_wav(&long, 499),
        Err(Error::LimitExceeded { value: 500, .. })
    ));
    // Truncated in the data: an error, never a panic.
    for cut in [long.len() - 1, long.len() - 301, 50, 44] {
        let _ = read_wav(&long[..cut], 1000);
    }
    // A channel-count mismatch on write.
    let mut bad = clip(format(8000, 2, 16, false), 10);
    bad.samples.pop();
    assert!(matches!(write_wav(&bad), Err(Error::InvalidArgument(_))));
}

#[test]
fn resampling_keeps_a_tone_and_the_length() {
    let (from, to) = (44100u32, 16000u32);
    let n = 44100;
    let tone = |rate: u32, len: usize| -> Vec<f32> {
        (0..len)
            .map(|i| {
                (2.0 * std::f64::consts::PI * 440.0 * i as f64 / f64::from(rate)).sin() as f32 * 0.5
            })
            .collect()
    };
    let x = vec![tone(from, n), tone(from, n)];
    let y = resample(&x, from, to).unwrap();
    assert_eq!(y.len(), 2);
    assert_eq!(y[0].len(), resampled_len(n, from, to));
    assert_eq!(y[0].len(), 16000);
    let want = tone(to, 16000);
    // Away from the clip's edges (where the signal starts abruptly), the tone is exact
    // up to the resampler's filter.
    let err = y[0][500..15500]
        .iter()
        .zip(&want[500..15500])
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(err < 5e-3, "resampled tone differs by {err}");
    let back = resample(&y, to, from).unwrap();
    assert_eq!(back[0].len(), n);
    let err = back[1][2000..42000]
        .iter()
        .zip(&x[1][2000..42000])
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(err < 5e-3, "round trip differs by {err}");
    // Equal rates copy; bad arguments are errors.
    assert_eq!(resample(&x, from, from).unwrap(), x);
    assert!(resample(&x, 0, 16000).is_err());
    assert!(resample(&[vec![0.0; 3], vec![0.0; 4]], 8000, 16000).is_err());
}

#[test]
fn shared_wavs_read_when_present() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/datasets/audio/music/test");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipping: {} is absent", dir.display());
        return;
    };
    for e in entries.flatten() {
        let bytes = std::fs::read(e.path()).unwrap();
        let a = read_wav(&bytes, u64::MAX).unwrap();
        assert_eq!(a.format.channels, 2, "{}", e.path().display());
        assert_eq!(a.format.sample_rate, 44100);
        assert!(a.frames() > 44100);
        // 16-bit data written back is the same file's samples.
        let again = read_wav(&write_wav(&a).unwrap(), u64::MAX).unwrap();
        assert_eq!(again, a);
    }
}

/// The stream resampler gives the same frames however the input is cut into blocks, and
/// the same as converting the whole clip.
#[test]
fn stream_resampling_does_not_depend_on_block_sizes() {
    for (from, to) in [(44100, 16000), (16000, 22050), (48000, 48000)] {
        let a = clip(format(from, 2, 16, false), 30011);
        let whole = resample(&a.samples, from, to).unwrap();
        assert_eq!(whole[0].len(), resampled_len(30011, from, to));
        for sizes in [&[1usize, 7, 1000][..], &[4096], &[30011], &[333, 5000, 2]] {
            let mut r = StreamResampler::new(2, from, to, 30011).unwrap();
            let mut got = vec![Vec::new(); 2];
            let (mut pos, mut k) = (0, 0);
            while pos < 30011 {
                let end = (pos + sizes[k % sizes.len()]).min(30011);
                let block: Vec<Vec<f32>> = a.samples.iter().map(|c| c[pos..end].to_vec()).collect();
                for (g, o) in got.iter_mut().zip(r.push(&block).unwrap()) {
                    g.extend(o);
                }
                pos = end;
                k += 1;
            }
            for (g, o) in got.iter_mut().zip(r.finish().unwrap()) {
                g.extend(o);
            }
            assert_eq!(r.remaining(), 0);
            assert_eq!(got, whole, "{from} -> {to} Hz in blocks {sizes:?}");
        }
    }
}

/// A WAV read block by block and written block by block gives the same samples and the
/// same bytes as reading and writing it whole; a file shorter than its header is an
/// error, not a shorter clip.
#[test]
fn wav_streams_match_whole_files() {
    for f in [
        format(22050, 1, 16, false),
        format(48000, 2, 24, false),
        format(8000, 2, 32, true),
    ] {
        let a = clip(f, 5000);
        let bytes = write_wav(&a).unwrap();
        let whole = read_wav(&bytes, 1 << 20).unwrap();
        let mut src = WavSource::new(std::io::Cursor::new(&bytes), 1 << 20).unwrap();
        assert_eq!((src.format(), src.frames()), (f, 5000));
        let mut back = Audio {
            format: f,
            samples: vec![Vec::new(); usize::from(f.channels)],
        };
        let mut out = std::io::Cursor::new(Vec::new());
        let mut sink = WavSink::new(&mut out, f).unwrap();
        loop {
            let b = src.read(777).unwrap();
            if b[0].is_empty() {
                break;
            }
            back.write(&b).unwrap();
            sink.write(&b).unwrap();
        }
        sink.finish().unwrap();
        assert_eq!(back, whole);
        assert_eq!(out.into_inner(), bytes);
        // Cut inside the data: the stream reports it.
        let cut = &bytes[..bytes.len() - 100];
        let mut src = WavSource::new(std::io::Cursor::new(cut), 1 << 20).unwrap();
        let err = (0..20)
            .find_map(|_| src.read(1000).err())
            .expect("cut file read to the end");
        assert!(matches!(err, Error::Io(_) | Error::Truncated(_)), "{err}");
    }
}

/// WAV files at rates outside 1 kHz to 768 kHz are refused as unsupported (a rate
/// converter's memory grows with the ratio of its rates); the ends of the range read.
#[test]
fn sample_rates_outside_the_range_are_refused() {
    for rate in [999, 768_001, 2_000_000] {
        let bytes = write_wav(&clip(format(rate, 1, 16, false), 100)).unwrap();
        match read_wav(&bytes, 1 << 20) {
            Err(Error::Unsupported(e)) => assert!(e.contains("sample rate"), "{e}"),
            other => panic!("{rate} Hz: {other:?}"),
        }
    }
    for rate in [1_000, 768_000] {
        let bytes = write_wav(&clip(format(rate, 1, 16, false), 100)).unwrap();
        assert_eq!(read_wav(&bytes, 1 << 20).unwrap().format.sample_rate, rate);
    }
}
