//! Client certification (issue 15, `../shared/client-rules.md`, CL-1..15):
//! the reference server, in client mode, watches a token client (an SDK
//! driven by a small *driver* program) and judges how it handles tokens.
//!
//! The pieces, and who may depend on whom:
//! - [`protocol`]: the driver contract (hello, operations, results) as
//!   data, and its JSON-lines encoding. Depends on nothing else here.
//! - [`plan`]: a certification case as a typed plan: its timeline of
//!   driver operations and server-side events. Loaded from `specs/clients/`.
//! - [`journal`]: what the reference saw during a case: every request (which
//!   listener, which carriers, which issued token), the registry of tokens it
//!   issued with their provenance, and the events it applied. Evaluators
//!   are pure functions of a journal, a plan and a driver transcript.
//! - [`verdict`]: the outcome as data (per case, rule and client, the
//!   behaviour card); evaluators produce it, writers render it.
//! - [`report`]: the five writers of a [`verdict::Certification`] (console,
//!   JSON + schema, JUnit, Markdown, HTML).
//!
//! - [`driver`]: the driver process (JSON lines, deadlines, process group);
//!   [`harness`]: plays one case; [`run`]: every case for every driver.
//! - [`rules`]: the CL rule table (checked against `specs/client-rules.md`).
//! - [`load`]: the case files of `specs/clients/` into plans and
//!   expectations; [`judge`]: case, rule and client verdicts from records.
//! - [`drivers`]: the built-in token client (good and broken variants)
//!   that speaks the driver protocol, for the self-check.
//! - [`world`]: the server side of one case: the listeners of each role,
//!   the recording and injecting layer, the events, the journal.
//!
//! The harness (listeners, driver process, events), the evaluators, the
//! report and the built-in drivers build on these three.

pub mod driver;
pub mod drivers;
pub mod harness;
pub mod journal;
pub mod judge;
pub mod load;
pub mod plan;
pub mod protocol;
pub mod report;
pub mod rules;
pub mod run;
pub mod verdict;
pub mod world;
