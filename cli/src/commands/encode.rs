//! `ncodec encode`: an image or a WAV file into an `.ncx` file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ncodec::codec::{Codec, EncodeOptions, Input};
use ncodec::container::Limits;
use ncodec::media::MediaKind;
use ncodec::media::audio::{AudioSource, MAX_STREAM_FRAMES, WavSource, is_wav};
use ncodec::media::image::{ReadImage, read_image};

use crate::args::{LimitArgs, ModelArgs, OutputArgs, RefineArgs};
use crate::batch::{BatchArgs, Outcome};
use crate::error::{CliError, Result, ctx};
use crate::io::{file_head, is_std, read_input, write_output};

/// Compress an image (PNG or JPEG) or a WAV file into an .ncx file, or every one under a
/// folder.
#[derive(Debug, clap::Args)]
pub struct EncodeArgs {
    /// Input image or WAV file (`-` reads stdin), or a folder: every PNG, JPEG and WAV
    /// file under it goes to the same path under the output folder (`-o DIR`, default the
    /// folder itself) as `.ncx`; outputs already there are skipped (a rerun resumes).
    pub input: PathBuf,
    /// Where the output goes (a folder for a folder input).
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
    /// Folder inputs.
    #[command(flatten)]
    pub batch: BatchArgs,
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

/// The models of a run, loaded when first needed (one per medium).
pub struct Codecs<'a> {
    args: &'a ModelArgs,
    loaded: Vec<(MediaKind, Box<dyn Codec>)>,
}

impl<'a> Codecs<'a> {
    /// None loaded yet; `args` says which to load.
    pub fn new(args: &'a ModelArgs) -> Self {
        Self {
            args,
            loaded: Vec::new(),
        }
    }

    /// The model for `kind`.
    ///
    /// # Errors
    /// As [`ModelArgs::load`].
    pub fn get(&mut self, kind: MediaKind) -> Result<&dyn Codec> {
        let i = match self.loaded.iter().position(|(k, _)| *k == kind) {
            Some(i) => i,
            None => {
                self.loaded.push((kind, self.args.load(kind)?));
                self.loaded.len() - 1
            }
        };
        Ok(self.loaded[i].1.as_ref())
    }
}

impl std::fmt::Debug for Codecs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.loaded.iter().map(|(_, c)| &c.info().id))
            .finish()
    }
}

/// Whether a file starting with `head` is an input `ncodec encode` takes (PNG, JPEG or
/// WAV).
pub fn is_media(head: &[u8]) -> bool {
    head.starts_with(b"\x89PNG") || head.starts_with(&[0xFF, 0xD8, 0xFF]) || is_wav(head)
}

