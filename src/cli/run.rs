//! `tessera run`.

#[derive(Debug, clap::Args)]
pub struct RunArgs {}

pub fn execute(_args: RunArgs) -> u8 {
    eprintln!("tessera run: not implemented yet");
    tessera::exit::INFRASTRUCTURE
}
