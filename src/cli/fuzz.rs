//! `tessera fuzz`: random operation sequences against a target, judged by
//! the model; a failure is shrunk and written as a regression scenario.
//!
//! `--target` takes what `tessera run --target` takes (plus `model` and
//! `model:<fault>`, the fuzzer's own model as a self-test); the work is
//! `tessera::fuzz`. `--knob NAME=VALUE` sets a knob on the in-process
//! reference (or the model target) and in the model's predictions alike.
//! This module prints and maps outcomes to exit codes.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tessera::client::Timeouts;
use tessera::exit;
use tessera::fuzz::exec::Executor;
use tessera::fuzz::http::HttpExecutor;
use tessera::fuzz::machine::{self, FuzzConfig, FuzzOutcome, Progress};
use tessera::fuzz::ops::OpKind;
use tessera::fuzz::shrink_to_yaml::{self, Origin};
use tessera::knobs::Knobs;
use tessera::reference::Deviation;
use tessera::target::Target;

use super::{DeviationArgs, SequenceArgs, TimeoutArgs};

#[derive(Debug, clap::Args)]
pub struct FuzzArgs {
    /// `reference` (the in-process server, default) or a target URL/profile.
    #[arg(long, default_value = "reference")]
    pub target: String,
    #[command(flatten)]
    pub sequences: SequenceArgs,
    /// Stop trying new sequences after this long (`60s`, `5m`).
    #[arg(long, value_parser = parse_budget)]
    pub time_budget: Option<Duration>,
    /// Where a shrunk regression scenario is written.
    #[arg(long, default_value = "specs/regressions")]
    pub out: PathBuf,
    #[command(flatten)]
    pub deviation: DeviationArgs,
    #[command(flatten)]
    pub timeout: TimeoutArgs,
    /// Start the in-process reference with this knob value, and predict
    /// with it (repeatable): `web_tier_auth=true`, `max_concurrent_sessions=2`.
    #[arg(long = "knob", value_name = "NAME=VALUE", value_parser = parse_knob)]
    pub knobs: Vec<KnobSetting>,
}

/// One `--knob NAME=VALUE`, checked against [`Knobs`].
#[derive(Debug, Clone, PartialEq)]
pub struct KnobSetting {
    pub name: String,
    pub value: serde_json::Value,
}

impl std::fmt::Display for KnobSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.name, self.value)
    }
}

/// `NAME=VALUE`, the value as JSON (`true`, `30`, `null`, `["10.0.0.1"]`)
/// or else as a string; the name must be a knob and the value fit it.
fn parse_knob(s: &str) -> Result<KnobSetting, String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("NAME=VALUE, one of the knobs {}", Knobs::NAMES.join(", ")))?;
    let (name, value) = (name.trim(), value.trim());
    let value =
        serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
    Knobs::default()
        .with(name, &value)
        .map_err(|e| e.to_string())?;
    Ok(KnobSetting {
        name: name.to_owned(),
        value,
    })
}

/// `knobs` with every setting applied in order.
fn with_settings(knobs: Knobs, settings: &[KnobSetting]) -> Result<Knobs, (u8, String)> {
    settings.iter().try_fold(knobs, |k, s| {
        k.with(&s.name, &s.value)
            .map_err(|e| (exit::USAGE, e.to_string()))
    })
}

fn parse_budget(s: &str) -> Result<Duration, String> {
    tessera::scenario::model::parse_duration(s)
}

/// A target ready to fuzz: the executor, the knobs the model predicts
/// with, and the operation kinds it can take.
pub struct Prepared {
    pub exec: Box<dyn Executor>,
    pub knobs: Knobs,
    pub kinds: BTreeSet<OpKind>,
    /// Kinds the target cannot take for want of control (counted, not
    /// generated).
    pub left_out: Vec<OpKind>,
}

/// `left out (no control API): clock-advance, password-change`, or nothing.
pub fn left_out_line(left_out: &[OpKind]) -> Option<String> {
    (!left_out.is_empty()).then(|| {
        let names: Vec<&str> = left_out.iter().map(|k| k.name()).collect();
        format!(
            "left out ({} kind(s) need the control API, which the target does not offer): {}; \
             cases run on the real clock, no reset, instants within time_tolerance",
            names.len(),
            names.join(", ")
        )
    })
}

