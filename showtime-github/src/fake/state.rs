//! The fake's model of one repository: issues and pull requests, label
//! definitions, comments, collaborators, rate-limit budgets, injected faults
//! and the request log. Everything lives behind one mutex owned by the
//! handle and the server.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::util::{epoch_in, fake_sha, now, stable_id};
use super::{FakeState, Fault, FaultAction, LoggedRequest};

/// GitHub's limit on label names, in Unicode scalar values.
pub(super) const LABEL_NAME_MAX: usize = 50;
/// GitHub's limit on label descriptions, in Unicode scalar values.
pub(super) const LABEL_DESCRIPTION_MAX: usize = 100;
/// The colour GitHub gives labels created implicitly by adding them.
pub(super) const DEFAULT_LABEL_COLOR: &str = "ededed";
/// The login API clients act as unless the test says otherwise.
pub(super) const DEFAULT_VIEWER: &str = "showtime[bot]";
/// The hourly request budget of an authenticated user.
pub(super) const RATE_LIMIT: u64 = 5000;

/// Whether two label names are the same label on GitHub.
pub(super) fn same_name(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// Whether GitHub accepts `name` as a label name: not blank, at most 50
/// Unicode scalar values.
pub(super) fn valid_label_name(name: &str) -> bool {
    !name.trim().is_empty() && name.chars().count() <= LABEL_NAME_MAX
}

/// Whether `color` is six hexadecimal digits (no `#`), as GitHub requires.
pub(super) fn valid_color(color: &str) -> bool {
    color.len() == 6 && color.bytes().all(|b| b.is_ascii_hexdigit())
}

// ----- GraphQL node ids ----------------------------------------------------
//
// Opaque to clients, stable for the life of the object: a label keeps its id
// when renamed, and a definition deleted and created again gets a new one.

/// The node id of label definition `id`.
pub(super) fn label_node_id(id: u64) -> String {
    format!("LA_fake{id}")
}

/// The node id of an issue or pull request.
pub(super) fn issue_node_id(issue: &Issue) -> String {
    let prefix = if issue.pr.is_some() { "PR" } else { "I" };
    format!("{prefix}_fake{}", issue.number)
}

/// The node id of repository `owner/name`.
pub(super) fn repository_node_id(owner: &str, name: &str) -> String {
    format!("R_fake{}", stable_id(&format!("{owner}/{name}")))
}

/// What a node id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Node {
    /// The fake's repository.
    Repository,
    /// A label definition, by its numeric id.
    Label(u64),
    /// An issue or pull request, by number.
    Issue(u64),
}

/// The digits after `prefix`, as a number (no sign, no spaces).
fn numbered(id: &str, prefix: &str) -> Option<u64> {
    let digits = id.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A repository label definition.
#[derive(Debug, Clone)]
pub(super) struct LabelDef {
    pub(super) id: u64,
    pub(super) name: String,
    pub(super) color: String,
    pub(super) description: Option<String>,
}

/// What a pull request has on top of an issue.
#[derive(Debug, Clone)]
pub(super) struct PrData {
    pub(super) head_sha: String,
    pub(super) head_ref: String,
    pub(super) base_ref: String,
    pub(super) base_sha: String,
    pub(super) head_repo: Option<String>,
    pub(super) merged_at: Option<DateTime<Utc>>,
    pub(super) draft: bool,
}

/// An issue or (with `pr`) a pull request; they share one number space.
#[derive(Debug, Clone)]
pub(super) struct Issue {
    pub(super) number: u64,
    pub(super) title: String,
    pub(super) body: Option<String>,
    pub(super) author: String,
    pub(super) state: FakeState,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) closed_at: Option<DateTime<Utc>>,
    /// Label definition ids, in the order they were attached.
    pub(super) labels: Vec<u64>,
    pub(super) pr: Option<PrData>,
}

impl Issue {
    pub(super) fn is_open(&self) -> bool {
        self.state == FakeState::Open
    }
}

/// An issue comment.
#[derive(Debug, Clone)]
pub(super) struct CommentRec {
    pub(super) id: u64,
    pub(super) issue: u64,
    pub(super) author: String,
    pub(super) body: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

/// Which rate-limit budget a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resource {
    Core,
    Graphql,
}

impl Resource {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Resource::Core => "core",
            Resource::Graphql => "graphql",
        }
    }
}

/// One rate-limit budget.
#[derive(Debug, Clone)]
pub(super) struct Budget {
    pub(super) limit: u64,
    pub(super) remaining: u64,
    pub(super) reset: i64,
}

