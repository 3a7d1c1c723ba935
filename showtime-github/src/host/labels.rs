//! Label transitions and label-definition clean-up with the fewest requests.
//!
//! A transition (labels to remove, labels to add) is one GraphQL document,
//! `removeLabelsFromLabelable` then `addLabelsToLabelable`, when the node ids
//! of the PR and of every label are known from earlier reads. A label to add
//! whose definition id is not known goes by REST `POST …/issues/{n}/labels`
//! with the other additions (GitHub defines missing labels there), before
//! the removals; that is fewer requests than defining it with `createLabel`
//! first, whose id a second document would then have to add. When ids are
//! missing, the cheapest of three ways is taken: REST alone (one `POST`, one
//! `DELETE` per removal), the document with what is known, or one GraphQL
//! look-up of the missing ids first. A server that does not know the
//! mutations (an older GitHub Enterprise Server) gets REST, and is not asked
//! again in this process. Nothing ever replaces the set of labels (`PUT`),
//! so a label a person adds meanwhile survives.
//!
//! Clean-up asks for the attachment counts of up to
//! [`LABELS_PER_QUERY`](super::graphql::LABELS_PER_QUERY) definitions in one
//! query. This module decides how to send; it must not read REST models
//! other than through `wire`, nor retry.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use showtime_core::PrNumber;
use showtime_core::ports::PortError;

use super::graphql::{self, ADD, Ask, FoundLabel, LABELS_PER_QUERY, LabelLookup, REMOVE};
use super::transport::Method;
use super::{GitHubHost, segment, wire};

/// How a transition is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// `POST` the additions, `DELETE` each removal.
    Rest,
    /// The GraphQL document with the ids known, REST for the rest.
    Direct,
    /// Look the missing ids up first, then [`Way::Direct`].
    LookUp,
}

/// What is known before a transition, in counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Known {
    /// Whether the PR's node id is known.
    pull: bool,
    /// Labels to add, and how many of them have no known id.
    adds: usize,
    adds_unknown: usize,
    /// Labels to remove, and how many of them have no known id.
    removes: usize,
    removes_unknown: usize,
}

impl Known {
    /// Requests of each way; the fewest wins, [`Way::Direct`] then
    /// [`Way::Rest`] on a tie.
    fn cheapest(self) -> Way {
        let count = |b: bool| usize::from(b);
        let rest = count(self.adds > 0) + self.removes;
        let direct = self.pull.then(|| {
            let post = self.adds_unknown > 0;
            let removes_known = self.removes - self.removes_unknown;
            let mutation = removes_known > 0 || (self.adds > 0 && !post);
            count(mutation) + count(post) + self.removes_unknown
        });
        // After a look-up every defined label's id is known; assume the
        // additions without one are not defined yet and go by `POST`.
        let unknown = self.adds_unknown + self.removes_unknown;
        let lookups = unknown.div_ceil(LABELS_PER_QUERY).max(1);
        let post = self.adds_unknown > 0;
        let mutation = self.removes > 0 || (self.adds > 0 && !post);
        let lookup = lookups + count(mutation) + count(post);
        match direct {
            Some(direct) if direct <= rest && direct <= lookup => Way::Direct,
            _ if rest <= lookup => Way::Rest,
            _ => Way::LookUp,
        }
    }
}

/// `names` without repeats (case-insensitively), first spelling kept.
fn unique<'a>(names: impl IntoIterator<Item = &'a String>) -> Vec<&'a str> {
    let mut seen = BTreeSet::new();
    names
        .into_iter()
        .filter(|name| seen.insert(name.to_lowercase()))
        .map(String::as_str)
        .collect()
}

