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

/// The sample rates ncodec reads, writes and converts between, in Hz: a rate converter's
/// work and memory grow with the ratio of its rates, so a file's rate is checked before
/// one is built (the fuzzer found a file that said 4.29 GHz and took 1.4 GB).
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 1_000..=768_000;

/// Most sample frames of a clip held in memory as a whole ([`read_wav`], and a
/// decode into memory).
pub const MAX_AUDIO_FRAMES: u64 = 1 << 26;
/// Most sample frames (at the clip's or the model's rate) of a clip coded as a stream:
/// the WAV format's own limit. Streams hold about two chunks of samples at a time.
pub const MAX_STREAM_FRAMES: u64 = u32::MAX as u64;

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

/// Planar sample frames that arrive in order: a WAV file being read, or a clip in
/// memory. The codecs pull from a source block by block, so a clip of any length is
/// coded in bounded memory.
pub trait AudioSource {
    /// The format of the clip.
    fn format(&self) -> WavFormat;
    /// The clip's length in frames (known before reading).
    fn frames(&self) -> u64;
    /// The next at most `max` frames, planar; fewer only at the end of the clip, where
    /// every channel is empty.
    ///
    /// # Errors
    /// I/O and format errors of the underlying file.
    fn read(&mut self, max: usize) -> Result<Vec<Vec<f32>>>;
}

/// Where decoded frames go, block by block, in order.
pub trait AudioSink {
    /// Appends planar frames (every channel the same length).
    ///
    /// # Errors
    /// I/O errors of the underlying file.
    fn write(&mut self, block: &[Vec<f32>]) -> Result<()>;
}

/// A clip in memory as an [`AudioSource`].
#[derive(Debug)]
pub struct MemorySource<'a> {
    audio: &'a Audio,
    pos: usize,
}

impl<'a> MemorySource<'a> {
    /// Reads `audio` from its first frame.
    pub fn new(audio: &'a Audio) -> Self {
        Self { audio, pos: 0 }
    }
}

impl AudioSource for MemorySource<'_> {
    fn format(&self) -> WavFormat {
        self.audio.format
    }

    fn frames(&self) -> u64 {
        self.audio.frames() as u64
    }

    fn read(&mut self, max: usize) -> Result<Vec<Vec<f32>>> {
        let end = (self.pos + max).min(self.audio.frames());
        let out = self
            .audio
            .samples
            .iter()
            .map(|c| c[self.pos..end].to_vec())
            .collect();
        self.pos = end;
        Ok(out)
    }
}

/// Collects frames in memory (an [`AudioSink`] that builds an [`Audio`]).
impl AudioSink for Audio {
    fn write(&mut self, block: &[Vec<f32>]) -> Result<()> {
        if block.len() != self.samples.len() {
            return Err(Error::InvalidArgument(
                "audio block has the wrong channel count".into(),
            ));
        }
        for (c, b) in self.samples.iter_mut().zip(block) {
            c.extend_from_slice(b);
        }
        Ok(())
    }
}

/// A WAV file read block by block (an [`AudioSource`]): mono or stereo, 8-, 16-, 24- or
/// 32-bit integer or 32-bit float samples.
pub struct WavSource<R: std::io::Read> {
    reader: hound::WavReader<R>,
    format: WavFormat,
    frames: u64,
    done: u64,
}

impl<R: std::io::Read> std::fmt::Debug for WavSource<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSource")
            .field("format", &self.format)
            .field("frames", &self.frames)
            .field("done", &self.done)
            .finish()
    }
}

impl<R: std::io::Read> WavSource<R> {
    /// Reads the WAV header from `r` and checks the format and that the clip has at
    /// most `max_frames` frames.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a malformed header, [`Error::Unsupported`] for other
    /// channel counts or sample formats, [`Error::LimitExceeded`] for longer clips.
    pub fn new(r: R, max_frames: u64) -> Result<Self> {
        let reader = hound::WavReader::new(r).map_err(wav_err)?;
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
        if !SAMPLE_RATES.contains(&spec.sample_rate) {
            return Err(Error::Unsupported(format!(
                "WAV sample rate {} Hz (ncodec codes {} to {} Hz)",
                spec.sample_rate,
                SAMPLE_RATES.start(),
                SAMPLE_RATES.end()
            )));
        }
        let frames = u64::from(reader.duration());
        if frames > max_frames {
            return Err(Error::LimitExceeded {
                what: "audio sample frames",
                value: frames,
                limit: max_frames,
            });
        }
        Ok(Self {
            reader,
            format: WavFormat {
                sample_rate: spec.sample_rate,
                channels,
                bits_per_sample: spec.bits_per_sample,
                float,
            },
            frames,
            done: 0,
        })
    }
}

