//! A cursor over the tokens of an SQL file: `sqlparser`'s tokenizer and parser, with the byte
//! offset of every token, so that each expression is captured as the exact text of the file
//! it came from (and an error inside it points into the file).
//!
//! Decision: the statement and clause structure is read here, token by token, and only the
//! expressions go through `sqlparser`'s expression parser. Window table functions
//! (`TUMBLE(TABLE t, DESCRIPTOR(ts), …)`) and `SESSION(TABLE t PARTITION BY k, …)` are not
//! in its grammar, and an expression's text is only exact when its first and last tokens
//! are known, which the token positions give and the syntax tree's spans do not always.

use sqlparser::dialect::{Dialect, GenericDialect, Precedence};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer, Word};

use super::SqlError;
use super::query::Where;
use crate::expr::parser_message;
use crate::plan::AggFunc;
use crate::plan::lower::Text;

static DIALECT: GenericDialect = GenericDialect {};

/// A qualifier inside an expression (`orders` in `orders.value.id`): the name and the byte
/// range of the name and its dot.
#[derive(Clone, Debug)]
pub(super) struct Qualifier {
    pub name: String,
    pub start: usize,
    pub end: usize,
}

/// An expression of the file: its text (with the offset of its first byte), its tokens
/// without whitespace (to compare two expressions), its qualifiers, and its last name when
/// it is a plain dotted name (`value.price` -> `price`).
/// An aggregate call inside an expression (`count(*)` in `count(*) > 1`): its byte range and
/// its normalized tokens.
#[derive(Clone, Debug)]
pub(super) struct Call {
    pub start: usize,
    pub end: usize,
    pub norm: String,
}

#[derive(Clone, Debug)]
pub(super) struct Captured {
    pub text: Text,
    pub at: usize,
    pub norm: String,
    pub qualifiers: Vec<Qualifier>,
    pub last_name: Option<String>,
    pub calls: Vec<Call>,
}

