//! Audio with WaLLoC models (`dims = 1`): resampling to the model's rate, chunks with
//! crossfaded overlaps, one `CHNK` section per chunk and channel group.
//!
//! A clip of `n` frames at the model's rate is cut into chunks of at most
//! [`CHUNK_POSITIONS`] latent positions (`2^J` samples each) that overlap by
//! [`OVERLAP_POSITIONS`]; the decoder joins neighbours with complementary `sin²` ramps
//! over the overlap, so the edges of each chunk (where the periodic wavelet extension
//! wraps around) never reach the output unfaded. A mono model codes each channel of a
//! stereo clip as its own group; a stereo model codes a mono clip's channel twice and
//! averages the two outputs.

use ncodec_models::burn::prelude::*;

use super::{Latents, WallocModel, to_vec};
use crate::container::{Container, FLAG_CHUNKED, FORMAT_VERSION, Header, Section};
use crate::error::{Error, Result};
use crate::media::MediaInfo;
use crate::media::audio::{
    Audio, AudioSink, AudioSource, MAX_AUDIO_FRAMES, MAX_STREAM_FRAMES, MemorySource,
    StreamResampler, WavFormat, resampled_len,
};

/// Latent positions per chunk.
pub const CHUNK_POSITIONS: usize = 1024;
/// Latent positions shared by neighbouring chunks (the crossfade).
pub const OVERLAP_POSITIONS: usize = 16;
/// Frames pulled from a source per read.
const SOURCE_BLOCK: usize = 1 << 15;

/// One chunk: first sample and length (a multiple of `2^J`) at the model's rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// First sample.
    pub start: usize,
    /// Samples coded (may run past the clip's end: padding).
    pub len: usize,
}

/// The chunks of a clip of `n` samples for a model with `2^J = m`.
pub fn chunk_plan(n: usize, m: usize) -> Vec<Chunk> {
    let (t, v) = (CHUNK_POSITIONS * m, OVERLAP_POSITIONS * m);
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let len = t.min((n.saturating_sub(start)).div_ceil(m).max(1) * m);
        out.push(Chunk { start, len });
        if start + len >= n {
            return out;
        }
        start += t - v;
    }
}

/// Weight of chunk `k` of `plan` (made with `2^J = m`) at offset `i` inside it: ramps
/// up over the overlap with the previous chunk and down over the overlap with the next
/// (`sin² + cos² = 1`, so the weights of all chunks sum to 1 at every sample).
pub fn chunk_weight(plan: &[Chunk], k: usize, i: usize, m: usize) -> f32 {
    let v = OVERLAP_POSITIONS * m;
    let ramp = |j: usize| {
        let a = std::f64::consts::FRAC_PI_2 * (j as f64 + 0.5) / v as f64;
        (a.sin() * a.sin()) as f32
    };
    let mut w = 1.0;
    if k > 0 && i < v {
        w *= ramp(i);
    }
    if let Some(next) = plan.get(k + 1) {
        let into_next = (plan[k].start + i).checked_sub(next.start);
        if let Some(j) = into_next {
            w *= 1.0 - ramp(j);
        }
    }
    w
}

impl WallocModel {
    fn require_audio(&self) -> Result<u32> {
        match (self.config.dims, self.config.sample_rate) {
            (1, Some(rate)) if rate > 0 => Ok(rate),
            _ => Err(Error::Unsupported(format!(
                "model {} is not an audio model",
                self.info.id
            ))),
        }
    }

    /// Channel groups of a clip with `channels` channels: each group is the list of clip
    /// channels fed to the model's channels.
    fn groups(&self, channels: usize) -> Result<Vec<Vec<usize>>> {
        match (self.config.channels, channels) {
            (m, a) if m == a => Ok(vec![(0..a).collect()]),
            (1, a) => Ok((0..a).map(|c| vec![c]).collect()),
            (2, 1) => Ok(vec![vec![0, 0]]),
            (m, a) => Err(Error::Unsupported(format!(
                "a {a}-channel clip with a {m}-channel model"
            ))),
        }
    }

