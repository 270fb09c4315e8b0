//! `certification.json`: the [`Certification`] serialized (it carries its
//! `version`), and its JSON Schema generated from the model by schemars
//! (`tessera schema certification`). A copy of the schema is committed as
//! `fixtures/schema/certification.schema.json`; a test keeps it current
//! (`TESSERA_BLESS=1` rewrites it after a model change). Pure.

use super::guard;
use crate::certify::verdict::Certification;

/// `certification.json`'s text, pretty-printed and newline-terminated.
pub fn write(cert: &Certification) -> String {
    // Plain data (strings, numbers, lists): serialization cannot fail.
    let mut s = serde_json::to_string_pretty(cert).unwrap_or_default();
    s.push('\n');
    guard::mask(&s)
}

/// The JSON Schema of `certification.json` (draft 2020-12).
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Certification)).unwrap_or(serde_json::Value::Null)
}

/// The schema as pretty JSON text, newline-terminated, as committed.
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    const COMMITTED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/schema/certification.schema.json"
    );

    #[test]
    fn is_the_model_serialized_with_its_version() {
        let c = fixture::two();
        let text = write(&c);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v, serde_json::to_value(&c).unwrap());
        assert_eq!(v["version"], 1);
        assert_eq!(v["passed"], false);
        assert_eq!(
            v["clients"][1]["cases"][1]["findings"][0]["verdict"],
            "fail"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn committed_schema_is_current() {
        let now = schema_text();
        if std::env::var_os("TESSERA_BLESS").is_some() {
            std::fs::write(COMMITTED, &now).unwrap();
        }
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        assert!(
            committed == now,
            "fixtures/schema/certification.schema.json is stale: rerun with TESSERA_BLESS=1"
        );
    }

    #[test]
    fn schema_describes_the_model() {
        let s = schema();
        assert_eq!(s["title"], "Certification");
        for field in ["version", "tessera", "tier", "plan", "clients", "passed"] {
            assert!(
                s["required"].as_array().unwrap().iter().any(|r| r == field),
                "{field} not required"
            );
        }
        for def in [
            "ClientResult",
            "RuleResult",
            "CaseResult",
            "Finding",
            "TimelineLine",
            "CardLine",
            "Shown",
            "Verdict",
        ] {
            assert!(s["$defs"][def].is_object(), "{def} missing");
        }
        // The verdicts are spelled as serialized.
        let verdicts = s["$defs"]["Verdict"].to_string();
        assert!(verdicts.contains("not-applicable"), "{verdicts}");
    }

    /// The fixture validates against the schema's shape in the ways a
    /// consumer relies on: every required field of every object is there.
    #[test]
    fn the_output_has_every_required_field() {
        let s = schema();
        let v: serde_json::Value = serde_json::from_str(&write(&fixture::two())).unwrap();
        fn check(
            schema: &serde_json::Value,
            defs: &serde_json::Value,
            v: &serde_json::Value,
            at: &str,
        ) {
            let schema = match schema.get("$ref").and_then(|r| r.as_str()) {
                Some(r) => &defs[r.trim_start_matches("#/$defs/")],
                None => schema,
            };
            if let Some(req) = schema.get("required").and_then(|r| r.as_array()) {
                for f in req {
                    let f = f.as_str().unwrap();
                    assert!(v.get(f).is_some(), "{at}.{f} missing");
                    check(&schema["properties"][f], defs, &v[f], &format!("{at}.{f}"));
                }
            }
            if let (Some(items), Some(a)) = (schema.get("items"), v.as_array()) {
                for (i, x) in a.iter().enumerate() {
                    check(items, defs, x, &format!("{at}[{i}]"));
                }
            }
        }
        check(&s, &s["$defs"], &v, "$");
    }
}
