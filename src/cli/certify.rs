//! `tessera certify`: certify one or more token clients, each through its
//! driver (`--driver CMD`, `client-rules.md` "The driver contract"): load
//! the cases (`specs/clients/` by default), select them (`--plan`, `--tier`,
//! `--case`), play every case for every driver (`--jobs` at a time), judge,
//! print the result, write the reports (`--report-dir`) and exit with the
//! run's code (`tessera::exit`: 0 pass, 1 fail or error, 2 usage, 3 a case
//! file does not load, 4 infrastructure, 5 nothing selected, 130
//! interrupted: Ctrl-C kills every driver's process group, writes nothing).
//!
//! The work is `tessera::certify::run`; what is here is about the command
//! line and the terminal.

use std::path::PathBuf;
use std::sync::Arc;

use tessera::certify::driver::DriverSpec;
use tessera::certify::load::Case;
use tessera::certify::plan::CasePlan;
use tessera::certify::run::{self, CaseJudge, Progress, RunOptions, Worlds};
use tessera::certify::verdict::Verdict;
use tessera::exit;

/// `--plan`: which family of cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanChoice {
    /// Token cases (portal, server, federation): every case that does not
    /// need basemap sessions.
    ArcgisToken,
    /// Basemap style sessions (`sessions/start`, CL-11).
    BasemapSessions,
    /// Both.
    All,
}

impl PlanChoice {
    pub fn name(self) -> &'static str {
        match self {
            PlanChoice::ArcgisToken => "arcgis-token",
            PlanChoice::BasemapSessions => "basemap-sessions",
            PlanChoice::All => "all",
        }
    }

    /// Whether `plan` belongs to this family.
    pub fn takes(self, plan: &CasePlan) -> bool {
        let sessions = plan
            .requires
            .contains(&tessera::certify::protocol::Feature::Sessions);
        match self {
            PlanChoice::ArcgisToken => !sessions,
            PlanChoice::BasemapSessions => sessions,
            PlanChoice::All => true,
        }
    }
}

/// `--tier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TierChoice {
    /// Short token lifetimes (seconds): minutes for the whole plan.
    Fast,
    /// Real lifetimes (minutes).
    Slow,
}