    /// Runs the encoder over a source chunk after chunk, handing the latents of each
    /// chunk and channel group (in that order) to `each`. It holds about one chunk of
    /// samples at a time. Returns the clip's length at the model's rate.
    fn stream_latents(
        &self,
        src: &mut dyn AudioSource,
        limit: u64,
        mut each: impl FnMut(Latents) -> Result<()>,
    ) -> Result<usize> {
        let rate = self.require_audio()?;
        let f = src.format();
        let channels = usize::from(f.channels);
        let groups = self.groups(channels)?;
        check_frames(src.frames(), limit)?;
        let frames = src.frames() as usize;
        let n = resampled_len(frames, f.sample_rate, rate);
        check_frames(n as u64, limit)?;
        let m = self.config.multiple();
        let plan = chunk_plan(n, m);
        let mut rs = StreamResampler::new(channels, f.sample_rate, rate, frames)?;
        // Samples at the model's rate from `buf_start` on.
        let mut buf: Vec<Vec<f32>> = vec![Vec::new(); channels];
        let mut buf_start = 0;
        let mut ended = false;
        for (k, ch) in plan.iter().enumerate() {
            let end = (ch.start + ch.len).min(n);
            while buf_start + buf[0].len() < end {
                if ended {
                    return Err(Error::Truncated(
                        "audio ends before the length its header gives".into(),
                    ));
                }
                let block = src.read(SOURCE_BLOCK)?;
                let out = if block[0].is_empty() {
                    ended = true;
                    rs.finish()?
                } else {
                    rs.push(&block)?
                };
                for (b, o) in buf.iter_mut().zip(out) {
                    b.extend_from_slice(&o);
                }
            }
            for g in &groups {
                let mut v = Vec::with_capacity(g.len() * ch.len);
                for &c in g {
                    let s = &buf[c][ch.start - buf_start..];
                    // Past the end (only the last chunk reaches it): the last sample, held.
                    let last = s.last().copied().unwrap_or(0.0);
                    v.extend((0..ch.len).map(|i| s.get(i).copied().unwrap_or(last)));
                }
                let t = Tensor::<4>::from_data(
                    TensorData::new(v, [1, g.len(), 1, ch.len]),
                    &self.device,
                );
                let y = self.model.encode_latents(t);
                let [_, c, h, w] = y.dims();
                each(Latents {
                    channels: c,
                    height: h,
                    width: w,
                    values: to_vec(y).into_iter().map(|v| v as i32).collect(),
                    step: 1.0,
                })?;
            }
            if let Some(next) = plan.get(k + 1) {
                for b in &mut buf {
                    b.drain(..next.start - buf_start);
                }
                buf_start = next.start;
            }
        }
        Ok(n)
    }

    /// The latents of a clip, one per chunk and channel group, without entropy coding.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for an image model or unsupported channel counts,
    /// [`Error::LimitExceeded`] for clips longer than [`MAX_AUDIO_FRAMES`].
    pub fn audio_latents(&self, audio: &Audio) -> Result<Vec<Latents>> {
        Ok(self.audio_latents_len(audio)?.0)
    }

    /// [`WallocModel::audio_latents`] and the clip's length at the model's rate (what
    /// [`WallocModel::stitch_audio_latents`] needs).
    ///
    /// # Errors
    /// As [`WallocModel::audio_latents`].
    pub fn audio_latents_len(&self, audio: &Audio) -> Result<(Vec<Latents>, usize)> {
        check_frames(audio.frames() as u64, MAX_AUDIO_FRAMES)?;
        self.audio_latents_stream(&mut MemorySource::new(audio))
    }

    /// The latents of a clip read block by block from `src` (up to
    /// [`MAX_STREAM_FRAMES`] frames; the latents, not the samples, are held), and the
    /// clip's length at the model's rate.
    ///
    /// # Errors
    /// As [`WallocModel::encode_audio_stream`].
    pub fn audio_latents_stream(&self, src: &mut dyn AudioSource) -> Result<(Vec<Latents>, usize)> {
        let mut out = Vec::new();
        let n = self.stream_latents(src, MAX_STREAM_FRAMES, |l| {
            out.push(l);
            Ok(())
        })?;
        Ok((out, n))
    }

