//! `tessera run`: load scenarios, select (filters, `--rerun-failed`,
//! `--partition`), resolve the target, play (with `--retries`), print and
//! write reports, and let the CI gate (`--baseline`, `--flaky-fails`,
//! `--strict`, `--require-rule`, `--min-ran`) decide the run's outcome, which goes into the report and
//! picks the exit code (`tessera::exit`): an expected failure does not fail
//! the run, an unexpected pass or an expired baseline entry does, and a warn
//! does only under `--strict`.
//!
//! Everything decided here is about the command line and the terminal; the
//! work is `tessera::runner::run` and `tessera::report::gate`.
//!
//! The console lists results in a stable order (by id) once the run is
//! over, grouped (`-q` / `-v` / `--color`); a progress bar is drawn on a
//! terminal. With `GITHUB_ACTIONS=true` each failure group is also a
//! workflow annotation, and `GITHUB_STEP_SUMMARY` gets the Markdown report.
//! Ctrl-C stops the run, writes the reports of what finished (the rest is
//! an error "interrupted") and exits 130.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tessera::exit;
use tessera::report::console::{Style, Verbosity};
use tessera::report::gate::{self, Baseline};
use tessera::report::merge::read_report;
use tessera::report::model::Policy;
use tessera::report::model::ScenarioReport;
use tessera::report::output::{self, Format};
use tessera::report::{Report, console, github, markdown};
use tessera::runner::RunOptions;
use tessera::runner::events::RunEvent;
use tessera::select::{self, Partition, Selection};
use tessera::target::Target;

use super::{ConsoleArgs, DeviationArgs, FilterArgs, TimeoutArgs, VariantArgs};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files or folders (searched recursively for *.yaml).
    #[arg(default_value = "specs")]
    paths: Vec<PathBuf>,
    /// `reference` (in-process), `http://HOST:PORT` (a reference-style server),
    /// or a target profile file (YAML).
    #[arg(long, default_value = "reference")]
    target: String,
    /// Scenarios played at once (default: the number of cores).
    #[arg(long, short = 'j', value_parser = super::parse_jobs)]
    jobs: Option<usize>,
    #[command(flatten)]
    timeout: TimeoutArgs,
    /// Folder for the report files.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Report files to write: json, junit, md, html (comma-separated;
    /// default: all).
    #[arg(long = "report", value_name = "LIST", value_delimiter = ',', value_parser = parse_format)]
    report: Vec<Format>,
    /// Expected failures (YAML, see `tessera baseline write`): they do not fail
    /// the run; an unexpected pass or an expired entry does.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Run shard k of n (`2/3`): a stable split by scenario id.
    #[arg(long, value_name = "K/N")]
    partition: Option<String>,
    /// Play a failed or errored scenario up to N more times; one that passes
    /// on a retry is reported flaky.
    #[arg(long, value_name = "N", default_value_t = 0)]
    retries: u32,
    /// A flaky scenario (passed on a retry) fails the run.
    #[arg(long)]
    flaky_fails: bool,
    /// A warn (a scenario that broke only SHOULD clauses) fails the run.
    #[arg(long)]
    strict: bool,
    /// Fail the run unless at least one case citing this rule passed
    /// (repeatable).
    #[arg(long = "require-rule", value_name = "ID")]
    require_rule: Vec<String>,
    /// Fail the run unless at least this share of the cases ran (not
    /// skipped, not not applicable).
    #[arg(long = "min-ran", value_name = "PERCENT", value_parser = clap::value_parser!(u32).range(0..=100))]
    min_ran: Option<u32>,
    /// Run only the scenarios that failed or errored in this JSON report.
    #[arg(long, value_name = "REPORT.json")]
    rerun_failed: Option<PathBuf>,
    #[command(flatten)]
    filter: FilterArgs,
    #[command(flatten)]
    deviation: DeviationArgs,
    #[command(flatten)]
    variant: VariantArgs,
    #[command(flatten)]
    tls: super::TlsArgs,
    #[command(flatten)]
    console: ConsoleArgs,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse().map_err(|e: output::UnknownFormat| e.to_string())
}

