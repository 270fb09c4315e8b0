//! The test-only control API (semantics.md "Reference server control"):
//! `GET/POST /_tessera/clock`, `POST /_tessera/reset`,
//! `POST /_tessera/users/{name}/password`, `GET/POST /_tessera/knobs` (POST
//! sets the knobs it names, all or nothing; reset restores the config's). Served only with control on (and a
//! virtual clock); otherwise every `/_tessera/` path is a JSON 404. Bodies are
//! JSON. It never echoes a password.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::clock::Clock;
use super::errors::{Format, body, error_value, not_found};
use super::params::Ctx;
use super::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    advance_ms: Option<i64>,
    set_ms: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    password: String,
}

fn bad(msg: &str) -> Response {
    body(
        Format::Json,
        StatusCode::BAD_REQUEST,
        &error_value(400, msg, &[]),
    )
}

fn ok(v: Value) -> Response {
    body(Format::Json, StatusCode::OK, &v)
}

fn knobs_json(st: &AppState) -> Value {
    serde_json::to_value(&*st.knobs()).unwrap_or(Value::Null)
}

/// `rest` is the path after `/_tessera/`.
pub fn handle(st: &AppState, ctx: &Ctx, rest: &str) -> Response {
    let Some(clock) = st.control_clock() else {
        return not_found();
    };
    let post = ctx.method == Method::POST;
    match rest {
        "clock" if ctx.method == Method::GET => ok(json!({"now_ms": clock.now_ms()})),
        "clock" if post => {
            let Ok(b) = serde_json::from_slice::<ClockBody>(&ctx.body) else {
                return bad(r#"expected {"advance_ms": N} or {"set_ms": T}"#);
            };
            let r = match (b.advance_ms, b.set_ms) {
                (Some(n), None) => clock.advance(n),
                (None, Some(t)) => clock.set(t),
                _ => return bad(r#"expected exactly one of advance_ms, set_ms"#),
            };
            match r {
                Ok(now) => ok(json!({"now_ms": now})),
                Err(e) => bad(&e.to_string()),
            }
        }
        "knobs" if ctx.method == Method::GET => ok(knobs_json(st)),
        "knobs" if post => {
            let Ok(serde_json::Value::Object(set)) =
                serde_json::from_slice::<serde_json::Value>(&ctx.body)
            else {
                return bad(
                    r#"expected a JSON object of knobs, such as {"short_lived_minutes": 30}"#,
                );
            };
            let mut k = (*st.knobs()).clone();
            for (name, value) in &set {
                match k.with(name, value) {
                    Ok(next) => k = next,
                    Err(e) => return bad(&e.to_string()),
                }
            }
            st.set_knobs(k);
            ok(knobs_json(st))
        }
        "reset" if post => {
            st.reset();
            ok(json!({}))
        }
        _ => {
            let name = rest
                .strip_prefix("users/")
                .and_then(|r| r.strip_suffix("/password"));
            match name {
                Some(name) if post => {
                    let Ok(b) = serde_json::from_slice::<PasswordBody>(&ctx.body) else {
                        return bad(r#"expected {"password": "..."}"#);
                    };
                    let mut inner = st.lock();
                    match inner.accounts.iter_mut().find(|a| *a.name == *name) {
                        Some(a) => {
                            // LT-9: the epoch bump retires every earlier token.
                            a.password = b.password;
                            a.epoch += 1;
                            ok(json!({}))
                        }
                        None => not_found(),
                    }
                }
                _ => not_found(),
            }
        }
    }
}
