//! Source locations and the rendering of located, user-facing errors.
//!
//! Every error that comes from a user's file (playbook, inventory, vars file, template) carries a
//! [`Location`]; [`render`] turns such an error into one paragraph that names the file, line and
//! column, quotes the offending line and says what was expected.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// A file the user gave us, kept in memory so errors can quote it.
#[derive(Debug)]
pub struct Source {
    path: PathBuf,
    text: String,
}

impl Source {
    /// Wraps already-read text.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            path: path.into(),
            text: text.into(),
        })
    }

    /// Reads a user's file into a [`Source`]: a regular UTF-8 file within the input limit
    /// (see [`crate::input`]).
    pub fn read(path: &Path) -> Result<Arc<Self>, crate::input::InputError> {
        let text = crate::input::read_text(path)?;
        Ok(Self::new(path, text))
    }

    /// Where the text came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text of a 1-based line, without its newline.
    pub fn line(&self, line: u32) -> Option<&str> {
        let index = usize::try_from(line).ok()?.checked_sub(1)?;
        self.text.lines().nth(index)
    }
}

/// A 1-based line and column inside a [`Source`], plus the width of what is pointed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub col: u32,
    /// Width in characters of the offending text (at least 1 when rendered).
    pub len: u32,
}

impl Span {
    /// A span at `line`:`col` covering `len` characters.
    pub fn new(line: u32, col: u32, len: u32) -> Self {
        Self { line, col, len }
    }
}

/// A place in a user's file.
#[derive(Clone)]
pub struct Location {
    /// The file.
    pub source: Arc<Source>,
    /// Where in it.
    pub span: Span,
}

impl Location {
    /// A location in `source` at `span`.
    pub fn new(source: Arc<Source>, span: Span) -> Self {
        Self { source, span }
    }

    /// The offending text, as far as the span covers it on its line.
    pub fn snippet(&self) -> String {
        let line = self.source.line(self.span.line).unwrap_or("");
        line.chars()
            .skip(self.span.col.saturating_sub(1) as usize)
            .take(self.span.len.max(1) as usize)
            .collect()
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.source.path.display(),
            self.span.line,
            self.span.col
        )
    }
}

/// An error that can point at the place in a user's file that caused it.
pub trait Diagnose: std::error::Error {
    /// Where the problem is, when it comes from a file.
    fn location(&self) -> Option<&Location> {
        None
    }

    /// What the user probably meant or should do, if we know.
    fn help(&self) -> Option<String> {
        None
    }
}

/// Renders an error as one paragraph: message, `file:line:col`, the quoted line with the
/// offending text underlined, and a help line when there is one.
pub fn render(error: &dyn Diagnose) -> String {
    let title = error.to_string();
    let help = error.help();
    let renderer = Renderer::plain();
    let Some(location) = error.location() else {
        let mut out = format!("error: {title}");
        if let Some(help) = help {
            out.push_str("\nhelp: ");
            out.push_str(&help);
        }
        return out;
    };
    let path = location.source.path.display().to_string();
    let line_text = location.source.line(location.span.line).unwrap_or("");
    let range = char_range_to_bytes(line_text, location.span);
    let mut report = vec![Level::ERROR.primary_title(&title).element(
        Snippet::source(line_text)
            .line_start(location.span.line as usize)
            .path(&path)
            .annotation(AnnotationKind::Primary.span(range)),
    )];
    if let Some(help) = &help {
        report.push(Group::with_title(Level::HELP.secondary_title(help)));
    }
    renderer.render(&report).to_string()
}

/// Converts a 1-based character column and width into a byte range within `line`.
fn char_range_to_bytes(line: &str, span: Span) -> std::ops::Range<usize> {
    let byte_at = |chars: usize| {
        line.char_indices()
            .nth(chars)
            .map_or(line.len(), |(byte, _)| byte)
    };
    let start_char = span.col.saturating_sub(1) as usize;
    let start = byte_at(start_char);
    let end = byte_at(start_char + span.len.max(1) as usize).max(start);
    start..end
}

/// The candidate closest to `wanted`, if any is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(wanted, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("unknown task key `nmae`")]
    struct Typo(Location);

    impl Diagnose for Typo {
        fn location(&self) -> Option<&Location> {
            Some(&self.0)
        }
        fn help(&self) -> Option<String> {
            Some("did you mean `name`?".into())
        }
    }

    #[test]
    fn render_names_file_line_column_and_quotes_the_text() {
        let source = Source::new("site.yml", "- hosts: all\n  tasks:\n    - nmae: x\n");
        let error = Typo(Location::new(source, Span::new(3, 7, 4)));
        let text = render(&error);
        assert!(text.contains("error: unknown task key `nmae`"), "{text}");
        assert!(text.contains("site.yml:3:7"), "{text}");
        assert!(text.contains("- nmae: x"), "{text}");
        assert!(text.contains("^^^^"), "{text}");
        assert!(text.contains("help: did you mean `name`?"), "{text}");
    }

    #[test]
    fn did_you_mean_finds_close_names_only() {
        let keys = ["name", "when", "register"];
        assert_eq!(did_you_mean("nmae", keys).as_deref(), Some("name"));
        assert_eq!(did_you_mean("regster", keys).as_deref(), Some("register"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }
}
