//! A client for the reference control protocol (semantics.md, "Reference
//! server control"): read and advance the clock, reset state, change a
//! password. Used on every target that declares clock or password control.
//!
//! Errors are plain strings for the error verdict's reason; bodies sent here
//! may hold a password, so they are never part of an error message.

use super::http::{self, Clients, PreparedRequest, Response, TransportError};

/// The control API of one server.
#[derive(Debug, Clone, Copy)]
pub struct Control<'a> {
    pub clients: &'a Clients,
    /// Without a trailing slash.
    pub base_url: &'a str,
}

impl Control<'_> {
    async fn call(&self, req: PreparedRequest) -> Result<Response, String> {
        let what = format!(
            "{} {}",
            req.method,
            req.url.trim_start_matches(self.base_url)
        );
        let c = self.clients.for_source(None).map_err(|e| e.to_string())?;
        let r = http::send(&c, &req)
            .await
            .map_err(|e| format!("control API {what}: {e}"))?;
        if r.status != 200 {
            return Err(format!("control API {what} answered HTTP {}", r.status));
        }
        Ok(r)
    }

    fn now_of(r: &Response) -> Result<i64, String> {
        clock_of(r).ok_or_else(|| "control API clock answer has no integer `now_ms`".to_string())
    }

    /// Whether the server offers the control API: `Ok(true)` when
    /// `GET /_tessera/clock` answers 200 with an integer `now_ms`, `Ok(false)`
    /// for any other answer, `Err` when nothing answers.
    pub async fn probe(&self) -> Result<bool, TransportError> {
        let c = self.clients.for_source(None)?;
        let r = http::send(&c, &self.clock_request()).await?;
        Ok(r.status == 200 && clock_of(&r).is_some())
    }

    fn clock_request(&self) -> PreparedRequest {
        PreparedRequest::get(format!("{}/_tessera/clock", self.base_url))
    }

    /// `GET /_tessera/clock`.
    pub async fn now(&self) -> Result<i64, String> {
        let r = self.call(self.clock_request()).await?;
        Self::now_of(&r)
    }

    /// `POST /_tessera/clock {"advance_ms": N}`; returns the new now.
    pub async fn advance(&self, ms: u64) -> Result<i64, String> {
        let r = self
            .call(PreparedRequest::post_json(
                format!("{}/_tessera/clock", self.base_url),
                &serde_json::json!({ "advance_ms": ms }),
            ))
            .await?;
        Self::now_of(&r)
    }

    /// `POST /_tessera/reset`.
    pub async fn reset(&self) -> Result<(), String> {
        self.call(PreparedRequest::post_json(
            format!("{}/_tessera/reset", self.base_url),
            &serde_json::json!({}),
        ))
        .await
        .map(|_| ())
    }

    /// `POST /_tessera/users/{name}/password` (LT-9).
    pub async fn set_password(&self, user: &str, password: &str) -> Result<(), String> {
        let name: String = url::form_urlencoded::byte_serialize(user.as_bytes()).collect();
        self.call(PreparedRequest::post_json(
            format!("{}/_tessera/users/{name}/password", self.base_url),
            &serde_json::json!({ "password": password }),
        ))
        .await
        .map(|_| ())
    }
}

impl Control<'_> {
    /// `GET /_tessera/knobs`: the knobs in force, as a JSON object.
    pub async fn knobs(&self) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        let r = self
            .call(PreparedRequest::get(format!(
                "{}/_tessera/knobs",
                self.base_url
            )))
            .await?;
        knobs_of(&r)
    }

    /// `POST /_tessera/knobs`: sets the knobs named (all or nothing); returns
    /// the knobs now in force.
    pub async fn set_knobs(
        &self,
        knobs: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        let r = self
            .call(PreparedRequest::post_json(
                format!("{}/_tessera/knobs", self.base_url),
                &serde_json::Value::Object(knobs.clone()),
            ))
            .await?;
        knobs_of(&r)
    }
}

fn knobs_of(r: &Response) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match r.json() {
        Some(serde_json::Value::Object(m)) => Ok(m),
        _ => Err("control API knobs answer is not a JSON object".into()),
    }
}

/// The `now_ms` of a clock answer.
fn clock_of(r: &Response) -> Option<i64> {
    r.json()
        .and_then(|j| j.get("now_ms").and_then(|n| n.as_i64()))
}
