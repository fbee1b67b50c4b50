//! The error returned for an invalid selector, and its caret rendering for the CLI.

/// Why a selector was rejected, and where.
///
/// `position` is a byte offset into the parsed input; it always lies on a character boundary
/// and is at most the input's length (the length itself means "at the end of the input").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct SelectorError {
    pub position: usize,
    pub message: String,
}

impl SelectorError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> Self {
        SelectorError {
            position,
            message: message.into(),
        }
    }

    /// Renders the error for a terminal: the input on one line, a caret under the offending
    /// character, then the message. Three lines, no trailing newline.
    ///
    /// Control characters are replaced by one visible character each, so that the input stays
    /// on one line (a selector ending in a newline is a common mistake) and the caret column,
    /// counted in characters, still lines up.
    pub fn render(&self, input: &str) -> String {
        let line: String = input.chars().map(visible).collect();
        let column = input
            .char_indices()
            .take_while(|&(offset, _)| offset < self.position)
            .count();
        format!("{line}\n{}^\n{}", " ".repeat(column), self.message)
    }
}

fn visible(c: char) -> char {
    match c {
        // A tab would move the caret line out of step with the input line.
        '\t' => ' ',
        '\n' => '\u{2424}', // ␤
        '\r' => '\u{240D}', // ␍
        c if c.is_control() => '\u{FFFD}',
        c => c,
    }
}
