//! Live counts of a run, for whoever wants to show them.
//!
//! The sync only counts (a lock taken a few times per job, an atomic add per few thousand
//! source lines); how the counts are shown — bars on a terminal, log lines otherwise, or
//! not at all — is the caller's business (`cli::progress`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a run has done so far. Shared (`Arc`) between the run and a display.
#[derive(Debug, Default)]
pub struct SyncProgress {
    source_lines: AtomicU64,
    state: Mutex<ProgressState>,
}

/// A snapshot of [`SyncProgress`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProgressState {
    /// What the run is doing now ("reading the export", "level 2 of 4", "done").
    pub phase: String,
    /// Lines of the export read so far.
    pub source_lines: u64,
    /// Per target (by name), in name order.
    pub targets: BTreeMap<&'static str, TargetProgress>,
}

/// Rows of one target.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TargetProgress {
    /// Distinct records read from the export.
    pub read: u64,
    /// Skipped because unchanged since last written.
    pub unchanged: u64,
    /// Rows uploaded to Salesforce (a retried row counts again).
    pub uploaded: u64,
    /// Rows Salesforce accepted.
    pub succeeded: u64,
    /// Rows dead-lettered or held back.
    pub failed: u64,
}

impl TargetProgress {
    /// Rows with a final outcome in this run.
    pub fn settled(&self) -> u64 {
        self.unchanged + self.succeeded + self.failed
    }
}

impl SyncProgress {
    /// A copy of the counts as they are now.
    pub fn snapshot(&self) -> ProgressState {
        let mut state = self.state.lock().map(|s| s.clone()).unwrap_or_default();
        state.source_lines = self.source_lines.load(Ordering::Relaxed);
        state
    }

    pub(crate) fn set_phase(&self, phase: impl Into<String>) {
        if let Ok(mut state) = self.state.lock() {
            state.phase = phase.into();
        }
    }

    pub(crate) fn add_source_lines(&self, lines: u64) {
        self.source_lines.fetch_add(lines, Ordering::Relaxed);
    }

    pub(crate) fn update(&self, target: &'static str, change: impl FnOnce(&mut TargetProgress)) {
        if let Ok(mut state) = self.state.lock() {
            change(state.targets.entry(target).or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accumulate_per_target() {
        let progress = SyncProgress::default();
        progress.set_phase("level 1 of 4");
        progress.add_source_lines(4096);
        progress.add_source_lines(10);
        progress.update("contact-customer", |t| t.read = 100);
        progress.update("contact-customer", |t| {
            t.uploaded += 90;
            t.unchanged += 10;
        });
        progress.update("contact-customer", |t| {
            t.succeeded += 88;
            t.failed += 2;
        });
        let s = progress.snapshot();
        assert_eq!(s.phase, "level 1 of 4");
        assert_eq!(s.source_lines, 4106);
        let c = s.targets["contact-customer"];
        assert_eq!(
            (c.read, c.uploaded, c.succeeded, c.failed),
            (100, 90, 88, 2)
        );
        assert_eq!(c.settled(), 100);
    }
}
