//! Decodes arbitrary bytes symbol by symbol, each table chosen from the previous symbol
//! (as a context model does): must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ncodec_entropy::{SequentialDecoder, laplace_tables};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let tables = laplace_tables(&[0.3, 1.0, 4.0, 20.0], 1e-4).expect("valid scales");
    let n = usize::from(data[0]) * 16;
    let Ok(mut d) = SequentialDecoder::new(&tables, &data[1..]) else {
        return;
    };
    let mut prev = 0i32;
    for _ in 0..n {
        match d.decode(prev.unsigned_abs().min(3) as u16) {
            Ok(v) => prev = v,
            Err(_) => return,
        }
    }
    let _ = d.finish();
});
