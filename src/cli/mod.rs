//! The command line: one module per subcommand, each with its clap arguments
//! and a function returning an exit code. Part of the binary, not the library,
//! so library users never pull in clap or progress bars.
//!
//! What several subcommands share is defined once here: the options
//! `--timeout` ([`TimeoutArgs`]), `--deviation` ([`DeviationArgs`]) and the
//! scenario filters ([`FilterArgs`]), and the tokio [`runtime`].

use std::time::Duration;

use clap::{Parser, Subcommand};
use tessera::client::Timeouts;
use tessera::exit;
use tessera::reference::{Deviation, Variants};
use tessera::report::console::{Style, Verbosity};
use tessera::select::Filter;

/// `println!` that ignores a closed stdout (`tessera ... | head`): the exit
/// code still tells the outcome, and nothing panics.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` that ignores a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that ignores a closed stderr.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!` that ignores a closed stderr.
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

/// `--timeout`, for every subcommand that talks HTTP.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct TimeoutArgs {
    /// Timeout of every HTTP request (`10s`, `500ms`).
    #[arg(long, default_value = "10s", value_parser = parse_timeout)]
    pub timeout: Duration,
}

impl TimeoutArgs {
    pub fn timeouts(&self) -> Timeouts {
        Timeouts::new(self.timeout)
    }
}

/// `--timeout`: a duration above zero (a zero timeout fails every request).
fn parse_timeout(s: &str) -> Result<Duration, String> {
    match tessera::scenario::model::parse_duration(s)? {
        d if d.is_zero() => Err(format!("a timeout above zero, found `{s}`")),
        d => Ok(d),
    }
}

/// TLS to the target (`tessera run`): extra roots, no verification, a
/// client certificate, or HTTPS for the in-process reference.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// A PEM file of CA certificates to trust besides the system's roots
    /// (a private CA, or the certificate `tessera serve --tls-cert-out` wrote);
    /// repeatable.
    #[arg(long, value_name = "FILE")]
    pub cacert: Vec<std::path::PathBuf>,
    /// Accept any server certificate and host name. Every report says so.
    #[arg(long)]
    pub insecure: bool,
    /// A PEM client certificate, for a web tier that asks for one (with
    /// --client-key).
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --client-cert.
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<std::path::PathBuf>,
    /// Serve the in-process reference over HTTPS (`--target reference` only).
    #[arg(long)]
    pub tls: bool,
}

impl TlsArgs {
    /// The files read and checked; `Err` is a usage error naming the flag.
    pub fn request(&self) -> Result<tessera::target::TlsRequest, String> {
        let read = |flag: &str, p: &std::path::Path| {
            std::fs::read(p).map_err(|e| format!("{flag} {}: {e}", p.display()))
        };
        let mut client = tessera::client::TlsOptions::default();
        client.insecure = self.insecure;
        for p in &self.cacert {
            let pem = read("--cacert", p)?;
            client
                .add_cacert_pem(&p.display().to_string(), &pem)
                .map_err(|e| format!("--cacert {e}"))?;
        }
        if let (Some(c), Some(k)) = (&self.client_cert, &self.client_key) {
            let cert = read("--client-cert", c)?;
            let key = read("--client-key", k)?;
            client
                .set_client_identity_pem(&c.display().to_string(), &cert, &key)
                .map_err(|e| format!("--client-cert/--client-key {e}"))?;
        }
        Ok(tessera::target::TlsRequest {
            client,
            reference_tls: self.tls,
        })
    }
}

/// `--deviation`, for every subcommand that starts the in-process reference.
#[derive(Debug, Clone, clap::Args)]
pub struct DeviationArgs {
    /// A deliberate rule violation of the in-process reference (repeatable;
    /// `tessera serve --list-deviations` lists them).
    #[arg(long = "deviation", value_name = "NAME")]
    pub deviations: Vec<Deviation>,
}

impl DeviationArgs {
    /// See [`deviations_apply`].
    pub fn check_target(&self, target: &str) -> Result<(), String> {
        deviations_apply(target, &self.deviations)
    }

    /// `name1, name2`, for messages.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.deviations.iter().map(|d| d.name()).collect();
        names.join(", ")
    }
}

