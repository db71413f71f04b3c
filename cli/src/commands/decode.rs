//! `ncodec decode`: an `.ncx` file back to an image (PNG or JPEG by the output's
//! extension) or a WAV file (in its original rate and sample format, written chunk after
//! chunk).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ncodec::codec::MediaSink;
use ncodec::container::Container;
use ncodec::media::MediaKind;
use ncodec::media::audio::{AudioSink, WavFormat, WavSink};
use ncodec::media::image::Image;

use crate::args::{LimitArgs, ModelArgs, OutputArgs};
use crate::error::{CliError, Result, ctx};
use crate::io::{OutputFile, is_std, is_stream, read_input, write_output};

/// Decompress an .ncx file; images follow the output's extension (.png, .jpg), audio is
/// written as WAV in its original rate and sample format.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// Input .ncx file (`-` reads stdin).
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

/// Runs `ncodec decode`.
///
/// # Errors
/// Unreadable or damaged files, unknown models, an output whose extension does not fit
/// the file's media, unwritable outputs, and an existing output named after the input
/// without `--force`.
pub fn run(a: DecodeArgs) -> Result<()> {
    let limits = a.limits.limits();
    let bytes = read_input(&a.input, limits.max_file_bytes)?;
    let name = a.input.display().to_string();
    let c = Container::from_bytes(&bytes, &limits).map_err(ctx(format!("cannot read {name}")))?;
    let kind = c.header.media.kind();
    let extension = match kind {
        MediaKind::Audio => "wav",
        MediaKind::Video => "y4m",
        MediaKind::Image => "png",
    };
    let output = a.output.path(&a.input, extension)?;
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
        model_dir: a.model_dir,
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
        (Some(img), _) => write_output(&output, &img),
        (None, Some(mut f)) => {
            if !f.is_regular() {
                f.file()
                    .write_all(&buffered)
                    .map_err(ctx(format!("cannot write {}", output.display())))?;
            }
            f.commit()
        }
        (None, None) => write_output(&output, &buffered),
    }
}

impl std::fmt::Debug for FileSink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink")
            .field("format", &self.format)
            .finish()
    }
}
