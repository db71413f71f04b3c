//! `ncodec models`: the trained models this build ships.

use std::io::Write;

use crate::error::{Result, ctx};

/// List the trained models this build ships.
#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `ncodec models`.
///
/// # Errors
/// Writing to stdout.
pub fn run(a: ModelsArgs) -> Result<()> {
    let models = ncodec::registry::models();
    let text = if a.json {
        serde_json::to_string_pretty(&models).map_err(ctx("cannot format JSON"))? + "\n"
    } else if models.is_empty() {
        "no trained models are shipped in this build yet\n".to_string()
    } else {
        let mut s = format!(
            "{:<24} {:<6} {:<11} {:<9} description\n",
            "model", "kind", "family", "quality"
        );
        for m in models {
            let q = format!("{}..={}", m.min_quality, m.max_quality);
            let star = if m.default { " (default)" } else { "" };
            s += &format!(
                "{:<24} {:<6} {:<11} {:<9} {}{star}\n",
                m.id, m.kind, m.family, q, m.description
            );
        }
        s
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(ctx("cannot write to stdout"))
}
