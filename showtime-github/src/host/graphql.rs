//! The GraphQL documents the adapter sends and how their answers read: a
//! label transition (`removeLabelsFromLabelable` then `addLabelsToLabelable`
//! in one document), label look-ups by name in bulk (aliases, at most
//! [`LABELS_PER_QUERY`] a document), and the errors GitHub puts in a `200`
//! answer. It builds and reads JSON (the answers' readers are public through
//! [`wire`](super::wire)): it must not send requests.

use super::wire::WireError;
use serde_json::{Map, Value, json};

/// The most label look-ups one query carries (aliased `label(name:)`
/// fields); 50 keeps a query well inside GitHub's node limits.
pub const LABELS_PER_QUERY: usize = 50;

/// The alias of the removal in a transition document.
pub(super) const REMOVE: &str = "remove";
/// The alias of the addition in a transition document.
pub(super) const ADD: &str = "add";

/// One label transition on the labelable `pr`: removes `remove`, then adds
/// `add` (node ids), in one document. An empty list leaves its field out.
pub(super) fn transition(pr: &str, remove: &[String], add: &[String]) -> Value {
    let mut declared = vec!["$pr: ID!".to_owned()];
    let mut fields = Vec::new();
    let mut variables = Map::new();
    variables.insert("pr".into(), json!(pr));
    let steps = [
        (REMOVE, "removeLabelsFromLabelable", remove),
        (ADD, "addLabelsToLabelable", add),
    ];
    for (alias, mutation, ids) in steps.into_iter().filter(|s| !s.2.is_empty()) {
        declared.push(format!("${alias}: [ID!]!"));
        fields.push(format!(
            "{alias}: {mutation}(input: {{labelableId: $pr, labelIds: ${alias}}}) \
             {{ clientMutationId }}"
        ));
        variables.insert(alias.into(), json!(ids));
    }
    json!({
        "query": format!("mutation Transition({}) {{ {} }}", declared.join(", "), fields.join(" ")),
        "variables": variables,
    })
}

/// Deletes the label definitions `ids` (node ids) in one document, one
/// aliased `deleteLabel` each (`d0`, `d1`, …).
pub(super) fn deletions(ids: &[String]) -> Value {
    let declared: Vec<String> = (0..ids.len()).map(|i| format!("$d{i}: ID!")).collect();
    let fields: Vec<String> = (0..ids.len())
        .map(|i| format!("d{i}: deleteLabel(input: {{id: $d{i}}}) {{ clientMutationId }}"))
        .collect();
    let variables: Map<String, Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (format!("d{i}"), json!(id)))
        .collect();
    json!({
        "query": format!("mutation Delete({}) {{ {} }}", declared.join(", "), fields.join(" ")),
        "variables": variables,
    })
}

/// What a label look-up asks of each definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ask {
    /// Its node id.
    Id,
    /// Its node id and how many issues and pull requests carry it.
    Usage,
}

/// A query for the definitions `names` (at most [`LABELS_PER_QUERY`]),
/// aliased `l0`, `l1`, …, and for the node id of PR `pr` when given.
pub(super) fn labels(owner: &str, repo: &str, pr: Option<u64>, names: &[&str], ask: Ask) -> Value {
    let selection = match ask {
        Ask::Id => "id name",
        Ask::Usage => "id name issues { totalCount } pullRequests { totalCount }",
    };
    let mut declared = vec!["$owner: String!".to_owned(), "$name: String!".to_owned()];
    let mut fields = Vec::new();
    let mut variables = Map::new();
    variables.insert("owner".into(), json!(owner));
    variables.insert("name".into(), json!(repo));
    if let Some(number) = pr {
        declared.push("$number: Int!".to_owned());
        fields.push("pullRequest(number: $number) { id }".to_owned());
        variables.insert("number".into(), json!(number));
    }
    for (i, name) in names.iter().enumerate() {
        declared.push(format!("$l{i}: String!"));
        fields.push(format!("l{i}: label(name: $l{i}) {{ {selection} }}"));
        variables.insert(format!("l{i}"), json!(name));
    }
    json!({
        "query": format!(
            "query Labels({}) {{ repository(owner: $owner, name: $name) {{ {} }} }}",
            declared.join(", "),
            fields.join(" ")
        ),
        "variables": variables,
    })
}

