//! Showing a running sync's [`SyncProgress`]: one bar per target on a terminal (log lines
//! are printed above the bars, not through them), a periodic `progress` log line per target
//! otherwise (files, journald, CI logs, JSON logs).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::sync::{ProgressState, SyncProgress};

/// The bars being drawn, if any: log lines are written around them.
static BARS: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// The writer `tracing` uses: stderr, but with the bars moved out of the way while a line
/// is written.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bars = BARS.lock().ok().and_then(|b| b.clone());
        match bars {
            Some(bars) => bars.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// How a running sync is shown.
pub enum Display {
    /// Bars on a terminal, redrawn a few times a second.
    Bars,
    /// A log line per target every `every`.
    LogLines { every: Duration },
}

/// Shows `progress` until the returned handle is stopped.
pub fn show(progress: Arc<SyncProgress>, display: Display) -> ProgressHandle {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        match display {
            Display::Bars => {
                let mut bars = Bars::new();
                loop {
                    bars.draw(&progress.snapshot());
                    tokio::select! {
                        _ = &mut stopped => break,
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    }
                }
                bars.finish(&progress.snapshot());
            }
            Display::LogLines { every } => loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tokio::time::sleep(every) => log_lines(&progress.snapshot()),
                }
            },
        }
    });
    ProgressHandle { stop, task }
}

/// A display that is running.
pub struct ProgressHandle {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl ProgressHandle {
    /// Draws the final state and stops.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

fn log_lines(state: &ProgressState) {
    tracing::info!(phase = %state.phase, source_lines = state.source_lines, "progress");
    for (name, t) in &state.targets {
        tracing::info!(
            target_name = name,
            read = t.read,
            unchanged = t.unchanged,
            uploaded = t.uploaded,
            succeeded = t.succeeded,
            failed = t.failed,
            "progress"
        );
    }
}

struct Bars {
    multi: MultiProgress,
    header: ProgressBar,
    targets: BTreeMap<&'static str, ProgressBar>,
}

impl Bars {
    fn new() -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(5));
        let header = multi.add(ProgressBar::new_spinner());
        header.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        if let Ok(mut bars) = BARS.lock() {
            *bars = Some(multi.clone());
        }
        Bars {
            multi,
            header,
            targets: BTreeMap::new(),
        }
    }

    fn draw(&mut self, state: &ProgressState) {
        self.header.set_message(format!(
            "{} · {} source lines read",
            state.phase, state.source_lines
        ));
        self.header.tick();
        for (name, t) in &state.targets {
            let bar = self.targets.entry(name).or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new(t.read));
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos:>9}/{len:<9} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                bar.set_prefix(*name);
                bar
            });
            bar.set_length(t.read.max(t.settled()));
            bar.set_position(t.settled());
            bar.set_message(format!(
                "uploaded {} · ok {} · failed {} · unchanged {}",
                t.uploaded, t.succeeded, t.failed, t.unchanged
            ));
        }
    }

    fn finish(mut self, state: &ProgressState) {
        self.draw(state);
        for bar in self.targets.values() {
            bar.finish();
        }
        self.header.finish();
        if let Ok(mut bars) = BARS.lock() {
            *bars = None;
        }
    }
}
