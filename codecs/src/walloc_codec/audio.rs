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
use crate::audio_io::{Audio, WavFormat, resample, resampled_len};
use crate::container::{
    Container, FLAG_CHUNKED, FORMAT_VERSION, Header, Limits, MediaInfo, Section,
};
use crate::error::{Error, Result};
use crate::image_codec::EncodeStats;

/// Latent positions per chunk.
pub const CHUNK_POSITIONS: usize = 1024;
/// Latent positions shared by neighbouring chunks (the crossfade).
pub const OVERLAP_POSITIONS: usize = 16;
/// Most sample frames (at the clip's or the model's rate) held in memory at once.
pub const MAX_AUDIO_FRAMES: u64 = 1 << 26;

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
                self.id
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

    /// Integer latents of each chunk and channel group (in that order) of samples
    /// already at the model's rate.
    fn chunk_latents(&self, x: &[Vec<f32>], groups: &[Vec<usize>]) -> Result<Vec<Latents>> {
        let m = self.config.multiple();
        let n = x.first().map_or(0, Vec::len);
        let mut out = Vec::new();
        for ch in chunk_plan(n, m) {
            for g in groups {
                let mut v = Vec::with_capacity(g.len() * ch.len);
                for &c in g {
                    let s = &x[c];
                    // Past the end: the last sample, held.
                    let last = s.last().copied().unwrap_or(0.0);
                    v.extend(
                        (ch.start..ch.start + ch.len).map(|i| s.get(i).copied().unwrap_or(last)),
                    );
                }
                let t = Tensor::<4>::from_data(
                    TensorData::new(v, [1, g.len(), 1, ch.len]),
                    &self.device,
                );
                let y = self.model.encode_latents(t);
                let [_, c, h, w] = y.dims();
                out.push(Latents {
                    channels: c,
                    height: h,
                    width: w,
                    values: to_vec(y).into_iter().map(|v| v as i32).collect(),
                    step: 1.0,
                });
            }
        }
        Ok(out)
    }

    /// The latents of a clip, one per chunk and channel group, without entropy coding.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for an image model or unsupported channel counts,
    /// [`Error::LimitExceeded`] for clips longer than [`MAX_AUDIO_FRAMES`].
    pub fn audio_latents(&self, audio: &Audio) -> Result<Vec<Latents>> {
        let rate = self.require_audio()?;
        let groups = self.groups(audio.samples.len())?;
        check_frames(resampled_len(audio.frames(), audio.format.sample_rate, rate) as u64)?;
        let x = resample(&audio.samples, audio.format.sample_rate, rate)?;
        self.chunk_latents(&x, &groups)
    }

    /// Encodes a clip (any rate, mono or stereo).
    ///
    /// # Errors
    /// As [`WallocModel::audio_latents`]; [`Error::InvalidArgument`] for an empty clip.
    pub fn encode_audio(&self, audio: &Audio) -> Result<(Vec<u8>, EncodeStats)> {
        if audio.frames() == 0 {
            return Err(Error::InvalidArgument("empty audio clip".into()));
        }
        check_frames(audio.frames() as u64)?;
        let rate = self.require_audio()?;
        let f = audio.format;
        let latents = self.audio_latents(audio)?;
        let mut sections = Vec::with_capacity(latents.len());
        let mut estimated_bits = 0.0;
        for l in &latents {
            let (data, est) = self.code_latents(l)?;
            estimated_bits += est;
            sections.push(Section {
                tag: *b"CHNK",
                data,
            });
        }
        let header = Header {
            version: FORMAT_VERSION,
            flags: FLAG_CHUNKED,
            model_id: self.id.clone(),
            model_digest: self.digest,
            quality: 0,
            media: MediaInfo::Audio {
                sample_rate: f.sample_rate,
                channels: f.channels as u8,
                frames: audio.frames() as u64,
                bits_per_sample: f.bits_per_sample as u8,
                float: f.float,
                model_rate: rate,
            },
        };
        let bytes = Container { header, sections }.to_bytes()?;
        let stats = EncodeStats {
            estimated_bits,
            bytes: bytes.len(),
        };
        Ok((bytes, stats))
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
        let rate = self.require_audio()?;
        self.check_header(&c.header)?;
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
        check_frames(frames)?;
        let n = resampled_len(frames as usize, sample_rate, rate);
        check_frames(n as u64)?;
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
        let m = self.config.multiple();
        let mut latents = Vec::with_capacity(chunks.len());
        for (i, s) in chunks.iter().enumerate() {
            let ch = plan[i / groups.len()];
            latents.push(self.decode_latent_section(&s.data, 1, ch.len / m)?);
        }
        Ok((latents, format, frames as usize, n))
    }

    /// Decodes an audio file written by [`WallocModel::encode_audio`] to its original
    /// rate, channel count and sample format.
    ///
    /// # Errors
    /// As [`WallocModel::latents_of_audio_container`].
    pub fn decode_audio(&self, c: &Container) -> Result<Audio> {
        let (latents, format, frames, n) = self.latents_of_audio_container(c)?;
        let rate = self.require_audio()?;
        let groups = self.groups(usize::from(format.channels))?;
        let m = self.config.multiple();
        let plan = chunk_plan(n, m);
        let channels = usize::from(format.channels);
        let mut out = vec![vec![0f32; n]; channels];
        for (k, ch) in plan.iter().enumerate() {
            for (gi, g) in groups.iter().enumerate() {
                let l = &latents[k * groups.len() + gi];
                let x = to_vec(self.model.decode_latents(self.rounded_tensor(l)));
                for (j, &c) in g.iter().enumerate() {
                    let src = &x[j * ch.len..(j + 1) * ch.len];
                    for (i, &s) in src.iter().enumerate() {
                        let t = ch.start + i;
                        if t >= n {
                            break;
                        }
                        let w = chunk_weight(&plan, k, i, m);
                        out[c][t] += w * s;
                    }
                }
            }
        }
        // The chunk weights sum to 1 at every sample; a stereo model fed one channel twice
        // added it twice: average.
        for (c, o) in out.iter_mut().enumerate() {
            let times = groups.iter().flatten().filter(|&&g| g == c).count();
            if times > 1 {
                let inv = 1.0 / times as f32;
                o.iter_mut().for_each(|s| *s *= inv);
            }
        }
        let mut samples = resample(&out, rate, format.sample_rate)?;
        for s in &mut samples {
            s.resize(frames, s.last().copied().unwrap_or(0.0));
        }
        Ok(Audio { format, samples })
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

fn check_frames(frames: u64) -> Result<()> {
    if frames > MAX_AUDIO_FRAMES {
        return Err(Error::LimitExceeded {
            what: "audio sample frames",
            value: frames,
            limit: MAX_AUDIO_FRAMES,
        });
    }
    Ok(())
}

/// Reads an audio file's container and decodes it (see [`WallocModel::decode_audio`]).
///
/// # Errors
/// Container errors and as [`WallocModel::decode_audio`].
pub fn decode_audio_file(model: &WallocModel, bytes: &[u8], limits: &Limits) -> Result<Audio> {
    model.decode_audio(&Container::from_bytes(bytes, limits)?)
}
