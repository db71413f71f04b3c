//! The `.ncx` container: header, sections with CRC32, end marker. See `docs/FORMAT.md`.
//!
//! ```text
//! ┌ header ─────────────────────────────────────────────────────────────┐
//! │ magic 89 4E 43 58 │ version │ kind │ flags u16 │ model id │ digest  │
//! │ quality │ media descriptor (kind-specific) │ header CRC32            │
//! └─────────────────────────────────────────────────────────────────────┘
//! ┌ section ───────────────────────┐
//! │ tag [4] │ len u32 │ payload │ CRC32(tag‖len‖payload) │   … repeated
//! └────────────────────────────────┘
//! END section (tag "END!", length 0)
//! ```
//!
//! All integers are little-endian. The reader validates every length against
//! [`Limits`] and against the bytes actually present before allocating.

use crate::error::{Error, Result};
use crate::media::audio::SAMPLE_RATES;
use crate::media::{MediaInfo, MediaKind};

/// The four magic bytes every `.ncx` file starts with (`\x89NCX`).
pub const MAGIC: [u8; 4] = [0x89, b'N', b'C', b'X'];
/// The format version this build writes and the highest it reads. Version 2 ends every
/// adaptive binary stream (sections `DWTA`, `RESA`, `LATL`, `LATS`) with a mark, so that
/// a decoder can bound its work by the stream's length
/// ([`ncodec_entropy::STREAM_MARK`]); version 1 files are read as before.
pub const FORMAT_VERSION: u8 = 2;
/// Tag of the mandatory last section.
pub const END_TAG: [u8; 4] = *b"END!";
/// Length of a model digest (SHA-256).
pub const DIGEST_LEN: usize = 32;

/// Header flag: the payload is a sequence of chunk sections (audio and video).
pub const FLAG_CHUNKED: u16 = 1;

/// The fixed part of a file: everything before the sections.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Header {
    /// Format version of the file.
    pub version: u8,
    /// Flags (see [`FLAG_CHUNKED`]); unknown flags are an error.
    pub flags: u16,
    /// Id of the model that wrote the payload (e.g. `hyperprior-mse`).
    pub model_id: String,
    /// SHA-256 of the model's weights and tables, so a mismatch is caught before decoding.
    #[serde(serialize_with = "ser_hex")]
    pub model_digest: [u8; DIGEST_LEN],
    /// Quality level the payload was coded at (model-specific index).
    pub quality: u8,
    /// Dimensions and sample layout.
    pub media: MediaInfo,
}

impl Header {
    /// The header of a file holding an 8-bit image of `width × height` pixels, `channels`
    /// (1, 3 or 4) to restore on decode, written by model `model_id` with digest `digest`.
    pub fn image(
        model_id: &str,
        digest: [u8; DIGEST_LEN],
        quality: u8,
        width: u32,
        height: u32,
        channels: u8,
    ) -> Self {
        Self {
            version: FORMAT_VERSION,
            flags: 0,
            model_id: model_id.to_string(),
            model_digest: digest,
            quality,
            media: MediaInfo::Image {
                width,
                height,
                channels,
                bit_depth: 8,
            },
        }
    }

    /// Width and height of an 8-bit image file of 1, 3 or 4 channels.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for other media.
    pub fn image_size(&self) -> Result<(usize, usize)> {
        match self.media {
            MediaInfo::Image {
                width,
                height,
                channels: 1 | 3 | 4,
                bit_depth: 8,
            } => Ok((width as usize, height as usize)),
            _ => Err(Error::Unsupported(format!(
                "{:?} is not an 8-bit RGB image",
                self.media
            ))),
        }
    }

    /// The colour layout an image file restores (its `channels`).
    ///
    /// # Errors
    /// [`Error::Unsupported`] for other media or channel counts.
    pub fn image_colour(&self) -> Result<crate::media::image::Colour> {
        match self.media {
            MediaInfo::Image { channels, .. } => {
                crate::media::image::Colour::from_channels(channels)
            }
            _ => Err(Error::Unsupported("not an image file".into())),
        }
    }
}

fn ser_hex<S: serde::Serializer>(d: &[u8; DIGEST_LEN], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(d))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One section: a four-byte tag and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Four ASCII bytes naming the section (e.g. `ZHAT`, `YHAT`, `CHNK`).
    pub tag: [u8; 4],
    /// The payload bytes.
    pub data: Vec<u8>,
}

