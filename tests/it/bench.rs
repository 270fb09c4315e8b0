//! Benchmarks of the reference server under load (issue 13), ignored by
//! default: `cargo test --release --test it bench -- --ignored --nocapture`.
//!
//! Each prints a ratio measured side by side in one run, so that load from
//! other processes on the machine weighs on both sides:
//! - `memory_per_live_token`: resident memory of a `tessera serve` process
//!   per live token at a million tokens, and its fall back once the clock
//!   moves past their expiry plus the purge grace (asserted: at most 300
//!   bytes a token, back within 10 % of the start);
//! - `token_checked_throughput`: token-checked requests against a bare axum
//!   handler started here, in alternating rounds;
//! - `no_errors_under_256_connections`: 256 connections for 60 s (override
//!   with `TESSERA_BENCH_SECS`) of token-checked requests; errors (asserted
//!   0) and the memory line;
//! - `fuzz_against_plain_loop`: fuzz operations a second against a plain
//!   request loop of the same client;
//! - `suite_against_plain_loop`: the conformance suite's wall time against
//!   the same requests sent one after another by a plain loop.
//!
//! Timing is printed, never asserted. Everything runs on loopback and every
//! loop is bounded in time and count.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use tessera::client::http::{self, Clients, PreparedRequest, Timeouts};
use tessera::fuzz::http::HttpExecutor;
use tessera::fuzz::machine::{self, FuzzConfig};
use tessera::reference::ServerOptions;
use tessera::reference::tokens::PURGE_GRACE_MS;
use tessera::runner::{RunOptions, run};
use tessera::target::Target;

const SECURED: &str = "/arcgis/rest/services/SampleWorldCities/MapServer";
const ISSUE_BODY: &str = "username=alice&password=alice-secret-1&f=json";
const MIB: f64 = 1024.0 * 1024.0;

/// One benchmark at a time, whatever `--test-threads` says: they measure.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A load-test client: no proxy, generous pool, a timeout per request.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(1024)
        .build()
        .expect("a client")
}

/// A `tessera serve --control` child process on a free loopback port.
struct Served {
    child: Child,
    base: String,
}

impl Served {
    fn start() -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["serve", "--control", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("tessera serve starts");
        let out = child.stdout.take().expect("stdout piped");
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .expect("tessera serve prints its URL");
        Served {
            child,
            base: line.trim().to_owned(),
        }
    }

    /// Resident memory of the server process (`VmRSS`), in bytes.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc is readable (Linux)");
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmRSS in /proc/PID/status");
        kib * 1024
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // Only the child this benchmark started, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a bounded load run did.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    ok: u64,
    errors: u64,
    secs: f64,
}

impl Tally {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.secs
    }
}

