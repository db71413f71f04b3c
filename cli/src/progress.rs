//! Progress of long commands: a bar ([`indicatif`]) with items, rate and time left when
//! standard error is a terminal, plain periodic lines when it is not (logs, CI, pipes).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use ncodec_train::{Monitor, PlainMonitor, StepReport};

/// Whether progress goes to a terminal (then it is drawn as a bar).
pub fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A bar over `total` items counted in `unit`, with the rate and the time left.
fn bar(total: u64, unit: &str) -> ProgressBar {
    let pb = ProgressBar::new(total);
    let template = format!(
        "{{bar:30}} {{pos}}/{{len}} {unit} [{{elapsed_precise}} < {{eta_precise}}, {{per_sec}}] {{msg}}"
    );
    pb.set_style(ProgressStyle::with_template(&template).expect("valid template"));
    pb
}

/// Shows a training run: a bar of steps with the latest loss figures, notes above it.
#[derive(Debug, Default)]
pub struct TrainProgress {
    bar: Option<ProgressBar>,
    plain: Option<PlainMonitor>,
}

impl TrainProgress {
    /// A bar on a terminal, plain lines otherwise.
    pub fn new() -> Self {
        Self {
            bar: None,
            plain: (!on_terminal()).then_some(PlainMonitor),
        }
    }
}

impl Monitor for TrainProgress {
    fn note(&mut self, line: &str) {
        match &self.bar {
            Some(pb) => pb.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn step(&mut self, r: &StepReport<'_>) {
        if let Some(p) = &mut self.plain {
            return p.step(r);
        }
        let pb = self.bar.get_or_insert_with(|| {
            let pb = bar(r.total, "steps");
            pb.set_position(r.start_step);
            pb.reset_eta();
            pb
        });
        pb.set_position(r.step);
        if r.periodic {
            pb.set_message(r.summary.to_string());
        }
        if r.step >= r.total {
            pb.finish();
        }
    }
}

/// Shows an evaluation: a bar of coded images with the latest result, or one line per
/// image.
#[derive(Debug)]
pub struct ItemProgress {
    bar: Option<ProgressBar>,
}

impl ItemProgress {
    /// Progress over `total` items counted in `unit`.
    pub fn new(total: u64, unit: &str) -> Self {
        Self {
            bar: on_terminal().then(|| bar(total, unit)),
        }
    }

    /// `done` of `total` items, and what the last one gave.
    pub fn update(&self, done: u64, total: u64, message: &str) {
        match &self.bar {
            Some(pb) => {
                pb.set_position(done);
                pb.set_message(message.to_string());
            }
            None => eprintln!("{done}/{total} {message}"),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(pb) = &self.bar {
            pb.finish_and_clear();
        }
    }
}

/// Reports the tiles of an encoder's refinement of `name`: a bar on a terminal, a line
/// per tile otherwise.
pub fn refine_tiles(name: String) -> ncodec::codec::Progress {
    let bar: std::sync::Mutex<Option<ProgressBar>> = std::sync::Mutex::new(None);
    let terminal = on_terminal();
    ncodec::codec::Progress::new(move |done, total| {
        if !terminal {
            eprintln!("{name}: refining latents, {done}/{total} tiles done");
            return;
        }
        let mut guard = bar
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let pb = guard.get_or_insert_with(|| {
            let pb = self::bar(total as u64, "tiles");
            pb.set_message(format!("{name}: refining latents"));
            pb
        });
        pb.set_position(done as u64);
        if done == total {
            pb.finish();
        }
    })
}
