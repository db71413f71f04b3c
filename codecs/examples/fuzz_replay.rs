//! Replays files the fuzzer found (fuzz/artifacts, fuzz/regressions) in an ordinary
//! build: their CRCs are recomputed (fuzzing builds skip the checks), the model is chosen
//! as the fuzz targets choose it, and the outcome and time of the decode are printed.
//!
//! ```text
//! cargo run --release -p ncodec --example fuzz_replay -- FAMILY FILE...
//! ```

use std::time::Instant;

use ncodec::container::{Container, Limits};
use ncodec::registry;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [family, files @ ..] = args.as_slice() else {
        return Err("usage: fuzz_replay FAMILY FILE...".into());
    };
    let limits = Limits::default();
    for path in files {
        let raw = std::fs::read(path)?;
        let mut file = match Container::with_fixed_crcs(&raw, &limits)
            .and_then(|b| Container::from_bytes(&b, &limits))
        {
            Ok(f) => f,
            Err(e) => {
                println!("{path}: not a container: {e}");
                continue;
            }
        };
        let models: Vec<_> = registry::models()
            .into_iter()
            .filter(|m| m.family == family && m.kind == file.header.media.kind())
            .collect();
        let Some(m) = models
            .iter()
            .find(|m| m.id == file.header.model_id)
            .or(models.first())
        else {
            println!(
                "{path}: no {family} model for {:?}",
                file.header.media.kind()
            );
            continue;
        };
        let codec = registry::load(m.id, &ncodec::device::default_device())?;
        file.header.model_id = codec.info().id.clone();
        file.header.model_digest = codec.info().digest;
        println!(
            "{path}: {} q{} {}",
            m.id, file.header.quality, file.header.media
        );
        for s in &file.sections {
            println!(
                "  section {} {} bytes",
                ncodec::container::tag_name(&s.tag),
                s.data.len()
            );
        }
        let t = Instant::now();
        let r = codec.decode_to_memory(&file);
        println!(
            "  {:.3} s: {:?}",
            t.elapsed().as_secs_f64(),
            r.map(|_| "decoded")
        );
    }
    Ok(())
}
