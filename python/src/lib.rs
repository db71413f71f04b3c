//! The native part of the `ncodec` Python package: NumPy arrays in, `.ncx` bytes out, and
//! back, through the codec interface of the `ncodec` crate (`ncodec::codec::Codec`), so
//! every shipped model of any family works the same.
//!
//! Coding runs with the interpreter released (`Python::detach`), so Python threads and
//! data-loader workers code in parallel, on a thread pool of the process's own (a forked
//! worker makes a new one, see `in_pool`). Models are loaded once per pool thread and
//! kept (Burn's modules are not shared between threads). Errors become `ValueError` (bad
//! arrays, files or arguments) or `OSError` (I/O), with the library's message and its
//! causes; nothing panics across the boundary.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use image::{DynamicImage, GrayImage, RgbImage, RgbaImage};
use ncodec::codec::{Codec, Decoded, EncodeOptions, Input, LatentSource};
use ncodec::container::{Container, Limits};
use ncodec::media::MediaKind;
use ncodec::media::audio::{Audio, MemorySource, WavFormat};
use ncodec::media::image::Image;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

/// The threads that code, with the process that made them.
static POOL: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>> = Mutex::new(None);

/// Runs `f` on this process's own thread pool (its models and every parallel loop
/// inside). A process forked from one that has coded (a PyTorch `DataLoader` worker,
/// `multiprocessing`) has none of its parent's threads, and parallel work queued to them
/// would wait forever: each process makes its own pool, and its own models.
fn in_pool<T: Send>(f: impl FnOnce() -> T + Send) -> PyResult<T> {
    let pool = {
        let mut slot = POOL.lock().unwrap_or_else(PoisonError::into_inner);
        let pid = std::process::id();
        match &*slot {
            Some((owner, pool)) if *owner == pid => pool.clone(),
            _ => {
                let pool = rayon::ThreadPoolBuilder::new()
                    .build()
                    .map(Arc::new)
                    .map_err(|e| PyOSError::new_err(format!("cannot start threads: {e}")))?;
                *slot = Some((pid, pool.clone()));
                pool
            }
        }
    };
    Ok(pool.install(f))
}

thread_local! {
    /// Models loaded by this thread (of the pool), by id.
    static CODECS: RefCell<HashMap<String, Box<dyn Codec>>> = RefCell::new(HashMap::new());
}

/// A library error as a Python exception: `OSError` for I/O, `ValueError` otherwise.
fn py_err(e: ncodec::Error) -> PyErr {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    match e {
        ncodec::Error::Io(_) => PyOSError::new_err(msg),
        _ => PyValueError::new_err(msg),
    }
}

/// Runs `f` with the model `id`, loading it in this thread the first time.
fn with_codec<T>(id: &str, f: impl FnOnce(&dyn Codec) -> ncodec::Result<T>) -> ncodec::Result<T> {
    CODECS.with_borrow_mut(|codecs| {
        if !codecs.contains_key(id) {
            let codec = ncodec::registry::load(id, &ncodec::device::default_device())?;
            codecs.insert(id.to_owned(), codec);
        }
        f(codecs[id].as_ref())
    })
}

/// The model to use for `kind`: `model`, else the default one.
fn model_for(model: Option<String>, kind: MediaKind) -> ncodec::Result<String> {
    match model {
        Some(m) => Ok(m),
        None => Ok(ncodec::registry::default_for(kind)?.id.to_string()),
    }
}

/// What a Python array holds, copied out of it (so that coding can run without the
/// interpreter).
enum Media {
    Image(Image),
    Audio(Audio),
}

impl Media {
    fn kind(&self) -> MediaKind {
        match self {
            Self::Image(_) => MediaKind::Image,
            Self::Audio(_) => MediaKind::Audio,
        }
    }

