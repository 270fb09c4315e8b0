//! The certification report: five writers of a [`Certification`] (console
//! text, JSON with its schema, JUnit XML, Markdown and a self-contained HTML
//! page), the behaviour card first for each client and, with several
//! clients, a rules x clients matrix (the table an SDK maintainer puts in
//! release notes).
//!
//! Every writer is a pure function of the model: none decides whether the
//! run passed ([`Certification::passed`] is decided by
//! [`Certification::decide`]) or what a case's verdict is; they lay out what
//! the evaluators put in the model. The model holds tokens as labels and no
//! passwords; every writer still passes its final text through [`guard`],
//! which masks anything shaped like a secret. [`write_all`] is the only
//! function here that touches the file system.
//!
//! The shared views (the matrix, counts, the failures in report order) live
//! here so that every format shows the same thing the same way.

pub mod console;
pub mod guard;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;

use std::fmt;
use std::path::{Path, PathBuf};

use super::verdict::{CaseResult, Certification, ClientResult, Finding, RuleResult, Verdict};

/// The JSON report's file name.
pub const JSON_FILE: &str = "certification.json";
/// The JUnit XML file name.
pub const JUNIT_FILE: &str = "certification.xml";
/// The Markdown file name.
pub const MARKDOWN_FILE: &str = "certification.md";
/// The HTML page's file name.
pub const HTML_FILE: &str = "certification.html";

/// A report file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// A format's writer.
type Writer = fn(&Certification) -> String;

/// Writes `certification.json`, `.xml`, `.md` and `.html` into `dir`
/// (created if missing) and returns their paths in that order. The console
/// text is [`console::render`]'s, for the caller to print.
pub fn write_all(cert: &Certification, dir: &Path) -> Result<Vec<PathBuf>, WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError {
        path: dir.to_owned(),
        source,
    })?;
    let files: [(&str, Writer); 4] = [
        (JSON_FILE, json::write),
        (JUNIT_FILE, junit::write),
        (MARKDOWN_FILE, markdown::write),
        (HTML_FILE, html::write),
    ];
    let mut written = Vec::with_capacity(files.len());
    for (name, writer) in files {
        let path = dir.join(name);
        std::fs::write(&path, writer(cert)).map_err(|source| WriteError {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

// ------------------------------------------------------------ shared views

/// `PASSED` or `FAILED`, as decided.
pub fn outcome(cert: &Certification) -> &'static str {
    if cert.passed { "PASSED" } else { "FAILED" }
}

/// A verdict as people read it in a sentence or a table.
pub fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Warn => "warn",
        Verdict::Fail => "fail",
        Verdict::NotApplicable => "n/a",
        Verdict::Skipped => "skipped",
        Verdict::Error => "error",
    }
}

/// Every verdict, in the order counts are listed.
pub const VERDICTS: [Verdict; 6] = [
    Verdict::Pass,
    Verdict::Warn,
    Verdict::Fail,
    Verdict::NotApplicable,
    Verdict::Skipped,
    Verdict::Error,
];

/// Cases per verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    n: [usize; VERDICTS.len()],
}

impl Counts {
    pub fn of<'a>(cases: impl IntoIterator<Item = &'a CaseResult>) -> Self {
        let mut c = Counts::default();
        for k in cases {
            c.n[VERDICTS.iter().position(|v| *v == k.verdict).unwrap_or(0)] += 1;
        }
        c
    }

    pub fn of_run(cert: &Certification) -> Self {
        Counts::of(cert.clients.iter().flat_map(|c| &c.cases))
    }

    pub fn get(&self, v: Verdict) -> usize {
        VERDICTS
            .iter()
            .position(|x| *x == v)
            .map_or(0, |i| self.n[i])
    }

    pub fn total(&self) -> usize {
        self.n.iter().sum()
    }
}

/// `25 cases: 20 pass, 1 warn, 1 fail, 3 n/a` (zero counts left out).
impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total();
        write!(f, "{total} case{}", if total == 1 { "" } else { "s" })?;
        let parts: Vec<String> = VERDICTS
            .iter()
            .filter(|v| self.get(**v) > 0)
            .map(|v| format!("{} {}", self.get(*v), verdict_label(*v)))
            .collect();
        if !parts.is_empty() {
            write!(f, ": {}", parts.join(", "))?;
        }
        Ok(())
    }
}

