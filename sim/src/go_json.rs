//! Go's `encoding/json` syntax errors, worded as its scanner words them (`invalid character 'n'
//! looking for beginning of object key string`, `unexpected end of JSON input`): what
//! kube-apiserver says of a malformed patch or webhook answer, which clients show as they are.

/// What the scanner expects next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    BeginValueOrEmpty,
    BeginValue,
    BeginStringOrEmpty,
    BeginString,
    EndValue,
    EndTop,
    InString,
    InStringEscape,
    /// How many hex digits of a `\u` escape have been read.
    InStringEscapeU(u8),
    Negative,
    One,
    Zero,
    Dot,
    DotZero,
    Exponent,
    ExponentSign,
    ExponentZero,
    /// Inside `true`, `false` or `null`: the word and how much of it has been read.
    Literal(&'static str, usize),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Parse {
    ObjectKey,
    ObjectValue,
    ArrayValue,
}

/// Go's `maxNestingDepth`.
const MAX_DEPTH: usize = 10_000;

/// `quoteChar`: the byte as Go's `strconv.Quote` shows it, between single quotes.
fn quote_char(byte: u8) -> String {
    match byte {
        b'\'' => r"'\''".to_string(),
        b'"' => "'\"'".to_string(),
        0x07 => r"'\a'".to_string(),
        0x08 => r"'\b'".to_string(),
        0x0c => r"'\f'".to_string(),
        b'\n' => r"'\n'".to_string(),
        b'\r' => r"'\r'".to_string(),
        b'\t' => r"'\t'".to_string(),
        0x0b => r"'\v'".to_string(),
        b'\\' => r"'\\'".to_string(),
        0x00..=0x1f | 0x7f => format!("'\\x{byte:02x}'"),
        // `string(c)` of a byte is the rune U+00XX; Go prints the non-printable ones escaped.
        0x80..=0xa0 | 0xad => format!("'\\u{byte:04x}'"),
        _ => format!("'{}'", char::from(byte)),
    }
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

/// The error Go's `json.Unmarshal` reports for `data` before decoding anything, or `None` when
/// `data` is valid JSON.
pub fn syntax_error(data: &[u8]) -> Option<String> {
    let mut scanner = Scanner {
        step: Step::BeginValue,
        parse: Vec::new(),
        end_top: false,
    };
    for &byte in data {
        if let Err(error) = scanner.step(byte) {
            return Some(error);
        }
    }
    if scanner.end_top {
        return None;
    }
    // `eof`: a number at the very end is complete once a space follows.
    if scanner.step(b' ').is_ok() && scanner.end_top {
        return None;
    }
    Some("unexpected end of JSON input".to_string())
}

struct Scanner {
    step: Step,
    parse: Vec<Parse>,
    end_top: bool,
}

fn invalid(byte: u8, context: &str) -> Result<(), String> {
    Err(format!("invalid character {} {context}", quote_char(byte)))
}

impl Scanner {
    fn push(&mut self, parse: Parse) -> Result<(), String> {
        self.parse.push(parse);
        if self.parse.len() > MAX_DEPTH {
            return Err("exceeded max depth".to_string());
        }
        Ok(())
    }

    fn pop(&mut self) {
        self.parse.pop();
        if self.parse.is_empty() {
            self.step = Step::EndTop;
            self.end_top = true;
        } else {
            self.step = Step::EndValue;
        }
    }

    fn step(&mut self, byte: u8) -> Result<(), String> {
        match self.step {
            Step::BeginValueOrEmpty => {
                if is_space(byte) {
                    Ok(())
                } else if byte == b']' {
                    self.end_value(byte)
                } else {
                    self.begin_value(byte)
                }
            }
            Step::BeginValue => self.begin_value(byte),
            Step::BeginStringOrEmpty => {
                if is_space(byte) {
                    Ok(())
                } else if byte == b'}' {
                    if let Some(last) = self.parse.last_mut() {
                        *last = Parse::ObjectValue;
                    }
                    self.end_value(byte)
                } else {
                    self.begin_string(byte)
                }
            }
            Step::BeginString => self.begin_string(byte),
            Step::EndValue => self.end_value(byte),
            Step::EndTop => {
                if is_space(byte) {
                    Ok(())
                } else {
                    invalid(byte, "after top-level value")
                }
            }
            Step::InString => {
                match byte {
                    b'"' => self.step = Step::EndValue,
                    b'\\' => self.step = Step::InStringEscape,
                    0x00..=0x1f => return invalid(byte, "in string literal"),
                    _ => {}
                }
                Ok(())
            }
            Step::InStringEscape => match byte {
                b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => {
                    self.step = Step::InString;
                    Ok(())
                }
                b'u' => {
                    self.step = Step::InStringEscapeU(0);
                    Ok(())
                }
                _ => invalid(byte, "in string escape code"),
            },
            Step::InStringEscapeU(read) => {
                if !byte.is_ascii_hexdigit() {
                    return invalid(byte, "in \\u hexadecimal character escape");
                }
                self.step = if read == 3 {
                    Step::InString
                } else {
                    Step::InStringEscapeU(read + 1)
                };
                Ok(())
            }
            Step::Negative => match byte {
                b'0' => {
                    self.step = Step::Zero;
                    Ok(())
                }
                b'1'..=b'9' => {
                    self.step = Step::One;
                    Ok(())
                }
                _ => invalid(byte, "in numeric literal"),
            },
            Step::One => {
                if byte.is_ascii_digit() {
                    Ok(())
                } else {
                    self.zero(byte)
                }
            }
            Step::Zero => self.zero(byte),
            Step::Dot => {
                if byte.is_ascii_digit() {
                    self.step = Step::DotZero;
                    Ok(())
                } else {
                    invalid(byte, "after decimal point in numeric literal")
                }
            }
            Step::DotZero => match byte {
                b'0'..=b'9' => Ok(()),
                b'e' | b'E' => {
                    self.step = Step::Exponent;
                    Ok(())
                }
                _ => self.end_value(byte),
            },
            Step::Exponent => {
                if byte == b'+' || byte == b'-' {
                    self.step = Step::ExponentSign;
                    Ok(())
                } else {
                    self.exponent_sign(byte)
                }
            }
            Step::ExponentSign => self.exponent_sign(byte),
            Step::ExponentZero => {
                if byte.is_ascii_digit() {
                    Ok(())
                } else {
                    self.end_value(byte)
                }
            }
            Step::Literal(word, read) => {
                let expected = word.as_bytes()[read];
                if byte != expected {
                    return invalid(
                        byte,
                        &format!("in literal {word} (expecting {})", quote_char(expected)),
                    );
                }
                self.step = if read + 1 == word.len() {
                    Step::EndValue
                } else {
                    Step::Literal(word, read + 1)
                };
                Ok(())
            }
        }
    }

    fn begin_value(&mut self, byte: u8) -> Result<(), String> {
        self.step = match byte {
            _ if is_space(byte) => return Ok(()),
            b'{' => {
                self.push(Parse::ObjectKey)?;
                Step::BeginStringOrEmpty
            }
            b'[' => {
                self.push(Parse::ArrayValue)?;
                Step::BeginValueOrEmpty
            }
            b'"' => Step::InString,
            b'-' => Step::Negative,
            b'0' => Step::Zero,
            b'1'..=b'9' => Step::One,
            b't' => Step::Literal("true", 1),
            b'f' => Step::Literal("false", 1),
            b'n' => Step::Literal("null", 1),
            _ => return invalid(byte, "looking for beginning of value"),
        };
        Ok(())
    }

    fn begin_string(&mut self, byte: u8) -> Result<(), String> {
        if is_space(byte) {
            return Ok(());
        }
        if byte == b'"' {
            self.step = Step::InString;
            return Ok(());
        }
        invalid(byte, "looking for beginning of object key string")
    }

    fn zero(&mut self, byte: u8) -> Result<(), String> {
        match byte {
            b'.' => {
                self.step = Step::Dot;
                Ok(())
            }
            b'e' | b'E' => {
                self.step = Step::Exponent;
                Ok(())
            }
            _ => self.end_value(byte),
        }
    }

    fn exponent_sign(&mut self, byte: u8) -> Result<(), String> {
        if byte.is_ascii_digit() {
            self.step = Step::ExponentZero;
            Ok(())
        } else {
            invalid(byte, "in exponent of numeric literal")
        }
    }

    fn end_value(&mut self, byte: u8) -> Result<(), String> {
        let Some(&parse) = self.parse.last() else {
            self.step = Step::EndTop;
            self.end_top = true;
            return self.step(byte);
        };
        if is_space(byte) {
            self.step = Step::EndValue;
            return Ok(());
        }
        match parse {
            Parse::ObjectKey => {
                if byte == b':' {
                    if let Some(last) = self.parse.last_mut() {
                        *last = Parse::ObjectValue;
                    }
                    self.step = Step::BeginValue;
                    Ok(())
                } else {
                    invalid(byte, "after object key")
                }
            }
            Parse::ObjectValue => match byte {
                b',' => {
                    if let Some(last) = self.parse.last_mut() {
                        *last = Parse::ObjectKey;
                    }
                    self.step = Step::BeginString;
                    Ok(())
                }
                b'}' => {
                    self.pop();
                    Ok(())
                }
                _ => invalid(byte, "after object key:value pair"),
            },
            Parse::ArrayValue => match byte {
                b',' => {
                    self.step = Step::BeginValue;
                    Ok(())
                }
                b']' => {
                    self.pop();
                    Ok(())
                }
                _ => invalid(byte, "after array element"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_documents_have_no_error() {
        for valid in [
            r#"{}"#,
            r#" {"a": [1, -2.5e+3, true, false, null, "x\u00e9\n"], "b": {}} "#,
            "0",
            "[]",
        ] {
            assert_eq!(syntax_error(valid.as_bytes()), None, "{valid}");
        }
    }

    /// Messages as Go 1.23's `json.Unmarshal` gives them.
    #[test]
    fn errors_are_worded_as_go_words_them() {
        for (input, message) in [
            (
                "{not json",
                "invalid character 'n' looking for beginning of object key string",
            ),
            ("", "unexpected end of JSON input"),
            ("{\"a\":1", "unexpected end of JSON input"),
            ("{\"a\" 1}", "invalid character '1' after object key"),
            (
                "{\"a\":1 \"b\"}",
                "invalid character '\"' after object key:value pair",
            ),
            ("[1 2]", "invalid character '2' after array element"),
            ("{} x", "invalid character 'x' after top-level value"),
            ("nul", "unexpected end of JSON input"),
            (
                "nulL",
                "invalid character 'L' in literal null (expecting 'l')",
            ),
            (
                "tru3",
                "invalid character '3' in literal true (expecting 'e')",
            ),
            ("-x", "invalid character 'x' in numeric literal"),
            (
                "1.x",
                "invalid character 'x' after decimal point in numeric literal",
            ),
            (
                "1ex",
                "invalid character 'x' in exponent of numeric literal",
            ),
            ("\"a\nb\"", "invalid character '\\n' in string literal"),
            ("\"\\q\"", "invalid character 'q' in string escape code"),
            (
                "\"\\u12g4\"",
                "invalid character 'g' in \\u hexadecimal character escape",
            ),
            (
                "'a'",
                "invalid character '\\'' looking for beginning of value",
            ),
            (
                "\u{1}",
                "invalid character '\\x01' looking for beginning of value",
            ),
        ] {
            assert_eq!(
                syntax_error(input.as_bytes()).as_deref(),
                Some(message),
                "{input:?}"
            );
        }
    }
}