impl TierChoice {
    pub fn tier(self) -> tessera::certify::plan::Tier {
        match self {
            TierChoice::Fast => tessera::certify::plan::Tier::Fast,
            TierChoice::Slow => tessera::certify::plan::Tier::Slow,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TierChoice::Fast => "fast",
            TierChoice::Slow => "slow",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct CertifyArgs {
    /// Case files or folders (searched recursively for *.yaml).
    #[arg(default_value = "specs/clients")]
    pub paths: Vec<PathBuf>,
    /// The driver of a client under test, a command run by `sh -c`
    /// (repeatable: several clients give a rules x clients matrix).
    #[arg(long = "driver", value_name = "CMD", required = true)]
    pub drivers: Vec<String>,
    /// A label for the driver at the same position (default: the client and
    /// version of its hello).
    #[arg(long = "name", value_name = "LABEL")]
    pub names: Vec<String>,
    /// Which cases: token cases, basemap sessions, or all.
    #[arg(long, value_enum, default_value = "all")]
    pub plan: PlanChoice,
    /// Fast (token lifetimes of seconds) or slow (minutes) cases.
    #[arg(long, value_enum, default_value = "fast")]
    pub tier: TierChoice,
    /// Only cases whose id matches this glob (repeatable), e.g.
    /// `client/renew-*`.
    #[arg(long = "case", value_name = "GLOB")]
    pub cases: Vec<String>,
    /// Cases played at once (each has its own listeners and driver process).
    #[arg(long, short = 'j', value_parser = super::parse_jobs, default_value = "2")]
    pub jobs: usize,
    /// The most one case may take, from starting the driver to its exit
    /// (`90s`, `5m`); past it the driver's process group is killed and the
    /// case is an error (default: from the case's idles and waits).
    #[arg(long, value_name = "DURATION", value_parser = super::parse_timeout)]
    pub case_timeout: Option<std::time::Duration>,
    /// Folder for the report files (default: none written).
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// A warn (only SHOULD clauses broken) fails the run.
    #[arg(long)]
    pub strict: bool,
    /// Print every case as it starts and finishes (by default only the
    /// cases that did not pass).
    #[arg(short, long)]
    pub verbose: bool,
}

impl CertifyArgs {
    /// The drivers with their labels; more labels than drivers is a usage
    /// error.
    pub fn specs(&self) -> Result<Vec<DriverSpec>, String> {
        if self.names.len() > self.drivers.len() {
            return Err(format!(
                "{} --name for {} --driver: each --name labels the --driver at its position",
                self.names.len(),
                self.drivers.len()
            ));
        }
        if let Some(d) = self.drivers.iter().find(|d| d.trim().is_empty()) {
            return Err(format!("--driver {d:?}: an empty command"));
        }
        Ok(self
            .drivers
            .iter()
            .enumerate()
            .map(|(i, d)| DriverSpec {
                command: d.clone(),
                name: self.names.get(i).cloned(),
            })
            .collect())
    }

    /// The cases of `--plan`, `--tier` and `--case`, in the order loaded.
    pub fn select(&self, all: Vec<Case>) -> Result<Vec<Case>, String> {
        let mut globs = globset::GlobSetBuilder::new();
        for g in &self.cases {
            let glob = globset::Glob::new(g).map_err(|e| format!("--case {g}: {e}"))?;
            globs.add(glob);
        }
        let globs = globs.build().map_err(|e| format!("--case: {e}"))?;
        let tier = self.tier.tier();
        Ok(all
            .into_iter()
            .filter(|c| c.plan.tier == tier && self.plan.takes(&c.plan))
            .filter(|c| self.cases.is_empty() || globs.is_match(&c.plan.id))
            .collect())
    }

    pub fn options(&self) -> RunOptions {
        RunOptions {
            jobs: self.jobs,
            tier: self.tier.name().into(),
            plan: self.plan.name().into(),
            strict: self.strict,
            program: "tessera".into(),
            budget: self.case_timeout,
            ..RunOptions::default()
        }
    }
}

/// Prints progress on stderr: a line per finished case that did not pass
/// (every case with `--verbose`, and every start).
pub struct Printer {
    pub verbose: bool,
    pub total: usize,
    pub done: usize,
    pub labels: Vec<String>,
}

impl Printer {
    pub fn new(verbose: bool, total: usize, drivers: &[DriverSpec]) -> Printer {
        let labels = drivers
            .iter()
            .map(|d| d.name.clone().unwrap_or_else(|| d.command.clone()))
            .collect();
        Printer {
            verbose,
            total,
            done: 0,
            labels,
        }
    }

    fn label(&self, driver: usize) -> &str {
        self.labels.get(driver).map_or("?", String::as_str)
    }

    pub fn event(&mut self, p: Progress<'_>) {
        match p {
            Progress::Started { driver, case } => {
                if self.verbose {
                    errln!("  start {} [{}]", case.id, self.label(driver));
                }
            }
            Progress::Finished { driver, result } => {
                self.done += 1;
                let quiet = matches!(result.verdict, Verdict::Pass | Verdict::NotApplicable);
                if self.verbose || !quiet {
                    let why = result
                        .reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default();
                    let count = if self.total > 0 {
                        format!("{}/{}", self.done, self.total)
                    } else {
                        self.done.to_string()
                    };
                    errln!(
                        "[{count}] {:<14} {} [{}] {:.1}s{}",
                        result.verdict.as_str(),
                        result.id,
                        self.label(driver),
                        result.duration_ms as f64 / 1000.0,
                        why
                    );
                }
            }
        }
    }
}

/// `work`, or `None` when Ctrl-C came first.
pub async fn interruptible<T>(work: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::select! {
        out = work => Some(out),
        _ = tokio::signal::ctrl_c() => None,
    }
}

/// After Ctrl-C: the drivers run in process groups of their own, so the
/// terminal's SIGINT did not reach them; shutting the runtime down drops
/// every case, and each dropped driver kills its group.
pub fn interrupted(rt: tokio::runtime::Runtime) -> u8 {
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    errln!("interrupted: no report written");
    exit::INTERRUPTED
}

/// The exit code of a finished run.
pub fn exit_code(passed: bool, infrastructure: &[String]) -> u8 {
    if !infrastructure.is_empty() {
        exit::INFRASTRUCTURE
    } else if passed {
        exit::OK
    } else {
        exit::FAILURES
    }
}

/// A folder of the run's own (the CA file drivers trust), removed at the
/// end.
pub struct RunDir(PathBuf);

impl RunDir {
    pub fn create(what: &str) -> Result<RunDir, String> {
        let nonce = getrandom::u64().unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "tessera-{what}-{}-{nonce:016x}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(RunDir(dir))
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Loads the case files; a bad one is printed (file:line:col) and is
/// [`exit::LOAD_ERROR`].
pub fn load(paths: &[PathBuf]) -> Result<Vec<Case>, u8> {
    tessera::certify::load::load_cases(paths).map_err(|diags| {
        err!("{}", tessera::scenario::render_all(&diags, false));
        exit::LOAD_ERROR
    })
}

/// The run's worlds with TLS material in `dir`; a failure is printed and
/// is [`exit::INFRASTRUCTURE`].
pub fn worlds(dir: &RunDir) -> Result<Worlds, u8> {
    Worlds::new(Some(dir.path())).map_err(|e| {
        errln!("error: cannot prepare the run's TLS material: {e}");
        exit::INFRASTRUCTURE
    })
}

pub fn execute(args: CertifyArgs) -> u8 {
    let specs = match args.specs() {
        Ok(s) => s,
        Err(e) => {
            errln!("error: {e}");
            return exit::USAGE;
        }
    };
    let all = match load(&args.paths) {
        Ok(all) => all,
        Err(code) => return code,
    };
    let cases = match args.select(all) {
        Ok(c) => c,
        Err(e) => {
            errln!("error: {e}");
            return exit::USAGE;
        }
    };
    if cases.is_empty() {
        errln!(
            "no case selected (plan {}, tier {}{})",
            args.plan.name(),
            args.tier.name(),
            if args.cases.is_empty() {
                String::new()
            } else {
                format!(", --case {}", args.cases.join(" "))
            }
        );
        return exit::NOTHING_SELECTED;
    }
    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let dir = match RunDir::create("certify") {
        Ok(d) => d,
        Err(e) => {
            errln!("error: cannot create the run's folder: {e}");
            return exit::INFRASTRUCTURE;
        }
    };
    let worlds = match worlds(&dir) {
        Ok(w) => w,
        Err(code) => return code,
    };
    let opts = args.options();
    errln!(
        "certifying {} client{} on {} case{} ({} at a time)",
        specs.len(),
        if specs.len() == 1 { "" } else { "s" },
        cases.len(),
        if cases.len() == 1 { "" } else { "s" },
        opts.jobs
    );
    let mut printer = Printer::new(args.verbose, cases.len() * specs.len(), &specs);
    let plans: Vec<CasePlan> = cases.iter().map(|c| c.plan.clone()).collect();
    let out = rt.block_on(interruptible(run::certify(
        Arc::new(plans),
        Arc::new(specs),
        Arc::new(worlds),
        Arc::new(CaseJudge { cases }),
        &opts,
        &mut |p| printer.event(p),
    )));
    let Some(out) = out else {
        return interrupted(rt);
    };
    drop(dir);
    out!(
        "{}",
        tessera::certify::report::console::render(&out.certification)
    );
    for why in &out.infrastructure {
        errln!("infrastructure: {why}");
    }
    if let Some(dir) = &args.report_dir {
        match tessera::certify::report::write_all(&out.certification, dir) {
            Ok(files) => {
                for f in files {
                    errln!("wrote {}", f.display());
                }
            }
            Err(e) => {
                errln!("error: {e}");
                return exit::INFRASTRUCTURE;
            }
        }
    }
    exit_code(out.certification.passed, &out.infrastructure)
}