/// A whole file: header plus sections in order (the END section is implicit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// The header.
    pub header: Header,
    /// Sections in file order, without the END marker.
    pub sections: Vec<Section>,
}

/// Limits the reader enforces before allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest total file size read.
    pub max_file_bytes: u64,
    /// Largest single section.
    pub max_section_bytes: u32,
    /// Most sections in one file.
    pub max_sections: u32,
    /// Largest image or video frame, in pixels.
    pub max_pixels: u64,
    /// Largest audio clip, in sample frames.
    pub max_audio_frames: u64,
    /// Most video frames.
    pub max_video_frames: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 1 << 32,
            max_section_bytes: 1 << 30,
            max_sections: 1 << 20,
            max_pixels: 1 << 28,
            max_audio_frames: 1 << 34,
            max_video_frames: 1 << 20,
        }
    }
}

/// Longest model id, in bytes.
pub const MAX_MODEL_ID_LEN: usize = 64;

impl Container {
    /// Serialises the container to bytes.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the model id is empty, too long or not printable
    /// ASCII, a section is larger than `u32::MAX` bytes, or a section uses the END tag.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        write_header(&self.header, &mut out)?;
        for s in &self.sections {
            if s.tag == END_TAG {
                return Err(Error::InvalidArgument(
                    "section tag END! is reserved".into(),
                ));
            }
            write_section(&s.tag, &s.data, &mut out)?;
        }
        write_section(&END_TAG, &[], &mut out)?;
        Ok(out)
    }

    /// Parses a container, checking every length against `limits` and every CRC.
    ///
    /// # Errors
    /// [`Error::NotNcodec`], [`Error::UnsupportedVersion`], [`Error::Truncated`] when the
    /// bytes end early (including a missing END section), [`Error::Corrupt`] for bad
    /// fields, CRC mismatches or bytes after END, [`Error::LimitExceeded`].
    pub fn from_bytes(bytes: &[u8], limits: &Limits) -> Result<Self> {
        Self::parse(bytes, limits, CHECK_CRCS)
    }

    /// The bytes of a file whose structure parses (magic, header fields, section lengths,
    /// END) with its header's and every section's CRC recomputed, whatever was stored:
    /// for replaying a file a fuzzer mutated (fuzzing builds do not check CRCs) in a
    /// build that checks them.
    ///
    /// # Errors
    /// As [`Container::from_bytes`], but for CRC mismatches.
    pub fn with_fixed_crcs(bytes: &[u8], limits: &Limits) -> Result<Vec<u8>> {
        Self::parse(bytes, limits, false)?.to_bytes()
    }

    /// [`Container::from_bytes`], checking CRCs if `check_crcs`.
    fn parse(bytes: &[u8], limits: &Limits, check_crcs: bool) -> Result<Self> {
        if bytes.len() as u64 > limits.max_file_bytes {
            return Err(Error::LimitExceeded {
                what: "file size",
                value: bytes.len() as u64,
                limit: limits.max_file_bytes,
            });
        }
        let mut r = Reader {
            b: bytes,
            pos: 0,
            check_crcs,
        };
        let header = read_header(&mut r, limits)?;
        let mut sections = Vec::new();
        loop {
            let start = r.pos;
            let tag: [u8; 4] = r.array("section tag")?;
            let len = r.u32("section length")?;
            if len > limits.max_section_bytes {
                return Err(Error::LimitExceeded {
                    what: "section size",
                    value: u64::from(len),
                    limit: u64::from(limits.max_section_bytes),
                });
            }
            let data = r.take(len as usize, "section payload")?;
            let crc = r.u32("section CRC")?;
            let actual = crc32fast::hash(&bytes[start..start + 8 + len as usize]);
            if crc != actual && r.check_crcs {
                return Err(Error::Corrupt(format!(
                    "section {} CRC mismatch (stored {crc:08x}, computed {actual:08x})",
                    tag_name(&tag)
                )));
            }
            if tag == END_TAG {
                if len != 0 {
                    return Err(Error::Corrupt("END section must be empty".into()));
                }
                break;
            }
            if sections.len() as u32 >= limits.max_sections {
                return Err(Error::LimitExceeded {
                    what: "section count",
                    value: u64::from(limits.max_sections) + 1,
                    limit: u64::from(limits.max_sections),
                });
            }
            sections.push(Section {
                tag,
                data: data.to_vec(),
            });
        }
        if r.pos != bytes.len() {
            return Err(Error::Corrupt(format!(
                "{} bytes after the END section",
                bytes.len() - r.pos
            )));
        }
        Ok(Self { header, sections })
    }

    /// Reads only the header (for `ncodec info` on huge files) and the total size.
    ///
    /// # Errors
    /// As [`Container::from_bytes`] for the header part.
    pub fn read_header(bytes: &[u8], limits: &Limits) -> Result<Header> {
        let mut r = Reader {
            b: bytes,
            pos: 0,
            check_crcs: CHECK_CRCS,
        };
        read_header(&mut r, limits)
    }

    /// The first section with `tag`.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if there is none.
    pub fn section(&self, tag: &[u8; 4]) -> Result<&[u8]> {
        self.find(tag)
            .ok_or_else(|| Error::Corrupt(format!("missing section {}", tag_name(tag))))
    }

    /// The data of the first section tagged `tag`, if there is one (for formats whose
    /// sections have alternatives, e.g. a newer coding beside the older one).
    pub fn find(&self, tag: &[u8; 4]) -> Option<&[u8]> {
        self.sections
            .iter()
            .find(|s| &s.tag == tag)
            .map(|s| s.data.as_slice())
    }
}