impl GitHubHost {
    /// See [`PrHost::change_labels`](showtime_core::ports::PrHost::change_labels).
    pub(super) async fn transition(
        &self,
        pr: PrNumber,
        add: &[String],
        remove: &[String],
    ) -> Result<(), PortError> {
        let add = unique(add);
        let adding: BTreeSet<String> = add.iter().map(|a| a.to_lowercase()).collect();
        let remove: Vec<&str> = unique(remove)
            .into_iter()
            .filter(|r| !adding.contains(&r.to_lowercase()))
            .collect();
        if add.is_empty() && remove.is_empty() {
            return Ok(());
        }
        if self.mutations_refused.load(Ordering::Relaxed) {
            return self.by_rest(pr, &add, &remove).await;
        }
        let unknown = |names: &[&str]| {
            names
                .iter()
                .filter(|name| self.ids.label(name).is_none())
                .count()
        };
        let known = Known {
            pull: self.ids.pull(pr).is_some(),
            adds: add.len(),
            adds_unknown: unknown(&add),
            removes: remove.len(),
            removes_unknown: unknown(&remove),
        };
        match known.cheapest() {
            Way::Rest => self.by_rest(pr, &add, &remove).await,
            Way::Direct => self.direct(pr, &add, &remove, false).await,
            Way::LookUp => {
                let missing: Vec<&str> = add
                    .iter()
                    .chain(&remove)
                    .copied()
                    .filter(|name| self.ids.label(name).is_none())
                    .collect();
                self.look_up(pr, &missing).await?;
                self.direct(pr, &add, &remove, true).await
            }
        }
    }

    /// The REST way: one `POST` of the additions, then one `DELETE` per
    /// removal.
    async fn by_rest(&self, pr: PrNumber, add: &[&str], remove: &[&str]) -> Result<(), PortError> {
        self.post_labels(pr, add).await?;
        for label in remove {
            self.delete_from(pr, label).await?;
        }
        Ok(())
    }

    /// The GraphQL document with the ids known; additions without a known
    /// id go by `POST` first (with the other additions), removals without
    /// one by `DELETE` after (or not at all after a look-up: such a label
    /// is not defined, so no PR carries it).
    async fn direct(
        &self,
        pr: PrNumber,
        add: &[&str],
        remove: &[&str],
        looked_up: bool,
    ) -> Result<(), PortError> {
        let Some(pull) = self.ids.pull(pr) else {
            return self.by_rest(pr, add, remove).await;
        };
        let mut mutation_adds = Vec::new();
        if add.iter().all(|name| self.ids.label(name).is_some()) {
            mutation_adds = add.to_vec();
        } else {
            self.post_labels(pr, add).await?;
        }
        let (mutation_removes, rest_removes): (Vec<&str>, Vec<&str>) = remove
            .iter()
            .copied()
            .partition(|name| self.ids.label(name).is_some());
        self.mutate(pr, &pull, &mutation_adds, &mutation_removes)
            .await?;
        if looked_up {
            return Ok(());
        }
        self.by_rest(pr, &[], &rest_removes).await
    }

    /// Sends one transition document for labels whose ids are known. What
    /// the server refuses (unknown mutations, ids it no longer resolves) is
    /// sent again by REST.
    async fn mutate(
        &self,
        pr: PrNumber,
        pull: &str,
        add: &[&str],
        remove: &[&str],
    ) -> Result<(), PortError> {
        let ids = |names: &[&str]| -> Vec<String> {
            names.iter().filter_map(|n| self.ids.label(n)).collect()
        };
        let (add_ids, remove_ids) = (ids(add), ids(remove));
        if add_ids.is_empty() && remove_ids.is_empty() {
            return Ok(());
        }
        let reply = match self
            .transport
            .graphql(&graphql::transition(pull, &remove_ids, &add_ids))
            .await
        {
            // No GraphQL endpoint at all: REST from now on.
            Err(PortError::NotFound { .. }) => {
                self.mutations_refused.store(true, Ordering::Relaxed);
                return self.by_rest(pr, add, remove).await;
            }
            other => other?,
        };
        let (answer, _) = reply.read(Method::Post, "/graphql", wire::graphql)?;
        if answer.errors.is_empty() {
            return Ok(());
        }
        if answer.errors.iter().any(|e| e.is_unknown_mutation()) {
            self.mutations_refused.store(true, Ordering::Relaxed);
            return self.by_rest(pr, add, remove).await;
        }
        let unanswered = |field: &str| answer.data.get(field).is_some_and(|v| v.is_null());
        let (mut add_failed, mut remove_failed) = (unanswered(ADD), unanswered(REMOVE));
        for error in &answer.errors {
            let Some(id) = error.unresolved_id() else {
                return Err(PortError::permanent(format!(
                    "GraphQL label transition on PR #{pr} failed: {}",
                    answer.describe()
                )));
            };
            self.ids.forget_id(id);
            add_failed |= error.field.as_deref() == Some(ADD);
            remove_failed |= error.field.as_deref() == Some(REMOVE);
        }
        // What did not run, again by REST (it finds a missing PR too).
        let again = |failed: bool, names| if failed { names } else { &[][..] };
        self.by_rest(pr, again(add_failed, add), again(remove_failed, remove))
            .await
    }

