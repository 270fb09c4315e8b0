//! `tessera validate`.

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {}

pub fn execute(_args: ValidateArgs) -> u8 {
    eprintln!("tessera validate: not implemented yet");
    tessera::exit::INFRASTRUCTURE
}
