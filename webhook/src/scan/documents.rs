//! The YAML documents of a stream, one reader at a time, split on `---` lines exactly as
//! `manifest::parse_documents` splits a text (kubectl's rule), so that document numbers in
//! errors agree with every other manifest the tool reads. The whole stream is never held.

use std::io::{self, BufRead, Read};

use crate::manifest::is_document_separator;

/// The longest line a YAML scan-results file may have. Lines are held whole while they are
/// parsed; a one-line flow document of 10^5 results is about 10 MiB.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Splits a stream into documents. Call [`YamlDocuments::next_document`] until it says `None`.
pub struct YamlDocuments<R> {
    input: R,
    state: State,
    /// Lines read so far, for errors.
    lines: usize,
    /// The first read error, kept because the parser reports any as a bare "IO error".
    error: Option<(io::ErrorKind, String)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing read yet.
    Start,
    /// The last document ended at a separator, so another one follows (perhaps empty).
    AfterSeparator,
    /// The input is exhausted.
    Done,
}

impl<R: BufRead> YamlDocuments<R> {
    pub fn new(input: R) -> Self {
        YamlDocuments {
            input,
            state: State::Start,
            lines: 0,
            error: None,
        }
    }

    /// The read error that stopped the stream, if one did.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error
            .take()
            .map(|(kind, message)| io::Error::new(kind, message))
    }

    /// The next document, read up to its first line with content (so that
    /// [`DocumentReader::is_blank`] can answer), or `None` at the end of the stream.
    pub fn next_document(&mut self) -> io::Result<Option<DocumentReader<'_, R>>> {
        let first = match self.state {
            State::Done => return Ok(None),
            State::Start => true,
            State::AfterSeparator => false,
        };
        let mut document = DocumentReader {
            owner: self,
            pending: Vec::new(),
            position: 0,
            blank: true,
            ended: false,
            first,
        };
        document.read_leading_blank_lines()?;
        Ok(Some(document))
    }
}

/// One document's bytes; reading stops before the separator line that ends it.
pub struct DocumentReader<'a, R> {
    owner: &'a mut YamlDocuments<R>,
    /// Read from the stream but not yet handed out.
    pending: Vec<u8>,
    position: usize,
    /// No line so far had anything but whitespace.
    blank: bool,
    /// The separator or the end of the stream has been reached.
    ended: bool,
    first: bool,
}

impl<R: BufRead> DocumentReader<'_, R> {
    /// Only whitespace: such documents are skipped (but still counted, see
    /// [`DocumentReader::is_counted`]).
    pub fn is_blank(&self) -> bool {
        self.blank
    }

    /// A blank first document that a separator ends does not count: a leading `---` opens the
    /// first document rather than ending an empty one.
    pub fn is_counted(&self) -> bool {
        !(self.first && self.blank && self.ended && self.owner.state == State::AfterSeparator)
    }

    /// Reads (and keeps, so that line numbers stay right) the blank lines before the first line
    /// with content, so that a blank document is known before it is parsed.
    fn read_leading_blank_lines(&mut self) -> io::Result<()> {
        while self.blank && !self.ended {
            self.read_line()?;
        }
        Ok(())
    }

    /// Appends the next line of the document to `pending`, or marks the document ended.
    fn read_line(&mut self) -> io::Result<()> {
        let result = self.read_checked_line();
        if let Err(error) = &result {
            self.owner.error = Some((error.kind(), error.to_string()));
        }
        result
    }

    fn read_checked_line(&mut self) -> io::Result<()> {
        let start = self.pending.len();
        // Bounded, so that a stream without line breaks (`/dev/zero`) is refused instead of
        // filling memory.
        let read = (&mut self.owner.input)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut self.pending)?;
        if read > MAX_LINE_BYTES {
            self.pending.truncate(start);
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "line {}: longer than {} MiB, the most one line may hold",
                    self.owner.lines + 1,
                    MAX_LINE_BYTES / (1024 * 1024)
                ),
            ));
        }
        if read == 0 {
            self.ended = true;
            self.owner.state = State::Done;
            return Ok(());
        }
        self.owner.lines += 1;
        // A line break never occurs inside a UTF-8 sequence, so lines can be checked alone.
        let Ok(line) = std::str::from_utf8(&self.pending[start..]) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("line {}: not valid UTF-8", self.owner.lines),
            ));
        };
        if is_document_separator(line) {
            self.pending.truncate(start);
            self.ended = true;
            self.owner.state = State::AfterSeparator;
        } else if self.blank && !line.trim().is_empty() {
            self.blank = false;
        }
        Ok(())
    }

    /// Skips what the parser left unread, so that the next document starts after this one's
    /// separator.
    pub fn finish(mut self) -> io::Result<()> {
        while !self.ended {
            self.pending.clear();
            self.position = 0;
            self.read_line()?;
        }
        Ok(())
    }
}

