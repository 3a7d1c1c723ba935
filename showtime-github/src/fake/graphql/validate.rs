//! Validation of a parsed document against the [schema](super::schema),
//! before anything runs: the operation is chosen, variables are coerced to
//! their declared types, every field, argument and input value is checked,
//! and variables are substituted. As on GitHub, a document with any
//! validation error runs nothing and is answered with `errors` alone.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Number, Value};

use super::GqlError;
use super::parse::parse_type;
use super::parse::{Document, Field, Input, Operation, OperationKind, Pos, Selection, TypeRef};
use super::schema::{InputDef, Kind, Scalar, TypeDef, input_def, type_def};

/// A validated operation, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prepared {
    pub(crate) kind: OperationKind,
    pub(crate) steps: Vec<Step>,
}

/// One entry of a validated selection set.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    Field(Planned),
    /// Steps that apply when the object is of (or implements) `condition`.
    On {
        condition: &'static str,
        steps: Vec<Step>,
    },
}

/// A validated field with its arguments coerced and variables substituted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Planned {
    /// The response key (alias or name).
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) args: Map<String, Value>,
    pub(crate) steps: Vec<Step>,
    pub(crate) pos: Pos,
}

/// Picks the operation to run: the one named `name`, or the only one;
/// otherwise says why not.
pub(crate) fn select<'d>(doc: &'d Document, name: Option<&str>) -> Result<&'d Operation, String> {
    match (name, doc.operations.as_slice()) {
        (None, [only]) => Ok(only),
        (None, _) => {
            Err("An operation name is required when the document has several operations".to_owned())
        }
        (Some(name), operations) => operations
            .iter()
            .find(|op| op.name.as_deref() == Some(name))
            .ok_or_else(|| format!("No operation named \"{name}\"")),
    }
}

/// Validates the operation `name` of `doc` with `variables`; `refused`
/// says which mutation fields the server pretends not to have.
pub(crate) fn prepare(
    doc: &Document,
    name: Option<&str>,
    variables: &Map<String, Value>,
    refused: &dyn Fn(&str) -> bool,
) -> Result<Prepared, Vec<GqlError>> {
    let operation = select(doc, name).map_err(|message| vec![GqlError::new(message, None)])?;
    let root = match operation.kind {
        OperationKind::Query => "Query",
        OperationKind::Mutation => "Mutation",
        OperationKind::Subscription => {
            return Err(vec![GqlError::new(
                "Schema is not configured for subscriptions",
                Some(operation.pos),
            )]);
        }
    };
    let mut checker = Checker {
        variables: BTreeMap::new(),
        errors: Vec::new(),
        refused,
        path: vec![operation.kind.keyword().to_owned()],
    };
    checker.declare(operation, variables);
    // Which variables the document uses is a matter of its text, whatever
    // the fields are.
    let label = operation
        .name
        .clone()
        .unwrap_or_else(|| format!("anonymous {}", operation.kind.keyword()));
    let mut used = BTreeSet::new();
    variables_in_selection(&operation.selection, &mut used);
    for name in &used {
        if !checker.variables.contains_key(*name) {
            let message = format!("Variable ${name} is used by {label} but not declared");
            checker.errors.push(GqlError::new(message, None));
        }
    }
    for def in &operation.variables {
        if !used.contains(def.name.as_str()) {
            let message = format!("Variable ${} is declared by {label} but not used", def.name);
            checker.errors.push(GqlError::new(message, Some(def.pos)));
        }
    }
    let steps = match type_def(root) {
        Some(root) => checker.selection(root, &operation.selection),
        None => Vec::new(),
    };
    if checker.errors.is_empty() {
        Ok(Prepared {
            kind: operation.kind,
            steps,
        })
    } else {
        Err(checker.errors)
    }
}

struct Variable {
    ty: TypeRef,
    /// The coerced value; `null` when not provided.
    value: Value,
    has_default: bool,
}

