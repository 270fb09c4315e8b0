//! GitHub Actions workflow commands: one `::error` (a warn: `::warning`)
//! per failure group (see [`super::groups`]), on the line of the failing
//! step in the scenario file, so the failure shows in the pull request's
//! diff view. Pure: the CLI prints it when `GITHUB_ACTIONS=true`.
//!
//! Escaping follows the runner's rules: in the message `%`, `\r`, `\n`
//! become `%25`, `%0D`, `%0A`; in property values `:` and `,` too.

use std::fmt::Write as _;

use super::groups::{self, Group};
use super::model::{Report, Verdict};

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::error file=F,line=L,title=T::message` for one group.
fn annotation(g: &Group) -> String {
    let level = if g.verdict == Verdict::Warn {
        "warning"
    } else {
        "error"
    };
    let mut props = format!("file={}", escape_property(&g.file));
    if let Some(line) = g.what.line() {
        let _ = write!(props, ",line={line}");
    }
    let title = format!("{} {}", g.verdict.as_str(), g.scenario);
    let _ = write!(props, ",title={}", escape_property(&title));
    let mut msg = g.what.one_line();
    let cases = g.cases_text(usize::MAX);
    if !cases.is_empty() {
        let _ = write!(msg, "\n{cases}");
    }
    if g.expected {
        msg.push_str("\n(expected by the baseline)");
    }
    format!("::{level} {props}::{}\n", escape_data(&msg))
}

/// Every annotation of the run, in the groups' stable order. Expected
/// failures (baseline) are not annotated as errors: they do not fail the
/// run, so they become notices.
pub fn annotations(r: &Report) -> String {
    groups::groups(r)
        .iter()
        .map(|g| {
            let a = annotation(g);
            if g.expected {
                a.replacen("::error ", "::notice ", 1)
            } else {
                a
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::tests::{report, scenario};

    #[test]
    fn one_annotation_per_group_on_the_step_line_warns_as_warnings() {
        let mut f = scenario("lifetimes/expired", &["LT-5"], Verdict::Fail, &["LT-5"]);
        f.steps[0].checks[0].actual = "50%\nof it, really: yes".into();
        let w = scenario(
            "lifetimes/b",
            &["LT-5/SHOULD"],
            Verdict::Warn,
            &["LT-5/SHOULD"],
        );
        let text = annotations(&report(vec![w, f]));
        insta::assert_snapshot!(text, @r"
        ::error file=specs/lifetimes/expired.yaml,line=7,title=fail lifetimes/expired::[LT-5] status: expected 200, got 50%25%0Aof it, really: yes
        ::warning file=specs/lifetimes/b.yaml,line=7,title=warn lifetimes/b::[LT-5/SHOULD] status: expected 200, got 500
        ");
    }

    #[test]
    fn properties_escape_colons_and_commas() {
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
