//! The JSON report: the report model serialized, pretty-printed. Pure.

use super::model::Report;

/// `report.json`'s text.
pub fn write(report: &Report) -> String {
    // The model is plain data (strings, numbers, maps with string keys):
    // serialization cannot fail.
    let mut s = serde_json::to_string_pretty(report).expect("the report model serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::tests::{report, scenario};
    use crate::report::model::{REPORT_FORMAT_VERSION, Verdict};

    #[test]
    fn round_trips_and_carries_the_format_version() {
        let r = report(vec![scenario("lifetimes/a", &["LT-1"], Verdict::Pass, &[])]);
        let text = write(&r);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["format_version"], REPORT_FORMAT_VERSION);
        assert_eq!(REPORT_FORMAT_VERSION, 2);
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
    }
}
