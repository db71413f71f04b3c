//! Images as the codecs see them: 8-bit RGB pixels and the colour layout to give back
//! on decode, with the conversions between those pixels and the `[C, H, W]` float planes
//! the transforms take (the one padding helper and the one cropping helper).

use image::{DynamicImage, RgbImage};

use crate::error::{Error, Result};

/// The channel layout an image had before coding, restored on decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    /// One grey channel (coded as grey RGB).
    Gray,
    /// Red, green, blue.
    #[default]
    Rgb,
    /// RGB with an opaque alpha channel (alpha is not coded; it decodes as 255).
    Rgba,
}

impl Colour {
    /// Channels per pixel: 1, 3 or 4 (the header's `channels` field).
    pub fn channels(self) -> u8 {
        match self {
            Self::Gray => 1,
            Self::Rgb => 3,
            Self::Rgba => 4,
        }
    }

    /// The layout with `channels` channels.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for a count other than 1, 3 or 4.
    pub fn from_channels(channels: u8) -> Result<Self> {
        match channels {
            1 => Ok(Self::Gray),
            3 => Ok(Self::Rgb),
            4 => Ok(Self::Rgba),
            n => Err(Error::Unsupported(format!("{n}-channel images"))),
        }
    }
}

/// An 8-bit image: the RGB pixels the codecs code, and the layout to restore.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// The pixels (grey images as grey RGB).
    pub pixels: RgbImage,
    /// The layout of the original.
    pub colour: Colour,
}

impl Image {
    /// An RGB image.
    pub fn rgb(pixels: RgbImage) -> Self {
        Self {
            pixels,
            colour: Colour::Rgb,
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.pixels.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.pixels.height()
    }

    /// Converts a decoded input image to what the codecs take.
    ///
    /// 8-bit RGB is taken as is, 8-bit grayscale as grey RGB (decoded back to grayscale),
    /// and RGBA/gray-alpha only when fully opaque (decoded with opaque alpha).
    ///
    /// # Errors
    /// [`Error::Unsupported`] for 16-bit or float images and for images with
    /// transparency: the codecs would silently lose that information.
    pub fn from_dynamic(img: &DynamicImage) -> Result<Self> {
        use image::DynamicImage as D;
        let transparent = || {
            Error::Unsupported(
                "images with transparency (alpha < 255) cannot be coded; flatten them first".into(),
            )
        };
        let (pixels, colour) = match img {
            D::ImageRgb8(i) => (i.clone(), Colour::Rgb),
            D::ImageLuma8(_) => (img.to_rgb8(), Colour::Gray),
            D::ImageRgba8(i) if i.pixels().all(|p| p[3] == 255) => (img.to_rgb8(), Colour::Rgba),
            D::ImageLumaA8(i) if i.pixels().all(|p| p[1] == 255) => (img.to_rgb8(), Colour::Gray),
            D::ImageRgba8(_) | D::ImageLumaA8(_) => return Err(transparent()),
            other => {
                return Err(Error::Unsupported(format!(
                    "{:?} images are not supported: ncodec codes 8-bit images; convert to 8-bit first",
                    other.color()
                )));
            }
        };
        Ok(Self { pixels, colour })
    }

    /// The image in its original layout.
    pub fn into_dynamic(self) -> DynamicImage {
        let d = DynamicImage::ImageRgb8(self.pixels);
        match self.colour {
            Colour::Gray => DynamicImage::ImageLuma8(d.to_luma8()),
            Colour::Rgba => DynamicImage::ImageRgba8(d.to_rgba8()),
            Colour::Rgb => d,
        }
    }
}

/// The image as `[3, ph, pw]` planes in `[0, 1]`, padded by repeating the last row and
/// column (cheaper to code than a hard zero border).
///
/// # Panics
/// If the image is empty or larger than `pw × ph`.
pub fn pad_replicate(img: &RgbImage, pw: usize, ph: usize) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let mut out = vec![0f32; 3 * pw * ph];
    for y in 0..ph {
        let sy = y.min(h - 1);
        for x in 0..pw {
            let sx = x.min(w - 1);
            let p = &raw[(sy * w + sx) * 3..(sy * w + sx) * 3 + 3];
            for c in 0..3 {
                out[(c * ph + y) * pw + x] = f32::from(p[c]) / 255.0;
            }
        }
    }
    out
}

