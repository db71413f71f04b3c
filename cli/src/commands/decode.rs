//! `ncodec decode`: an `.ncx` file back to an image (PNG or JPEG by the output's
//! extension) or a WAV file (in its original rate and sample format, written chunk after
//! chunk).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ncodec::codec::MediaSink;
use ncodec::container::{Container, Header, MAGIC};
use ncodec::media::audio::{
    AudioSink, AudioSource, MAX_STREAM_FRAMES, WavFormat, WavSink, WavSource,
};
use ncodec::media::image::Image;
use ncodec::media::{MediaInfo, MediaKind};

use crate::args::{LimitArgs, ModelArgs, OutputArgs};
use crate::batch::{BatchArgs, Outcome};
use crate::error::{CliError, Result, ctx};
use crate::io::{OutputFile, is_std, is_stream, read_input, write_output};

/// Decompress an .ncx file; images follow the output's extension (.png, .jpg), audio is
/// written as WAV in its original rate and sample format.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// Input .ncx file (`-` reads stdin), or a folder: every .ncx file under it is decoded
    /// to the same path under the output folder (`-o DIR`, default the folder itself) as
    /// .png or .wav; outputs already there are skipped (a rerun resumes).
    pub input: PathBuf,
    /// Where the output goes.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Decode with a model exported by `ncodec train` from this folder.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// Size limits.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Folder inputs.
    #[command(flatten)]
    pub batch: BatchArgs,
}

/// The image format an output path asks for (PNG for stdout, a device or a FIFO).
///
/// # Errors
/// An extension that names no image format the decoder writes.
fn image_format(output: &Path) -> Result<image::ImageFormat> {
    if is_stream(output) {
        return Ok(image::ImageFormat::Png);
    }
    image::ImageFormat::from_path(output).map_err(|_| {
        CliError::new(
            format!(
                "cannot tell the image format of {} from its extension",
                output.display()
            ),
            "the file holds an image: use .png or .jpg",
        )
    })
}

/// Takes what a codec decodes: an image encoded in `format` (written by [`run`] at the
/// end), or audio as a WAV stream into `wav_to` (the output file, or a buffer for stdout
/// and for outputs that cannot seek).
struct FileSink<'a> {
    format: image::ImageFormat,
    /// The encoded image.
    image: Option<Vec<u8>>,
    /// Where a WAV stream goes, until it starts.
    wav_to: Option<WavTarget<'a>>,
    /// The WAV stream.
    wav: Option<WavSink<std::io::BufWriter<WavTarget<'a>>>>,
}

/// Where a WAV stream is written.
enum WavTarget<'a> {
    /// The output file (seekable).
    File(&'a mut OutputFile),
    /// A buffer.
    Memory(&'a mut std::io::Cursor<Vec<u8>>),
}

impl std::io::Write for WavTarget<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::File(f) => f.file().write(buf),
            Self::Memory(m) => m.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::File(f) => f.file().flush(),
            Self::Memory(m) => m.flush(),
        }
    }
}

impl std::io::Seek for WavTarget<'_> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        match self {
            Self::File(f) => f.file().seek(pos),
            Self::Memory(m) => m.seek(pos),
        }
    }
}

impl MediaSink for FileSink<'_> {
    fn image(&mut self, image: Image) -> ncodec::Result<()> {
        let format = self.format;
        let img = image.into_dynamic();
        let img = if format == image::ImageFormat::Jpeg && img.color().has_alpha() {
            image::DynamicImage::ImageRgb8(img.to_rgb8())
        } else {
            img
        };
        let mut buf = std::io::Cursor::new(Vec::new());
        img.write_to(&mut buf, format).map_err(|e| {
            ncodec::Error::InvalidArgument(format!("cannot write the image as {format:?}: {e}"))
        })?;
        self.image = Some(buf.into_inner());
        Ok(())
    }

    fn audio(&mut self, format: WavFormat, _frames: u64) -> ncodec::Result<&mut dyn AudioSink> {
        let to = self.wav_to.take().ok_or_else(|| {
            ncodec::Error::Unsupported("decoded audio for an image output".into())
        })?;
        let sink = WavSink::new(std::io::BufWriter::new(to), format)?;
        Ok(self.wav.insert(sink))
    }
}

/// Runs `ncodec decode`: one file, or every `.ncx` file under a folder.
///
/// # Errors
/// Unreadable or damaged files, unknown models, an output whose extension does not fit
/// the file's media, unwritable outputs, and an existing output named after the input
/// without `--force`; for a folder, the files that failed.
pub fn run(a: DecodeArgs) -> Result<()> {
    if a.input.is_dir() {
        return decode_folder(&a);
    }
    a.batch.refuse()?;
    decode_file(&a, &a.input, |ext, _| {
        a.output.path(&a.input, ext).map(Target::Write)
    })
    .map(|_| ())
}

/// Where a decode goes.
#[derive(Debug)]
pub enum Target {
    /// Decode into this output.
    Write(PathBuf),
    /// This output is already the file's complete decode (a resumed batch).
    Skip(PathBuf),
}

