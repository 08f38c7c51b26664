//! What is wrong with a configuration file: every problem, with where it is.
//!
//! Validation never stops at the first mistake; it collects [`Problem`]s so
//! `check-config` can list them all at once, each naming the key path
//! (`smtp_proxy[1].listen`) and, where the TOML document shows it, the line.

use std::fmt;

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path such as `smtp_proxy[1].listen`; empty for file-level errors.
    pub path: String,
    /// What is wrong, phrased for the admin who edits the file.
    pub message: String,
    /// 1-based line of the key (or its nearest enclosing table) when known.
    pub line: Option<usize>,
    /// 1-based column; only syntax errors carry one.
    pub column: Option<usize>,
}

/// Every problem found in one configuration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The file name as given to [`crate::config::Config::load`].
    pub file: String,
    /// At least one problem, in document order where lines are known.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigErrors {
    /// One problem per line: `FILE:LINE: KEY: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.file)?;
            if let Some(line) = problem.line {
                write!(f, ":{line}")?;
                if let Some(column) = problem.column {
                    write!(f, ":{column}")?;
                }
            }
            write!(f, ": ")?;
            if !problem.path.is_empty() {
                write!(f, "{}: ", problem.path)?;
            }
            write!(f, "{}", problem.message)?;
        }
        Ok(())
    }
}

impl ConfigErrors {
    /// True when some problem is about `path` exactly (handy in tests).
    pub fn has(&self, path: &str) -> bool {
        self.problems.iter().any(|p| p.path == path)
    }
}

/// Collects problems during validation.
///
/// Only the first problem per key path is kept: a value the parser already
/// rejected is not reported again as, say, missing.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    /// What was found so far.
    list: Vec<Problem>,
}

impl Problems {
    /// Records a problem at `path` (line resolved later from the document).
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        if self.list.iter().any(|p| p.path == path && !path.is_empty()) {
            return;
        }
        self.list.push(Problem {
            path,
            message: message.into(),
            line: None,
            column: None,
        });
    }

    /// Records a problem whose position is already known.
    pub(crate) fn push_at(&mut self, problem: Problem) {
        self.list.push(problem);
    }

    /// True when nothing was found.
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The problems, for resolving lines and reporting.
    pub(crate) fn into_vec(self) -> Vec<Problem> {
        self.list
    }
}

/// Builds key paths such as `journal[0].tls_cert`.
#[derive(Debug, Clone)]
pub(crate) struct At(pub(crate) String);

impl At {
    /// A section path such as `archive` or `smtp_proxy[2]`.
    pub(crate) fn section(name: &str, index: Option<usize>) -> At {
        match index {
            Some(i) => At(format!("{name}[{i}]")),
            None => At(name.to_owned()),
        }
    }

    /// The path of a key inside this section.
    pub(crate) fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(path: &str, line: Option<usize>, column: Option<usize>) -> Problem {
        Problem {
            path: path.into(),
            message: "bad".into(),
            line,
            column,
        }
    }

    #[test]
    fn display_prints_one_problem_per_line_with_positions() {
        let errors = ConfigErrors {
            file: "m.toml".into(),
            problems: vec![
                problem("archive.path", Some(3), None),
                problem("", Some(7), Some(2)),
                problem("http.listen", None, None),
            ],
        };
        assert_eq!(
            errors.to_string(),
            "m.toml:3: archive.path: bad\nm.toml:7:2: bad\nm.toml: http.listen: bad"
        );
    }

    #[test]
    fn keeps_only_the_first_problem_per_path() {
        let mut problems = Problems::default();
        problems.push("a.b", "first");
        problems.push("a.b", "second");
        problems.push("a.c", "third");
        let list = problems.into_vec();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].message, "first");
    }

    #[test]
    fn builds_paths() {
        assert_eq!(
            At::section("journal", Some(2)).key("listen"),
            "journal[2].listen"
        );
        assert_eq!(At::section("archive", None).key("path"), "archive.path");
    }
}
