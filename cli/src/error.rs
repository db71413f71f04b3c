//! The command line's error: a library error with the path or action it concerns.

/// A failed command: what it was doing (`context`) and why (`source`, whose whole cause
/// chain [`report`] prints).
#[derive(Debug)]
pub struct CliError {
    context: String,
    source: Box<dyn std::error::Error + Send + Sync>,
}

/// Result alias for the commands.
pub type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    /// An error with `context` caused by `source`.
    pub fn new(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            context: context.into(),
            source: source.into(),
        }
    }
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

/// Wraps an error with `context`: `.map_err(ctx("cannot read x"))`.
pub fn ctx<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    context: impl Into<String>,
) -> impl FnOnce(E) -> CliError {
    let context = context.into();
    move |e| CliError::new(context, e)
}

/// `error: …` and one `caused by: …` line per cause, as printed on failure.
pub fn report(e: &dyn std::error::Error) -> String {
    let mut msg = format!("error: {e}");
    let mut src = e.source();
    let mut pixels = false;
    while let Some(s) = src {
        msg.push_str(&format!("\n  caused by: {s}"));
        pixels |= matches!(
            s.downcast_ref::<ncodec::Error>(),
            Some(ncodec::Error::LimitExceeded { what, .. }) if what.contains("pixels")
        );
        src = s.source();
    }
    if pixels {
        msg.push_str("\n  hint: --max-pixels N raises the limit, if the input is to be trusted");
    }
    msg
}
