//! Parses arbitrary bytes as an .ncx container: must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ncodec::container::{Container, Limits};

fuzz_target!(|data: &[u8]| {
    let _ = Container::from_bytes(data, &Limits::default());
    let _ = ncodec::info::file_info(data, &Limits::default());
});
