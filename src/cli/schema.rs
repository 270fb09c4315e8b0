//! `tessera schema`.

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {}

pub fn execute(_args: SchemaArgs) -> u8 {
    eprintln!("tessera schema: not implemented yet");
    tessera::exit::INFRASTRUCTURE
}
