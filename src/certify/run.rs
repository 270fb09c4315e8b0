//! A certification run: every selected case for every driver, cases played
//! in parallel (`--jobs`; each case has its own world and listeners, so
//! cases cannot see each other), each judged as soon as it is played, then
//! one [`ClientResult`] per driver and the [`Certification`], decided once.
//!
//! The world and the judge come in through [`Stages`] and [`Judge`], so the
//! scheduling is testable without listeners or case files.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::driver::DriverSpec;
use super::harness::{self, Limits, Played, Stage};
use super::journal::CaseRecord;
use super::judge;
use super::load::Case;
use super::plan::CasePlan;
use super::protocol::Hello;
use super::verdict::{CaseResult, Certification, ClientResult, Verdict};
use super::world::{LeakRegistry, RunTls, World, WorldError, WorldOptions};

/// Starts one case's world.
pub trait Stages: Send + Sync + 'static {
    type Stage: Stage + 'static;
    /// A fresh world for this case (its setup); `Err` is an
    /// infrastructure failure (listeners, certificates).
    fn start(&self, plan: &CasePlan) -> impl Future<Output = Result<Self::Stage, String>> + Send;
}

/// The run's worlds: each case gets its own [`World`] (fresh listeners),
/// all sharing the run's TLS material and leak registry (a token of one
/// case seen in another is a finding).
#[derive(Debug)]
pub struct Worlds {
    pub tls: Option<Arc<RunTls>>,
    pub leaks: Arc<LeakRegistry>,
}

impl Worlds {
    /// Worlds with TLS material written under `dir` (the CA file drivers
    /// trust); without `dir`, plain HTTP only (cases needing HTTPS cannot
    /// start).
    pub fn new(dir: Option<&Path>) -> Result<Worlds, WorldError> {
        let tls = match dir {
            Some(d) => Some(Arc::new(RunTls::generate(d)?)),
            None => None,
        };
        Ok(Worlds {
            tls,
            leaks: Arc::new(LeakRegistry::new()),
        })
    }
}

impl Stages for Worlds {
    type Stage = World;
    async fn start(&self, plan: &CasePlan) -> Result<World, String> {
        let mut opts = WorldOptions::new(&plan.id, self.leaks.clone());
        opts.tls = self.tls.clone();
        World::start(&plan.setup, &opts)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Turns records into verdicts.
pub trait Judge: Send + Sync + 'static {
    /// The verdict of case `case` (an index into the run's plans) from its
    /// record.
    fn case(&self, case: usize, record: &CaseRecord) -> CaseResult;
    /// One client's rules, card and verdict from its judged cases (in plan
    /// order); `hello` is the first one the driver sent.
    fn client(
        &self,
        name: &str,
        spec: &DriverSpec,
        hello: Option<&Hello>,
        cases: Vec<CaseResult>,
    ) -> ClientResult;
}

/// The judge of `judge.rs` over loaded cases (`load::Case`: plan and
/// expectations), indexed as the run's plans.
pub struct CaseJudge {
    pub cases: Vec<Case>,
}

impl Judge for CaseJudge {
    fn case(&self, case: usize, record: &CaseRecord) -> CaseResult {
        let c = &self.cases[case];
        judge::judge(&c.plan, &c.expect, record)
    }

    fn client(
        &self,
        name: &str,
        spec: &DriverSpec,
        hello: Option<&Hello>,
        cases: Vec<CaseResult>,
    ) -> ClientResult {
        judge::client_result(name, &spec.command, hello, cases)
    }
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Cases played at once (over all drivers).
    pub jobs: usize,
    pub limits: Limits,
    /// The budget of each case (default: [`Limits::case_budget`]).
    pub budget: Option<Duration>,
    /// `fast` / `slow`, `arcgis-token` / `basemap-sessions` / `all`: only
    /// reported.
    pub tier: String,
    pub plan: String,
    /// Warnings fail the run.
    pub strict: bool,
    /// The program that replays a case (`tessera`), for replay commands.
    pub program: String,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            jobs: 2,
            limits: Limits::default(),
            budget: None,
            tier: "fast".into(),
            plan: "all".into(),
            strict: false,
            program: "tessera".into(),
        }
    }
}

/// What the run reports while it plays.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A case of a driver starts (driver index, the case).
    Started { driver: usize, case: &'a CasePlan },
    /// A case of a driver was played and judged.
    Finished {
        driver: usize,
        result: &'a CaseResult,
    },
}

