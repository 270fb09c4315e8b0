//! `tessera serve`.

#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

pub fn execute(_args: ServeArgs) -> u8 {
    eprintln!("tessera serve: not implemented yet");
    tessera::exit::INFRASTRUCTURE
}
