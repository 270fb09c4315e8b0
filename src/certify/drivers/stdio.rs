//! The JSON-lines loop of a built-in driver: read the case's environment,
//! write `hello`, then answer each operation line on stdin with one result
//! line on stdout, until `bye`, end of input or the deadline.
//!
//! stdout carries only protocol lines; stderr gets short notes, never a
//! password or a token.

use std::io::{BufRead as _, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{Client, Shared, State, now_ms, spawn_auto_refresh, spawn_token_renewal};
use super::{DRIVERS, flaw};
use crate::certify::protocol::{self, Env, ErrorKind, Hello, HelloLine, Op, OpError, Outcome};

/// The case's environment as the driver contract hands it over.
pub fn env_from_process() -> Env {
    let var = |n: &str| std::env::var(n).unwrap_or_default();
    use protocol::env as e;
    Env {
        case: var(e::CASE),
        portal_url: var(e::PORTAL_URL),
        server_url: var(e::SERVER_URL),
        federated_url: var(e::FEDERATED_URL),
        service_url: var(e::SERVICE_URL),
        session_url: var(e::SESSION_URL),
        username: var(e::USERNAME),
        password: var(e::PASSWORD),
        ca_file: std::env::var(e::CA_FILE).ok().filter(|s| !s.is_empty()),
        context: serde_json::from_str(&var(e::CONTEXT)).unwrap_or(serde_json::Value::Null),
        deadline_ms: var(e::DEADLINE_MS).trim().parse().unwrap_or(0),
    }
}

/// The wire form of a result (`{"ok":true}`, `{"ok":false,"error":...}`,
/// `{"unsupported":true}`).
fn result_line(o: &Outcome) -> String {
    match o {
        Outcome::Ok => r#"{"ok":true}"#.to_owned(),
        Outcome::Unsupported => r#"{"unsupported":true}"#.to_owned(),
        Outcome::Failed(e) => serde_json::json!({"ok": false, "error": e}).to_string(),
    }
}

fn hello(name: &str) -> String {
    let mut options = std::collections::BTreeMap::new();
    options.insert("driver".to_owned(), serde_json::json!(name));
    options.insert("autoRefresh".to_owned(), serde_json::json!("as asked"));
    let h = HelloLine {
        hello: Hello {
            client: format!("tessera-builtin/{name}"),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            features: protocol::Feature::ALL
                .iter()
                .map(|f| f.as_str().to_owned())
                .collect(),
            options,
        },
    };
    serde_json::to_string(&h).expect("a hello always serializes")
}

fn write_line(line: &str) -> bool {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|_| out.flush()).is_ok()
}

/// Runs the built-in driver `name` on this process's stdin/stdout and
/// environment; returns the exit code (0 after `bye` or end of input, 2
/// for an unknown name or a client that cannot be built).
pub fn run(name: &str) -> u8 {
    let flaw = match flaw(name) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("tessera client-driver: {e}");
            return 2;
        }
    };
    debug_assert!(DRIVERS.iter().any(|d| d.0 == name));
    let env = env_from_process();
    let left = env.deadline_ms.saturating_sub(now_ms());
    let deadline = Instant::now()
        + if env.deadline_ms > 0 {
            Duration::from_millis(u64::try_from(left).unwrap_or(0))
        } else {
            Duration::from_secs(600)
        };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tessera client-driver: cannot start the runtime: {e}");
            return 2;
        }
    };
    let client = match Client::new(env, flaw, deadline) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tessera client-driver: {e}");
            return 2;
        }
    };
    let shared = Arc::new(Shared {
        client,
        state: tokio::sync::Mutex::new(State::default()),
    });
    if !write_line(&hello(name)) {
        return 0;
    }
    let mut timer: Option<tokio::task::JoinHandle<()>> = None;
    let renewal = {
        let _guard = rt.enter();
        spawn_token_renewal(Arc::clone(&shared))
    };
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        if Instant::now() >= deadline {
            eprintln!("tessera client-driver: deadline passed");
            break;
        }
        let op: Op = match serde_json::from_str(&line) {
            Ok(op) => op,
            Err(e) => {
                let err = OpError {
                    kind: ErrorKind::Other,
                    code: None,
                    message: Some(format!("not an operation: {e}")),
                };
                if !write_line(&result_line(&Outcome::Failed(err))) {
                    break;
                }
                continue;
            }
        };
        if op == Op::Bye {
            if let Some(t) = timer.take() {
                t.abort();
            }
            renewal.abort();
            rt.block_on(async { Client::forget(&mut *shared.state.lock().await) });
            write_line(&result_line(&Outcome::Ok));
            break;
        }
        let outcome = rt.block_on(play(&shared, &op, &mut timer));
        if !write_line(&result_line(&outcome)) {
            break;
        }
    }
    if let Some(t) = timer.take() {
        t.abort();
    }
    renewal.abort();
    rt.shutdown_timeout(Duration::from_millis(200));
    0
}

/// One operation.
async fn play(
    shared: &Arc<Shared>,
    op: &Op,
    timer: &mut Option<tokio::task::JoinHandle<()>>,
) -> Outcome {
    let c = &shared.client;
    if let Op::Idle { ms } = op {
        tokio::time::sleep(Duration::from_millis(*ms)).await;
        return Outcome::Ok;
    }
    let mut st = shared.state.lock().await;
    let r = match op {
        Op::Signin => c.signin(&mut st).await,
        Op::Request {
            url,
            method,
            params,
        } => c.request(&mut st, url, method.as_deref(), params).await,
        Op::SessionStart {
            url,
            duration,
            auto_refresh,
        } => {
            let r = c.session_start(&mut st, url.as_deref(), *duration).await;
            if let Some(t) = timer.take() {
                t.abort();
            }
            if r.is_ok() && *auto_refresh == Some(true) {
                drop(st);
                *timer = Some(spawn_auto_refresh(Arc::clone(shared)));
            }
            r
        }
        Op::SessionUse { url } => c.session_use(&mut st, url).await,
        Op::Idle { .. } | Op::Bye => Ok(()),
    };
    match r {
        Ok(()) => Outcome::Ok,
        Err(e) => Outcome::Failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_parse_back_as_the_harness_reads_them() {
        for o in [
            Outcome::Ok,
            Outcome::Unsupported,
            Outcome::Failed(OpError {
                kind: ErrorKind::NotFederated,
                code: Some(499),
                message: None,
            }),
        ] {
            assert_eq!(protocol::parse_result(&result_line(&o)), Ok(o));
        }
        let h = protocol::parse_hello(&hello("good")).unwrap();
        assert_eq!(h.client, "tessera-builtin/good");
        assert_eq!(h.known_features().len(), protocol::Feature::ALL.len());
    }
}
