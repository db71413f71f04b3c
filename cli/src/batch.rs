//! Folders in one command: `ncodec encode DIR -o OUTDIR` and `ncodec decode DIR -o OUTDIR`.
//!
//! The files under a folder (recursively; hidden ones and symbolic links to folders left
//! out) whose first bytes the command takes are coded in parallel (`--jobs`), each to the
//! same relative path under the output folder. Outputs are written beside their target
//! and renamed into place ([`crate::io::OutputFile`]), so a killed run never leaves a
//! truncated file, and a rerun skips the outputs that are already complete: that is how
//! a batch resumes. `--shard K/N` takes the files whose relative path hashes to `K`
//! modulo `N`, so that `N` runs, on as many machines, together cover every file exactly
//! once. A JSON-lines manifest gets one line per file, as it is done. A file that fails
//! does not stop the others: failures are listed at the end, and the command then exits
//! with an error.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{CliError, Result, ctx, report};

/// How a folder input is split and run.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BatchArgs {
    /// With a folder input: worker threads, which code that many files at a time and
    /// share each file's parallel work (default: one per CPU).
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// With a folder input: only the files of shard K of N (0 ≤ K < N), chosen by a hash
    /// of their path in the folder, so that N runs together code every file exactly once.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// With a folder input: the JSON-lines manifest, one line per file (default:
    /// `manifest.jsonl`, or `manifest.K-of-N.jsonl` with --shard, in the output folder).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

impl BatchArgs {
    /// Refuses the folder options for an input that is not a folder.
    ///
    /// # Errors
    /// A [`CliError`] naming them when one is given.
    pub fn refuse(&self) -> Result<()> {
        if self.jobs.is_some() || self.shard.is_some() || self.manifest.is_some() {
            return Err(CliError::new(
                "--jobs, --shard and --manifest are for a folder input",
                "the input is a single file",
            ));
        }
        Ok(())
    }
}

/// One of `count` parts of a folder's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which part, `0..count`.
    pub index: u64,
    /// How many parts.
    pub count: u64,
}

impl Shard {
    /// Whether the file at `rel` (relative to the folder) belongs to this shard.
    pub fn holds(&self, rel: &Path) -> bool {
        path_hash(rel) % self.count == self.index
    }
}

/// Parses `K/N` with `0 ≤ K < N`.
fn parse_shard(s: &str) -> std::result::Result<Shard, String> {
    let bad = || format!("{s:?}: expected K/N with 0 ≤ K < N, e.g. 0/4");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (index, count): (u64, u64) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if index >= count {
        return Err(bad());
    }
    Ok(Shard { index, count })
}

