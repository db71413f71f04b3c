//! WAV input and output (through `hound`) and sample-rate conversion (through `rubato`)
//! for the audio codecs.
//!
//! Samples are held planar (`samples[channel][frame]`) as `f32` in `[−1, 1]`: integer
//! samples of `b` bits are divided by `2^(b−1)`; float samples are taken as they are.
//! Writing restores the original format: integers are rounded and clipped to their range.

use std::io::Cursor;

use rubato::{FftFixedIn, Resampler};

use crate::error::{Error, Result};

/// The sample format of a WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct WavFormat {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channels (1 or 2).
    pub channels: u16,
    /// Bits per sample: 8, 16, 24 or 32 for integers, 32 for float.
    pub bits_per_sample: u16,
    /// True for IEEE float samples.
    pub float: bool,
}

/// A decoded audio clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Format of the file it came from (and the one to write back).
    pub format: WavFormat,
    /// Planar samples in `[−1, 1]`, one `Vec` per channel, all the same length.
    pub samples: Vec<Vec<f32>>,
}

impl Audio {
    /// Sample frames per channel.
    pub fn frames(&self) -> usize {
        self.samples.first().map_or(0, Vec::len)
    }
}

/// True if `bytes` look like a RIFF/WAVE file.
pub fn is_wav(bytes: &[u8]) -> bool {
    bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WAVE"
}

fn wav_err(e: hound::Error) -> Error {
    match e {
        hound::Error::IoError(e) => Error::Io(e),
        hound::Error::Unsupported => Error::Unsupported("this WAV sample format".into()),
        other => Error::InvalidArgument(format!("not a readable WAV file: {other}")),
    }
}

/// Reads a WAV file of at most `max_frames` sample frames, mono or stereo, with 8-, 16-,
/// 24- or 32-bit integer or 32-bit float samples.
///
/// # Errors
/// [`Error::InvalidArgument`] for a malformed file, [`Error::Unsupported`] for other
/// channel counts or sample formats, [`Error::LimitExceeded`] for longer clips, and
/// [`Error::Corrupt`] for non-finite float samples.
pub fn read_wav(bytes: &[u8], max_frames: u64) -> Result<Audio> {
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(wav_err)?;
    let spec = reader.spec();
    let channels = spec.channels;
    if !(1..=2).contains(&channels) {
        return Err(Error::Unsupported(format!(
            "{channels} audio channels (mono and stereo are supported)"
        )));
    }
    let float = match spec.sample_format {
        hound::SampleFormat::Float if spec.bits_per_sample == 32 => true,
        hound::SampleFormat::Int if matches!(spec.bits_per_sample, 8 | 16 | 24 | 32) => false,
        _ => {
            return Err(Error::Unsupported(format!(
                "{}-bit {:?} WAV samples",
                spec.bits_per_sample, spec.sample_format
            )));
        }
    };
    if spec.sample_rate == 0 {
        return Err(Error::InvalidArgument("WAV sample rate is 0".into()));
    }
    let frames = u64::from(reader.duration());
    if frames > max_frames {
        return Err(Error::LimitExceeded {
            what: "audio sample frames",
            value: frames,
            limit: max_frames,
        });
    }
    // The header's length is not trusted for the allocation: the data cannot be longer
    // than the file.
    let block = usize::from(channels) * usize::from(spec.bits_per_sample / 8).max(1);
    let cap = (frames as usize).min(bytes.len() / block);
    let mut samples = vec![Vec::with_capacity(cap); usize::from(channels)];
    let mut push = |i: usize, v: f32| samples[i % usize::from(channels)].push(v);
    let mut reader = reader;
    if float {
        for (i, s) in reader.samples::<f32>().enumerate() {
            let v = s.map_err(wav_err)?;
            if !v.is_finite() {
                return Err(Error::Corrupt("non-finite float sample in WAV".into()));
            }
            push(i, v);
        }
    } else {
        let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64;
        for (i, s) in reader.samples::<i32>().enumerate() {
            push(i, (f64::from(s.map_err(wav_err)?) * scale) as f32);
        }
    }
    let n = samples[0].len();
    if samples.iter().any(|c| c.len() != n) {
        return Err(Error::Truncated(
            "WAV data ends inside a sample frame".into(),
        ));
    }
    Ok(Audio {
        format: WavFormat {
            sample_rate: spec.sample_rate,
            channels,
            bits_per_sample: spec.bits_per_sample,
            float,
        },
        samples,
    })
}

