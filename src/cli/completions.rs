//! `tessera completions SHELL` and `tessera man`: generated from the clap
//! definition (clap_complete, clap_mangen), so they never drift from the
//! real options. Binary only, behind the `cli` feature.

use clap::CommandFactory;
use tessera::exit;

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

/// Writes the completion script to stdout; install it where the shell
/// looks (`tessera completions bash > ~/.local/share/bash-completion/completions/tessera`).
pub fn completions(args: CompletionsArgs) -> u8 {
    let mut cmd = super::Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "tessera", &mut std::io::stdout());
    exit::OK
}

/// Writes the man page (roff) to stdout: `tessera man > tessera.1`.
pub fn man() -> u8 {
    let cmd = super::Cli::command();
    let mut buf = Vec::new();
    if let Err(e) = clap_mangen::Man::new(cmd).render(&mut buf) {
        errln!("error: cannot render the man page: {e}");
        return exit::INFRASTRUCTURE;
    }
    out!("{}", String::from_utf8_lossy(&buf));
    exit::OK
}