pub fn execute(args: RunArgs) -> u8 {
    // Usage checks first: they need no files and no network.
    if let Err(e) = args.deviation.check_target(&args.target) {
        errln!("error: {e}");
        return exit::USAGE;
    }
    let tls = match args.tls.request() {
        Ok(t) => t,
        Err(e) => {
            errln!("error: {e}");
            return exit::USAGE;
        }
    };
    let filter = match args.filter.filter() {
        Ok(f) => f,
        Err(code) => return code,
    };
    let variants = match args.variant.parse_for(&args.target) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if let Some(bad) = args
        .require_rule
        .iter()
        .find(|r| !tessera::rules::is_known(r))
    {
        errln!(
            "error: --require-rule: `{bad}` is not a rule ID of semantics.md (see `tessera rules`)"
        );
        return exit::USAGE;
    }
    let partition = match args.partition.as_deref().map(str::parse::<Partition>) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            errln!("error: --partition: {e}");
            return exit::USAGE;
        }
    };

    let style = args.console.style();
    let all = match tessera::scenario::load_suite(&args.paths) {
        Ok(s) => s,
        Err(diags) => {
            for d in &diags {
                let src = std::fs::read_to_string(&d.file).ok();
                errln!("{}", d.render(src.as_deref()));
            }
            errln!("{} problem(s); nothing was run", diags.len());
            return exit::LOAD_ERROR;
        }
    };
    if let Err(code) = super::check_areas(&filter, &all) {
        return code;
    }
    // Files the gate and the selection need, read before anything runs.
    let baseline = match &args.baseline {
        None => None,
        Some(p) => match load_baseline(p) {
            Ok(b) => Some(b),
            Err(code) => return code,
        },
    };
    let rerun = match &args.rerun_failed {
        None => None,
        Some(p) => match read_report(p) {
            Ok(r) => Some(select::failed_ids(
                r.scenarios
                    .iter()
                    .map(|s| (s.scenario.as_str(), s.verdict.is_failure())),
            )),
            Err(e) => {
                errln!("error: --rerun-failed: {e}");
                return exit::LOAD_ERROR;
            }
        },
    };

    let selection = Selection {
        filter,
        rerun,
        partition,
    };
    let selected = match super::select_or_exit(all, &selection) {
        Ok(s) => s,
        Err(code) => return code,
    };
    for note in &selected.notes {
        say(&format!("note: {note}\n"));
    }
    // A folder the reports cannot go to fails now, not after the run.
    if let Err(e) = check_writable(&args.out) {
        errln!(
            "error: cannot write the reports to {}: {e}",
            args.out.display()
        );
        return exit::INFRASTRUCTURE;
    }

    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let opts = RunOptions {
        jobs: args.jobs.unwrap_or_else(|| RunOptions::default().jobs),
        timeout: args.timeout.timeout,
        retries: args.retries,
    };
    rt.block_on(async {
        let deviations = args.deviation.deviations.clone();
        let timeouts = args.timeout.timeouts();
        let target = match Target::resolve_with_tls(&args.target, deviations, timeouts, tls).await {
            Ok(t) => t.with_variants(variants),
            Err(e) => {
                errln!("{}", e.render(false));
                return e.exit_code();
            }
        };
        if target.tls.insecure {
            errln!(
                "warning: {}",
                tessera::report::model::TlsSummary::INSECURE_WARNING
            );
        }
        // What is needed to write the reports of what finished on Ctrl-C.
        // (The line saying what will run comes from the runner's `Planned`
        // event.)
        let started = std::time::Instant::now();
        let started_at = jiff::Timestamp::now().to_string();
        let instances = tessera::runner::instances(selected.scenarios.clone());
        let finished = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let printer = tokio::spawn(print_events(rx, finished.clone()));
        let run = tessera::runner::run(selected.scenarios, &target, &opts, Some(tx));
        let (result, interrupted) = tokio::select! {
            r = run => {
                let _ = printer.await;
                (r, false)
            }
            _ = tokio::signal::ctrl_c() => {
                printer.abort();
                let done = std::mem::take(&mut *finished.lock().unwrap_or_else(|e| e.into_inner()));
                let scenarios = instances
                    .iter()
                    .map(|inst| {
                        let id = inst.id();
                        done.iter()
                            .find(|r| r.id == id)
                            .cloned()
                            .unwrap_or_else(|| tessera::runner::interrupted(inst))
                    })
                    .collect();
                (
                    Ok(Report::unjudged(
                        target.summary(),
                        started_at,
                        started.elapsed().as_millis() as u64,
                        scenarios,
                    )),
                    true,
                )
            }
        };
        let mut report = match result {
            Ok(r) => r,
            Err(e) => {
                errln!("error: {e}");
                return exit::INFRASTRUCTURE;
            }
        };
        report.partition = partition.map(|p| p.to_string());
        let policy = Policy {
            flaky_fails: args.flaky_fails,
            strict: args.strict,
        };
        match &baseline {
            Some(b) => gate::apply_baseline(&mut report, b, policy, today()),
            None => gate::gate(&mut report, policy),
        };
        gate::apply_coverage_gates(
            &mut report,
            &gate::CoverageGates {
                require_rules: args.require_rule.clone(),
                min_ran_percent: args.min_ran,
            },
        );
        let code = finish(&report, &args.report, &args.out, style);
        if interrupted {
            let left = report
                .scenarios
                .iter()
                .filter(|s| {
                    s.reason
                        .as_deref()
                        .is_some_and(|r| r.starts_with("interrupted"))
                })
                .count();
            errln!(
                "interrupted: {left} of {} instance(s) had not finished; the reports hold what did",
                report.scenarios.len()
            );
            return exit::INTERRUPTED;
        }
        code
    })
}

