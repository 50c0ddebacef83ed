//! Byte ranges of `sqlparser` AST nodes in the expression text, for error positions.
//!
//! `sqlparser` reports line/column (in chars) locations, and the span it gives a composite
//! node leaves out some of its tokens (parentheses, a unary operator, `CAST(`, the closing `)`
//! of a call). [`Spans`] keeps the token table of the text and widens those spans to cover the
//! whole sub-expression as written.

use sqlparser::ast::{AccessExpr, CastKind, Expr as SqlExpr, Spanned, Subscript};
use sqlparser::tokenizer::{Location, Span, Token, TokenWithSpan};

/// A half-open byte range `(start, end)` in the expression text.
pub(crate) type Range = (usize, usize);

/// One non-whitespace token and its byte range.
struct Tok {
    start: usize,
    end: usize,
    token: Token,
}

/// The tokens of an expression text, with byte positions.
pub(crate) struct Spans<'a> {
    text: &'a str,
    /// The byte offset of each char, then the text's length.
    char_bytes: Vec<usize>,
    /// The char index at which each line starts (lines end at `\n`, as in the tokenizer).
    line_chars: Vec<usize>,
    toks: Vec<Tok>,
}

impl<'a> Spans<'a> {
    /// Indexes `tokens`, which must come from tokenizing `text`.
    pub(crate) fn new(text: &'a str, tokens: &[TokenWithSpan]) -> Spans<'a> {
        let mut char_bytes = Vec::with_capacity(text.len() + 1);
        let mut line_chars = vec![0];
        for (n, (i, c)) in text.char_indices().enumerate() {
            char_bytes.push(i);
            if c == '\n' {
                line_chars.push(n + 1);
            }
        }
        char_bytes.push(text.len());
        let mut spans = Spans {
            text,
            char_bytes,
            line_chars,
            toks: Vec::with_capacity(tokens.len()),
        };
        for t in tokens {
            if matches!(t.token, Token::Whitespace(_) | Token::EOF) {
                continue;
            }
            if let Some((start, end)) = spans.span(t.span) {
                spans.toks.push(Tok {
                    start,
                    end,
                    token: t.token.clone(),
                });
            }
        }
        spans
    }

    /// The whole text.
    pub(crate) fn all(&self) -> Range {
        (0, self.text.len())
    }

    /// The empty range at the end of the text.
    pub(crate) fn end(&self) -> Range {
        (self.text.len(), self.text.len())
    }

    /// The byte offset of a 1-based line/column (in chars) location, clamped to the text.
    pub(crate) fn byte(&self, loc: Location) -> usize {
        let line = usize::try_from(loc.line)
            .ok()
            .and_then(|l| l.checked_sub(1));
        let col = usize::try_from(loc.column)
            .ok()
            .and_then(|c| c.checked_sub(1));
        line.and_then(|l| self.line_chars.get(l))
            .zip(col)
            .and_then(|(start, col)| start.checked_add(col))
            .and_then(|c| self.char_bytes.get(c))
            .map_or(self.text.len(), |b| *b)
    }

    /// The byte range of a `sqlparser` span; `None` for the empty (unknown) span.
    pub(crate) fn span(&self, span: Span) -> Option<Range> {
        if span.start.line == 0 {
            return None;
        }
        let start = self.byte(span.start);
        Some((start, self.byte(span.end).max(start)))
    }

    /// The byte range of the token at a location, or an empty range there.
    pub(crate) fn token_at(&self, loc: Location) -> Range {
        let at = self.byte(loc);
        match self.toks.binary_search_by_key(&at, |t| t.start) {
            Ok(i) => (self.toks[i].start, self.toks[i].end),
            Err(_) => (at, at),
        }
    }

    /// The number of non-whitespace tokens.
    pub(crate) fn token_count(&self) -> usize {
        self.toks.len()
    }

    fn tok_starting(&self, at: usize) -> Option<usize> {
        self.toks.binary_search_by_key(&at, |t| t.start).ok()
    }

    fn tok_ending(&self, at: usize) -> Option<usize> {
        self.toks.binary_search_by_key(&at, |t| t.end).ok()
    }

    fn is(&self, i: usize, want: &Token) -> bool {
        self.toks.get(i).is_some_and(|t| &t.token == want)
    }

    /// The index of the bracket closing the one at `open` (`(` or `[`).
    fn closing(&self, open: usize) -> Option<usize> {
        let (o, c) = match self.toks.get(open)?.token {
            Token::LParen => (Token::LParen, Token::RParen),
            Token::LBracket => (Token::LBracket, Token::RBracket),
            _ => return None,
        };
        let mut depth = 0usize;
        for (i, t) in self.toks.iter().enumerate().skip(open) {
            if t.token == o {
                depth += 1;
            } else if t.token == c {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
        }
        None
    }

    /// The index of the innermost `(` that encloses the token at `inner` but is not closed
    /// before it.
    fn enclosing_open(&self, inner: usize) -> Option<usize> {
        let mut depth = 0usize;
        for i in (0..inner).rev() {
            match self.toks[i].token {
                Token::RParen => depth += 1,
                Token::LParen if depth == 0 => return Some(i),
                Token::LParen => depth -= 1,
                _ => {}
            }
        }
        None
    }

    /// `r` widened to a call around it: from the word before the enclosing `(` to its `)`.
    fn call_around(&self, r: Range) -> Range {
        let Some(open) = self.tok_starting(r.0).and_then(|i| self.enclosing_open(i)) else {
            return r;
        };
        let start = match open.checked_sub(1).and_then(|i| self.toks.get(i)) {
            Some(t) if matches!(t.token, Token::Word(_)) => t.start,
            _ => self.toks[open].start,
        };
        let end = self.closing(open).map_or(r.1, |c| self.toks[c].end);
        (start.min(r.0), end.max(r.1))
    }

    /// `r` widened over the parentheses directly around it, if any.
    fn parens_around(&self, r: Range) -> Range {
        match (self.tok_starting(r.0), self.tok_ending(r.1)) {
            (Some(s), Some(e))
                if s > 0 && self.is(s - 1, &Token::LParen) && self.is(e + 1, &Token::RParen) =>
            {
                (self.toks[s - 1].start, self.toks[e + 1].end)
            }
            _ => r,
        }
    }

    /// `r` widened to the start of the token just before it (a prefix operator).
    fn prefix_before(&self, r: Range) -> Range {
        match self.tok_starting(r.0).and_then(|i| i.checked_sub(1)) {
            Some(p) => (self.toks[p].start, r.1),
            None => r,
        }
    }

    /// `r` widened over following tokens while `keep` accepts them (at most `max`).
    fn suffix_after(&self, r: Range, max: usize, keep: impl Fn(&Token) -> bool) -> Range {
        let Some(mut i) = self.tok_ending(r.1) else {
            return r;
        };
        let mut end = r.1;
        for _ in 0..max {
            match self.toks.get(i + 1) {
                Some(t) if keep(&t.token) => {
                    end = t.end;
                    i += 1;
                }
                _ => break,
            }
        }
        (r.0, end)
    }

    /// `r` widened to the bracket closing the first `(` or `[` after it.
    fn through_close_after(&self, r: Range, open: &Token) -> Range {
        let Some(i) = self.tok_ending(r.1) else {
            return r;
        };
        let found = (i + 1..self.toks.len()).find(|&j| self.is(j, open));
        match found.and_then(|o| self.closing(o)) {
            Some(c) => (r.0, self.toks[c].end),
            None => r,
        }
    }

    /// `r` widened over a directly following `]`.
    fn bracket_after(&self, r: Range) -> Range {
        match self.tok_ending(r.1) {
            Some(i) if self.is(i + 1, &Token::RBracket) => (r.0, self.toks[i + 1].end),
            _ => r,
        }
    }

    /// The byte range covering the whole of `e` as written.
    pub(crate) fn of(&self, e: &SqlExpr) -> Range {
        self.of_inner(e).unwrap_or_else(|| self.all())
    }

    fn of_inner(&self, e: &SqlExpr) -> Option<Range> {
        let r = match e {
            SqlExpr::Nested(inner) => self.parens_around(self.of_inner(inner)?),
            SqlExpr::UnaryOp { expr, .. } => self.prefix_before(self.of_inner(expr)?),
            SqlExpr::BinaryOp { left, right, .. } => {
                join(self.of_inner(left)?, self.of_inner(right)?)
            }
            SqlExpr::IsDistinctFrom(a, b) | SqlExpr::IsNotDistinctFrom(a, b) => {
                join(self.of_inner(a)?, self.of_inner(b)?)
            }
            SqlExpr::Between { expr, high, .. } => join(self.of_inner(expr)?, self.of_inner(high)?),
            SqlExpr::Like {
                expr,
                pattern,
                escape_char,
                ..
            }
            | SqlExpr::ILike {
                expr,
                pattern,
                escape_char,
                ..
            } => {
                let r = join(self.of_inner(expr)?, self.of_inner(pattern)?);
                match escape_char.as_deref().and_then(|e| self.of_inner(e)) {
                    Some(esc) => join(r, esc),
                    None => r,
                }
            }
            SqlExpr::InList { expr, .. } => {
                self.through_close_after(self.of_inner(expr)?, &Token::LParen)
            }
            SqlExpr::IsNull(x)
            | SqlExpr::IsNotNull(x)
            | SqlExpr::IsTrue(x)
            | SqlExpr::IsNotTrue(x)
            | SqlExpr::IsFalse(x)
            | SqlExpr::IsNotFalse(x)
            | SqlExpr::IsUnknown(x)
            | SqlExpr::IsNotUnknown(x) => self.suffix_after(self.of_inner(x)?, 3, |t| {
                matches!(t, Token::Word(w) if matches!(
                    w.value.to_ascii_uppercase().as_str(),
                    "IS" | "NOT" | "NULL" | "TRUE" | "FALSE" | "UNKNOWN" | "ISNULL" | "NOTNULL"
                ))
            }),
            SqlExpr::Cast {
                kind: CastKind::DoubleColon,
                expr,
                ..
            } => {
                let r = self.of_inner(expr)?;
                let r = self.suffix_after(r, 1, |t| *t == Token::DoubleColon);
                let r = self.suffix_after(r, 3, |t| matches!(t, Token::Word(_)));
                match self.tok_ending(r.1) {
                    Some(i) if self.is(i + 1, &Token::LParen) => {
                        self.through_close_after(r, &Token::LParen)
                    }
                    _ => r,
                }
            }
            SqlExpr::Cast { expr, .. }
            | SqlExpr::Ceil { expr, .. }
            | SqlExpr::Floor { expr, .. }
            | SqlExpr::Substring { expr, .. }
            | SqlExpr::Trim { expr, .. } => self.call_around(self.of_inner(expr)?),
            SqlExpr::Function(f) => {
                let name = self.span(f.name.span())?;
                let open = self
                    .tok_ending(name.1)
                    .map(|i| i + 1)
                    .filter(|&i| self.is(i, &Token::LParen));
                match open.and_then(|o| self.closing(o)) {
                    Some(c) => (name.0, self.toks[c].end),
                    None => self.span(e.span()).map_or(name, |r| join(name, r)),
                }
            }
            SqlExpr::CompoundFieldAccess { root, access_chain } => {
                let mut r = self.of_inner(root)?;
                for a in access_chain {
                    r = match a {
                        AccessExpr::Dot(d) => join(r, self.of_inner(d)?),
                        AccessExpr::Subscript(Subscript::Index { index }) => {
                            self.bracket_after(join(r, self.of_inner(index)?))
                        }
                        AccessExpr::Subscript(_) => self.through_close_after(r, &Token::LBracket),
                    };
                }
                r
            }
            SqlExpr::Tuple(_) => self.parens_around(self.span(e.span())?),
            SqlExpr::Array(_) => {
                let r = self.bracket_after(self.span(e.span())?);
                // Widen over `[` and a preceding ARRAY keyword.
                let Some(open) = self
                    .tok_starting(r.0)
                    .and_then(|i| i.checked_sub(1))
                    .filter(|&i| self.is(i, &Token::LBracket))
                else {
                    return Some(r);
                };
                let start = match open.checked_sub(1).map(|i| &self.toks[i].token) {
                    Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("ARRAY") => {
                        self.toks[open - 1].start
                    }
                    _ => self.toks[open].start,
                };
                (start, r.1)
            }
            SqlExpr::TypedString(_) | SqlExpr::Interval(_) => {
                self.prefix_before(self.span(e.span())?)
            }
            other => self.span(other.span())?,
        };
        Some(r)
    }
}

/// The smallest range covering both.
pub(crate) fn join(a: Range, b: Range) -> Range {
    (a.0.min(b.0), a.1.max(b.1))
}
