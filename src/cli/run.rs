//! `tessera run`: load scenarios, select (filters, `--rerun-failed`,
//! `--partition`), resolve the target, play (with `--retries`), print and
//! write reports, and let the CI gate (`--baseline`, `--flaky-fails`) decide
//! the exit code (`tessera::exit`): an expected failure does not fail the
//! run, an unexpected pass or an expired baseline entry does.
//!
//! Everything decided here is about the command line and the terminal; the
//! work is `tessera::runner::run` and `tessera::report::gate`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tessera::exit;
use tessera::reference::Deviation;
use tessera::report::gate::{self, Baseline, GateOutcome};
use tessera::report::merge::read_report;
use tessera::report::output::{self, Format};
use tessera::report::partition::Partition;
use tessera::report::{Report, console};
use tessera::runner::events::RunEvent;
use tessera::runner::http::Timeouts;
use tessera::runner::{Filter, RunOptions};
use tessera::scenario::model::Profile;
use tessera::target::Target;

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
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Timeout of every HTTP request (`10s`, `500ms`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
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
    /// Run only the scenarios that failed or errored in this JSON report.
    #[arg(long, value_name = "REPORT.json")]
    rerun_failed: Option<PathBuf>,
    /// Only scenarios whose id matches this glob (repeatable).
    #[arg(long = "filter", value_name = "GLOB")]
    filters: Vec<String>,
    /// Only scenarios of this area (repeatable).
    #[arg(long = "area", value_name = "AREA")]
    areas: Vec<String>,
    /// Only scenarios citing this rule ID (repeatable).
    #[arg(long = "rule", value_name = "ID")]
    rules: Vec<String>,
    /// Only scenarios of this profile (repeatable).
    #[arg(long = "profile", value_name = "PROFILE")]
    profiles: Vec<String>,
    /// Start the in-process reference with this deliberate rule violation
    /// (repeatable; `--target reference` only).
    #[arg(long = "deviation", value_name = "NAME")]
    deviations: Vec<String>,
    /// Start the in-process reference with another variant of a VARIANT
    /// rule, as RULE=NAME (repeatable; `--target reference` only; see
    /// `tessera serve --list-variants`).
    #[arg(long = "variant", value_name = "RULE=NAME")]
    variants: Vec<String>,
}

/// `--timeout`: a duration above zero (a zero timeout fails every request).
fn parse_duration(s: &str) -> Result<Duration, String> {
    match tessera::scenario::model::parse_duration(s)? {
        d if d.is_zero() => Err(format!("a timeout above zero, found `{s}`")),
        d => Ok(d),
    }
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse().map_err(|e: output::UnknownFormat| e.to_string())
}

