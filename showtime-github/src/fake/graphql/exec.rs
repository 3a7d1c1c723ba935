//! Execution of a [validated](super::validate) operation against the
//! fake's state. Top-level fields run in document order (mutations
//! serially, as GraphQL requires); a field that fails becomes `null` with an
//! entry in `errors` carrying its path, and a failing mutation changes
//! nothing.

use serde_json::{Map, Value};

use super::GqlError;
use super::parse::OperationKind;
use super::schema::satisfies;
use super::validate::{Planned, Prepared, Step};
use crate::fake::FakeState;
use crate::fake::state::{
    DEFAULT_LABEL_COLOR, LABEL_DESCRIPTION_MAX, LABEL_NAME_MAX, Node, State, issue_node_id,
    label_node_id, valid_color,
};

/// The most nodes a connection hands out at once.
const MAX_PAGE: u64 = 100;

/// An object the executor is resolving fields of.
#[derive(Debug, Clone, PartialEq)]
enum Obj {
    Query,
    Mutation,
    Repository,
    /// A label definition by numeric id.
    Label(u64),
    /// An issue or pull request by number.
    Labelable(u64),
    /// The labels of an issue or pull request, paged.
    Labels {
        number: u64,
        first: Option<usize>,
        last: Option<usize>,
    },
    /// The issues (`pulls == false`) or pull requests carrying a label, in
    /// the given states (all when empty).
    Carrying {
        label: u64,
        pulls: bool,
        states: Vec<String>,
    },
    /// A mutation's payload.
    Payload {
        ty: &'static str,
        client: Value,
        labelable: Option<u64>,
        label: Option<u64>,
    },
}

/// What a field resolved to.
enum Out {
    Leaf(Value),
    One(Obj),
    Many(Vec<Obj>),
}

/// Runs `prepared`; returns `data` and the field errors.
pub(crate) fn execute(state: &mut State, prepared: &Prepared) -> (Value, Vec<GqlError>) {
    let root = match prepared.kind {
        OperationKind::Mutation => Obj::Mutation,
        OperationKind::Query | OperationKind::Subscription => Obj::Query,
    };
    let mut exec = Exec {
        state,
        errors: Vec::new(),
    };
    let data = exec.select(&root, &prepared.steps, &mut Vec::new());
    (Value::Object(data), exec.errors)
}

/// Why a field could not be resolved; the executor adds where.
struct FieldError {
    message: String,
    /// GitHub's `type` (`NOT_FOUND`, `UNPROCESSABLE`).
    kind: Option<&'static str>,
}

impl FieldError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: None,
        }
    }
}

fn not_found(message: String) -> FieldError {
    FieldError {
        message,
        kind: Some("NOT_FOUND"),
    }
}

fn unresolvable(id: &str) -> FieldError {
    not_found(format!(
        "Could not resolve to a node with the global id of '{id}'."
    ))
}

fn unprocessable(message: &str) -> FieldError {
    FieldError {
        message: message.to_owned(),
        kind: Some("UNPROCESSABLE"),
    }
}

/// Puts `value` under `key`, merging objects selected twice.
fn merge(into: &mut Map<String, Value>, key: &str, value: Value) {
    match (into.get_mut(key), value) {
        (Some(Value::Object(existing)), Value::Object(more)) => {
            for (key, value) in more {
                merge(existing, &key, value);
            }
        }
        (_, value) => {
            into.insert(key.to_owned(), value);
        }
    }
}

fn str_arg<'a>(field: &'a Planned, name: &str) -> &'a str {
    field
        .args
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

struct Exec<'s> {
    state: &'s mut State,
    errors: Vec<GqlError>,
}

