//! Where `serve`'s log lines go: standard output, written in batches.
//!
//! Every request logs a line, and one `write(2)` per line cost the HTTP
//! read about a fiftieth of its CPU. Lines are collected here and written
//! together by a thread that wakes every [`FLUSH_EVERY`], or at once when
//! [`FLUSH_AT`] bytes are waiting. Lines keep their order. What a `kill -9`
//! can take is the last few milliseconds of log lines, never data: the
//! audit log, not standard output, is the record of who read what.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

/// How long a line may wait before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// Waiting bytes that are written without waiting for the thread.
const FLUSH_AT: usize = 64 * 1024;

/// Log lines not yet written to standard output.
pub(crate) struct BatchedStdout {
    pending: Mutex<Vec<u8>>,
}

static OUTPUT: BatchedStdout = BatchedStdout {
    pending: Mutex::new(Vec::new()),
};

impl BatchedStdout {
    /// The process's batched standard output, with its flushing thread
    /// started; the guard writes what is left when dropped.
    pub(crate) fn start() -> std::io::Result<(&'static BatchedStdout, FlushOnDrop)> {
        std::thread::Builder::new()
            .name("log-output".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    OUTPUT.write_out();
                }
            })?;
        Ok((&OUTPUT, FlushOnDrop))
    }

    /// Writes what is waiting. Under the lock, so batches cannot overtake
    /// each other; a failed write (a closed pipe) drops the batch, as
    /// unbuffered logging would have dropped its lines.
    fn write_out(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let _ = drain(&mut pending);
    }
}

/// Writes `pending` to standard output and empties it, written or not.
fn drain(pending: &mut Vec<u8>) -> std::io::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let written = out.write_all(pending).and_then(|()| out.flush());
    pending.clear();
    written
}

impl Write for &BatchedStdout {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.extend_from_slice(line);
        if pending.len() >= FLUSH_AT {
            drain(&mut pending)?;
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.write_out();
        Ok(())
    }
}

/// Writes the waiting log lines when `serve` returns, however it returns.
pub(crate) struct FlushOnDrop;

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        OUTPUT.write_out();
    }
}
