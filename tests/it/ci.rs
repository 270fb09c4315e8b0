//! Output a person can act on and a tool that fits CI: the grouped,
//! stable console (`-q`, `--color`), GitHub annotations and the step
//! summary, case-level selection (`--filter 'area/name[case]'`, `tessera
//! list`), scenario-level baselines, completions and the man page, Ctrl-C,
//! and the usage errors a new user trips over.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use tessera::report::Verdict;

use crate::support::{arg, both, code, repo, report, stderr, stdout, tessera, tessera_env};

const SAMPLES: &str = "fixtures/runner/reference";
const FAILING: &str = "samples/default-expiration";
const DEVIATION: &str = "accept-expired-tokens";
const MATRIX: &str = "header-precedence/all-five-carriers";
const CASE: &str = "x-esri-valid-others-valid";

/// Run ids and timings vary between runs; the rest must not.
fn stable(text: &str) -> String {
    let ms = regex::Regex::new(r"\(\d+ ms\)").unwrap();
    ms.replace_all(text, "(N ms)")
        .lines()
        .filter(|l| !l.starts_with("report: "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_failing_suite_run_is_short_grouped_and_the_same_twice() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let run = |dir: &std::path::Path| {
        tessera(&[
            "run",
            "--deviation",
            DEVIATION,
            "--out",
            &dir.display().to_string(),
        ])
    };
    let (x, y) = (run(a.path()), run(b.path()));
    assert_eq!(code(&x), 1, "{}", both(&x));
    let text = stdout(&x);
    assert!(
        text.lines().count() <= 80,
        "{} lines:\n{text}",
        text.lines().count()
    );
    // Nine failing cases of one check are one entry listing them.
    assert!(
        text.contains(&format!("FAIL  {MATRIX} — 9 of 9 cases: ")),
        "{text}"
    );
    assert!(
        text.contains(&format!("  - {MATRIX} fail (9 cases)\n")),
        "{text}"
    );
    assert!(text.contains("  - ... and "), "{text}");
    assert_eq!(stable(&text), stable(&stdout(&y)));
}

#[test]
fn quiet_prints_the_outcome_and_colour_follows_the_switch() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let base = ["run", SAMPLES, "--deviation", DEVIATION, "--out", &out];
    let o = tessera(&[&base[..], &["-q"]].concat());
    assert_eq!(code(&o), 1, "{}", both(&o));
    let text = stdout(&o);
    assert!(text.contains("result: FAILED"), "{text}");
    assert!(text.contains(&format!("  - {FAILING} fail")), "{text}");
    assert!(!text.contains("area "), "{text}");
    assert!(!text.contains('\x1b'), "not a terminal: no colour");
    let o = tessera(&[&base[..], &["--color", "always"]].concat());
    assert!(stdout(&o).contains("\x1b[31mFAIL \x1b[0m"), "{}", both(&o));
    let o = tessera_env(
        &[&base[..], &["--color", "auto"]].concat(),
        &[("NO_COLOR", "1")],
    );
    assert!(!stdout(&o).contains('\x1b'), "{}", both(&o));
    let o = tessera(&[&base[..], &["-v"]].concat());
    assert!(
        stdout(&o).contains("PASS  samples/requestip-binding"),
        "{}",
        both(&o)
    );
}

#[test]
fn github_actions_get_annotations_and_the_step_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let out = arg(dir.path(), "out");
    let args = ["run", SAMPLES, "--deviation", DEVIATION, "--out", &out];
    let o = tessera_env(
        &args,
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", &summary.display().to_string()),
        ],
    );
    assert_eq!(code(&o), 1, "{}", both(&o));
    let text = stdout(&o);
    let line = text
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("no annotation: {text}"));
    assert!(
        line.starts_with(&format!(
            "::error file={}/default-expiration.yaml,line=",
            repo(SAMPLES).replace(':', "%3A").replace(',', "%2C")
        )) || line.contains("default-expiration.yaml,line="),
        "{line}"
    );
    assert!(
        line.contains(&format!(",title=fail {FAILING}::[LT-5]")),
        "{line}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("earlier step\n"), "appended: {md}");
    assert!(md.contains("**FAILED**"), "{md}");
    // Elsewhere: no workflow commands.
    let o = tessera(&args);
    assert!(!stdout(&o).contains("::error"), "{}", both(&o));
}

