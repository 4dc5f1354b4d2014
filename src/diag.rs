//! Errors that point at a place in a file the user wrote: `path:line:col: message`.

use std::fmt;
use std::path::{Path, PathBuf};

/// The innermost cause of an error: "Connection refused (os error 111)" rather than the
/// "error sending request" or "dispatch failure" that wraps it.
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// The offending line, shown under the message so the key is visible in context.
    pub excerpt: String,
}

impl FileError {
    /// Builds an error from a byte offset into `text`.
    pub fn at(path: &Path, text: &str, offset: usize, message: impl Into<String>) -> Self {
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        let excerpt = text[line_start..]
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        FileError {
            path: path.to_path_buf(),
            line,
            col,
            message: message.into(),
            excerpt,
        }
    }

    /// `keymap.toml:2:1: message`: for one-line places like the footer.
    pub fn short(&self) -> String {
        let name = self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        format!("{name}:{}:{}: {}", self.line, self.col, self.message)
    }

    /// A `toml` deserialisation error, located by its span.
    pub fn from_toml(path: &Path, text: &str, err: &toml::de::Error) -> Self {
        let offset = err.span().map_or(0, |s| s.start);
        FileError::at(path, text, offset, err.message().trim())
    }
}

impl FileError {
    /// A YAML error from serde-saphyr, located by its line and column.
    pub fn from_yaml(path: &Path, text: &str, err: &serde_saphyr::Error) -> Self {
        let bare = err.without_snippet().to_string();
        // serde-saphyr prefixes its own "error: line L column C: "; we print the place ourselves.
        let message = bare
            .split_once(": ")
            .filter(|(head, _)| head.starts_with("error"))
            .map_or(bare.as_str(), |(_, rest)| rest);
        let message = match message.split_once(": ") {
            Some((place, rest)) if place.starts_with("line ") => rest,
            _ => message,
        };
        let message = match message.rfind(" at line ") {
            Some(i) if message[i..].contains(", column ") => &message[..i],
            _ => message,
        };
        match err.location() {
            Some(loc) => FileError::at_line(
                path,
                text,
                loc.line() as usize,
                loc.column() as usize,
                message,
            ),
            None => FileError::at(path, text, 0, message),
        }
    }

    /// Builds an error from a 1-based line and column.
    pub fn at_line(
        path: &Path,
        text: &str,
        line: usize,
        col: usize,
        message: impl Into<String>,
    ) -> Self {
        let excerpt = text
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or_default()
            .to_string();
        FileError {
            path: path.to_path_buf(),
            line,
            col,
            message: message.into(),
            excerpt,
        }
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.col,
            self.message
        )?;
        if !self.excerpt.trim().is_empty() {
            write!(f, "\n  {} | {}", self.line, self.excerpt)?;
        }
        Ok(())
    }
}

impl std::error::Error for FileError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "a = 1\nbé = 2\nc = 3\n";
        let err = FileError::at(Path::new("x.toml"), text, text.find("= 2").unwrap(), "bad");
        assert_eq!((err.line, err.col), (2, 4));
        assert_eq!(err.to_string(), "x.toml:2:4: bad\n  2 | bé = 2");
    }

    #[test]
    fn toml_errors_keep_their_place() {
        let text = "[ui]\ntheme = 3\n";
        let err = toml::from_str::<toml::Table>("[ui]\nthem e = 3\n").unwrap_err();
        let located = FileError::from_toml(Path::new("c.toml"), text, &err);
        assert_eq!(located.line, 2);
    }
}
