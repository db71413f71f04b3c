//! The media ncodec codes, in one place: what a file holds ([`MediaKind`], its
//! [`MediaInfo`] as the container records it), images ([`image`]) and audio ([`audio`]).
//! Codecs take and give these types (`crate::codec`); the container only serialises
//! [`MediaInfo`].

pub mod audio;
pub mod image;
pub mod npy;

/// The kind of media a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// A still image.
    Image,
    /// An audio clip.
    Audio,
    /// A video.
    Video,
}

impl std::fmt::Display for MediaKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Video => "video",
        })
    }
}

/// Sample layout of the media, one variant per [`MediaKind`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum MediaInfo {
    /// An image of `width × height` pixels with `channels` interleaved channels of
    /// `bit_depth` bits each (the decoded output layout).
    Image {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Channels per pixel (3 = RGB).
        channels: u8,
        /// Bits per channel sample.
        bit_depth: u8,
    },
    /// An audio clip of `frames` sample frames with `channels` channels.
    Audio {
        /// Original sample rate in Hz (restored on decode).
        sample_rate: u32,
        /// Channel count.
        channels: u8,
        /// Number of sample frames per channel.
        frames: u64,
        /// Bits per sample of the original WAV.
        bits_per_sample: u8,
        /// True if the original samples were floating point.
        float: bool,
        /// The model's own sample rate (the rate the payload was coded at).
        model_rate: u32,
    },
    /// A video of `frames` frames of `width × height` luma pixels.
    Video {
        /// Width in luma pixels.
        width: u32,
        /// Height in luma pixels.
        height: u32,
        /// Frame count.
        frames: u32,
        /// Frame-rate numerator.
        fps_num: u32,
        /// Frame-rate denominator.
        fps_den: u32,
        /// Chroma subsampling: 0 = 4:2:0, 1 = 4:2:2, 2 = 4:4:4.
        chroma: u8,
    },
}

impl MediaInfo {
    /// The media kind of this descriptor.
    pub fn kind(&self) -> MediaKind {
        match self {
            Self::Image { .. } => MediaKind::Image,
            Self::Audio { .. } => MediaKind::Audio,
            Self::Video { .. } => MediaKind::Video,
        }
    }
}

impl MediaInfo {
    /// Picture elements per frame (width × height) for images and video; `None` for
    /// audio.
    pub fn pixels(&self) -> Option<u64> {
        match *self {
            Self::Image { width, height, .. } | Self::Video { width, height, .. } => {
                Some(u64::from(width) * u64::from(height))
            }
            Self::Audio { .. } => None,
        }
    }

    /// Duration in seconds, for audio and for video with a frame rate.
    pub fn seconds(&self) -> Option<f64> {
        match *self {
            Self::Image { .. } => None,
            Self::Audio {
                sample_rate,
                frames,
                ..
            } => Some(frames as f64 / f64::from(sample_rate)),
            Self::Video {
                frames,
                fps_num,
                fps_den,
                ..
            } => (fps_num > 0).then(|| f64::from(frames) * f64::from(fps_den) / f64::from(fps_num)),
        }
    }

    /// Bits per pixel of a file of `bytes` (per pixel and frame for video).
    pub fn bits_per_pixel(&self, bytes: u64) -> Option<f64> {
        let frames = match *self {
            Self::Video { frames, .. } => f64::from(frames),
            _ => 1.0,
        };
        let px = self.pixels()? as f64 * frames;
        (px > 0.0).then(|| bytes as f64 * 8.0 / px)
    }

    /// Bit rate in kbit/s of a file of `bytes`, for media with a duration.
    pub fn kbps(&self, bytes: u64) -> Option<f64> {
        let secs = self.seconds()?;
        (secs > 0.0).then(|| bytes as f64 * 8.0 / secs / 1000.0)
    }
}

impl std::fmt::Display for MediaInfo {
    /// One line: `768x512, 3 channels, 8 bit`; `16000 Hz, 1 ch, …`; `1920x1080 4:2:0, …`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::Image {
                width,
                height,
                channels,
                bit_depth,
            } => write!(f, "{width}x{height}, {channels} channels, {bit_depth} bit"),
            Self::Audio {
                sample_rate,
                channels,
                frames,
                bits_per_sample,
                float,
                model_rate,
            } => {
                let fmt = if float { "float" } else { "int" };
                write!(
                    f,
                    "{sample_rate} Hz, {channels} ch, {frames} frames, {bits_per_sample}-bit {fmt} (coded at {model_rate} Hz)"
                )
            }
            Self::Video {
                width,
                height,
                frames,
                fps_num,
                fps_den,
                chroma,
            } => {
                let c = ["4:2:0", "4:2:2", "4:4:4"][usize::from(chroma).min(2)];
                write!(
                    f,
                    "{width}x{height} {c}, {frames} frames at {fps_num}/{fps_den} fps"
                )
            }
        }
    }
}
