//! `tessera client-driver NAME` (hidden): runs a built-in driver of client
//! certification on stdin/stdout, the way `tessera certify --driver`
//! starts any driver. `--list` prints the drivers and the CL rules each
//! broken one must be caught on.

use tessera::certify::drivers;

#[derive(Debug, clap::Args)]
pub struct ClientDriverArgs {
    /// The driver: `good` or a broken variant (see --list).
    #[arg(required_unless_present = "list")]
    name: Option<String>,
    /// Print every built-in driver with the rules it must be caught on.
    #[arg(long)]
    list: bool,
}

pub fn execute(a: ClientDriverArgs) -> u8 {
    if a.list {
        for (name, rules) in drivers::DRIVERS {
            if rules.is_empty() {
                outln!("{name}\tpasses every rule");
            } else {
                outln!("{name}\t{}", rules.join(", "));
            }
        }
        return tessera::exit::OK;
    }
    match a.name.as_deref() {
        Some(n) => match drivers::run(n) {
            0 => tessera::exit::OK,
            _ => tessera::exit::USAGE,
        },
        None => tessera::exit::USAGE,
    }
}