    /// Encodes a clip held in memory (any rate, mono or stereo).
    ///
    /// # Errors
    /// As [`WallocModel::audio_latents`]; [`Error::InvalidArgument`] for an empty clip.
    pub fn encode_audio(&self, audio: &Audio) -> Result<(Vec<u8>, f64)> {
        check_frames(audio.frames() as u64, MAX_AUDIO_FRAMES)?;
        self.encode_audio_stream(&mut MemorySource::new(audio))
    }

    /// Encodes a clip read block by block from `src` (any rate, mono or stereo, up to
    /// [`MAX_STREAM_FRAMES`] frames), holding about one chunk of samples at a time; the
    /// file itself is built in memory.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for an image model or unsupported channel counts,
    /// [`Error::InvalidArgument`] for an empty clip, [`Error::LimitExceeded`] for longer
    /// clips, [`Error::Truncated`] if the source ends early, and the source's errors.
    pub fn encode_audio_stream(&self, src: &mut dyn AudioSource) -> Result<(Vec<u8>, f64)> {
        if src.frames() == 0 {
            return Err(Error::InvalidArgument("empty audio clip".into()));
        }
        let rate = self.require_audio()?;
        let f = src.format();
        let frames = src.frames();
        let mut sections = Vec::new();
        let mut estimated_bits = 0.0;
        self.stream_latents(src, MAX_STREAM_FRAMES, |l| {
            let (data, est) = self.code_latents(&l)?;
            estimated_bits += est;
            sections.push(Section {
                tag: *b"CHNK",
                data,
            });
            Ok(())
        })?;
        let header = Header {
            version: FORMAT_VERSION,
            flags: FLAG_CHUNKED,
            model_id: self.info.id.clone(),
            model_digest: self.info.digest,
            quality: 0,
            media: MediaInfo::Audio {
                sample_rate: f.sample_rate,
                channels: f.channels as u8,
                frames,
                bits_per_sample: f.bits_per_sample as u8,
                float: f.float,
                model_rate: rate,
            },
        };
        Ok((Container { header, sections }.to_bytes()?, estimated_bits))
    }