/// One played case of one driver.
#[derive(Debug, Clone)]
pub struct CaseRun {
    pub driver: usize,
    pub case: usize,
    pub result: CaseResult,
    /// `None` when its world could not start.
    pub record: Option<CaseRecord>,
    /// Why the case says nothing about the client (the world failed).
    pub infrastructure: Option<String>,
}

enum Message {
    Started(usize, usize),
    Done(Box<CaseRun>),
}

/// The whole run: the certification and the infrastructure failures.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub certification: Certification,
    pub runs: Vec<CaseRun>,
    pub infrastructure: Vec<String>,
}

/// The command that replays one case alone.
pub fn replay(program: &str, spec: &DriverSpec, case: &str) -> String {
    format!(
        "{program} certify --driver {} --case {} --verbose",
        shell_quote(&spec.command),
        shell_quote(case)
    )
}

/// `s` as one `sh` word.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Lines of a driver's stderr quoted in an errored case's reason.
const STDERR_QUOTED: usize = 3;

/// Adds the last lines of the driver's stderr (already redacted) to an
/// errored case's reason: what a vendor needs to see why a driver died.
fn add_stderr(result: &mut CaseResult, tail: &str) {
    let lines: Vec<&str> = tail.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return;
    }
    let last = lines[lines.len().saturating_sub(STDERR_QUOTED)..].join(" | ");
    let last: String = last.chars().take(300).collect();
    let reason = result.reason.take().unwrap_or_default();
    result.reason = Some(if reason.is_empty() {
        format!("driver stderr: {last}")
    } else {
        format!("{reason}; driver stderr: {last}")
    });
}

/// A case the world could not play, as a result.
fn unplayable(plan: &CasePlan, verdict: Verdict, reason: String) -> CaseResult {
    CaseResult {
        id: plan.id.clone(),
        title: plan.title.clone(),
        file: plan.file.clone(),
        rules: plan.rules.clone(),
        verdict,
        reason: Some(reason),
        findings: vec![],
        shown: vec![],
        duration_ms: 0,
        replay: String::new(),
    }
}

async fn play_one<W: Stages>(
    plan: &CasePlan,
    spec: &DriverSpec,
    worlds: &W,
    opts: &RunOptions,
) -> Result<Played, String> {
    let world = worlds.start(plan).await?;
    let budget = opts.budget.unwrap_or_else(|| opts.limits.case_budget(plan));
    Ok(harness::play(plan, world, spec, &opts.limits, budget).await)
}