#[test]
fn one_matrix_case_is_selected_by_its_instance_id() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let id = format!("{MATRIX}[{CASE}]");
    let o = tessera(&["run", "--filter", &id, "--out", &out]);
    assert_eq!(code(&o), 0, "{}", both(&o));
    let ids: Vec<String> = report(dir.path())
        .scenarios
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, std::slice::from_ref(&id));

    let o = tessera(&["list", "--filter", &id]);
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert!(stdout(&o).contains(&format!("  {id}\n")), "{}", both(&o));
    assert!(
        stdout(&o).ends_with("1 scenario(s), 1 instance(s) selected\n"),
        "{}",
        both(&o)
    );

    let o = tessera(&["list", "--filter", &format!("{MATRIX}[no-such-case]")]);
    assert_eq!(code(&o), 5, "{}", both(&o));
    assert!(
        stderr(&o).contains("has no case `no-such-case`"),
        "{}",
        both(&o)
    );
}

#[test]
fn list_prints_ids_cases_and_needs_without_running() {
    let o = tessera(&[
        "list",
        "--area",
        "header-precedence",
        "--filter",
        "*all-five*",
    ]);
    assert_eq!(code(&o), 0, "{}", both(&o));
    let text = stdout(&o);
    assert!(
        text.starts_with(&format!(
            "{MATRIX}  (arcgis-token; requires clock-control; knobs web_tier_auth=false; 9 cases)\n"
        )),
        "{text}"
    );
    assert!(text.contains(&format!("  {MATRIX}[{CASE}]\n")), "{text}");
    assert!(
        text.ends_with("1 scenario(s), 9 instance(s) selected\n"),
        "{text}"
    );
}

#[test]
fn a_baseline_entry_may_name_a_whole_scenario_and_the_draft_uses_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = arg(dir.path(), "first");
    let filter = format!("{MATRIX}*");
    let o = tessera(&[
        "run",
        "--filter",
        &filter,
        "--deviation",
        DEVIATION,
        "--out",
        &out,
    ]);
    assert_eq!(code(&o), 1, "{}", both(&o));
    let o = tessera(&["baseline", "write", &arg(dir.path(), "first/report.json")]);
    assert_eq!(code(&o), 0, "{}", both(&o));
    let draft = stdout(&o);
    assert_eq!(draft.matches("- id: ").count(), 1, "{draft}");
    assert!(draft.contains(&format!("- id: {MATRIX}\n")), "{draft}");
    let file = dir.path().join("baseline.yaml");
    std::fs::write(&file, &draft).unwrap();
    let o = tessera(&[
        "run",
        "--filter",
        &filter,
        "--deviation",
        DEVIATION,
        "--out",
        &arg(dir.path(), "second"),
        "--baseline",
        &file.display().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert!(
        stdout(&o).contains("gate: 9 expected failure(s)"),
        "{}",
        both(&o)
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_command_line_definition() {
    let o = tessera(&["completions", "bash"]);
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert!(stdout(&o).contains("--rerun-failed"), "{}", both(&o));
    let o = tessera(&["completions", "zsh"]);
    assert!(stdout(&o).starts_with("#compdef tessera"), "{}", both(&o));
    let o = tessera(&["completions", "fish"]);
    assert!(stdout(&o).contains("complete -c tessera"), "{}", both(&o));
    let o = tessera(&["man"]);
    assert_eq!(code(&o), 0, "{}", both(&o));
    let page = stdout(&o);
    assert!(page.contains(".TH tessera 1"), "{page}");
    assert!(page.contains("completions"), "{page}");
}

#[test]
fn ctrl_c_writes_the_reports_of_what_finished_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args([
            "run",
            "--jobs",
            "1",
            "--out",
            &dir.path().display().to_string(),
        ])
        .current_dir(crate::support::root())
        .env("CI", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("running "), "{first}");
    std::thread::sleep(std::time::Duration::from_millis(800));
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(stderr(&o).contains("interrupted: "), "{}", stderr(&o));
    let r = report(dir.path());
    let interrupted = r
        .scenarios
        .iter()
        .filter(|s| s.verdict == Verdict::Error)
        .filter(|s| {
            s.reason
                .as_deref()
                .is_some_and(|x| x.starts_with("interrupted"))
        })
        .count();
    assert!(interrupted > 0, "the rest is marked interrupted");
    assert!(
        r.scenarios.iter().any(|s| s.verdict == Verdict::Pass),
        "what finished is kept"
    );
    assert_eq!(r.outcome.map(|o| o.passed()), Some(false));
    assert!(dir.path().join("report.html").exists());
}

#[test]
fn unknown_filter_values_and_bad_options_are_usage_errors() {
    for (args, needle) in [
        (vec!["run", "--rule", "XX-1"], "unknown rule ID `XX-1`"),
        (
            vec!["run", "--area", "lifetime"],
            "unknown area `lifetime` (did you mean `lifetimes`?)",
        ),
        (
            vec!["run", "--profile", "nosuch"],
            "unknown profile `nosuch`",
        ),
        (
            vec!["list", "--area", "lifetime"],
            "did you mean `lifetimes`?",
        ),
        (vec!["run", "--jobs", "0"], "at least 1 job"),
    ] {
        let o = tessera(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", both(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", both(&o));
    }
    let o = tessera(&["run", "--area", "lifetime"]);
    assert!(
        stderr(&o).contains("the suite has header-precedence, "),
        "{}",
        both(&o)
    );
}

#[test]
fn an_unwritable_out_fails_before_the_run_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let out = arg(&file, "reports");
    let o = tessera(&["run", SAMPLES, "--out", &out]);
    assert_eq!(code(&o), 4, "{}", both(&o));
    assert!(stderr(&o).contains(&out), "{}", both(&o));
    assert!(
        !stdout(&o).contains("running "),
        "nothing ran: {}",
        both(&o)
    );
}

#[test]
fn validate_on_a_folder_without_scenarios_selects_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let o = tessera(&["validate", &dir.path().display().to_string()]);
    assert_eq!(code(&o), 5, "{}", both(&o));
    assert!(stderr(&o).contains("nothing selected"), "{}", both(&o));
}