/// Encodes `input` into `output` with `a`'s options and prints nothing; `progress` shows
/// latent refinement's tiles. The summary line is the second value.
///
/// # Errors
/// Unreadable inputs, unknown models and coding errors.
pub fn encode_file(
    a: &EncodeArgs,
    input: &Path,
    output: &Path,
    codecs: &mut Codecs<'_>,
    progress: bool,
) -> Result<(Outcome, String)> {
    let name = input.display().to_string();
    let (streamed, bytes) = read_media(input)?;
    let mut options = EncodeOptions::new().refine(a.refine.refinement()?);
    options.quality = a.quality;
    if streamed || is_wav(&bytes) {
        let mut src = wav_source(input, &bytes, streamed)?;
        let (f, frames) = (src.format(), src.frames());
        let codec = codecs.get(MediaKind::Audio)?;
        let file = codec
            .encode(Input::Audio(src.as_mut()), &options)
            .map_err(ctx(format!("cannot encode {name}")))?;
        write_output(output, &file.bytes)?;
        let seconds = frames as f64 / f64::from(f.sample_rate);
        let kbit_s = file.bytes.len() as f64 * 8.0 / seconds / 1000.0;
        let summary = format!(
            "{name}: {} ch, {} Hz, {seconds:.2} s -> {} bytes, {kbit_s:.2} kbit/s (model {}; estimate {:.2} kbit/s)",
            f.channels,
            f.sample_rate,
            file.bytes.len(),
            codec.info().id,
            file.estimated_bits / seconds / 1000.0
        );
        let outcome = Outcome {
            output: output.to_path_buf(),
            ncx_bytes: file.bytes.len() as u64,
            kbit_s: Some(kbit_s),
            model: codec.info().id.clone(),
            quality: file.quality,
            ..Outcome::default()
        };
        return Ok((outcome, summary));
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
    let codec = codecs.get(MediaKind::Image)?;
    let options = if progress {
        options.progress(crate::progress::refine_tiles(name.clone()))
    } else {
        options
    };
    let file = codec
        .encode(Input::Image(&img), &options)
        .map_err(ctx(format!("cannot encode {name}")))?;
    write_output(output, &file.bytes)?;
    let px = f64::from(img.width()) * f64::from(img.height());
    let bpp = file.bytes.len() as f64 * 8.0 / px;
    let summary = format!(
        "{name}: {}x{}{} -> {} bytes, {bpp:.4} bpp (model {}, quality {}{}; estimate {:.4} bpp)",
        img.width(),
        img.height(),
        rotated.map_or(String::new(), |o| format!(" (turned upright: EXIF {o:?})")),
        file.bytes.len(),
        codec.info().id,
        file.quality,
        options.refine.map_or(String::new(), |r| format!(
            ", latents refined in {} steps",
            r.steps
        )),
        file.estimated_bits / px
    );
    let outcome = Outcome {
        output: output.to_path_buf(),
        ncx_bytes: file.bytes.len() as u64,
        bpp: Some(bpp),
        model: codec.info().id.clone(),
        quality: file.quality,
        ..Outcome::default()
    };
    Ok((outcome, summary))
}

/// Runs `ncodec encode`: one file, or every image and WAV file under a folder.
///
/// # Errors
/// Unreadable inputs, unknown models, coding errors, and an existing output named after
/// the input without `--force`; for a folder, the files that failed.
pub fn run(a: EncodeArgs) -> Result<()> {
    if a.input.is_dir() {
        return encode_folder(&a);
    }
    a.batch.refuse()?;
    let output = a.output.path(&a.input, "ncx")?;
    let (_, summary) = encode_file(&a, &a.input, &output, &mut Codecs::new(&a.model), true)?;
    eprintln!("{summary}");
    Ok(())
}

/// An existing output of a folder batch that is a complete `.ncx` file of `kind` with the
/// model and quality this run would use: its outcome, to skip the input.
fn already_there(
    output: &Path,
    kind: MediaKind,
    codec: &dyn Codec,
    quality: Option<u8>,
) -> Option<Outcome> {
    let bytes = crate::io::read_input(output, Limits::default().max_file_bytes).ok()?;
    let info = ncodec::info::file_info(&bytes, &Limits::default()).ok()?;
    let h = &info.header;
    let same = h.media.kind() == kind
        && h.model_id == codec.info().id
        && h.quality == quality.unwrap_or(codec.info().default_quality);
    same.then(|| Outcome {
        output: output.to_path_buf(),
        skipped: true,
        ncx_bytes: info.file_bytes,
        bpp: info.bits_per_pixel,
        kbit_s: info.kbps,
        model: h.model_id.clone(),
        quality: h.quality,
    })
}

/// `ncodec encode DIR`: every image and WAV file under `DIR` to the same relative path
/// under the output folder (`-o`, else `DIR`), with the extension `.ncx`.
fn encode_folder(a: &EncodeArgs) -> Result<()> {
    let (out_root, jobs) =
        crate::batch::plan(&a.input, a.output.output.as_deref(), &a.batch, is_media)?;
    // Inputs that differ only by extension (a.png, a.jpg) would share an output: the
    // first in order keeps it, the others fail.
    let mut claimed: HashMap<PathBuf, PathBuf> = HashMap::new();
    for j in &jobs {
        claimed
            .entry(out_root.join(&j.rel).with_extension("ncx"))
            .or_insert_with(|| j.rel.clone());
    }
    crate::batch::run(
        &jobs,
        &a.batch,
        &out_root,
        "encoded",
        || Codecs::new(&a.model),
        |codecs, job| {
            let output = out_root.join(&job.rel).with_extension("ncx");
            if claimed.get(&output) != Some(&job.rel) {
                return Err(CliError::new(
                    format!("cannot encode {}", job.input.display()),
                    format!(
                        "its output {} is that of {} too: rename one of them",
                        output.display(),
                        claimed[&output].display()
                    ),
                ));
            }
            if let Some(dir) = output.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(ctx(format!("cannot create {}", dir.display())))?;
            }
            if output.exists() && !a.output.force {
                let kind = if is_wav(&file_head(&job.input, 12)?) {
                    MediaKind::Audio
                } else {
                    MediaKind::Image
                };
                let codec = codecs.get(kind)?;
                return already_there(&output, kind, codec, a.quality).ok_or_else(|| {
                    CliError::new(
                        format!("{} already exists", output.display()),
                        "it is not this model's file of this input at this quality: --force replaces it",
                    )
                });
            }
            encode_file(a, &job.input, &output, codecs, false).map(|(o, _)| o)
        },
    )
}
