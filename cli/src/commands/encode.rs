//! `ncodec encode`: an image or a WAV file into an `.ncx` file.

use std::path::{Path, PathBuf};

use ncodec::codec::{EncodeOptions, Input};
use ncodec::container::Limits;
use ncodec::media::MediaKind;
use ncodec::media::audio::{AudioSource, MAX_STREAM_FRAMES, WavSource, is_wav};
use ncodec::media::image::{ReadImage, read_image};

use crate::args::{LimitArgs, ModelArgs, OutputArgs, RefineArgs};
use crate::error::{Result, ctx};
use crate::io::{file_head, is_std, read_input, write_output};

/// Compress an image (PNG or JPEG) or a WAV file into an .ncx file.
#[derive(Debug, clap::Args)]
pub struct EncodeArgs {
    /// Input image or WAV file (`-` reads stdin).
    pub input: PathBuf,
    /// Where the output goes.
    #[command(flatten)]
    pub output: OutputArgs,
    /// The model.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Quality level (higher is better quality and larger files; default: the model's).
    #[arg(short, long)]
    pub quality: Option<u8>,
    /// Latent refinement.
    #[command(flatten)]
    pub refine: RefineArgs,
    /// Code a JPEG that ends inside its last scan (the decoder fills the missing part
    /// with grey) instead of refusing it.
    #[arg(long)]
    pub allow_truncated: bool,
    /// Size limits.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Reads an input image within the pixel limit, upright (EXIF orientation applied), and
/// prepares it for coding. `verb` (`encode`, `compare`, ...) names what failed in the
/// error.
///
/// # Errors
/// Undecodable, truncated (unless `allow_truncated`) or too large images, and layouts
/// the codecs refuse.
pub fn image_input(
    bytes: &[u8],
    name: &str,
    limits: &Limits,
    verb: &str,
    allow_truncated: bool,
) -> Result<ReadImage> {
    let read = read_image(bytes, limits.max_pixels, allow_truncated);
    let context = match &read {
        Err(ncodec::Error::InvalidArgument(_) | ncodec::Error::Truncated(_)) => {
            format!("cannot decode image {name}")
        }
        Err(ncodec::Error::LimitExceeded { .. }) => format!("{name} is too large"),
        _ => format!("cannot {verb} {name}"),
    };
    read.map_err(ctx(context))
}

/// A WAV input as a stream: a file is read block by block (bounded memory, any length),
/// stdin from the bytes already read.
///
/// # Errors
/// Unreadable WAV headers.
pub fn wav_source<'a>(
    path: &Path,
    bytes: &'a [u8],
    streamed: bool,
) -> Result<Box<dyn AudioSource + 'a>> {
    let name = path.display().to_string();
    let src: ncodec::Result<Box<dyn AudioSource>> = if streamed {
        let f = std::fs::File::open(path).map_err(ctx(format!("cannot open {name}")))?;
        WavSource::new(std::io::BufReader::new(f), MAX_STREAM_FRAMES).map(|s| Box::new(s) as _)
    } else {
        WavSource::new(std::io::Cursor::new(bytes), MAX_STREAM_FRAMES).map(|s| Box::new(s) as _)
    };
    src.map_err(ctx(format!("cannot read WAV {name}")))
}

/// Whether `path` is a WAV file to stream (not stdin), and otherwise its bytes.
///
/// # Errors
/// I/O errors and the file size limit.
pub fn read_media(path: &Path) -> Result<(bool, Vec<u8>)> {
    let streamed = !is_std(path) && is_wav(&file_head(path, 12)?);
    let bytes = if streamed {
        Vec::new()
    } else {
        read_input(path, Limits::default().max_file_bytes)?
    };
    Ok((streamed, bytes))
}

/// Runs `ncodec encode`.
///
/// # Errors
/// Unreadable inputs, unknown models, coding errors, and an existing output named after
/// the input without `--force`.
pub fn run(a: EncodeArgs) -> Result<()> {
    let name = a.input.display().to_string();
    let (streamed, bytes) = read_media(&a.input)?;
    let output = a.output.path(&a.input, "ncx")?;
    let mut options = EncodeOptions::new().refine(a.refine.refinement()?);
    options.quality = a.quality;
    if streamed || is_wav(&bytes) {
        let mut src = wav_source(&a.input, &bytes, streamed)?;
        let (f, frames) = (src.format(), src.frames());
        let codec = a.model.load(MediaKind::Audio)?;
        let file = codec
            .encode(Input::Audio(src.as_mut()), &options)
            .map_err(ctx(format!("cannot encode {name}")))?;
        write_output(&output, &file.bytes)?;
        let seconds = frames as f64 / f64::from(f.sample_rate);
        eprintln!(
            "{name}: {} ch, {} Hz, {seconds:.2} s -> {} bytes, {:.2} kbit/s (model {}; estimate {:.2} kbit/s)",
            f.channels,
            f.sample_rate,
            file.bytes.len(),
            file.bytes.len() as f64 * 8.0 / seconds / 1000.0,
            codec.info().id,
            file.estimated_bits / seconds / 1000.0
        );
        return Ok(());
    }
    let limits = a.limits.limits();
    let ReadImage {
        image: img,
        rotated,
        truncated,
    } = image_input(&bytes, &name, &limits, "encode", a.allow_truncated)?;
    if truncated {
        eprintln!("warning: {name} is a truncated JPEG; its missing part is coded as grey");
    }
    let codec = a.model.load(MediaKind::Image)?;
    let options = options.progress(crate::progress::refine_tiles(name.clone()));
    let file = codec
        .encode(Input::Image(&img), &options)
        .map_err(ctx(format!("cannot encode {name}")))?;
    write_output(&output, &file.bytes)?;
    let px = f64::from(img.width()) * f64::from(img.height());
    eprintln!(
        "{name}: {}x{}{} -> {} bytes, {:.4} bpp (model {}, quality {}{}; estimate {:.4} bpp)",
        img.width(),
        img.height(),
        rotated.map_or(String::new(), |o| format!(" (turned upright: EXIF {o:?})")),
        file.bytes.len(),
        file.bytes.len() as f64 * 8.0 / px,
        codec.info().id,
        file.quality,
        options.refine.map_or(String::new(), |r| format!(
            ", latents refined in {} steps",
            r.steps
        )),
        file.estimated_bits / px
    );
    Ok(())
}
