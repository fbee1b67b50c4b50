//! Recursive-descent parser for the selector grammar (reference §3.2 and §3.3).

use super::ast::{CompareOp, Node};
use super::error::SelectorError;
use super::lexer::{Lexer, Token, TokenKind};

/// Deepest parenthesis nesting accepted. Calico has no limit, but an unbounded recursion
/// would let a hostile selector overflow the stack; real selectors nest a few levels.
pub(crate) const MAX_DEPTH: usize = 100;

/// Longest selector accepted, in bytes. Calico has no limit; real selectors are short, and one
/// listing hundreds of namespaces is a few KiB.
pub const MAX_LEN: usize = 64 * 1024;

/// Parses a whole selector. Empty or blank input is `all()`.
pub(crate) fn parse(input: &str) -> Result<Node, SelectorError> {
    if input.len() > MAX_LEN {
        let mut at = MAX_LEN;
        while !input.is_char_boundary(at) {
            at -= 1;
        }
        return Err(SelectorError::new(
            at,
            format!(
                "the selector is {} bytes long, more than the limit of {MAX_LEN}",
                input.len()
            ),
        ));
    }
    let mut parser = Parser {
        lexer: Lexer::new(input),
        peeked: None,
        depth: 0,
    };
    if parser.peek()?.kind == TokenKind::Eof {
        return Ok(Node::All);
    }
    let node = parser.or_expr()?;
    let token = parser.next()?;
    if token.kind != TokenKind::Eof {
        return Err(SelectorError::new(
            token.start,
            format!(
                "unexpected content at end of selector: found {}, expected `&&`, `||` or the end",
                token.kind.describe()
            ),
        ));
    }
    Ok(node)
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Token<'a>>,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&mut self) -> Result<Token<'a>, SelectorError> {
        if let Some(token) = self.peeked {
            return Ok(token);
        }
        let token = self.lexer.next_token()?;
        self.peeked = Some(token);
        Ok(token)
    }

    fn next(&mut self) -> Result<Token<'a>, SelectorError> {
        let token = self.peek()?;
        self.peeked = None;
        Ok(token)
    }

    /// Consumes the next token if it is `kind`.
    fn eat(&mut self, kind: TokenKind<'_>) -> Result<bool, SelectorError> {
        let found = self.peek()?.kind == kind;
        if found {
            self.peeked = None;
        }
        Ok(found)
    }

    fn or_expr(&mut self) -> Result<Node, SelectorError> {
        let mut nodes = vec![self.and_expr()?];
        while self.eat(TokenKind::Or)? {
            nodes.push(self.and_expr()?);
        }
        Ok(collapse(nodes, Node::Or))
    }

    fn and_expr(&mut self) -> Result<Node, SelectorError> {
        let mut nodes = vec![self.unary()?];
        while self.eat(TokenKind::And)? {
            nodes.push(self.unary()?);
        }
        Ok(collapse(nodes, Node::And))
    }

    /// `!`* primary: the `!`s are counted in a loop so that long runs cannot recurse.
    fn unary(&mut self) -> Result<Node, SelectorError> {
        let mut negate = false;
        while self.eat(TokenKind::Not)? {
            negate = !negate;
        }
        let node = self.primary()?;
        Ok(if negate { node.negate() } else { node })
    }

    fn primary(&mut self) -> Result<Node, SelectorError> {
        let token = self.next()?;
        match token.kind {
            TokenKind::All => Ok(Node::All),
            TokenKind::Global => Ok(Node::Global),
            TokenKind::Has(label) => Ok(Node::Has(label.to_owned())),
            TokenKind::LParen => self.parenthesised(token.start),
            TokenKind::Label(label) => self.comparison(label, token.start),
            TokenKind::Str(_) => Err(SelectorError::new(
                token.start,
                format!(
                    "expected a label on the left of the comparison, found {}",
                    token.kind.describe()
                ),
            )),
            kind => Err(SelectorError::new(
                token.start,
                format!(
                    "expected an expression (a comparison, `has(…)`, `all()`, `global()`, `!` \
                     or `(`), found {}",
                    kind.describe()
                ),
            )),
        }
    }

    fn parenthesised(&mut self, open: usize) -> Result<Node, SelectorError> {
        if self.depth >= MAX_DEPTH {
            return Err(SelectorError::new(
                open,
                format!("parentheses are nested more than {MAX_DEPTH} deep"),
            ));
        }
        self.depth += 1;
        let node = self.or_expr()?;
        self.depth -= 1;
        let close = self.next()?;
        if close.kind != TokenKind::RParen {
            return Err(SelectorError::new(
                close.start,
                format!(
                    "expected `)` to close `(` at position {open}, found {}",
                    close.kind.describe()
                ),
            ));
        }
        Ok(node)
    }

    /// Everything after a label: an operator, then a string literal or a set.
    fn comparison(&mut self, label: &str, label_start: usize) -> Result<Node, SelectorError> {
        let token = self.next()?;
        let op = match token.kind {
            TokenKind::Eq => CompareOp::Eq,
            TokenKind::Ne => CompareOp::Ne,
            TokenKind::Contains => CompareOp::Contains,
            TokenKind::StartsWith => CompareOp::StartsWith,
            TokenKind::EndsWith => CompareOp::EndsWith,
            TokenKind::In => return self.set(label, false),
            TokenKind::NotIn => return self.set(label, true),
            kind => return Err(missing_operator(label, label_start, token.start, kind)),
        };
        let value = self.next()?;
        let TokenKind::Str(value_text) = value.kind else {
            return Err(SelectorError::new(
                value.start,
                format!(
                    "expected a string literal after `{op}`, found {}",
                    value.kind.describe()
                ),
            ));
        };
        Ok(Node::Compare {
            label: label.to_owned(),
            op,
            value: value_text.to_owned(),
        })
    }

    /// `{` [ STRING ( `,` STRING )* [ `,` ] ] `}`, accepting a trailing comma like Calico.
    fn set(&mut self, label: &str, negated: bool) -> Result<Node, SelectorError> {
        let op = if negated { "not in" } else { "in" };
        let open = self.next()?;
        if open.kind != TokenKind::LBrace {
            return Err(SelectorError::new(
                open.start,
                format!(
                    "expected `{{` to start a set after `{op}`, found {}",
                    open.kind.describe()
                ),
            ));
        }
        let mut values = Vec::new();
        loop {
            let member = self.next()?;
            match member.kind {
                TokenKind::RBrace => break,
                TokenKind::Str(value) => values.push(value.to_owned()),
                kind => {
                    return Err(SelectorError::new(
                        member.start,
                        format!(
                            "expected a string literal or `}}` in the set, found {}",
                            kind.describe()
                        ),
                    ));
                }
            }
            let after = self.next()?;
            match after.kind {
                TokenKind::Comma => {}
                TokenKind::RBrace => break,
                kind => {
                    return Err(SelectorError::new(
                        after.start,
                        format!(
                            "expected `,` or `}}` after a set member, found {}",
                            kind.describe()
                        ),
                    ));
                }
            }
        }
        Ok(Node::in_set(label.to_owned(), negated, values))
    }
}

/// A group of one is just its operand: Calico keeps no node for `(x)` or a lone `x`.
fn collapse(nodes: Vec<Node>, group: fn(Vec<Node>) -> Node) -> Node {
    match <[Node; 1]>::try_from(nodes) {
        Ok([only]) => only,
        Err(nodes) => group(nodes),
    }
}

fn missing_operator(
    label: &str,
    label_start: usize,
    at: usize,
    found: TokenKind<'_>,
) -> SelectorError {
    // `has (a)` and `all ()`: the lexer only makes a function when the name touches `(`.
    if found == TokenKind::LParen && matches!(label, "has" | "all" | "global") {
        return SelectorError::new(
            label_start + label.len(),
            format!("unexpected space between `{label}` and `(`"),
        );
    }
    SelectorError::new(
        at,
        format!(
            "expected an operator (`==`, `!=`, `in`, `not in`, `contains`, `starts with`, \
             `ends with`) after label `{label}`, found {}",
            found.describe()
        ),
    )
}
