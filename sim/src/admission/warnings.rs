//! Warnings for the client (`Warning: 299 - "<text>"` headers), with kube-apiserver's limits
//! (`apiserver pkg/server/filters/warning.go`): duplicates and empty texts are dropped; while the
//! total stays within 4096 runes every warning is sent whole, past it each is cut to 256 runes
//! and the ones that no longer fit are dropped.

use std::sync::Mutex;

use axum::http::HeaderValue;

const TRUNCATE_AT_TOTAL_RUNES: usize = 4 * 1024;
const TRUNCATE_ITEM_RUNES: usize = 256;

#[derive(Debug, Default)]
pub struct Warnings {
    texts: Mutex<Vec<String>>,
}

impl Warnings {
    pub fn add(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        // A poisoned lock only means another writer panicked; the list is still usable.
        let mut texts = self.texts.lock().unwrap_or_else(|e| e.into_inner());
        if !texts.iter().any(|known| known == text) {
            texts.push(text.to_string());
        }
    }

    /// The `Warning` header values, in the order the warnings were added.
    pub fn headers(&self) -> Vec<HeaderValue> {
        let texts = self.texts.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = texts.iter().map(|t| t.chars().count()).sum();
        let mut headers = Vec::new();
        if total <= TRUNCATE_AT_TOTAL_RUNES {
            headers.extend(texts.iter().filter_map(|t| header(t)));
            return headers;
        }
        let mut written = 0;
        for text in texts.iter() {
            let cut: String = text.chars().take(TRUNCATE_ITEM_RUNES).collect();
            written += cut.chars().count();
            if written > TRUNCATE_AT_TOTAL_RUNES {
                break;
            }
            headers.extend(header(&cut));
        }
        headers
    }
}

/// `net.NewWarningHeader(299, "-", text)`: quotes and backslashes escaped. A text with any
/// control character (a tab too) is refused there, so the warning is dropped, not cleaned.
fn header(text: &str) -> Option<HeaderValue> {
    if text.chars().any(char::is_control) {
        return None;
    }
    let mut value = String::from("299 - \"");
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            value.push('\\');
        }
        value.push(c);
    }
    value.push('"');
    HeaderValue::from_bytes(value.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_with_a_control_character_is_dropped_as_kube_apiserver_drops_it() {
        let warnings = Warnings::default();
        warnings.add("tab\there");
        warnings.add("bell\u{7}");
        warnings.add("kept");
        assert_eq!(warnings.headers(), [r#"299 - "kept""#]);
    }

    #[test]
    fn warnings_are_escaped_deduplicated_and_limited() {
        let warnings = Warnings::default();
        warnings.add("say \"hi\"\\");
        warnings.add("say \"hi\"\\");
        warnings.add("");
        assert_eq!(warnings.headers(), [r#"299 - "say \"hi\"\\""#]);

        let long = Warnings::default();
        for i in 0..20 {
            long.add(&format!("{i:02}{}", "x".repeat(298)));
        }
        let headers = long.headers();
        // 20 × 300 runes exceed 4096: each is cut to 256 runes, 16 fit.
        assert_eq!(headers.len(), 16);
        assert!(
            headers
                .iter()
                .all(|h| h.len() == "299 - \"\"".len() + TRUNCATE_ITEM_RUNES)
        );
    }
}
