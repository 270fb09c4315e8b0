//! Which report files a run writes, and writing them.
//!
//! `--report json,junit,md,html` picks [`Format`]s (all by default); each has
//! one fixed file name in the output folder. [`render`] is pure (it calls the
//! format's writer); [`write_all`] is the only place that writes report files,
//! so `tessera run` and `tessera report merge` produce the same set.
//!
//! Everything written here comes from the (already masked) report model:
//! this module never sees a secret to mask.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::model::Report;
use super::{html, json, junit, markdown};

/// A report file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    Json,
    Junit,
    Markdown,
    Html,
}

impl Format {
    /// Every format, in the order they are written.
    pub const ALL: [Format; 4] = [Format::Json, Format::Junit, Format::Markdown, Format::Html];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Markdown => "md",
            Format::Html => "html",
        }
    }

    /// The file written into the output folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Json => "report.json",
            Format::Junit => "junit.xml",
            Format::Markdown => "report.md",
            Format::Html => "report.html",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `--report` value that names no format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown report format `{0}`; expected json, junit, md or html")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "junit" | "xml" => Ok(Format::Junit),
            "md" | "markdown" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            _ => Err(UnknownFormat(s.trim().to_owned())),
        }
    }
}

/// Parses a comma-separated list (`json,junit`). Each format once, in
/// [`Format::ALL`] order; an empty list means all of them.
pub fn parse_list(s: &str) -> Result<Vec<Format>, UnknownFormat> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        out.push(part.parse::<Format>()?);
    }
    Ok(normalize(&out))
}

/// Deduplicates and orders a selection; empty means every format.
pub fn normalize(formats: &[Format]) -> Vec<Format> {
    if formats.is_empty() {
        return Format::ALL.to_vec();
    }
    let mut v = formats.to_vec();
    v.sort();
    v.dedup();
    v
}

/// The file's text for one format. Pure.
pub fn render(format: Format, report: &Report) -> String {
    match format {
        Format::Json => json::write(report),
        Format::Junit => junit::write(report),
        Format::Markdown => markdown::write(report),
        Format::Html => html::write(report),
    }
}

/// Writes `formats` (every format when empty) into `dir`, creating it, and
/// returns the paths written, in order.
pub fn write_all(report: &Report, formats: &[Format], dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for f in normalize(formats) {
        let path = dir.join(f.file_name());
        std::fs::write(&path, render(f, report))
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::Verdict;
    use crate::report::model::tests::{report, scenario};

    #[test]
    fn lists_parse_dedupe_and_default_to_all() {
        assert_eq!(parse_list("").unwrap(), Format::ALL);
        assert_eq!(
            parse_list("html, json,json").unwrap(),
            [Format::Json, Format::Html]
        );
        assert_eq!(parse_list("markdown").unwrap(), [Format::Markdown]);
        assert_eq!(
            parse_list("json,pdf").unwrap_err().to_string(),
            "unknown report format `pdf`; expected json, junit, md or html"
        );
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
        }
    }

    #[test]
    fn writes_every_file_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let r = report(vec![scenario("lifetimes/a", &["LT-1"], Verdict::Pass, &[])]);
        let out = dir.path().join("nested/out");
        let written = write_all(&r, &[], &out).unwrap();
        let names: Vec<_> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["report.json", "junit.xml", "report.md", "report.html"]
        );
        for p in &written {
            assert!(!std::fs::read_to_string(p).unwrap().is_empty());
        }
        let only = write_all(&r, &[Format::Junit], &dir.path().join("j")).unwrap();
        assert_eq!(only.len(), 1);
    }
}
