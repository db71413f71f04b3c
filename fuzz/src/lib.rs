//! What the fuzz targets that decode whole `.ncx` files share: parse the bytes as a
//! container (fuzzing builds skip its CRCs, so a mutated file reaches the decoders), run
//! it through a shipped model, and check that a decode that succeeds gives what the
//! header promised.
#![cfg(feature = "container")]

use std::cell::RefCell;
use std::collections::HashMap;

use ncodec::codec::{Codec, Decoded, LatentSource};
use ncodec::container::{Container, Limits};
use ncodec::media::{MediaInfo, MediaKind};
use ncodec::registry::{self, ModelEntry};

/// Which entry point a target runs.
#[derive(Debug, Clone, Copy)]
pub enum EntryPoint {
    /// [`Codec::decode_to_memory`], what `ncodec decode` runs.
    Decode,
    /// [`Codec::latents`] of a file, what `ncodec latents FILE.ncx` runs.
    Latents,
}

thread_local! {
    /// Models loaded so far (each target process loads each of its models once).
    static CODECS: RefCell<HashMap<&'static str, Box<dyn Codec>>> = RefCell::new(HashMap::new());
}

/// Parses `data` as a file and runs `entry` with a shipped model that `select` accepts:
/// the model the header names if it is one of them, else the first. The header's model
/// id and digest are set to that model's, so that mutations of them do not end every
/// run at the model check (which the container target covers).
///
/// # Panics
/// If a decode succeeds with an image or clip of another size than the header's: a
/// silently wrong output, which the fuzzer reports as a crash.
pub fn run(data: &[u8], select: impl Fn(&ModelEntry) -> bool, entry: EntryPoint) {
    let Ok(mut file) = Container::from_bytes(data, &limits()) else {
        return;
    };
    let models: Vec<ModelEntry> = registry::models().into_iter().filter(select).collect();
    let Some(model) = models
        .iter()
        .find(|m| m.id == file.header.model_id)
        .or(models.first())
    else {
        return;
    };
    CODECS.with_borrow_mut(|codecs| {
        let codec = codecs.entry(model.id).or_insert_with(|| {
            registry::load(model.id, &ncodec::device::default_device())
                .expect("a shipped model loads")
        });
        file.header.model_id = codec.info().id.clone();
        file.header.model_digest = codec.info().digest;
        match entry {
            EntryPoint::Decode => {
                if let Ok(decoded) = codec.decode_to_memory(&file) {
                    check_size(&file.header.media, &decoded);
                }
            }
            EntryPoint::Latents => {
                if let Ok(l) = codec.latents(LatentSource::File(&file)) {
                    assert_eq!(
                        l.values.len(),
                        l.shape.iter().product::<usize>(),
                        "latents of another size than their shape"
                    );
                }
            }
        }
    });
}

/// The limits the targets decode with: `--max-pixels` 2^18. A stream may promise as many
/// decisions as its length can pay for (`entropy::ensure_stream_room`), so a file of a
/// few kilobytes can honestly describe tens of megapixels, whose decode takes seconds:
/// within this limit, any decode that runs past libFuzzer's time or memory limits is a
/// finding. The stream-length bound itself is tested with huge headers by
/// `tests/tests/hostile.rs` and `tests/tests/fuzz_regressions.rs`.
fn limits() -> Limits {
    Limits {
        max_pixels: 1 << 18,
        ..Limits::default()
    }
}

/// Panics unless `decoded` has the size `media` promised.
fn check_size(media: &MediaInfo, decoded: &Decoded) {
    match (media, decoded) {
        (MediaInfo::Image { width, height, .. }, Decoded::Image(img)) => assert_eq!(
            (img.pixels.width(), img.pixels.height()),
            (*width, *height),
            "decoded image of another size than the header's"
        ),
        (
            MediaInfo::Audio {
                frames, channels, ..
            },
            Decoded::Audio(a),
        ) => {
            assert_eq!(a.samples.len(), usize::from(*channels), "channel count");
            assert_eq!(a.frames() as u64, *frames, "decoded clip of another length");
        }
        (m, _) => panic!("a {:?} file decoded to another medium", m.kind()),
    }
}

/// Whether `m` is a shipped model of `family` coding `kind` (any medium for `None`).
pub fn model_of(m: &ModelEntry, family: &str, kind: Option<MediaKind>) -> bool {
    m.family == family && kind.is_none_or(|k| m.kind == k)
}

/// The body of a whole-file target: `fuzz_target!` running [`run`] with `$entry` on the
/// shipped models of family `$family` (a module of `ncodec::families`) that code `$kind`
/// (a [`MediaKind`] variant), or of any medium without `$kind`.
#[macro_export]
macro_rules! whole_file_target {
    (@ $family:ident, $kind:expr, $entry:ident) => {
        libfuzzer_sys::fuzz_target!(|data: &[u8]| {
            $crate::run(
                data,
                |m| $crate::model_of(m, ncodec::families::$family::FAMILY, $kind),
                $crate::EntryPoint::$entry,
            );
        });
    };
    ($family:ident, $kind:ident, $entry:ident) => {
        $crate::whole_file_target!(@ $family, Some(ncodec::media::MediaKind::$kind), $entry);
    };
    ($family:ident, $entry:ident) => {
        $crate::whole_file_target!(@ $family, None, $entry);
    };
}
