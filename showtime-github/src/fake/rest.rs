//! The REST endpoints under `/repos/{owner}/{repo}`: pull requests and
//! issues, labels on them, comments, collaborator permissions and label
//! definitions. Each takes the parsed request and the state and returns a
//! [`Reply`]; the pipeline around them is in [`server`](super::server).

use serde_json::{Map, Value, json};

use super::json;
use super::server::{
    Ctx, Reply, error, invalid_request, not_found, problems_parsing_json, validation_failed,
};
use super::state::{
    DEFAULT_LABEL_COLOR, LABEL_DESCRIPTION_MAX, State, same_name, valid_color, valid_label_name,
};
use super::util::{now, paginate, percent_decode};

/// GitHub's limit on comment bodies.
const COMMENT_MAX: usize = 65_536;

const LABELS_DOCS: &str = "https://docs.github.com/rest/issues/labels";
const PULLS_DOCS: &str = "https://docs.github.com/rest/pulls/pulls";
const COMMENTS_DOCS: &str = "https://docs.github.com/rest/issues/comments";
const COLLABORATORS_DOCS: &str = "https://docs.github.com/rest/collaborators/collaborators#get-repository-permissions-for-a-user";

/// Routes a request under the fake's repository (`rest`: the path
/// segments after `/repos/{owner}/{repo}`).
pub(super) fn repo_route(state: &mut State, ctx: &Ctx<'_>, rest: &[&str]) -> Reply {
    match (ctx.method, rest) {
        ("GET", []) => Reply::json(
            200,
            json::repository(&state.owner, &state.repo, false, &ctx.api),
        ),
        ("GET", ["pulls"]) => list_pulls(state, ctx),
        ("GET", ["pulls", n]) => get_pull(state, ctx, n),
        ("GET", ["issues", "comments", id]) => get_comment(state, ctx, id),
        // octocrab's `update_comment` POSTs; GitHub accepts both.
        ("PATCH" | "POST", ["issues", "comments", id]) => update_comment(state, ctx, id),
        ("DELETE", ["issues", "comments", id]) => delete_comment(state, id),
        ("GET", ["issues", n]) => get_issue(state, ctx, n),
        ("GET", ["issues", n, "labels"]) => list_issue_labels(state, ctx, n),
        ("POST", ["issues", n, "labels"]) => add_labels(state, ctx, n, false),
        ("PUT", ["issues", n, "labels"]) => add_labels(state, ctx, n, true),
        ("DELETE", ["issues", n, "labels"]) => clear_labels(state, n),
        ("DELETE", ["issues", n, "labels", name]) => remove_label(state, ctx, n, name),
        ("GET", ["issues", n, "comments"]) => list_comments(state, ctx, n),
        ("POST", ["issues", n, "comments"]) => create_comment(state, ctx, n),
        ("GET", ["collaborators", login, "permission"]) => permission(state, ctx, login),
        ("GET", ["labels"]) => list_labels(state, ctx),
        ("POST", ["labels"]) => create_label(state, ctx),
        ("GET", ["labels", name]) => get_label(state, ctx, name),
        ("PATCH" | "POST", ["labels", name]) => update_label(state, ctx, name),
        ("DELETE", ["labels", name]) => delete_label(state, name),
        (_, ["deployments", ..]) => super::deployments::route(state, ctx, rest),
        _ => not_found(),
    }
}

// ----- helpers -------------------------------------------------------------------

/// A path segment that is a decimal number.
pub(super) fn number(segment: &str) -> Option<u64> {
    if segment.bytes().all(|b| b.is_ascii_digit()) {
        segment.parse().ok()
    } else {
        None
    }
}

/// A JSON body; an empty body reads as `{}`.
pub(super) fn parse_body(body: &[u8], docs: &str) -> Result<Value, Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(|_| problems_parsing_json(docs))
}

pub(super) fn paged(items: Vec<Value>, ctx: &Ctx<'_>) -> Reply {
    let page = paginate(
        items,
        &ctx.query,
        &format!("{}{}", ctx.server_base, ctx.raw_path),
    );
    let reply = Reply::json(200, Value::Array(page.items));
    match page.link {
        Some(link) => reply.header("link", link),
        None => reply,
    }
}

fn issue_labels_reply(state: &State, ctx: &Ctx<'_>, number: u64) -> Reply {
    Reply::json(
        200,
        Value::Array(json::issue_labels(state, number, &ctx.api)),
    )
}

// ----- pull requests and issues --------------------------------------------------

