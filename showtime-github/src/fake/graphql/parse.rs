//! A hand-written parser for the part of the GraphQL language the fake
//! serves: operations (`query`, `mutation`, the `{ ... }` shorthand) with
//! variable definitions and defaults, fields with aliases and arguments
//! (variables, numbers, strings, booleans, `null`, enum values, lists and
//! objects), nested selection sets and inline fragments (`... on Type`).
//!
//! Named fragments, directives and block strings are refused with an error
//! that says so. The parser never panics: every input, however broken,
//! becomes a [`Document`] or a [`ParseError`], and nesting is bounded so a
//! hostile document cannot exhaust the stack.

use std::fmt;

pub(crate) use super::lex::{ParseError, Pos};
use super::lex::{Tok, error, tokenize};

/// How deep lists, objects, types and selection sets may nest.
const MAX_DEPTH: usize = 64;

/// The three kinds of GraphQL operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OperationKind {
    /// `query` (or the `{ ... }` shorthand).
    Query,
    /// `mutation`.
    Mutation,
    /// `subscription` (parsed, then refused as GitHub does).
    Subscription,
}

impl OperationKind {
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            OperationKind::Query => "query",
            OperationKind::Mutation => "mutation",
            OperationKind::Subscription => "subscription",
        }
    }
}

/// A parsed document: its operations in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    pub(crate) operations: Vec<Operation>,
}

/// One operation definition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Operation {
    pub(crate) kind: OperationKind,
    pub(crate) name: Option<String>,
    pub(crate) variables: Vec<VariableDef>,
    pub(crate) selection: Vec<Selection>,
    pub(crate) pos: Pos,
}

/// `$name: Type = default`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VariableDef {
    pub(crate) name: String,
    pub(crate) ty: TypeRef,
    pub(crate) default: Option<Input>,
    pub(crate) pos: Pos,
}

/// A type reference: `Name`, `[Type]` or `Type!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TypeRef {
    Named(String),
    List(Box<TypeRef>),
    NonNull(Box<TypeRef>),
}

impl TypeRef {
    /// The named type at the bottom of lists and `!`.
    pub(crate) fn base(&self) -> &str {
        match self {
            TypeRef::Named(name) => name,
            TypeRef::List(inner) | TypeRef::NonNull(inner) => inner.base(),
        }
    }
}

impl fmt::Display for TypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeRef::Named(name) => f.write_str(name),
            TypeRef::List(inner) => write!(f, "[{inner}]"),
            TypeRef::NonNull(inner) => write!(f, "{inner}!"),
        }
    }
}

/// One entry of a selection set.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Selection {
    Field(Field),
    /// `... on Type { ... }` (or `... { ... }` without a type condition).
    Fragment {
        on: Option<String>,
        selection: Vec<Selection>,
        pos: Pos,
    },
}

/// `alias: name(arguments) { selection }`; an empty `selection` means the
/// field has no selection set (GraphQL forbids an empty one).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    pub(crate) alias: Option<String>,
    pub(crate) name: String,
    pub(crate) arguments: Vec<(String, Input)>,
    pub(crate) selection: Vec<Selection>,
    pub(crate) pos: Pos,
}

impl Field {
    /// The key of the field in the response: the alias, else the name.
    pub(crate) fn key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// An input value as written in the document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Input {
    Variable(String),
    Int(i64),
    Float(f64),
    String(String),
    Boolean(bool),
    Null,
    Enum(String),
    List(Vec<Input>),
    Object(Vec<(String, Input)>),
}

