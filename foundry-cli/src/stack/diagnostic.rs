//! Errors that point into the stack file: `file:line:col: message`, the line
//! itself with a caret under the offending part, and a hint that says what to do.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem found in a stack file.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub message: String,
    pub help: Option<String>,
    /// Byte range in the source, when the problem has a place.
    pub span: Option<Range<usize>>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            help: None,
            span: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn at(mut self, span: Option<Range<usize>>) -> Self {
        self.span = span;
        self
    }
}

/// Every problem found in one stack file, rendered against its source.
#[derive(Debug, thiserror::Error)]
pub struct StackFileError {
    pub path: PathBuf,
    pub source_text: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl StackFileError {
    pub fn new(path: &Path, source_text: &str, diagnostics: Vec<Diagnostic>) -> Self {
        Self {
            path: path.to_path_buf(),
            source_text: source_text.to_string(),
            diagnostics,
        }
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

impl fmt::Display for StackFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let file = self.path.display();
            match &d.span {
                Some(span) => {
                    let (line, col) = line_col(&self.source_text, span.start);
                    writeln!(f, "{file}:{line}:{col}: {}", d.message)?;
                    let text = self.source_text.lines().nth(line - 1).unwrap_or("");
                    let width = self.source_text[span.clone()]
                        .lines()
                        .next()
                        .map_or(1, |s| s.chars().count().max(1));
                    let gutter = line.to_string().len();
                    writeln!(f, "{:gutter$} |", "")?;
                    writeln!(f, "{line} | {text}")?;
                    writeln!(
                        f,
                        "{:gutter$} | {}{}",
                        "",
                        " ".repeat(col - 1),
                        "^".repeat(width)
                    )?;
                }
                None => writeln!(f, "{file}: {}", d.message)?,
            }
            if let Some(help) = &d.help {
                writeln!(f, "  help: {help}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 11), (2, 6));
    }

    #[test]
    fn renders_file_line_column_caret_and_help() {
        let text = "name = \"acme\"\nregion = \"moon-1\"\n";
        let err = StackFileError::new(
            Path::new("foundry.toml"),
            text,
            vec![
                Diagnostic::new("bad region")
                    .at(Some(23..31))
                    .help("use an AWS region"),
            ],
        );
        let shown = err.to_string();
        assert!(
            shown.starts_with("foundry.toml:2:10: bad region\n"),
            "{shown}"
        );
        assert!(shown.contains("2 | region = \"moon-1\"\n"), "{shown}");
        assert!(shown.contains("  |          ^^^^^^^^\n"), "{shown}");
        assert!(shown.contains("help: use an AWS region"), "{shown}");
    }
}