fn list_pulls(state: &State, ctx: &Ctx<'_>) -> Reply {
    let filter = ctx.query.get("state").unwrap_or_else(|| "open".to_owned());
    if !matches!(filter.as_str(), "open" | "closed" | "all") {
        return validation_failed("PullRequest", "invalid", "state", PULLS_DOCS);
    }
    let items = state
        .issues
        .values()
        .rev()
        .filter(|issue| match filter.as_str() {
            "open" => issue.is_open(),
            "closed" => !issue.is_open(),
            _ => true,
        })
        .filter_map(|issue| {
            let pr = issue.pr.as_ref()?;
            Some(json::pull(state, issue, pr, &ctx.api, false))
        })
        .collect();
    paged(items, ctx)
}

fn get_pull(state: &State, ctx: &Ctx<'_>, n: &str) -> Reply {
    let found = number(n).and_then(|n| state.issues.get(&n));
    match found.and_then(|issue| Some((issue, issue.pr.as_ref()?))) {
        Some((issue, pr)) => Reply::json(200, json::pull(state, issue, pr, &ctx.api, true)),
        None => error(404, "Not Found", PULLS_DOCS),
    }
}

fn get_issue(state: &State, ctx: &Ctx<'_>, n: &str) -> Reply {
    match number(n).and_then(|n| state.issues.get(&n)) {
        Some(issue) => Reply::json(200, json::issue(state, issue, &ctx.api)),
        None => not_found(),
    }
}

// ----- labels on issues -------------------------------------------------------------

fn existing_issue(state: &State, n: &str) -> Option<u64> {
    number(n).filter(|n| state.issues.contains_key(n))
}

fn list_issue_labels(state: &State, ctx: &Ctx<'_>, n: &str) -> Reply {
    let Some(number) = existing_issue(state, n) else {
        return not_found();
    };
    paged(json::issue_labels(state, number, &ctx.api), ctx)
}

/// The label names of an add/replace body: `{"labels": [...]}` or a bare
/// array, items being names or `{"name": ...}` objects.
fn label_names(body: &Value) -> Result<Vec<String>, Reply> {
    let items = match body {
        Value::Array(items) => items,
        Value::Object(object) => match object.get("labels") {
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(invalid_request(
                    &format!("For 'properties/labels', {other} is not an array."),
                    LABELS_DOCS,
                ));
            }
            None => {
                return Err(invalid_request("\"labels\" wasn't supplied.", LABELS_DOCS));
            }
        },
        other => {
            return Err(invalid_request(
                &format!("{other} is not an object or an array."),
                LABELS_DOCS,
            ));
        }
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(name) => Ok(name.clone()),
            Value::Object(object) => match object.get("name") {
                Some(Value::String(name)) => Ok(name.clone()),
                _ => Err(invalid_request(
                    "\"name\" wasn't supplied for a label object.",
                    LABELS_DOCS,
                )),
            },
            other => Err(invalid_request(
                &format!("For 'items', {other} is not a string."),
                LABELS_DOCS,
            )),
        })
        .collect()
}

fn add_labels(state: &mut State, ctx: &Ctx<'_>, n: &str, replace: bool) -> Reply {
    let Some(number) = existing_issue(state, n) else {
        return not_found();
    };
    let names = match parse_body(ctx.body, LABELS_DOCS).and_then(|body| label_names(&body)) {
        Ok(names) => names,
        Err(reply) => return reply,
    };
    if !names.iter().all(|name| valid_label_name(name)) {
        return validation_failed("Label", "invalid", "name", LABELS_DOCS);
    }
    if replace {
        state.replace_labels(number, &names);
    } else {
        state.attach(number, &names);
    }
    issue_labels_reply(state, ctx, number)
}

fn clear_labels(state: &mut State, n: &str) -> Reply {
    let Some(number) = existing_issue(state, n) else {
        return not_found();
    };
    state.replace_labels(number, &[]);
    Reply::empty(204)
}

fn remove_label(state: &mut State, ctx: &Ctx<'_>, n: &str, name: &str) -> Reply {
    let Some(number) = existing_issue(state, n) else {
        return not_found();
    };
    let removed = percent_decode(name, false).and_then(|name| state.detach(number, &name));
    if removed == Some(true) {
        issue_labels_reply(state, ctx, number)
    } else {
        error(404, "Label does not exist", LABELS_DOCS)
    }
}

// ----- comments ----------------------------------------------------------------------