struct Parser {
    tokens: Vec<(Tok, Pos)>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.tokens.get(self.at).map_or(&Tok::End, |(tok, _)| tok)
    }

    fn pos(&self) -> Pos {
        self.tokens
            .get(self.at)
            .or_else(|| self.tokens.last())
            .map(|(_, pos)| *pos)
            .unwrap_or_default()
    }

    fn next(&mut self) -> Tok {
        let tok = self.peek().clone();
        if tok != Tok::End {
            self.at += 1;
        }
        tok
    }

    fn unexpected<T>(&self, expected: &str) -> Result<T, ParseError> {
        let pos = self.pos();
        error(
            pos,
            format!(
                "Parse error on {} at [{}, {}]: expected {expected}",
                self.peek(),
                pos.line,
                pos.column
            ),
        )
    }

    fn is_punct(&self, c: char) -> bool {
        *self.peek() == Tok::Punct(c)
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.is_punct(c);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect(&mut self, c: char) -> Result<(), ParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            self.unexpected(&format!("\"{c}\""))
        }
    }

    fn name(&mut self, what: &str) -> Result<String, ParseError> {
        match self.peek() {
            Tok::Name(name) => {
                let name = name.clone();
                self.at += 1;
                Ok(name)
            }
            _ => self.unexpected(what),
        }
    }

    fn deeper(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return error(
                self.pos(),
                format!("The document nests deeper than {MAX_DEPTH} levels"),
            );
        }
        Ok(())
    }

    fn refuse_directive(&self) -> Result<(), ParseError> {
        if self.is_punct('@') {
            return error(
                self.pos(),
                "Directives (@include, @skip, ...) are not supported by the fake GitHub",
            );
        }
        Ok(())
    }

    fn document(&mut self) -> Result<Document, ParseError> {
        let mut operations = Vec::new();
        while *self.peek() != Tok::End {
            operations.push(self.operation()?);
        }
        if operations.is_empty() {
            return self.unexpected("an operation");
        }
        Ok(Document { operations })
    }

    fn operation(&mut self) -> Result<Operation, ParseError> {
        let pos = self.pos();
        if self.is_punct('{') {
            return Ok(Operation {
                kind: OperationKind::Query,
                name: None,
                variables: Vec::new(),
                selection: self.selection_set()?,
                pos,
            });
        }
        let kind = match self.peek() {
            Tok::Name(word) if word == "query" => OperationKind::Query,
            Tok::Name(word) if word == "mutation" => OperationKind::Mutation,
            Tok::Name(word) if word == "subscription" => OperationKind::Subscription,
            Tok::Name(word) if word == "fragment" => {
                return error(
                    pos,
                    "Fragment definitions are not supported by the fake GitHub; \
                     write the fields inline or use `... on Type { ... }`",
                );
            }
            _ => return self.unexpected("\"query\", \"mutation\" or \"{\""),
        };
        self.at += 1;
        let name = match self.peek() {
            Tok::Name(_) => Some(self.name("a name")?),
            _ => None,
        };
        let variables = if self.eat('(') {
            let mut variables = Vec::new();
            while !self.eat(')') {
                variables.push(self.variable_def()?);
            }
            if variables.is_empty() {
                return self.unexpected("a variable definition");
            }
            variables
        } else {
            Vec::new()
        };
        self.refuse_directive()?;
        Ok(Operation {
            kind,
            name,
            variables,
            selection: self.selection_set()?,
            pos,
        })
    }

    fn variable_def(&mut self) -> Result<VariableDef, ParseError> {
        let pos = self.pos();
        self.expect('$')?;
        let name = self.name("a variable name")?;
        self.expect(':')?;
        let ty = self.type_ref()?;
        let default = if self.eat('=') {
            Some(self.value(true)?)
        } else {
            None
        };
        self.refuse_directive()?;
        Ok(VariableDef {
            name,
            ty,
            default,
            pos,
        })
    }

    fn type_ref(&mut self) -> Result<TypeRef, ParseError> {
        self.deeper()?;
        let ty = if self.eat('[') {
            let inner = self.type_ref()?;
            self.expect(']')?;
            TypeRef::List(Box::new(inner))
        } else {
            TypeRef::Named(self.name("a type")?)
        };
        self.depth -= 1;
        Ok(if self.eat('!') {
            TypeRef::NonNull(Box::new(ty))
        } else {
            ty
        })
    }

    fn selection_set(&mut self) -> Result<Vec<Selection>, ParseError> {
        self.deeper()?;
        self.expect('{')?;
        let mut selection = Vec::new();
        while !self.eat('}') {
            selection.push(self.selection()?);
        }
        if selection.is_empty() {
            return self.unexpected("a field");
        }
        self.depth -= 1;
        Ok(selection)
    }

    fn selection(&mut self) -> Result<Selection, ParseError> {
        let pos = self.pos();
        if *self.peek() == Tok::Spread {
            self.at += 1;
            let on = match self.peek() {
                Tok::Name(word) if word == "on" => {
                    self.at += 1;
                    Some(self.name("a type name")?)
                }
                Tok::Name(_) => {
                    return error(
                        pos,
                        "Fragment spreads (`...Name`) are not supported by the fake GitHub; \
                         write the fields inline or use `... on Type { ... }`",
                    );
                }
                _ => None,
            };
            self.refuse_directive()?;
            let selection = self.selection_set()?;
            return Ok(Selection::Fragment { on, selection, pos });
        }
        let first = self.name("a field")?;
        let (alias, name) = if self.eat(':') {
            (Some(first), self.name("a field name")?)
        } else {
            (None, first)
        };
        let mut arguments = Vec::new();
        if self.eat('(') {
            while !self.eat(')') {
                let argument = self.name("an argument name")?;
                self.expect(':')?;
                arguments.push((argument, self.value(false)?));
            }
            if arguments.is_empty() {
                return self.unexpected("an argument");
            }
        }
        self.refuse_directive()?;
        let selection = if self.is_punct('{') {
            self.selection_set()?
        } else {
            Vec::new()
        };
        Ok(Selection::Field(Field {
            alias,
            name,
            arguments,
            selection,
            pos,
        }))
    }

    /// A value; `constant` forbids variables (defaults of variables).
    fn value(&mut self, constant: bool) -> Result<Input, ParseError> {
        self.deeper()?;
        let before = self.at;
        let value = match self.next() {
            Tok::Punct('$') if !constant => Input::Variable(self.name("a variable name")?),
            Tok::Int(n) => Input::Int(n),
            Tok::Float(x) => Input::Float(x),
            Tok::Str(text) => Input::String(text),
            Tok::Name(word) => match word.as_str() {
                "true" => Input::Boolean(true),
                "false" => Input::Boolean(false),
                "null" => Input::Null,
                _ => Input::Enum(word),
            },
            Tok::Punct('[') => {
                let mut items = Vec::new();
                while !self.eat(']') {
                    items.push(self.value(constant)?);
                }
                Input::List(items)
            }
            Tok::Punct('{') => {
                let mut fields = Vec::new();
                while !self.eat('}') {
                    let name = self.name("an input field name")?;
                    self.expect(':')?;
                    fields.push((name, self.value(constant)?));
                }
                Input::Object(fields)
            }
            _ => {
                self.at = before;
                return self.unexpected("a value");
            }
        };
        self.depth -= 1;
        Ok(value)
    }
}

