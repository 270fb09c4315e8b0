//! `tessera schema [WHICH]`: prints a JSON Schema on stdout: the scenario
//! format (default), the JSON report (`tessera schema report`), the
//! client certification report (`tessera schema certification`) or a
//! client certification case (`tessera schema client-case`).

use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Which schema to print.
    #[arg(value_enum)]
    pub which: Option<Which>,
}

/// The formats with a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// A scenario file (the default).
    Scenario,
    /// The JSON report (`report.json`).
    Report,
    /// The client certification report (`certification.json`).
    Certification,
    /// A client certification case (`specs/clients/*.yaml`).
    ClientCase,
}

pub fn execute(args: SchemaArgs) -> u8 {
    let text = match args.which.unwrap_or(Which::Scenario) {
        Which::Scenario => tessera::scenario::schema::scenario_schema_text(),
        Which::Report => tessera::report::schema::report_schema_text(),
        Which::Certification => tessera::certify::report::json::schema_text(),
        Which::ClientCase => tessera::certify::load::case_schema_text(),
    };
    // A closed pipe (`tessera schema | head`) is not an error worth a panic.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => tessera::exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => tessera::exit::OK,
        Err(e) => {
            errln!("tessera schema: cannot write to stdout: {e}");
            tessera::exit::INFRASTRUCTURE
        }
    }
}
