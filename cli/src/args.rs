//! Argument groups several commands share.

use std::path::{Path, PathBuf};

use ncodec::codec::{Codec, Refinement};
use ncodec::media::MediaKind;

use crate::error::{Result, ctx};

/// Which model to use: a shipped one by id, or one exported by `ncodec train`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ModelArgs {
    /// Shipped model to use (see `ncodec models`; default: the default model for the
    /// input's media).
    #[arg(long, conflicts_with = "model_dir")]
    pub model: Option<String>,
    /// Use the model exported by `ncodec train` in this folder instead.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
}

impl ModelArgs {
    /// Loads `--model-dir`, else `--model`, else the shipped model `fallback` names
    /// (called only when neither is given).
    ///
    /// # Errors
    /// Unknown models, unreadable folders, and `fallback`'s errors.
    pub fn load_or(
        &self,
        fallback: impl FnOnce() -> ncodec::Result<&'static str>,
    ) -> Result<Box<dyn Codec>> {
        let device = ncodec::device::default_device();
        if let Some(dir) = &self.model_dir {
            return ncodec::registry::load_dir(dir, &device)
                .map_err(ctx(format!("cannot load model from {}", dir.display())));
        }
        let id = match &self.model {
            Some(id) => id.clone(),
            None => fallback().map_err(ctx("no model to use"))?.to_string(),
        };
        ncodec::registry::load(&id, &device).map_err(ctx(format!("cannot load model {id}")))
    }

    /// Loads the model named, or the default model for `kind`.
    ///
    /// # Errors
    /// As [`ModelArgs::load_or`].
    pub fn load(&self, kind: MediaKind) -> Result<Box<dyn Codec>> {
        self.load_or(|| Ok(ncodec::registry::default_for(kind)?.id))
    }

    /// The model a file names (`--model-dir` if given: an exported model's files carry
    /// the folder's name).
    ///
    /// # Errors
    /// As [`ModelArgs::load_or`].
    pub fn load_for_file(&self, model_id: &str, name: &str) -> Result<Box<dyn Codec>> {
        let device = ncodec::device::default_device();
        match &self.model_dir {
            Some(dir) => ncodec::registry::load_dir(dir, &device)
                .map_err(ctx(format!("cannot load model from {}", dir.display()))),
            None => ncodec::registry::load(model_id, &device)
                .map_err(ctx(format!("cannot decode {name}"))),
        }
    }
}

/// Encoder-side latent refinement of hyperprior models.
#[derive(Debug, Clone, clap::Args)]
pub struct RefineArgs {
    /// Refine each image's latents with this many gradient steps before coding
    /// (hyperprior models only; the file decodes as usual, encoding is slower).
    #[arg(long, default_value_t = 0)]
    pub refine: usize,
    /// Initial step size of --refine.
    #[arg(long, default_value_t = Refinement::DEFAULT_LR)]
    pub refine_lr: f64,
}

impl RefineArgs {
    /// The refinement asked for (`None` for 0 steps).
    ///
    /// # Errors
    /// A step size that is not a positive number.
    pub fn refinement(&self) -> Result<Option<Refinement>> {
        Refinement::new(self.refine, self.refine_lr).map_err(ctx("cannot use --refine"))
    }
}

/// Where a command's output goes.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Output file (`-` writes stdout; default: the input's name with the output's
    /// extension, or stdout when the input is stdin).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Overwrite the output named after the input if it exists.
    #[arg(short, long)]
    pub force: bool,
}

impl OutputArgs {
    /// The output path for `input`, named with `extension` when `-o` is not given.
    ///
    /// # Errors
    /// An existing derived output without `--force`.
    pub fn path(&self, input: &Path, extension: &str) -> Result<PathBuf> {
        crate::io::output_path(self.output.as_deref(), input, extension, self.force)
    }
}
