//! The GraphQL lexer: source text to tokens with their line and column.
//! Whitespace, commas, comments and a byte-order mark are skipped; strings
//! are unescaped (surrogate pairs joined); numbers are checked against
//! GraphQL's grammar. Block strings are refused with an error saying so.

use std::fmt;

/// A 1-based line and column (in characters) of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// Why a document could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub(crate) message: String,
    pub(crate) pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Punct(char),
    Spread,
    Name(String),
    Int(i64),
    Float(f64),
    Str(String),
    End,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Punct(c) => write!(f, "\"{c}\""),
            Tok::Spread => f.write_str("\"...\""),
            Tok::Name(name) => write!(f, "\"{name}\""),
            Tok::Int(n) => write!(f, "{n}"),
            Tok::Float(x) => write!(f, "{x}"),
            Tok::Str(text) => write!(f, "string {text:?}"),
            Tok::End => f.write_str("end of document"),
        }
    }
}

pub(crate) fn error<T>(pos: Pos, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        message: message.into(),
        pos,
    })
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    pos: Pos,
}

impl Lexer<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.column = 1;
        } else {
            self.pos.column += 1;
        }
        Some(c)
    }

    fn skip_ignored(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\n' | '\r' | ',' | '\u{feff}' => {
                    self.bump();
                }
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n' && c != '\r') {
                        self.bump();
                    }
                }
                _ => break,
            }
        }
    }

    fn token(&mut self) -> Result<(Tok, Pos), ParseError> {
        self.skip_ignored();
        let at = self.pos;
        let Some(c) = self.peek() else {
            return Ok((Tok::End, at));
        };
        let tok = match c {
            '!' | '$' | '(' | ')' | ':' | '=' | '@' | '[' | ']' | '{' | '}' | '|' | '&' => {
                self.bump();
                Tok::Punct(c)
            }
            '.' => {
                for _ in 0..3 {
                    if self.bump() != Some('.') {
                        return error(at, "Expected \"...\"");
                    }
                }
                Tok::Spread
            }
            '"' => self.string(at)?,
            '-' | '0'..='9' => self.number(at)?,
            c if c == '_' || c.is_ascii_alphabetic() => Tok::Name(self.name()),
            other => return error(at, format!("Unexpected character {other:?}")),
        };
        Ok((tok, at))
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self
            .peek()
            .filter(|&c| c == '_' || c.is_ascii_alphanumeric())
        {
            name.push(c);
            self.bump();
        }
        name
    }

    fn digits(&mut self, into: &mut String) -> usize {
        let mut count = 0;
        while let Some(c) = self.peek().filter(char::is_ascii_digit) {
            into.push(c);
            self.bump();
            count += 1;
        }
        count
    }

    fn number(&mut self, at: Pos) -> Result<Tok, ParseError> {
        let mut text = String::new();
        if self.peek() == Some('-') {
            text.push('-');
            self.bump();
        }
        let int_start = text.len();
        if self.digits(&mut text) == 0 {
            return error(at, "Invalid number: expected a digit");
        }
        if text[int_start..].starts_with('0') && text.len() - int_start > 1 {
            return error(at, format!("Invalid number {text}: leading zero"));
        }
        let mut float = false;
        if self.peek() == Some('.') {
            float = true;
            text.push('.');
            self.bump();
            if self.digits(&mut text) == 0 {
                return error(at, format!("Invalid number {text}: expected a digit"));
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            float = true;
            text.push('e');
            self.bump();
            if let Some(sign) = self.peek().filter(|&c| c == '+' || c == '-') {
                text.push(sign);
                self.bump();
            }
            if self.digits(&mut text) == 0 {
                return error(at, format!("Invalid number {text}: expected a digit"));
            }
        }
        if self
            .peek()
            .is_some_and(|c| c == '.' || c == '_' || c.is_ascii_alphabetic())
        {
            return error(at, format!("Invalid number {text}: unexpected character"));
        }
        if float {
            match text.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Tok::Float(x)),
                _ => error(at, format!("Invalid number {text}")),
            }
        } else {
            match text.parse::<i64>() {
                Ok(n) => Ok(Tok::Int(n)),
                Err(_) => error(at, format!("Invalid number {text}: out of range")),
            }
        }
    }

    fn hex4(&mut self, at: Pos) -> Result<u32, ParseError> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = self.bump().and_then(|c| c.to_digit(16));
            let Some(digit) = digit else {
                return error(at, "Invalid unicode escape in string");
            };
            value = value * 16 + digit;
        }
        Ok(value)
    }

    fn string(&mut self, at: Pos) -> Result<Tok, ParseError> {
        self.bump();
        if self.peek() == Some('"') {
            self.bump();
            if self.peek() == Some('"') {
                return error(
                    at,
                    "Block strings (\"\"\"...\"\"\") are not supported by the fake GitHub; \
                     use a \"...\" string or a variable",
                );
            }
            return Ok(Tok::Str(String::new()));
        }
        let mut text = String::new();
        loop {
            match self.bump() {
                None | Some('\n' | '\r') => return error(at, "Unterminated string"),
                Some('"') => return Ok(Tok::Str(text)),
                Some('\\') => {
                    let escaped = match self.bump() {
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('/') => '/',
                        Some('b') => '\u{8}',
                        Some('f') => '\u{c}',
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('t') => '\t',
                        Some('u') => self.unicode_escape(at)?,
                        _ => return error(at, "Invalid escape sequence in string"),
                    };
                    text.push(escaped);
                }
                Some(c) => text.push(c),
            }
        }
    }

    fn unicode_escape(&mut self, at: Pos) -> Result<char, ParseError> {
        let first = self.hex4(at)?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if self.bump() != Some('\\') || self.bump() != Some('u') {
                return error(at, "Invalid unicode escape in string: lone surrogate");
            }
            let second = self.hex4(at)?;
            if !(0xDC00..0xE000).contains(&second) {
                return error(at, "Invalid unicode escape in string: lone surrogate");
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        match char::from_u32(code) {
            Some(c) => Ok(c),
            None => error(at, "Invalid unicode escape in string"),
        }
    }
}

/// Splits `text` into tokens, ending with [`Tok::End`].
pub(crate) fn tokenize(text: &str) -> Result<Vec<(Tok, Pos)>, ParseError> {
    let mut lexer = Lexer {
        chars: text.chars().peekable(),
        pos: Pos { line: 1, column: 1 },
    };
    let mut tokens = Vec::new();
    loop {
        let (tok, pos) = lexer.token()?;
        let end = tok == Tok::End;
        tokens.push((tok, pos));
        if end {
            return Ok(tokens);
        }
    }
}