/// Orders rule ids naturally: `CL-2` before `CL-10`, then by suffix.
pub fn rule_key(rule: &str) -> (String, u64, String) {
    let (head, tail) = rule.split_once('/').unwrap_or((rule, ""));
    let digits_at = head
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let n = head[digits_at..].parse().unwrap_or(u64::MAX);
    (head[..digits_at].to_owned(), n, tail.to_owned())
}

/// A rule's matrix cell: `F`, `W`, `P`, `V: GET: query, POST: body`,
/// `W, V: ...`, `n/a`, `skipped`, `error` (as in the background study's
/// table e).
pub fn cell(r: &RuleResult) -> String {
    let letter = match r.verdict {
        Verdict::Pass => "P",
        Verdict::Warn => "W",
        Verdict::Fail => "F",
        other => return verdict_label(other).to_owned(),
    };
    match (r.verdict, r.variants.is_empty()) {
        (_, true) => letter.to_owned(),
        (Verdict::Pass, false) => format!("V: {}", r.variants.join(", ")),
        (_, false) => format!("{letter}, V: {}", r.variants.join(", ")),
    }
}

/// Longest matrix cell, in characters: a matrix of several clients must
/// stay readable in a CI log and fit a page, so longer cells show the
/// variant values only (`V: header, body`), then are cut with `…`. The
/// per-rule tables keep the variants whole.
pub const CELL_MAX: usize = 32;

/// A matrix cell: [`cell`] when it fits [`CELL_MAX`], else its compact
/// form.
pub fn compact_cell(r: &RuleResult) -> String {
    let full = cell(r);
    if full.chars().count() <= CELL_MAX || r.variants.is_empty() {
        return full;
    }
    let mut values: Vec<&str> = Vec::new();
    for v in &r.variants {
        let value = v.rsplit_once(": ").map_or(v.as_str(), |(_, value)| value);
        if !values.contains(&value) {
            values.push(value);
        }
    }
    let letter = match r.verdict {
        Verdict::Pass => "V: ".to_owned(),
        other => format!("{}, V: ", &cell_letter(other)),
    };
    let short = format!("{letter}{}", values.join(", "));
    if short.chars().count() <= CELL_MAX {
        short
    } else {
        let mut cut: String = short.chars().take(CELL_MAX - 1).collect();
        cut.push('…');
        cut
    }
}

fn cell_letter(v: Verdict) -> String {
    match v {
        Verdict::Pass => "P".into(),
        Verdict::Warn => "W".into(),
        Verdict::Fail => "F".into(),
        other => verdict_label(other).into(),
    }
}

/// One client's result for one rule in the matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub verdict: Verdict,
    /// What the matrix shows ([`compact_cell`]).
    pub text: String,
    /// The whole cell ([`cell`]), for a tooltip.
    pub full: String,
}

/// The rules x clients matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Client names, the columns.
    pub clients: Vec<String>,
    pub rows: Vec<MatrixRow>,
}

/// One rule across the clients.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixRow {
    pub rule: String,
    /// The levels as the first client that judged the rule states them.
    pub levels: String,
    /// One per client; `None` where that client has no result for the rule.
    pub cells: Vec<Option<Cell>>,
}