pub fn execute(args: RunArgs) -> u8 {
    // Usage checks first: they need no files and no network.
    let mut deviations = Vec::new();
    for d in &args.deviations {
        match d.parse::<Deviation>() {
            Ok(d) => deviations.push(d),
            Err(e) => {
                let known: Vec<&str> = Deviation::ALL.iter().map(|d| d.name()).collect();
                errln!("error: {e}; known deviations: {}", known.join(", "));
                return exit::USAGE;
            }
        }
    }
    if !deviations.is_empty() && args.target != "reference" {
        errln!("error: --deviation applies to `--target reference` only");
        return exit::USAGE;
    }
    let variants = match tessera::reference::Variants::from_specs(&args.variants) {
        Ok(v) => v,
        Err(e) => {
            errln!("error: --variant: {e}");
            return exit::USAGE;
        }
    };
    if !args.variants.is_empty() && args.target != "reference" {
        errln!("error: --variant applies to `--target reference` only");
        return exit::USAGE;
    }
    for p in &args.profiles {
        if !Profile::ALL.iter().any(|x| x.as_str() == p) {
            let known: Vec<&str> = Profile::ALL.iter().map(|x| x.as_str()).collect();
            errln!(
                "error: unknown profile `{p}`; expected one of {}",
                known.join(", ")
            );
            return exit::USAGE;
        }
    }
    let partition = match args.partition.as_deref().map(str::parse::<Partition>) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            errln!("error: --partition: {e}");
            return exit::USAGE;
        }
    };
    let filter = match Filter::new(&args.filters, &args.areas, &args.rules, &args.profiles) {
        Ok(f) => f,
        Err(e) => {
            errln!("error: {e}");
            return exit::USAGE;
        }
    };

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
            Ok(r) => Some(gate::failed_scenarios(&r)),
            Err(e) => {
                errln!("error: --rerun-failed: {e}");
                return exit::LOAD_ERROR;
            }
        },
    };

    let mut selected = filter.select(all);
    if selected.is_empty() {
        errln!("nothing selected: no scenario matches the paths and filters");
        return exit::NOTHING_SELECTED;
    }
    // After the filters, a shard or a rerun may legitimately be empty: the
    // run then writes an empty report (a merge needs every shard).
    if let Some(ids) = &rerun {
        selected.retain(|s| ids.contains(&s.id));
        for id in ids
            .iter()
            .filter(|id| !selected.iter().any(|s| &s.id == *id))
        {
            say(&format!(
                "note: `{id}` failed before but is not among the selected scenarios\n"
            ));
        }
        if ids.is_empty() {
            errln!("nothing to rerun: nothing failed or errored in that report");
            return exit::NOTHING_SELECTED;
        }
    }
    if let Some(p) = partition {
        selected = tessera::runner::select_partition(selected, p);
        if selected.is_empty() {
            say(&format!("note: shard {p} has no scenario\n"));
        }
    }

    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            return exit::INFRASTRUCTURE;
        }
    };
    let opts = RunOptions {
        jobs: args.jobs.unwrap_or_else(|| RunOptions::default().jobs),
        timeout: args.timeout,
        retries: args.retries,
    };
    rt.block_on(async {
        let target =
            match Target::resolve(&args.target, deviations, Timeouts::new(args.timeout)).await {
                Ok(t) => t.with_variants(variants),
                Err(e) => {
                    errln!("{}", e.render(false));
                    return e.exit_code();
                }
            };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let printer = tokio::spawn(print_events(rx));
        let result = tessera::runner::run(selected, &target, &opts, Some(tx)).await;
        let _ = printer.await;
        let mut report = match result {
            Ok(r) => r,
            Err(e) => {
                errln!("error: {e}");
                return exit::INFRASTRUCTURE;
            }
        };
        report.partition = partition.map(|p| p.to_string());
        let outcome = match &baseline {
            Some(b) => gate::apply_baseline(&mut report, b, args.flaky_fails, today()),
            None => gate::gate(&report, args.flaky_fails),
        };
        finish(&report, &outcome, &args.report, &args.out)
    })
}

/// Writes the files, prints the summary and the gate, picks the exit code.
/// Files first: a closed stdout (`tessera run | head`) must not cost them.
fn finish(report: &Report, outcome: &GateOutcome, formats: &[Format], out: &Path) -> u8 {
    let written = match output::write_all(report, formats, out) {
        Ok(paths) => paths,
        Err(e) => {
            errln!("error: cannot write the reports: {e}");
            return exit::INFRASTRUCTURE;
        }
    };
    let mut text = format!(
        "\n{}{}",
        console::summary(report),
        console::gate_lines(outcome)
    );
    for p in written {
        text.push_str(&format!("report: {}\n", p.display()));
    }
    say(&text);
    if outcome.failed {
        exit::FAILURES
    } else {
        exit::OK
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

/// One line per finished scenario on stdout; a progress bar on stderr when
/// it is a terminal and `CI` is unset.
async fn print_events(mut rx: tokio::sync::mpsc::UnboundedReceiver<RunEvent>) {
    let show_bar = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let mut bar: Option<indicatif::ProgressBar> = None;
    while let Some(ev) = rx.recv().await {
        match ev {
            RunEvent::RunStarted { total } => {
                if show_bar {
                    let b = indicatif::ProgressBar::new(total as u64);
                    if let Ok(style) = indicatif::ProgressStyle::with_template(
                        "{bar:30} {pos}/{len} {elapsed} {msg}",
                    ) {
                        b.set_style(style);
                    }
                    bar = Some(b);
                }
            }
            RunEvent::ScenarioStarted { id } => {
                if let Some(b) = &bar {
                    b.set_message(id);
                }
            }
            RunEvent::ScenarioFinished(s) => {
                let line = console::scenario_line(&s);
                match &bar {
                    Some(b) => {
                        b.suspend(|| say(&format!("{line}\n")));
                        b.inc(1);
                    }
                    None => say(&format!("{line}\n")),
                }
            }
            RunEvent::RunFinished => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
            }
        }
    }
}