    /// Checks an audio file's header against the model and its chunk sections against
    /// the chunk plan.
    fn audio_layout<'c>(&self, c: &'c Container, limit: u64) -> Result<AudioLayout<'c>> {
        let rate = self.require_audio()?;
        self.info.check_file(&c.header)?;
        let MediaInfo::Audio {
            sample_rate,
            channels,
            frames,
            bits_per_sample,
            float,
            model_rate,
        } = c.header.media
        else {
            return Err(Error::Unsupported("not an audio file".into()));
        };
        if model_rate != rate || sample_rate == 0 || c.header.flags != FLAG_CHUNKED {
            return Err(Error::Corrupt("audio header does not fit the model".into()));
        }
        let format = WavFormat {
            sample_rate,
            channels: u16::from(channels),
            bits_per_sample: u16::from(bits_per_sample),
            float,
        };
        let valid_format = matches!(
            (float, bits_per_sample),
            (true, 32) | (false, 8 | 16 | 24 | 32)
        );
        if !valid_format || frames == 0 {
            return Err(Error::Corrupt(
                "audio header has an invalid sample format".into(),
            ));
        }
        check_frames(frames, limit)?;
        let n = resampled_len(frames as usize, sample_rate, rate);
        check_frames(n as u64, limit)?;
        let groups = self.groups(usize::from(channels))?;
        let plan = chunk_plan(n, self.config.multiple());
        let chunks: Vec<&Section> = c.sections.iter().filter(|s| &s.tag == b"CHNK").collect();
        if chunks.len() != plan.len() * groups.len() {
            return Err(Error::Corrupt(format!(
                "{} chunk sections, the header implies {}",
                chunks.len(),
                plan.len() * groups.len()
            )));
        }
        Ok(AudioLayout {
            format,
            frames,
            n,
            plan,
            groups,
            chunks,
        })
    }

    /// The latents stored in an audio file (per chunk and channel group), its format and
    /// its length at the model's rate.
    ///
    /// # Errors
    /// Model mismatch, inconsistent headers, corrupt payloads, limits.
    pub fn latents_of_audio_container(
        &self,
        c: &Container,
    ) -> Result<(Vec<Latents>, WavFormat, usize, usize)> {
        let lay = self.audio_layout(c, MAX_AUDIO_FRAMES)?;
        let m = self.config.multiple();
        let mut latents = Vec::with_capacity(lay.chunks.len());
        for (i, s) in lay.chunks.iter().enumerate() {
            let ch = lay.plan[i / lay.groups.len()];
            latents.push(self.decode_latent_section(&s.data, 1, ch.len / m)?);
        }
        Ok((latents, lay.format, lay.frames as usize, lay.n))
    }

    /// Decodes an audio file written by [`WallocModel::encode_audio`] to its original
    /// rate, channel count and sample format, in memory.
    ///
    /// # Errors
    /// As [`WallocModel::decode_audio_stream`], and [`Error::LimitExceeded`] for clips
    /// longer than [`MAX_AUDIO_FRAMES`].
    pub fn decode_audio(&self, c: &Container) -> Result<Audio> {
        let lay = self.audio_layout(c, MAX_AUDIO_FRAMES)?;
        let mut out = Audio {
            format: lay.format,
            samples: vec![Vec::new(); usize::from(lay.format.channels)],
        };
        self.decode_layout(&lay, &mut out)?;
        Ok(out)
    }

    /// The original format and frame count of an audio file, after the checks
    /// [`WallocModel::decode_audio_stream`] makes: what a sink for it needs.
    ///
    /// # Errors
    /// As [`WallocModel::decode_audio_stream`].
    pub fn audio_file_format(&self, c: &Container) -> Result<(WavFormat, u64)> {
        let lay = self.audio_layout(c, MAX_STREAM_FRAMES)?;
        Ok((lay.format, lay.frames))
    }

    /// Decodes an audio file chunk after chunk into `sink`, in the file's original rate
    /// and channel count ([`WallocModel::audio_file_format`]), holding about two chunks
    /// of samples at a time (the file's bytes are in memory). The sink receives exactly
    /// the header's frame count.
    ///
    /// # Errors
    /// Model mismatch, inconsistent headers, corrupt payloads, limits
    /// ([`MAX_STREAM_FRAMES`]), and the sink's errors.
    pub fn decode_audio_stream(&self, c: &Container, sink: &mut dyn AudioSink) -> Result<()> {
        self.decode_layout(&self.audio_layout(c, MAX_STREAM_FRAMES)?, sink)
    }

    /// Decodes a checked audio file into `sink` (see [`WallocModel::decode_audio_stream`]).
    fn decode_layout(&self, lay: &AudioLayout<'_>, sink: &mut dyn AudioSink) -> Result<()> {
        let rate = self.require_audio()?;
        let m = self.config.multiple();
        let (plan, groups, n) = (&lay.plan, &lay.groups, lay.n);
        let channels = usize::from(lay.format.channels);
        let mut rs = StreamResampler::new(channels, rate, lay.format.sample_rate, n)?;
        let mut put = Emitter::new(lay.frames, channels);
        // Samples at the model's rate from `out_start` on, summed over chunks.
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); channels];
        let mut out_start = 0;
        // The chunk weights sum to 1 at every sample; a stereo model fed one channel
        // twice adds it twice: each channel is scaled by 1 / (times it is fed).
        let scale: Vec<f32> = (0..channels)
            .map(|c| 1.0 / groups.iter().flatten().filter(|&&g| g == c).count().max(1) as f32)
            .collect();
        for (k, ch) in plan.iter().enumerate() {
            let end = (ch.start + ch.len).min(n);
            for o in &mut out {
                o.resize(end - out_start, 0.0);
            }
            for (gi, g) in groups.iter().enumerate() {
                let section = lay.chunks[k * groups.len() + gi];
                let l = self.decode_latent_section(&section.data, 1, ch.len / m)?;
                let x = to_vec(self.model.decode_latents(self.rounded_tensor(&l)));
                for (j, &c) in g.iter().enumerate() {
                    let src = &x[j * ch.len..(j + 1) * ch.len];
                    let dst = &mut out[c][ch.start - out_start..];
                    for (i, (d, &s)) in dst.iter_mut().zip(src).enumerate() {
                        *d += chunk_weight(plan, k, i, m) * s;
                    }
                }
            }
            // Samples before the next chunk's start are complete.
            let done = plan.get(k + 1).map_or(n, |next| next.start);
            let mut block: Vec<Vec<f32>> = out
                .iter_mut()
                .map(|o| o.drain(..done - out_start).collect())
                .collect();
            out_start = done;
            for (o, &inv) in block.iter_mut().zip(&scale) {
                if inv != 1.0 {
                    o.iter_mut().for_each(|s| *s *= inv);
                }
            }
            put.emit(rs.push(&block)?, sink)?;
        }
        put.emit(rs.finish()?, sink)?;
        put.pad(sink)
    }

    /// The latents of a clip stitched into one sequence per channel group,
    /// `[groups, latent_dim, positions]`: each chunk contributes its positions between the
    /// middles of its overlaps, so every position of the clip appears once.
    pub fn stitch_audio_latents(&self, latents: &[Latents], n: usize, groups: usize) -> Latents {
        let m = self.config.multiple();
        let plan = chunk_plan(n, m);
        let half = OVERLAP_POSITIONS / 2;
        let c = latents.first().map_or(0, |l| l.channels);
        let mut per_group: Vec<Vec<Vec<i32>>> = vec![vec![Vec::new(); c]; groups];
        for (i, l) in latents.iter().enumerate() {
            let k = i / groups.max(1);
            let a = if k > 0 { half } else { 0 };
            let b = if k + 1 < plan.len() {
                l.width - half
            } else {
                l.width
            };
            for (ch, row) in per_group[i % groups.max(1)].iter_mut().enumerate() {
                row.extend_from_slice(&l.values[ch * l.width + a..ch * l.width + b]);
            }
        }
        let width = per_group
            .first()
            .and_then(|g| g.first())
            .map_or(0, Vec::len);
        Latents {
            channels: groups * c,
            height: 1,
            width,
            values: per_group.into_iter().flatten().flatten().collect(),
            step: 1.0,
        }
    }
}

