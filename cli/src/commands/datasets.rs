//! `ncodec datasets`: download or check datasets.

use std::path::PathBuf;

use crate::error::{CliError, Result, ctx};

/// Download or check datasets.
#[derive(Debug, clap::Subcommand)]
pub enum DatasetsCommand {
    /// Download a dataset into a cache folder, verifying every file's SHA-256.
    Fetch {
        /// Dataset name (only `kodak` for now).
        name: String,
        /// Folder to download into (default: ~/.cache/ncodec/kodak).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Check a local copy of a dataset against its checksums.
    Verify {
        /// Dataset name (only `kodak` for now).
        name: String,
        /// Folder holding the files.
        #[arg(long)]
        dir: PathBuf,
    },
}

/// Runs `ncodec datasets`.
///
/// # Errors
/// Unknown datasets, download failures, missing or damaged files.
pub fn run(cmd: DatasetsCommand) -> Result<()> {
    let (name, dir, fetch) = match cmd {
        DatasetsCommand::Fetch { name, dir } => (
            name,
            dir.unwrap_or_else(ncodec_datasets::kodak_cache_dir),
            true,
        ),
        DatasetsCommand::Verify { name, dir } => (name, dir, false),
    };
    if name != "kodak" {
        return Err(CliError::new(
            format!("unknown dataset {name:?}"),
            "the datasets ncodec knows are: kodak",
        ));
    }
    if fetch {
        let n = ncodec_datasets::fetch_kodak(&dir, |f| eprintln!("downloading {f}"))
            .map_err(ctx(format!("cannot fetch kodak into {}", dir.display())))?;
        eprintln!("{n} files downloaded");
    }
    let bad = ncodec_datasets::verify_kodak(&dir)
        .map_err(ctx(format!("cannot check {}", dir.display())))?;
    if !bad.is_empty() {
        return Err(CliError::new(
            format!(
                "{}: {} of 24 Kodak files missing or damaged",
                dir.display(),
                bad.len()
            ),
            bad.join(", "),
        ));
    }
    println!("kodak: 24 files verified in {}", dir.display());
    Ok(())
}