impl Budget {
    fn new() -> Self {
        Self {
            limit: RATE_LIMIT,
            remaining: RATE_LIMIT,
            reset: epoch_in(3600),
        }
    }

    pub(super) fn used(&self) -> u64 {
        self.limit.saturating_sub(self.remaining)
    }
}

/// Which GraphQL mutation fields the fake pretends not to have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Serve them all.
    None,
    /// Refuse every mutation field.
    All,
    /// Refuse these fields (by name).
    Only(Vec<String>),
}

/// Everything the fake knows.
#[derive(Debug)]
pub(super) struct State {
    pub(super) owner: String,
    pub(super) repo: String,
    pub(super) issues: BTreeMap<u64, Issue>,
    /// Label definitions in creation order.
    pub(super) labels: Vec<LabelDef>,
    /// Comments of all issues in creation order.
    pub(super) comments: Vec<CommentRec>,
    /// Lower-cased login → (login as given, role).
    pub(super) permissions: BTreeMap<String, (String, String)>,
    pub(super) log: Vec<LoggedRequest>,
    pub(super) faults: Vec<Fault>,
    pub(super) core: Budget,
    pub(super) graphql: Budget,
    pub(super) required_token: Option<String>,
    pub(super) minted_tokens: Vec<String>,
    /// The login the API client acts as (author of comments it posts).
    pub(super) viewer: String,
    /// GraphQL mutation fields answered as unknown (an older GitHub
    /// Enterprise Server); see [`State::refuses_mutation`].
    pub(super) refused_mutations: Refusal,
    /// GitHub's OAuth web flow (see [`super::oauth`]).
    pub(super) oauth: super::oauth::OAuth,
    /// Deployments in creation order (see [`super::deployments`]).
    pub(super) deployments: Vec<super::deployments::DeploymentRec>,
    /// Organization teams and their members (see [`super::teams`]).
    pub(super) teams: super::teams::Teams,
    next_label_id: u64,
    next_comment_id: u64,
    next_deployment_id: u64,
    next_deployment_status_id: u64,
}

impl State {
    pub(super) fn new(owner: &str, repo: &str) -> Self {
        Self {
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            issues: BTreeMap::new(),
            labels: Vec::new(),
            comments: Vec::new(),
            permissions: BTreeMap::new(),
            log: Vec::new(),
            faults: Vec::new(),
            core: Budget::new(),
            graphql: Budget::new(),
            required_token: None,
            minted_tokens: Vec::new(),
            viewer: DEFAULT_VIEWER.to_owned(),
            refused_mutations: Refusal::None,
            oauth: super::oauth::OAuth::default(),
            deployments: Vec::new(),
            teams: super::teams::Teams::default(),
            next_label_id: 4_000_001,
            next_comment_id: 9_000_001,
            next_deployment_id: 7_000_001,
            next_deployment_status_id: 8_000_001,
        }
    }

    pub(super) fn budget(&self, resource: Resource) -> &Budget {
        match resource {
            Resource::Core => &self.core,
            Resource::Graphql => &self.graphql,
        }
    }

    pub(super) fn budget_mut(&mut self, resource: Resource) -> &mut Budget {
        match resource {
            Resource::Core => &mut self.core,
            Resource::Graphql => &mut self.graphql,
        }
    }

    /// Whether GraphQL mutation field `field` is refused.
    pub(super) fn refuses_mutation(&self, field: &str) -> bool {
        match &self.refused_mutations {
            Refusal::None => false,
            Refusal::All => true,
            Refusal::Only(fields) => fields.iter().any(|refused| refused == field),
        }
    }

    /// The node id of the fake's repository.
    pub(super) fn repository_node_id(&self) -> String {
        repository_node_id(&self.owner, &self.repo)
    }

    /// What node id `id` names, if anything does now.
    pub(super) fn node(&self, id: &str) -> Option<Node> {
        if id == self.repository_node_id() {
            return Some(Node::Repository);
        }
        if let Some(label) = numbered(id, "LA_fake") {
            return self.label_by_id(label).map(|def| Node::Label(def.id));
        }
        let (number, is_pr) = match numbered(id, "PR_fake") {
            Some(number) => (number, true),
            None => (numbered(id, "I_fake")?, false),
        };
        let issue = self.issues.get(&number)?;
        (issue.pr.is_some() == is_pr).then_some(Node::Issue(number))
    }

    /// A fresh deployment id.
    pub(super) fn next_deployment_id(&mut self) -> u64 {
        self.next_deployment_id += 1;
        self.next_deployment_id - 1
    }