/// Creates `dir` and writes (then removes) a probe file in it.
fn check_writable(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(".tessera-write-check");
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

/// Writes the files, prints the summary (ending with the gate's outcome),
/// and maps that outcome to the exit code. Files first: a closed stdout
/// (`tessera run | head`) must not cost them. On GitHub Actions the
/// failures are also annotations and the Markdown goes to the step summary.
fn finish(report: &Report, formats: &[Format], out: &Path, style: Style) -> u8 {
    let written = match output::write_all(report, formats, out) {
        Ok(paths) => paths,
        Err(e) => {
            errln!("error: cannot write the reports to {}: {e}", out.display());
            return exit::INFRASTRUCTURE;
        }
    };
    let mut text = String::from("\n");
    if style.verbosity == Verbosity::Verbose {
        text.push_str(&console::instance_lines(report, style));
        text.push('\n');
    }
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        text.push_str(&github::annotations(report));
    }
    text.push_str(&console::summary_styled(report, style));
    if style.verbosity != Verbosity::Quiet {
        for p in written {
            text.push_str(&format!("report: {}\n", p.display()));
        }
    }
    say(&text);
    append_step_summary(report);
    match &report.outcome {
        Some(o) if o.passed() => exit::OK,
        _ => exit::FAILURES,
    }
}

/// Appends the Markdown report to `$GITHUB_STEP_SUMMARY` when it is set
/// (a failure to do so is a warning: the run's outcome does not change).
pub(crate) fn append_step_summary(report: &Report) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    use std::io::Write as _;
    let result = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(markdown::write(report).as_bytes()));
    if let Err(e) = result {
        errln!(
            "warning: cannot append to GITHUB_STEP_SUMMARY ({}): {e}",
            Path::new(&path).display()
        );
    }
}

/// Prints to stdout, ignoring a closed pipe (no panic, unlike `print!`).
pub(crate) fn say(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// The system time zone's civil date: baseline entries expire by the
/// calendar of whoever runs the gate.
fn today() -> jiff::civil::Date {
    jiff::ZonedDateTime::now().date()
}

/// Reads and checks a baseline; a bad file is reported with file:line:col
/// and exits 3.
fn load_baseline(path: &Path) -> Result<Baseline, u8> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            errln!("error: cannot read the baseline {}: {e}", path.display());
            return Err(exit::LOAD_ERROR);
        }
    };
    Baseline::parse(&text, path).map_err(|d| {
        errln!("{}", d.render(Some(&text)));
        exit::LOAD_ERROR
    })
}

