//! Watching the adapter's traffic: an [`Observer`] is told of every answer
//! GitHub gives (method, the route's template, status and rate-limit
//! budget left), for metrics. It sees no body, header value other than the
//! budget, or query string, so nothing it is handed can carry a token or a
//! PR's text; it must not change or delay a request.

use std::fmt;
use std::sync::Arc;

/// One exchange with GitHub, as an [`Observer`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// `GET`, `POST`, `PATCH` or `DELETE`.
    pub method: &'static str,
    /// The route with its variable parts named, as GitHub's REST reference
    /// writes them: `/repos/:owner/:repo/pulls/:pull_number`,
    /// `/graphql`. Never a raw path, so a metric keyed by it stays small.
    pub endpoint: String,
    /// The HTTP status; `None` when no answer came (a dropped connection or
    /// a timeout).
    pub status: Option<u16>,
    /// `x-ratelimit-remaining`: requests left in the budget the request
    /// spent from.
    pub rate_limit_remaining: Option<u64>,
    /// `x-ratelimit-resource`: which budget that is (`core`, `graphql`).
    pub rate_limit_resource: Option<String>,
}

/// A callback told of every [`Exchange`]; set it with
/// [`GitHubConfig::with_observer`](super::GitHubConfig::with_observer).
///
/// It runs on the request's task, so it must be quick (update a counter).
#[derive(Clone)]
pub struct Observer(Arc<dyn Fn(&Exchange) + Send + Sync>);

impl Observer {
    /// An observer calling `f` for every exchange.
    pub fn new(f: impl Fn(&Exchange) + Send + Sync + 'static) -> Self {
        Observer(Arc::new(f))
    }

    pub(super) fn observe(&self, exchange: &Exchange) {
        (self.0)(exchange);
    }
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Observer(…)")
    }
}

/// Path segments kept as written; every other segment is a parameter.
const LITERALS: &[&str] = &[
    "repos",
    "pulls",
    "issues",
    "comments",
    "labels",
    "collaborators",
    "permission",
    "deployments",
    "statuses",
    "graphql",
    "api",
    "v3",
    "app",
    "installations",
    "access_tokens",
    "rate_limit",
    "user",
    "orgs",
    "teams",
    "memberships",
];

/// The template of `uri` (a path, or an absolute URL as `Link` headers
/// give): scheme, host and query dropped, and each variable segment replaced
/// by `:` and its name in GitHub's reference. Unknown segments become `:param`, so
/// the set of templates stays bounded whatever is requested.
pub fn template(uri: &str) -> String {
    let path = match uri.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => uri,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut out = String::with_capacity(path.len());
    // A GitHub Enterprise Server prefix is part of the root, not the route.
    let start = match segments.as_slice() {
        ["api", "v3", ..] => 2,
        ["api", "graphql"] => 1,
        _ => 0,
    };
    for (i, segment) in segments.iter().enumerate().skip(start) {
        out.push('/');
        let previous = i.checked_sub(1).and_then(|p| segments.get(p)).copied();
        let named = match (previous, *segment) {
            (Some("repos"), _) if i == start + 1 => ":owner",
            (_, _) if i == start + 2 && segments.get(start) == Some(&"repos") => ":repo",
            (_, literal) if LITERALS.contains(&literal) => literal,
            (Some("pulls"), _) => ":pull_number",
            (Some("issues"), _) => ":issue_number",
            (Some("comments"), _) => ":comment_id",
            (Some("labels"), _) => ":name",
            (Some("collaborators"), _) => ":username",
            (Some("deployments"), _) => ":deployment_id",
            (Some("statuses"), _) => ":status_id",
            (Some("installations"), _) => ":installation_id",
            (Some("orgs"), _) => ":org",
            (Some("teams"), _) => ":team_slug",
            (Some("memberships"), _) => ":username",
            _ => ":param",
        };
        out.push_str(named);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_paths_become_the_routes_of_githubs_reference() {
        for (raw, expected) in [
            (
                "/repos/acme/widgets/pulls/42",
                "/repos/:owner/:repo/pulls/:pull_number",
            ),
            (
                "/repos/acme/widgets/pulls?state=open&per_page=100",
                "/repos/:owner/:repo/pulls",
            ),
            (
                "http://127.0.0.1:9/repos/acme/widgets/pulls?page=2",
                "/repos/:owner/:repo/pulls",
            ),
            (
                "/repos/acme/widgets/issues/42/labels/%F0%9F%8E%AA%20x",
                "/repos/:owner/:repo/issues/:issue_number/labels/:name",
            ),
            (
                "/repos/acme/widgets/issues/comments/77",
                "/repos/:owner/:repo/issues/comments/:comment_id",
            ),
            (
                "/repos/acme/widgets/collaborators/maxime/permission",
                "/repos/:owner/:repo/collaborators/:username/permission",
            ),
            (
                "/repos/acme/widgets/deployments/5/statuses",
                "/repos/:owner/:repo/deployments/:deployment_id/statuses",
            ),
            ("/repos/acme/labels/labels", "/repos/:owner/:repo/labels"),
            (
                "/orgs/apache/teams/committers/memberships/bob",
                "/orgs/:org/teams/:team_slug/memberships/:username",
            ),
            ("/graphql", "/graphql"),
            ("https://ghe.example/api/graphql", "/graphql"),
            (
                "https://ghe.example/api/v3/repos/a/b/pulls/1",
                "/repos/:owner/:repo/pulls/:pull_number",
            ),
            (
                "/repos/a/b/secret-stuff/123",
                "/repos/:owner/:repo/:param/:param",
            ),
            ("", "/"),
        ] {
            assert_eq!(template(raw), expected, "{raw}");
        }
    }
}
