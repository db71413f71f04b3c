//! What `ncodec info` shows about a file, without decoding it.

use crate::container::{Container, Header, Limits, tag_name};
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
    /// What the quality level means for the file's family (e.g. its quantisation step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality_note: Option<String>,
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
    let n = bytes.len() as u64;
    let tags: Vec<[u8; 4]> = c.sections.iter().map(|s| s.tag).collect();
    Ok(FileInfo {
        sections: c
            .sections
            .iter()
            .map(|s| SectionInfo {
                tag: tag_name(&s.tag),
                bytes: s.data.len() as u64,
            })
            .collect(),
        bits_per_pixel: c.header.media.bits_per_pixel(n),
        kbps: c.header.media.kbps(n),
        quality_note: crate::registry::describe_quality(c.header.quality, &tags),
        header: c.header,
        file_bytes: n,
    })
}