/// [`select::select`] for `run` and `list`: an empty selection is printed
/// and becomes its exit code.
pub fn select_or_exit(
    all: Vec<tessera::scenario::model::Scenario>,
    selection: &tessera::select::Selection,
) -> Result<tessera::select::Selected, u8> {
    tessera::select::select(all, selection).map_err(|e| {
        errln!("{e}");
        exit::NOTHING_SELECTED
    })
}

/// `--variant RULE=NAME`, shared by `run` and `serve`: the in-process
/// reference answers with another listed variant of a VARIANT rule.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct VariantArgs {
    /// Another variant of a VARIANT rule for the in-process reference, as
    /// RULE=NAME (repeatable; `--target reference` only), e.g. `HP-8=ignored`
    /// or `HP-2=authorization,x-esri,query,body,cookie`; `tessera serve
    /// --list-variants` lists them.
    #[arg(long = "variant", value_name = "RULE=NAME")]
    pub variants: Vec<String>,
}

impl VariantArgs {
    /// The switches for `target`; prints a usage error and gives its exit
    /// code for an unknown rule or name, or a target other than the
    /// in-process reference.
    pub fn parse_for(&self, target: &str) -> Result<Variants, u8> {
        if !self.variants.is_empty() && target != "reference" {
            errln!("error: --variant applies to `--target reference` only");
            return Err(exit::USAGE);
        }
        Variants::from_specs(&self.variants).map_err(|e| {
            errln!("error: --variant: {e}");
            exit::USAGE
        })
    }
}

/// Deviations exist only in the in-process reference (`--target
/// reference`); asking for them on another target is a usage error.
pub fn deviations_apply(target: &str, deviations: &[Deviation]) -> Result<(), String> {
    if deviations.is_empty() || target == "reference" {
        Ok(())
    } else {
        Err("--deviation applies to `--target reference` only".into())
    }
}

/// The generated sequences of `fuzz` and `diff-targets`.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct SequenceArgs {
    /// Sequences to try.
    #[arg(long, default_value_t = 100)]
    pub cases: u32,
    /// The seed (default: a random one, printed); the same seed and targets
    /// give the same sequences and verdict.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Operations per sequence (at most).
    #[arg(long, default_value_t = 30)]
    pub max_steps: usize,
}

impl SequenceArgs {
    /// `--seed`, or a fresh random one.
    pub fn seed(&self) -> u64 {
        self.seed
            .unwrap_or_else(|| getrandom::u64().unwrap_or(0x7e55_e7a0))
    }
}

/// The scenario filters (`run`, `selfcheck`).
#[derive(Debug, Clone, clap::Args)]
pub struct FilterArgs {
    /// Only scenarios whose id matches this glob, or the one instance
    /// named exactly as printed: `area/name[case]` (repeatable).
    #[arg(long = "filter", value_name = "GLOB|ID")]
    pub filters: Vec<String>,
    /// Only scenarios of this area (repeatable).
    #[arg(long = "area", value_name = "AREA")]
    pub areas: Vec<String>,
    /// Only scenarios citing this rule ID (repeatable).
    #[arg(long = "rule", value_name = "ID")]
    pub rules: Vec<String>,
    /// Only scenarios of this profile (repeatable).
    #[arg(long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
}

impl FilterArgs {
    /// The filter; a bad glob or an unknown profile is printed and is a
    /// usage error.
    pub fn filter(&self) -> Result<Filter, u8> {
        Filter::new(&self.filters, &self.areas, &self.rules, &self.profiles).map_err(|e| {
            errln!("error: {e}");
            exit::USAGE
        })
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colours when stdout is a terminal and `NO_COLOR` is unset or empty.
    Auto,
    Always,
    Never,
}

/// How the console speaks (`run`, `report merge`).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ConsoleArgs {
    /// Print only the outcome: the result line and why the run fails.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print every instance's line and every failure in full (no caps).
    #[arg(short, long)]
    pub verbose: bool,
    /// Colour the console: auto (a terminal without `NO_COLOR`), always, never.
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub color: ColorChoice,
}