/// One definition as a look-up answered it (`None`: not defined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundLabel {
    /// Its node id.
    pub id: String,
    /// Its name as GitHub spells it.
    pub name: String,
    /// Issues and pull requests carrying it, when asked.
    pub attached: Option<u64>,
}

/// What a label look-up (the query of up to [`LABELS_PER_QUERY`] aliased
/// `label(name:)` fields, `l0`, `l1`, …) answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelLookup {
    /// The PR's node id, when asked and the PR exists.
    pub pull: Option<String>,
    /// Each definition asked, in the order asked: `None` when not defined.
    pub labels: Vec<Option<FoundLabel>>,
}

/// Reads the answer to a label look-up for `names` definitions (at most
/// [`LABELS_PER_QUERY`]), and the PR's id when `pull_asked`. A PR that does
/// not exist is a `NOT_FOUND` error beside the other fields and reads as
/// no id; any other error fails the look-up.
pub fn label_lookup(body: &str, pull_asked: bool, names: usize) -> Result<LabelLookup, WireError> {
    let mut answer = graphql(body)?;
    let repository = field(&mut answer.data, "repository");
    let only_missing_pull = pull_asked
        && repository.is_object()
        && answer
            .errors
            .iter()
            .all(|e| e.kind.as_deref() == Some("NOT_FOUND"));
    if !answer.errors.is_empty() && !only_missing_pull {
        return Err(WireError::Graphql {
            query: "label query",
            reason: answer.describe(),
        });
    }
    let labels = (0..names)
        .map(|i| found_label(&repository, i))
        .collect::<Result<_, _>>()?;
    let pull = match pull_asked {
        true => repository["pullRequest"]["id"].as_str().map(str::to_owned),
        false => None,
    };
    Ok(LabelLookup { pull, labels })
}

/// The `i`-th definition of a [`labels`] answer's `repository`.
fn found_label(repository: &Value, i: usize) -> Result<Option<FoundLabel>, WireError> {
    let label = &repository[format!("l{i}")];
    if label.is_null() {
        return Ok(None);
    }
    let text = |key: &str| label[key].as_str().map(str::to_owned);
    let (Some(id), Some(name)) = (text("id"), text("name")) else {
        return Err(WireError::Graphql {
            query: "label query",
            reason: format!("label l{i} answered without its id or name"),
        });
    };
    let count = |kind: &str| label[kind]["totalCount"].as_u64();
    let attached = match (count("issues"), count("pullRequests")) {
        (Some(issues), Some(pulls)) => Some(issues.saturating_add(pulls)),
        _ => None,
    };
    Ok(Some(FoundLabel { id, name, attached }))
}

/// One entry of a GraphQL answer's `errors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphqlError {
    /// GitHub's `type` (`NOT_FOUND`, `RATE_LIMITED`, …), if any.
    pub kind: Option<String>,
    /// `extensions.code` (`undefinedField`, …), if any.
    pub code: Option<String>,
    /// The first element of `path` that is not `mutation` or `query`: the
    /// alias of the field that failed.
    pub field: Option<String>,
    /// The message.
    pub message: String,
}

impl GraphqlError {
    /// Whether the server does not know a mutation (an older GitHub
    /// Enterprise Server).
    pub fn is_unknown_mutation(&self) -> bool {
        self.code.as_deref() == Some("undefinedField")
            && self.message.contains("on type 'Mutation'")
    }

    /// The node id GitHub could not resolve, for a `NOT_FOUND` error.
    pub fn unresolved_id(&self) -> Option<&str> {
        if self.kind.as_deref() != Some("NOT_FOUND") {
            return None;
        }
        let (_, rest) = self.message.split_once("global id of '")?;
        rest.split_once('\'').map(|(id, _)| id)
    }
}

