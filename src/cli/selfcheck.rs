//! `tessera selfcheck`: the suite against the clean reference and against each
//! deviation in turn, and on the reference's other variants (unless
//! `--no-variants`); prints which scenarios caught each deviation and fails when one
//! is not caught, the clean reference does not pass, or a variant run fails.
//! The filters narrow the suite (a quick check of one area); `--deviation`
//! narrows the deviations (default: all).
//!
//! `--clients` checks client certification instead: the built-in good
//! driver must pass the fast client cases and every built-in broken driver
//! must be caught on its rules (`tessera::selfcheck::clients`).

use std::path::PathBuf;

use tessera::exit;
use tessera::reference::Deviation;
use tessera::runner::RunOptions;
use tessera::select::{self, Selection};

use super::{DeviationArgs, FilterArgs, TimeoutArgs};

#[derive(Debug, clap::Args)]
pub struct SelfcheckArgs {
    /// Scenario files or folders.
    #[arg(default_value = "specs")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    filter: FilterArgs,
    #[command(flatten)]
    deviation: DeviationArgs,
    #[command(flatten)]
    timeout: TimeoutArgs,
    /// Scenarios played at once (default: the number of cores).
    #[arg(long, short = 'j', value_parser = super::parse_jobs)]
    jobs: Option<usize>,
    /// Kept for old scripts: the variant runs are played by default now.
    #[arg(long, hide = true, conflicts_with = "no_variants")]
    variants: bool,
    /// Skip the variant runs (by default the clean suite is also played with
    /// each non-reference variant of the VARIANT rules, then with all of
    /// them at once; any failure there fails the check).
    #[arg(long)]
    no_variants: bool,
    /// List every catching scenario, not just the first few.
    #[arg(long)]
    verbose: bool,
    /// Check client certification instead (issue 15): the fast client cases
    /// (`specs/clients` unless paths are given) with the built-in good
    /// driver, which must pass, and each built-in broken driver, which must
    /// be caught on each of its rules. Prints one line per driver.
    #[arg(long)]
    clients: bool,
}

pub fn execute(args: SelfcheckArgs) -> u8 {
    if args.clients {
        return clients(args);
    }
    let filter = match args.filter.filter() {
        Ok(f) => f,
        Err(code) => return code,
    };
    let all = match tessera::scenario::load_suite(&args.paths) {
        Ok(s) => s,
        Err(diags) => {
            err!("{}", tessera::scenario::render_all(&diags, false));
            return exit::LOAD_ERROR;
        }
    };
    if let Err(code) = super::check_areas(&filter, &all) {
        return code;
    }
    let selection = Selection {
        filter,
        ..Selection::default()
    };
    let scenarios = match select::select(all, &selection) {
        Ok(s) => s.scenarios,
        Err(e) => {
            errln!("{e}");
            return exit::NOTHING_SELECTED;
        }
    };
    let deviations = if args.deviation.deviations.is_empty() {
        Deviation::ALL.to_vec()
    } else {
        args.deviation.deviations
    };
    let mut opts = RunOptions {
        timeout: args.timeout.timeout,
        ..RunOptions::default()
    };
    if let Some(j) = args.jobs {
        opts.jobs = j.max(1);
    }
    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let variant_sets = if !args.no_variants {
        tessera::selfcheck::variant_sets()
    } else {
        Vec::new()
    };
    let total = deviations.len();
    let mut seen = 0;
    // Carriage-return progress only on a terminal: in a CI log each `\r`
    // would be noise (and one long line).
    let tty = {
        use std::io::IsTerminal as _;
        std::io::stderr().is_terminal()
    };
    let result = rt.block_on(tessera::selfcheck::selfcheck(
        &scenarios,
        &deviations,
        &variant_sets,
        &opts,
        |d| {
            if let Some(d) = d {
                seen += 1;
                if tty {
                    err!("\rdeviation {seen}/{total}: {:<40}", d.name());
                }
            }
        },
    ));
    if tty {
        errln!();
    }
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            errln!("error: {e}");
            return exit::INFRASTRUCTURE;
        }
    };
    outln!(
        "clean reference: {} of {} instances pass",
        report.clean_instances - report.clean_failures.len(),
        report.clean_instances
    );
    for f in &report.clean_failures {
        outln!("  does not pass on the clean reference: {f}");
    }
    outln!();
    outln!(
        "{:<36} {:<18} {:>6} {:>10}  caught by",
        "deviation",
        "rules",
        "caught",
        "collateral"
    );
    for d in &report.deviations {
        let shown: Vec<&str> = if args.verbose {
            d.caught_by.iter().map(String::as_str).collect()
        } else {
            d.caught_by.iter().take(3).map(String::as_str).collect()
        };
        let more = d.caught_by.len() - shown.len();
        let tail = if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        };
        outln!(
            "{:<36} {:<18} {:>6} {:>10}  {}{}",
            d.deviation.name(),
            d.deviation.rules().join(","),
            d.caught_by.len(),
            d.collateral.len(),
            if shown.is_empty() {
                "NOT CAUGHT".to_owned()
            } else {
                shown.join(", ")
            },
            tail
        );
    }
    if !report.variant_runs.is_empty() {
        outln!();
        outln!("{:<60} {:>6}  not passing", "variants", "fail");
        for v in &report.variant_runs {
            let take = if args.verbose { v.failures.len() } else { 3 };
            let shown: Vec<&str> = v.failures.iter().take(take).map(String::as_str).collect();
            outln!(
                "{:<60} {:>6}  {}",
                v.variants,
                v.failures.len(),
                shown.join(", ")
            );
        }
    }
    let uncaught = report.uncaught();
    outln!();
    if report.ok() {
        outln!(
            "selfcheck ok: the clean reference passes and all {} deviations are caught, each with the verdict its level calls for",
            report.deviations.len()
        );
        exit::OK
    } else {
        if !uncaught.is_empty() {
            outln!("selfcheck FAILED: not caught: {}", uncaught.join(", "));
        }
        for d in report.wrong_verdicts() {
            let level = if d.deviation.breaks_only_should() {
                "breaks only SHOULD clauses, so it must get warns and no fail"
            } else {
                "breaks a MUST, so it must get a fail"
            };
            outln!(
                "selfcheck FAILED: {} {level}: {}",
                d.deviation.name(),
                d.wrong_verdict.join(", ")
            );
        }
        let bad_variants = report
            .variant_runs
            .iter()
            .filter(|v| !v.failures.is_empty())
            .count();
        if bad_variants > 0 {
            outln!("selfcheck FAILED: the clean suite fails on {bad_variants} variant sets");
        }
        if !report.clean_failures.is_empty() {
            outln!(
                "selfcheck FAILED: {} instances do not pass on the clean reference",
                report.clean_failures.len()
            );
        }
        exit::FAILURES
    }
}

