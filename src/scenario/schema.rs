//! The JSON Schema of the scenario format, generated from the file types in
//! `model` by schemars, so it cannot drift from what `load` accepts. A copy is
//! committed as `fixtures/schema/scenario.schema.json` (editors point at it);
//! a test fails when that copy is stale. No YAML here.

use super::model::ScenarioFile;

/// The JSON Schema (draft 2020-12) of one scenario file.
pub fn scenario_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(ScenarioFile);
    schema.to_value()
}

/// [`scenario_schema`] as pretty JSON with a final newline: the exact text of
/// the committed copy and of `tessera schema scenario`.
pub fn scenario_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&scenario_schema())
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_schema_is_current() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/schema/scenario.schema.json"
        );
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == scenario_schema_text(),
            "fixtures/schema/scenario.schema.json is stale; regenerate it with\n    \
             cargo run -- schema > fixtures/schema/scenario.schema.json"
        );
    }

    #[test]
    fn schema_denies_unknown_fields_and_names_the_step_actions() {
        let s = scenario_schema();
        assert_eq!(s["additionalProperties"], false);
        let step = &s["$defs"]["RawStep"]["properties"];
        for action in ["request", "advance", "wait", "concurrent", "set_password"] {
            assert!(step.get(action).is_some(), "{action}");
        }
    }
}
