//! JSON renderings of the fake's model, shaped like GitHub's REST payloads
//! (complete enough for octocrab's typed models to deserialize them).

use serde_json::{Value, json};

use super::state::{
    CommentRec, Issue, LabelDef, PrData, State, issue_node_id, label_node_id, repository_node_id,
};
use super::util::{percent_encode, rfc3339, stable_id};

/// Where `html_url`s point; the fake does not serve them.
pub(super) const HTML_BASE: &str = "https://github.com";

/// A user ("simple-user"); logins ending in `[bot]` are bots.
pub(super) fn user(login: &str, api: &str) -> Value {
    let id = stable_id(login);
    let kind = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    let url = format!("{api}/users/{}", percent_encode(login));
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_fake{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": url,
        "html_url": format!("{HTML_BASE}/{}", percent_encode(login)),
        "followers_url": format!("{url}/followers"),
        "following_url": format!("{url}/following{{/other_user}}"),
        "gists_url": format!("{url}/gists{{/gist_id}}"),
        "starred_url": format!("{url}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{url}/subscriptions"),
        "organizations_url": format!("{url}/orgs"),
        "repos_url": format!("{url}/repos"),
        "events_url": format!("{url}/events{{/privacy}}"),
        "received_events_url": format!("{url}/received_events"),
        "type": kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

/// A repository ("minimal-repository" subset).
pub(super) fn repository(owner: &str, name: &str, fork: bool, api: &str) -> Value {
    let full_name = format!("{owner}/{name}");
    let id = stable_id(&full_name);
    json!({
        "id": id,
        "node_id": repository_node_id(owner, name),
        "name": name,
        "full_name": full_name,
        "private": false,
        "owner": user(owner, api),
        "html_url": format!("{HTML_BASE}/{full_name}"),
        "description": null,
        "fork": fork,
        "url": format!("{api}/repos/{full_name}"),
        "default_branch": "main",
    })
}

/// A label.
pub(super) fn label(state: &State, def: &LabelDef, api: &str) -> Value {
    json!({
        "id": def.id,
        "node_id": label_node_id(def.id),
        "url": format!(
            "{api}/repos/{}/{}/labels/{}",
            state.owner,
            state.repo,
            percent_encode(&def.name)
        ),
        "name": def.name,
        "color": def.color,
        "description": def.description,
        "default": false,
    })
}

/// The labels of issue `number`.
pub(super) fn issue_labels(state: &State, number: u64, api: &str) -> Vec<Value> {
    state
        .issue_labels(number)
        .into_iter()
        .map(|def| label(state, def, api))
        .collect()
}

/// GitHub's `author_association` of `login` in the repository.
fn author_association(state: &State, login: &str) -> &'static str {
    if login.eq_ignore_ascii_case(&state.owner) {
        "OWNER"
    } else if state.role_of(login).is_some_and(|(_, role)| role != "none") {
        "COLLABORATOR"
    } else {
        "NONE"
    }
}

fn ts(at: Option<&chrono::DateTime<chrono::Utc>>) -> Value {
    at.map_or(Value::Null, |at| Value::String(rfc3339(at)))
}

fn state_str(issue: &Issue) -> &'static str {
    if issue.is_open() { "open" } else { "closed" }
}

/// A pull request: the "pull-request-simple" shape of listings, or with
/// `full` the "pull-request" shape of `GET /pulls/{n}` (which alone has
/// `merged`, `mergeable`, `comments`, ...).
pub(super) fn pull(state: &State, issue: &Issue, pr: &PrData, api: &str, full: bool) -> Value {
    let (owner, name) = (&state.owner, &state.repo);
    let n = issue.number;
    let repo_api = format!("{api}/repos/{owner}/{name}");
    let html = format!("{HTML_BASE}/{owner}/{name}/pull/{n}");
    let (head_owner, head_name, fork) =
        match pr.head_repo.as_deref().and_then(|r| r.split_once('/')) {
            Some((o, r)) => (o.to_owned(), r.to_owned(), true),
            None => (owner.clone(), name.clone(), false),
        };
    let merged = pr.merged_at.is_some();
    let mut value = json!({
        "url": format!("{repo_api}/pulls/{n}"),
        "id": 1_000_000_000u64 + n,
        "node_id": issue_node_id(issue),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": format!("{repo_api}/issues/{n}"),
        "commits_url": format!("{repo_api}/pulls/{n}/commits"),
        "review_comments_url": format!("{repo_api}/pulls/{n}/comments"),
        "review_comment_url": format!("{repo_api}/pulls/comments{{/number}}"),
        "comments_url": format!("{repo_api}/issues/{n}/comments"),
        "statuses_url": format!("{repo_api}/statuses/{}", pr.head_sha),
        "number": n,
        "state": state_str(issue),
        "locked": false,
        "title": issue.title,
        "user": user(&issue.author, api),
        "body": issue.body,
        "labels": issue_labels(state, n, api),
        "milestone": null,
        "active_lock_reason": null,
        "created_at": rfc3339(&issue.created_at),
        "updated_at": rfc3339(&issue.updated_at),
        "closed_at": ts(issue.closed_at.as_ref()),
        "merged_at": ts(pr.merged_at.as_ref()),
        "merge_commit_sha": if merged { Value::String(super::util::fake_sha(&format!("merge-{n}"))) } else { Value::Null },
        "assignee": null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": {
            "label": format!("{head_owner}:{}", pr.head_ref),
            "ref": pr.head_ref,
            "sha": pr.head_sha,
            "user": user(&head_owner, api),
            "repo": repository(&head_owner, &head_name, fork, api),
        },
        "base": {
            "label": format!("{owner}:{}", pr.base_ref),
            "ref": pr.base_ref,
            "sha": pr.base_sha,
            "user": user(owner, api),
            "repo": repository(owner, name, false, api),
        },
        "author_association": author_association(state, &issue.author),
        "auto_merge": null,
        "draft": pr.draft,
    });
    if let (true, Some(object)) = (full, value.as_object_mut()) {
        object.insert("merged".into(), Value::Bool(merged));
        object.insert("mergeable".into(), Value::Null);
        object.insert("rebaseable".into(), Value::Null);
        object.insert("mergeable_state".into(), Value::String("unknown".into()));
        object.insert(
            "merged_by".into(),
            if merged {
                user(owner, api)
            } else {
                Value::Null
            },
        );
        object.insert("comments".into(), json!(state.comment_count(n)));
        object.insert("review_comments".into(), json!(0));
        object.insert("maintainer_can_modify".into(), Value::Bool(false));
        object.insert("commits".into(), json!(1));
        object.insert("additions".into(), json!(0));
        object.insert("deletions".into(), json!(0));
        object.insert("changed_files".into(), json!(0));
    }
    value
}

