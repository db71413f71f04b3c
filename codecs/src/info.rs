//! What `ncodec info` shows about a file, without decoding it.

use crate::container::{Container, Header, Limits, MediaInfo, tag_name};
use crate::error::Result;

/// A summary of a coded file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileInfo {
    /// The parsed header.
    pub header: Header,
    /// Total file size in bytes (header and all sections included).
    pub file_bytes: u64,
    /// Bits per pixel for images (per luma pixel and frame for video), from the real size.
    pub bits_per_pixel: Option<f64>,
    /// Bit rate in kbit/s for audio (and video, when the frame rate is known).
    pub kbps: Option<f64>,
    /// Sections in file order: tag and payload size.
    pub sections: Vec<SectionInfo>,
}

/// One section's tag and size.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SectionInfo {
    /// The section tag as text.
    pub tag: String,
    /// Payload bytes.
    pub bytes: u64,
}

/// Parses a whole file (checking every CRC) and summarises it.
///
/// # Errors
/// Any container error; see [`Container::from_bytes`].
pub fn file_info(bytes: &[u8], limits: &Limits) -> Result<FileInfo> {
    let c = Container::from_bytes(bytes, limits)?;
    let bits = bytes.len() as f64 * 8.0;
    let (bpp, kbps) = match c.header.media {
        MediaInfo::Image { width, height, .. } => {
            (Some(bits / (f64::from(width) * f64::from(height))), None)
        }
        MediaInfo::Audio {
            sample_rate,
            frames,
            ..
        } => {
            let secs = frames as f64 / f64::from(sample_rate);
            (None, (secs > 0.0).then(|| bits / secs / 1000.0))
        }
        MediaInfo::Video {
            width,
            height,
            frames,
            fps_num,
            fps_den,
            ..
        } => {
            let px = f64::from(width) * f64::from(height) * f64::from(frames);
            let secs = f64::from(frames) * f64::from(fps_den) / f64::from(fps_num);
            (
                (px > 0.0).then(|| bits / px),
                (fps_num > 0 && secs > 0.0).then(|| bits / secs / 1000.0),
            )
        }
    };
    Ok(FileInfo {
        sections: c
            .sections
            .iter()
            .map(|s| SectionInfo {
                tag: tag_name(&s.tag),
                bytes: s.data.len() as u64,
            })
            .collect(),
        header: c.header,
        file_bytes: bytes.len() as u64,
        bits_per_pixel: bpp,
        kbps,
    })
}