impl ConsoleArgs {
    /// The console style, reading the terminal and `NO_COLOR` once.
    pub fn style(&self) -> Style {
        use std::io::IsTerminal as _;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            verbosity: if self.quiet {
                Verbosity::Quiet
            } else if self.verbose {
                Verbosity::Verbose
            } else {
                Verbosity::Normal
            },
            color: match self.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => std::io::stdout().is_terminal() && !no_color,
            },
        }
    }
}

/// `--jobs N`: at least one (zero would play nothing and wait forever).
pub fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("at least 1 job, found `0`".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("a number of jobs, found `{s}`: {e}")),
    }
}

/// An `--area` the loaded suite does not have is printed and is a usage
/// error.
pub fn check_areas(filter: &Filter, all: &[tessera::scenario::model::Scenario]) -> Result<(), u8> {
    filter.check_areas(all).map_err(|e| {
        errln!("error: {e}");
        exit::USAGE
    })
}

/// The tokio runtime of every subcommand, built one way (multi-threaded,
/// IO and timers on). A failure is printed and is an infrastructure error.
pub fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            errln!("error: cannot start the async runtime: {e}");
            exit::INFRASTRUCTURE
        })
}

mod baseline;
mod certify;
mod client_driver;
mod completions;
mod diff_targets;
mod fuzz;
mod list;
mod probe;
mod report;
mod rules;
mod run;
mod schema;
mod selfcheck;
mod serve;
mod validate;

/// Conformance test harness for ArcGIS-style token authentication.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Play scenarios against a target and write reports.
    Run(Box<run::RunArgs>),
    /// Check scenario files without running them.
    Validate(validate::ValidateArgs),
    /// Print what `run` would select (ids, cases, needs) without running.
    List(list::ListArgs),
    /// Run the reference server.
    Serve(serve::ServeArgs),
    /// List every rule with the scenarios citing it; fail when one is uncovered.
    Rules(rules::RulesArgs),
    /// Run the suite against the reference with each deviation in turn; fail
    /// unless every deviation is caught and the clean reference passes.
    Selfcheck(selfcheck::SelfcheckArgs),
    /// Certify token clients: play the client cases through each driver and
    /// judge them by the CL rules.
    Certify(Box<certify::CertifyArgs>),
    /// Print a JSON Schema (the scenario format by default).
    Schema(schema::SchemaArgs),
    /// Merge or compare JSON reports.
    Report(report::ReportArgs),
    /// Draft a baseline of expected failures from a JSON report.
    Baseline(baseline::BaselineArgs),
    /// Fuzz a target with random token-operation sequences judged by the model.
    Fuzz(fuzz::FuzzArgs),
    /// Play the same generated sequences against two targets and list where they differ.
    DiffTargets(diff_targets::DiffTargetsArgs),
    /// Ask a target what its profile needs, and write that profile.
    Probe(probe::ProbeArgs),
    /// Print a shell completion script (bash, zsh, fish, ...).
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff) of `tessera`.
    Man,
    /// Run a built-in client-certification driver on stdin/stdout (for
    /// `tessera certify --driver` and the self-check).
    #[command(hide = true)]
    ClientDriver(client_driver::ClientDriverArgs),
}

impl Cli {
    /// Runs the command and returns the process exit code.
    pub fn execute(self) -> u8 {
        match self.command {
            Command::Run(a) => run::execute(*a),
            Command::Validate(a) => validate::execute(a),
            Command::Serve(a) => serve::execute(a),
            Command::Schema(a) => schema::execute(a),
            Command::Certify(a) => certify::execute(*a),
            Command::Rules(a) => rules::execute(a),
            Command::Selfcheck(a) => selfcheck::execute(a),
            Command::Report(a) => report::execute(a),
            Command::Baseline(a) => baseline::execute(a),
            Command::Fuzz(a) => fuzz::execute(a),
            Command::DiffTargets(a) => diff_targets::execute(a),
            Command::Probe(a) => probe::execute(a),
            Command::List(a) => list::execute(a),
            Command::Completions(a) => completions::completions(a),
            Command::Man => completions::man(),
            Command::ClientDriver(a) => client_driver::execute(a),
        }
    }
}
