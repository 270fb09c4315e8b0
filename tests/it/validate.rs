//! Loading and `tessera validate`: every bad file in fixtures/invalid gives a
//! clear diagnostic at the right place (snapshots), and the command's exit
//! codes and summary lines.

use std::path::{Path, PathBuf};
use std::process::Command;

use tessera::scenario::DiagnosticKind;

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

/// Paths relative to the package root, so snapshots do not depend on where
/// the checkout lives.
fn relative(p: &Path) -> PathBuf {
    p.strip_prefix(MANIFEST).unwrap_or(p).to_owned()
}

fn render(diags: &[tessera::scenario::Diagnostic]) -> String {
    let diags: Vec<_> = diags
        .iter()
        .map(|d| {
            let mut d = d.clone();
            d.file = relative(&d.file);
            if let DiagnosticKind::DuplicateId { other, .. } = &mut d.kind {
                *other = relative(other);
            }
            d
        })
        .collect();
    // Relative paths resolve against the package root, where tests run.
    tessera::scenario::render_all(&diags, false)
}

#[test]
fn every_invalid_fixture_is_rejected_with_a_located_diagnostic() {
    let dir = Path::new(MANIFEST).join("fixtures/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "fixtures/invalid has {} files",
        files.len()
    );
    for f in files {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        let diags = match tessera::scenario::load_file(&f) {
            Ok(s) => panic!("{} loaded as {}", f.display(), s.id),
            Err(d) => d,
        };
        for d in &diags {
            let empty = name == "empty-file";
            assert!(
                d.loc.line > 0 || empty,
                "{name}: diagnostic without a line: {d}"
            );
        }
        insta::assert_snapshot!(format!("invalid__{name}"), render(&diags));
    }
}

#[test]
fn duplicate_ids_across_files_are_rejected() {
    let dir = Path::new(MANIFEST).join("fixtures/invalid/duplicate-id");
    let diags = tessera::scenario::load_suite(&[dir]).unwrap_err();
    assert_eq!(diags.len(), 1);
    insta::assert_snapshot!("invalid__duplicate-id", render(&diags));
}

fn tessera(args: &[&str]) -> (u8, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .current_dir(MANIFEST)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap() as u8,
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn validate_reports_every_error_and_exits_3() {
    let (code, stdout, stderr) = tessera(&[
        "validate",
        "fixtures/invalid/unknown-rule.yaml",
        "fixtures/invalid/duplicate-id",
        "fixtures/invalid/bad-regex.yaml",
    ]);
    assert_eq!(code, tessera::exit::LOAD_ERROR);
    assert_eq!(stdout, "3 errors in 3 files\n");
    insta::assert_snapshot!("validate_stderr", stderr);
}

#[test]
fn validate_a_missing_path_exits_3() {
    let (code, stdout, stderr) = tessera(&["validate", "fixtures/no-such-dir"]);
    assert_eq!(code, tessera::exit::LOAD_ERROR);
    assert_eq!(stdout, "1 error in 1 file\n");
    assert!(
        stderr.starts_with("fixtures/no-such-dir: error: a readable file or folder"),
        "{stderr}"
    );
}

#[test]
fn validate_good_files_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    for (i, area) in ["a", "b"].iter().enumerate() {
        std::fs::write(
            dir.path().join(format!("{i}.yaml")),
            format!(
                "version: 1\nid: {area}/ok\ntitle: ok\nrules: [TS-7]\nprofile: arcgis-token\n\
                 steps:\n  - request: {{endpoint: server_info, query: {{f: json}}}}\n    \
                 expect: {{status: 200}}\n"
            ),
        )
        .unwrap();
    }
    let (code, stdout, stderr) = tessera(&["validate", dir.path().to_str().unwrap()]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "2 scenario files OK\n", "")
    );
}

#[test]
fn schema_prints_the_committed_schema() {
    let (code, stdout, _) = tessera(&["schema"]);
    assert_eq!(code, 0);
    let committed =
        std::fs::read_to_string(Path::new(MANIFEST).join("fixtures/schema/scenario.schema.json"))
            .unwrap();
    assert_eq!(stdout, committed);
    let (code, named, _) = tessera(&["schema", "scenario"]);
    assert_eq!((code, named), (0, stdout));
}

/// `tessera validate ... | head -c 1` closes the pipe early: the command
/// must still finish with its own exit code instead of panicking (101).
#[test]
fn a_closed_pipe_does_not_panic() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .current_dir(MANIFEST)
        .args(["validate", "fixtures/invalid"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close both read ends before the command writes anything.
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "{status:?}");
}
