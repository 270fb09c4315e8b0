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
//!   handler started here that answers the same bytes without any check,
//!   both on one server runtime, in alternating rounds after a warm-up: the
//!   median ratio of the rounds, and the servers' CPU time a request (read
//!   from `/proc/self/task`), since the load generator shares the cores;
//! - `no_errors_under_256_connections`: 256 connections for 60 s (override
//!   with `TESSERA_BENCH_SECS`) of token-checked requests; errors (asserted
//!   0) and the memory line sampled every 5 s (asserted flat: the last
//!   sample within 5 % of the first after warm-up);
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
    named_runtime(threads, "bench-rt")
}

/// A runtime whose threads carry `name`, so that their CPU time can be read
/// from `/proc/self/task` ([`cpu_ns`]).
fn named_runtime(threads: usize, name: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// CPU time (user + system, nanoseconds) used so far by this process's
/// threads named `name`: `/proc/self/task/*/schedstat`, or the coarser
/// `stat` ticks (10 ms) where schedstat is missing. Linux only.
fn cpu_ns(name: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut total = 0;
    for t in tasks.flatten() {
        let dir = t.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let sched = std::fs::read_to_string(dir.join("schedstat")).ok();
        let ns = sched
            .as_deref()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
        total += ns.unwrap_or_else(|| {
            // stat: fields 14 and 15 (utime, stime) in clock ticks, counted
            // after the parenthesised command name.
            let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let f: Vec<u64> = rest
                .split_whitespace()
                .map(|x| x.parse().unwrap_or(0))
                .collect();
            (f.get(11).unwrap_or(&0) + f.get(12).unwrap_or(&0)) * 10_000_000
        });
    }
    total
}

/// The load averages (`/proc/loadavg`: 1, 5 and 15 minutes).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
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

    /// Sends `request` (a whole GET request, see [`get_request`]): the
    /// status and whether the body holds `"error"`.
    async fn get(&mut self, request: &[u8]) -> std::io::Result<(u16, bool)> {
        use tokio::io::AsyncWriteExt as _;
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
        self.stream.write_all(request).await?;
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
        let error = self.buf[end + 4..total]
            .windows(7)
            .any(|w| w == b"\"error\"");
        self.buf.drain(..total);
        Ok((status, error))
    }
}

