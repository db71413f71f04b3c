//! Round trips, goldens, and hostile input for the entropy coder.

use ncodec_entropy::{
    CdfTable, CdfTables, DEFAULT_TAIL_MASS, Error, decode, default_scales, encode, gaussian_tables,
    scale_index,
};
use proptest::prelude::*;

fn small_tables() -> CdfTables {
    CdfTables::new(&[
        CdfTable::from_pmf(-2, &[0.1, 0.2, 0.4, 0.2, 0.1]).unwrap(),
        CdfTable::from_frequencies(0, &[30000, 20000, 15535, 1]).unwrap(),
        CdfTable::from_pmf(10, &[1.0]).unwrap(),
    ])
    .unwrap()
}

/// Fixed symbols (including escapes far outside every support) with fixed tables.
fn golden_input() -> (Vec<i32>, Vec<u16>) {
    let symbols = vec![
        0,
        1,
        -2,
        2,
        -1,
        0,
        0,
        3,
        -3,
        100,
        -100_000,
        i32::MAX,
        i32::MIN,
        0,
        1,
        2,
        0,
        0,
        10,
        11,
        9,
        10,
        10,
        -7,
    ];
    let indexes = (0..symbols.len()).map(|i| (i % 3) as u16).collect();
    (symbols, indexes)
}

/// Compares `bytes` with a committed golden file; `NCODEC_BLESS=1` rewrites it.
fn check_golden(name: &str, bytes: &[u8]) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("NCODEC_BLESS").is_some() {
        std::fs::write(&path, bytes).unwrap();
    }
    let want = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with NCODEC_BLESS=1 to create)",
            path.display()
        )
    });
    assert_eq!(bytes, want.as_slice(), "bytes differ from golden {name}");
}

#[test]
fn golden_bytes_small_tables() {
    let t = small_tables();
    let (s, i) = golden_input();
    let bytes = encode(&t, &s, &i, 1).unwrap();
    check_golden("small_tables.ans", &bytes);
    assert_eq!(decode(&t, &bytes, &i).unwrap(), s);
    // Two streams give different bytes but the same symbols.
    let bytes2 = encode(&t, &s, &i, 2).unwrap();
    check_golden("small_tables_2streams.ans", &bytes2);
    assert_eq!(decode(&t, &bytes2, &i).unwrap(), s);
}

#[test]
fn golden_table_blob() {
    let t = gaussian_tables(&default_scales(), DEFAULT_TAIL_MASS).unwrap();
    let blob = t.to_bytes();
    check_golden("gaussian_default.cdf", &blob);
    assert_eq!(CdfTables::from_bytes(&blob).unwrap(), t);
}

#[test]
fn gaussian_tables_are_sensible() {
    let scales = default_scales();
    let t = gaussian_tables(&scales, DEFAULT_TAIL_MASS).unwrap();
    assert_eq!(t.len(), 64);
    // The narrowest table puts nearly all mass on 0; wider tables have wider supports.
    let first = t.get(0).unwrap();
    let zero = (0 - first.offset()) as usize;
    assert!(first.cdf()[zero + 1] - first.cdf()[zero] > 65_000);
    let widths: Vec<usize> = (0..64).map(|i| t.get(i).unwrap().len()).collect();
    assert!(widths.windows(2).all(|w| w[0] <= w[1]));
    // Coding N(0, s) samples costs close to the Gaussian's entropy.
    let mut rng = Lcg(7);
    let idx = 40usize;
    let s = scales[idx];
    let symbols: Vec<i32> = (0..20_000)
        .map(|_| (rng.normal() * s).round() as i32)
        .collect();
    let indexes = vec![idx as u16; symbols.len()];
    let bits = t.estimate_bits(&symbols, &indexes).unwrap();
    let entropy = 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * s * s).log2();
    let per = bits / symbols.len() as f64;
    assert!(
        (per - entropy).abs() < 0.05,
        "{per} bits/sym vs entropy {entropy}"
    );
    let bytes = encode(&t, &symbols, &indexes, 1).unwrap();
    let real = (bytes.len() * 8) as f64;
    assert!(
        real >= bits && real < bits + 128.0,
        "real {real} vs estimate {bits}"
    );
}

#[test]
fn scale_index_rounds_up() {
    let scales: Vec<f32> = default_scales().iter().map(|&s| s as f32).collect();
    assert_eq!(scale_index(&scales, 0.0), 0);
    assert_eq!(scale_index(&scales, scales[0]), 0);
    assert_eq!(scale_index(&scales, scales[5] * 1.0001), 6);
    assert_eq!(scale_index(&scales, 1e9), 63);
}

#[test]
fn every_prefix_is_a_typed_error() {
    let t = small_tables();
    let (s, i) = golden_input();
    for streams in [1, 3] {
        let bytes = encode(&t, &s, &i, streams).unwrap();
        for cut in 0..bytes.len() {
            match decode(&t, &bytes[..cut], &i) {
                Err(Error::Truncated(_) | Error::Corrupt(_)) => {}
                other => panic!("prefix {cut}/{}: {other:?}", bytes.len()),
            }
        }
    }
}