pub(super) struct Cursor<'a> {
    parser: Parser<'a>,
    tokens: Vec<TokenWithSpan>,
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str) -> Result<Cursor<'a>, SqlError> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut cursor = Cursor {
            parser: Parser::new(&DIALECT),
            tokens: Vec::new(),
            text,
            line_starts,
        };
        // NB: the cursor exists before the tokens so a tokenizer error can be located.
        let tokens = Tokenizer::new(&DIALECT, text)
            .tokenize_with_location()
            .map_err(|e| {
                SqlError::at(
                    cursor.byte(e.location),
                    format!("syntax error: {}", e.message),
                )
            })?;
        cursor.parser = Parser::new(&DIALECT).with_tokens_with_locations(tokens.clone());
        cursor.tokens = tokens;
        Ok(cursor)
    }

    /// The byte offset of a location (line and column in chars, 1-based).
    pub fn byte(&self, loc: Location) -> usize {
        if loc.line == 0 {
            return self.text.len();
        }
        let Some(&start) = self.line_starts.get(loc.line as usize - 1) else {
            return self.text.len();
        };
        let line = &self.text[start..];
        let column = loc.column.saturating_sub(1) as usize;
        start
            + line
                .char_indices()
                .nth(column)
                .map_or(line.len(), |(i, _)| i)
    }

    pub fn peek(&self) -> &Token {
        &self.parser.peek_token_ref().token
    }

    pub fn peek_nth(&self, n: usize) -> &Token {
        &self.parser.peek_nth_token_ref(n).token
    }

    /// The byte offset of the next token.
    pub fn at(&self) -> usize {
        self.byte(self.parser.peek_token_ref().span.start)
    }

    pub fn at_end(&self) -> bool {
        *self.peek() == Token::EOF
    }

    pub fn next(&mut self) -> Token {
        self.parser.next_token().token
    }

    /// Whether the next token is the word `word` (any case, unquoted).
    pub fn is_word(&self, word: &str) -> bool {
        is_word(self.peek(), word)
    }

    pub fn eat_word(&mut self, word: &str) -> bool {
        let found = self.is_word(word);
        if found {
            self.next();
        }
        found
    }

    pub fn eat(&mut self, token: &Token) -> bool {
        self.parser.consume_token(token)
    }

    pub fn expect_word(&mut self, word: &str, what: &str) -> Result<(), SqlError> {
        match self.eat_word(word) {
            true => Ok(()),
            false => Err(self.unexpected(what)),
        }
    }

    pub fn expect(&mut self, token: &Token, what: &str) -> Result<(), SqlError> {
        match self.eat(token) {
            true => Ok(()),
            false => Err(self.unexpected(what)),
        }
    }

    /// "expected {what}, found `…`" at the next token.
    pub fn unexpected(&self, what: &str) -> SqlError {
        let found = match self.peek() {
            Token::EOF => "the end of the file".to_string(),
            token => format!("`{token}`"),
        };
        SqlError::at(self.at(), format!("expected {what}, found {found}"))
    }

    /// A name (an identifier, quoted or not) and its offset.
    pub fn name(&mut self, what: &str) -> Result<Text, SqlError> {
        let at = self.at();
        match self.peek().clone() {
            Token::Word(Word { value, .. }) => {
                self.next();
                Ok(Text::at(value, Some(at)))
            }
            _ => Err(self.unexpected(what)),
        }
    }

    /// A string literal and the offset of its first character inside the quotes.
    pub fn string(&mut self, what: &str) -> Result<Text, SqlError> {
        let at = self.at();
        match self.peek().clone() {
            Token::SingleQuotedString(s) => {
                self.next();
                Ok(Text::at(s, Some(at + 1)))
            }
            _ => Err(self.unexpected(what)),
        }
    }

    /// A whole expression.
    pub fn expr(&mut self) -> Result<Captured, SqlError> {
        self.capture(|p| p.parse_expr())
    }

    /// An operand of a comparison: stops before `=`, `<`, `AND`, ….
    pub fn operand(&mut self) -> Result<Captured, SqlError> {
        let prec = DIALECT.prec_value(Precedence::Eq);
        self.capture(|p| p.parse_subexpr(prec))
    }

    /// A condition, whole and as its top-level `AND` terms (one term when it is an `OR` at
    /// the top).
    pub fn conjuncts(&mut self) -> Result<Where, SqlError> {
        let prec = DIALECT.prec_value(Precedence::And);
        let mut terms = vec![self.capture(|p| p.parse_subexpr(prec))?];
        while self.eat_word("AND") {
            terms.push(self.capture(|p| p.parse_subexpr(prec))?);
        }
        if self.is_word("OR") || self.is_word("XOR") {
            // `a AND b OR c`: the whole condition is one term, re-read from its first token.
            let first = terms.swap_remove(0);
            self.next();
            let rest = self.expr()?;
            let whole = self.span_of(first, rest.at + rest.text.text.len());
            return Ok(Where {
                whole: whole.clone(),
                terms: vec![whole],
            });
        }
        let end = terms.last().map_or(0, |t| t.at + t.text.text.len());
        Ok(Where {
            whole: self.span_of(terms[0].clone(), end),
            terms,
        })
    }

    /// `first` extended to the byte `end`, with the qualifiers of the whole text.
    fn span_of(&self, first: Captured, end: usize) -> Captured {
        let at = first.at;
        let indexes: Vec<usize> = (0..self.tokens.len())
            .filter(|i| {
                let t = &self.tokens[*i];
                let start = self.byte(t.span.start);
                !matches!(t.token, Token::Whitespace(_)) && start >= at && start < end
            })
            .collect();
        let tokens: Vec<&Token> = indexes.iter().map(|i| &self.tokens[*i].token).collect();
        Captured {
            text: Text::at(&self.text[at..end], Some(at)),
            at,
            norm: normalize(&tokens),
            qualifiers: self.qualifiers(&indexes),
            last_name: None,
            calls: self.calls(&indexes),
        }
    }

    fn capture<T>(
        &mut self,
        parse: impl FnOnce(&mut Parser<'a>) -> Result<T, ParserError>,
    ) -> Result<Captured, SqlError> {
        let at = self.at();
        let first = self.parser.index();
        parse(&mut self.parser).map_err(|e| self.parse_error(e))?;
        let mut last = self.parser.index();
        while last > first && matches!(self.parser.token_at(last - 1).token, Token::Whitespace(_)) {
            last -= 1;
        }
        let end = match last > first {
            true => self.byte(self.parser.token_at(last - 1).span.end),
            false => at,
        };
        let tokens: Vec<&Token> = self.tokens[first.min(last)..last]
            .iter()
            .map(|t| &t.token)
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect();
        let spans: Vec<usize> = (first.min(last)..last)
            .filter(|i| !matches!(self.tokens[*i].token, Token::Whitespace(_)))
            .collect();
        Ok(Captured {
            text: Text::at(&self.text[at..end.max(at)], Some(at)),
            at,
            norm: normalize(&tokens),
            qualifiers: self.qualifiers(&spans),
            last_name: last_name(&tokens),
            calls: self.calls(&spans),
        })
    }

    /// The parser's position, for [`Cursor::norm_since`].
    pub fn mark(&self) -> usize {
        self.parser.index()
    }

    /// The normalized tokens from `mark` to the parser's position.
    pub fn norm_since(&self, mark: usize) -> String {
        let end = self.parser.index().min(self.tokens.len());
        let tokens: Vec<&Token> = self.tokens[mark.min(end)..end]
            .iter()
            .map(|t| &t.token)
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect();
        normalize(&tokens)
    }

    /// Aggregate calls (`name(` … `)`) among the tokens at `indexes`.
    fn calls(&self, indexes: &[usize]) -> Vec<Call> {
        let token = |n: usize| indexes.get(n).map(|&i| &self.tokens[i].token);
        let mut out = Vec::new();
        for n in 0..indexes.len() {
            let is_call = token(n).is_some_and(|t| AggFunc::NAMES.iter().any(|a| is_word(t, a)))
                && token(n + 1) == Some(&Token::LParen);
            if !is_call {
                continue;
            }
            let mut depth = 0usize;
            for m in n + 1..indexes.len() {
                match token(m) {
                    Some(Token::LParen) => depth += 1,
                    Some(Token::RParen) => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    let tokens: Vec<&Token> = (n..=m).filter_map(token).collect();
                    out.push(Call {
                        start: self.byte(self.tokens[indexes[n]].span.start),
                        end: self.byte(self.tokens[indexes[m]].span.end),
                        norm: normalize(&tokens),
                    });
                    break;
                }
            }
        }
        out
    }

    /// Words followed by a dot and not preceded by one, among the tokens at `indexes`.
    fn qualifiers(&self, indexes: &[usize]) -> Vec<Qualifier> {
        let mut out = Vec::new();
        for (n, &i) in indexes.iter().enumerate() {
            let after_dot = n > 0 && self.tokens[indexes[n - 1]].token == Token::Period;
            let before_dot = indexes
                .get(n + 1)
                .is_some_and(|&j| self.tokens[j].token == Token::Period);
            if let (Token::Word(w), false, true) = (&self.tokens[i].token, after_dot, before_dot) {
                out.push(Qualifier {
                    name: w.value.clone(),
                    start: self.byte(self.tokens[i].span.start),
                    end: self.byte(self.tokens[indexes[n + 1]].span.end),
                });
            }
        }
        out
    }

    /// A `sqlparser` error, at the position its message names (or the next token).
    pub fn parse_error(&self, e: ParserError) -> SqlError {
        let message = match e {
            ParserError::RecursionLimitExceeded => {
                return SqlError::at(self.at(), "the statement is too deeply nested");
            }
            ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
        };
        let (head, at) = parser_message(&message, "the end of the file");
        let at = at.map_or_else(|| self.at(), |loc| self.byte(loc));
        SqlError::at(at, format!("syntax error: {head}"))
    }
}

pub(super) fn is_word(token: &Token, word: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// The tokens without whitespace, unquoted words in lower case: equal for two spellings of
/// one expression.
fn normalize(tokens: &[&Token]) -> String {
    let mut out = String::new();
    for token in tokens {
        if !out.is_empty() {
            out.push(' ');
        }
        match token {
            Token::Word(w) if w.quote_style.is_none() => out.push_str(&w.value.to_lowercase()),
            t => out.push_str(&t.to_string()),
        }
    }
    out
}

/// `c` for `a.b.c`; `None` for anything but a dotted name.
fn last_name(tokens: &[&Token]) -> Option<String> {
    let mut name = None;
    for (i, token) in tokens.iter().enumerate() {
        match (i % 2, token) {
            (0, Token::Word(w)) => name = Some(w.value.clone()),
            (1, Token::Period) => {}
            _ => return None,
        }
    }
    name.filter(|_| tokens.len() % 2 == 1)
}