    /// Looks up, in as few queries as possible, the node ids of PR `pr`
    /// (when not known) and of the definitions `names`.
    async fn look_up(&self, pr: PrNumber, names: &[&str]) -> Result<(), PortError> {
        let mut want_pull = self.ids.pull(pr).is_none();
        let mut chunks: Vec<&[&str]> = names.chunks(LABELS_PER_QUERY).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        for chunk in chunks {
            let number = want_pull.then_some(pr.get());
            let lookup = self.query_labels(number, chunk, Ask::Id).await?;
            if want_pull {
                match lookup.pull {
                    Some(id) => self.ids.remember_pull_id(pr, &id),
                    None => {
                        return Err(PortError::NotFound {
                            what: format!("PR #{pr} in {}", self.repository()),
                        });
                    }
                }
                want_pull = false;
            }
        }
        Ok(())
    }

    /// Runs one [`graphql::labels`] query and returns what it answered,
    /// remembering the ids of the definitions found and forgetting those
    /// of names not defined.
    async fn query_labels(
        &self,
        pr: Option<u64>,
        names: &[&str],
        ask: Ask,
    ) -> Result<LabelLookup, PortError> {
        let document = graphql::labels(&self.owner, &self.repo, pr, names, ask);
        let reply = self.transport.graphql(&document).await?;
        let (lookup, _) = reply.read(Method::Post, "/graphql", |body| {
            wire::label_lookup(body, pr.is_some(), names.len())
        })?;
        for (asked, found) in names.iter().zip(&lookup.labels) {
            match found {
                Some(FoundLabel { id, name, .. }) => self.ids.remember_label(name, id),
                None => self.ids.forget_label(asked),
            }
        }
        Ok(lookup)
    }

    /// Attachment counts of the definitions `names`, by name as given:
    /// `None` for a name not defined. One query per
    /// [`LABELS_PER_QUERY`] names.
    pub(super) async fn usage(&self, names: &[&str]) -> Result<Vec<Option<u64>>, PortError> {
        let mut out = Vec::with_capacity(names.len());
        for chunk in names.chunks(LABELS_PER_QUERY) {
            let lookup = self.query_labels(None, chunk, Ask::Usage).await?;
            for found in lookup.labels {
                match found {
                    None => out.push(None),
                    Some(FoundLabel {
                        attached: Some(n), ..
                    }) => out.push(Some(n)),
                    Some(FoundLabel { attached: None, .. }) => {
                        return Err(PortError::permanent(
                            "GraphQL label query answered without attachment counts",
                        ));
                    }
                }
            }
        }
        Ok(out)
    }

    /// `POST …/issues/{n}/labels` (defines missing labels); nothing to add
    /// sends nothing.
    pub(super) async fn post_labels(&self, pr: PrNumber, labels: &[&str]) -> Result<(), PortError> {
        if labels.is_empty() {
            return Ok(());
        }
        let body = serde_json::json!({ "labels": labels });
        let reply = self
            .transport
            .send(
                Method::Post,
                &self.path(&format!("issues/{pr}/labels")),
                Some(&body),
            )
            .await?;
        self.remember_answer_labels(&reply.body);
        Ok(())
    }