impl Exec<'_> {
    fn typename(&self, obj: &Obj) -> &'static str {
        match obj {
            Obj::Query => "Query",
            Obj::Mutation => "Mutation",
            Obj::Repository => "Repository",
            Obj::Label(_) => "Label",
            Obj::Labelable(number) => match self.state.issues.get(number) {
                Some(issue) if issue.pr.is_none() => "Issue",
                _ => "PullRequest",
            },
            Obj::Labels { .. } => "LabelConnection",
            Obj::Carrying { pulls: true, .. } => "PullRequestConnection",
            Obj::Carrying { pulls: false, .. } => "IssueConnection",
            Obj::Payload { ty, .. } => ty,
        }
    }

    fn select(&mut self, obj: &Obj, steps: &[Step], path: &mut Vec<Value>) -> Map<String, Value> {
        let mut out = Map::new();
        self.fill(obj, self.typename(obj), steps, path, &mut out);
        out
    }

    fn fill(
        &mut self,
        obj: &Obj,
        ty: &'static str,
        steps: &[Step],
        path: &mut Vec<Value>,
        out: &mut Map<String, Value>,
    ) {
        for step in steps {
            match step {
                Step::Field(field) => {
                    path.push(Value::String(field.key.clone()));
                    let value = self.field(obj, ty, field, path);
                    path.pop();
                    merge(out, &field.key, value);
                }
                Step::On { condition, steps } if satisfies(ty, condition) => {
                    self.fill(obj, ty, steps, path, out);
                }
                Step::On { .. } => {}
            }
        }
    }

    fn field(
        &mut self,
        obj: &Obj,
        ty: &'static str,
        field: &Planned,
        path: &mut Vec<Value>,
    ) -> Value {
        if field.name == "__typename" {
            return Value::from(ty);
        }
        match self.resolve(obj, field) {
            Ok(Out::Leaf(value)) => value,
            Ok(Out::One(child)) => Value::Object(self.select(&child, &field.steps, path)),
            Ok(Out::Many(children)) => {
                let mut items = Vec::with_capacity(children.len());
                for (index, child) in children.iter().enumerate() {
                    path.push(Value::from(index));
                    items.push(Value::Object(self.select(child, &field.steps, path)));
                    path.pop();
                }
                Value::Array(items)
            }
            Err(FieldError { message, kind }) => {
                let mut error = GqlError::new(message, Some(field.pos));
                error.path.clone_from(path);
                error.kind = kind;
                self.errors.push(error);
                Value::Null
            }
        }
    }

    fn resolve(&mut self, obj: &Obj, field: &Planned) -> Result<Out, FieldError> {
        let state = &*self.state;
        let leaf = |value: Value| Ok(Out::Leaf(value));
        match (obj, field.name.as_str()) {
            (Obj::Query, "repository") => {
                let (owner, name) = (str_arg(field, "owner"), str_arg(field, "name"));
                if owner.eq_ignore_ascii_case(&state.owner)
                    && name.eq_ignore_ascii_case(&state.repo)
                {
                    Ok(Out::One(Obj::Repository))
                } else {
                    Err(not_found(format!(
                        "Could not resolve to a Repository with the name '{owner}/{name}'."
                    )))
                }
            }
            (Obj::Repository, "id") => leaf(Value::from(state.repository_node_id())),
            (Obj::Repository, "name") => leaf(Value::from(state.repo.clone())),
            (Obj::Repository, "nameWithOwner") => {
                leaf(Value::from(format!("{}/{}", state.owner, state.repo)))
            }
            (Obj::Repository, "label") => Ok(state
                .label_index(str_arg(field, "name"))
                .and_then(|i| state.labels.get(i))
                .map_or(Out::Leaf(Value::Null), |def| Out::One(Obj::Label(def.id)))),
            (Obj::Repository, kind @ ("pullRequest" | "issue")) => {
                let number = field.args.get("number").and_then(Value::as_u64);
                let wanted_pr = kind == "pullRequest";
                let found = number
                    .and_then(|n| state.issues.get(&n))
                    .filter(|issue| issue.pr.is_some() == wanted_pr);
                match found {
                    Some(issue) => Ok(Out::One(Obj::Labelable(issue.number))),
                    None => Err(not_found(format!(
                        "Could not resolve to {} with the number of {}.",
                        if wanted_pr {
                            "a PullRequest"
                        } else {
                            "an Issue"
                        },
                        number.map_or_else(|| "?".to_owned(), |n| n.to_string())
                    ))),
                }
            }
            (Obj::Label(id), name) => Ok(self.label_field(*id, name, field)),
            (
                Obj::Carrying {
                    label,
                    pulls,
                    states,
                },
                "totalCount",
            ) => {
                let count = state
                    .carrying(*label)
                    .filter(|issue| issue.pr.is_some() == *pulls)
                    .filter(|issue| {
                        states.is_empty() || states.iter().any(|s| s == state_name(issue))
                    })
                    .count();
                leaf(Value::from(count))
            }
            (Obj::Labelable(number), name) => self.labelable_field(*number, name, field),
            (Obj::Labels { number, .. }, "totalCount") => {
                leaf(Value::from(state.issue_labels(*number).len()))
            }
            (
                Obj::Labels {
                    number,
                    first,
                    last,
                },
                "nodes",
            ) => {
                let ids: Vec<u64> = state.issue_labels(*number).iter().map(|d| d.id).collect();
                let from_first = first.map_or(ids.len(), |n| n.min(ids.len()));
                let mut page = ids.get(..from_first).unwrap_or_default().to_vec();
                if let Some(last) = last {
                    page = page.split_off(page.len().saturating_sub(*last));
                }
                Ok(Out::Many(page.into_iter().map(Obj::Label).collect()))
            }
            (Obj::Payload { client, .. }, "clientMutationId") => leaf(client.clone()),
            (Obj::Payload { labelable, .. }, "labelable") => {
                Ok(labelable.map_or(Out::Leaf(Value::Null), |n| Out::One(Obj::Labelable(n))))
            }
            (Obj::Payload { label, .. }, "label") => {
                Ok(label.map_or(Out::Leaf(Value::Null), |id| Out::One(Obj::Label(id))))
            }
            (Obj::Mutation, "addLabelsToLabelable") => self.change_labels(field, true),
            (Obj::Mutation, "removeLabelsFromLabelable") => self.change_labels(field, false),
            (Obj::Mutation, "createLabel") => self.create_label(field),
            (Obj::Mutation, "deleteLabel") => self.delete_label(field),
            (_, name) => Err(FieldError::new(format!(
                "The fake GitHub cannot resolve '{name}' here"
            ))),
        }
    }

    fn label_field(&self, id: u64, name: &str, field: &Planned) -> Out {
        let Some(def) = self.state.label_by_id(id) else {
            return Out::Leaf(Value::Null);
        };
        let states = || -> Vec<String> {
            field
                .args
                .get("states")
                .and_then(Value::as_array)
                .map(|states| {
                    states
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        Out::Leaf(match name {
            "id" => Value::from(label_node_id(def.id)),
            "name" => Value::from(def.name.clone()),
            "color" => Value::from(def.color.clone()),
            "description" => def.description.clone().map_or(Value::Null, Value::from),
            "issues" | "pullRequests" => {
                return Out::One(Obj::Carrying {
                    label: id,
                    pulls: name == "pullRequests",
                    states: states(),
                });
            }
            _ => Value::Null,
        })
    }

    fn labelable_field(&self, number: u64, name: &str, field: &Planned) -> Result<Out, FieldError> {
        let Some(issue) = self.state.issues.get(&number) else {
            return Ok(Out::Leaf(Value::Null));
        };
        Ok(Out::Leaf(match name {
            "id" => Value::from(issue_node_id(issue)),
            "number" => Value::from(issue.number),
            "title" => Value::from(issue.title.clone()),
            "state" => Value::from(state_name(issue)),
            "labels" => return labels_page(number, field).map(Out::One),
            _ => Value::Null,
        }))
    }

    /// `addLabelsToLabelable` (`add`) or `removeLabelsFromLabelable`: every
    /// id must resolve, or nothing changes.
    fn change_labels(&mut self, field: &Planned, add: bool) -> Result<Out, FieldError> {
        let input = field.args.get("input").cloned().unwrap_or(Value::Null);
        let labelable = input["labelableId"].as_str().unwrap_or_default();
        let Some(Node::Issue(number)) = self.state.node(labelable) else {
            return Err(unresolvable(labelable));
        };
        let mut ids = Vec::new();
        for id in input["labelIds"].as_array().into_iter().flatten() {
            let id = id.as_str().unwrap_or_default();
            match self.state.node(id) {
                Some(Node::Label(label)) => ids.push(label),
                _ => return Err(unresolvable(id)),
            }
        }
        if add {
            self.state.attach_ids(number, &ids);
        } else {
            self.state.detach_ids(number, &ids);
        }
        Ok(Out::One(Obj::Payload {
            ty: if add {
                "AddLabelsToLabelablePayload"
            } else {
                "RemoveLabelsFromLabelablePayload"
            },
            client: input["clientMutationId"].clone(),
            labelable: Some(number),
            label: None,
        }))
    }

    /// `deleteLabel`: the definition goes, and with it every issue's and
    /// PR's use of it; an id that does not resolve changes nothing.
    fn delete_label(&mut self, field: &Planned) -> Result<Out, FieldError> {
        let input = field.args.get("input").cloned().unwrap_or(Value::Null);
        let id = input["id"].as_str().unwrap_or_default();
        let Some(Node::Label(label)) = self.state.node(id) else {
            return Err(unresolvable(id));
        };
        let name = self.state.label_by_id(label).map(|def| def.name.clone());
        if let Some(name) = name {
            self.state.delete_label(&name);
        }
        Ok(Out::One(Obj::Payload {
            ty: "DeleteLabelPayload",
            client: input["clientMutationId"].clone(),
            labelable: None,
            label: None,
        }))
    }

    /// `createLabel`, validated as GitHub validates labels.
    fn create_label(&mut self, field: &Planned) -> Result<Out, FieldError> {
        let input = field.args.get("input").cloned().unwrap_or(Value::Null);
        let repository = input["repositoryId"].as_str().unwrap_or_default();
        if self.state.node(repository) != Some(Node::Repository) {
            return Err(unresolvable(repository));
        }
        let name = input["name"].as_str().unwrap_or_default();
        let color = input["color"].as_str().unwrap_or(DEFAULT_LABEL_COLOR);
        let description = input["description"].as_str();
        if name.trim().is_empty() {
            return Err(unprocessable("Name can't be blank"));
        }
        if name.chars().count() > LABEL_NAME_MAX {
            return Err(unprocessable(&format!(
                "Name is too long (maximum is {LABEL_NAME_MAX} characters)"
            )));
        }
        if self.state.label_index(name).is_some() {
            return Err(unprocessable("Name has already been taken"));
        }
        if !valid_color(color) {
            return Err(unprocessable("Color is invalid"));
        }
        if description.is_some_and(|text| text.chars().count() > LABEL_DESCRIPTION_MAX) {
            return Err(unprocessable(&format!(
                "Description is too long (maximum is {LABEL_DESCRIPTION_MAX} characters)"
            )));
        }
        let id = self.state.create_label(name, color, description);
        Ok(Out::One(Obj::Payload {
            ty: "CreateLabelPayload",
            client: input["clientMutationId"].clone(),
            labelable: None,
            label: Some(id),
        }))
    }
}

/// GitHub's `state` enum value of an issue or pull request.
fn state_name(issue: &crate::fake::state::Issue) -> &'static str {
    match (issue.state, issue.pr.is_some()) {
        (FakeState::Open, _) => "OPEN",
        (FakeState::Merged, true) => "MERGED",
        _ => "CLOSED",
    }
}

/// The `labels(first:, last:)` connection, with GitHub's paging rules:
/// nodes need `first` or `last`, and at most 100 of them.
fn labels_page(number: u64, field: &Planned) -> Result<Obj, FieldError> {
    let limit = |name: &str| -> Result<Option<usize>, FieldError> {
        match field.args.get(name).and_then(Value::as_i64) {
            None => Ok(None),
            Some(n) if n < 0 => Err(FieldError::new(format!(
                "`{name}` on the labels connection cannot be less than zero."
            ))),
            Some(n) if n.unsigned_abs() > MAX_PAGE => Err(FieldError::new(format!(
                "Requesting {n} records on the `labels` connection exceeds the `{name}` limit of {MAX_PAGE} records."
            ))),
            Some(n) => Ok(usize::try_from(n).ok()),
        }
    };
    let (first, last) = (limit("first")?, limit("last")?);
    let wants_nodes = selects(&field.steps, "nodes");
    if wants_nodes && first.is_none() && last.is_none() {
        return Err(FieldError::new(
            "You must provide a `first` or `last` value to properly paginate the `labels` connection.",
        ));
    }
    Ok(Obj::Labels {
        number,
        first,
        last,
    })
}

/// Whether `steps` select field `name` (directly or in a fragment).
fn selects(steps: &[Step], name: &str) -> bool {
    steps.iter().any(|step| match step {
        Step::Field(field) => field.name == name,
        Step::On { steps, .. } => selects(steps, name),
    })
}