#[test]
fn selfcheck_writes_no_carriage_return_off_a_terminal() {
    let o = tessera(&[
        "selfcheck",
        "--filter",
        "lifetimes/default*",
        "--deviation",
        DEVIATION,
    ]);
    assert!(!stderr(&o).contains('\r'), "{:?}", stderr(&o));
    assert!(!stdout(&o).contains('\r'), "{:?}", stdout(&o));
}

#[test]
fn fuzz_regressions_go_under_reports_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args([
            "fuzz",
            "--deviation",
            DEVIATION,
            "--seed",
            "2024",
            "--cases",
            "200",
        ])
        .current_dir(dir.path())
        .env("CI", "1")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", both(&o));
    let written: Vec<_> = std::fs::read_dir(dir.path().join("reports/regressions"))
        .unwrap()
        .collect();
    assert_eq!(written.len(), 1, "{}", both(&o));
    assert!(
        !dir.path().join("specs").exists(),
        "the suite is left alone"
    );
}

/// A campaign split over three jobs (`--partition k/3`, `--json`) merges
/// into the totals of the unpartitioned run with the same seed; a missing
/// share is refused.
#[test]
fn fuzz_shares_merge_into_the_unpartitioned_totals() {
    let dir = tempfile::tempdir().unwrap();
    let fuzz = |name: &str, extra: &[&str]| {
        let json = arg(dir.path(), name);
        let o = tessera(
            &[
                &[
                    "fuzz",
                    "--seed",
                    "5",
                    "--cases",
                    "9",
                    "--max-steps",
                    "12",
                    "--json",
                    &json,
                ][..],
                extra,
            ]
            .concat(),
        );
        assert_eq!(code(&o), 0, "{}", both(&o));
        json
    };
    let whole = fuzz("whole.json", &[]);
    let shares: Vec<String> = (1..=3)
        .map(|k| {
            fuzz(
                &format!("share-{k}.json"),
                &["--partition", &format!("{k}/3")],
            )
        })
        .collect();
    let out = arg(dir.path(), "merged");
    let o = tessera(
        &[
            &["report", "merge"][..],
            &[&shares[2], &shares[0], &shares[1]],
            &["--out", &out],
        ]
        .concat(),
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    let read = |p: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (m, w) = (
        read(&arg(&dir.path().join("merged"), "fuzz.json")),
        read(&whole),
    );
    for key in ["cases_run", "ops_run", "ops_per_kind", "seed", "cases"] {
        assert_eq!(m[key], w[key], "{key}");
    }
    assert!(
        std::fs::read_to_string(dir.path().join("merged/fuzz.md"))
            .unwrap()
            .contains("NO DIVERGENCE")
    );
    assert!(dir.path().join("merged/fuzz.html").exists());
    let o = tessera(&["report", "merge", &shares[0], &shares[1], "--out", &out]);
    assert_eq!(code(&o), 3, "{}", both(&o));
    assert!(
        stderr(&o).contains("shares do not cover the campaign"),
        "{}",
        both(&o)
    );
}