/// An input value to coerce: a literal of the document or a JSON value of
/// the request's variables.
#[derive(Clone, Copy)]
enum Val<'a> {
    Lit(&'a Input),
    Json(&'a Value),
}

/// A scalar view of a [`Val`].
enum Atom<'a> {
    Int(i64),
    Float(f64),
    Str(&'a str),
    Bool(bool),
    Enum(&'a str),
    Other,
}

impl<'a> Val<'a> {
    fn is_null(self) -> bool {
        matches!(self, Val::Lit(Input::Null) | Val::Json(Value::Null))
    }

    fn items(self) -> Option<Vec<Val<'a>>> {
        match self {
            Val::Lit(Input::List(items)) => Some(items.iter().map(Val::Lit).collect()),
            Val::Json(Value::Array(items)) => Some(items.iter().map(Val::Json).collect()),
            _ => None,
        }
    }

    fn entries(self) -> Option<Vec<(&'a str, Val<'a>)>> {
        match self {
            Val::Lit(Input::Object(fields)) => Some(
                fields
                    .iter()
                    .map(|(name, value)| (name.as_str(), Val::Lit(value)))
                    .collect(),
            ),
            Val::Json(Value::Object(map)) => Some(
                map.iter()
                    .map(|(name, value)| (name.as_str(), Val::Json(value)))
                    .collect(),
            ),
            _ => None,
        }
    }

    fn atom(self) -> Atom<'a> {
        match self {
            Val::Lit(Input::Int(n)) => Atom::Int(*n),
            Val::Lit(Input::Float(x)) => Atom::Float(*x),
            Val::Lit(Input::String(text)) | Val::Json(Value::String(text)) => Atom::Str(text),
            Val::Lit(Input::Boolean(b)) | Val::Json(Value::Bool(b)) => Atom::Bool(*b),
            Val::Lit(Input::Enum(name)) => Atom::Enum(name),
            Val::Json(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
                (Some(n), _) => Atom::Int(n),
                (None, Some(x)) => Atom::Float(x),
                (None, None) => Atom::Other,
            },
            _ => Atom::Other,
        }
    }

    /// The value as written, for messages.
    fn show(self) -> String {
        match self {
            Val::Json(value) => value.to_string(),
            Val::Lit(input) => show_input(input),
        }
    }
}

fn show_input(input: &Input) -> String {
    let join = |items: Vec<String>| items.join(", ");
    match input {
        Input::Variable(name) => format!("${name}"),
        Input::Int(n) => n.to_string(),
        Input::Float(x) => x.to_string(),
        Input::String(text) => Value::String(text.clone()).to_string(),
        Input::Boolean(b) => b.to_string(),
        Input::Null => "null".to_owned(),
        Input::Enum(name) => name.clone(),
        Input::List(items) => format!("[{}]", join(items.iter().map(show_input).collect())),
        Input::Object(fields) => format!(
            "{{{}}}",
            join(
                fields
                    .iter()
                    .map(|(name, value)| format!("{name}: {}", show_input(value)))
                    .collect()
            )
        ),
    }
}

/// Collects the variables the arguments of `selection` use.
fn variables_in_selection<'d>(selection: &'d [Selection], into: &mut BTreeSet<&'d str>) {
    for item in selection {
        match item {
            Selection::Field(field) => {
                for (_, value) in &field.arguments {
                    variables_in_input(value, into);
                }
                variables_in_selection(&field.selection, into);
            }
            Selection::Fragment { selection, .. } => variables_in_selection(selection, into),
        }
    }
}

fn variables_in_input<'d>(input: &'d Input, into: &mut BTreeSet<&'d str>) {
    match input {
        Input::Variable(name) => {
            into.insert(name);
        }
        Input::List(items) => items.iter().for_each(|item| variables_in_input(item, into)),
        Input::Object(fields) => fields
            .iter()
            .for_each(|(_, value)| variables_in_input(value, into)),
        _ => {}
    }
}

/// Why a value does not coerce.
enum Problem {
    /// The value does not fit the type, for this reason.
    Invalid(String),
    /// A variable was misused; the error is already recorded.
    Reported,
}

/// Whether a variable of type `var` may be used where `loc` is expected
/// (GraphQL's "are types compatible").
fn compatible(var: &TypeRef, loc: &TypeRef) -> bool {
    match (var, loc) {
        (TypeRef::NonNull(var), TypeRef::NonNull(loc)) => compatible(var, loc),
        (_, TypeRef::NonNull(_)) => false,
        (TypeRef::NonNull(var), loc) => compatible(var, loc),
        (TypeRef::List(var), TypeRef::List(loc)) => compatible(var, loc),
        (TypeRef::Named(var), TypeRef::Named(loc)) => var == loc,
        _ => false,
    }
}

fn nullable(ty: &TypeRef) -> TypeRef {
    match ty {
        TypeRef::NonNull(inner) => nullable(inner),
        TypeRef::List(inner) => TypeRef::List(Box::new(nullable(inner))),
        TypeRef::Named(name) => TypeRef::Named(name.clone()),
    }
}