/// The `body` of a comment create/update request.
fn comment_body(ctx: &Ctx<'_>) -> Result<String, Reply> {
    let body = parse_body(ctx.body, COMMENTS_DOCS)?;
    let text = match body.get("body") {
        Some(Value::String(text)) => text.clone(),
        Some(other) => {
            return Err(invalid_request(
                &format!("For 'properties/body', {other} is not a string."),
                COMMENTS_DOCS,
            ));
        }
        None => return Err(invalid_request("\"body\" wasn't supplied.", COMMENTS_DOCS)),
    };
    if text.chars().count() > COMMENT_MAX {
        return Err(Reply::json(
            422,
            json!({
                "message": "Validation Failed",
                "errors": [{
                    "resource": "IssueComment",
                    "code": "unprocessable",
                    "field": "data",
                    "message": "Body is too long (maximum is 65536 characters)",
                }],
                "documentation_url": COMMENTS_DOCS,
                "status": "422",
            }),
        ));
    }
    Ok(text)
}

fn list_comments(state: &State, ctx: &Ctx<'_>, n: &str) -> Reply {
    let Some(number) = existing_issue(state, n) else {
        return not_found();
    };
    let items = state
        .comments
        .iter()
        .filter(|comment| comment.issue == number)
        .map(|comment| json::comment(state, comment, &ctx.api))
        .collect();
    paged(items, ctx)
}

fn create_comment(state: &mut State, ctx: &Ctx<'_>, n: &str) -> Reply {
    let Some(number) = existing_issue(state, n) else {
        return not_found();
    };
    let text = match comment_body(ctx) {
        Ok(text) => text,
        Err(reply) => return reply,
    };
    let viewer = state.viewer.clone();
    let id = state.add_comment(number, &viewer, &text);
    match id.and_then(|id| state.comments.iter().find(|c| c.id == id)) {
        Some(comment) => {
            let location = format!(
                "{}/repos/{}/{}/issues/comments/{}",
                ctx.api, state.owner, state.repo, comment.id
            );
            Reply::json(201, json::comment(state, comment, &ctx.api)).header("location", location)
        }
        None => not_found(),
    }
}

fn comment_index(state: &State, id: &str) -> Option<usize> {
    let id = number(id)?;
    state.comments.iter().position(|comment| comment.id == id)
}

fn get_comment(state: &State, ctx: &Ctx<'_>, id: &str) -> Reply {
    match comment_index(state, id).and_then(|i| state.comments.get(i)) {
        Some(comment) => Reply::json(200, json::comment(state, comment, &ctx.api)),
        None => not_found(),
    }
}

fn update_comment(state: &mut State, ctx: &Ctx<'_>, id: &str) -> Reply {
    let Some(index) = comment_index(state, id) else {
        return not_found();
    };
    let text = match comment_body(ctx) {
        Ok(text) => text,
        Err(reply) => return reply,
    };
    let at = now();
    let Some(comment) = state.comments.get_mut(index) else {
        return not_found();
    };
    comment.body = text;
    comment.updated_at = at;
    match state.comments.get(index) {
        Some(comment) => Reply::json(200, json::comment(state, comment, &ctx.api)),
        None => not_found(),
    }
}

fn delete_comment(state: &mut State, id: &str) -> Reply {
    match comment_index(state, id) {
        Some(index) => {
            state.comments.remove(index);
            Reply::empty(204)
        }
        None => not_found(),
    }
}

// ----- collaborators -------------------------------------------------------------------

/// GitHub's legacy `permission` for a role: maintain reads as write, triage
/// as read.
pub(super) fn legacy_permission(role: &str) -> &'static str {
    match role {
        "admin" => "admin",
        "maintain" | "write" => "write",
        "triage" | "read" => "read",
        _ => "none",
    }
}

fn permission(state: &State, ctx: &Ctx<'_>, login: &str) -> Reply {
    let Some((login, role)) =
        percent_decode(login, false).and_then(|login| state.role_of(&login).cloned())
    else {
        return error(404, "Not Found", COLLABORATORS_DOCS);
    };
    let rank = match role.as_str() {
        "admin" => 5,
        "maintain" => 4,
        "write" => 3,
        "triage" => 2,
        "read" => 1,
        _ => 0,
    };
    let mut user = json::user(&login, &ctx.api);
    if let Some(object) = user.as_object_mut() {
        object.insert(
            "permissions".into(),
            json!({
                "admin": rank >= 5,
                "maintain": rank >= 4,
                "push": rank >= 3,
                "triage": rank >= 2,
                "pull": rank >= 1,
            }),
        );
        object.insert("role_name".into(), Value::String(role.clone()));
    }
    Reply::json(
        200,
        json!({
            "permission": legacy_permission(&role),
            "role_name": role,
            "user": user,
        }),
    )
}

// ----- label definitions ------------------------------------------------------------------