/// Decodes `input` into the target that `target` chooses from the extension of the
/// file's media (`png`, `wav`) and its header.
///
/// # Errors
/// As [`run`] for one file.
pub fn decode_file(
    a: &DecodeArgs,
    input: &Path,
    target: impl FnOnce(&str, &Header) -> Result<Target>,
) -> Result<Outcome> {
    let limits = a.limits.limits();
    let bytes = read_input(input, limits.max_file_bytes)?;
    let name = input.display().to_string();
    let info =
        ncodec::info::file_info(&bytes, &limits).map_err(ctx(format!("cannot read {name}")))?;
    let c = Container::from_bytes(&bytes, &limits).map_err(ctx(format!("cannot read {name}")))?;
    let kind = c.header.media.kind();
    let extension = match kind {
        MediaKind::Audio => "wav",
        MediaKind::Video => "y4m",
        MediaKind::Image => "png",
    };
    let mut outcome = Outcome {
        output: PathBuf::new(),
        skipped: false,
        ncx_bytes: info.file_bytes,
        bpp: info.bits_per_pixel,
        kbit_s: info.kbps,
        model: c.header.model_id.clone(),
        quality: c.header.quality,
    };
    let output = match target(extension, &c.header)? {
        Target::Write(p) => p,
        Target::Skip(p) => {
            outcome.output = p;
            outcome.skipped = true;
            return Ok(outcome);
        }
    };
    // The output must name a format of the file's media, checked before decoding.
    let format = match kind {
        MediaKind::Image => image_format(&output)?,
        _ if is_stream(&output)
            || output
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case(extension)) =>
        {
            image::ImageFormat::Png
        }
        _ => {
            return Err(CliError::new(
                format!("cannot write {}", output.display()),
                format!("the file holds {kind}: name the output .{extension}"),
            ));
        }
    };
    let models = ModelArgs {
        model: None,
        model_dir: a.model_dir.clone(),
    };
    let codec = models.load_for_file(&c.header.model_id, &name)?;
    // Audio streams into the output file when it can seek (a regular file), else into
    // memory first; images are encoded in memory and written at the end.
    let mut file = match kind {
        MediaKind::Audio if !is_std(&output) => Some(OutputFile::create(&output)?),
        _ => None,
    };
    let mut memory = std::io::Cursor::new(Vec::new());
    let wav_to = match &mut file {
        Some(f) if f.is_regular() => WavTarget::File(f),
        _ => WavTarget::Memory(&mut memory),
    };
    let mut sink = FileSink {
        format,
        image: None,
        wav_to: Some(wav_to),
        wav: None,
    };
    let decoded = codec
        .decode(&c, &mut sink)
        .and_then(|()| match sink.wav.take() {
            Some(w) => w.finish(),
            None => Ok(()),
        });
    let image = sink.image.take();
    drop(sink);
    decoded.map_err(ctx(format!("cannot decode {name}")))?;
    let buffered = memory.into_inner();
    match (image, file) {
        (Some(img), _) => write_output(&output, &img)?,
        (None, Some(mut f)) => {
            if !f.is_regular() {
                f.file()
                    .write_all(&buffered)
                    .map_err(ctx(format!("cannot write {}", output.display())))?;
            }
            f.commit()?;
        }
        (None, None) => write_output(&output, &buffered)?,
    }
    outcome.output = output;
    Ok(outcome)
}

/// Whether `output` is already the complete decode of a file with header `h`: an image
/// of its size, or a WAV file of its length.
fn already_decoded(output: &Path, h: &Header) -> bool {
    match h.media {
        MediaInfo::Image { width, height, .. } => {
            image::image_dimensions(output).is_ok_and(|d| d == (width, height))
        }
        MediaInfo::Audio { frames, .. } => std::fs::File::open(output)
            .ok()
            .and_then(|f| WavSource::new(std::io::BufReader::new(f), MAX_STREAM_FRAMES).ok())
            .is_some_and(|w| w.frames() == frames),
        MediaInfo::Video { .. } => false,
    }
}

/// `ncodec decode DIR`: every `.ncx` file under `DIR` to the same relative path under the
/// output folder (`-o`, else `DIR`), as `.png` or `.wav`.
fn decode_folder(a: &DecodeArgs) -> Result<()> {
    let (out_root, jobs) =
        crate::batch::plan(&a.input, a.output.output.as_deref(), &a.batch, |head| {
            head.starts_with(&MAGIC)
        })?;
    crate::batch::run(
        &jobs,
        &a.batch,
        &out_root,
        "decoded",
        || (),
        |(), job| {
            decode_file(a, &job.input, |ext, header| {
                let output = out_root.join(&job.rel).with_extension(ext);
                if let Some(dir) = output.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(ctx(format!("cannot create {}", dir.display())))?;
                }
                if !output.exists() || a.output.force {
                    return Ok(Target::Write(output));
                }
                if already_decoded(&output, header) {
                    return Ok(Target::Skip(output));
                }
                Err(CliError::new(
                    format!("{} already exists", output.display()),
                    "it is not this file's decode: --force replaces it",
                ))
            })
        },
    )
}

impl std::fmt::Debug for FileSink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink")
            .field("format", &self.format)
            .finish()
    }
}