/// FNV-1a (64 bits) of a relative path's components joined by `/`: the same on every
/// machine and operating system, so that shards agree wherever they run.
pub fn path_hash(rel: &Path) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in rel.components().enumerate() {
        let sep = if i == 0 { &[][..] } else { &b"/"[..] };
        for &b in sep
            .iter()
            .chain(part.as_os_str().to_string_lossy().as_bytes())
        {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// A file of a batch.
#[derive(Debug, Clone)]
pub struct Job {
    /// Its path.
    pub input: PathBuf,
    /// Its path relative to the folder.
    pub rel: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The files under `root` whose first 12 bytes `accept` takes, sorted by relative path.
/// Hidden files and folders (`.name`, such as the temporary files of a running batch),
/// symbolic links to folders and the folder `exclude` (an output folder inside `root`)
/// are left out.
///
/// # Errors
/// A folder or file that cannot be read.
pub fn find(root: &Path, exclude: &Path, accept: impl Fn(&[u8]) -> bool) -> Result<Vec<Job>> {
    let exclude = std::fs::canonicalize(exclude).ok();
    let mut jobs = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(rel_dir) = dirs.pop() {
        let dir = root.join(&rel_dir);
        if exclude.is_some()
            && std::fs::canonicalize(&dir).ok() == exclude
            && rel_dir != Path::new("")
        {
            continue;
        }
        let entries =
            std::fs::read_dir(&dir).map_err(ctx(format!("cannot read {}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(ctx(format!("cannot read {}", dir.display())))?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let rel = rel_dir.join(&name);
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(ctx(format!("cannot read {}", path.display())))?;
            if kind.is_dir() {
                dirs.push(rel);
                continue;
            }
            // A link to a file counts; a link to a folder is not followed.
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            if accept(&crate::io::file_head(&path, 12)?) {
                jobs.push(Job {
                    input: path,
                    rel,
                    bytes: meta.len(),
                });
            }
        }
    }
    jobs.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(jobs)
}

/// The output folder and the files of a folder input `root`: `output` (`-o`) or `root`
/// itself, and the files under `root` that `accept` takes (see [`find`]), only those of
/// `args.shard` when given.
///
/// # Errors
/// An output that is standard output or a file, and the errors of [`find`].
pub fn plan(
    root: &Path,
    output: Option<&Path>,
    args: &BatchArgs,
    accept: impl Fn(&[u8]) -> bool,
) -> Result<(PathBuf, Vec<Job>)> {
    let out_root = output.unwrap_or(root).to_path_buf();
    if crate::io::is_std(&out_root) || out_root.is_file() {
        return Err(CliError::new(
            format!(
                "cannot write the files of {} to {}",
                root.display(),
                out_root.display()
            ),
            "a folder input needs an output folder (-o DIR)",
        ));
    }
    let mut jobs = find(root, &out_root, accept)?;
    if let Some(s) = args.shard {
        jobs.retain(|j| s.holds(&j.rel));
    }
    Ok((out_root, jobs))
}

/// What coding one file gave.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Where it went.
    pub output: PathBuf,
    /// Whether the output was already there, complete (a resumed batch).
    pub skipped: bool,
    /// Bytes of the `.ncx` file.
    pub ncx_bytes: u64,
    /// Bits per pixel, for an image.
    pub bpp: Option<f64>,
    /// kbit/s, for audio.
    pub kbit_s: Option<f64>,
    /// The model.
    pub model: String,
    /// The quality level.
    pub quality: u8,
}

/// One line of the manifest.
#[derive(Debug, Serialize)]
struct Record<'a> {
    input: String,
    output: Option<String>,
    /// `done`, `skipped` (already complete) or `failed`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ncx_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bpp: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kbit_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quality: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Counts of a batch so far.
#[derive(Debug, Default)]
struct Tally {
    done: usize,
    skipped: usize,
    failed: Vec<(PathBuf, String)>,
    bytes: u64,
}

/// Runs `work` on every job, `args.jobs` at a time (each worker with its own state from
/// `init`, e.g. its loaded models), with a progress bar (plain lines when standard error
/// is not a terminal) and the manifest, then prints a summary. `verb` says what is done
/// (`encoded`).
///
/// # Errors
/// An unwritable manifest or output folder, and, after every job has run, a
/// [`CliError`] counting the files that failed.
pub fn run<S>(
    jobs: &[Job],
    args: &BatchArgs,
    out_root: &Path,
    verb: &str,
    init: impl Fn() -> S + Sync + Send,
    work: impl Fn(&mut S, &Job) -> Result<Outcome> + Sync + Send,
) -> Result<()> {
    std::fs::create_dir_all(out_root)
        .map_err(ctx(format!("cannot create {}", out_root.display())))?;
    let manifest_path = args.manifest.clone().unwrap_or_else(|| {
        out_root.join(match args.shard {
            Some(s) => format!("manifest.{}-of-{}.jsonl", s.index, s.count),
            None => "manifest.jsonl".into(),
        })
    });
    let manifest = std::fs::File::create(&manifest_path)
        .map_err(ctx(format!("cannot write {}", manifest_path.display())))?;
    let manifest = Mutex::new(std::io::BufWriter::new(manifest));
    let threads = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(ctx("cannot start the workers"))?;
    let total_bytes: u64 = jobs.iter().map(|j| j.bytes).sum();
    let bar = crate::progress::on_terminal().then(|| {
        let pb = ProgressBar::new(total_bytes);
        pb.set_style(
            ProgressStyle::with_template(
                "{bar:30} {msg} [{elapsed_precise} < {eta_precise}, {binary_bytes_per_sec}]",
            )
            .expect("valid template"),
        );
        pb
    });
    let tally = Mutex::new(Tally::default());
    let start = Instant::now();
    let n = jobs.len();
    pool.install(|| {
        jobs.par_iter().for_each_init(&init, |state, job| {
            let result = work(state, job);
            let input = job.input.display().to_string();
            let record = match &result {
                Ok(o) => Record {
                    input,
                    output: Some(o.output.display().to_string()),
                    status: if o.skipped { "skipped" } else { "done" },
                    ncx_bytes: Some(o.ncx_bytes),
                    bpp: o.bpp,
                    kbit_s: o.kbit_s,
                    model: Some(&o.model),
                    quality: Some(o.quality),
                    error: None,
                },
                Err(e) => Record {
                    input,
                    output: None,
                    status: "failed",
                    ncx_bytes: None,
                    bpp: None,
                    kbit_s: None,
                    model: None,
                    quality: None,
                    error: Some(one_line(e)),
                },
            };
            let line = serde_json::to_string(&record).expect("a record serialises");
            let mut t = tally
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            t.bytes += job.bytes;
            match &result {
                Ok(o) if o.skipped => t.skipped += 1,
                Ok(_) => t.done += 1,
                Err(e) => t.failed.push((job.rel.clone(), one_line(e))),
            }
            let count = t.done + t.skipped + t.failed.len();
            {
                let mut m = manifest
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                // A manifest that cannot be written is reported at the end (flush).
                let _ = writeln!(m, "{line}").and_then(|()| m.flush());
            }
            let secs = start.elapsed().as_secs_f64().max(1e-9);
            match &bar {
                Some(pb) => {
                    pb.set_position(t.bytes);
                    pb.set_message(format!(
                        "{count}/{n} files, {:.1} files/s",
                        count as f64 / secs
                    ));
                }
                None => eprintln!(
                    "[{count}/{n}] {}: {}",
                    job.rel.display(),
                    match &result {
                        Ok(o) => describe(o, verb),
                        Err(e) => format!("failed: {}", one_line(e)),
                    }
                ),
            }
        });
    });
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    manifest
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .flush()
        .map_err(ctx(format!("cannot write {}", manifest_path.display())))?;
    let t = tally
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{n} files: {} {verb}, {} already there, {} failed in {secs:.1} s ({:.2} files/s, {:.2} MB/s of input); manifest {}",
        t.done,
        t.skipped,
        t.failed.len(),
        n as f64 / secs.max(1e-9),
        t.bytes as f64 / 1e6 / secs.max(1e-9),
        manifest_path.display()
    );
    if t.failed.is_empty() {
        return Ok(());
    }
    let mut failed = t.failed;
    failed.sort();
    for (rel, e) in &failed {
        eprintln!("failed: {}: {e}", rel.display());
    }
    Err(CliError::new(
        format!("{} of {n} files failed", failed.len()),
        "each is listed above and in the manifest",
    ))
}

/// A file's outcome in a few words.
fn describe(o: &Outcome, verb: &str) -> String {
    let rate = match (o.bpp, o.kbit_s) {
        (Some(b), _) => format!(", {b:.4} bpp"),
        (_, Some(k)) => format!(", {k:.2} kbit/s"),
        _ => String::new(),
    };
    format!(
        "{} -> {} ({} bytes{rate}, {} q{})",
        if o.skipped { "already there" } else { verb },
        o.output.display(),
        o.ncx_bytes,
        o.model,
        o.quality
    )
}

/// An error and its causes on one line.
fn one_line(e: &CliError) -> String {
    report(e)
        .trim_start_matches("error: ")
        .replace("\n  caused by: ", ": ")
        .replace("\n  hint: ", "; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_paths_without_overlap_or_gaps() {
        let paths: Vec<PathBuf> = (0..500)
            .map(|i| PathBuf::from(format!("set{}/img{i}.png", i % 7)))
            .collect();
        let shards: Vec<Shard> = (0..4).map(|index| Shard { index, count: 4 }).collect();
        for p in &paths {
            assert_eq!(shards.iter().filter(|s| s.holds(p)).count(), 1, "{p:?}");
        }
        // Every shard gets a fair part.
        for s in &shards {
            let n = paths.iter().filter(|p| s.holds(p)).count();
            assert!((80..=170).contains(&n), "shard {s:?}: {n}");
        }
    }

    #[test]
    fn the_hash_is_fnv1a_of_the_slash_joined_path() {
        // FNV-1a 64 of "a/b" computed by its definition.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in *b"a/b" {
            h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
        }
        assert_eq!(path_hash(&Path::new("a").join("b")), h);
        assert_ne!(path_hash(Path::new("ab")), h);
    }

    #[test]
    fn shard_arguments_are_checked() {
        assert_eq!(parse_shard("1/3"), Ok(Shard { index: 1, count: 3 }));
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }
}