/// `tessera selfcheck --clients`.
fn clients(args: SelfcheckArgs) -> u8 {
    let paths = if args.paths == [PathBuf::from("specs")] {
        vec![PathBuf::from("specs/clients")]
    } else {
        args.paths.clone()
    };
    let all = match super::certify::load(&paths) {
        Ok(all) => all,
        Err(code) => return code,
    };
    let cases: Vec<_> = all
        .into_iter()
        .filter(|c| c.plan.tier == tessera::certify::plan::Tier::Fast)
        .collect();
    if cases.is_empty() {
        errln!("no fast-tier client case under {paths:?}");
        return exit::NOTHING_SELECTED;
    }
    let program = match std::env::current_exe() {
        Ok(p) => p.display().to_string(),
        Err(e) => {
            errln!("error: cannot find the tessera executable for the built-in drivers: {e}");
            return exit::INFRASTRUCTURE;
        }
    };
    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let dir = match super::certify::RunDir::create("selfcheck") {
        Ok(d) => d,
        Err(e) => {
            errln!("error: cannot create the run's folder: {e}");
            return exit::INFRASTRUCTURE;
        }
    };
    let worlds = match super::certify::worlds(&dir) {
        Ok(w) => w,
        Err(code) => return code,
    };
    let opts = tessera::certify::run::RunOptions {
        jobs: args.jobs.unwrap_or(2),
        ..Default::default()
    };
    let total = cases.len();
    errln!(
        "client selfcheck: the good driver on {total} cases, {} broken drivers on the cases citing their rules ({} at a time)",
        tessera::certify::drivers::BROKEN.len(),
        opts.jobs
    );
    let labels = tessera::certify::drivers::DRIVERS
        .iter()
        .map(|d| d.0.to_owned())
        .collect();
    let mut printer = super::certify::Printer {
        verbose: args.verbose,
        total: 0,
        done: 0,
        labels,
    };
    let report = rt.block_on(super::certify::interruptible(
        tessera::selfcheck::clients::run(cases, &program, worlds, &opts, &mut |p| printer.event(p)),
    ));
    let Some(report) = report else {
        return super::certify::interrupted(rt);
    };
    drop(dir);
    outln!("{:<24} {:<12} {:>5}  result", "driver", "rules", "cases");
    for c in &report.checks {
        outln!(
            "{:<24} {:<12} {:>5}  {} {}",
            c.driver,
            if c.rules.is_empty() {
                "-".to_owned()
            } else {
                c.rules.join(",")
            },
            c.cases,
            if c.ok { "ok" } else { "FAILED" },
            c.detail
        );
    }
    for why in &report.infrastructure {
        errln!("infrastructure: {why}");
    }
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.driver.as_str())
        .collect();
    outln!();
    if report.ok() {
        outln!(
            "client selfcheck ok: the good driver passes and all {} broken drivers are caught",
            report.checks.len() - 1
        );
        exit::OK
    } else if !report.infrastructure.is_empty() && failed.is_empty() {
        outln!("client selfcheck FAILED: infrastructure errors");
        exit::INFRASTRUCTURE
    } else {
        outln!("client selfcheck FAILED: {}", failed.join(", "));
        exit::FAILURES
    }
}