/// Plays every case for every driver, `opts.jobs` at a time, judges each,
/// rolls each driver up and decides the run.
pub async fn certify<W: Stages, J: Judge>(
    plans: Arc<Vec<CasePlan>>,
    drivers: Arc<Vec<DriverSpec>>,
    worlds: Arc<W>,
    judge: Arc<J>,
    opts: &RunOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Outcome {
    let all: Vec<usize> = (0..plans.len()).collect();
    let subsets = vec![all; drivers.len()];
    certify_subsets(plans, drivers, subsets, worlds, judge, opts, progress).await
}

/// [`certify`] with its own cases for each driver: `subsets[d]` are the
/// indexes into `plans` that driver `d` plays (the self-check plays a
/// broken driver only on the cases citing its rules).
pub async fn certify_subsets<W: Stages, J: Judge>(
    plans: Arc<Vec<CasePlan>>,
    drivers: Arc<Vec<DriverSpec>>,
    subsets: Vec<Vec<usize>>,
    worlds: Arc<W>,
    judge: Arc<J>,
    opts: &RunOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Outcome {
    let jobs = Arc::new(Semaphore::new(opts.jobs.max(1)));
    let shared = Arc::new(opts.clone());
    let mut set = tokio::task::JoinSet::new();
    // Starts and ends travel on one channel, each end sent while its case
    // still holds its slot, so progress sees them in the order they happened.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (d, subset) in subsets.iter().enumerate().take(drivers.len()) {
        for &c in subset.iter().filter(|c| **c < plans.len()) {
            let (plans, drivers, worlds, judge, jobs, opts, tx) = (
                plans.clone(),
                drivers.clone(),
                worlds.clone(),
                judge.clone(),
                jobs.clone(),
                shared.clone(),
                tx.clone(),
            );
            set.spawn(async move {
                let _permit = jobs.acquire_owned().await.ok();
                let _ = tx.send(Message::Started(d, c));
                let (plan, spec) = (&plans[c], &drivers[d]);
                let (mut result, record, infrastructure) =
                    match play_one(plan, spec, &*worlds, &opts).await {
                        Err(e) => {
                            let why = format!("the case's world could not start: {e}");
                            (
                                unplayable(plan, Verdict::Skipped, why.clone()),
                                None,
                                Some(why),
                            )
                        }
                        Ok(played) => {
                            let mut result = match &played.stage_error {
                                Some(e) => {
                                    unplayable(plan, Verdict::Error, format!("infrastructure: {e}"))
                                }
                                None => judge.case(c, &played.record),
                            };
                            result.duration_ms =
                                u64::try_from(played.duration.as_millis()).unwrap_or(u64::MAX);
                            if result.verdict == Verdict::Error {
                                add_stderr(&mut result, &played.record.transcript.stderr_tail);
                            }
                            let why = played.stage_error.map(|e| e.to_string());
                            (result, Some(played.record), why)
                        }
                    };
                result.replay = replay(&opts.program, spec, &plan.id);
                let _ = tx.send(Message::Done(Box::new(CaseRun {
                    driver: d,
                    case: c,
                    result,
                    record,
                    infrastructure,
                })));
            });
        }
    }
    drop(tx);
    let mut runs = Vec::new();
    let mut infrastructure = Vec::new();
    while let Some(m) = rx.recv().await {
        match m {
            Message::Started(d, c) => progress(Progress::Started {
                driver: d,
                case: &plans[c],
            }),
            Message::Done(run) => {
                progress(Progress::Finished {
                    driver: run.driver,
                    result: &run.result,
                });
                runs.push(*run);
            }
        }
    }
    while let Some(joined) = set.join_next().await {
        if let Err(e) = joined {
            infrastructure.push(format!("a case task failed: {e}"));
        }
    }
    runs.sort_by_key(|r| (r.driver, r.case));
    for r in &runs {
        if let Some(why) = &r.infrastructure {
            infrastructure.push(format!(
                "{} ({}): {why}",
                r.result.id, drivers[r.driver].command
            ));
        }
    }
    let mut clients = Vec::new();
    for (d, spec) in drivers.iter().enumerate() {
        let mine: Vec<&CaseRun> = runs.iter().filter(|r| r.driver == d).collect();
        let hello = mine
            .iter()
            .find_map(|r| r.record.as_ref().and_then(|k| k.transcript.hello.clone()));
        let name = spec.name.clone().unwrap_or_else(|| match &hello {
            Some(h) => format!("{} {}", h.client, h.version),
            None => spec.command.clone(),
        });
        let cases: Vec<CaseResult> = mine.iter().map(|r| r.result.clone()).collect();
        clients.push(judge.client(&name, spec, hello.as_ref(), cases));
    }
    let mut certification = Certification {
        version: 1,
        tessera: env!("CARGO_PKG_VERSION").to_string(),
        tier: opts.tier.clone(),
        plan: opts.plan.clone(),
        clients,
        passed: false,
    };
    certification.decide(opts.strict);
    Outcome {
        certification,
        runs,
        infrastructure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certify::harness::tests::{FakeStage, plan};
    use crate::certify::journal::DriverEnd;
    use crate::certify::plan::{OpPlan, StepKind};

    struct Fakes {
        fail_start: bool,
    }

    impl Stages for Fakes {
        type Stage = FakeStage;
        async fn start(&self, _: &CasePlan) -> Result<FakeStage, String> {
            if self.fail_start {
                return Err("no port".into());
            }
            Ok(FakeStage::new())
        }
    }

    /// Pass when the driver exited 0, error otherwise; counts cases live at
    /// once through the record's driver (each case idles).
    struct ByEnd;

    impl Judge for ByEnd {
        fn case(&self, _: usize, record: &CaseRecord) -> CaseResult {
            let mut r = unplayable(&plan(vec![]), Verdict::Pass, String::new());
            r.id = record.case.clone();
            r.reason = None;
            if record.transcript.end != DriverEnd::Exited(0) {
                r.verdict = Verdict::Error;
            }
            r
        }
        fn client(
            &self,
            name: &str,
            spec: &DriverSpec,
            hello: Option<&Hello>,
            cases: Vec<CaseResult>,
        ) -> ClientResult {
            let verdict = if cases.iter().any(|c| c.verdict == Verdict::Error) {
                Verdict::Error
            } else {
                Verdict::Pass
            };
            ClientResult {
                name: name.into(),
                client: hello.map(|h| h.client.clone()),
                version: None,
                features: vec![],
                driver: spec.command.clone(),
                card: vec![],
                rules: vec![],
                cases,
                verdict,
            }
        }
    }

    fn plans(n: usize) -> Arc<Vec<CasePlan>> {
        Arc::new(
            (0..n)
                .map(|i| {
                    let mut p = plan(vec![StepKind::Op(OpPlan::Idle { ms: 300 })]);
                    p.id = format!("client/c{i}");
                    p
                })
                .collect(),
        )
    }

    const HELLO: &str = r#"{"hello":{"client":"sh","version":"1","features":["portal"]}}"#;

    fn good() -> DriverSpec {
        DriverSpec::new(format!(
            "echo '{HELLO}'; while read -r l; do case \"$l\" in *bye*) exit 0;; *idle*) sleep 0.3;; esac; echo '{{\"ok\":true}}'; done"
        ))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cases_run_jobs_at_a_time_and_results_come_in_plan_order() {
        let fakes = Fakes { fail_start: false };
        let opts = RunOptions {
            jobs: 3,
            ..RunOptions::default()
        };
        let bad = DriverSpec {
            command: "echo first >&2; echo 'cannot load the SDK' >&2; exit 1".into(),
            name: Some("broken one".into()),
        };
        let mut live = 0usize;
        let mut peak = 0usize;
        let mut events = 0;
        let t = std::time::Instant::now();
        let out = certify(
            plans(6),
            Arc::new(vec![good(), bad]),
            Arc::new(fakes),
            Arc::new(ByEnd),
            &opts,
            &mut |p| {
                events += 1;
                match p {
                    Progress::Started { .. } => {
                        live += 1;
                        peak = peak.max(live);
                    }
                    Progress::Finished { .. } => live -= 1,
                }
            },
        )
        .await;
        assert_eq!(events, 24);
        assert_eq!(peak, 3);
        // Six idles of 0.3 s three at a time, not one after another.
        assert!(
            t.elapsed() < Duration::from_millis(6 * 300 + 1500),
            "{:?}",
            t.elapsed()
        );
        let c = &out.certification;
        assert_eq!(c.clients.len(), 2);
        assert_eq!(c.clients[0].name, "sh 1");
        assert_eq!(c.clients[0].verdict, Verdict::Pass);
        assert_eq!(c.clients[0].client.as_deref(), Some("sh"));
        let ids: Vec<&str> = c.clients[0].cases.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "client/c0",
                "client/c1",
                "client/c2",
                "client/c3",
                "client/c4",
                "client/c5"
            ]
        );
        assert_eq!(c.clients[1].name, "broken one");
        assert_eq!(c.clients[1].verdict, Verdict::Error);
        assert!(!c.passed);
        assert!(out.infrastructure.is_empty());
        assert_eq!(
            c.clients[1].cases[0].replay,
            "tessera certify --driver 'echo first >&2; echo '\\''cannot load the SDK'\\'' >&2; exit 1' --case client/c0 --verbose"
        );
        assert_eq!(
            c.clients[1].cases[0].reason.as_deref(),
            Some("driver stderr: first | cannot load the SDK")
        );
        assert_eq!(c.clients[0].cases[0].reason, None);
    }

    #[tokio::test]
    async fn a_world_that_cannot_start_skips_the_case_and_is_an_infrastructure_failure() {
        let fakes = Fakes { fail_start: true };
        let out = certify(
            plans(1),
            Arc::new(vec![good()]),
            Arc::new(fakes),
            Arc::new(ByEnd),
            &RunOptions::default(),
            &mut |_| {},
        )
        .await;
        let k = &out.certification.clients[0].cases[0];
        assert_eq!(k.verdict, Verdict::Skipped);
        assert!(k.reason.as_deref().unwrap().contains("no port"));
        assert_eq!(out.infrastructure.len(), 1);
        assert!(out.runs[0].record.is_none());
    }

    #[test]
    fn replay_commands_quote_for_sh() {
        let s = DriverSpec::new("node d.mjs --name 'it''s'");
        assert_eq!(
            replay("tessera", &s, "client/a"),
            r#"tessera certify --driver 'node d.mjs --name '\''it'\'''\''s'\''' --case client/a --verbose"#
        );
        assert_eq!(shell_quote("/usr/bin/x"), "/usr/bin/x");
    }
}