struct Checker<'a> {
    variables: BTreeMap<String, Variable>,
    errors: Vec<GqlError>,
    refused: &'a dyn Fn(&str) -> bool,
    /// Response keys from the root to the field being checked.
    path: Vec<String>,
}

impl Checker<'_> {
    fn fail(&mut self, message: impl Into<String>, pos: Pos) {
        let mut error = GqlError::new(message, Some(pos));
        error.path = self.path.iter().cloned().map(Value::String).collect();
        self.errors.push(error);
    }

    fn declare(&mut self, operation: &Operation, given: &Map<String, Value>) {
        for def in &operation.variables {
            if self.variables.contains_key(&def.name) {
                self.fail(
                    format!("There can only be one variable named \"${}\"", def.name),
                    def.pos,
                );
                continue;
            }
            let coerced = if input_def(def.ty.base()).is_none() {
                Err(format!(
                    "{} isn't a defined input type (on ${})",
                    def.ty.base(),
                    def.name
                ))
            } else {
                let value = match (given.get(&def.name), &def.default) {
                    (Some(value), _) => Some(Val::Json(value)),
                    (None, Some(default)) => Some(Val::Lit(default)),
                    (None, None) => None,
                };
                match value.map(|value| self.coerce(value, &def.ty)) {
                    Some(Ok(value)) => Ok(value),
                    None if !matches!(def.ty, TypeRef::NonNull(_)) => Ok(Value::Null),
                    None => Err(format!(
                        "Variable ${} of type {} was not provided",
                        def.name, def.ty
                    )),
                    Some(Err(Problem::Invalid(reason))) => Err(format!(
                        "Variable ${} of type {} was provided invalid value: {reason}",
                        def.name, def.ty
                    )),
                    Some(Err(Problem::Reported)) => Err(format!(
                        "Variable ${} has a default value that uses a variable",
                        def.name
                    )),
                }
            };
            let value = coerced.unwrap_or_else(|message| {
                self.fail(message, def.pos);
                Value::Null
            });
            self.variables.insert(
                def.name.clone(),
                Variable {
                    ty: def.ty.clone(),
                    value,
                    has_default: def.default.is_some(),
                },
            );
        }
    }

    fn variable(&mut self, name: &str, loc: &TypeRef) -> Result<Value, Problem> {
        let Some(variable) = self.variables.get(name) else {
            // Reported once, by `prepare`.
            return Err(Problem::Reported);
        };
        let fits = compatible(&variable.ty, loc)
            || match (loc, variable.has_default) {
                (TypeRef::NonNull(inner), true) => compatible(&variable.ty, inner),
                _ => false,
            };
        if fits {
            return Ok(variable.value.clone());
        }
        let kind = if nullable(&variable.ty) == nullable(loc) {
            "Nullability"
        } else {
            "Type"
        };
        let message = format!(
            "{kind} mismatch on variable ${name} ({} / {loc})",
            variable.ty
        );
        self.errors.push(GqlError::new(message, None));
        Err(Problem::Reported)
    }

    /// Coerces `val` to `ty` (GraphQL input coercion).
    fn coerce(&mut self, val: Val<'_>, ty: &TypeRef) -> Result<Value, Problem> {
        if let Val::Lit(Input::Variable(name)) = val {
            return self.variable(name, ty);
        }
        match ty {
            TypeRef::NonNull(_) if val.is_null() => {
                Err(Problem::Invalid(format!("null is not allowed for {ty}")))
            }
            TypeRef::NonNull(inner) => self.coerce(val, inner),
            _ if val.is_null() => Ok(Value::Null),
            TypeRef::List(inner) => match val.items() {
                Some(items) => items
                    .into_iter()
                    .map(|item| self.coerce(item, inner))
                    .collect::<Result<Vec<Value>, Problem>>()
                    .map(Value::Array),
                // A single value where a list is expected is a list of one.
                None => Ok(Value::Array(vec![self.coerce(val, inner)?])),
            },
            TypeRef::Named(name) => match input_def(name) {
                Some(InputDef::Scalar(scalar)) => coerce_scalar(val, scalar),
                Some(InputDef::Enum(values)) => match val.atom() {
                    Atom::Enum(value) if values.contains(&value) => Ok(Value::from(value)),
                    Atom::Str(value) if matches!(val, Val::Json(_)) && values.contains(&value) => {
                        Ok(Value::from(value))
                    }
                    _ => Err(Problem::Invalid(format!(
                        "{} is not one of {name}'s values ({})",
                        val.show(),
                        values.join(", ")
                    ))),
                },
                Some(InputDef::Object(fields)) => self.input_object(val, name, fields),
                None => Err(Problem::Invalid(format!("{name} is not an input type"))),
            },
        }
    }

    fn input_object(
        &mut self,
        val: Val<'_>,
        name: &str,
        fields: &'static [super::schema::ArgDef],
    ) -> Result<Value, Problem> {
        let Some(entries) = val.entries() else {
            return Err(Problem::Invalid(format!(
                "{} is not an input object {name}",
                val.show()
            )));
        };
        let mut seen = BTreeSet::new();
        for (key, _) in &entries {
            if !seen.insert(*key) {
                return Err(Problem::Invalid(format!("{name}.{key} is given twice")));
            }
            if fields.iter().all(|field| field.name != *key) {
                return Err(Problem::Invalid(format!(
                    "InputObject '{name}' doesn't accept argument '{key}'"
                )));
            }
        }
        let mut object = Map::new();
        for field in fields {
            let ty = parse_type(field.ty).map_err(|e| Problem::Invalid(e.message))?;
            match entries.iter().find(|(key, _)| *key == field.name) {
                Some((_, value)) => {
                    let value = self.coerce(*value, &ty).map_err(|problem| match problem {
                        Problem::Invalid(reason) => {
                            Problem::Invalid(format!("{name}.{}: {reason}", field.name))
                        }
                        Problem::Reported => Problem::Reported,
                    })?;
                    object.insert(field.name.to_owned(), value);
                }
                None if matches!(ty, TypeRef::NonNull(_)) => {
                    return Err(Problem::Invalid(format!(
                        "Argument '{}' on InputObject '{name}' is required. Expected type {ty}",
                        field.name
                    )));
                }
                None => {}
            }
        }
        Ok(Value::Object(object))
    }

    fn selection(&mut self, parent: &'static TypeDef, items: &[Selection]) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut keys: BTreeMap<&str, &Field> = BTreeMap::new();
        for item in items {
            match item {
                Selection::Field(field) => {
                    if let Some(other) = keys.insert(field.key(), field) {
                        if other.name != field.name || other.arguments != field.arguments {
                            self.fail(
                                format!(
                                    "Field '{}' has a field conflict: {} or {}?",
                                    field.key(),
                                    other.name,
                                    field.name
                                ),
                                field.pos,
                            );
                        }
                    }
                    self.path.push(field.key().to_owned());
                    if let Some(planned) = self.field(parent, field) {
                        steps.push(Step::Field(planned));
                    }
                    self.path.pop();
                }
                Selection::Fragment { on, selection, pos } => {
                    let condition = match on.as_deref().map(type_def) {
                        None => parent,
                        Some(Some(ty)) if !matches!(ty.kind, Kind::Leaf) => ty,
                        Some(_) => {
                            let name = on.as_deref().unwrap_or_default();
                            self.fail(
                                format!("No such type {name}, so it can't be a fragment condition"),
                                *pos,
                            );
                            continue;
                        }
                    };
                    let reachable = condition.possible();
                    if !parent.possible().iter().any(|ty| reachable.contains(ty)) {
                        self.fail(
                            format!(
                                "Fragment on {} can't be spread inside {}",
                                condition.name, parent.name
                            ),
                            *pos,
                        );
                        continue;
                    }
                    let inner = self.selection(condition, selection);
                    steps.push(Step::On {
                        condition: condition.name,
                        steps: inner,
                    });
                }
            }
        }
        steps
    }

    fn field(&mut self, parent: &'static TypeDef, field: &Field) -> Option<Planned> {
        let planned = |args, steps| Planned {
            key: field.key().to_owned(),
            name: field.name.clone(),
            args,
            steps,
            pos: field.pos,
        };
        if field.name == "__typename" {
            if !field.arguments.is_empty() || !field.selection.is_empty() {
                self.fail(
                    "Field '__typename' takes no arguments and no selections",
                    field.pos,
                );
                return None;
            }
            return Some(planned(Map::new(), Vec::new()));
        }
        let refused = parent.name == "Mutation" && (self.refused)(&field.name);
        let Some(def) = parent.field(&field.name).filter(|_| !refused) else {
            self.unknown_field(parent, field, refused);
            return None;
        };
        let args = self.arguments(def, field)?;
        let out = match parse_type(def.ty) {
            Ok(out) => out,
            Err(e) => {
                self.fail(e.message, field.pos);
                return None;
            }
        };
        let target = type_def(out.base())?;
        match (target.kind, field.selection.is_empty()) {
            (Kind::Leaf, true) => Some(planned(args, Vec::new())),
            (Kind::Leaf, false) => {
                self.fail(
                    format!(
                        "Selections can't be made on scalars (field '{}' returns {out} but has selections)",
                        field.name
                    ),
                    field.pos,
                );
                None
            }
            (_, true) => {
                self.fail(
                    format!(
                        "Field must have selections (field '{}' returns {} but has no selections. Did you mean '{} {{ ... }}'?)",
                        field.name, target.name, field.name
                    ),
                    field.pos,
                );
                None
            }
            (_, false) => {
                let steps = self.selection(target, &field.selection);
                Some(planned(args, steps))
            }
        }
    }

    fn unknown_field(&mut self, parent: &TypeDef, field: &Field, refused: bool) {
        let mut message = format!(
            "Field '{}' doesn't exist on type '{}'",
            field.name, parent.name
        );
        if !refused {
            let known: Vec<&str> = parent
                .fields
                .iter()
                .map(|known| known.name)
                .filter(|name| parent.name != "Mutation" || !(self.refused)(name))
                .collect();
            message.push_str(&format!(
                " (the fake GitHub serves only {} there)",
                known.join(", ")
            ));
        }
        self.fail(message, field.pos);
        if let Some(error) = self.errors.last_mut() {
            error.extensions = Some(serde_json::json!({
                "code": "undefinedField",
                "typeName": parent.name,
                "fieldName": field.name,
            }));
        }
    }

    /// The coerced arguments of `field`; `None` after recording errors.
    fn arguments(
        &mut self,
        def: &'static super::schema::FieldDef,
        field: &Field,
    ) -> Option<Map<String, Value>> {
        let before = self.errors.len();
        let mut seen = BTreeSet::new();
        for (name, _) in &field.arguments {
            if !seen.insert(name.as_str()) {
                self.fail(
                    format!("There can be only one argument named \"{name}\""),
                    field.pos,
                );
            } else if def.args.iter().all(|arg| arg.name != name) {
                self.fail(
                    format!("Field '{}' doesn't accept argument '{name}'", field.name),
                    field.pos,
                );
            }
        }
        let mut args = Map::new();
        let mut missing = Vec::new();
        for arg in def.args {
            let ty = match parse_type(arg.ty) {
                Ok(ty) => ty,
                Err(e) => {
                    self.fail(e.message, field.pos);
                    continue;
                }
            };
            let given = field.arguments.iter().find(|(name, _)| name == arg.name);
            match given {
                Some((_, value)) => match self.coerce(Val::Lit(value), &ty) {
                    Ok(value) => {
                        args.insert(arg.name.to_owned(), value);
                    }
                    Err(Problem::Invalid(reason)) => self.fail(
                        format!(
                            "Argument '{}' on Field '{}' has an invalid value ({}). Expected type '{ty}': {reason}",
                            arg.name,
                            field.name,
                            show_input(value)
                        ),
                        field.pos,
                    ),
                    Err(Problem::Reported) => {}
                },
                None if matches!(ty, TypeRef::NonNull(_)) => missing.push(arg.name),
                None => {}
            }
        }
        if !missing.is_empty() {
            self.fail(
                format!(
                    "Field '{}' is missing required arguments: {}",
                    field.name,
                    missing.join(", ")
                ),
                field.pos,
            );
        }
        (self.errors.len() == before).then_some(args)
    }
}

fn coerce_scalar(val: Val<'_>, scalar: Scalar) -> Result<Value, Problem> {
    let value = match (scalar, val.atom()) {
        (Scalar::Id | Scalar::String, Atom::Str(text)) => Some(Value::from(text)),
        (Scalar::Id, Atom::Int(n)) => Some(Value::from(n.to_string())),
        (Scalar::Int, Atom::Int(n)) if i32::try_from(n).is_ok() => Some(Value::from(n)),
        (Scalar::Float, Atom::Int(n)) => Some(Value::from(n)),
        (Scalar::Float, Atom::Float(x)) => Number::from_f64(x).map(Value::Number),
        (Scalar::Boolean, Atom::Bool(b)) => Some(Value::Bool(b)),
        _ => None,
    };
    value.ok_or_else(|| {
        let name = match scalar {
            Scalar::Id => "ID",
            Scalar::String => "String",
            Scalar::Int => "Int",
            Scalar::Float => "Float",
            Scalar::Boolean => "Boolean",
        };
        Problem::Invalid(format!("Could not coerce value {} to {name}", val.show()))
    })
}