/// A printable form of a section tag.
pub fn tag_name(tag: &[u8; 4]) -> String {
    tag.iter()
        .map(|&c| if c.is_ascii_graphic() { c as char } else { '?' })
        .collect()
}

/// Whether CRCs are checked: always, except in fuzzing builds (`--cfg fuzzing`, set by
/// cargo-fuzz), where a mutated file must reach the decoders instead of stopping at its
/// CRC (the checks themselves are tested by the container's tests).
const CHECK_CRCS: bool = !cfg!(fuzzing);

/// Appends one section (tag, length, payload, CRC32) to `out`.
///
/// # Errors
/// [`Error::InvalidArgument`] if the payload exceeds `u32::MAX` bytes.
pub fn write_section(tag: &[u8; 4], data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let len = u32::try_from(data.len())
        .map_err(|_| Error::InvalidArgument("section larger than 4 GiB".into()))?;
    let start = out.len();
    out.extend_from_slice(tag);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(())
}

fn write_header(h: &Header, out: &mut Vec<u8>) -> Result<()> {
    let id = h.model_id.as_bytes();
    if id.is_empty() || id.len() > MAX_MODEL_ID_LEN || !id.iter().all(|c| c.is_ascii_graphic()) {
        return Err(Error::InvalidArgument(format!(
            "model id must be 1 to {MAX_MODEL_ID_LEN} printable ASCII bytes: {:?}",
            h.model_id
        )));
    }
    if h.version == 0 || h.version > FORMAT_VERSION {
        return Err(Error::InvalidArgument(format!(
            "format version {} (this build writes 1 to {FORMAT_VERSION})",
            h.version
        )));
    }
    out.extend_from_slice(&MAGIC);
    out.push(h.version);
    out.push(kind_code(h.media.kind()));
    out.extend_from_slice(&h.flags.to_le_bytes());
    out.push(id.len() as u8);
    out.extend_from_slice(id);
    out.extend_from_slice(&h.model_digest);
    out.push(h.quality);
    match &h.media {
        MediaInfo::Image {
            width,
            height,
            channels,
            bit_depth,
        } => {
            out.extend_from_slice(&width.to_le_bytes());
            out.extend_from_slice(&height.to_le_bytes());
            out.push(*channels);
            out.push(*bit_depth);
        }
        MediaInfo::Audio {
            sample_rate,
            channels,
            frames,
            bits_per_sample,
            float,
            model_rate,
        } => {
            out.extend_from_slice(&sample_rate.to_le_bytes());
            out.push(*channels);
            out.extend_from_slice(&frames.to_le_bytes());
            out.push(*bits_per_sample);
            out.push(u8::from(*float));
            out.extend_from_slice(&model_rate.to_le_bytes());
        }
        MediaInfo::Video {
            width,
            height,
            frames,
            fps_num,
            fps_den,
            chroma,
        } => {
            for v in [width, height, frames, fps_num, fps_den] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.push(*chroma);
        }
    }
    let crc = crc32fast::hash(out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(())
}

fn read_header(r: &mut Reader<'_>, limits: &Limits) -> Result<Header> {
    let magic: [u8; 4] = r.array("magic").map_err(|_| Error::NotNcodec)?;
    if magic != MAGIC {
        return Err(Error::NotNcodec);
    }
    let version = r.u8("version")?;
    if version == 0 || version > FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let kind = r.u8("media kind")?;
    let flags = r.u16("flags")?;
    if flags & !FLAG_CHUNKED != 0 {
        return Err(Error::Corrupt(format!("unknown header flags {flags:#06x}")));
    }
    let id_len = usize::from(r.u8("model id length")?);
    if id_len == 0 || id_len > MAX_MODEL_ID_LEN {
        return Err(Error::Corrupt(format!("model id length {id_len}")));
    }
    let id = r.take(id_len, "model id")?;
    if !id.iter().all(|c| c.is_ascii_graphic()) {
        return Err(Error::Corrupt("model id is not printable ASCII".into()));
    }
    let model_id = String::from_utf8_lossy(id).into_owned();
    let model_digest: [u8; DIGEST_LEN] = r.array("model digest")?;
    let quality = r.u8("quality")?;
    let media = match kind {
        1 => {
            let width = r.u32("width")?;
            let height = r.u32("height")?;
            let channels = r.u8("channels")?;
            let bit_depth = r.u8("bit depth")?;
            let pixels = u64::from(width) * u64::from(height);
            if width == 0 || height == 0 || !(1..=4).contains(&channels) || bit_depth == 0 {
                return Err(Error::Corrupt(format!(
                    "image descriptor {width}x{height}x{channels} at {bit_depth} bits"
                )));
            }
            check(pixels, limits.max_pixels, "image pixels")?;
            MediaInfo::Image {
                width,
                height,
                channels,
                bit_depth,
            }
        }
        2 => {
            let sample_rate = r.u32("sample rate")?;
            let channels = r.u8("channels")?;
            let frames = r.u64("frames")?;
            let bits_per_sample = r.u8("bits per sample")?;
            let float = match r.u8("float flag")? {
                0 => false,
                1 => true,
                f => return Err(Error::Corrupt(format!("float flag {f}"))),
            };
            let model_rate = r.u32("model rate")?;
            if channels == 0 || bits_per_sample == 0 {
                return Err(Error::Corrupt("audio descriptor has a zero field".into()));
            }
            for rate in [sample_rate, model_rate] {
                if !SAMPLE_RATES.contains(&rate) {
                    return Err(Error::Corrupt(format!(
                        "sample rate {rate} Hz outside {}..={} Hz",
                        SAMPLE_RATES.start(),
                        SAMPLE_RATES.end()
                    )));
                }
            }
            check(frames, limits.max_audio_frames, "audio frames")?;
            MediaInfo::Audio {
                sample_rate,
                channels,
                frames,
                bits_per_sample,
                float,
                model_rate,
            }
        }
        3 => {
            let width = r.u32("width")?;
            let height = r.u32("height")?;
            let frames = r.u32("frames")?;
            let fps_num = r.u32("fps numerator")?;
            let fps_den = r.u32("fps denominator")?;
            let chroma = r.u8("chroma")?;
            if width == 0 || height == 0 || fps_den == 0 || chroma > 2 {
                return Err(Error::Corrupt("bad video descriptor".into()));
            }
            check(
                u64::from(width) * u64::from(height),
                limits.max_pixels,
                "frame pixels",
            )?;
            check(
                u64::from(frames),
                u64::from(limits.max_video_frames),
                "video frames",
            )?;
            MediaInfo::Video {
                width,
                height,
                frames,
                fps_num,
                fps_den,
                chroma,
            }
        }
        k => return Err(Error::Corrupt(format!("unknown media kind {k}"))),
    };
    let end = r.pos;
    let crc = r.u32("header CRC")?;
    let actual = crc32fast::hash(&r.b[..end]);
    if crc != actual && r.check_crcs {
        return Err(Error::Corrupt(format!(
            "header CRC mismatch (stored {crc:08x}, computed {actual:08x})"
        )));
    }
    Ok(Header {
        version,
        flags,
        model_id,
        model_digest,
        quality,
        media,
    })
}

/// The media kind's byte in the header.
fn kind_code(kind: MediaKind) -> u8 {
    match kind {
        MediaKind::Image => 1,
        MediaKind::Audio => 2,
        MediaKind::Video => 3,
    }
}

fn check(value: u64, limit: u64, what: &'static str) -> Result<()> {
    if value > limit {
        return Err(Error::LimitExceeded { what, value, limit });
    }
    Ok(())
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    /// Whether stored CRCs must match.
    check_crcs: bool,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| Error::Truncated(format!("file ends inside the {what}")))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        Ok(self.take(N, what)?.try_into().expect("length checked"))
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
}
