//! `ncodec info`: the header, sections and rate of an `.ncx` file, without decoding.

use std::io::Write;
use std::path::{Path, PathBuf};

use ncodec::info::FileInfo;

use crate::args::LimitArgs;
use crate::error::{Result, ctx};
use crate::io::read_input;

/// Show the header, sections and rate of an .ncx file (`-` reads stdin).
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// The file to inspect.
    pub file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Size limits.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Runs `ncodec info`.
///
/// # Errors
/// Unreadable or damaged files.
pub fn run(a: InfoArgs) -> Result<()> {
    let limits = a.limits.limits();
    let bytes = read_input(&a.file, limits.max_file_bytes)?;
    let info = ncodec::info::file_info(&bytes, &limits)
        .map_err(ctx(format!("cannot read {}", a.file.display())))?;
    let mut out = std::io::stdout().lock();
    let text = if a.json {
        serde_json::to_string_pretty(&info).map_err(ctx("cannot format JSON"))? + "\n"
    } else {
        describe(&a.file, &info)
    };
    out.write_all(text.as_bytes())
        .map_err(ctx("cannot write to stdout"))
}

/// The text `ncodec info` prints.
fn describe(file: &Path, info: &FileInfo) -> String {
    let h = &info.header;
    let mut s = format!("file:        {}\n", file.display());
    s += &format!("format:      ncx version {}\n", h.version);
    s += &format!("media:       {}\n", h.media.kind());
    s += &format!("model:       {}\n", h.model_id);
    s += &format!("digest:      {}\n", ncodec::container::hex(&h.model_digest));
    let note = info
        .quality_note
        .as_ref()
        .map_or(String::new(), |n| format!(" ({n})"));
    s += &format!("quality:     {}{note}\n", h.quality);
    let label = match h.media.kind() {
        ncodec::media::MediaKind::Image => "size:  ",
        ncodec::media::MediaKind::Audio => "audio: ",
        ncodec::media::MediaKind::Video => "video: ",
    };
    s += &format!("{label}      {}\n", h.media);
    s += &format!("bytes:       {}\n", info.file_bytes);
    if let Some(bpp) = info.bits_per_pixel {
        s += &format!("bpp:         {bpp:.4}\n");
    }
    if let Some(kbps) = info.kbps {
        s += &format!("kbps:        {kbps:.3}\n");
    }
    s += "sections:\n";
    for sec in &info.sections {
        s += &format!("  {:<4} {:>10} bytes\n", sec.tag, sec.bytes);
    }
    s
}