/// Every rule any client was judged on, in natural order, one cell per
/// client.
pub fn matrix(cert: &Certification) -> Matrix {
    let mut rules: Vec<(&str, &str)> = Vec::new();
    for c in &cert.clients {
        for r in &c.rules {
            if !rules.iter().any(|(id, _)| *id == r.rule) {
                rules.push((&r.rule, &r.levels));
            }
        }
    }
    rules.sort_by_key(|(id, _)| rule_key(id));
    Matrix {
        clients: cert.clients.iter().map(|c| c.name.clone()).collect(),
        rows: rules
            .into_iter()
            .map(|(rule, levels)| MatrixRow {
                rule: rule.to_owned(),
                levels: levels.to_owned(),
                cells: cert
                    .clients
                    .iter()
                    .map(|c| {
                        c.rules.iter().find(|r| r.rule == rule).map(|r| Cell {
                            verdict: r.verdict,
                            text: compact_cell(r),
                            full: cell(r),
                        })
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// A client's rules in natural order.
pub fn sorted_rules(client: &ClientResult) -> Vec<&RuleResult> {
    let mut v: Vec<&RuleResult> = client.rules.iter().collect();
    v.sort_by_key(|r| rule_key(&r.rule));
    v
}

/// A finding with its case: what the failure sections list.
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a> {
    pub case: &'a CaseResult,
    pub finding: &'a Finding,
}

/// A client's findings, failures (MUST) before warnings (SHOULD), each in
/// case order.
pub fn problems(client: &ClientResult) -> Vec<Problem<'_>> {
    let mut v: Vec<Problem<'_>> = client
        .cases
        .iter()
        .flat_map(|case| {
            case.findings
                .iter()
                .map(move |finding| Problem { case, finding })
        })
        .collect();
    // Stable: case order is kept within each verdict.
    v.sort_by_key(|p| p.finding.verdict != Verdict::Fail);
    v
}

/// A client's cases that were not judged (error, skipped) or judged not
/// applicable, with their reasons: errors first.
pub fn unjudged(client: &ClientResult) -> Vec<&CaseResult> {
    let mut v: Vec<&CaseResult> = client
        .cases
        .iter()
        .filter(|c| {
            matches!(
                c.verdict,
                Verdict::Error | Verdict::Skipped | Verdict::NotApplicable
            )
        })
        .collect();
    v.sort_by_key(|c| match c.verdict {
        Verdict::Error => 0,
        Verdict::Skipped => 1,
        _ => 2,
    });
    v
}

/// A timeline instant, seconds from the case's start: `+1.234s`.
pub fn at(real_ms: i64) -> String {
    let sign = if real_ms < 0 { '-' } else { '+' };
    let ms = real_ms.unsigned_abs();
    format!("{sign}{}.{:03}s", ms / 1000, ms % 1000)
}

/// `@esri/arcgis-rest-request 4.10.2`, from the driver's hello (empty
/// when it said neither).
pub fn client_identity(c: &ClientResult) -> String {
    match (&c.client, &c.version) {
        (Some(n), Some(v)) => format!("{n} {v}"),
        (Some(n), None) => n.clone(),
        (None, Some(v)) => format!("version {v}"),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
pub(crate) mod fixture {
    //! A hand-built certification: `rest-js-4` behaves, `python` has a
    //! MUST failure, a SHOULD warning, an errored and a not-applicable case.

    use crate::certify::verdict::*;

    fn line(real_ms: i64, text: &str, offending: bool) -> TimelineLine {
        TimelineLine {
            real_ms,
            text: text.into(),
            offending,
        }
    }

    fn rule(id: &str, levels: &str, v: Verdict, cases: &[&str], variants: &[&str]) -> RuleResult {
        RuleResult {
            rule: id.into(),
            levels: levels.into(),
            verdict: v,
            cases: cases.iter().map(|c| (*c).into()).collect(),
            variants: variants.iter().map(|c| (*c).into()).collect(),
        }
    }

    fn card(lines: &[(&str, &str)]) -> Vec<CardLine> {
        lines
            .iter()
            .map(|(t, v)| CardLine {
                topic: (*t).into(),
                value: (*v).into(),
            })
            .collect()
    }

    fn case(
        driver: &str,
        name: &str,
        id: &str,
        title: &str,
        rules: &[&str],
        v: Verdict,
    ) -> CaseResult {
        CaseResult {
            id: id.into(),
            title: title.into(),
            file: format!("specs/clients/{}.yaml", id.trim_start_matches("client/")),
            rules: rules.iter().map(|r| (*r).into()).collect(),
            verdict: v,
            reason: None,
            findings: vec![],
            shown: vec![],
            duration_ms: 1200,
            replay: format!(
                "tessera certify --driver \"{driver}\" --name {name} --case {id} --verbose"
            ),
        }
    }

    pub fn good() -> ClientResult {
        let d = "node fixtures/drivers/rest-js-4/driver.mjs";
        let n = "rest-js-4";
        let mut signin = case(
            d,
            n,
            "client/signin-post-body",
            "generateToken is a POST with the credentials in the body",
            &["CL-1", "CL-2"],
            Verdict::Pass,
        );
        signin.shown.push(Shown {
            rule: "CL-3".into(),
            about: "POST".into(),
            variant: "body".into(),
        });
        let mut sessions = case(
            d,
            n,
            "client/session-margin",
            "a basemap session is restarted before endTime",
            &["CL-11"],
            Verdict::NotApplicable,
        );
        sessions.reason = Some("the driver does not declare the feature `sessions`".into());
        ClientResult {
            name: n.into(),
            client: Some("@esri/arcgis-rest-request".into()),
            version: Some("4.10.2".into()),
            features: vec!["signin".into(), "request".into(), "federation".into()],
            driver: d.into(),
            card: card(&[
                ("carriers", "GET → header, POST → body"),
                ("binding", "referer (always matched)"),
                ("renewal margin", "portal token: 1.2 s of 20 s"),
                (
                    "reaction to 498",
                    "portal (HTTP 200): renew-retry; HTTP 401 envelope: renew-retry",
                ),
                ("reaction to foreign origins", "no token sent"),
                ("acquisitions", "3 per hour steady; peak 2 per minute"),
            ]),
            rules: vec![
                rule(
                    "CL-3",
                    "SHOULD + VARIANT",
                    Verdict::Pass,
                    &["client/signin-post-body", "client/foreign-origin-plain"],
                    &["GET: header", "POST: body"],
                ),
                rule(
                    "CL-1",
                    "MUST",
                    Verdict::Pass,
                    &["client/signin-post-body"],
                    &[],
                ),
                rule(
                    "CL-11",
                    "MUST + SHOULD",
                    Verdict::NotApplicable,
                    &["client/session-margin"],
                    &[],
                ),
                rule(
                    "CL-5",
                    "MUST",
                    Verdict::Pass,
                    &["client/foreign-origin-plain"],
                    &[],
                ),
                rule(
                    "CL-2",
                    "MUST",
                    Verdict::Pass,
                    &["client/signin-post-body"],
                    &[],
                ),
            ],
            cases: vec![
                signin,
                case(
                    d,
                    n,
                    "client/foreign-origin-plain",
                    "no token to a foreign origin",
                    &["CL-5", "CL-3"],
                    Verdict::Pass,
                ),
                sessions,
            ],
            verdict: Verdict::Pass,
        }
    }

    pub fn faulty() -> ClientResult {
        let d = "python fixtures/drivers/arcgis-python/driver.py";
        let n = "python";
        let mut foreign = case(
            d,
            n,
            "client/foreign-origin-plain",
            "no token to a foreign origin",
            &["CL-5", "CL-3"],
            Verdict::Fail,
        );
        foreign.findings.push(Finding {
            rule: "CL-5".into(),
            verdict: Verdict::Fail,
            message: "T1 (portal token for alice) was presented to the foreign origin http://127.0.0.1:40125".into(),
            entry: Some(3),
            excerpt: vec![
                line(0, "op signin", false),
                line(12, "POST portal /sharing/rest/generateToken (credentials in body) -> 200, issued T1 = portal token for alice", false),
                line(40, "op request http://127.0.0.1:40125/arcgis/rest/info", false),
                line(43, "GET foreign /arcgis/rest/info X-Esri-Authorization: Bearer T1 -> 200", true),
                line(45, "result ok", false),
            ],
        });
        let mut renewal = case(
            d,
            n,
            "client/renewal-margin",
            "a portal token is renewed before it expires",
            &["CL-7"],
            Verdict::Warn,
        );
        renewal.findings.push(Finding {
            rule: "CL-7/SHOULD".into(),
            verdict: Verdict::Warn,
            message: "T2 (portal token for alice, 20 s) was renewed 0.000 s before expires; the margin should be at least 1 s".into(),
            entry: Some(5),
            excerpt: vec![
                line(20_010, "POST portal /sharing/rest/generateToken -> 200, issued T3 = portal token for alice", true),
                line(20_015, "GET server /arcgis/rest/services X-Esri-Authorization: Bearer T3 -> 200", false),
            ],
        });
        renewal.shown.push(Shown {
            rule: "CL-7".into(),
            about: "portal token".into(),
            variant: "margin 0 s".into(),
        });
        let mut ssl = case(
            d,
            n,
            "client/ssl-declared",
            "after ssl: true, nothing goes over http",
            &["CL-12"],
            Verdict::Error,
        );
        ssl.reason = Some("the driver exited with status 1 before answering `request`".into());
        ssl.duration_ms = 30_000;
        ClientResult {
            name: n.into(),
            client: Some("arcgis".into()),
            version: Some("2.4.4".into()),
            features: vec!["signin".into(), "request".into()],
            driver: d.into(),
            card: card(&[
                ("carriers", "GET → header, POST → header"),
                ("renewal margin", "portal token: 0 s of 20 s"),
                (
                    "reaction to foreign origins",
                    "sends the home token (X-Esri-Authorization)",
                ),
            ]),
            rules: vec![
                rule(
                    "CL-1",
                    "MUST",
                    Verdict::Pass,
                    &["client/signin-post-body"],
                    &[],
                ),
                rule(
                    "CL-3",
                    "SHOULD + VARIANT",
                    Verdict::Pass,
                    &["client/foreign-origin-plain"],
                    &["GET: header", "POST: header"],
                ),
                rule(
                    "CL-5",
                    "MUST",
                    Verdict::Fail,
                    &["client/foreign-origin-plain"],
                    &[],
                ),
                rule(
                    "CL-7",
                    "MUST + SHOULD + VARIANT",
                    Verdict::Warn,
                    &["client/renewal-margin"],
                    &["portal token: margin 0 s"],
                ),
                rule(
                    "CL-12",
                    "MUST + SHOULD",
                    Verdict::Error,
                    &["client/ssl-declared"],
                    &[],
                ),
            ],
            cases: vec![
                case(
                    d,
                    n,
                    "client/signin-post-body",
                    "generateToken is a POST with the credentials in the body",
                    &["CL-1", "CL-2"],
                    Verdict::Pass,
                ),
                foreign,
                renewal,
                ssl,
            ],
            verdict: Verdict::Fail,
        }
    }

    fn run(clients: Vec<ClientResult>) -> Certification {
        let mut c = Certification {
            version: 1,
            tessera: "0.1.0".into(),
            tier: "fast".into(),
            plan: "specs/clients".into(),
            clients,
            passed: false,
        };
        c.decide(false);
        c
    }

    /// One well-behaved client.
    pub fn one_good() -> Certification {
        run(vec![good()])
    }

    /// One client with a failure, a warning and an error.
    pub fn one_faulty() -> Certification {
        run(vec![faulty()])
    }

    /// Both, for the matrix.
    pub fn two() -> Certification {
        run(vec![good(), faulty()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_sort_naturally() {
        let mut v = vec!["CL-10", "CL-2", "CL-7/SHOULD", "CL-7", "CL-1"];
        v.sort_by_key(|r| rule_key(r));
        assert_eq!(v, ["CL-1", "CL-2", "CL-7", "CL-7/SHOULD", "CL-10"]);
    }

    #[test]
    fn the_matrix_has_every_rule_once_and_a_cell_per_client() {
        let m = matrix(&fixture::two());
        assert_eq!(m.clients, ["rest-js-4", "python"]);
        let rules: Vec<&str> = m.rows.iter().map(|r| r.rule.as_str()).collect();
        assert_eq!(
            rules,
            ["CL-1", "CL-2", "CL-3", "CL-5", "CL-7", "CL-11", "CL-12"]
        );
        let text = |rule: &str| -> Vec<Option<String>> {
            m.rows
                .iter()
                .find(|r| r.rule == rule)
                .unwrap()
                .cells
                .iter()
                .map(|c| c.as_ref().map(|c| c.text.clone()))
                .collect()
        };
        assert_eq!(text("CL-2"), [Some("P".into()), None]);
        assert_eq!(
            text("CL-3"),
            [
                Some("V: GET: header, POST: body".into()),
                Some("V: GET: header, POST: header".into())
            ]
        );
        assert_eq!(text("CL-5"), [Some("P".into()), Some("F".into())]);
        assert_eq!(
            text("CL-7"),
            [None, Some("W, V: portal token: margin 0 s".into())]
        );
        assert_eq!(text("CL-11"), [Some("n/a".into()), None]);
        assert_eq!(text("CL-12"), [None, Some("error".into())]);
    }

    #[test]
    fn long_matrix_cells_show_values_then_are_cut() {
        let rule = |v: Verdict, variants: &[&str]| RuleResult {
            rule: "CL-9".into(),
            levels: "MUST".into(),
            verdict: v,
            cases: vec![],
            variants: variants.iter().map(|s| (*s).into()).collect(),
        };
        let short = rule(Verdict::Pass, &["GET: header", "POST: body"]);
        assert_eq!(compact_cell(&short), "V: GET: header, POST: body");
        let long = rule(
            Verdict::Fail,
            &[
                "portal token / server-200: renew-retry",
                "portal token / http-401: surface-error",
                "federated server token / server-200: renew-retry",
            ],
        );
        assert_eq!(compact_cell(&long), "F, V: renew-retry, surface-error");
        assert!(cell(&long).len() > CELL_MAX);
        let longer = rule(
            Verdict::Warn,
            &[
                "portal token: 0.5 s of 8.0 s, short",
                "server token: none (renewed 2.0 s after expiry)",
            ],
        );
        let c = compact_cell(&longer);
        assert_eq!(c.chars().count(), CELL_MAX);
        assert!(
            c.starts_with("W, V: 0.5 s of 8.0 s, short, n") && c.ends_with('…'),
            "{c}"
        );
        assert_eq!(compact_cell(&rule(Verdict::NotApplicable, &[])), "n/a");
    }

    #[test]
    fn counts_and_problem_order() {
        let c = fixture::two();
        assert_eq!(
            Counts::of_run(&c).to_string(),
            "7 cases: 3 pass, 1 warn, 1 fail, 1 n/a, 1 error"
        );
        assert_eq!(Counts::of([]).to_string(), "0 cases");
        let p = problems(&c.clients[1]);
        let rules: Vec<&str> = p.iter().map(|p| p.finding.rule.as_str()).collect();
        assert_eq!(rules, ["CL-5", "CL-7/SHOULD"]);
        assert!(problems(&c.clients[0]).is_empty());
        assert_eq!(at(1234), "+1.234s");
        assert_eq!(at(-5), "-0.005s");
    }

    #[test]
    fn write_all_writes_the_four_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("nested/cert");
        let written = write_all(&fixture::two(), &out).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [JSON_FILE, JUNIT_FILE, MARKDOWN_FILE, HTML_FILE]);
        for p in &written {
            assert!(!std::fs::read_to_string(p).unwrap().is_empty());
        }
        // A file where the folder should be: an error naming the path.
        let blocked = dir.path().join("file");
        std::fs::write(&blocked, "x").unwrap();
        let e = write_all(&fixture::two(), &blocked).unwrap_err();
        assert!(e.to_string().contains("file"), "{e}");
    }

    /// A run with no client (every driver failed to start, say) still
    /// renders in every format, with the outcome as decided.
    #[test]
    fn an_empty_run_renders() {
        let mut c = fixture::two();
        c.clients.clear();
        c.decide(false);
        assert!(console::render(&c).ends_with("certification PASSED: 0 clients, 0 cases\n"));
        assert!(matrix(&c).rows.is_empty());
        for out in [
            json::write(&c),
            junit::write(&c),
            markdown::write(&c),
            html::write(&c),
        ] {
            assert!(!out.is_empty() && !out.contains("template error"), "{out}");
        }
    }

    /// A secret that reached the model by mistake never reaches a report.
    #[test]
    fn planted_secrets_are_masked_in_every_format() {
        let token = "plantedTOKENabc123XYZ0987654321qwerty";
        let mut c = fixture::two();
        let f = &mut c.clients[1].cases[1].findings[0];
        f.message = format!("sent {token} to the foreign origin");
        f.excerpt[1].text =
            "POST portal /sharing/rest/generateToken password=Secr3t&username=alice".into();
        c.clients[1].card[0].value = format!("token={token}");
        let outputs = [
            console::render(&c),
            json::write(&c),
            junit::write(&c),
            markdown::write(&c),
            html::write(&c),
        ];
        for out in &outputs {
            assert!(!out.contains(token), "token leaked: {out}");
            assert!(!out.contains("Secr3t"), "password leaked: {out}");
            assert!(out.contains(guard::MASK));
        }
    }
}
