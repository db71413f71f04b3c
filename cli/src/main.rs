//! `ncodec`: the command-line front end of the ncodec library.
//!
//! Thin by design: argument parsing and printing live here, everything else in the
//! `ncodec` crate. Errors print their whole cause chain and exit with status 1.

use std::error::Error as _;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ncodec::container::{Limits, MediaInfo};

/// Learned image, audio and video compression.
#[derive(Debug, Parser)]
#[command(name = "ncodec", version, about = "Learned image, audio and video compression", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the header, sections and rate of an .ncx file (`-` reads stdin).
    Info {
        /// The file to inspect.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the trained models this build ships.
    Models {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = format!("error: {e}");
            let mut src = e.source();
            while let Some(s) = src {
                msg.push_str(&format!("\n  caused by: {s}"));
                src = s.source();
            }
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}

/// The CLI's error: a library error with the path or action it concerns.
#[derive(Debug)]
struct CliError {
    context: String,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.context)
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

fn ctx<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    context: impl Into<String>,
) -> impl FnOnce(E) -> CliError {
    let context = context.into();
    move |e| CliError {
        context,
        source: e.into(),
    }
}

fn read_input(path: &PathBuf, limit: u64) -> Result<Vec<u8>, CliError> {
    let name = path.display().to_string();
    let mut buf = Vec::new();
    let reader: Box<dyn Read> = if name == "-" {
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
        return Err(CliError {
            context: format!("{name} is too large"),
            source: Box::new(ncodec::Error::LimitExceeded {
                what: "file size",
                value: buf.len() as u64,
                limit,
            }),
        });
    }
    Ok(buf)
}

fn run(cli: Cli) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    let w = |r: std::io::Result<()>| r.map_err(ctx("cannot write to stdout"));
    match cli.command {
        Command::Info { file, json } => {
            let limits = Limits::default();
            let bytes = read_input(&file, limits.max_file_bytes)?;
            let info = ncodec::info::file_info(&bytes, &limits)
                .map_err(ctx(format!("cannot read {}", file.display())))?;
            if json {
                let s = serde_json::to_string_pretty(&info).map_err(ctx("cannot format JSON"))?;
                w(writeln!(out, "{s}"))?;
            } else {
                w(print_info(&mut out, &file, &info))?;
            }
        }
        Command::Models { json } => {
            let models = ncodec::registry::models();
            if json {
                let s = serde_json::to_string_pretty(&models).map_err(ctx("cannot format JSON"))?;
                w(writeln!(out, "{s}"))?;
            } else if models.is_empty() {
                w(writeln!(
                    out,
                    "no trained models are shipped in this build yet"
                ))?;
            } else {
                w(writeln!(
                    out,
                    "{:<24} {:<6} {:<9} description",
                    "model", "kind", "quality"
                ))?;
                for m in models {
                    let q = format!("{}..={}", m.min_quality, m.max_quality);
                    let star = if m.default { " (default)" } else { "" };
                    w(writeln!(
                        out,
                        "{:<24} {:<6} {:<9} {}{star}",
                        m.id, m.kind, q, m.description
                    ))?;
                }
            }
        }
    }
    Ok(())
}

fn print_info(
    out: &mut impl Write,
    file: &std::path::Path,
    info: &ncodec::info::FileInfo,
) -> std::io::Result<()> {
    let h = &info.header;
    writeln!(out, "file:        {}", file.display())?;
    writeln!(out, "format:      ncx version {}", h.version)?;
    writeln!(out, "media:       {}", h.media.kind())?;
    writeln!(out, "model:       {}", h.model_id)?;
    writeln!(
        out,
        "digest:      {}",
        ncodec::container::hex(&h.model_digest)
    )?;
    writeln!(out, "quality:     {}", h.quality)?;
    match &h.media {
        MediaInfo::Image {
            width,
            height,
            channels,
            bit_depth,
        } => {
            writeln!(
                out,
                "size:        {width}x{height}, {channels} channels, {bit_depth} bit"
            )?;
        }
        MediaInfo::Audio {
            sample_rate,
            channels,
            frames,
            bits_per_sample,
            float,
            model_rate,
        } => {
            let fmt = if *float { "float" } else { "int" };
            writeln!(
                out,
                "audio:       {sample_rate} Hz, {channels} ch, {frames} frames, {bits_per_sample}-bit {fmt} (coded at {model_rate} Hz)"
            )?;
        }
        MediaInfo::Video {
            width,
            height,
            frames,
            fps_num,
            fps_den,
            chroma,
        } => {
            let c = ["4:2:0", "4:2:2", "4:4:4"][usize::from(*chroma).min(2)];
            writeln!(
                out,
                "video:       {width}x{height} {c}, {frames} frames at {fps_num}/{fps_den} fps"
            )?;
        }
    }
    writeln!(out, "bytes:       {}", info.file_bytes)?;
    if let Some(bpp) = info.bits_per_pixel {
        writeln!(out, "bpp:         {bpp:.4}")?;
    }
    if let Some(kbps) = info.kbps {
        writeln!(out, "kbps:        {kbps:.3}")?;
    }
    writeln!(out, "sections:")?;
    for s in &info.sections {
        writeln!(out, "  {:<4} {:>10} bytes", s.tag, s.bytes)?;
    }
    Ok(())
}
