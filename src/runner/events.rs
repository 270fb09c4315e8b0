//! What the runner tells its observers while it plays.
//!
//! The runner never prints: it sends [`RunEvent`]s over a channel, and the
//! console printer, the progress bar or a test consume them. Every value in
//! an event is already masked.

use std::time::Duration;

use crate::report::model::ScenarioReport;

/// One thing that happened during a run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// Playing starts; `total` scenario instances (matrix cases count one each).
    RunStarted { total: usize },
    /// What will happen, before anything is sent: instances to play (the
    /// rest are skipped or not applicable), the longest real wait one of
    /// them needs, and about how long the run takes (waits run side by
    /// side, so about the longest wait plus the requests).
    Planned {
        to_run: usize,
        total: usize,
        longest_wait: Duration,
        expected: Duration,
    },
    /// An instance started playing (`id` includes `[case]`).
    ScenarioStarted { id: String },
    /// An instance waits in real time for `left` (holding no `--jobs` slot).
    Waiting { id: String, left: Duration },
    /// It woke up and works again.
    Resumed { id: String },
    /// An instance has its verdict.
    ScenarioFinished(Box<ScenarioReport>),
    /// Every instance has a verdict.
    RunFinished,
}

/// The sending half the runner uses; `None` when nobody listens.
pub type EventSender = Option<tokio::sync::mpsc::UnboundedSender<RunEvent>>;

pub(crate) fn emit(tx: &EventSender, ev: RunEvent) {
    if let Some(tx) = tx {
        // A listener that went away is not the runner's problem.
        let _ = tx.send(ev);
    }
}