/// Crops `[3, ph, pw]` planes to `w × h` and rounds to 8-bit RGB.
pub fn crop_to_rgb8(planes: &[f32], pw: usize, ph: usize, w: usize, h: usize) -> RgbImage {
    let mut raw = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let v = planes[(c * ph + y) * pw + x];
                raw.push((v * 255.0).round().clamp(0.0, 255.0) as u8);
            }
        }
    }
    RgbImage::from_raw(w as u32, h as u32, raw).expect("sized buffer")
}

/// `[3, h, w]` planes of an 8-bit image, centred on zero (`[−½, ½]`).
pub fn centred_planes(img: &RgbImage) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut planes = pad_replicate(img, w, h);
    for v in &mut planes {
        *v -= 0.5;
    }
    planes
}

/// `[3, h, w]` planes centred on zero, rounded to an 8-bit image.
pub fn planes_to_rgb8(planes: &[f32], w: usize, h: usize) -> RgbImage {
    let shifted: Vec<f32> = planes.iter().map(|v| v + 0.5).collect();
    crop_to_rgb8(&shifted, w, h, w, h)
}

/// The centre crop of `img` with sides rounded down to multiples of `multiple` and at
/// most `max` pixels, as `[3, h, w]` planes in `[0, 1]` plus `offset`, with its width and
/// height; `None` if a side would be empty. The validation crops of training.
pub fn centre_crop_planes(
    img: &RgbImage,
    max: u32,
    multiple: u32,
    offset: f32,
) -> Option<(Vec<f32>, usize, usize)> {
    let w = img.width().min(max) / multiple * multiple;
    let h = img.height().min(max) / multiple * multiple;
    if w == 0 || h == 0 {
        return None;
    }
    let crop = image::imageops::crop_imm(img, (img.width() - w) / 2, (img.height() - h) / 2, w, h)
        .to_image();
    let (wu, hu) = (w as usize, h as usize);
    let mut planes = pad_replicate(&crop, wu, hu);
    if offset != 0.0 {
        planes.iter_mut().for_each(|v| *v += offset);
    }
    Some((planes, wu, hu))
}

/// An input image read from a file's bytes ([`read_image`]).
#[derive(Debug, Clone)]
pub struct ReadImage {
    /// The image, upright.
    pub image: Image,
    /// The EXIF orientation that was applied to make it upright (`None`: none was
    /// needed).
    pub rotated: Option<image::metadata::Orientation>,
    /// A JPEG that ends inside its last scan, read because truncation was allowed (its
    /// missing part decodes as grey).
    pub truncated: bool,
}

/// Reads a PNG or JPEG file's bytes as the codecs take them: its size checked against
/// `max_pixels` before any pixel is decoded, its EXIF orientation applied (as browsers
/// show it), and a JPEG whose last scan has no end marker refused as truncated (decoders
/// fill the missing part with grey) unless `allow_truncated`.
///
/// # Errors
/// [`Error::InvalidArgument`] for bytes that do not decode, [`Error::LimitExceeded`]
/// above `max_pixels`, [`Error::Truncated`] for a truncated JPEG, and the layouts
/// [`Image::from_dynamic`] refuses.
pub fn read_image(bytes: &[u8], max_pixels: u64, allow_truncated: bool) -> Result<ReadImage> {
    use image::ImageDecoder as _;
    let bad = |e: image::ImageError| Error::InvalidArgument(format!("not a readable image: {e}"));
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(Error::Io)?;
    let jpeg = reader.format() == Some(image::ImageFormat::Jpeg);
    let mut decoder = reader.into_decoder().map_err(bad)?;
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels > max_pixels {
        return Err(Error::LimitExceeded {
            what: "image pixels",
            value: pixels,
            limit: max_pixels,
        });
    }
    let truncated = jpeg && !jpeg_is_complete(bytes);
    if truncated && !allow_truncated {
        return Err(Error::Truncated(
            "the JPEG ends inside its last scan (no end-of-image marker)".into(),
        ));
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(bad)?;
    let rotated = (orientation != image::metadata::Orientation::NoTransforms).then(|| {
        img.apply_orientation(orientation);
        orientation
    });
    Ok(ReadImage {
        image: Image::from_dynamic(&img)?,
        rotated,
        truncated,
    })
}

/// Whether a JPEG's last scan is followed by its end-of-image marker (`FF D9`). Inside
/// a scan, `FF` is always followed by `00` or a restart marker, so the marker cannot
/// appear there; a file cut inside its last scan lacks it.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_scan {
        Some(s) => bytes[s + 2..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false,
    }
}
