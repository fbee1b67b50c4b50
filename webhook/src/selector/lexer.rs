//! Tokenizer for the selector language (reference §3.1).
//!
//! The lexer is pulled one token at a time by the parser, so the first error from the left is
//! the one reported, whether it is lexical or grammatical. It remembers the previous token
//! because two rules depend on it: keyword operators exist only right after a label, and the
//! function tokens `all(`, `global(` and `has(` only where an operand may start.

use super::error::SelectorError;

/// Longest label Calico accepts, in characters (all label characters are ASCII).
pub(crate) const MAX_LABEL_LEN: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind<'a> {
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Eq,
    Ne,
    Not,
    And,
    Or,
    All,
    Global,
    Has(&'a str),
    Contains,
    StartsWith,
    EndsWith,
    In,
    NotIn,
    Label(&'a str),
    Str(&'a str),
    Eof,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub kind: TokenKind<'a>,
    /// Byte offset of the token's first character.
    pub start: usize,
}

impl TokenKind<'_> {
    /// How the token is named in error messages ("found …").
    pub(crate) fn describe(&self) -> String {
        match self {
            TokenKind::LParen => "`(`".into(),
            TokenKind::RParen => "`)`".into(),
            TokenKind::LBrace => "`{`".into(),
            TokenKind::RBrace => "`}`".into(),
            TokenKind::Comma => "`,`".into(),
            TokenKind::Eq => "`==`".into(),
            TokenKind::Ne => "`!=`".into(),
            TokenKind::Not => "`!`".into(),
            TokenKind::And => "`&&`".into(),
            TokenKind::Or => "`||`".into(),
            TokenKind::All => "`all()`".into(),
            TokenKind::Global => "`global()`".into(),
            TokenKind::Has(label) => format!("`has({})`", shorten(label)),
            TokenKind::Contains => "`contains`".into(),
            TokenKind::StartsWith => "`starts with`".into(),
            TokenKind::EndsWith => "`ends with`".into(),
            TokenKind::In => "`in`".into(),
            TokenKind::NotIn => "`not in`".into(),
            TokenKind::Label(label) => format!("label `{}`", shorten(label)),
            TokenKind::Str(value) => format!("string literal {:?}", shorten(value)),
            TokenKind::Eof => "end of selector".into(),
        }
    }
}

/// Keeps error messages readable when the offending label or literal is huge.
fn shorten(text: &str) -> String {
    const KEEP: usize = 40;
    match text.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text)),
        None => text.to_owned(),
    }
}

pub(crate) fn is_label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-')
}

fn is_blank(b: u8) -> bool {
    // Only space and tab: newline and CR are errors (reference §3.7).
    b == b' ' || b == b'\t'
}