fn list_labels(state: &State, ctx: &Ctx<'_>) -> Reply {
    let items = state
        .labels
        .iter()
        .map(|def| json::label(state, def, &ctx.api))
        .collect();
    paged(items, ctx)
}

fn label_at(state: &State, name: &str) -> Option<usize> {
    percent_decode(name, false).and_then(|name| state.label_index(&name))
}

fn get_label(state: &State, ctx: &Ctx<'_>, name: &str) -> Reply {
    match label_at(state, name).and_then(|i| state.labels.get(i)) {
        Some(def) => Reply::json(200, json::label(state, def, &ctx.api)),
        None => error(404, "Not Found", LABELS_DOCS),
    }
}

/// An optional string field: `Ok(None)` when absent, `Ok(Some(None))` when
/// `null`.
fn optional_string(body: &Value, field: &str) -> Result<Option<Option<String>>, Reply> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(text)) => Ok(Some(Some(text.clone()))),
        Some(other) => Err(invalid_request(
            &format!("For 'properties/{field}', {other} is not a string or null."),
            LABELS_DOCS,
        )),
    }
}

/// Validated fields of a label create/update body.
struct LabelFields {
    name: Option<String>,
    color: Option<String>,
    description: Option<Option<String>>,
}

fn label_fields(ctx: &Ctx<'_>, name_field: &str) -> Result<LabelFields, Reply> {
    let body = parse_body(ctx.body, LABELS_DOCS)?;
    if !body.is_object() {
        return Err(invalid_request(
            &format!("{body} is not an object."),
            LABELS_DOCS,
        ));
    }
    let name = optional_string(&body, name_field)?.flatten();
    let color = optional_string(&body, "color")?.flatten();
    let description = optional_string(&body, "description")?;
    if name.as_deref().is_some_and(|name| !valid_label_name(name)) {
        return Err(validation_failed("Label", "invalid", "name", LABELS_DOCS));
    }
    if color.as_deref().is_some_and(|color| !valid_color(color)) {
        return Err(validation_failed("Label", "invalid", "color", LABELS_DOCS));
    }
    if description
        .as_ref()
        .and_then(Option::as_deref)
        .is_some_and(|text| text.chars().count() > LABEL_DESCRIPTION_MAX)
    {
        return Err(validation_failed(
            "Label",
            "invalid",
            "description",
            LABELS_DOCS,
        ));
    }
    Ok(LabelFields {
        name,
        color,
        description,
    })
}

fn create_label(state: &mut State, ctx: &Ctx<'_>) -> Reply {
    let fields = match label_fields(ctx, "name") {
        Ok(fields) => fields,
        Err(reply) => return reply,
    };
    let Some(name) = fields.name else {
        return validation_failed("Label", "missing_field", "name", LABELS_DOCS);
    };
    if state.label_index(&name).is_some() {
        return validation_failed("Label", "already_exists", "name", LABELS_DOCS);
    }
    let color = fields
        .color
        .unwrap_or_else(|| DEFAULT_LABEL_COLOR.to_owned());
    let id = state.create_label(&name, &color, fields.description.flatten().as_deref());
    match state.label_by_id(id) {
        Some(def) => Reply::json(201, json::label(state, def, &ctx.api)),
        None => not_found(),
    }
}

fn update_label(state: &mut State, ctx: &Ctx<'_>, name: &str) -> Reply {
    let Some(index) = label_at(state, name) else {
        return error(404, "Not Found", LABELS_DOCS);
    };
    let fields = match label_fields(ctx, "new_name") {
        Ok(fields) => fields,
        Err(reply) => return reply,
    };
    if let Some(new_name) = &fields.name {
        let clash = state
            .labels
            .iter()
            .enumerate()
            .any(|(i, def)| i != index && same_name(&def.name, new_name));
        if clash {
            return validation_failed("Label", "already_exists", "name", LABELS_DOCS);
        }
    }
    let Some(def) = state.labels.get_mut(index) else {
        return not_found();
    };
    if let Some(new_name) = fields.name {
        def.name = new_name;
    }
    if let Some(color) = fields.color {
        def.color = color.to_ascii_lowercase();
    }
    if let Some(description) = fields.description {
        def.description = description;
    }
    match state.labels.get(index) {
        Some(def) => Reply::json(200, json::label(state, def, &ctx.api)),
        None => not_found(),
    }
}

fn delete_label(state: &mut State, name: &str) -> Reply {
    let deleted = percent_decode(name, false).is_some_and(|name| state.delete_label(&name));
    if deleted {
        Reply::empty(204)
    } else {
        error(404, "Not Found", LABELS_DOCS)
    }
}