impl<R: std::io::Read> AudioSource for WavSource<R> {
    fn format(&self) -> WavFormat {
        self.format
    }

    fn frames(&self) -> u64 {
        self.frames
    }

    fn read(&mut self, max: usize) -> Result<Vec<Vec<f32>>> {
        let channels = usize::from(self.format.channels);
        let n = (max as u64).min(self.frames - self.done) as usize;
        let mut out = vec![Vec::with_capacity(n); channels];
        let want = n * channels;
        if self.format.float {
            for (i, s) in self.reader.samples::<f32>().take(want).enumerate() {
                let v = s.map_err(wav_err)?;
                if !v.is_finite() {
                    return Err(Error::Corrupt("non-finite float sample in WAV".into()));
                }
                out[i % channels].push(v);
            }
        } else {
            let scale = 1.0 / (1u64 << (self.format.bits_per_sample - 1)) as f64;
            for (i, s) in self.reader.samples::<i32>().take(want).enumerate() {
                out[i % channels].push((f64::from(s.map_err(wav_err)?) * scale) as f32);
            }
        }
        if out.iter().any(|c| c.len() != n) {
            return Err(Error::Truncated(
                "WAV data ends before the length its header gives".into(),
            ));
        }
        self.done += n as u64;
        Ok(out)
    }
}

/// Frames read from a source per block.
const READ_BLOCK: usize = 1 << 16;

/// Reads a WAV file of at most `max_frames` sample frames, mono or stereo, with 8-, 16-,
/// 24- or 32-bit integer or 32-bit float samples.
///
/// # Errors
/// [`Error::InvalidArgument`] for a malformed file, [`Error::Unsupported`] for other
/// channel counts or sample formats, [`Error::LimitExceeded`] for longer clips,
/// [`Error::Truncated`] for data shorter than the header says, and [`Error::Corrupt`]
/// for non-finite float samples.
pub fn read_wav(bytes: &[u8], max_frames: u64) -> Result<Audio> {
    let mut src = WavSource::new(Cursor::new(bytes), max_frames)?;
    let f = src.format();
    // The header's length is not trusted for the allocation: the data cannot be longer
    // than the file.
    let block = usize::from(f.channels) * usize::from(f.bits_per_sample / 8).max(1);
    let cap = (src.frames() as usize).min(bytes.len() / block);
    let mut audio = Audio {
        format: f,
        samples: vec![Vec::with_capacity(cap); usize::from(f.channels)],
    };
    loop {
        let b = src.read(READ_BLOCK)?;
        if b[0].is_empty() {
            return Ok(audio);
        }
        audio.write(&b)?;
    }
}

/// A WAV file written block by block (an [`AudioSink`]) in a [`WavFormat`]: integers are
/// rounded and clipped to their range. Call [`WavSink::finish`] at the end.
pub struct WavSink<W: std::io::Write + std::io::Seek> {
    writer: hound::WavWriter<W>,
    format: WavFormat,
}

impl<W: std::io::Write + std::io::Seek> std::fmt::Debug for WavSink<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSink")
            .field("format", &self.format)
            .finish()
    }
}

fn write_err(e: hound::Error) -> Error {
    match e {
        hound::Error::IoError(e) => Error::Io(e),
        other => Error::InvalidArgument(format!("cannot write WAV: {other}")),
    }
}

