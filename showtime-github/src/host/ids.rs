//! The GraphQL node ids this process has seen: of label definitions by name,
//! of pull requests by number. Every read that returns them (a PR, a
//! listing, an added label, a definition) fills them in, so a label
//! transition needs no look-up of its own. It only remembers: it must not
//! send requests.
//!
//! Names are kept lower case, as GitHub matches label names. A definition
//! renamed elsewhere keeps its id; the next read that shows the id under its
//! new name drops the old name, so a stale name is not used for long. An id
//! GitHub no longer resolves is forgotten by the caller that learned so.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use showtime_core::PrNumber;

use super::wire::NodeIds as Seen;

/// Node ids of label definitions and pull requests.
#[derive(Default)]
pub(super) struct NodeIds {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Lower-case label name → node id.
    labels: HashMap<String, String>,
    /// Node id → lower-case label name (to drop a renamed label's old name).
    names: HashMap<String, String>,
    /// PR number → node id.
    pulls: HashMap<PrNumber, String>,
}

impl NodeIds {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The node id of the label definition `name`, if seen.
    pub(super) fn label(&self, name: &str) -> Option<String> {
        self.inner().labels.get(&name.to_lowercase()).cloned()
    }

    /// The node id of PR `pr`, if seen.
    pub(super) fn pull(&self, pr: PrNumber) -> Option<String> {
        self.inner().pulls.get(&pr).cloned()
    }

    /// Remembers that definition `name` has node id `id`.
    pub(super) fn remember_label(&self, name: &str, id: &str) {
        let mut inner = self.inner();
        let key = name.to_lowercase();
        if let Some(old) = inner.names.insert(id.to_owned(), key.clone()) {
            if old != key {
                inner.labels.remove(&old);
            }
        }
        if let Some(previous) = inner.labels.insert(key, id.to_owned()) {
            if previous != id {
                inner.names.remove(&previous);
            }
        }
    }

    /// Remembers the ids an answer carried.
    pub(super) fn remember(&self, seen: &Seen) {
        for (pr, id) in &seen.pulls {
            self.remember_pull_id(*pr, id);
        }
        for (name, id) in &seen.labels {
            self.remember_label(name, id);
        }
    }

    /// Remembers that PR `pr` has node id `id`.
    pub(super) fn remember_pull_id(&self, pr: PrNumber, id: &str) {
        self.inner().pulls.insert(pr, id.to_owned());
    }

    /// Forgets the definition `name` (deleted).
    pub(super) fn forget_label(&self, name: &str) {
        let mut inner = self.inner();
        if let Some(id) = inner.labels.remove(&name.to_lowercase()) {
            inner.names.remove(&id);
        }
    }

    /// Forgets whatever has node id `id` (GitHub no longer resolves it).
    pub(super) fn forget_id(&self, id: &str) {
        let mut inner = self.inner();
        if let Some(name) = inner.names.remove(id) {
            inner.labels.remove(&name);
        }
        inner.pulls.retain(|_, known| known != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renamed_label_drops_its_old_name() {
        let ids = NodeIds::default();
        ids.remember_label("Bug", "LA_1");
        assert_eq!(ids.label("bug").as_deref(), Some("LA_1"));
        ids.remember_label("defect", "LA_1");
        assert_eq!(ids.label("bug"), None);
        assert_eq!(ids.label("DEFECT").as_deref(), Some("LA_1"));
        // Deleted and defined again: a new id under the same name.
        ids.remember_label("defect", "LA_2");
        ids.forget_id("LA_1");
        assert_eq!(ids.label("defect").as_deref(), Some("LA_2"));
        ids.forget_label("Defect");
        assert_eq!(ids.label("defect"), None);
    }

    #[test]
    fn a_pull_request_id_is_forgotten_by_id() {
        let ids = NodeIds::default();
        let pr = PrNumber::new(7).unwrap_or_else(|| unreachable!());
        ids.remember_pull_id(pr, "PR_7");
        assert_eq!(ids.pull(pr).as_deref(), Some("PR_7"));
        ids.forget_id("PR_7");
        assert_eq!(ids.pull(pr), None);
    }
}
