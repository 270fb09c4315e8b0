//! `tessera serve`: run the reference server on a socket until Ctrl-C, or list
//! its deviations or variants. Prints the URL it listens on (never a token or password).

use std::net::SocketAddr;
use std::path::PathBuf;

use tessera::reference::{Config, Deviation, ServerOptions};

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
        let handle = match tessera::reference::spawn(opts, args.listen).await {
            Ok(h) => h,
            Err(e) => {
                errln!("tessera serve: cannot listen on {}: {e}", args.listen);
                return tessera::exit::INFRASTRUCTURE;
            }
        };
        let stop = stop_signal();
        outln!("http://{}", handle.addr);
        if control {
            errln!("control API on: /_tessera/ (virtual clock)");
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
