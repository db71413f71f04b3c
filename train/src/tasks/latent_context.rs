//! Fitting the learned context model of a WaLLoC image model's latents
//! (`ncodec train latent-context`): the latents of every training photo at a few base
//! levels, then a least-squares fit of the context model's predictions
//! ([`ncodec::families::walloc::latent_learned::fit`]). The result is `context.bin`,
//! which goes next to the model's weights.

use std::path::PathBuf;

use ncodec::families::walloc::latent_learned::{self, LatentContextModel, Planes};
use ncodec::families::walloc::{self, BASE_LEVELS, WallocModel};
use ncodec::media::MediaKind;
use ncodec::models::burn::prelude::Device;

use crate::Monitor;
use crate::data::training_images;
use crate::error::{Error, Result};

/// What a fit needs.
#[derive(Debug, Clone)]
pub struct LatentContextOptions {
    /// Folder of training images (searched recursively).
    pub data: PathBuf,
    /// The WaLLoC image model: a shipped model's id or an exported model's folder.
    pub model: String,
    /// Base quality levels (`0..BASE_LEVELS`) whose latents to fit on.
    pub qualities: Vec<u8>,
    /// Downscale factor for JPEG training images (1 keeps them).
    pub jpeg_downscale: u32,
}

/// Fits a latent context model for `opts.model` on `opts.data`.
///
/// # Errors
/// [`Error::Invalid`] for a model that is not a WaLLoC image model or a level that is
/// not a base level; dataset and coding errors.
pub fn fit_latent_context(
    opts: &LatentContextOptions,
    device: &Device,
    monitor: &mut dyn Monitor,
) -> Result<LatentContextModel> {
    if let Some(q) = opts.qualities.iter().find(|&&q| q >= BASE_LEVELS) {
        return Err(Error::Invalid(format!(
            "quality {q}: not a base level (0–{})",
            BASE_LEVELS - 1
        )));
    }
    let files = ncodec::registry::model_files(&opts.model)?;
    let not_walloc = || {
        Error::Invalid(format!(
            "model {}: a latent context model needs a WaLLoC image model",
            opts.model
        ))
    };
    if files.family != walloc::FAMILY {
        return Err(not_walloc());
    }
    let model = WallocModel::from_files(&files, device)?;
    if ncodec::codec::Codec::info(&model).medium != MediaKind::Image {
        return Err(not_walloc());
    }
    let images = training_images(&opts.data, opts.jpeg_downscale.max(1), monitor)?;
    let mut planes = Vec::with_capacity(images.len() * opts.qualities.len());
    for &q in &opts.qualities {
        for img in &images {
            let l = model.image_latents_at(img, q)?;
            planes.push(Planes {
                channels: l.channels,
                height: l.height,
                width: l.width,
                values: l.values,
            });
        }
    }
    monitor.note(&format!(
        "{} images × {} levels: {} latent planes",
        images.len(),
        opts.qualities.len(),
        planes.len()
    ));
    let total = planes.len();
    let start = std::time::Instant::now();
    Ok(latent_learned::fit(
        &planes,
        model.config().latent_dim,
        |pass, n| {
            if n == total {
                monitor.note(&format!(
                    "{pass}: {n} done, {:.0} s",
                    start.elapsed().as_secs_f64()
                ));
            }
        },
    )?)
}
