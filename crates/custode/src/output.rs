//! What the commands print, and how printing ends.
//!
//! Standard output goes through [`outln!`] and [`out!`], which return the
//! write's error instead of panicking as `println!` does. A reader that
//! stops early (`custode requests list | head -1`) closes the pipe; the
//! command then stops where it is, quietly and with exit status 0, as
//! other Unix tools do ([`is_broken_pipe`]). Progress is drawn only on a
//! terminal ([`progress`]), so scripts read nothing but results.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `println!` that returns `std::io::Result<()>` instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `print!` that returns `std::io::Result<()>` instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        write!(out, $($arg)*).and_then(|()| out.flush())
    }};
}

pub(crate) use {out, outln};

/// Whether an error is standard output's reader having gone away.
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A progress bar over `total` bytes on standard error, drawn only when
/// standard error is a terminal.
pub(crate) fn bytes_bar(total: u64, message: &str) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    on_terminal(ProgressBar::new(total).with_style(style), message)
}

/// A spinner with a message and the time elapsed on standard error, drawn
/// only when standard error is a terminal.
pub(crate) fn spinner(message: &str) -> ProgressBar {
    let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    on_terminal(ProgressBar::new_spinner().with_style(style), message)
}

fn on_terminal(bar: ProgressBar, message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
