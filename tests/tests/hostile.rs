//! Crafted files that promise more than they hold: every family refuses them with a
//! typed error before decoding a symbol or synthesising a pixel.

use ncodec::codec::Codec;
use ncodec::container::{Container, Header, Limits, Section};
use ncodec::registry;
use ncodec_models::burn::prelude::Device;

/// A file of `codec`'s at `w × h` whose sections (named `tags`) hold empty entropy
/// streams (one stream directory entry of zero words) or nothing.
fn hollow(
    codec: &dyn Codec,
    quality: u8,
    (w, h): (u32, u32),
    tags: &[&[u8; 4]],
    stream: bool,
) -> Container {
    let info = codec.info();
    let data = if stream {
        [1u32.to_le_bytes(), 0u32.to_le_bytes()].concat()
    } else {
        Vec::new()
    };
    Container {
        header: Header::image(&info.id, info.digest, quality, w, h, 3),
        sections: tags
            .iter()
            .map(|t| Section {
                tag: **t,
                data: data.clone(),
            })
            .collect(),
    }
}

/// A 121-byte hyperprior file that says 16384 × 16384 (or 768 × 512) with empty `ZHAT`
/// and `YHAT` streams used to run for minutes, or decode to noise: now the entropy
/// decoder refuses the empty stream before any symbol, `h_s` or `g_s` runs.
#[test]
fn empty_hyperprior_streams_are_refused_before_any_work() {
    let codec = registry::load("hp-mean-64-r5-wide", &Device::flex()).unwrap();
    for (w, h) in [(16384, 16384), (1, 1 << 28), (768, 512)] {
        let q = codec.info().default_quality;
        let file = hollow(codec.as_ref(), q, (w, h), &[b"ZHAT", b"YHAT"], true);
        let file = Container::from_bytes(&file.to_bytes().unwrap(), &Limits::default()).unwrap();
        match codec.decode_to_memory(&file) {
            Err(ncodec::Error::Entropy(ncodec::entropy::Error::Truncated(_))) => {}
            other => panic!("{w}x{h}: {other:?}"),
        }
    }
}

/// The same hollow files for every shipped image model, at every quality level, in
/// every section kind its family reads: a typed error, never an image (nor minutes of
/// work: each would be a 268-megapixel decode).
#[test]
fn every_image_model_refuses_hollow_files() {
    for m in registry::models()
        .iter()
        .filter(|m| m.kind == ncodec::media::MediaKind::Image)
    {
        let codec = registry::load(m.id, &Device::flex()).unwrap();
        for tags in [
            &[b"ZHAT", b"YHAT"][..],
            &[b"LATS", b"RESA"][..],
            &[b"LATL", b"RESA"][..],
            &[b"DWTA"][..],
            // The older table-coded sections.
            &[b"DWTQ"][..],
            &[b"LATQ", b"RESQ"][..],
            &[b"LATC"][..],
        ] {
            for (q, stream) in (0..codec.info().levels).flat_map(|q| [(q, true), (q, false)]) {
                let file = hollow(codec.as_ref(), q, (16384, 16384), tags, stream);
                assert!(
                    codec.decode_to_memory(&file).is_err(),
                    "{} q{q} with {tags:?} decoded",
                    m.id
                );
            }
        }
    }
}

/// The stream-length checks never refuse a real file: the cheapest files there are, of
/// flat images (every coefficient zero), decode with every model of a family that has
/// them, and a version-2 file holds at least the least its decisions cost.
#[test]
fn flat_images_still_decode() {
    use ncodec::codec::{EncodeOptions, Input};
    use ncodec::media::image::Image;
    let flat = Image::rgb(image::RgbImage::from_pixel(
        640,
        480,
        image::Rgb([128, 128, 128]),
    ));
    for id in ["dwt97s-rgb", "dwt97-rgb", "walloc-rgb-16x-r1"] {
        let codec = registry::load(id, &Device::flex()).unwrap();
        for q in [0, codec.info().levels - 1] {
            let file = codec
                .encode(Input::Image(&flat), &EncodeOptions::new().quality(q))
                .unwrap();
            let c = Container::from_bytes(&file.bytes, &Limits::default()).unwrap();
            assert_eq!(c.header.version, ncodec::container::FORMAT_VERSION);
            let out = codec.decode_to_memory(&c).unwrap().into_image().unwrap();
            assert_eq!(out.pixels.dimensions(), (640, 480), "{id} q{q}");
        }
    }
}

/// A `DWTQ` section (the wavelet codecs' older table coding) whose planes are all marked
/// empty is a valid file of a flat image in a few dozen bytes, whatever its size: such a
/// section must have a byte per 4096 pixels, so a 16384 × 16384 one is refused before any
/// plane is allocated, while a small one still decodes.
#[test]
fn all_empty_legacy_sections_decode_only_when_small() {
    let codec = registry::load("dwt97s-rgb", &Device::flex()).unwrap();
    let levels = 5u8;
    let mut data = vec![levels];
    for planes in std::iter::once(3).chain(std::iter::repeat_n(9, usize::from(levels))) {
        // No classes, every plane empty.
        let group: Vec<u8> = std::iter::once(0)
            .chain(std::iter::repeat_n(ncodec::context::planes::EMPTY, planes))
            .collect();
        data.extend_from_slice(&(group.len() as u32).to_le_bytes());
        data.extend_from_slice(&group);
    }
    let file = |w, h| {
        let mut c = hollow(codec.as_ref(), 7, (w, h), &[b"DWTQ"], false);
        c.sections[0].data = data.clone();
        c
    };
    match codec.decode_to_memory(&file(16384, 16384)) {
        Err(ncodec::Error::Truncated(e)) => assert!(e.contains("DWTQ"), "{e}"),
        other => panic!("{other:?}"),
    }
    let small = codec
        .decode_to_memory(&file(64, 48))
        .unwrap()
        .into_image()
        .unwrap();
    assert_eq!(small.pixels.dimensions(), (64, 48));
}
