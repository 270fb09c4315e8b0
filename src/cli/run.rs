//! `tessera run`: load scenarios, select, resolve the target, play, print
//! and write reports, map the outcome to an exit code (`tessera::exit`).
//!
//! Everything decided here is about the command line and the terminal; the
//! work is `tessera::runner::run`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use tessera::exit;
use tessera::reference::Deviation;
use tessera::report::{console, json};
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
    /// Folder for report.json.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
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
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    tessera::scenario::model::parse_duration(s)
}

pub fn execute(args: RunArgs) -> u8 {
    // Usage checks first: they need no files and no network.
    let mut deviations = Vec::new();
    for d in &args.deviations {
        match d.parse::<Deviation>() {
            Ok(d) => deviations.push(d),
            Err(e) => {
                let known: Vec<&str> = Deviation::ALL.iter().map(|d| d.name()).collect();
                eprintln!("error: {e}; known deviations: {}", known.join(", "));
                return exit::USAGE;
            }
        }
    }
    if !deviations.is_empty() && args.target != "reference" {
        eprintln!("error: --deviation applies to `--target reference` only");
        return exit::USAGE;
    }
    for p in &args.profiles {
        if !Profile::ALL.iter().any(|x| x.as_str() == p) {
            let known: Vec<&str> = Profile::ALL.iter().map(|x| x.as_str()).collect();
            eprintln!(
                "error: unknown profile `{p}`; expected one of {}",
                known.join(", ")
            );
            return exit::USAGE;
        }
    }
    let filter = match Filter::new(&args.filters, &args.areas, &args.rules, &args.profiles) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };

    let all = match tessera::scenario::load_suite(&args.paths) {
        Ok(s) => s,
        Err(diags) => {
            for d in &diags {
                let src = std::fs::read_to_string(&d.file).ok();
                eprintln!("{}", d.render(src.as_deref()));
            }
            eprintln!("{} problem(s); nothing was run", diags.len());
            return exit::LOAD_ERROR;
        }
    };
    let selected = filter.select(all);
    if selected.is_empty() {
        eprintln!("nothing selected: no scenario matches the paths and filters");
        return exit::NOTHING_SELECTED;
    }

    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INFRASTRUCTURE;
        }
    };
    let opts = RunOptions {
        jobs: args.jobs.unwrap_or_else(|| RunOptions::default().jobs),
        timeout: args.timeout,
    };
    rt.block_on(async {
        let target =
            match Target::resolve(&args.target, deviations, Timeouts::new(args.timeout)).await {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: {e}");
                    return e.exit_code();
                }
            };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let printer = tokio::spawn(print_events(rx));
        let result = tessera::runner::run(selected, &target, &opts, Some(tx)).await;
        let _ = printer.await;
        let report = match result {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::INFRASTRUCTURE;
            }
        };
        println!();
        print!("{}", console::summary(&report));
        if let Err(e) = std::fs::create_dir_all(&args.out)
            .and_then(|_| std::fs::write(args.out.join("report.json"), json::write(&report)))
        {
            eprintln!(
                "error: cannot write {}: {e}",
                args.out.join("report.json").display()
            );
            return exit::INFRASTRUCTURE;
        }
        println!("report: {}", args.out.join("report.json").display());
        let t = report.totals();
        if t.fail + t.error > 0 {
            exit::FAILURES
        } else {
            exit::OK
        }
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
                        b.suspend(|| println!("{line}"));
                        b.inc(1);
                    }
                    None => println!("{line}"),
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