impl<W: std::io::Write + std::io::Seek> WavSink<W> {
    /// Starts a WAV file in `format` on `w`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the format cannot be written, I/O errors.
    pub fn new(w: W, format: WavFormat) -> Result<Self> {
        let spec = hound::WavSpec {
            channels: format.channels,
            sample_rate: format.sample_rate,
            bits_per_sample: format.bits_per_sample,
            sample_format: if format.float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        };
        let writer = hound::WavWriter::new(w, spec).map_err(write_err)?;
        Ok(Self { writer, format })
    }

    /// Completes the header's lengths and flushes.
    ///
    /// # Errors
    /// I/O errors.
    pub fn finish(self) -> Result<()> {
        self.writer.finalize().map_err(write_err)
    }
}

impl<W: std::io::Write + std::io::Seek> AudioSink for WavSink<W> {
    fn write(&mut self, block: &[Vec<f32>]) -> Result<()> {
        let f = self.format;
        let n = block.first().map_or(0, Vec::len);
        if block.len() != usize::from(f.channels) || block.iter().any(|c| c.len() != n) {
            return Err(Error::InvalidArgument(
                "audio channels do not match the format".into(),
            ));
        }
        let top = if f.float {
            0.0
        } else {
            (1u64 << (f.bits_per_sample - 1)) as f64
        };
        for i in 0..n {
            for c in block {
                if f.float {
                    self.writer.write_sample(c[i]).map_err(write_err)?;
                } else {
                    let v = (f64::from(c[i]) * top).round().clamp(-top, top - 1.0) as i32;
                    self.writer.write_sample(v).map_err(write_err)?;
                }
            }
        }
        Ok(())
    }
}

/// Writes `audio` as a WAV file in its [`WavFormat`].
///
/// # Errors
/// [`Error::InvalidArgument`] if the channels differ in length or from the format, or
/// the format cannot be written.
pub fn write_wav(audio: &Audio) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    let mut sink = WavSink::new(&mut out, audio.format)?;
    sink.write(&audio.samples)?;
    sink.finish()?;
    Ok(out.into_inner())
}

/// The number of frames a clip of `frames` frames has at rate `to` after conversion from
/// rate `from`: `round(frames · to / from)`.
pub fn resampled_len(frames: usize, from: u32, to: u32) -> usize {
    ((frames as u128 * u128::from(to) + u128::from(from) / 2) / u128::from(from)) as usize
}

/// Sample-rate conversion of a stream with rubato's FFT resampler, delay compensated:
/// the output is aligned with the input and exactly [`resampled_len`] frames long, and
/// does not depend on how the input is cut into blocks (so it equals [`resample`] of the
/// whole clip). Equal rates pass the frames through.
pub struct StreamResampler {
    inner: Option<FftFixedIn<f32>>,
    pending: Vec<Vec<f32>>,
    skip: usize,
    left: usize,
    channels: usize,
    /// Input frames announced and not yet pushed.
    unpushed: usize,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("pending", &self.pending.first().map_or(0, Vec::len))
            .field("skip", &self.skip)
            .field("left", &self.left)
            .field("channels", &self.channels)
            .finish()
    }
}

impl StreamResampler {
    /// A converter of `channels` channels from rate `from` to rate `to` for a clip of
    /// `frames` input frames.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for zero rates.
    pub fn new(channels: usize, from: u32, to: u32, frames: usize) -> Result<Self> {
        if from == 0 || to == 0 {
            return Err(Error::InvalidArgument("sample rate 0".into()));
        }
        let inner = if from == to || channels == 0 {
            None
        } else {
            Some(
                FftFixedIn::<f32>::new(from as usize, to as usize, 1024, 2, channels)
                    .map_err(|e| Error::InvalidArgument(format!("resampling: {e}")))?,
            )
        };
        Ok(Self {
            skip: inner.as_ref().map_or(0, |r| r.output_delay()),
            inner,
            pending: vec![Vec::new(); channels],
            left: resampled_len(frames, from, to),
            channels,
            unpushed: frames,
        })
    }

    /// Output frames the stream still owes.
    pub fn remaining(&self) -> usize {
        self.left
    }