/// Resolves `--target` (what `tessera run --target` takes) into an
/// executor. Errors carry the exit code.
pub fn prepare(
    rt: &Arc<tokio::runtime::Runtime>,
    target: &str,
    deviations: &[Deviation],
    knobs: &[KnobSetting],
    timeouts: Timeouts,
) -> Result<Prepared, (u8, String)> {
    // `model` and `model:<deviation>`: the fuzzer's own model as the target
    // (no HTTP) — a self-test and a measure of the loop's own cost.
    if let Some(rest) = target.strip_prefix("model") {
        use tessera::fuzz::exec::{FakeDeviation, ModelExecutor};
        let dev = match rest {
            "" => None,
            ":accept-expired-tokens" => Some(FakeDeviation::AcceptExpiredTokens),
            ":no-expiration-clamp" => Some(FakeDeviation::NoExpirationClamp),
            ":ignore-ip-binding" => Some(FakeDeviation::IgnoreIpBinding),
            other => {
                return Err((exit::USAGE, format!("unknown model variant `{other}`")));
            }
        };
        let knobs = with_settings(Knobs::default(), knobs)?;
        return Ok(Prepared {
            exec: Box::new(ModelExecutor::new(knobs.clone(), dev)),
            knobs,
            kinds: OpKind::ALL.into_iter().collect(),
            left_out: Vec::new(),
        });
    }
    super::deviations_apply(target, deviations).map_err(|e| (exit::USAGE, e))?;
    if target != "reference" && !knobs.is_empty() {
        return Err((
            exit::USAGE,
            "--knob applies to `--target reference` and `model` only; a remote \
             target declares its knobs in its profile"
                .into(),
        ));
    }
    let mut t = rt
        .block_on(Target::resolve(target, deviations.to_vec(), timeouts))
        .map_err(|e| (e.exit_code(), e.to_string()))?;
    // The executor starts the reference with the target's knobs.
    t.knobs = with_settings(t.knobs, knobs)?;
    let exec = HttpExecutor::new(rt.clone(), &t, timeouts)
        .map_err(|e| (exit::INFRASTRUCTURE, e.to_string()))?;
    Ok(Prepared {
        knobs: exec.knobs().clone(),
        kinds: HttpExecutor::kinds(&t),
        left_out: tessera::fuzz::http::left_out(&t),
        exec: Box::new(exec),
    })
}

pub fn execute(args: FuzzArgs) -> u8 {
    let seed = args.sequences.seed();
    let rt = match super::runtime() {
        Ok(rt) => Arc::new(rt),
        Err(code) => return code,
    };
    let Prepared {
        mut exec,
        knobs,
        kinds,
        left_out,
    } = match prepare(
        &rt,
        &args.target,
        &args.deviation.deviations,
        &args.knobs,
        args.timeout.timeouts(),
    ) {
        Ok(p) => p,
        Err((code, e)) => {
            errln!("tessera fuzz: {e}");
            return code;
        }
    };
    let config = FuzzConfig {
        cases: args.sequences.cases,
        max_steps: args.sequences.max_steps,
        time_budget: args.time_budget,
        knobs: knobs.clone(),
        kinds,
        ..FuzzConfig::new(seed)
    };
    let set: Vec<String> = args.knobs.iter().map(|k| k.to_string()).collect();
    errln!(
        "fuzzing {}{}{} with seed {seed} ({} cases, up to {} steps each)",
        args.target,
        if args.deviation.deviations.is_empty() {
            String::new()
        } else {
            format!(" (deviation {})", args.deviation.names())
        },
        if set.is_empty() {
            String::new()
        } else {
            format!(" (knobs {})", set.join(", "))
        },
        config.cases,
        config.max_steps
    );
    if let Some(line) = left_out_line(&left_out) {
        errln!("{line}");
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(u64::from(config.cases));
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} cases {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut on_progress = |p: Progress| {
        if let Some(b) = &bar {
            b.set_position(u64::from(p.cases_run));
            b.set_message(if p.shrinking {
                format!("{} ops, shrinking", p.ops_run)
            } else {
                format!("{} ops", p.ops_run)
            });
        }
    };
    let outcome = machine::run(&config, exec.as_mut(), &mut on_progress);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    match outcome {
        Err(e) => {
            errln!("tessera fuzz: {e}");
            exit::INFRASTRUCTURE
        }
        Ok(o) => report(&args, &knobs, &o),
    }
}

fn report(args: &FuzzArgs, knobs: &Knobs, o: &FuzzOutcome) -> u8 {
    let secs = o.elapsed.as_secs_f64().max(1e-9);
    outln!(
        "{} cases, {} operations in {:.1}s ({:.0} ops/s){}",
        o.cases_run,
        o.ops_run,
        secs,
        o.ops_run as f64 / secs,
        if o.budget_exhausted {
            " — time budget reached"
        } else {
            ""
        }
    );
    for (kind, n) in &o.ops_per_kind {
        outln!("  {:<20} {n}", kind.name());
    }
    let Some(f) = &o.failure else {
        outln!("no divergence from the model (seed {})", o.seed);
        return exit::OK;
    };
    let m = &f.divergence.mismatch;
    outln!(
        "DIVERGENCE at step {} of a {}-step sequence (shrunk from {}): {m}",
        f.divergence.step + 1,
        f.ops.len(),
        f.original_len
    );
    let name = shrink_to_yaml::file_name(o.seed, &f.ops);
    let origin = Origin {
        id: format!("regressions/{}", name.trim_end_matches(".yaml")),
        seed: o.seed,
        summary: format!("{} ({})", m.observed, m.rules.join(", ")),
    };
    let text = match shrink_to_yaml::to_yaml(knobs, &f.ops, &origin) {
        Ok(t) => t,
        Err(e) => {
            errln!("tessera fuzz: {e}");
            return exit::INFRASTRUCTURE;
        }
    };
    let path = args.out.join(&name);
    let written = std::fs::create_dir_all(&args.out).and_then(|_| std::fs::write(&path, text));
    match written {
        Ok(()) => outln!("regression scenario: {}", path.display()),
        Err(e) => errln!("could not write {}: {e}", path.display()),
    }
    let devs: String = args
        .deviation
        .deviations
        .iter()
        .map(|d| format!(" --deviation {d}"))
        .chain(args.knobs.iter().map(|k| format!(" --knob '{k}'")))
        .collect();
    outln!(
        "replay: tessera fuzz --target {}{devs} --seed {} --cases {} --max-steps {}",
        args.target,
        o.seed,
        args.sequences.cases,
        args.sequences.max_steps
    );
    exit::FAILURES
}
