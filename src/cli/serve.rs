//! `tessera serve`: run the reference server on a socket until Ctrl-C, or list
//! its deviations or variants. Prints the URL it listens on (never a token or password).
//! With `--tls` (or `--tls-cert/--tls-key`) it speaks HTTPS; the generated
//! certificate can be written out for clients to trust, the key never is.

use std::net::SocketAddr;
use std::path::PathBuf;

use tessera::reference::tls::ServerTls;
use tessera::reference::{Clock as _, Config, Deviation, ServerOptions};

use super::{DeviationArgs, VariantArgs};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A YAML config (accounts, API keys, services, knobs); default: the built-in fixture.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Serve the test-only control API under /_tessera/ and run on a virtual clock.
    #[arg(long)]
    control: bool,
    /// Run the server's clock ahead (`1.5s`) or behind (`-1.5s`) the system
    /// clock, so clients see a skewed server.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, value_parser = tessera::reference::clock::parse_offset)]
    clock_offset: Option<i64>,
    #[command(flatten)]
    deviation: DeviationArgs,
    #[command(flatten)]
    variant: VariantArgs,
    /// Print every switchable VARIANT rule with its variant names and exit.
    #[arg(long)]
    list_variants: bool,
    /// Print every deviation (name, rule IDs, description) and exit.
    #[arg(long)]
    list_deviations: bool,
    #[command(flatten)]
    tls: ServeTlsArgs,
}

/// HTTPS: a self-signed certificate made at start, or a given pair.
#[derive(Debug, clap::Args)]
pub struct ServeTlsArgs {
    /// Serve HTTPS with a self-signed certificate made at start for
    /// localhost, 127.0.0.1 and every --tls-name.
    #[arg(long)]
    tls: bool,
    /// Another name (host name or IP address) for the generated
    /// certificate; repeatable.
    #[arg(long = "tls-name", value_name = "NAME", requires = "tls")]
    tls_names: Vec<String>,
    /// Write the generated certificate (PEM, never the key) here, for
    /// clients to trust (`tessera run --cacert FILE`).
    #[arg(long, value_name = "FILE", requires = "tls")]
    tls_cert_out: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate (chain) instead (with --tls-key).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "tls"
    )]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

impl ServeTlsArgs {
    /// The server's TLS, if asked for; `Err` is the exit code, after the
    /// message.
    fn server_tls(&self) -> Result<Option<ServerTls>, u8> {
        if let (Some(c), Some(k)) = (&self.tls_cert, &self.tls_key) {
            let read = |p: &PathBuf| {
                std::fs::read(p).map_err(|e| {
                    errln!("tessera serve: cannot read {}: {e}", p.display());
                    tessera::exit::LOAD_ERROR
                })
            };
            let (cert, key) = (read(c)?, read(k)?);
            let (cn, kn) = (c.display().to_string(), k.display().to_string());
            return ServerTls::from_pem(&cn, &cert, &kn, &key)
                .map(Some)
                .map_err(|e| {
                    errln!("tessera serve: {e}");
                    tessera::exit::LOAD_ERROR
                });
        }
        if !self.tls {
            return Ok(None);
        }
        let tls = ServerTls::self_signed(&self.tls_names).map_err(|e| {
            errln!("tessera serve: {e}");
            tessera::exit::INFRASTRUCTURE
        })?;
        if let Some(out) = &self.tls_cert_out
            && let Err(e) = std::fs::write(out, tls.cert_pem())
        {
            errln!("tessera serve: cannot write {}: {e}", out.display());
            return Err(tessera::exit::INFRASTRUCTURE);
        }
        Ok(Some(tls))
    }
}

pub fn execute(args: ServeArgs) -> u8 {
    if args.list_deviations {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        for d in Deviation::ALL {
            // A closed pipe (`| head`) is not an error worth a panic.
            if writeln!(out, "{}", d.line()).is_err() {
                break;
            }
        }
        return tessera::exit::OK;
    }
    if args.list_variants {
        for (rule, names) in tessera::reference::variants::TWO_WAY {
            outln!("{rule:<6} {} (reference: {})", names.join("|"), names[0]);
        }
        outln!(
            "HP-2   an order of {} (reference: {})",
            tessera::reference::variants::CARRIER_NAMES.join(","),
            tessera::reference::variants::CarrierOrder::default()
        );
        return tessera::exit::OK;
    }
    let variants = match args.variant.parse_for("reference") {
        Ok(v) => v,
        Err(code) => return code,
    };
    let config = match &args.config {
        None => Config::default(),
        Some(p) => match Config::load(p) {
            Ok(c) => c,
            Err(d) => {
                let src = std::fs::read_to_string(p).ok();
                errln!("{}", d.render(src.as_deref()));
                return tessera::exit::LOAD_ERROR;
            }
        },
    };
    let tls = match args.tls.server_tls() {
        Ok(t) => t,
        Err(code) => return code,
    };
    let opts = ServerOptions {
        config,
        control: args.control,
        deviations: args.deviation.deviations,
        variants,
    };
    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let devs: Vec<&str> = opts.deviations.iter().map(|d| d.name()).collect();
        let control = opts.control;
        let variants = opts.variants.changed();
        let offset = args.clock_offset.unwrap_or(0);
        let state = match (control, offset) {
            (_, 0) => tessera::reference::AppState::new(opts),
            (false, ms) => tessera::reference::AppState::with_clock(
                opts,
                std::sync::Arc::new(tessera::reference::OffsetClock { offset_ms: ms }),
                Box::new(tessera::reference::OsEntropy),
            ),
            (true, ms) => tessera::reference::AppState::with_virtual_clock(
                opts,
                std::sync::Arc::new(tessera::reference::VirtualClock::at(
                    tessera::reference::SystemClock.now_ms().saturating_add(ms),
                )),
                Box::new(tessera::reference::OsEntropy),
            ),
        };
        let (spawned, scheme) = match &tls {
            Some(tls) => (
                tessera::reference::spawn_state_tls(state, args.listen, tls).await,
                "https",
            ),
            None => (
                tessera::reference::spawn_state(state, args.listen).await,
                "http",
            ),
        };
        let handle = match spawned {
            Ok(h) => h,
            Err(e) => {
                errln!("tessera serve: cannot listen on {}: {e}", args.listen);
                return tessera::exit::INFRASTRUCTURE;
            }
        };
        let stop = stop_signal();
        outln!("{scheme}://{}", handle.addr);
        if control {
            errln!("control API on: /_tessera/ (virtual clock)");
        }
        if offset != 0 {
            errln!("clock offset: {offset:+} ms from the system clock");
        }
        if !devs.is_empty() {
            errln!("deviations on: {}", devs.join(", "));
        }
        if !variants.is_empty() {
            errln!("variants on: {}", variants.join(", "));
        }
        stop.await;
        handle.shutdown().await;
        tessera::exit::OK
    })
}

/// Ctrl-C, or SIGTERM (what service managers and `kill` send): either stops
/// the server cleanly. The handlers are installed when this is called (not
/// when first awaited), so a signal right after the URL is printed counts.
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
