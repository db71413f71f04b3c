//! Decodes arbitrary bytes with arbitrary *valid* tables: must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ncodec_entropy::{CdfTable, CdfTables, decode};

fuzz_target!(|data: &[u8]| {
    // First bytes describe the tables and the symbol count, the rest is the stream.
    if data.len() < 4 {
        return;
    }
    let n_tables = usize::from(data[0] % 8) + 1;
    let n_symbols = usize::from(u16::from_le_bytes([data[1], data[2]]) % 4096);
    let mut rest = &data[3..];
    let mut tables = Vec::new();
    for t in 0..n_tables {
        let len = rest.first().map_or(2, |&b| usize::from(b % 60) + 1);
        rest = rest.get(1..).unwrap_or(&[]);
        let pmf: Vec<f64> = (0..len)
            .map(|i| f64::from(*rest.get(i).unwrap_or(&1)) + 1.0)
            .collect();
        let sum: f64 = pmf.iter().sum::<f64>() * 1.05;
        let pmf: Vec<f64> = pmf.iter().map(|p| p / sum).collect();
        tables.push(CdfTable::from_pmf(t as i32 * 3 - 10, &pmf).expect("valid pmf"));
    }
    let tables = CdfTables::new(&tables).expect("valid tables");
    let indexes: Vec<u16> = (0..n_symbols).map(|i| (i % n_tables) as u16).collect();
    let _ = decode(&tables, rest, &indexes);
});
