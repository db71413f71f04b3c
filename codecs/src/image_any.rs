//! One front for every image model family, so the CLI, evaluation and registry do not
//! care which transform a model uses.

use image::RgbImage;

use crate::container::{Container, Limits};
use crate::error::Result;
use crate::image_codec::{EncodeStats, ImageModel, RefineProgress, Refinement};
use crate::walloc_codec::WallocModel;
use crate::wavelet_codec::WaveletCodec;

/// A loaded image model of any family.
#[derive(Debug)]
#[non_exhaustive]
pub enum ImageCodec {
    /// Hyperprior family (factorized / scale / mean-scale).
    Hyperprior(Box<ImageModel>),
    /// WaLLoC (wavelet packet + shallow autoencoder).
    Walloc(Box<WallocModel>),
    /// The classic dyadic wavelet codec (no learned weights).
    Wavelet(Box<WaveletCodec>),
}

impl ImageCodec {
    /// The model id written into files.
    pub fn id(&self) -> &str {
        match self {
            Self::Hyperprior(m) => m.id(),
            Self::Walloc(m) => m.id(),
            Self::Wavelet(m) => m.id(),
        }
    }

    /// Number of quality levels (`0..levels`).
    pub fn levels(&self) -> usize {
        match self {
            Self::Hyperprior(m) => m.levels(),
            Self::Walloc(_) => usize::from(crate::walloc_codec::IMAGE_LEVELS),
            Self::Wavelet(_) => usize::from(crate::wavelet_codec::QUALITY_LEVELS),
        }
    }

    /// SHA-256 of the model's files (for the classic codec, of its format's constants).
    pub fn digest(&self) -> [u8; 32] {
        match self {
            Self::Hyperprior(m) => m.digest(),
            Self::Walloc(m) => m.digest(),
            Self::Wavelet(m) => m.digest(),
        }
    }

    /// Makes encoding refine each image's latents (`None` turns it off).
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] for a model other than a (scale or mean-scale)
    /// hyperprior, or a bad step size.
    pub fn set_refinement(&mut self, refine: Option<Refinement>) -> Result<()> {
        match self {
            Self::Hyperprior(m) => m.set_refinement(refine),
            _ if refine.is_none() => Ok(()),
            _ => Err(crate::image_codec::refinement_unsupported(self.id())),
        }
    }

    /// The refinement encoding applies, if any.
    pub fn refinement(&self) -> Option<Refinement> {
        match self {
            Self::Hyperprior(m) => m.refinement(),
            _ => None,
        }
    }

    /// Reports each tile of a refinement done in tiles (hyperprior models; the others do
    /// not refine, and ignore it).
    pub fn set_refine_progress(&mut self, progress: Option<RefineProgress>) {
        if let Self::Hyperprior(m) = self {
            m.set_refine_progress(progress);
        }
    }

    /// Encodes 8-bit RGB at `quality`.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] for an empty image or a quality out of range.
    pub fn encode(&self, img: &RgbImage, quality: u8) -> Result<(Vec<u8>, EncodeStats)> {
        self.encode_with_channels(img, 3, quality)
    }

    /// Encodes, recording `channels` (1, 3 or 4) as the layout to restore on decode.
    ///
    /// # Errors
    /// As [`ImageCodec::encode`].
    pub fn encode_with_channels(
        &self,
        img: &RgbImage,
        channels: u8,
        quality: u8,
    ) -> Result<(Vec<u8>, EncodeStats)> {
        match self {
            Self::Hyperprior(m) => m.encode_with_channels(img, channels, quality),
            Self::Walloc(m) => m.encode_image(img, channels, quality),
            Self::Wavelet(m) => m.encode_image(img, channels, quality),
        }
    }

    /// Decodes a file's bytes.
    ///
    /// # Errors
    /// Container errors, model mismatch, corrupt payloads.
    pub fn decode(&self, bytes: &[u8], limits: &Limits) -> Result<RgbImage> {
        self.decode_container(&Container::from_bytes(bytes, limits)?)
    }

    /// Decodes a parsed container.
    ///
    /// # Errors
    /// As [`ImageCodec::decode`].
    pub fn decode_container(&self, c: &Container) -> Result<RgbImage> {
        match self {
            Self::Hyperprior(m) => m.decode_container(c),
            Self::Walloc(m) => m.decode_image(c),
            Self::Wavelet(m) => m.decode_image(c),
        }
    }
}
