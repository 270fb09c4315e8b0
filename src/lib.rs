//! Tessera: a conformance test harness for ArcGIS-style token authentication.
//!
//! YAML scenarios (`scenario`), chosen by `select`, are played by the runner
//! (`runner`) against a target (`target`): the embedded reference server
//! (`reference`) or any real endpoint, reached through the one HTTP client
//! (`client`). Results become a report model (`report`) that pure writers
//! turn into console, JSON, JUnit, Markdown and HTML output.
//!
//! The library needs no command-line crates: build it with
//! `default-features = false` to leave out the binary's clap and indicatif.

pub mod certify;
pub mod client;
pub mod exit;
pub mod fuzz;
pub mod knobs;
pub mod reference;
pub mod report;
pub mod rules;
pub mod runner;
pub mod scenario;
pub mod select;
pub mod selfcheck;
pub mod target;

#[cfg(test)]
mod layout {
    //! The crate's shape as a test: no two top-level modules of `src/` may
    //! depend on each other, directly or through others. The graph is read
    //! from the sources (`crate::NAME` paths, `use crate::{..}` groups
    //! included; comments skipped), so a new cycle fails `cargo test` with
    //! the files and lines that close it.

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    /// Edge `from -> to` with the first place that makes it.
    type Graph = BTreeMap<String, BTreeMap<String, String>>;

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// The first identifier of `s` (after spaces).
    fn ident(s: &str) -> &str {
        let s = s.trim_start();
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        &s[..end]
    }

    /// The top-level module names a line of code refers to through `crate::`.
    fn crate_refs(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a::b, c, d::{e, f}}`: the first name of each item
                // at depth one.
                let mut depth = 0usize;
                let mut item_start = true;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => item_start = true,
                        c if item_start && !c.is_whitespace() => {
                            out.push(ident(&group[i..]).to_owned());
                            item_start = false;
                        }
                        _ => {}
                    }
                }
            } else {
                out.push(ident(rest).to_owned());
            }
        }
        out
    }

    /// The dependency graph between the library's top-level modules. The
    /// binary's `cli/` and `main.rs` are not part of it.
    fn graph(src: &Path) -> Graph {
        let mut files = Vec::new();
        rust_files(src, &mut files);
        let top = |p: &Path| -> String {
            let rel = p.strip_prefix(src).expect("a file under src/");
            let first = rel.components().next().expect("a path");
            first
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        };
        let modules: BTreeSet<String> = files
            .iter()
            .map(|p| top(p))
            .filter(|m| !matches!(m.as_str(), "lib" | "main" | "cli"))
            .collect();
        let mut g = Graph::new();
        for p in &files {
            let from = top(p);
            if !modules.contains(&from) {
                continue;
            }
            let text = std::fs::read_to_string(p).expect("a readable source file");
            let mut in_block_comment = false;
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if in_block_comment || code.starts_with("/*") {
                    in_block_comment = !code.contains("*/");
                    continue;
                }
                if code.starts_with("//") {
                    continue;
                }
                for to in crate_refs(code) {
                    if to != from && modules.contains(&to) {
                        let rel = p.strip_prefix(src).unwrap_or(p).display().to_string();
                        g.entry(from.clone())
                            .or_default()
                            .entry(to)
                            .or_insert_with(|| format!("src/{rel}:{}", n + 1));
                    }
                }
            }
        }
        g
    }

    /// One cycle per group of modules that reach each other, as
    /// `a -> b (file:line) -> a (file:line)`.
    fn cycles(g: &Graph) -> Vec<String> {
        let reach = |start: &str| -> BTreeSet<String> {
            let mut seen = BTreeSet::new();
            let mut todo = vec![start.to_owned()];
            while let Some(m) = todo.pop() {
                for to in g.get(&m).into_iter().flat_map(|e| e.keys()) {
                    if seen.insert(to.clone()) {
                        todo.push(to.clone());
                    }
                }
            }
            seen
        };
        let mut reported: BTreeSet<String> = BTreeSet::new();
        let mut out = Vec::new();
        for start in g.keys() {
            if reported.contains(start) || !reach(start).contains(start) {
                continue;
            }
            // Shortest way back to `start` (breadth first), for the message.
            let mut prev: BTreeMap<String, String> = BTreeMap::new();
            let mut queue = std::collections::VecDeque::from([start.clone()]);
            'search: while let Some(m) = queue.pop_front() {
                for to in g.get(&m).into_iter().flat_map(|e| e.keys()) {
                    if !prev.contains_key(to) {
                        prev.insert(to.clone(), m.clone());
                        if to == start {
                            break 'search;
                        }
                        queue.push_back(to.clone());
                    }
                }
            }
            let mut path = vec![start.clone()];
            let mut at = prev[start].clone();
            while &at != start {
                path.push(at.clone());
                at = prev[&at].clone();
            }
            path.push(start.clone());
            path.reverse();
            let mut text = path[0].clone();
            for w in path.windows(2) {
                text.push_str(&format!(" -> {} ({})", w[1], g[&w[0]][&w[1]]));
            }
            reported.extend(path);
            out.push(text);
        }
        out
    }

    #[test]
    fn no_two_top_level_modules_depend_on_each_other() {
        let g = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
        assert!(
            g.contains_key("runner"),
            "the graph reads the sources: {g:?}"
        );
        let found = cycles(&g);
        assert!(
            found.is_empty(),
            "top-level modules depend on each other in a circle:\n  {}",
            found.join("\n  ")
        );
        // The shared plumbing stays at the bottom: every user may import it.
        assert_eq!(g.get("client"), None, "client imports nothing of the crate");
    }

    #[test]
    fn the_reader_sees_paths_groups_and_skips_comments() {
        assert_eq!(
            crate_refs("use crate::runner::http::{self, Clients};"),
            ["runner"]
        );
        assert_eq!(
            crate_refs("use crate::{report::model::Report, scenario::{a, b}, exit};"),
            ["report", "scenario", "exit"]
        );
        assert_eq!(
            crate_refs("let x = crate::target::PRIMARY; y(crate::exit::OK)"),
            ["target", "exit"]
        );
        assert!(crate_refs("use tessera_crate::x;").is_empty());
        let mut g = Graph::new();
        g.entry("a".into())
            .or_default()
            .insert("b".into(), "src/a.rs:1".into());
        g.entry("b".into())
            .or_default()
            .insert("c".into(), "src/b.rs:2".into());
        assert!(cycles(&g).is_empty());
        g.entry("c".into())
            .or_default()
            .insert("a".into(), "src/c.rs:3".into());
        assert_eq!(
            cycles(&g),
            ["a -> b (src/a.rs:1) -> c (src/b.rs:2) -> a (src/c.rs:3)"]
        );
    }
}