/// The bytes of `GET target` with a Host header, built once per target so
/// that the load loop does not format.
fn get_request(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
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
    let targets: Arc<Vec<Vec<u8>>> = Arc::new(
        tokens
            .iter()
            .map(|t| get_request(&format!("{SECURED}?f=json&token={t}")))
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
                        Ok((200, false)) => {
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

/// A bare axum handler: `answer` (the reference's own answer to a
/// token-checked request, bytes and content type) for every GET of
/// [`SECURED`], with no check and nothing computed per request.
async fn bare_server(answer: axum::body::Bytes) -> (String, tokio::task::JoinHandle<()>) {
    let app = Router::new().route(
        SECURED,
        get(move || {
            let answer = answer.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/json; charset=utf-8",
                    )],
                    answer,
                )
            }
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

/// Server and client threads of the throughput benchmark.
const SERVER_THREADS: &str = "bench-server";
const CLIENT_THREADS: &str = "bench-client";

/// One measured round: the load run and the CPU time each side used.
#[derive(Debug, Clone, Copy)]
struct Round {
    tally: Tally,
    server_ns: u64,
    client_ns: u64,
}

impl Round {
    /// Server CPU time per answered request, in microseconds.
    fn server_us(&self) -> f64 {
        self.server_ns as f64 / 1000.0 / self.tally.ok.max(1) as f64
    }
}

async fn round(base: &str, tokens: Arc<Vec<String>>, connections: usize, limit: Duration) -> Round {
    let (s0, c0) = (cpu_ns(SERVER_THREADS), cpu_ns(CLIENT_THREADS));
    let tally = checked_requests(base, tokens, connections, limit).await;
    Round {
        tally,
        server_ns: cpu_ns(SERVER_THREADS) - s0,
        client_ns: cpu_ns(CLIENT_THREADS) - c0,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[test]
#[ignore = "a benchmark: cargo test --release --test it bench -- --ignored --nocapture"]
fn token_checked_throughput() {
    let _serial = serial();
    const ROUNDS: usize = 6;
    const ROUND: Duration = Duration::from_secs(3);
    const WARM_UP: Duration = Duration::from_secs(2);
    const CONNECTIONS: usize = 32;
    // Both servers on one runtime with two workers (as `tessera serve`);
    // the client on another, on the same two cores.
    let servers = named_runtime(2, SERVER_THREADS);
    let reference = servers
        .block_on(tessera::reference::spawn(
            ServerOptions::default(),
            ([127, 0, 0, 1], 0).into(),
        ))
        .expect("the reference starts");
    let base = format!("http://{}", reference.addr);
    let rt = named_runtime(2, CLIENT_THREADS);
    let (tokens, answer) = rt.block_on(async {
        let c = client();
        let mut tokens = Vec::new();
        for _ in 0..256 {
            tokens.push(one_token(&c, &base).await);
        }
        let r = c
            .get(format!("{base}{SECURED}"))
            .query(&[("f", "json"), ("token", tokens[0].as_str())])
            .send()
            .await
            .expect("the reference answers");
        assert_eq!(r.status(), 200);
        let answer = r.bytes().await.expect("a body");
        (Arc::new(tokens), answer)
    });
    let (bare, bare_task) = servers.block_on(bare_server(answer));
    let load_before = loadavg();
    let rounds = rt.block_on(async {
        for url in [&base, &bare] {
            round(url, tokens.clone(), CONNECTIONS, WARM_UP).await;
        }
        let mut rounds = Vec::new();
        for i in 0..ROUNDS {
            // Alternate which side goes first, so that a drift in the
            // machine's load weighs on both.
            let (checked, plain) = if i % 2 == 0 {
                let c = round(&base, tokens.clone(), CONNECTIONS, ROUND).await;
                (c, round(&bare, tokens.clone(), CONNECTIONS, ROUND).await)
            } else {
                let p = round(&bare, tokens.clone(), CONNECTIONS, ROUND).await;
                (round(&base, tokens.clone(), CONNECTIONS, ROUND).await, p)
            };
            rounds.push((checked, plain));
        }
        rounds
    });
    let load_after = loadavg();
    println!(
        "throughput: {CONNECTIONS} keep-alive connections, {ROUNDS} alternating rounds of {}s \
         after a {}s warm-up of each; load average before {load_before}, after {load_after}",
        ROUND.as_secs(),
        WARM_UP.as_secs()
    );
    for (i, (c, p)) in rounds.iter().enumerate() {
        println!(
            "  round {}: token-checked {:.0}/s, bare {:.0}/s, ratio {:.2}; \
             server CPU a request {:.1} / {:.1} us, server {:.2} / {:.2} CPUs, client {:.2} / {:.2} CPUs",
            i + 1,
            c.tally.rate(),
            p.tally.rate(),
            c.tally.rate() / p.tally.rate(),
            c.server_us(),
            p.server_us(),
            c.server_ns as f64 / 1e9 / c.tally.secs,
            p.server_ns as f64 / 1e9 / p.tally.secs,
            c.client_ns as f64 / 1e9 / c.tally.secs,
            p.client_ns as f64 / 1e9 / p.tally.secs,
        );
    }
    let ratios: Vec<f64> = rounds
        .iter()
        .map(|(c, p)| c.tally.rate() / p.tally.rate())
        .collect();
    let cpu_ratios: Vec<f64> = rounds
        .iter()
        .map(|(c, p)| p.server_us() / c.server_us())
        .collect();
    let sum = |f: &dyn Fn(&(Round, Round)) -> Round| {
        rounds.iter().map(f).fold(Tally::default(), |a, r| Tally {
            ok: a.ok + r.tally.ok,
            errors: a.errors + r.tally.errors,
            secs: a.secs + r.tally.secs,
        })
    };
    let (checked, plain) = (sum(&|r| r.0), sum(&|r| r.1));
    let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ratios.iter().copied().fold(0.0, f64::max);
    println!(
        "throughput: token-checked {} requests in {:.1}s = {:.0}/s ({} errors); \
         bare axum {} in {:.1}s = {:.0}/s ({} errors); median ratio {:.2} (rounds {lo:.2}..{hi:.2}); \
         server CPU a request: median ratio (bare / token-checked) {:.2}",
        checked.ok,
        checked.secs,
        checked.rate(),
        checked.errors,
        plain.ok,
        plain.secs,
        plain.rate(),
        plain.errors,
        median(ratios),
        median(cpu_ratios),
    );
    assert_eq!(checked.errors + plain.errors, 0);
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
        // Sample the memory line while the load runs: every 5 s, from the
        // moment the load starts.
        const EVERY: Duration = Duration::from_secs(5);
        let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
        let pid = served.child.id();
        let (s2, stop) = (samples.clone(), Arc::new(AtomicUsize::new(0)));
        let stop2 = stop.clone();
        let sampler = std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut next = t0 + EVERY;
            while stop2.load(Ordering::Relaxed) == 0 {
                std::thread::sleep(Duration::from_millis(100));
                if Instant::now() < next {
                    continue;
                }
                next += EVERY;
                if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    && let Some(kib) = status
                        .lines()
                        .find_map(|l| l.strip_prefix("VmRSS:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    let at = t0.elapsed().as_secs_f64();
                    s2.lock().expect("samples").push((at, kib * 1024));
                }
            }
        });
        let load_before = loadavg();
        let t = checked_requests(&base, tokens, CONNECTIONS, Duration::from_secs(secs)).await;
        stop.store(1, Ordering::Relaxed);
        let _ = sampler.join();
        let samples = samples.lock().expect("samples").clone();
        let line: Vec<String> = samples
            .iter()
            .map(|(at, b)| format!("{at:.0}s {:.1}", *b as f64 / MIB))
            .collect();
        // Warm-up: the first 10 s (a third of shorter runs) open the
        // connections and fill their buffers; flat means the last sample is
        // within a few percent of the first one after that.
        let warm_secs = (secs as f64 / 3.0).min(10.0);
        let warm = samples
            .iter()
            .find(|(at, _)| *at >= warm_secs)
            .or(samples.first())
            .map_or(0, |s| s.1);
        let last = samples.last().map_or(0, |s| s.1);
        let drift = last as f64 / warm.max(1) as f64;
        println!(
            "256 connections: {} token-checked requests in {:.1}s = {:.0}/s, {} errors; \
             load average before {load_before}, after {}; memory before the load {:.1} MiB, \
             then every {}s (MiB): {}; last / after warm-up ({warm_secs:.0}s) = {drift:.3}",
            t.ok,
            t.secs,
            t.rate(),
            t.errors,
            loadavg(),
            start as f64 / MIB,
            EVERY.as_secs(),
            line.join(", "),
        );
        assert_eq!(t.errors, 0);
        assert!(
            samples.len() < 3 || drift <= 1.05,
            "memory kept growing under a steady load: {drift:.3}"
        );
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
