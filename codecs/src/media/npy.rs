//! Writing and reading integer NumPy `.npy` files (format version 1.0), so latents can
//! be loaded with `numpy.load` and fed to PyTorch.

use crate::error::{Error, Result};

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Serialises `values` with `shape` (C order) as `.npy`: `int8` when every value fits,
/// else `int16`, else `int32`.
///
/// # Errors
/// [`Error::InvalidArgument`] if the shape does not match the number of values.
pub fn write_i32(shape: &[usize], values: &[i32]) -> Result<Vec<u8>> {
    if shape.iter().product::<usize>() != values.len() {
        return Err(Error::InvalidArgument(format!(
            "npy: shape {shape:?} does not hold {} values",
            values.len()
        )));
    }
    let (lo, hi) = values
        .iter()
        .fold((0i32, 0i32), |(a, b), &v| (a.min(v), b.max(v)));
    let width = if lo >= i32::from(i8::MIN) && hi <= i32::from(i8::MAX) {
        1
    } else if lo >= i32::from(i16::MIN) && hi <= i32::from(i16::MAX) {
        2
    } else {
        4
    };
    let descr = match width {
        1 => "|i1",
        2 => "<i2",
        _ => "<i4",
    };
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_s = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + values.len() * width);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for &v in values {
        match width {
            1 => out.push(v as i8 as u8),
            2 => out.extend_from_slice(&(v as i16).to_le_bytes()),
            _ => out.extend_from_slice(&v.to_le_bytes()),
        }
    }
    Ok(out)
}

/// Parses an integer `.npy` written by [`write_i32`] (or NumPy: C order, `i1`, `<i2`,
/// `<i4`), returning shape and values.
///
/// # Errors
/// [`Error::InvalidArgument`] for anything else, including truncated data.
pub fn read_i32(bytes: &[u8]) -> Result<(Vec<usize>, Vec<i32>)> {
    let bad = |m: &str| Error::InvalidArgument(format!("npy: {m}"));
    if bytes.len() < 10 || &bytes[..6] != MAGIC || bytes[6] != 1 {
        return Err(bad("not a version 1 .npy file"));
    }
    let hlen = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    let header = bytes
        .get(10..10 + hlen)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("bad header"))?;
    if header.contains("'fortran_order': True") {
        return Err(bad("Fortran order is not supported"));
    }
    let width = if header.contains("'|i1'") {
        1
    } else if header.contains("'<i2'") {
        2
    } else if header.contains("'<i4'") {
        4
    } else {
        return Err(bad("only int8, int16 and int32 arrays are supported"));
    };
    let shape_s = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape"))?;
    let shape: Vec<usize> = shape_s
        .trim()
        .trim_start_matches('(')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad("bad shape")))
        .collect::<Result<_>>()?;
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad("shape overflows"))?;
    let data = &bytes[10 + hlen..];
    if n.checked_mul(width) != Some(data.len()) {
        return Err(bad("data length does not match the shape"));
    }
    let values = data
        .chunks_exact(width)
        .map(|c| match width {
            1 => i32::from(c[0] as i8),
            2 => i32::from(i16::from_le_bytes([c[0], c[1]])),
            _ => i32::from_le_bytes([c[0], c[1], c[2], c[3]]),
        })
        .collect();
    Ok((shape, values))
}