/// Collects finished instances (for Ctrl-C) and draws a progress bar on
/// stderr when it is a terminal and `CI` is unset. Before the run, one line
/// says what will happen (cases to run, the longest real wait, the expected
/// duration); the bar shows what is running and what is waiting, and for
/// how long still. Result lines are printed after the run, in id order,
/// never in completion order.
async fn print_events(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<RunEvent>,
    finished: Arc<Mutex<Vec<ScenarioReport>>>,
) {
    let show_bar = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut live = Activity::default();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        let ev = tokio::select! {
            ev = rx.recv() => match ev {
                Some(ev) => ev,
                None => break,
            },
            _ = tick.tick() => {
                if let Some(b) = &bar {
                    b.set_message(live.message());
                }
                continue;
            }
        };
        match ev {
            RunEvent::RunStarted { total } => {
                if show_bar {
                    let b = indicatif::ProgressBar::new(total as u64);
                    if let Ok(style) = indicatif::ProgressStyle::with_template(
                        "{bar:30} {pos}/{len} {elapsed} {msg}",
                    ) {
                        b.set_style(style);
                    }
                    b.enable_steady_tick(std::time::Duration::from_millis(500));
                    bar = Some(b);
                }
            }
            RunEvent::Planned {
                to_run,
                total,
                longest_wait,
                expected,
            } => {
                let line = plan_line(to_run, total, longest_wait, expected);
                match &bar {
                    Some(b) => b.suspend(|| say(&format!("{line}\n"))),
                    None => say(&format!("{line}\n")),
                }
            }
            RunEvent::ScenarioStarted { id } => {
                live.waiting.remove(&id);
                live.running.insert(id);
            }
            RunEvent::Waiting { id, left } => {
                live.running.remove(&id);
                live.waiting.insert(id, std::time::Instant::now() + left);
            }
            RunEvent::Resumed { id } => {
                live.waiting.remove(&id);
                live.running.insert(id);
            }
            RunEvent::ScenarioFinished(s) => {
                live.running.remove(&s.id);
                live.waiting.remove(&s.id);
                if let Some(b) = &bar {
                    b.inc(1);
                }
                finished.lock().unwrap_or_else(|e| e.into_inner()).push(*s);
            }
            RunEvent::RunFinished => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
            }
        }
        if let Some(b) = &bar {
            b.set_message(live.message());
        }
    }
}

/// The line before the run: `running 312 of 362 cases; longest real wait 1m 5s; expected about 1m 20s`.
fn plan_line(
    to_run: usize,
    total: usize,
    longest_wait: std::time::Duration,
    expected: std::time::Duration,
) -> String {
    let secs = |d: std::time::Duration| {
        tessera::target::humanize(std::time::Duration::from_secs(d.as_secs()))
    };
    let wait = if longest_wait.is_zero() {
        "no real waits".to_string()
    } else {
        format!("longest real wait {}", secs(longest_wait))
    };
    format!(
        "running {to_run} of {total} cases; {wait}; expected about {}",
        secs(expected.max(std::time::Duration::from_secs(1)))
    )
}

/// What is in flight, for the progress bar.
#[derive(Default)]
struct Activity {
    running: std::collections::BTreeSet<String>,
    /// Waiting instances and when their wait ends.
    waiting: std::collections::BTreeMap<String, std::time::Instant>,
}

impl Activity {
    /// `running 2: a/b, c/d | waiting 5, longest 58s more: e/f`.
    fn message(&self) -> String {
        let mut parts = Vec::new();
        if !self.running.is_empty() {
            let names: Vec<&str> = self.running.iter().take(2).map(String::as_str).collect();
            let more = if self.running.len() > 2 { ", ..." } else { "" };
            parts.push(format!(
                "running {}: {}{more}",
                self.running.len(),
                names.join(", ")
            ));
        }
        let now = std::time::Instant::now();
        if let Some((id, until)) = self.waiting.iter().max_by_key(|(_, u)| **u) {
            let left = until.saturating_duration_since(now).as_secs();
            parts.push(format!(
                "waiting {}, longest {left}s more: {id}",
                self.waiting.len()
            ));
        }
        parts.join(" | ")
    }
}
