//! Argument groups several commands share.

use std::path::{Path, PathBuf};

use ncodec::codec::{Codec, Refinement};
use ncodec::container::Limits;
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
    /// extension, or stdout when the input is stdin); for `encode` and `decode` of a
    /// folder, the output folder.
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

/// How large an input or a file's promised output may be.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Refuse images and video frames with more pixels than this (a plain count, or with
    /// a k, M or G suffix: `--max-pixels 50M`), before decoding any of them.
    #[arg(long, value_name = "N", default_value = "268435456", value_parser = parse_count)]
    pub max_pixels: u64,
}

impl LimitArgs {
    /// The container and media limits to use.
    pub fn limits(&self) -> Limits {
        Limits {
            max_pixels: self.max_pixels,
            ..Limits::default()
        }
    }
}

/// A positive count, optionally with a decimal k, M or G suffix (`24M` = 24 000 000).
fn parse_count(s: &str) -> std::result::Result<u64, String> {
    let (digits, scale) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1_000),
        Some((i, 'M')) => (&s[..i], 1_000_000),
        Some((i, 'G')) => (&s[..i], 1_000_000_000),
        _ => (s, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("expected a positive count such as 50000000 or 50M, got {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::parse_count;

    #[test]
    fn counts_take_suffixes_and_refuse_nonsense() {
        assert_eq!(parse_count("24M"), Ok(24_000_000));
        assert_eq!(parse_count("3k"), Ok(3_000));
        assert_eq!(parse_count("1G"), Ok(1_000_000_000));
        assert_eq!(parse_count("1234"), Ok(1234));
        for bad in ["", "0", "M", "-5", "1.5M", "99999999999999999999G"] {
            assert!(parse_count(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
