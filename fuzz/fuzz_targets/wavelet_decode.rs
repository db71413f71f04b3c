//! Decodes arbitrary bytes as the `DWTQ` section of a `dwt97-rgb` file of a small
//! image (size and quality from the first three bytes): must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ncodec::container::{Container, FORMAT_VERSION, Header, MediaInfo, Section};
use ncodec::wavelet_codec::{DWT_ID, QUALITY_LEVELS, WaveletCodec};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let codec = WaveletCodec::new();
    let c = Container {
        header: Header {
            version: FORMAT_VERSION,
            flags: 0,
            model_id: DWT_ID.into(),
            model_digest: codec.digest(),
            quality: data[2] % QUALITY_LEVELS,
            media: MediaInfo::Image {
                width: u32::from(data[0] % 64) + 1,
                height: u32::from(data[1] % 64) + 1,
                channels: 3,
                bit_depth: 8,
            },
        },
        sections: vec![Section {
            tag: *b"DWTQ",
            data: data[3..].to_vec(),
        }],
    };
    let _ = codec.decode_image(&c);
});
