//! `tessera report merge|diff`: work on JSON reports written earlier.
//!
//! `merge` rebuilds every report format from the shards of a partitioned
//! run (and, on GitHub Actions, annotates and writes the step summary),
//! deciding the merged run's outcome again (see
//! `tessera::report::gate::decide_merged`); `diff` compares two runs and
//! exits 1 on a regression. Both read
//! reports only through `tessera::report::merge::read_report`, and write
//! files only through `tessera::report::output`.

use std::path::PathBuf;

use tessera::exit;
use tessera::report::merge::{merge, read_report};
use tessera::report::model::Policy;
use tessera::report::output::{self, Format};
use tessera::report::{Report, console, diff, github};

use super::ConsoleArgs;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    command: ReportCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ReportCommand {
    /// Merge the JSON reports of a sharded run and write every format (or
    /// the fuzz reports of a partitioned campaign: fuzz.json, .md, .html).
    Merge(MergeArgs),
    /// Compare two JSON reports; exit 1 on a regression.
    Diff(DiffArgs),
}

#[derive(Debug, clap::Args)]
struct MergeArgs {
    /// The shards' report.json files.
    #[arg(required = true, value_name = "REPORT.json")]
    reports: Vec<PathBuf>,
    /// Folder for the merged report files.
    #[arg(long)]
    out: PathBuf,
    /// Report files to write: json, junit, md, html (default: all).
    #[arg(long = "report", value_name = "LIST", value_delimiter = ',', value_parser = parse_format)]
    report: Vec<Format>,
    /// A flaky scenario fails the merged run (also when any shard was gated
    /// so).
    #[arg(long)]
    flaky_fails: bool,
    /// A warn fails the merged run (also when any shard was gated so).
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    console: ConsoleArgs,
}

#[derive(Debug, clap::Args)]
struct DiffArgs {
    /// The earlier run's report.json.
    old: PathBuf,
    /// The later run's report.json.
    new: PathBuf,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse().map_err(|e: output::UnknownFormat| e.to_string())
}

pub fn execute(args: ReportArgs) -> u8 {
    match args.command {
        ReportCommand::Merge(a) => merge_cmd(a),
        ReportCommand::Diff(a) => diff_cmd(a),
    }
}

/// Reads every report or says which one is unusable (exit 3).
fn read_all(paths: &[PathBuf]) -> Result<Vec<Report>, u8> {
    paths
        .iter()
        .map(|p| {
            read_report(p).map_err(|e| {
                errln!("error: {e}");
                exit::LOAD_ERROR
            })
        })
        .collect()
}

/// Whether `path` holds a fuzz report (`tessera fuzz --json`).
fn is_fuzz_report(path: &std::path::Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v.get("fuzz_format_version").is_some())
}

/// `report merge` of the fuzz reports of a partitioned campaign: the
/// campaign summary as fuzz.json, fuzz.md and fuzz.html; exit 1 when a
/// share diverged.
fn merge_fuzz(a: &MergeArgs) -> u8 {
    use tessera::fuzz::report::FuzzReport;
    let mut reports = Vec::new();
    for p in &a.reports {
        let parsed = std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<FuzzReport>(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(r) => reports.push(r),
            Err(e) => {
                errln!("error: {}: not a fuzz report: {e}", p.display());
                return exit::LOAD_ERROR;
            }
        }
    }
    let merged = match FuzzReport::merge(reports) {
        Ok(m) => m,
        Err(e) => {
            errln!("error: cannot merge: {e}");
            return exit::LOAD_ERROR;
        }
    };
    let json = serde_json::to_string_pretty(&merged).unwrap_or_default() + "\n";
    let files = [
        ("fuzz.json", json),
        ("fuzz.md", merged.markdown()),
        ("fuzz.html", merged.html()),
    ];
    if let Err(e) = std::fs::create_dir_all(&a.out) {
        errln!(
            "error: cannot write the reports to {}: {e}",
            a.out.display()
        );
        return exit::INFRASTRUCTURE;
    }
    for (name, text) in &files {
        let path = a.out.join(name);
        if let Err(e) = std::fs::write(&path, text) {
            errln!("error: cannot write {}: {e}", path.display());
            return exit::INFRASTRUCTURE;
        }
    }
    outln!(
        "fuzz campaign seed {}: {} of {} cases, {} operations over shares {}; {} divergence(s)",
        merged.seed,
        merged.cases_run,
        merged.cases,
        merged.ops_run,
        merged.partitions.join(", "),
        merged.divergences.len()
    );
    for d in &merged.divergences {
        outln!("  {}\n    replay: {}", d.summary, d.replay);
    }
    for (name, _) in &files {
        outln!("report: {}", a.out.join(name).display());
    }
    if merged.divergences.is_empty() {
        exit::OK
    } else {
        exit::FAILURES
    }
}

fn merge_cmd(a: MergeArgs) -> u8 {
    if a.reports.first().is_some_and(|p| is_fuzz_report(p)) {
        return merge_fuzz(&a);
    }
    let reports = match read_all(&a.reports) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let policy = Policy {
        flaky_fails: a.flaky_fails,
        strict: a.strict,
    };
    let merged = match merge(reports, policy) {
        Ok(m) => m,
        Err(e) => {
            errln!("error: cannot merge: {e}");
            return exit::LOAD_ERROR;
        }
    };
    // Files first, as `run` does; then the console, the annotations and
    // the step summary (on GitHub Actions: the merge job is where a
    // partitioned run is judged).
    let written = match output::write_all(&merged, &a.report, &a.out) {
        Ok(paths) => paths,
        Err(e) => {
            errln!(
                "error: cannot write the reports to {}: {e}",
                a.out.display()
            );
            return exit::INFRASTRUCTURE;
        }
    };
    let style = a.console.style();
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        out!("{}", github::annotations(&merged));
    }
    out!("{}", console::summary_styled(&merged, style));
    for p in written {
        outln!("report: {}", p.display());
    }
    super::run::append_step_summary(&merged);
    // Decided by `merge` from the merged scenarios, the marks the shards'
    // baselines gave them and the shards' expired entries.
    match &merged.outcome {
        Some(o) if o.passed() => exit::OK,
        _ => exit::FAILURES,
    }
}

fn diff_cmd(a: DiffArgs) -> u8 {
    let (old, new) = match read_all(&[a.old, a.new]) {
        Ok(mut v) if v.len() == 2 => {
            let new = v.pop();
            let old = v.pop();
            match (old, new) {
                (Some(o), Some(n)) => (o, n),
                _ => return exit::INFRASTRUCTURE,
            }
        }
        Ok(_) => return exit::INFRASTRUCTURE,
        Err(code) => return code,
    };
    let d = diff::diff(&old, &new);
    out!("{}", d.render());
    if d.is_regression() {
        exit::FAILURES
    } else {
        exit::OK
    }
}