impl<R: BufRead> Read for DocumentReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.position == self.pending.len() {
            if self.ended {
                return Ok(0);
            }
            self.pending.clear();
            self.position = 0;
            self.read_line()?;
        }
        let available = &self.pending[self.position..];
        let count = available.len().min(buf.len());
        buf[..count].copy_from_slice(&available[..count]);
        self.position += count;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(counted, blank, text)` of every document.
    fn split(text: &str) -> Vec<(bool, bool, String)> {
        let mut documents = YamlDocuments::new(text.as_bytes());
        let mut out = Vec::new();
        while let Some(mut document) = documents.next_document().unwrap() {
            let mut content = String::new();
            document.read_to_string(&mut content).unwrap();
            out.push((document.is_counted(), document.is_blank(), content));
            document.finish().unwrap();
        }
        out
    }

    fn doc(counted: bool, blank: bool, text: &str) -> (bool, bool, String) {
        (counted, blank, text.to_string())
    }

    #[test]
    fn documents_are_split_on_separator_lines() {
        assert_eq!(
            split("a: 1\n---\n\n---\nb: 2\n--- # note\nc: 3"),
            [
                doc(true, false, "a: 1\n"),
                doc(true, true, "\n"),
                doc(true, false, "b: 2\n"),
                doc(true, false, "c: 3"),
            ]
        );
    }

    #[test]
    fn a_leading_separator_opens_the_first_document() {
        assert_eq!(
            split("\n---\na: 1\n"),
            [doc(false, true, "\n"), doc(true, false, "a: 1\n")]
        );
        assert_eq!(
            split("---\r\n"),
            [doc(false, true, ""), doc(true, true, "")]
        );
    }

    #[test]
    fn an_empty_stream_is_one_blank_document() {
        assert_eq!(split(""), [doc(true, true, "")]);
        assert_eq!(split("  \n"), [doc(true, true, "  \n")]);
    }

    #[test]
    fn dashes_inside_a_line_do_not_separate() {
        assert_eq!(
            split("a: ---\n  ---\n----\n"),
            [doc(true, false, "a: ---\n  ---\n----\n")]
        );
    }

    #[test]
    fn invalid_utf8_is_an_error_naming_the_line() {
        let mut documents = YamlDocuments::new(&b"a: 1\n---\nb: 2\nc: \xff\n"[..]);
        documents
            .next_document()
            .unwrap()
            .unwrap()
            .finish()
            .unwrap();
        let mut second = documents.next_document().unwrap().unwrap();
        let error = second.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(error.to_string(), "line 4: not valid UTF-8");
        assert_eq!(
            documents.take_error().unwrap().to_string(),
            "line 4: not valid UTF-8"
        );
        assert!(documents.take_error().is_none());
        // Found while looking for the first line with content.
        let mut documents = YamlDocuments::new(&b"\xff\n"[..]);
        match documents.next_document() {
            Err(error) => assert_eq!(error.to_string(), "line 1: not valid UTF-8"),
            Ok(_) => panic!("invalid UTF-8 was read"),
        }
    }

    #[test]
    fn an_unread_rest_is_skipped_by_finish() {
        let mut documents = YamlDocuments::new("a: 1\nb: 2\n---\nc: 3\n".as_bytes());
        let mut first = documents.next_document().unwrap().unwrap();
        let mut byte = [0; 1];
        first.read_exact(&mut byte).unwrap();
        first.finish().unwrap();
        let mut second = documents.next_document().unwrap().unwrap();
        let mut content = String::new();
        second.read_to_string(&mut content).unwrap();
        assert_eq!(content, "c: 3\n");
    }
}