/// Parses a GraphQL document.
pub(crate) fn parse(text: &str) -> Result<Document, ParseError> {
    let tokens = tokenize(text)?;
    Parser {
        tokens,
        at: 0,
        depth: 0,
    }
    .document()
}

/// Parses a type reference alone (`[ID!]!`).
pub(crate) fn parse_type(text: &str) -> Result<TypeRef, ParseError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        depth: 0,
    };
    let ty = parser.type_ref()?;
    if *parser.peek() != Tok::End {
        return parser.unexpected("the end of the type");
    }
    Ok(ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(selection: &Selection) -> &Field {
        match selection {
            Selection::Field(field) => field,
            Selection::Fragment { .. } => panic!("a fragment"),
        }
    }

    #[test]
    fn operations_with_variables_aliases_and_arguments() {
        let doc = parse(
            "# two label changes\nmutation Sync($pr: ID!, $add: [ID!]! = [\"LA_1\"]) {\n  \
             r: removeLabelsFromLabelable(input: {labelableId: $pr, labelIds: [\"LA_2\"]}) { clientMutationId }\n  \
             a: addLabelsToLabelable(input: {labelableId: $pr, labelIds: $add}) {\n    \
             labelable { ... on PullRequest { id } __typename }\n  }\n}",
        )
        .expect("parses");
        let [operation] = doc.operations.as_slice() else {
            panic!("one operation");
        };
        assert_eq!(operation.kind, OperationKind::Mutation);
        assert_eq!(operation.name.as_deref(), Some("Sync"));
        assert_eq!(operation.variables.len(), 2);
        assert_eq!(operation.variables[1].ty.to_string(), "[ID!]!");
        assert_eq!(
            operation.variables[1].default,
            Some(Input::List(vec![Input::String("LA_1".into())]))
        );
        let remove = field(&operation.selection[0]);
        assert_eq!(
            (remove.key(), remove.name.as_str()),
            ("r", "removeLabelsFromLabelable")
        );
        assert_eq!(remove.pos, Pos { line: 3, column: 3 });
        let Input::Object(input) = &remove.arguments[0].1 else {
            panic!("an object");
        };
        assert_eq!(
            input[0],
            ("labelableId".into(), Input::Variable("pr".into()))
        );
        let add = field(&operation.selection[1]);
        assert!(matches!(
            &field(&add.selection[0]).selection[0],
            Selection::Fragment { on: Some(on), .. } if on == "PullRequest"
        ));
    }

    #[test]
    fn scalars_and_escapes() {
        let doc = parse(
            r#"{ f(a: -12, b: 1.5e3, c: "\u00e9\ud83c\udfaa\n", d: OPEN, e: null, f: false) }"#,
        )
        .expect("parses");
        let f = field(&doc.operations[0].selection[0]);
        let values: Vec<&Input> = f.arguments.iter().map(|(_, v)| v).collect();
        assert_eq!(
            values,
            [
                &Input::Int(-12),
                &Input::Float(1500.0),
                &Input::String("é🎪\n".into()),
                &Input::Enum("OPEN".into()),
                &Input::Null,
                &Input::Boolean(false),
            ]
        );
    }

    #[test]
    fn refusals_and_errors_never_panic() {
        for (text, needle) in [
            ("", "expected an operation"),
            ("{ a", "expected a field"),
            ("{ }", "expected a field"),
            ("query { ...Frag }", "Fragment spreads"),
            ("fragment F on Label { id }", "Fragment definitions"),
            ("{ a @include(if: true) }", "Directives"),
            ("{ a(b: \"\"\"x\"\"\") }", "Block strings"),
            ("{ a(b: \"x) }", "Unterminated string"),
            ("{ a(b: 012) }", "leading zero"),
            ("{ a(b: 99999999999999999999) }", "out of range"),
            ("{ a(b: \"\\ud800\") }", "lone surrogate"),
            ("{ a(b: ) }", "expected a value"),
            ("query($a: ID = $b) { a }", "expected a value"),
            ("{ a } }", "expected \"query\""),
            ("{ a ~ }", "Unexpected character"),
            ("{ a(b: 1.) }", "expected a digit"),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.message.contains(needle), "{text}: {}", err.message);
        }
        let deep = format!("{{ a(b: {}1{}) }}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(
            parse(&deep)
                .expect_err("too deep")
                .message
                .contains("nests deeper")
        );
        let deep = format!("{}{}", "{ a ".repeat(10_000), "}".repeat(10_000));
        assert!(parse(&deep).is_err());
    }
}
