//! What the runner tells its observers while it plays.
//!
//! The runner never prints: it sends [`RunEvent`]s over a channel, and the
//! console printer, the progress bar or a test consume them. Every value in
//! an event is already masked.

use crate::report::model::ScenarioReport;

/// One thing that happened during a run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// Playing starts; `total` scenario instances (matrix cases count one each).
    RunStarted { total: usize },
    /// An instance started playing (`id` includes `[case]`).
    ScenarioStarted { id: String },
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
