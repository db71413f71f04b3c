//! Decodes arbitrary bytes as `LATL` latent planes with the shipped learned context model
//! of `walloc-rgb-16x-r1` (its id is put in front, so the fuzzer reaches the stream):
//! must never panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ncodec::families::walloc::latent_learned::{LatentContextModel, decode_planes};

fn model() -> &'static LatentContextModel {
    static M: OnceLock<LatentContextModel> = OnceLock::new();
    M.get_or_init(|| {
        LatentContextModel::from_bytes(include_bytes!(
            "../../models/weights/walloc-rgb-16x-r1/context.bin"
        ))
        .expect("the shipped context model parses")
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let m = model();
    let (h, w) = (usize::from(data[0] % 16) + 1, usize::from(data[1] % 16) + 1);
    let mut payload = m.id().to_vec();
    payload.extend_from_slice(&data[2..]);
    let version = if data[0] & 0x80 == 0 { 1 } else { 2 };
    let _ = decode_planes(m, &payload, m.channels(), h, w, 127, version);
});
