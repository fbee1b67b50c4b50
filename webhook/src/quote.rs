//! Request-derived text echoed in messages and logs, cut to a bounded length: an image, a name,
//! a selector or a pattern of megabytes must not make an answer or a log line of megabytes.
//!
//! ```
//! use image_assurance::quote::{QUOTE_LIMIT, bound, cut, quote};
//!
//! assert_eq!(quote("nginx:1.27").to_string(), r#""nginx:1.27""#);
//! let huge = "a".repeat(7 << 20);
//! let shown = quote(&huge).to_string();
//! assert!(shown.len() < QUOTE_LIMIT + 32);
//! assert!(shown.ends_with("\"… (7340032 bytes)"));
//! assert_eq!(cut("web").to_string(), "web");
//! assert!(bound(&huge).len() < 5000);
//! ```

use std::borrow::Cow;
use std::fmt;

/// At most this many bytes of one echoed value are shown.
pub const QUOTE_LIMIT: usize = 256;

/// At most this many bytes of a whole message: several quoted values, a list of rejections, or
/// a library's error text (which may quote the input itself).
pub const MESSAGE_LIMIT: usize = 4096;

/// The start of `text` that [`quote`] and [`cut`] show: at most `QUOTE_LIMIT` bytes, ending
/// on a character boundary. For keeping no more of a value than will be shown.
pub fn shown(text: &str) -> &str {
    prefix(text, QUOTE_LIMIT)
}

/// The longest prefix of `text` of at most `limit` bytes that ends on a character boundary.
fn prefix(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` as `{:?}` shows it (quoted, escaped) when it is at most `QUOTE_LIMIT` bytes; else
/// its start, quoted, then an ellipsis and its length: `"aaaa"… (7340032 bytes)`.
pub fn quote(text: &str) -> Quoted<'_> {
    Quoted {
        shown: shown(text),
        length: text.len(),
    }
}

/// [`quote`] of a value of which only `start` (what [`shown`] gave) was kept, `length` bytes
/// long in all.
pub fn quote_kept(start: &str, length: usize) -> Quoted<'_> {
    Quoted {
        shown: shown(start),
        length: length.max(start.len()),
    }
}

/// See [`quote`].
#[derive(Clone, Copy)]
pub struct Quoted<'a> {
    shown: &'a str,
    length: usize,
}

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.shown)?;
        if self.shown.len() < self.length {
            write!(f, "… ({} bytes)", self.length)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `text` itself, unquoted, when it is at most `QUOTE_LIMIT` bytes; else its start and an
/// ellipsis. For values printed bare (a name in a log field, a policy name).
pub fn cut(text: &str) -> Cow<'_, str> {
    let shown = prefix(text, QUOTE_LIMIT);
    if shown.len() == text.len() {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(format!("{shown}…"))
    }
}

/// A whole message of at most `MESSAGE_LIMIT` bytes (plus a short note): unchanged when short,
/// else its start, an ellipsis and how long it was.
pub fn bound(message: &str) -> Cow<'_, str> {
    if message.len() <= MESSAGE_LIMIT {
        return Cow::Borrowed(message);
    }
    Cow::Owned(format!(
        "{}… (cut: {} bytes in all)",
        prefix(message, MESSAGE_LIMIT),
        message.len()
    ))
}

/// [`bound`] for an owned message, reusing it when it is short.
pub fn bound_owned(message: String) -> String {
    match bound(&message) {
        Cow::Borrowed(_) => message,
        Cow::Owned(cut) => cut,
    }
}

/// The most warnings an answer carries; the API server shows each to the user.
pub const MAX_WARNINGS: usize = 16;

/// Bounds every text of an admission answer that may echo the request, whichever path built
/// it: the message, each warning (and their number), each audit annotation.
pub fn bound_response(response: &mut kube::core::admission::AdmissionResponse) {
    let message = std::mem::take(&mut response.result.message);
    response.result.message = bound_owned(message);
    if let Some(warnings) = &mut response.warnings {
        if warnings.len() > MAX_WARNINGS {
            let more = warnings.len() - (MAX_WARNINGS - 1);
            warnings.truncate(MAX_WARNINGS - 1);
            warnings.push(format!("… and {more} more warnings"));
        }
        for warning in warnings.iter_mut() {
            *warning = bound_owned(std::mem::take(warning));
        }
    }
    for value in response.audit_annotations.values_mut() {
        *value = bound_owned(std::mem::take(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_shown_as_debug_and_display_show_them() {
        for text in ["", "nginx", "say \"hi\"\n", "é"] {
            assert_eq!(quote(text).to_string(), format!("{text:?}"));
            assert_eq!(cut(text), text);
            assert_eq!(bound(text), text);
        }
    }

    #[test]
    fn long_values_are_cut_on_a_character_boundary_with_an_ellipsis() {
        // Two-byte characters, so that the limit falls inside one.
        let long = "é".repeat(QUOTE_LIMIT);
        let quoted = quote(&long).to_string();
        let kept = "é".repeat(QUOTE_LIMIT / 2);
        assert_eq!(quoted, format!("{kept:?}… ({} bytes)", long.len()));
        assert_eq!(cut(&long), format!("{kept}…"));
        let odd = format!("a{long}");
        assert!(
            quote(&odd)
                .to_string()
                .starts_with(&format!("\"a{}", "é".repeat(127)))
        );
    }

    #[test]
    fn escaping_cannot_make_a_quote_unbounded() {
        let controls = "\u{1b}".repeat(1 << 20);
        assert!(quote(&controls).to_string().len() <= QUOTE_LIMIT * 6 + 32);
    }

    #[test]
    fn long_messages_are_bounded_and_say_how_long_they_were() {
        let message = "x".repeat(MESSAGE_LIMIT + 1);
        let bounded = bound(&message);
        assert!(bounded.len() < MESSAGE_LIMIT + 64);
        assert!(bounded.ends_with(&format!("… (cut: {} bytes in all)", MESSAGE_LIMIT + 1)));
        assert_eq!(bound_owned("short".into()), "short");
        assert_eq!(bound_owned(message.clone()), bounded);
    }

    #[test]
    fn every_text_of_an_answer_is_bounded() {
        let mut response = kube::core::admission::AdmissionResponse::invalid("x".repeat(1 << 20));
        response.warnings = Some(vec!["w".repeat(1 << 20); 100]);
        response
            .audit_annotations
            .insert("rule".into(), "r".repeat(1 << 20));
        bound_response(&mut response);
        assert!(response.result.message.len() < MESSAGE_LIMIT + 64);
        let warnings = response.warnings.unwrap();
        assert_eq!(warnings.len(), MAX_WARNINGS);
        assert_eq!(warnings[MAX_WARNINGS - 1], "… and 85 more warnings");
        assert!(warnings.iter().all(|w| w.len() < MESSAGE_LIMIT + 64));
        assert!(response.audit_annotations["rule"].len() < MESSAGE_LIMIT + 64);
    }
}