/// A GraphQL answer: its `data` (`null` when absent) and `errors`.
#[derive(Debug, Clone)]
pub struct GraphqlAnswer {
    /// `data`.
    pub data: Value,
    /// `errors`, in order.
    pub errors: Vec<GraphqlError>,
}

/// Reads a `200` GraphQL answer (a mutation's, or any query's). GitHub's
/// GraphQL rate limit (an error of type `RATE_LIMITED`) is
/// [`WireError::RateLimited`].
pub fn graphql(body: &str) -> Result<GraphqlAnswer, WireError> {
    let mut answer: Value =
        serde_json::from_str(body).map_err(|e| super::wire::shape("a GraphQL answer", &e))?;
    let errors: Vec<GraphqlError> = answer["errors"]
        .as_array()
        .map(|errors| errors.iter().map(graphql_error).collect())
        .unwrap_or_default();
    if errors
        .iter()
        .any(|e| e.kind.as_deref() == Some("RATE_LIMITED"))
    {
        return Err(WireError::RateLimited);
    }
    Ok(GraphqlAnswer {
        data: field(&mut answer, "data"),
        errors,
    })
}

impl GraphqlAnswer {
    /// The errors as one message, for a person.
    pub fn describe(&self) -> String {
        let text = self
            .errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        text.chars().take(300).collect()
    }
}

/// Takes `key` out of `value`: `null` when `value` is not an object or has
/// no such key. (Indexing a `Value` mutably panics on an array or a
/// number, and an answer can be any JSON.)
fn field(value: &mut Value, key: &str) -> Value {
    value
        .as_object_mut()
        .and_then(|object| object.remove(key))
        .unwrap_or(Value::Null)
}

fn graphql_error(error: &Value) -> GraphqlError {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    GraphqlError {
        kind: text(&error["type"]),
        code: text(&error["extensions"]["code"]),
        field: error["path"]
            .as_array()
            .and_then(|path| {
                path.iter()
                    .filter_map(Value::as_str)
                    .find(|step| !matches!(*step, "mutation" | "query"))
            })
            .map(str::to_owned),
        message: text(&error["message"]).unwrap_or_else(|| "no message".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transition_declares_only_what_it_uses() {
        let doc = transition("PR_1", &[], &["LA_2".to_owned()]);
        let query = doc["query"].as_str().unwrap();
        assert!(query.contains("$add: [ID!]!") && !query.contains("$remove"));
        assert!(query.contains("addLabelsToLabelable"));
        assert!(!query.contains("removeLabelsFromLabelable"));
        assert_eq!(doc["variables"]["add"], json!(["LA_2"]));
        let both = transition("PR_1", &["LA_1".to_owned()], &["LA_2".to_owned()]);
        let query = both["query"].as_str().unwrap();
        assert!(
            query.find("removeLabels") < query.find("addLabels"),
            "{query}"
        );
    }

    #[test]
    fn an_answer_of_any_json_shape_reads_or_is_refused_without_a_panic() {
        // Found by the `wire` fuzz target: a JSON array as the answer, or
        // as its `data`, once panicked on a mutable index.
        for body in [
            "[]",
            "[1]",
            "7",
            r#"{"data": [1]}"#,
            r#"{"data": {"repository": 3}}"#,
        ] {
            let _ = graphql(body);
            let lookup = label_lookup(body, true, 1);
            assert!(lookup.is_err() || lookup.is_ok_and(|l| l.labels == [None]));
        }
    }

    #[test]
    fn an_unresolved_id_is_read_from_the_message() {
        let error = graphql_error(&json!({
            "type": "NOT_FOUND",
            "path": ["add"],
            "message": "Could not resolve to a node with the global id of 'LA_9'."
        }));
        assert_eq!(error.unresolved_id(), Some("LA_9"));
        assert_eq!(error.field.as_deref(), Some("add"));
        let refused = graphql_error(&json!({
            "path": ["mutation", "remove"],
            "extensions": { "code": "undefinedField" },
            "message": "Field 'removeLabelsFromLabelable' doesn't exist on type 'Mutation'"
        }));
        assert!(refused.is_unknown_mutation());
        assert_eq!(refused.field.as_deref(), Some("remove"));
    }
}