/// Writes `audio` as a WAV file in its [`WavFormat`].
///
/// # Errors
/// [`Error::InvalidArgument`] if the channels differ in length or from the format, or
/// the format cannot be written.
pub fn write_wav(audio: &Audio) -> Result<Vec<u8>> {
    let f = audio.format;
    if audio.samples.len() != usize::from(f.channels)
        || audio.samples.iter().any(|c| c.len() != audio.frames())
    {
        return Err(Error::InvalidArgument(
            "audio channels do not match the format".into(),
        ));
    }
    let spec = hound::WavSpec {
        channels: f.channels,
        sample_rate: f.sample_rate,
        bits_per_sample: f.bits_per_sample,
        sample_format: if f.float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let bad = |e: hound::Error| Error::InvalidArgument(format!("cannot write WAV: {e}"));
    let mut out = Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut out, spec).map_err(bad)?;
        let top = if f.float {
            0.0
        } else {
            (1u64 << (f.bits_per_sample - 1)) as f64
        };
        for i in 0..audio.frames() {
            for c in &audio.samples {
                if f.float {
                    w.write_sample(c[i]).map_err(bad)?;
                } else {
                    let v = (f64::from(c[i]) * top).round().clamp(-top, top - 1.0) as i32;
                    w.write_sample(v).map_err(bad)?;
                }
            }
        }
        w.finalize().map_err(bad)?;
    }
    Ok(out.into_inner())
}

/// The number of frames a clip of `frames` frames has at rate `to` after conversion from
/// rate `from`: `round(frames · to / from)`.
pub fn resampled_len(frames: usize, from: u32, to: u32) -> usize {
    ((frames as u128 * u128::from(to) + u128::from(from) / 2) / u128::from(from)) as usize
}

/// Converts planar `samples` from rate `from` to rate `to` with rubato's FFT resampler,
/// compensating its delay so the output is aligned and exactly
/// [`resampled_len`] frames long. Equal rates return a copy.
///
/// # Errors
/// [`Error::InvalidArgument`] for zero rates or channels of different lengths.
pub fn resample(samples: &[Vec<f32>], from: u32, to: u32) -> Result<Vec<Vec<f32>>> {
    if from == 0 || to == 0 {
        return Err(Error::InvalidArgument("sample rate 0".into()));
    }
    let n = samples.first().map_or(0, Vec::len);
    if samples.iter().any(|c| c.len() != n) {
        return Err(Error::InvalidArgument("channels differ in length".into()));
    }
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let want = resampled_len(n, from, to);
    let bad = |e: &dyn std::fmt::Display| Error::InvalidArgument(format!("resampling: {e}"));
    let chunk = 1024;
    let mut r = FftFixedIn::<f32>::new(from as usize, to as usize, chunk, 2, samples.len())
        .map_err(|e| bad(&e))?;
    let delay = r.output_delay();
    let mut out: Vec<Vec<f32>> = vec![Vec::with_capacity(want + delay); samples.len()];
    let mut pos = 0;
    while out[0].len() < want + delay {
        let need = r.input_frames_next();
        let block = if pos + need <= n {
            let part: Vec<&[f32]> = samples.iter().map(|c| &c[pos..pos + need]).collect();
            r.process(&part, None).map_err(|e| bad(&e))?
        } else {
            // The tail, then zeros that push the delayed frames out.
            // (rubato wants `None` rather than empty slices.)
            let part: Vec<&[f32]> = samples.iter().map(|c| &c[pos.min(n)..]).collect();
            let input = (pos < n).then_some(part.as_slice());
            r.process_partial(input, None).map_err(|e| bad(&e))?
        };
        pos += need;
        for (o, b) in out.iter_mut().zip(block) {
            o.extend_from_slice(&b);
        }
    }
    for o in &mut out {
        o.drain(..delay);
        o.truncate(want);
    }
    Ok(out)
}