#[test]
fn trailing_bytes_are_corrupt() {
    let t = small_tables();
    let (s, i) = golden_input();
    let mut bytes = encode(&t, &s, &i, 1).unwrap();
    bytes.extend_from_slice(&[1, 2, 3, 4]);
    assert!(matches!(decode(&t, &bytes, &i), Err(Error::Corrupt(_))));
}

#[test]
fn bit_flips_never_panic_and_mostly_detect() {
    let t = gaussian_tables(&default_scales(), DEFAULT_TAIL_MASS).unwrap();
    let mut rng = Lcg(3);
    let n = 2000;
    let indexes: Vec<u16> = (0..n).map(|_| (rng.next() % 64) as u16).collect();
    let symbols: Vec<i32> = (0..n)
        .map(|_| (rng.normal() * 4.0).round() as i32)
        .collect();
    let bytes = encode(&t, &symbols, &indexes, 2).unwrap();
    let mut detected = 0;
    let trials = 200;
    for k in 0..trials {
        let mut b = bytes.clone();
        let bit = (rng.next() as usize) % (b.len() * 8);
        b[bit / 8] ^= 1 << (bit % 8);
        match decode(&t, &b, &indexes) {
            Err(_) => detected += 1,
            Ok(d) => assert_ne!(d.len(), 0, "trial {k}"),
        }
    }
    // The container's CRC is the real guard; the coder's own end check catches most.
    assert!(
        detected > trials * 9 / 10,
        "only {detected}/{trials} flips detected"
    );
}

#[test]
fn bad_arguments_are_rejected() {
    let t = small_tables();
    assert!(matches!(
        encode(&t, &[1, 2], &[0], 1),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        encode(&t, &[1], &[3], 1),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        encode(&t, &[1], &[0], 0),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        encode(&t, &[1], &[0], 2),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        decode(&t, &[0, 0, 0, 0], &[7]),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        decode(&t, &[0xff, 0xff, 0xff, 0xff], &[0]),
        Err(Error::LimitExceeded { .. })
    ));
}

#[test]
fn empty_tensor_round_trips() {
    let t = small_tables();
    let bytes = encode(&t, &[], &[], 1).unwrap();
    assert_eq!(decode(&t, &bytes, &[]).unwrap(), Vec::<i32>::new());
}

#[test]
fn invalid_tables_are_rejected() {
    assert!(CdfTable::from_cdf(0, vec![0, 65536]).is_err()); // no escape entry
    assert!(CdfTable::from_cdf(0, vec![0, 5, 5, 65536]).is_err()); // zero probability
    assert!(CdfTable::from_cdf(0, vec![0, 5, 65535]).is_err()); // wrong total
    assert!(CdfTable::from_frequencies(0, &[65536, 1]).is_err());
    assert!(CdfTable::from_pmf(0, &[]).is_err());
    assert!(CdfTable::from_pmf(0, &[f64::NAN]).is_err());
    assert!(CdfTable::from_pmf(i32::MAX, &[0.5, 0.5]).is_err());
    assert!(CdfTables::new(&[]).is_err());
}

#[test]
fn table_blob_prefixes_and_garbage_are_errors() {
    let blob = small_tables().to_bytes();
    for cut in 0..blob.len() {
        assert!(CdfTables::from_bytes(&blob[..cut]).is_err());
    }
    let mut huge = b"NCDF\x01".to_vec();
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        CdfTables::from_bytes(&huge),
        Err(Error::LimitExceeded { .. })
    ));
}

/// A stream with symbols but no data is refused before decoding, and so is one far too
/// short for its symbols; the encoder never writes such a stream, putting a piece that
/// would code to nothing into one stream with the rest, and refusing symbols that are
/// all their tables' lowest values.
#[test]
fn empty_streams_are_refused() {
    let t = small_tables();
    // One stream of zero words for 1,000 symbols.
    let empty = [1u32.to_le_bytes(), 0u32.to_le_bytes()].concat();
    let idx = vec![0u16; 1000];
    assert!(matches!(decode(&t, &empty, &idx), Err(Error::Truncated(_))));
    // Two words for 100,000 symbols of a table whose likeliest entry has p = 0.4.
    let short = [1u32, 2, 0x1234_5678, 0x9abc_def0]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect::<Vec<u8>>();
    let idx = vec![0u16; 100_000];
    assert!(matches!(decode(&t, &short, &idx), Err(Error::Truncated(_))));
    // Table 2 is `from_pmf(10, [1.0])`: 10 is its lowest value. A piece of only 10s
    // would code to nothing, so the encoder uses one stream for all.
    let symbols = [0, 1, 10, 10];
    let idx = [0, 0, 2, 2];
    let bytes = encode(&t, &symbols, &idx, 2).unwrap();
    assert_eq!(u32::from_le_bytes(bytes[..4].try_into().unwrap()), 1);
    assert_eq!(decode(&t, &bytes, &idx).unwrap(), symbols);
    // `ensure_room` makes the same check from counts, without an index per symbol.
    use ncodec_entropy::ensure_room;
    assert!(ensure_room(&t, &bytes, &[(0, 2), (2, 2)]).is_ok());
    assert!(matches!(
        ensure_room(&t, &short, &[(0, 100_000)]),
        Err(Error::Truncated(_))
    ));
    assert!(matches!(
        ensure_room(&t, &empty, &[(1, 1 << 40)]),
        Err(Error::Truncated(_))
    ));
    assert!(ensure_room(&t, &empty, &[(0, 0)]).is_ok());
    assert!(matches!(
        ensure_room(&t, &bytes, &[(9, 1)]),
        Err(Error::InvalidInput(_))
    ));
    // Only lowest values: nothing to code them in, refused.
    assert!(matches!(
        encode(&t, &[10, 10], &[2, 2], 1),
        Err(Error::InvalidInput(_))
    ));
}