    /// A fresh deployment status id.
    pub(super) fn next_deployment_status_id(&mut self) -> u64 {
        self.next_deployment_status_id += 1;
        self.next_deployment_status_id - 1
    }

    // ----- issues and pull requests -------------------------------------

    /// Inserts an issue or PR; `false` when the number is taken.
    pub(super) fn insert_issue(&mut self, issue: Issue, labels: &[String]) -> bool {
        let number = issue.number;
        if self.issues.contains_key(&number) {
            return false;
        }
        self.issues.insert(number, issue);
        self.attach(number, labels);
        true
    }

    /// Moves an issue or PR to `state`, keeping the timestamps coherent.
    pub(super) fn set_state(&mut self, number: u64, state: FakeState) -> bool {
        let at = now();
        let Some(issue) = self.issues.get_mut(&number) else {
            return false;
        };
        issue.state = state;
        issue.updated_at = at;
        issue.closed_at = match state {
            FakeState::Open => None,
            FakeState::Closed | FakeState::Merged => Some(issue.closed_at.unwrap_or(at)),
        };
        if let Some(pr) = issue.pr.as_mut() {
            pr.merged_at = match state {
                FakeState::Merged => Some(pr.merged_at.unwrap_or(at)),
                FakeState::Open | FakeState::Closed => None,
            };
        }
        true
    }

    fn touch(&mut self, number: u64) {
        if let Some(issue) = self.issues.get_mut(&number) {
            issue.updated_at = now();
        }
    }

    // ----- label definitions --------------------------------------------

    pub(super) fn label_index(&self, name: &str) -> Option<usize> {
        self.labels
            .iter()
            .position(|def| same_name(&def.name, name))
    }

    pub(super) fn label_by_id(&self, id: u64) -> Option<&LabelDef> {
        self.labels.iter().find(|def| def.id == id)
    }

    /// Creates a definition (the caller checked that the name is free).
    pub(super) fn create_label(
        &mut self,
        name: &str,
        color: &str,
        description: Option<&str>,
    ) -> u64 {
        let id = self.next_label_id;
        self.next_label_id += 1;
        self.labels.push(LabelDef {
            id,
            name: name.to_owned(),
            color: color.to_ascii_lowercase(),
            description: description.map(str::to_owned),
        });
        id
    }

    /// The id of the definition named `name`, creating it as GitHub does
    /// when a label is added to an issue without a definition.
    pub(super) fn ensure_label(&mut self, name: &str) -> u64 {
        match self.label_index(name).and_then(|i| self.labels.get(i)) {
            Some(def) => def.id,
            None => self.create_label(name, DEFAULT_LABEL_COLOR, None),
        }
    }

    /// Creates or updates (colour, description) the definition of `name`.
    pub(super) fn define_label(&mut self, name: &str, color: &str, description: Option<&str>) {
        match self.label_index(name).and_then(|i| self.labels.get_mut(i)) {
            Some(def) => {
                def.color = color.to_ascii_lowercase();
                def.description = description.map(str::to_owned);
            }
            None => {
                self.create_label(name, color, description);
            }
        }
    }

    /// Deletes the definition of `name` and detaches it from every issue and
    /// pull request; `false` when there is no such definition.
    pub(super) fn delete_label(&mut self, name: &str) -> bool {
        let Some(index) = self.label_index(name) else {
            return false;
        };
        let def = self.labels.remove(index);
        let at = now();
        for issue in self.issues.values_mut() {
            let before = issue.labels.len();
            issue.labels.retain(|&id| id != def.id);
            if issue.labels.len() != before {
                issue.updated_at = at;
            }
        }
        true
    }

    // ----- labels on issues ---------------------------------------------