    /// Runs `f` with the media as a codec's input.
    fn with_input<T>(&self, f: impl FnOnce(Input<'_>) -> T) -> T {
        match self {
            Self::Image(img) => f(Input::Image(img)),
            Self::Audio(a) => f(Input::Audio(&mut MemorySource::new(a))),
        }
    }
}

/// Reads an image (`uint8`, `H×W` or `H×W×C` with C = 1, 3 or 4) or, with `sample_rate`,
/// audio (`float32`, `[samples]` or `[channels, samples]`) from `array`.
fn media_of(array: &Bound<'_, PyAny>, sample_rate: Option<u32>) -> PyResult<Media> {
    let dtype = array
        .getattr("dtype")
        .and_then(|d| d.str())
        .map(|s| s.to_string())
        .map_err(|_| PyValueError::new_err("expected a NumPy array"))?;
    if let Some(rate) = sample_rate {
        // float32 in [-1, 1], or int16 as a 16-bit WAV file holds it (then the file is
        // the one `ncodec encode` writes for that WAV file).
        let (shape, flat, bits, float) = if let Ok(a) =
            array.extract::<PyReadonlyArrayDyn<'_, f32>>()
        {
            let flat: Vec<f32> = a.as_array().iter().copied().collect();
            if flat.iter().any(|v| !v.is_finite()) {
                return Err(PyValueError::new_err("audio samples must be finite"));
            }
            (a.shape().to_vec(), flat, 32, true)
        } else if let Ok(a) = array.extract::<PyReadonlyArrayDyn<'_, i16>>() {
            let flat = a
                .as_array()
                .iter()
                .map(|&v| f32::from(v) / 32768.0)
                .collect();
            (a.shape().to_vec(), flat, 16, false)
        } else {
            return Err(PyValueError::new_err(format!(
                "audio must be a float32 (in [-1, 1]) or int16 array of [samples] or [channels, samples], not {dtype}"
            )));
        };
        let (channels, frames) = match shape[..] {
            [n] => (1, n),
            [c, n] => (c, n),
            _ => {
                return Err(PyValueError::new_err(format!(
                    "audio must be [samples] or [channels, samples], not shape {shape:?}"
                )));
            }
        };
        if !(1..=2).contains(&channels) {
            return Err(PyValueError::new_err(format!(
                "{channels} audio channels: ncodec codes mono and stereo"
            )));
        }
        if !ncodec::media::audio::SAMPLE_RATES.contains(&rate) {
            return Err(PyValueError::new_err(format!(
                "sample rate {rate} Hz outside {:?}",
                ncodec::media::audio::SAMPLE_RATES
            )));
        }
        let samples = if frames == 0 {
            vec![Vec::new(); channels]
        } else {
            flat.chunks(frames).map(<[f32]>::to_vec).collect()
        };
        return Ok(Media::Audio(Audio {
            format: WavFormat {
                sample_rate: rate,
                channels: channels as u16,
                bits_per_sample: bits,
                float,
            },
            samples,
        }));
    }
    let a: PyReadonlyArrayDyn<'_, u8> = array.extract().map_err(|_| {
        PyValueError::new_err(format!(
            "images must be uint8 arrays of H×W or H×W×C (C = 1, 3 or 4), not {dtype}; ncodec codes 8-bit images (audio needs sample_rate=)"
        ))
    })?;
    let (h, w, c) = match a.shape() {
        [h, w] => (*h, *w, 1),
        [h, w, c] => (*h, *w, *c),
        s => {
            return Err(PyValueError::new_err(format!(
                "an image must be H×W or H×W×C, not shape {s:?}"
            )));
        }
    };
    let max = Limits::default().max_pixels;
    if (h as u64).saturating_mul(w as u64) > max {
        return Err(PyValueError::new_err(format!(
            "{w}x{h} image: more than {max} pixels"
        )));
    }
    let (w32, h32) = (
        u32::try_from(w).map_err(|_| PyValueError::new_err("image too wide"))?,
        u32::try_from(h).map_err(|_| PyValueError::new_err("image too tall"))?,
    );
    let data: Vec<u8> = a.as_array().iter().copied().collect();
    let wrong = || PyValueError::new_err("image buffer of the wrong size");
    let img = match c {
        1 => DynamicImage::ImageLuma8(GrayImage::from_raw(w32, h32, data).ok_or_else(wrong)?),
        3 => DynamicImage::ImageRgb8(RgbImage::from_raw(w32, h32, data).ok_or_else(wrong)?),
        4 => DynamicImage::ImageRgba8(RgbaImage::from_raw(w32, h32, data).ok_or_else(wrong)?),
        n => {
            return Err(PyValueError::new_err(format!(
                "{n}-channel images: ncodec codes 1, 3 or 4 channels"
            )));
        }
    };
    Ok(Media::Image(Image::from_dynamic(&img).map_err(py_err)?))
}

/// Encodes an image or audio array into the bytes of an `.ncx` file.
///
/// Images are `uint8` arrays of `H×W` (grey) or `H×W×C` (C = 1, 3 or 4; 4 must be
/// opaque); audio is `float32` `[samples]` or `[channels, samples]` in [-1, 1] with its
/// `sample_rate` (or `int16`, as a 16-bit WAV file holds it). `model` is a shipped model
/// id (`models()`), by default the medium's default model; `quality` a level of it, by
/// default its default level.
#[pyfunction]
#[pyo3(signature = (array, model=None, quality=None, sample_rate=None))]
fn encode<'py>(
    py: Python<'py>,
    array: &Bound<'py, PyAny>,
    model: Option<String>,
    quality: Option<u8>,
    sample_rate: Option<u32>,
) -> PyResult<Bound<'py, PyBytes>> {
    let media = media_of(array, sample_rate)?;
    let bytes = py
        .detach(|| {
            in_pool(|| {
                let id = model_for(model, media.kind())?;
                let mut options = EncodeOptions::new();
                options.quality = quality;
                with_codec(&id, |codec| media.with_input(|i| codec.encode(i, &options)))
            })
        })?
        .map_err(py_err)?
        .bytes;
    Ok(PyBytes::new(py, &bytes))
}