pub(crate) struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    prev: Option<TokenKind<'a>>,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(input: &'a str) -> Self {
        Lexer {
            input,
            pos: 0,
            prev: None,
        }
    }

    pub(crate) fn next_token(&mut self) -> Result<Token<'a>, SelectorError> {
        self.skip_blanks();
        let start = self.pos;
        let kind = self.scan()?;
        self.prev = Some(kind);
        Ok(Token { kind, start })
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.input.as_bytes().get(at).copied()
    }

    fn skip_blanks(&mut self) {
        while self.byte(self.pos).is_some_and(is_blank) {
            self.pos += 1;
        }
    }

    /// The maximal run of label characters starting at `from`. Label characters are ASCII, so
    /// both ends are character boundaries.
    fn word_at(&self, from: usize) -> &'a str {
        let rest = self.input.get(from..).unwrap_or_default();
        let len = rest.bytes().take_while(|&b| is_label_byte(b)).count();
        rest.get(..len).unwrap_or_default()
    }

    fn scan(&mut self) -> Result<TokenKind<'a>, SelectorError> {
        let start = self.pos;
        let Some(b) = self.byte(start) else {
            return Ok(TokenKind::Eof);
        };
        let next = self.byte(start + 1);
        let (kind, len) = match b {
            b'(' => (TokenKind::LParen, 1),
            b')' => (TokenKind::RParen, 1),
            b'{' => (TokenKind::LBrace, 1),
            b'}' => (TokenKind::RBrace, 1),
            b',' => (TokenKind::Comma, 1),
            b'!' if next == Some(b'=') => (TokenKind::Ne, 2),
            b'!' => (TokenKind::Not, 1),
            b'=' if next == Some(b'=') => (TokenKind::Eq, 2),
            b'&' if next == Some(b'&') => (TokenKind::And, 2),
            b'|' if next == Some(b'|') => (TokenKind::Or, 2),
            b'=' => return Err(lone(start, '=', "==")),
            b'&' => return Err(lone(start, '&', "&&")),
            b'|' => return Err(lone(start, '|', "||")),
            b'\'' | b'"' => return self.string(start, b),
            b if is_label_byte(b) => return self.word(start),
            _ => return Err(self.unexpected_char(start)),
        };
        self.pos += len;
        Ok(kind)
    }

    fn unexpected_char(&self, at: usize) -> SelectorError {
        match self.input.get(at..).and_then(|rest| rest.chars().next()) {
            Some('\n') => SelectorError::new(
                at,
                "unexpected newline (only spaces and tabs may separate tokens)",
            ),
            Some(c) => SelectorError::new(at, format!("unexpected character {c:?}")),
            None => SelectorError::new(at, "unexpected end of selector"),
        }
    }

    /// A quoted literal: everything up to the next identical quote, with no escapes.
    fn string(&mut self, start: usize, quote: u8) -> Result<TokenKind<'a>, SelectorError> {
        let rest = self.input.get(start + 1..).unwrap_or_default();
        // Quotes are ASCII, so the body ends on a character boundary.
        let Some(body) = rest.find(char::from(quote)).and_then(|len| rest.get(..len)) else {
            return Err(SelectorError::new(start, "unterminated string literal"));
        };
        self.pos = start + 1 + body.len() + 1;
        Ok(TokenKind::Str(body))
    }

    fn word(&mut self, start: usize) -> Result<TokenKind<'a>, SelectorError> {
        match self.prev {
            Some(TokenKind::Label(_)) => self.keyword(start),
            None | Some(TokenKind::LParen | TokenKind::Not | TokenKind::And | TokenKind::Or) => {
                self.function_or_label(start)
            }
            Some(_) => self.label(start),
        }
    }

    fn label(&mut self, start: usize) -> Result<TokenKind<'a>, SelectorError> {
        let word = self.word_at(start);
        check_label_len(word, start)?;
        self.pos = start + word.len();
        Ok(TokenKind::Label(word))
    }

    /// Where an operand may start, `all(`, `global(` and `has(` are functions, but only when the
    /// name touches the `(`; otherwise the word is an ordinary label (`has == 'x'` is valid).
    fn function_or_label(&mut self, start: usize) -> Result<TokenKind<'a>, SelectorError> {
        let word = self.word_at(start);
        let paren = start + word.len();
        if self.byte(paren) != Some(b'(') || !matches!(word, "all" | "global" | "has") {
            return self.label(start);
        }
        self.pos = paren + 1;
        self.skip_blanks();
        let kind = if word == "has" {
            let at = self.pos;
            let label = self.word_at(at);
            if label.is_empty() {
                return Err(self.expected(at, "a label inside `has(…)`"));
            }
            check_label_len(label, at)?;
            self.pos = at + label.len();
            self.skip_blanks();
            TokenKind::Has(label)
        } else if word == "all" {
            TokenKind::All
        } else {
            TokenKind::Global
        };
        if self.byte(self.pos) != Some(b')') {
            let what = format!("`)` to close `{word}(`");
            return Err(self.expected(self.pos, &what));
        }
        self.pos += 1;
        Ok(kind)
    }

    /// After a label only an operator may follow, so any word here must be a keyword operator.
    fn keyword(&mut self, start: usize) -> Result<TokenKind<'a>, SelectorError> {
        let word = self.word_at(start);
        let single = match word {
            "contains" => Some(TokenKind::Contains),
            "in" => Some(TokenKind::In),
            "notin" => Some(TokenKind::NotIn),
            "startswith" => Some(TokenKind::StartsWith),
            "endswith" => Some(TokenKind::EndsWith),
            _ => None,
        };
        if let Some(kind) = single {
            self.pos = start + word.len();
            return Ok(kind);
        }
        let (kind, second) = match word {
            "not" => (TokenKind::NotIn, "in"),
            "starts" => (TokenKind::StartsWith, "with"),
            "ends" => (TokenKind::EndsWith, "with"),
            _ => {
                let hint = if is_operator_word(&word.to_ascii_lowercase()) {
                    " (operators are lowercase)"
                } else {
                    ""
                };
                return Err(SelectorError::new(
                    start,
                    format!(
                        "expected an operator (`==`, `!=`, `in`, `not in`, `contains`, \
                         `starts with`, `ends with`) after a label, found `{}`{hint}",
                        shorten(word)
                    ),
                ));
            }
        };
        self.pos = start + word.len();
        self.skip_blanks();
        let at = self.pos;
        let found = self.word_at(at);
        if found != second {
            let what = format!("`{second}` after `{word}`");
            return Err(self.expected(at, &what));
        }
        self.pos = at + found.len();
        Ok(kind)
    }

    /// "expected X, found Y" where Y is whatever starts at `at`.
    fn expected(&self, at: usize, what: &str) -> SelectorError {
        let rest = self.input.get(at..).unwrap_or_default();
        let found = match rest.chars().next() {
            None => "end of selector".to_owned(),
            Some(_) if !self.word_at(at).is_empty() => format!("`{}`", shorten(self.word_at(at))),
            Some(c) => format!("{c:?}"),
        };
        SelectorError::new(at, format!("expected {what}, found {found}"))
    }
}

fn lone(at: usize, c: char, want: &str) -> SelectorError {
    SelectorError::new(
        at,
        format!("unexpected character '{c}' (did you mean `{want}`?)"),
    )
}

fn is_operator_word(word: &str) -> bool {
    matches!(
        word,
        "contains" | "in" | "notin" | "not" | "startswith" | "starts" | "endswith" | "ends"
    )
}

fn check_label_len(label: &str, start: usize) -> Result<(), SelectorError> {
    if label.len() > MAX_LABEL_LEN {
        return Err(SelectorError::new(
            start,
            format!(
                "label is {} characters long; the maximum is {MAX_LABEL_LEN}",
                label.len()
            ),
        ));
    }
    Ok(())
}
