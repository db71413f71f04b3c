//! Decodes arbitrary bytes as context-coded WaLLoC latent planes, in either coding (the
//! first byte's top bit picks it) and either container version (the second's): must
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ncodec::families::walloc::latent_context::{LatentCoding, decode_planes};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (c, h, w) = (
        usize::from(data[0] % 4) + 1,
        usize::from(data[1] % 16) + 1,
        usize::from(data[2] % 16) + 1,
    );
    let coding = if data[0] & 0x80 == 0 {
        LatentCoding::SignContexts
    } else {
        LatentCoding::Tables
    };
    let version = if data[1] & 0x80 == 0 { 1 } else { 2 };
    let _ = decode_planes(&data[3..], c, h, w, 127, coding, version);
});
