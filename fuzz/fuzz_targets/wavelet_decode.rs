//! Decodes arbitrary bytes as the `DWTA` or `DWTQ` section of a `dwt97-rgb` or
//! `dwt97s-rgb` file of a small image (size, quality, extension and section from the
//! first three bytes): must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ncodec::codec::Codec;
use ncodec::container::{Container, FORMAT_VERSION, Header, Section};
use ncodec::families::wavelet::{Extension, QUALITY_LEVELS, WaveletCodec};
use ncodec::media::MediaInfo;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let ext = if data[2] & 0x80 == 0 {
        Extension::Periodic
    } else {
        Extension::Symmetric
    };
    let codec = WaveletCodec::classic(ext);
    let c = Container {
        header: Header {
            version: FORMAT_VERSION,
            flags: 0,
            model_id: codec.info().id.clone(),
            model_digest: codec.info().digest,
            quality: data[2] % QUALITY_LEVELS,
            media: MediaInfo::Image {
                width: u32::from(data[0] % 64) + 1,
                height: u32::from(data[1] % 64) + 1,
                channels: 3,
                bit_depth: 8,
            },
        },
        sections: vec![Section {
            tag: if data[2] & 0x40 == 0 {
                *b"DWTA"
            } else {
                *b"DWTQ"
            },
            data: data[3..].to_vec(),
        }],
    };
    let _ = codec.decode_image(&c);
});