/// An issue as `GET /issues/{n}` returns it; pull requests carry a
/// `pull_request` key, plain issues do not.
pub(super) fn issue(state: &State, issue: &Issue, api: &str) -> Value {
    let (owner, name) = (&state.owner, &state.repo);
    let n = issue.number;
    let repo_api = format!("{api}/repos/{owner}/{name}");
    let kind = if issue.pr.is_some() { "pull" } else { "issues" };
    let html = format!("{HTML_BASE}/{owner}/{name}/{kind}/{n}");
    let state_reason = match (&issue.pr, issue.is_open()) {
        (None, false) => Value::String("completed".into()),
        _ => Value::Null,
    };
    let mut value = json!({
        "url": format!("{repo_api}/issues/{n}"),
        "repository_url": repo_api,
        "labels_url": format!("{repo_api}/issues/{n}/labels{{/name}}"),
        "comments_url": format!("{repo_api}/issues/{n}/comments"),
        "events_url": format!("{repo_api}/issues/{n}/events"),
        "html_url": html,
        "id": 2_000_000_000u64 + n,
        "node_id": issue_node_id(issue),
        "number": n,
        "title": issue.title,
        "user": user(&issue.author, api),
        "labels": issue_labels(state, n, api),
        "state": state_str(issue),
        "state_reason": state_reason,
        "locked": false,
        "assignee": null,
        "assignees": [],
        "milestone": null,
        "comments": state.comment_count(n),
        "created_at": rfc3339(&issue.created_at),
        "updated_at": rfc3339(&issue.updated_at),
        "closed_at": ts(issue.closed_at.as_ref()),
        "closed_by": null,
        "author_association": author_association(state, &issue.author),
        "active_lock_reason": null,
        "body": issue.body,
    });
    if let (Some(pr), Some(object)) = (&issue.pr, value.as_object_mut()) {
        object.insert("draft".into(), Value::Bool(pr.draft));
        object.insert(
            "pull_request".into(),
            json!({
                "url": format!("{repo_api}/pulls/{n}"),
                "html_url": html,
                "diff_url": format!("{html}.diff"),
                "patch_url": format!("{html}.patch"),
                "merged_at": ts(pr.merged_at.as_ref()),
            }),
        );
    }
    value
}

/// An issue comment.
pub(super) fn comment(state: &State, comment: &CommentRec, api: &str) -> Value {
    let (owner, name) = (&state.owner, &state.repo);
    let kind = match state.issues.get(&comment.issue) {
        Some(issue) if issue.pr.is_some() => "pull",
        _ => "issues",
    };
    json!({
        "url": format!("{api}/repos/{owner}/{name}/issues/comments/{}", comment.id),
        "html_url": format!(
            "{HTML_BASE}/{owner}/{name}/{kind}/{}#issuecomment-{}",
            comment.issue, comment.id
        ),
        "issue_url": format!("{api}/repos/{owner}/{name}/issues/{}", comment.issue),
        "id": comment.id,
        "node_id": format!("IC_fake{}", comment.id),
        "user": user(&comment.author, api),
        "created_at": rfc3339(&comment.created_at),
        "updated_at": rfc3339(&comment.updated_at),
        "author_association": author_association(state, &comment.author),
        "body": comment.body,
    })
}