    /// Appends `out`'s frames to `dst` after dropping the resampler's delay, up to the
    /// clip's length.
    fn emit(&mut self, out: Vec<Vec<f32>>, dst: &mut [Vec<f32>]) {
        let n = out.first().map_or(0, Vec::len);
        let a = self.skip.min(n);
        self.skip -= a;
        let b = n.min(a + self.left);
        self.left -= b - a;
        for (d, o) in dst.iter_mut().zip(&out) {
            d.extend_from_slice(&o[a..b]);
        }
    }

    /// Feeds input frames; returns the output frames now complete.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the channels differ in count or length, or the
    /// input runs past the announced length.
    pub fn push(&mut self, block: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        let n = block.first().map_or(0, Vec::len);
        if block.len() != self.channels || block.iter().any(|c| c.len() != n) {
            return Err(Error::InvalidArgument("channels differ in length".into()));
        }
        self.unpushed = self
            .unpushed
            .checked_sub(n)
            .ok_or_else(|| Error::InvalidArgument("more input frames than announced".into()))?;
        let mut dst = vec![Vec::new(); self.channels];
        let Some(r) = self.inner.as_mut() else {
            let out = block.to_vec();
            self.emit(out, &mut dst);
            return Ok(dst);
        };
        for (p, b) in self.pending.iter_mut().zip(block) {
            p.extend_from_slice(b);
        }
        let mut pos = 0;
        let mut outs = Vec::new();
        loop {
            let need = r.input_frames_next();
            if pos + need > self.pending[0].len() {
                break;
            }
            let part: Vec<&[f32]> = self.pending.iter().map(|c| &c[pos..pos + need]).collect();
            outs.push(
                r.process(&part, None)
                    .map_err(|e| Error::InvalidArgument(format!("resampling: {e}")))?,
            );
            pos += need;
        }
        for p in &mut self.pending {
            p.drain(..pos);
        }
        for o in outs {
            self.emit(o, &mut dst);
        }
        Ok(dst)
    }

    /// Ends the input; returns the rest of the output, so that the whole stream has
    /// exactly [`resampled_len`] frames.
    ///
    /// # Errors
    /// [`Error::Truncated`] if fewer input frames were pushed than announced; resampler
    /// errors.
    pub fn finish(&mut self) -> Result<Vec<Vec<f32>>> {
        if self.unpushed > 0 {
            return Err(Error::Truncated(format!(
                "audio input ended {} frames before its announced length",
                self.unpushed
            )));
        }
        let mut dst = vec![Vec::new(); self.channels];
        let bad = |e: &dyn std::fmt::Display| Error::InvalidArgument(format!("resampling: {e}"));
        let mut tail = std::mem::take(&mut self.pending);
        while self.left > 0 {
            let Some(r) = self.inner.as_mut() else {
                // Equal rates: every pushed frame was passed through.
                break;
            };
            // The tail, then zeros that push the delayed frames out (rubato wants `None`
            // rather than empty slices).
            let out = if tail.first().is_some_and(|c| !c.is_empty()) {
                let part: Vec<&[f32]> = tail.iter().map(Vec::as_slice).collect();
                r.process_partial(Some(&part), None).map_err(|e| bad(&e))?
            } else {
                r.process_partial(None::<&[&[f32]]>, None)
                    .map_err(|e| bad(&e))?
            };
            tail.iter_mut().for_each(Vec::clear);
            self.emit(out, &mut dst);
        }
        self.pending = vec![Vec::new(); self.channels];
        Ok(dst)
    }
}

/// Converts planar `samples` from rate `from` to rate `to` with rubato's FFT resampler,
/// compensating its delay so the output is aligned and exactly
/// [`resampled_len`] frames long (a [`StreamResampler`] fed the whole clip). Equal rates
/// return a copy.
///
/// # Errors
/// [`Error::InvalidArgument`] for zero rates or channels of different lengths.
pub fn resample(samples: &[Vec<f32>], from: u32, to: u32) -> Result<Vec<Vec<f32>>> {
    let n = samples.first().map_or(0, Vec::len);
    let mut r = StreamResampler::new(samples.len(), from, to, n)?;
    let mut out = r.push(samples)?;
    for (o, t) in out.iter_mut().zip(r.finish()?) {
        o.extend_from_slice(&t);
    }
    Ok(out)
}
