//! Log lines on stderr through `tracing`: levels from `RUST_LOG` (the usual variable),
//! else `LABJ_LOG` (older name), else `warn`; text or JSON lines (`--log-format`).
//! While a progress bar is drawn, log lines are printed above it rather than through it.

use std::io::Write;
use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (timestamp, level, target, fields).
    Json,
}

fn filter() -> EnvFilter {
    for var in ["RUST_LOG", "LABJ_LOG"] {
        if let Ok(v) = std::env::var(var) {
            match EnvFilter::try_new(&v) {
                Ok(f) => return f,
                Err(e) => eprintln!("labj: ignoring {var}={v:?}: {e}"),
            }
        }
    }
    EnvFilter::new("warn")
}

pub fn init(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(StderrAboveBar::default);
    let res = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    if let Err(e) = res {
        eprintln!("labj: logging not set up: {e}");
    }
}

/// Buffers one log line and writes it on drop, suspending the progress bar if one is
/// drawn (so the line is not smeared into it).
#[derive(Default)]
pub struct StderrAboveBar {
    buf: Vec<u8>,
}

impl Write for StderrAboveBar {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for StderrAboveBar {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let buf = std::mem::take(&mut self.buf);
        crate::progress::above_bar(|| {
            let _ = std::io::stderr().write_all(&buf);
        });
    }
}