    /// `DELETE …/issues/{n}/labels/{name}`; a label not there is removed.
    pub(super) async fn delete_from(&self, pr: PrNumber, label: &str) -> Result<(), PortError> {
        let uri = self.path(&format!("issues/{pr}/labels/{}", segment(label)));
        match self.transport.send(Method::Delete, &uri, None).await {
            Ok(reply) => {
                self.remember_answer_labels(&reply.body);
                Ok(())
            }
            // Not on the issue: already removed.
            Err(PortError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Remembers the label ids of an answer that lists an issue's labels;
    /// an answer of another shape teaches nothing and is no error.
    fn remember_answer_labels(&self, body: &str) {
        if let Ok(labels) = wire::labels(body) {
            self.ids.remember(&labels.ids);
        }
    }

    /// Deletes the definitions `names`: those whose ids are known (a
    /// [`labels_in_use`](showtime_core::ports::PrHost::labels_in_use) look-up
    /// just learnt them) in one GraphQL document per
    /// [`LABELS_PER_QUERY`], the rest, or all on a server that refuses the
    /// mutation, by one REST `DELETE` each.
    pub(super) async fn delete_definitions(&self, names: &[String]) -> Result<(), PortError> {
        let (known, unknown): (Vec<&String>, Vec<&String>) = names
            .iter()
            .partition(|name| self.ids.label(name).is_some());
        let mut by_rest: Vec<&String> = unknown;
        if self.mutations_refused.load(Ordering::Relaxed) {
            by_rest.extend(known);
        } else {
            for chunk in known.chunks(LABELS_PER_QUERY) {
                let ids: Vec<String> = chunk.iter().filter_map(|n| self.ids.label(n)).collect();
                let reply = match self.transport.graphql(&graphql::deletions(&ids)).await {
                    Err(PortError::NotFound { .. }) => None,
                    other => Some(other?.read(Method::Post, "/graphql", wire::graphql)?.0),
                };
                match reply {
                    Some(answer) if answer.errors.is_empty() => {
                        for name in chunk {
                            self.ids.forget_label(name);
                        }
                    }
                    Some(answer) if !answer.errors.iter().any(|e| e.is_unknown_mutation()) => {
                        // An id that no longer resolves (deleted meanwhile):
                        // the rest of the chunk by name.
                        for error in &answer.errors {
                            if error.unresolved_id().is_none() {
                                return Err(PortError::permanent(format!(
                                    "GraphQL label deletion failed: {}",
                                    answer.describe()
                                )));
                            }
                        }
                        by_rest.extend(chunk);
                    }
                    // No GraphQL, or no such mutation: REST from now on.
                    _ => {
                        self.mutations_refused.store(true, Ordering::Relaxed);
                        by_rest.extend(chunk);
                    }
                }
            }
        }
        for name in by_rest {
            self.delete_definition(name).await?;
        }
        Ok(())
    }

    /// `DELETE …/labels/{name}`; a missing definition is `Ok(false)`.
    pub(super) async fn delete_definition(&self, name: &str) -> Result<bool, PortError> {
        let uri = self.path(&format!("labels/{}", segment(name)));
        let deleted = match self.transport.send(Method::Delete, &uri, None).await {
            Ok(_) => true,
            Err(PortError::NotFound { .. }) => false,
            Err(e) => return Err(e),
        };
        self.ids.forget_label(name);
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(pull: bool, adds: (usize, usize), removes: (usize, usize)) -> Known {
        Known {
            pull,
            adds: adds.0,
            adds_unknown: adds.1,
            removes: removes.0,
            removes_unknown: removes.1,
        }
    }

    #[test]
    fn the_cheapest_way_is_taken() {
        // Everything known: one document.
        assert_eq!(known(true, (2, 0), (3, 0)).cheapest(), Way::Direct);
        // A new label and removals: POST + document (2) beats 1 + 3.
        assert_eq!(known(true, (2, 1), (3, 0)).cheapest(), Way::Direct);
        // Only new labels: one POST either way.
        assert_eq!(known(true, (2, 2), (0, 0)).cheapest(), Way::Direct);
        // PR never read, one removal: one DELETE.
        assert_eq!(known(false, (0, 0), (1, 1)).cheapest(), Way::Rest);
        // PR never read, an addition and one removal: REST's 2 ties the rest.
        assert_eq!(known(false, (1, 1), (1, 1)).cheapest(), Way::Rest);
        // PR never read, many removals: look the ids up (1 + 1 + 1 < 1 + 4).
        assert_eq!(known(false, (1, 1), (4, 4)).cheapest(), Way::LookUp);
        assert_eq!(known(false, (0, 0), (3, 3)).cheapest(), Way::LookUp);
    }

    #[test]
    fn repeats_are_dropped_case_insensitively() {
        let names = ["A".to_owned(), "a".to_owned(), "b".to_owned()];
        assert_eq!(unique(&names), ["A", "b"]);
    }
}