    /// The definitions attached to issue `number`, in attachment order.
    pub(super) fn issue_labels(&self, number: u64) -> Vec<&LabelDef> {
        self.issues
            .get(&number)
            .map(|issue| {
                issue
                    .labels
                    .iter()
                    .filter_map(|&id| self.label_by_id(id))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(super) fn issue_label_names(&self, number: u64) -> Vec<String> {
        self.issue_labels(number)
            .into_iter()
            .map(|def| def.name.clone())
            .collect()
    }

    /// Adds labels to an issue (never removing any); `false` when there is
    /// no such issue.
    pub(super) fn attach(&mut self, number: u64, names: &[String]) -> bool {
        if !self.issues.contains_key(&number) {
            return false;
        }
        let ids: Vec<u64> = names.iter().map(|name| self.ensure_label(name)).collect();
        self.attach_ids(number, &ids);
        true
    }

    /// Attaches existing definitions by id, skipping those already there.
    pub(super) fn attach_ids(&mut self, number: u64, ids: &[u64]) {
        let mut changed = false;
        if let Some(issue) = self.issues.get_mut(&number) {
            for &id in ids {
                if !issue.labels.contains(&id) {
                    issue.labels.push(id);
                    changed = true;
                }
            }
        }
        if changed {
            self.touch(number);
        }
    }

    /// Detaches definitions by id; those not attached are skipped.
    pub(super) fn detach_ids(&mut self, number: u64, ids: &[u64]) {
        let Some(issue) = self.issues.get_mut(&number) else {
            return;
        };
        let before = issue.labels.len();
        issue.labels.retain(|attached| !ids.contains(attached));
        if issue.labels.len() != before {
            issue.updated_at = now();
        }
    }

    /// Replaces all labels of an issue; `false` when there is no such issue.
    pub(super) fn replace_labels(&mut self, number: u64, names: &[String]) -> bool {
        if !self.issues.contains_key(&number) {
            return false;
        }
        let mut ids: Vec<u64> = Vec::new();
        for name in names {
            let id = self.ensure_label(name);
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if let Some(issue) = self.issues.get_mut(&number) {
            issue.labels = ids;
        }
        self.touch(number);
        true
    }

    /// Removes one label from an issue: `None` when there is no such issue,
    /// `Some(false)` when the issue does not carry it.
    pub(super) fn detach(&mut self, number: u64, name: &str) -> Option<bool> {
        let id = self
            .label_index(name)
            .and_then(|i| self.labels.get(i))
            .map(|def| def.id);
        let issue = self.issues.get(&number)?;
        let Some(id) = id.filter(|id| issue.labels.contains(id)) else {
            return Some(false);
        };
        self.detach_ids(number, &[id]);
        Some(true)
    }

    /// The issues and pull requests (any state) carrying label `id`.
    pub(super) fn carrying(&self, id: u64) -> impl Iterator<Item = &Issue> {
        self.issues
            .values()
            .filter(move |issue| issue.labels.contains(&id))
    }

    // ----- comments -------------------------------------------------------

    /// Adds a comment; `None` when there is no such issue.
    pub(super) fn add_comment(&mut self, number: u64, author: &str, body: &str) -> Option<u64> {
        if !self.issues.contains_key(&number) {
            return None;
        }
        let id = self.next_comment_id;
        self.next_comment_id += 1;
        let at = now();
        self.comments.push(CommentRec {
            id,
            issue: number,
            author: author.to_owned(),
            body: body.to_owned(),
            created_at: at,
            updated_at: at,
        });
        self.touch(number);
        Some(id)
    }

    pub(super) fn comment_count(&self, number: u64) -> usize {
        self.comments.iter().filter(|c| c.issue == number).count()
    }

    // ----- collaborators --------------------------------------------------

    pub(super) fn role_of(&self, login: &str) -> Option<&(String, String)> {
        self.permissions.get(&login.to_lowercase())
    }

    // ----- auth, tokens, faults -------------------------------------------

    /// Whether `authorization` passes `require_token` (tokens minted for
    /// GitHub App installations always pass).
    pub(super) fn authorized(&self, authorization: Option<&str>) -> bool {
        let Some(required) = self.required_token.as_deref() else {
            return true;
        };
        let Some(token) = authorization.and_then(bearer_token) else {
            return false;
        };
        token == required || self.minted_tokens.iter().any(|minted| minted == token)
    }

    /// Mints an installation access token.
    pub(super) fn mint_token(&mut self) -> String {
        let token = format!("ghs_fake{:0>32}", self.minted_tokens.len() + 1);
        self.minted_tokens.push(token.clone());
        token
    }

    /// Takes one use of the first fault matching the request, if any.
    pub(super) fn take_fault(&mut self, method: &str, target: &str) -> Option<FaultAction> {
        let index = self
            .faults
            .iter()
            .position(|fault| fault.matches(method, target))?;
        let fault = self.faults.get_mut(index)?;
        fault.times = fault.times.saturating_sub(1);
        let action = fault.action.clone();
        if fault.times == 0 {
            self.faults.remove(index);
        }
        Some(action)
    }
}

/// The credential of an `Authorization: token X` or `Bearer X` header.
pub(super) fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    let known = scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer");
    (known && !token.is_empty()).then_some(token)
}

/// A default head SHA for PR `number`.
pub(super) fn default_head_sha(number: u64) -> String {
    fake_sha(&format!("head-{number}"))
}
