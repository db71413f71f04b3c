//! `ncodec decode`: an `.ncx` file back to an image (PNG or JPEG by the output's
//! extension) or a WAV file (in its original rate and sample format, written chunk after
//! chunk).

use std::path::{Path, PathBuf};

use ncodec::codec::MediaSink;
use ncodec::container::{Container, Limits};
use ncodec::media::MediaKind;
use ncodec::media::audio::{AudioSink, WavFormat, WavSink};
use ncodec::media::image::Image;

use crate::args::{ModelArgs, OutputArgs};
use crate::error::{Result, ctx};
use crate::io::{is_std, read_input, tmp_path, write_output};

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
}

/// Takes what a codec decodes for `output`: an image encoded by the output's extension
/// (written by [`run`] at the end), or audio as a WAV stream into a temporary file next
/// to the output (to memory for stdout).
struct FileSink<'a> {
    output: &'a Path,
    /// The encoded image.
    image: Option<Vec<u8>>,
    /// An audio stream to the temporary file.
    wav: Option<WavSink<std::io::BufWriter<std::fs::File>>>,
    /// The buffer of an audio stream to stdout, until the stream starts.
    memory: Option<&'a mut std::io::Cursor<Vec<u8>>>,
    /// An audio stream to stdout.
    wav_memory: Option<WavSink<&'a mut std::io::Cursor<Vec<u8>>>>,
}

impl FileSink<'_> {
    fn image_format(&self) -> ncodec::Result<image::ImageFormat> {
        if is_std(self.output) {
            return Ok(image::ImageFormat::Png);
        }
        image::ImageFormat::from_path(self.output).map_err(|_| {
            ncodec::Error::InvalidArgument(format!(
                "cannot tell the image format of {} from its extension (use .png or .jpg)",
                self.output.display()
            ))
        })
    }
}

impl MediaSink for FileSink<'_> {
    fn image(&mut self, image: Image) -> ncodec::Result<()> {
        let format = self.image_format()?;
        let img = image.into_dynamic();
        let img = if format == image::ImageFormat::Jpeg && img.color().has_alpha() {
            image::DynamicImage::ImageRgb8(img.to_rgb8())
        } else {
            img
        };
        let mut buf = std::io::Cursor::new(Vec::new());
        img.write_to(&mut buf, format).map_err(|e| {
            ncodec::Error::InvalidArgument(format!(
                "cannot write {} as {format:?}: {e}",
                self.output.display()
            ))
        })?;
        self.image = Some(buf.into_inner());
        Ok(())
    }

    fn audio(&mut self, format: WavFormat, _frames: u64) -> ncodec::Result<&mut dyn AudioSink> {
        if let Some(buf) = self.memory.take() {
            return Ok(self.wav_memory.insert(WavSink::new(buf, format)?));
        }
        if !self
            .output
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
        {
            return Err(ncodec::Error::InvalidArgument(format!(
                "{} holds audio: name the output .wav",
                self.output.display()
            )));
        }
        let f = std::fs::File::create(tmp_path(self.output))?;
        Ok(self
            .wav
            .insert(WavSink::new(std::io::BufWriter::new(f), format)?))
    }
}

/// Runs `ncodec decode`.
///
/// # Errors
/// Unreadable or damaged files, unknown models, unwritable outputs, and an existing
/// output named after the input without `--force`.
pub fn run(a: DecodeArgs) -> Result<()> {
    let limits = Limits::default();
    let bytes = read_input(&a.input, limits.max_file_bytes)?;
    let name = a.input.display().to_string();
    let c = Container::from_bytes(&bytes, &limits).map_err(ctx(format!("cannot read {name}")))?;
    let extension = match c.header.media.kind() {
        MediaKind::Audio => "wav",
        MediaKind::Video => "y4m",
        MediaKind::Image => "png",
    };
    let output = a.output.path(&a.input, extension)?;
    let models = ModelArgs {
        model: None,
        model_dir: a.model_dir,
    };
    let codec = models.load_for_file(&c.header.model_id, &name)?;
    let mut memory = std::io::Cursor::new(Vec::new());
    let mut sink = FileSink {
        output: &output,
        image: None,
        wav: None,
        memory: is_std(&output).then_some(&mut memory),
        wav_memory: None,
    };
    let decoded = codec.decode(&c, &mut sink).and_then(|()| {
        if let Some(w) = sink.wav.take() {
            w.finish()?;
            std::fs::rename(tmp_path(&output), &output)?;
        }
        if let Some(w) = sink.wav_memory.take() {
            w.finish()?;
        }
        Ok(())
    });
    if let Err(e) = decoded {
        if !is_std(&output) {
            let _ = std::fs::remove_file(tmp_path(&output));
        }
        return Err(ctx(format!("cannot decode {name}"))(e));
    }
    let image = sink.image.take();
    drop(sink);
    match image {
        Some(img) => write_output(&output, &img),
        None if is_std(&output) => write_output(&output, &memory.into_inner()),
        None => Ok(()),
    }
}

impl std::fmt::Debug for FileSink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink")
            .field("output", &self.output)
            .finish()
    }
}
