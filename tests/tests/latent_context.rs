//! The context coder of integer latent planes: exact round trips at any size and value,
//! smaller output for predictable planes, typed errors for damaged data.

use ncodec::Error;
use ncodec::container::FORMAT_VERSION;
use ncodec::families::walloc::latent_context::{LatentCoding, decode_planes, encode_planes};

/// Smooth planes (a ramp plus a wave) with some noise, within ±max.
fn planes(c: usize, h: usize, w: usize, max: i32, seed: u64) -> Vec<i32> {
    let mut s = seed;
    let mut noise = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) % 5) as i32 - 2
    };
    (0..c * h * w)
        .map(|k| {
            let (ch, i, j) = (k / (h * w), (k / w) % h, k % w);
            let v = (i as f64 * 0.7 + (j as f64 * 0.3).sin() * 20.0) as i32 * (ch as i32 % 3 - 1);
            (v + noise()).clamp(-max, max)
        })
        .collect()
}

/// [`decode_planes`] of the sign-context coding in a current file.
fn decode(bytes: &[u8], c: usize, h: usize, w: usize, max: i32) -> ncodec::Result<Vec<i32>> {
    decode_planes(
        bytes,
        c,
        h,
        w,
        max,
        LatentCoding::SignContexts,
        FORMAT_VERSION,
    )
}

#[test]
fn round_trips_at_any_size() {
    for (c, h, w) in [(1, 1, 1), (3, 1, 17), (2, 9, 1), (12, 8, 12), (4, 33, 29)] {
        let v = planes(c, h, w, 127, 7);
        let (bytes, est) = encode_planes(&v, c, h, w).unwrap();
        assert!(est >= 0.0);
        assert_eq!(decode(&bytes, c, h, w, 127).unwrap(), v, "{c}×{h}×{w}");
    }
    // Extremes and jumps between them, which go through the tables' escapes.
    let (c, h, w) = (2, 10, 10);
    let v: Vec<i32> = (0..c * h * w)
        .map(|k| if (k * 7919) % 3 == 0 { 32767 } else { -32767 })
        .collect();
    let (bytes, _) = encode_planes(&v, c, h, w).unwrap();
    assert_eq!(decode(&bytes, c, h, w, 32767).unwrap(), v);
    // A decoder with a smaller range refuses them.
    assert!(matches!(
        decode(&bytes, c, h, w, 127),
        Err(Error::Corrupt(_))
    ));
}

#[test]
fn predictable_planes_cost_less_than_shuffled_ones() {
    let (c, h, w) = (4, 48, 64);
    let v = planes(c, h, w, 127, 3);
    let (smooth, _) = encode_planes(&v, c, h, w).unwrap();
    // The same values in a scrambled order: same histogram, no spatial structure.
    let mut shuffled = v.clone();
    for ch in shuffled.chunks_exact_mut(h * w) {
        let n = ch.len();
        for k in 0..n {
            ch.swap(k, (k * 7919 + 13) % n);
        }
    }
    let (noisy, _) = encode_planes(&shuffled, c, h, w).unwrap();
    assert!(
        (smooth.len() as f64) < 0.8 * noisy.len() as f64,
        "smooth {} bytes, shuffled {}",
        smooth.len(),
        noisy.len()
    );
}

#[test]
fn damaged_data_gives_errors() {
    let (c, h, w) = (3, 16, 16);
    let v = planes(c, h, w, 127, 11);
    let (bytes, _) = encode_planes(&v, c, h, w).unwrap();
    assert!(decode(&bytes[..10], c, h, w, 127).is_err());
    assert!(decode(&bytes[..bytes.len() - 4], c, h, w, 127).is_err());
    let mut bad_mode = bytes.clone();
    bad_mode[0] = 9;
    assert!(matches!(
        decode(&bad_mode, c, h, w, 127),
        Err(Error::Corrupt(_))
    ));
    // Flipped bits anywhere: an error or other values, never a panic.
    for k in 0..bytes.len() {
        let mut b = bytes.clone();
        b[k] ^= 0x40;
        let _ = decode(&b, c, h, w, 127);
    }
    assert!(matches!(
        encode_planes(&v[1..], c, h, w),
        Err(Error::InvalidArgument(_))
    ));
}

/// Channels whose noise is strong at the same positions: after the first, the encoder
/// picks the modes whose context includes the earlier channels' residuals (2 or 3),
/// which code them in fewer bits than the neighbours alone would (the estimate of the
/// same channel coded first, where only modes 0 and 1 exist).
#[test]
fn channels_with_shared_texture_use_the_cross_channel_modes() {
    let (c, h, w) = (4, 40, 40);
    let mut s = 5u64;
    let mut rnd = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as i64
    };
    // Each position is quiet (±1 noise) or busy (±20) at random, the same in every
    // channel: the neighbours say nothing about it, the earlier channels do.
    let busy: Vec<bool> = (0..h * w).map(|_| rnd() % 4 == 0).collect();
    let v: Vec<i32> = (0..c * h * w)
        .map(|k| {
            let amp = if busy[k % (h * w)] { 20 } else { 1 };
            (rnd() % (2 * amp + 1) - amp) as i32
        })
        .collect();
    let (bytes, est) = encode_planes(&v, c, h, w).unwrap();
    assert_eq!(decode(&bytes, c, h, w, 127).unwrap(), v);
    let header = 3 + ncodec::families::walloc::latent_context::BUCKETS;
    assert!(bytes[0] <= 1, "the first channel has no earlier ones");
    for ch in 1..c {
        assert!(
            bytes[ch * header] >= 2,
            "channel {ch}: mode {}",
            bytes[ch * header]
        );
    }
    // Each channel alone (no earlier channels) costs more than it does after the others.
    let alone: f64 = v
        .chunks_exact(h * w)
        .map(|p| encode_planes(p, 1, h, w).unwrap().1)
        .sum();
    assert!(
        est < 0.95 * alone,
        "together {est:.0} bits, alone {alone:.0}"
    );
    // Modes beyond 3 are corrupt.
    let mut bad = bytes.clone();
    bad[header] = 4;
    assert!(matches!(decode(&bad, c, h, w, 127), Err(Error::Corrupt(_))));
}