/// A tiny deterministic generator so the tests need no extra crates.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn uniform(&mut self) -> f64 {
        (self.next() as f64 + 0.5) / (1u64 << 31) as f64
    }
    fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * self.uniform()).cos()
    }
}

fn arb_table() -> impl Strategy<Value = CdfTable> {
    (-50i32..50, prop::collection::vec(0.0f64..1.0, 1..40)).prop_map(|(offset, pmf)| {
        let s: f64 = pmf.iter().sum::<f64>() * 1.01 + 1e-9;
        let pmf: Vec<f64> = pmf.iter().map(|p| p / s).collect();
        CdfTable::from_pmf(offset, &pmf).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_symbols_round_trip(
        tables in prop::collection::vec(arb_table(), 1..6),
        data in prop::collection::vec((any::<i32>(), -60i32..60, any::<bool>(), any::<u16>()), 0..300),
        streams in 1usize..5,
    ) {
        let t = CdfTables::new(&tables).unwrap();
        // Mostly small values, some arbitrary ones.
        let symbols: Vec<i32> = data.iter().map(|&(big, small, wide, _)| if wide { big } else { small }).collect();
        let indexes: Vec<u16> = data.iter().map(|d| d.3 % t.len() as u16).collect();
        let streams = streams.min(symbols.len().max(1));
        match encode(&t, &symbols, &indexes, streams) {
            Ok(bytes) => prop_assert_eq!(decode(&t, &bytes, &indexes).unwrap(), symbols),
            // Refused only when every symbol is its table's lowest value (ANS codes those
            // in no data at all; see `empty_streams_are_refused`).
            Err(Error::InvalidInput(_)) => prop_assert!(symbols
                .iter()
                .zip(&indexes)
                .all(|(&v, &i)| v == t.get(usize::from(i)).unwrap().offset())),
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    #[test]
    fn tables_round_trip_through_bytes(tables in prop::collection::vec(arb_table(), 1..6)) {
        let t = CdfTables::new(&tables).unwrap();
        prop_assert_eq!(CdfTables::from_bytes(&t.to_bytes()).unwrap(), t);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), n in 0usize..50) {
        let t = small_tables();
        let indexes: Vec<u16> = (0..n).map(|i| (i % 3) as u16).collect();
        let _ = decode(&t, &bytes, &indexes);
        let _ = CdfTables::from_bytes(&bytes);
    }
}

/// `ensure_stream_room` rests on each adaptive binary decision costing at least
/// `least_decision_bits`: the cheapest stream there is (two million equal decisions, so
/// the model sits at its most confident) still holds that much, and a stream asked for
/// a thousand times more decisions than it can hold is refused.
#[test]
fn binary_streams_hold_at_least_their_least_bits() {
    use ncodec_entropy::{
        AdaptiveBit, BitReader, BitWriter, ensure_stream_room, least_decision_bits,
    };
    let n = 2_000_000u64;
    let mut model = AdaptiveBit::new();
    let mut w = BitWriter::new();
    for _ in 0..n {
        w.adaptive_bit(false, &mut model, (4, 6));
    }
    let data = w.finish();
    let least = n as f64 * least_decision_bits();
    assert!(
        8.0 * data.len() as f64 + 64.0 >= least,
        "{} bytes for {n} decisions, least {least} bits",
        data.len()
    );
    assert!(ensure_stream_room(&data, least).is_ok());
    let mut model = AdaptiveBit::new();
    let mut r = BitReader::new(&data).unwrap();
    for _ in 0..n {
        assert!(!r.adaptive_bit(&mut model, (4, 6)).unwrap());
    }
    r.finish().unwrap();
    assert!(matches!(
        ensure_stream_room(&data, 1000.0 * least),
        Err(Error::Truncated(_))
    ));
    assert!(matches!(
        ensure_stream_room(&[], 1e6 * least_decision_bits()),
        Err(Error::Truncated(_))
    ));
    assert!(ensure_stream_room(&[], 0.0).is_ok());
}
