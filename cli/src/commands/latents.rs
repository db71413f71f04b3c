//! `ncodec latents`: the integer latents of an image, a WAV file or an `.ncx` file as a
//! NumPy `.npy` array, without synthesising pixels or samples.

use std::path::PathBuf;

use ncodec::codec::{Input, LatentSource};
use ncodec::container::{Container, MAGIC};
use ncodec::media::MediaKind;
use ncodec::media::audio::is_wav;

use super::encode::{image_input, read_media, wav_source};
use crate::args::{LimitArgs, ModelArgs, OutputArgs};
use crate::error::{CliError, Result, ctx};
use crate::io::write_output;

/// Write the integer latents of an image, WAV or .ncx file as NumPy .npy (models with a
/// latents API: WaLLoC) without synthesising pixels or samples: shape (channels, height,
/// width) for images, (channel groups × latent channels, positions) for audio. Images
/// are quantised at step 1 unless `--quality` says otherwise; an .ncx keeps its own
/// level. The step is printed (the decoder's input is value × step).
#[derive(Debug, clap::Args)]
pub struct LatentsArgs {
    /// Input image (PNG/JPEG), WAV or .ncx file (`-` reads stdin).
    pub input: PathBuf,
    /// Where the output goes.
    #[command(flatten)]
    pub output: OutputArgs,
    /// The model (default: the first shipped model with latents for the input's media;
    /// an .ncx file names its own).
    #[command(flatten)]
    pub model: ModelArgs,
    /// Image input only: quantise at this quality level's step, as `ncodec encode
    /// --quality` would (default: the level with step 1).
    #[arg(long)]
    pub quality: Option<u8>,
    /// Size limits.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Runs `ncodec latents`.
///
/// # Errors
/// Unreadable inputs, models without latents, and `--quality` with other than an image.
pub fn run(a: LatentsArgs) -> Result<()> {
    let name = a.input.display().to_string();
    let (streamed, bytes) = read_media(&a.input)?;
    let output = a.output.path(&a.input, "npy")?;
    let default_for = |kind| move || Ok(ncodec::registry::default_with_latents(kind)?.id);
    let latents = if bytes.starts_with(&MAGIC) {
        let c = Container::from_bytes(&bytes, &a.limits.limits())
            .map_err(ctx(format!("cannot read {name}")))?;
        if a.quality.is_some() {
            return Err(CliError::new(
                format!("cannot use --quality with {name}"),
                "--quality applies to image input only (an .ncx file keeps its own level)",
            ));
        }
        // The file names its model (`--model-dir` loads an exported one).
        let codec = a.model.load_for_file(&c.header.model_id, &name)?;
        codec.latents(LatentSource::File(&c)).map(|l| (l, codec))
    } else if streamed || is_wav(&bytes) {
        let mut src = wav_source(&a.input, &bytes, streamed)?;
        let codec = a.model.load_or(default_for(MediaKind::Audio))?;
        codec
            .latents(LatentSource::Input(Input::Audio(src.as_mut()), a.quality))
            .map(|l| (l, codec))
    } else {
        let img = image_input(&bytes, &name, &a.limits.limits(), "encode", false)?.image;
        let codec = a.model.load_or(default_for(MediaKind::Image))?;
        codec
            .latents(LatentSource::Input(Input::Image(&img), a.quality))
            .map(|l| (l, codec))
    };
    let (l, codec) = latents.map_err(ctx(format!("cannot compute the latents of {name}")))?;
    let npy =
        ncodec::media::npy::write_i32(&l.shape, &l.values).map_err(ctx("cannot format .npy"))?;
    write_output(&output, &npy)?;
    let shape: Vec<String> = l.shape.iter().map(ToString::to_string).collect();
    eprintln!(
        "{name}: latents {} (model {}, quantisation step {}: the decoder's input is value × step)",
        shape.join("x"),
        codec.info().id,
        l.step
    );
    Ok(())
}