/// Runs `one(i)` for `i` in `0..count` on `concurrency` tasks until `count`
/// is reached or `limit` has passed; `one` says whether the answer was right.
async fn drive<F, Fut>(concurrency: usize, count: u64, limit: Duration, one: F) -> Tally
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let one = Arc::new(one);
    let next = Arc::new(AtomicU64::new(0));
    let (ok, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let deadline = started + limit;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (one, next, ok, errors) = (one.clone(), next.clone(), ok.clone(), errors.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count || Instant::now() >= deadline {
                        break;
                    }
                    let counter = if one(i).await { &ok } else { &errors };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    Tally {
        ok: ok.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        secs: started.elapsed().as_secs_f64(),
    }
}

/// Issues up to `count` tokens on `concurrency` connections.
async fn issue_tokens(base: &str, count: u64, concurrency: usize, limit: Duration) -> Tally {
    let (c, url) = (client(), format!("{base}/arcgis/tokens/generateToken"));
    drive(concurrency, count, limit, move |_| {
        let req = c
            .post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(ISSUE_BODY);
        async move {
            match req.send().await {
                Ok(r) if r.status() == 200 => r
                    .text()
                    .await
                    .is_ok_and(|t| t.contains("\"token\"") && !t.contains("\"error\"")),
                _ => false,
            }
        }
    })
    .await
}

/// One token of alice's, kept by the caller (never printed).
async fn one_token(c: &reqwest::Client, base: &str) -> String {
    let v: Value = c
        .post(format!("{base}/arcgis/tokens/generateToken"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(ISSUE_BODY)
        .send()
        .await
        .expect("generateToken answers")
        .json()
        .await
        .expect("generateToken answers JSON");
    v["token"].as_str().expect("a token").to_owned()
}

/// A minimal HTTP/1.1 keep-alive connection for load: a request line and a
/// Host header out, a response read by its Content-Length. Much lighter than
/// reqwest, so that the server, not the client, is what a throughput
/// measures (both sides of a ratio use it).
struct RawConn {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    async fn connect(addr: std::net::SocketAddr) -> std::io::Result<RawConn> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(RawConn {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    async fn fill(&mut self) -> std::io::Result<()> {
        use tokio::io::AsyncReadExt as _;
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }

    /// `GET target`: the status and the body.
    async fn get(&mut self, target: &str) -> std::io::Result<(u16, Vec<u8>)> {
        use tokio::io::AsyncWriteExt as _;
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
        let req = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        self.stream.write_all(req.as_bytes()).await?;
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..end]).map_err(|_| bad("head"))?;
        let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let len = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .ok_or_else(|| bad("no content-length"))?;
        let total = end + 4 + len;
        while self.buf.len() < total {
            self.fill().await?;
        }
        let body = self.buf[end + 4..total].to_vec();
        self.buf.drain(..total);
        Ok((status, body))
    }
}

/// Token-checked requests with `tokens` in turn on `connections` keep-alive
/// connections; right iff HTTP 200 without an error body.
async fn checked_requests(
    base: &str,
    tokens: Arc<Vec<String>>,
    connections: usize,
    limit: Duration,
) -> Tally {
    let addr: std::net::SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .expect("a loopback address");
    let targets: Arc<Vec<String>> = Arc::new(
        tokens
            .iter()
            .map(|t| format!("{SECURED}?f=json&token={t}"))
            .collect(),
    );
    let count = 10_000_000u64;
    let next = Arc::new(AtomicU64::new(0));
    let (ok, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let deadline = started + limit;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (targets, next, ok, errors) =
                (targets.clone(), next.clone(), ok.clone(), errors.clone());
            tokio::spawn(async move {
                let mut conn = None;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count || Instant::now() >= deadline {
                        break;
                    }
                    if conn.is_none() {
                        conn = RawConn::connect(addr).await.ok();
                    }
                    let Some(c) = conn.as_mut() else {
                        errors.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    let target = &targets[i as usize % targets.len()];
                    match c.get(target).await {
                        Ok((200, body)) if !body.windows(7).any(|w| w == b"\"error\"") => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            conn = None;
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    Tally {
        ok: ok.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        secs: started.elapsed().as_secs_f64(),
    }
}

async fn advance_clock(c: &reqwest::Client, base: &str, ms: i64) {
    let r = c
        .post(format!("{base}/_tessera/clock"))
        .json(&json!({"advance_ms": ms}))
        .send()
        .await
        .expect("the control API answers");
    assert_eq!(r.status(), 200);
}

/// Any request that takes the state lock, so that a due purge runs.
async fn poke(c: &reqwest::Client, base: &str) {
    let _ = c
        .get(format!("{base}{SECURED}"))
        .query(&[("f", "json"), ("token", "not-a-token")])
        .send()
        .await
        .expect("the server answers")
        .text()
        .await;
}

/// Past a default (60 minute) token's expiry, the grace and a purge interval.
const PAST_GRACE_MS: i64 = 60 * 60_000 + PURGE_GRACE_MS + 2 * 60_000;

#[test]
#[ignore = "a benchmark: cargo test --release --test it bench -- --ignored --nocapture"]
fn memory_per_live_token() {
    let _serial = serial();
    const TOKENS: u64 = 1_000_000;
    const CONCURRENCY: usize = 32;
    let rt = runtime(2);
    let served = Served::start();
    let base = served.base.clone();
    let c = client();
    rt.block_on(async {
        let fresh = served.rss();
        // Warm up on the same load (connections, allocator arenas, tables),
        // then let it all expire and purge: that is the start line.
        let warm = issue_tokens(&base, 50_000, CONCURRENCY, Duration::from_secs(120)).await;
        assert_eq!(warm.errors, 0);
        advance_clock(&c, &base, PAST_GRACE_MS).await;
        poke(&c, &base).await;
        let start = served.rss();
        let load = issue_tokens(&base, TOKENS, CONCURRENCY, Duration::from_secs(600)).await;
        assert_eq!(load.errors, 0);
        let full = served.rss();
        advance_clock(&c, &base, PAST_GRACE_MS).await;
        poke(&c, &base).await;
        let after = served.rss();
        let per_token = full.saturating_sub(start) as f64 / load.ok as f64;
        let back = after as f64 / start as f64;
        println!(
            "memory: fresh {:.1} MiB, start (after warm-up and purge) {:.1} MiB; \
             {} live tokens issued in {:.1}s ({:.0}/s): {:.1} MiB = {per_token:.0} bytes a live token; \
             after the clock passed expiry + grace: {:.1} MiB = {back:.3} of the start",
            fresh as f64 / MIB,
            start as f64 / MIB,
            load.ok,
            load.secs,
            load.rate(),
            full as f64 / MIB,
            after as f64 / MIB,
        );
        assert!(load.ok >= TOKENS / 2, "too few tokens issued to measure: {}", load.ok);
        assert!(per_token <= 300.0, "{per_token:.0} bytes a live token");
        assert!(back <= 1.10, "memory did not come back: {back:.3} of the start");
    });
}

/// A bare axum handler answering what the reference answers for a secured
/// service, without the token check.
async fn bare_server() -> (String, tokio::task::JoinHandle<()>) {
    let app = Router::new().route(
        SECURED,
        get(|| async {
            axum::Json(json!({
                "currentVersion": 11.3,
                "serviceDescription": "SampleWorldCities",
                "mapName": "SampleWorldCities",
                "spatialReference": {"wkid": 4326},
                "layers": [],
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("an address");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

#[test]
#[ignore = "a benchmark: cargo test --release --test it bench -- --ignored --nocapture"]
fn token_checked_throughput() {
    let _serial = serial();
    const ROUNDS: usize = 4;
    const ROUND: Duration = Duration::from_secs(3);
    const CONCURRENCY: usize = 32;
    // The servers get their own runtime with two workers (as `tessera serve`),
    // the client another.
    let servers = runtime(2);
    let (reference, bare, bare_task) = servers.block_on(async {
        let h = tessera::reference::spawn(ServerOptions::default(), ([127, 0, 0, 1], 0).into())
            .await
            .expect("the reference starts");
        let (bare, task) = bare_server().await;
        (h, bare, task)
    });
    let base = format!("http://{}", reference.addr);
    let rt = runtime(2);
    rt.block_on(async {
        let c = client();
        let mut tokens = Vec::new();
        for _ in 0..256 {
            tokens.push(one_token(&c, &base).await);
        }
        let tokens = Arc::new(tokens);
        let (mut checked, mut plain) = (Tally::default(), Tally::default());
        for _ in 0..ROUNDS {
            for (side, url) in [(&mut checked, &base), (&mut plain, &bare)] {
                let t = checked_requests(url, tokens.clone(), CONCURRENCY, ROUND).await;
                side.ok += t.ok;
                side.errors += t.errors;
                side.secs += t.secs;
            }
        }
        println!(
            "throughput: token-checked {} requests in {:.1}s = {:.0}/s ({} errors); \
             bare axum {} in {:.1}s = {:.0}/s ({} errors); ratio {:.2}",
            checked.ok,
            checked.secs,
            checked.rate(),
            checked.errors,
            plain.ok,
            plain.secs,
            plain.rate(),
            plain.errors,
            checked.rate() / plain.rate()
        );
        assert_eq!(checked.errors + plain.errors, 0);
    });
    bare_task.abort();
    servers.block_on(reference.shutdown());
}

#[test]
#[ignore = "a benchmark: cargo test --release --test it bench -- --ignored --nocapture"]
fn no_errors_under_256_connections() {
    let _serial = serial();
    const CONNECTIONS: usize = 256;
    let secs: u64 = std::env::var("TESSERA_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let rt = runtime(2);
    let served = Served::start();
    let base = served.base.clone();
    rt.block_on(async {
        let c = client();
        let mut tokens = Vec::new();
        for _ in 0..1024 {
            tokens.push(one_token(&c, &base).await);
        }
        let tokens = Arc::new(tokens);
        let start = served.rss();
        // Sample the memory line while the load runs.
        let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
        let pid = served.child.id();
        let (s2, stop) = (samples.clone(), Arc::new(AtomicUsize::new(0)));
        let stop2 = stop.clone();
        let sampler = std::thread::spawn(move || {
            while stop2.load(Ordering::Relaxed) == 0 {
                if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    && let Some(kib) = status
                        .lines()
                        .find_map(|l| l.strip_prefix("VmRSS:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    s2.lock().expect("samples").push(kib * 1024);
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        let t = checked_requests(&base, tokens, CONNECTIONS, Duration::from_secs(secs)).await;
        stop.store(1, Ordering::Relaxed);
        let _ = sampler.join();
        let samples = samples.lock().expect("samples").clone();
        let (lo, hi) = (
            samples.iter().copied().min().unwrap_or(0),
            samples.iter().copied().max().unwrap_or(0),
        );
        let last = samples.last().copied().unwrap_or(0);
        println!(
            "256 connections: {} token-checked requests in {:.1}s = {:.0}/s, {} errors; \
             memory start {:.1} MiB, during min {:.1} / max {:.1} / last {:.1} MiB",
            t.ok,
            t.secs,
            t.rate(),
            t.errors,
            start as f64 / MIB,
            lo as f64 / MIB,
            hi as f64 / MIB,
            last as f64 / MIB,
        );
        assert_eq!(t.errors, 0);
    });
}

#[test]
#[ignore = "a benchmark: cargo test --release --test it bench -- --ignored --nocapture"]
fn fuzz_against_plain_loop() {
    let _serial = serial();
    let rt = Arc::new(runtime(2));
    let target = Target::reference(vec![]);
    let timeouts = Timeouts::new(Duration::from_secs(10));
    let mut exec = HttpExecutor::new(rt.clone(), &target, timeouts).expect("executor");
    let config = FuzzConfig {
        cases: 1000,
        max_steps: 30,
        knobs: target.knobs.clone(),
        kinds: HttpExecutor::kinds(&target),
        ..FuzzConfig::new(77)
    };
    let started = Instant::now();
    let out = machine::run(&config, &mut exec, &mut |_| {}).expect("the reference answers");
    let fuzz_secs = started.elapsed().as_secs_f64();
    assert!(out.failure.is_none(), "the clean reference diverged");
    let fuzz_rate = out.ops_run as f64 / fuzz_secs;

    let handle = rt
        .block_on(tessera::reference::spawn(
            ServerOptions::default(),
            ([127, 0, 0, 1], 0).into(),
        ))
        .expect("the reference starts");
    let base = format!("http://{}", handle.addr);
    let client = Clients::new(timeouts).for_source(None).expect("a client");
    // As many requests as the fuzz run played operations, bounded in time.
    let deadline = Instant::now() + Duration::from_secs(600);
    let started = Instant::now();
    let mut sent = 0u64;
    while sent < out.ops_run as u64 && Instant::now() < deadline {
        let issue = PreparedRequest {
            method: "POST".into(),
            url: format!("{base}/arcgis/tokens/generateToken"),
            headers: vec![(
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: Some(ISSUE_BODY.into()),
        };
        let r = rt.block_on(http::send(&client, &issue)).expect("an answer");
        let token = r.json().expect("JSON")["token"]
            .as_str()
            .expect("a token")
            .to_owned();
        let sec = PreparedRequest::get(format!("{base}{SECURED}?f=json&token={token}"));
        let r = rt.block_on(http::send(&client, &sec)).expect("an answer");
        assert_eq!(r.status, 200);
        sent += 2;
    }
    let loop_secs = started.elapsed().as_secs_f64();
    let loop_rate = sent as f64 / loop_secs;
    println!(
        "fuzz: {} ops in {fuzz_secs:.2}s = {fuzz_rate:.0} ops/s; plain loop of the same client: \
         {sent} requests in {loop_secs:.2}s = {loop_rate:.0} req/s; ratio {:.2}",
        out.ops_run,
        fuzz_rate / loop_rate
    );
    rt.block_on(handle.shutdown());
}

#[test]
#[ignore = "a benchmark: cargo test --release --test it bench -- --ignored --nocapture"]
fn suite_against_plain_loop() {
    let _serial = serial();
    let rt = runtime(2);
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
    let scenarios = tessera::scenario::load_suite(&[specs]).expect("the suite loads");
    let target = Target::reference(vec![]);
    let opts = RunOptions {
        jobs: 1,
        ..RunOptions::default()
    };
    let started = Instant::now();
    let report = rt
        .block_on(run(scenarios, &target, &opts, None))
        .expect("the suite runs");
    let suite_secs = started.elapsed().as_secs_f64();
    assert!(
        report.scenarios.iter().all(|s| !s.verdict.is_failure()),
        "the suite passes on the reference"
    );
    // The same requests (as recorded, secrets masked), one after another on
    // one reference server, with the runner's client.
    let requests: Vec<PreparedRequest> = report
        .scenarios
        .iter()
        .flat_map(|s| &s.steps)
        .flat_map(|st| &st.exchanges)
        .filter_map(|x| {
            let mut url = url::Url::parse(&x.url).ok()?;
            url.set_scheme("http").ok()?;
            Some(PreparedRequest {
                method: x.method.clone(),
                url: url.to_string(),
                headers: x
                    .request_headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                body: x.request_body.clone(),
            })
        })
        .collect();
    let handle = rt
        .block_on(tessera::reference::spawn(
            ServerOptions {
                control: true,
                ..ServerOptions::default()
            },
            ([127, 0, 0, 1], 0).into(),
        ))
        .expect("the reference starts");
    let client = Clients::new(Timeouts::new(Duration::from_secs(10)))
        .for_source(None)
        .expect("a client");
    let deadline = Instant::now() + Duration::from_secs(600);
    let started = Instant::now();
    let mut sent = 0usize;
    for r in &requests {
        if Instant::now() >= deadline {
            break;
        }
        let mut r = r.clone();
        if let Ok(mut u) = url::Url::parse(&r.url) {
            let _ = u.set_ip_host(handle.addr.ip());
            let _ = u.set_port(Some(handle.addr.port()));
            r.url = u.to_string();
        }
        rt.block_on(http::send(&client, &r)).expect("an answer");
        sent += 1;
    }
    let loop_secs = started.elapsed().as_secs_f64();
    println!(
        "suite: {} scenarios, {} requests in {suite_secs:.2}s; the same requests by a plain loop: \
         {sent} in {loop_secs:.2}s; ratio (loop / suite) {:.2}",
        report.scenarios.len(),
        requests.len(),
        loop_secs / suite_secs
    );
    rt.block_on(handle.shutdown());
}
