//! Options several subcommands share (`--timeout`, `--deviation`, the
//! filters) are parsed once, so every subcommand takes and refuses the same
//! values the same way; the selection's "nothing selected" is exit 5 wherever
//! scenarios are selected.

use crate::support::{code, repo, stderr, tessera};

/// Every subcommand that talks HTTP, with the arguments it needs.
const TIMEOUT_COMMANDS: &[&[&str]] = &[
    &["run"],
    &["selfcheck"],
    &["fuzz"],
    &["diff-targets", "--b", "reference"],
];

#[test]
fn a_zero_timeout_is_a_usage_error_everywhere() {
    for cmd in TIMEOUT_COMMANDS {
        let o = tessera(&[cmd, &["--timeout", "0s"][..]].concat());
        assert_eq!(code(&o), 2, "{cmd:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("a timeout above zero"),
            "{cmd:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn an_unknown_deviation_is_a_usage_error_everywhere() {
    for cmd in [&["run"][..], &["selfcheck"], &["fuzz"], &["serve"]] {
        let o = tessera(&[cmd, &["--deviation", "no-such-deviation"][..]].concat());
        assert_eq!(code(&o), 2, "{cmd:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("unknown deviation `no-such-deviation`"),
            "{cmd:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn a_deviation_needs_the_in_process_reference() {
    for cmd in ["run", "fuzz"] {
        let o = tessera(&[
            cmd,
            "--target",
            "http://127.0.0.1:9",
            "--deviation",
            "accept-expired-tokens",
        ]);
        assert_eq!(code(&o), 2, "{cmd}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("--deviation applies to `--target reference` only"),
            "{cmd}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn filters_are_checked_and_select_the_same_way_for_run_and_selfcheck() {
    for cmd in ["run", "selfcheck"] {
        let o = tessera(&[cmd, &repo("specs"), "--profile", "no-such-profile"]);
        assert_eq!(code(&o), 2, "{cmd}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("unknown profile `no-such-profile`; expected one of"),
            "{cmd}: {}",
            stderr(&o)
        );
        // An unknown area is a usage error naming the suite's areas.
        let o = tessera(&[cmd, &repo("specs"), "--area", "no-such-area"]);
        assert_eq!(code(&o), 2, "{cmd}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("unknown area `no-such-area`; the suite has header-precedence,"),
            "{cmd}: {}",
            stderr(&o)
        );
        // Valid filters that select nothing: exit 5.
        let o = tessera(&[cmd, &repo("specs"), "--filter", "no-such/*"]);
        assert_eq!(code(&o), 5, "{cmd}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("nothing selected"),
            "{cmd}: {}",
            stderr(&o)
        );
    }
}