fn check_frames(frames: u64, limit: u64) -> Result<()> {
    if frames > limit {
        return Err(Error::LimitExceeded {
            what: "audio sample frames",
            value: frames,
            limit,
        });
    }
    Ok(())
}

/// An audio file's checked layout.
struct AudioLayout<'c> {
    format: WavFormat,
    frames: u64,
    /// Frames at the model's rate.
    n: usize,
    plan: Vec<Chunk>,
    groups: Vec<Vec<usize>>,
    chunks: Vec<&'c Section>,
}

/// Hands decoded frames to a sink, cut or padded (holding the last frame) to exactly the
/// header's frame count.
struct Emitter {
    left: u64,
    last: Vec<f32>,
}

impl Emitter {
    fn new(frames: u64, channels: usize) -> Self {
        Self {
            left: frames,
            last: vec![0.0; channels],
        }
    }

    fn emit(&mut self, mut block: Vec<Vec<f32>>, sink: &mut dyn AudioSink) -> Result<()> {
        let n = block.first().map_or(0, Vec::len);
        let take = (n as u64).min(self.left) as usize;
        if take == 0 {
            return Ok(());
        }
        for (b, l) in block.iter_mut().zip(&mut self.last) {
            b.truncate(take);
            *l = b[take - 1];
        }
        self.left -= take as u64;
        sink.write(&block)
    }

    fn pad(&mut self, sink: &mut dyn AudioSink) -> Result<()> {
        while self.left > 0 {
            let k = self.left.min(SOURCE_BLOCK as u64) as usize;
            let block: Vec<Vec<f32>> = self.last.iter().map(|&l| vec![l; k]).collect();
            self.emit(block, sink)?;
        }
        Ok(())
    }
}
