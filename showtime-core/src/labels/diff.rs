//! The minimal change from the labels a PR has to the labels it should have.
//!
//! GitHub compares label names case-insensitively, so this does too. Only 🎪
//! labels are Showtime's: a diff never adds or removes any other label, so a
//! label a person adds while Showtime works survives.

use std::collections::BTreeSet;

use super::TENT;

/// Labels to add (one `POST`) and to remove (one `DELETE` each).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelDiff {
    /// Labels to add, sorted.
    pub add: Vec<String>,
    /// Labels to remove, as they are spelled on the PR, sorted.
    pub remove: Vec<String>,
}

impl LabelDiff {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    /// The labels `current` becomes once this diff is applied, as GitHub
    /// would apply it (removal and addition are case-insensitive).
    pub fn apply<S: AsRef<str>>(&self, current: &[S]) -> Vec<String> {
        let removed: BTreeSet<String> = self.remove.iter().map(|l| fold(l)).collect();
        let mut out: Vec<String> = current
            .iter()
            .map(|l| l.as_ref().to_owned())
            .filter(|l| !removed.contains(&fold(l)))
            .collect();
        let present: BTreeSet<String> = out.iter().map(|l| fold(l)).collect();
        out.extend(
            self.add
                .iter()
                .filter(|l| !present.contains(&fold(l)))
                .cloned(),
        );
        out
    }
}

/// Whether `label` is in Showtime's namespace (starts with 🎪).
pub fn is_showtime_label(label: &str) -> bool {
    label.starts_with(TENT)
}

fn fold(label: &str) -> String {
    label.to_lowercase()
}

/// The change that turns the 🎪 labels of `current` into exactly the 🎪 labels
/// of `desired`, leaving every other label alone.
///
/// Names of `desired` outside the 🎪 namespace (the legacy up-label that
/// [`Codec::encode`](super::Codec::encode) may emit) are ignored.
///
/// ```
/// use showtime_core::labels::diff;
/// let d = diff(&["bug", "🎪 🚦 building"], &["🎪 🚦 running", "🎪 🎯 abc123f"]);
/// assert_eq!(d.add, ["🎪 🎯 abc123f", "🎪 🚦 running"]);
/// assert_eq!(d.remove, ["🎪 🚦 building"]);
/// ```
pub fn diff<C: AsRef<str>, D: AsRef<str>>(current: &[C], desired: &[D]) -> LabelDiff {
    let owned = |l: &&str| is_showtime_label(l);
    let have: BTreeSet<String> = current.iter().map(|l| fold(l.as_ref())).collect();
    let want: BTreeSet<String> = desired
        .iter()
        .map(AsRef::as_ref)
        .filter(owned)
        .map(fold)
        .collect();

    let mut add: Vec<String> = Vec::new();
    let mut added: BTreeSet<String> = BTreeSet::new();
    for label in desired.iter().map(AsRef::as_ref).filter(owned) {
        let key = fold(label);
        if !have.contains(&key) && added.insert(key) {
            add.push(label.to_owned());
        }
    }
    let mut remove: Vec<String> = current
        .iter()
        .map(AsRef::as_ref)
        .filter(owned)
        .filter(|l| !want.contains(&fold(l)))
        .map(str::to_owned)
        .collect();
    add.sort();
    remove.sort();
    remove.dedup();
    LabelDiff { add, remove }
}
