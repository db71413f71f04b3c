//! Reading inputs and writing outputs: `-` for standard input and output, limits on what
//! is read, outputs written next to their target and renamed into place so a failure
//! never leaves half a file, and output names derived from the input when `-o` is not
//! given.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{CliError, Result, ctx};

/// True for the path `-` (standard input or output).
pub fn is_std(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads a whole input (`-`: standard input), refusing more than `limit` bytes.
///
/// # Errors
/// I/O errors, or a [`ncodec::Error::LimitExceeded`] for a larger input.
pub fn read_input(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let name = path.display().to_string();
    let mut buf = Vec::new();
    let reader: Box<dyn Read> = if is_std(path) {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).map_err(ctx(format!("cannot open {name}")))?)
    };
    // Read at most limit + 1 bytes so an oversized input is reported, not buffered.
    reader
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(ctx(format!("cannot read {name}")))?;
    if buf.len() as u64 > limit {
        return Err(CliError::new(
            format!("{name} is too large"),
            ncodec::Error::LimitExceeded {
                what: "file size",
                value: buf.len() as u64,
                limit,
            },
        ));
    }
    Ok(buf)
}

/// The first `n` bytes of a file (fewer if it is shorter).
///
/// # Errors
/// I/O errors.
pub fn file_head(path: &Path, n: u64) -> Result<Vec<u8>> {
    let name = path.display().to_string();
    let f = std::fs::File::open(path).map_err(ctx(format!("cannot open {name}")))?;
    let mut head = Vec::new();
    f.take(n)
        .read_to_end(&mut head)
        .map_err(ctx(format!("cannot read {name}")))?;
    Ok(head)
}

/// Where an output is written before it is renamed into place: next to it, `.tmp` added.
pub fn tmp_path(path: &Path) -> PathBuf {
    path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("out")
    ))
}

/// Writes `data` to `path` (`-`: standard output), through a temporary file renamed into
/// place.
///
/// # Errors
/// I/O errors; the temporary file is removed.
pub fn write_output(path: &Path, data: &[u8]) -> Result<()> {
    let name = path.display().to_string();
    if is_std(path) {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(data)
            .and_then(|()| out.flush())
            .map_err(ctx("cannot write to stdout"));
    }
    // Write next to the target and rename, so a failure never leaves half a file.
    let tmp = tmp_path(path);
    std::fs::write(&tmp, data)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            ctx(format!("cannot write {name}"))(e)
        })
}

/// The output of a command: `output` when given (`-o`); else, for an input read from
/// standard input, standard output; else the input's path with `extension`, which must
/// not exist unless `force` (as gzip and zstd do).
///
/// # Errors
/// A [`CliError`] when the derived file exists and `force` is off.
pub fn output_path(
    output: Option<&Path>,
    input: &Path,
    extension: &str,
    force: bool,
) -> Result<PathBuf> {
    if let Some(o) = output {
        return Ok(o.to_path_buf());
    }
    if is_std(input) {
        return Ok(PathBuf::from("-"));
    }
    let derived = input.with_extension(extension);
    if derived.exists() && !force {
        return Err(CliError::new(
            format!("{} already exists", derived.display()),
            "not overwritten: use --force, or name the output with -o",
        ));
    }
    Ok(derived)
}