/// Decodes the bytes of an `.ncx` file: an image as a `uint8` array (`H×W` for grey,
/// `H×W×3`, `H×W×4` for files of RGBA images), audio as a tuple of a `float32` array
/// `[channels, samples]` and its sample rate.
#[pyfunction]
fn decode<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let data = data.to_vec();
    let decoded = py
        .detach(|| {
            in_pool(|| {
                let file = Container::from_bytes(&data, &Limits::default())?;
                let id = file.header.model_id.clone();
                with_codec(&id, |codec| codec.decode_to_memory(&file))
            })
        })?
        .map_err(py_err)?;
    match decoded {
        Decoded::Image(img) => {
            let d = img.into_dynamic();
            let (w, h) = (d.width() as usize, d.height() as usize);
            let (c, raw) = match d {
                DynamicImage::ImageLuma8(i) => (1, i.into_raw()),
                DynamicImage::ImageRgba8(i) => (4, i.into_raw()),
                other => (3, other.into_rgb8().into_raw()),
            };
            let flat = PyArray1::from_vec(py, raw);
            let shaped = if c == 1 {
                flat.reshape([h, w])?.into_any()
            } else {
                flat.reshape([h, w, c])?.into_any()
            };
            Ok(shaped)
        }
        Decoded::Audio(a) => {
            let (channels, frames) = (a.samples.len(), a.frames());
            let flat: Vec<f32> = a.samples.into_iter().flatten().collect();
            let arr = PyArray1::from_vec(py, flat).reshape([channels, frames])?;
            Ok(PyTuple::new(
                py,
                [
                    arr.into_any(),
                    a.format.sample_rate.into_pyobject(py)?.into_any(),
                ],
            )?
            .into_any())
        }
        _ => Err(PyValueError::new_err(
            "the file decoded to nothing ncodec can return",
        )),
    }
}

/// The header, sections and rate of the bytes of an `.ncx` file, as `ncodec info --json`
/// gives them.
#[pyfunction]
fn info(py: Python<'_>, data: &[u8]) -> PyResult<Py<PyAny>> {
    let info = ncodec::info::file_info(data, &Limits::default()).map_err(py_err)?;
    from_json(
        py,
        &serde_json::to_string(&info).expect("file info serialises"),
    )
}

/// The shipped models, as `ncodec models --json` lists them.
#[pyfunction]
fn models(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let list = ncodec::registry::models();
    from_json(py, &serde_json::to_string(&list).expect("models serialise"))
}

/// The integer latents of an array (encoded with `model` at `quality`, as `encode` takes
/// it) or of the bytes of an `.ncx` file (read from its payload, without synthesis), as
/// an `int32` array (`[channels, height, width]` for images).
#[pyfunction]
#[pyo3(signature = (source, model=None, quality=None, sample_rate=None))]
fn latents<'py>(
    py: Python<'py>,
    source: &Bound<'py, PyAny>,
    model: Option<String>,
    quality: Option<u8>,
    sample_rate: Option<u32>,
) -> PyResult<Bound<'py, PyAny>> {
    let l = if let Ok(data) = source.extract::<&[u8]>() {
        let data = data.to_vec();
        py.detach(|| {
            in_pool(|| {
                let file = Container::from_bytes(&data, &Limits::default())?;
                let id = model.unwrap_or_else(|| file.header.model_id.clone());
                with_codec(&id, |codec| codec.latents(LatentSource::File(&file)))
            })
        })?
    } else {
        let media = media_of(source, sample_rate)?;
        py.detach(|| {
            in_pool(|| {
                let id = model_for(model, media.kind())?;
                with_codec(&id, |codec| {
                    media.with_input(|i| codec.latents(LatentSource::Input(i, quality)))
                })
            })
        })?
    }
    .map_err(py_err)?;
    Ok(PyArray1::from_vec(py, l.values)
        .reshape(l.shape)?
        .into_any())
}

/// Python's `json.loads` of `text`.
fn from_json(py: Python<'_>, text: &str) -> PyResult<Py<PyAny>> {
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}

/// The module `ncodec._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(encode, m)?)?;
    m.add_function(wrap_pyfunction!(decode, m)?)?;
    m.add_function(wrap_pyfunction!(info, m)?)?;
    m.add_function(wrap_pyfunction!(models, m)?)?;
    m.add_function(wrap_pyfunction!(latents, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
