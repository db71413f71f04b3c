//! Throughput of the entropy coder in symbols per second (criterion reports Melem/s).
//!
//! Workload: one million latents with log-uniform scales in [0.11, 20], each drawn from
//! its zero-mean Gaussian, coded with the default 64-entry scale table — the shape of a
//! hyperprior's main latents.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ncodec_entropy::{
    DEFAULT_TAIL_MASS, decode, default_scales, encode, gaussian_tables, scale_index,
};
use std::hint::black_box;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        (-2.0 * self.next().ln()).sqrt() * (2.0 * std::f64::consts::PI * self.next()).cos()
    }
}

fn workload(n: usize) -> (Vec<i32>, Vec<u16>) {
    let table: Vec<f32> = default_scales().iter().map(|&s| s as f32).collect();
    let mut rng = Lcg(42);
    let (lo, hi) = (0.11f64.ln(), 20f64.ln());
    let mut symbols = Vec::with_capacity(n);
    let mut indexes = Vec::with_capacity(n);
    for _ in 0..n {
        let s = (lo + (hi - lo) * rng.next()).exp();
        symbols.push((rng.normal() * s).round() as i32);
        indexes.push(scale_index(&table, s as f32));
    }
    (symbols, indexes)
}

fn bench(c: &mut Criterion) {
    let tables = gaussian_tables(&default_scales(), DEFAULT_TAIL_MASS).unwrap();
    let n = 1 << 20;
    let (symbols, indexes) = workload(n);
    let mut g = c.benchmark_group("gaussian_scale_table");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(20);
    for streams in [1usize, 2, 8] {
        let bytes = encode(&tables, &symbols, &indexes, streams).unwrap();
        eprintln!(
            "{streams} stream(s): {} bytes, {:.4} bits/symbol (estimate {:.4})",
            bytes.len(),
            bytes.len() as f64 * 8.0 / n as f64,
            tables.estimate_bits(&symbols, &indexes).unwrap() / n as f64
        );
        g.bench_function(format!("encode/{streams}_streams"), |b| {
            b.iter(|| encode(&tables, black_box(&symbols), &indexes, streams).unwrap())
        });
        g.bench_function(format!("decode/{streams}_streams"), |b| {
            b.iter(|| decode(&tables, black_box(&bytes), &indexes).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
