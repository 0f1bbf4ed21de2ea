//! Progress bars for long operations (requeuing or purging many dead letters), on stderr, and
//! hidden when stderr is not a terminal so scripts and CI logs stay clean.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar counting to `total` (a spinner with a count when the total is not known), with
/// `message` before it; hidden unless stderr is a terminal.
pub fn bar(total: Option<u64>, message: &'static str) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(total, target).with_message(message);
    let template = match total {
        Some(_) => "{msg} [{bar:40}] {human_pos}/{human_len} ({per_sec}, {eta} left)",
        None => "{spinner} {msg} {human_pos} ({per_sec})",
    };
    // The templates are constants; should one ever fail to parse, the default style is fine.
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// `n` as a bar position.
pub fn units(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
