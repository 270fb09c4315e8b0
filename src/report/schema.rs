//! The JSON Schema of the JSON report (`tessera schema report`), generated
//! from the model by schemars. A copy is committed as
//! `fixtures/schema/report.schema.json`; a test keeps it current (run it with
//! `TESSERA_BLESS=1` to rewrite the copy after changing the model).

use super::model::Report;

/// The report's JSON Schema (draft 2020-12).
pub fn report_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Report)).unwrap_or(serde_json::Value::Null)
}

/// The schema as pretty JSON text, newline-terminated, as committed.
pub fn report_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&report_schema()).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/schema/report.schema.json"
    );

    #[test]
    fn committed_schema_is_current() {
        let now = report_schema_text();
        if std::env::var_os("TESSERA_BLESS").is_some() {
            std::fs::write(COMMITTED, &now).unwrap();
        }
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        assert!(
            committed == now,
            "fixtures/schema/report.schema.json is stale: rerun with TESSERA_BLESS=1"
        );
    }

    #[test]
    fn schema_names_the_version_and_the_gate_mark() {
        let s = report_schema();
        assert_eq!(s["title"], "Report");
        assert!(s["properties"]["format_version"].is_object());
        assert!(
            s["required"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "scenarios")
        );
        assert!(s["$defs"]["GateMark"].is_object());
    }
}
