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

/// True for `-` and for outputs that are not files: a device, FIFO or socket (after
/// following symbolic links), which take a stream in any format.
pub fn is_stream(path: &Path) -> bool {
    is_std(path) || std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// Follows `path` through symbolic links (at most 40) to the path that is written.
fn resolve(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => match std::fs::read_link(&p) {
                Ok(t) if t.is_absolute() => p = t,
                Ok(t) => {
                    p = p.parent().map_or_else(|| t.clone(), |d| d.join(&t));
                }
                Err(_) => break,
            },
            _ => break,
        }
    }
    p
}

/// An output file being written.
///
/// A regular file (or a missing one) is written to a new temporary file beside it
/// (created exclusively, under a name no other file has) and renamed over it by
/// [`OutputFile::commit`], so a failed run leaves the old file as it was; a symbolic link
/// is followed, so the file it points to is replaced and the link stays. A device, FIFO
/// or socket (`/dev/null`, `/dev/stdout`) is written directly and stays what it is.
/// Dropped without `commit`, the temporary file is removed.
#[derive(Debug)]
pub struct OutputFile {
    file: std::fs::File,
    /// The temporary file and the target it is renamed to.
    rename: Option<(PathBuf, PathBuf)>,
}

impl OutputFile {
    /// Opens the output `path` for writing.
    ///
    /// # Errors
    /// A directory at `path`, and I/O errors.
    pub fn create(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let failed = |e: std::io::Error| CliError::new(format!("cannot write {name}"), e);
        let target = resolve(path);
        let existing = match std::fs::metadata(&target) {
            Ok(m) if m.is_dir() => {
                return Err(CliError::new(
                    format!("cannot write {name}"),
                    "it is a directory",
                ));
            }
            Ok(m) if !m.is_file() => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&target)
                    .map_err(failed)?;
                return Ok(Self { file, rename: None });
            }
            Ok(m) => Some(m.permissions()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(failed(e)),
        };
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = target
            .file_name()
            .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
        for n in 0..1000u32 {
            let tmp = dir.join(format!(".{base}.{}.{n}.tmp", std::process::id()));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(file) => {
                    if let Some(perm) = existing {
                        // Keep the mode of the file that is replaced.
                        let _ = file.set_permissions(perm);
                    }
                    return Ok(Self {
                        file,
                        rename: Some((tmp, target)),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(failed(e)),
            }
        }
        Err(CliError::new(
            format!("cannot write {name}"),
            "no free temporary name beside it",
        ))
    }

    /// Whether the output is a regular file (seekable: a WAV header can be rewritten at
    /// the end).
    pub fn is_regular(&self) -> bool {
        self.rename.is_some()
    }

    /// The file to write.
    pub fn file(&mut self) -> &mut std::fs::File {
        &mut self.file
    }

    /// Flushes the output and moves it into place.
    ///
    /// # Errors
    /// I/O errors (the temporary file is then removed).
    pub fn commit(mut self) -> Result<()> {
        self.file.flush().map_err(ctx("cannot write the output"))?;
        if let Some((tmp, target)) = self.rename.take()
            && let Err(e) = std::fs::rename(&tmp, &target)
        {
            let _ = std::fs::remove_file(&tmp);
            return Err(CliError::new(
                format!("cannot write {}", target.display()),
                e,
            ));
        }
        Ok(())
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if let Some((tmp, _)) = &self.rename {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Writes `data` to `path` (`-`: standard output) through an [`OutputFile`].
///
/// # Errors
/// I/O errors; a file that was there stays as it was.
pub fn write_output(path: &Path, data: &[u8]) -> Result<()> {
    if is_std(path) {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(data)
            .and_then(|()| out.flush())
            .map_err(ctx("cannot write to stdout"));
    }
    let mut out = OutputFile::create(path)?;
    out.file()
        .write_all(data)
        .map_err(ctx(format!("cannot write {}", path.display())))?;
    out.commit()
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
