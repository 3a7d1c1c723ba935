//! Label names to [`LabelState`]: classify each label into a fact, then
//! assemble the facts, turning disagreements into anomalies.
//!
//! Assembly is order-independent: facts are gathered into ordered maps before
//! anything is decided, so any permutation of the same labels parses equal.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Anomaly, AnomalyKind, Codec, ConfTrigger, Detail, Environment, LabelState, Requester, TENT,
    Trigger,
};
use crate::config::{FeatureName, SizeName};
use crate::{Address, CommentId, ShortSha, Status, Timestamp, Ttl};

/// The emoji keys, written without U+FE0F (labels are matched after it is
/// stripped). The table is the grammar: adding a key means adding a row.
pub(super) const KEYS: &[(&str, Key)] = &[
    ("🚦", Key::Status),
    ("🎯", Key::Active),
    ("🏗", Key::Building),
    ("📅", Key::Created),
    ("🌐", Key::Address),
    ("⌛", Key::Ttl),
    ("⏰", Key::Warned),
    ("🩹", Key::Healed),
    ("👤", Key::Requester),
    ("🤡", Key::Requester),
    ("⚙", Key::Config),
    ("🚩", Key::Flag),
    ("⚡", Key::Start),
    ("🛑", Key::Stop),
    ("🔄", Key::Sync),
    ("🧊", Key::Freeze),
    ("🔒", Key::Blocked),
    ("💬", Key::Comment),
];

/// The fixed words of the trigger and flag labels.
const FLAG_WORDS: &[(Key, &str)] = &[
    (Key::Start, "showtime-trigger-start"),
    (Key::Stop, "showtime-trigger-stop"),
    (Key::Sync, "showtime-trigger-sync"),
    (Key::Freeze, "showtime-freeze"),
    (Key::Blocked, "showtime-blocked"),
];

/// superset-showtime's statuses that Showtime folds into its own.
const LEGACY_STATUSES: &[(&str, Status)] = &[("built", Status::Deploying)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    Status,
    Active,
    Building,
    Created,
    Address,
    Ttl,
    Warned,
    Healed,
    Requester,
    Config,
    Flag,
    Start,
    Stop,
    Sync,
    Freeze,
    Blocked,
    Comment,
}

fn key_of(token: &str) -> Option<Key> {
    KEYS.iter()
        .find(|(emoji, _)| *emoji == token)
        .map(|(_, key)| *key)
}

/// Which environment a detail belongs to: a named SHA (per-SHA form) or the
/// primary environment (seed form, decided once the pointers are known).
type Target = Option<ShortSha>;

/// One thing a well-formed label says.
#[derive(Debug)]
pub(super) enum Fact {
    Status(Target, Status),
    Active(ShortSha),
    Building(ShortSha),
    Created(Target, Timestamp),
    Address(Target, Address),
    Requester(Target, Requester),
    Ttl(Ttl),
    /// The expiry (`📅` + `⌛`) people were warned about (`🎪 ⏰ <time>`).
    Warned(Timestamp),
    /// The environment redeployed once after a failure (`🎪 🩹 <sha7>`).
    Healed(ShortSha),
    Items(Vec<Item>),
    Trigger(Trigger),
    Frozen,
    Blocked,
    Comment(CommentId),
}

/// One configuration item of a `⚙️` or `🚩` label.
#[derive(Debug)]
pub(super) enum Item {
    Feature(FeatureName, bool),
    Debug,
    Size(SizeName),
    NoExamples,
    CacheRedis,
    /// superset-showtime's "nothing configured" marker; carries no information.
    Standard,
}

/// How one label name reads.
#[derive(Debug)]
pub(super) enum Reading {
    /// Not in the 🎪 namespace and not the legacy trigger.
    Other,
    /// A well-formed Showtime label.
    Fact(Fact),
    /// A 🎪 label that cannot be taken at face value.
    Anomaly(AnomalyKind, String),
}

impl Codec {
    /// Reads any list of label names. Never fails and never panics: see the
    /// [module docs](super) for the grammar and what happens to the rest.
    ///
    /// ```
    /// use showtime_core::labels::Codec;
    /// let state = Codec::default().parse(["🎪 abc123f 🚦 running", "🎪 🎯 abc123f", "bug"]);
    /// assert_eq!(state.active.as_ref().unwrap().as_str(), "abc123f");
    /// assert_eq!(state.other_labels, ["bug"]);
    /// ```
    pub fn parse<I, S>(&self, labels: I) -> LabelState
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut assembly = Assembly::default();
        for label in labels {
            let label = label.as_ref();
            match self.read(label) {
                Reading::Other => assembly.other_labels.push(label.to_owned()),
                Reading::Fact(fact) => assembly.add(label, fact),
                Reading::Anomaly(kind, message) => assembly.anomaly(label, kind, message),
            }
        }
        assembly.finish()
    }

    /// Classifies one label name.
    pub(super) fn read(&self, label: &str) -> Reading {
        if label.to_lowercase() == self.legacy_trigger.to_lowercase() {
            return Reading::Fact(Fact::Trigger(Trigger::Up));
        }
        // Ownership is decided on the name as GitHub holds it, exactly as
        // `diff` decides it; only then is the variation selector dropped.
        let Some(rest) = label.strip_prefix(TENT) else {
            return Reading::Other;
        };
        let rest: String = rest.chars().filter(|&c| c != '\u{FE0F}').collect();
        if !rest.starts_with(char::is_whitespace) {
            return unrecognized();
        }
        let tokens: Vec<&str> = rest.split_whitespace().collect();
        match self.read_tokens(&tokens) {
            Ok(fact) => Reading::Fact(fact),
            Err((kind, message)) => Reading::Anomaly(kind, message),
        }
    }

    fn read_tokens(&self, tokens: &[&str]) -> Result<Fact, (AnomalyKind, String)> {
        match *tokens {
            [word] => match word.to_ascii_lowercase().strip_prefix("conf-") {
                Some(command) => self.conf_trigger(command),
                None => Err(unrecognized_parts()),
            },
            [key, value] => match key_of(key) {
                Some(key) => self.pr_level(key, value),
                None => Err(unrecognized_parts()),
            },
            // Per-SHA form `🎪 abc123f 🚦 running`, and the early emoji-first
            // form `🎪 🚦 abc123f running` of superset-showtime.
            [first, second, value] => match (key_of(first), key_of(second)) {
                (None, Some(key)) => self.per_sha(first, key, value),
                (Some(key), None) => self.per_sha(second, key, value),
                _ => Err(unrecognized_parts()),
            },
            _ => Err(unrecognized_parts()),
        }
    }

    fn pr_level(&self, key: Key, value: &str) -> Result<Fact, (AnomalyKind, String)> {
        let lower = value.to_ascii_lowercase();
        match key {
            Key::Status => Ok(Fact::Status(None, status(&lower)?)),
            Key::Active => Ok(Fact::Active(sha(&lower)?)),
            Key::Building => Ok(Fact::Building(sha(&lower)?)),
            Key::Created => Ok(Fact::Created(None, created(&lower)?)),
            Key::Address => Ok(Fact::Address(None, address(&lower)?)),
            Key::Ttl => Ok(Fact::Ttl(lower.parse().map_err(invalid)?)),
            Key::Warned => Ok(Fact::Warned(created(&lower)?)),
            Key::Healed => Ok(Fact::Healed(sha(&lower)?)),
            Key::Requester => Ok(Fact::Requester(None, value.parse().map_err(invalid)?)),
            Key::Config => lower
                .split(',')
                .map(|item| self.config_item(item))
                .collect::<Result<_, _>>()
                .map(Fact::Items),
            Key::Flag => flag(value).map(|item| Fact::Items(vec![item])),
            Key::Comment => Ok(Fact::Comment(lower.parse().map_err(invalid)?)),
            Key::Start | Key::Stop | Key::Sync | Key::Freeze | Key::Blocked => {
                let word = FLAG_WORDS
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or("", |(_, word)| *word);
                if lower != word {
                    return Err((
                        AnomalyKind::InvalidValue,
                        format!("unknown flag word `{}`; expected `{word}`", excerpt(value)),
                    ));
                }
                Ok(match key {
                    Key::Start => Fact::Trigger(Trigger::Start),
                    Key::Stop => Fact::Trigger(Trigger::Stop),
                    Key::Sync => Fact::Trigger(Trigger::Sync),
                    Key::Freeze => Fact::Frozen,
                    _ => Fact::Blocked,
                })
            }
        }
    }

    fn per_sha(
        &self,
        sha_token: &str,
        key: Key,
        value: &str,
    ) -> Result<Fact, (AnomalyKind, String)> {
        let target = Some(sha(&sha_token.to_ascii_lowercase())?);
        let lower = value.to_ascii_lowercase();
        match key {
            Key::Status => Ok(Fact::Status(target, status(&lower)?)),
            Key::Created => Ok(Fact::Created(target, created(&lower)?)),
            Key::Address => Ok(Fact::Address(target, address(&lower)?)),
            Key::Requester => Ok(Fact::Requester(target, value.parse().map_err(invalid)?)),
            // superset-showtime wrote the PR's TTL once per SHA.
            Key::Ttl => Ok(Fact::Ttl(lower.parse().map_err(invalid)?)),
            _ => Err(unrecognized_parts()),
        }
    }

    fn conf_trigger(&self, command: &str) -> Result<Fact, (AnomalyKind, String)> {
        let command = command.parse().map_err(invalid)?;
        if let crate::ConfCommand::Size(size) = &command {
            self.sizes.get(size.as_str()).map_err(invalid)?;
        }
        let trigger = ConfTrigger::new(command).map_err(invalid)?;
        Ok(Fact::Trigger(Trigger::Conf(trigger)))
    }

    fn config_item(&self, item: &str) -> Result<Item, (AnomalyKind, String)> {
        match item {
            "debug" => return Ok(Item::Debug),
            "no-examples" => return Ok(Item::NoExamples),
            "cache-redis" => return Ok(Item::CacheRedis),
            "standard" => return Ok(Item::Standard),
            _ => {}
        }
        if let Some(size) = item.strip_prefix("size-") {
            return self.sizes.get(size).map(Item::Size).map_err(invalid);
        }
        if item.contains('=') {
            return flag(item);
        }
        FeatureName::parse_any_case(item)
            .map(|name| Item::Feature(name, true))
            .map_err(|_| {
                (
                    AnomalyKind::InvalidValue,
                    format!(
                        "unknown configuration item `{}`; expected `debug`, `size-<name>`, \
                         `no-examples`, `cache-redis` or a feature flag name",
                        excerpt(item)
                    ),
                )
            })
    }
}

fn flag(value: &str) -> Result<Item, (AnomalyKind, String)> {
    let bad = || {
        (
            AnomalyKind::InvalidValue,
            format!(
                "invalid feature flag `{}`; expected `<FLAG>=true` or `<FLAG>=false` \
                 with FLAG of 1 to 40 of A-Z, 0-9 and _",
                excerpt(value)
            ),
        )
    };
    let (name, on) = value.split_once('=').ok_or_else(bad)?;
    let name = FeatureName::parse_any_case(name).map_err(|_| bad())?;
    match on.to_ascii_lowercase().as_str() {
        "true" => Ok(Item::Feature(name, true)),
        "false" => Ok(Item::Feature(name, false)),
        _ => Err(bad()),
    }
}

fn status(value: &str) -> Result<Status, (AnomalyKind, String)> {
    LEGACY_STATUSES
        .iter()
        .find(|(word, _)| *word == value)
        .map(|(_, status)| Ok(*status))
        .unwrap_or_else(|| value.parse().map_err(invalid))
}

fn sha(value: &str) -> Result<ShortSha, (AnomalyKind, String)> {
    value.parse().map_err(invalid)
}

fn created(value: &str) -> Result<Timestamp, (AnomalyKind, String)> {
    Timestamp::from_label(value).map_err(invalid)
}

fn address(value: &str) -> Result<Address, (AnomalyKind, String)> {
    value.parse().map_err(invalid)
}

fn invalid(err: crate::Error) -> (AnomalyKind, String) {
    (AnomalyKind::InvalidValue, err.to_string())
}

fn excerpt(s: &str) -> String {
    crate::error::excerpt(s)
}

const GRAMMAR_HINT: &str = "expected `🎪 <emoji> <value>` (🚦 🎯 🏗️ 📅 🌐 ⌛ ⏰ 🩹 👤 ⚙️ 🚩 💬), \
                            `🎪 <sha7> <emoji> <value>` (🚦 📅 🌐 🤡 ⌛), a trigger such as \
                            `🎪 ⚡ showtime-trigger-start`, or `🎪 conf-<command>`";

fn unrecognized_parts() -> (AnomalyKind, String) {
    (
        AnomalyKind::Unrecognized,
        format!("not a Showtime label: {GRAMMAR_HINT}"),
    )
}

fn unrecognized() -> Reading {
    let (kind, message) = unrecognized_parts();
    Reading::Anomaly(kind, message)
}

/// Values gathered for one fact, each with the labels that gave it.
type Votes<V> = BTreeMap<V, Vec<String>>;

/// Facts gathered from every label, decided in [`Assembly::finish`].
#[derive(Default)]
struct Assembly {
    statuses: BTreeMap<Target, Votes<Status>>,
    created: BTreeMap<Target, Votes<Timestamp>>,
    addresses: BTreeMap<Target, Votes<Address>>,
    requesters: BTreeMap<Target, Votes<Requester>>,
    active: Votes<ShortSha>,
    building: Votes<ShortSha>,
    ttl: Votes<Ttl>,
    warned: Votes<Timestamp>,
    healed: Votes<ShortSha>,
    features: BTreeMap<FeatureName, Votes<bool>>,
    sizes: Votes<SizeName>,
    debug: bool,
    no_examples: bool,
    cache_redis: bool,
    triggers: BTreeSet<Trigger>,
    frozen: bool,
    blocked: bool,
    comments: Votes<CommentId>,
    anomalies: Anomalies,
    other_labels: Vec<String>,
}

fn push<V: Ord>(votes: &mut Votes<V>, value: V, label: &str) {
    votes.entry(value).or_default().push(label.to_owned());
}

fn vote<K: Ord, V: Ord>(map: &mut BTreeMap<K, Votes<V>>, key: K, value: V, label: &str) {
    push(map.entry(key).or_default(), value, label);
}

impl Assembly {
    fn add(&mut self, label: &str, fact: Fact) {
        match fact {
            Fact::Status(target, v) => vote(&mut self.statuses, target, v, label),
            Fact::Created(target, v) => vote(&mut self.created, target, v, label),
            Fact::Address(target, v) => vote(&mut self.addresses, target, v, label),
            Fact::Requester(target, v) => vote(&mut self.requesters, target, v, label),
            Fact::Active(sha) => push(&mut self.active, sha, label),
            Fact::Building(sha) => push(&mut self.building, sha, label),
            Fact::Ttl(ttl) => push(&mut self.ttl, ttl, label),
            Fact::Warned(at) => push(&mut self.warned, at, label),
            Fact::Healed(sha) => push(&mut self.healed, sha, label),
            Fact::Items(items) => {
                for item in items {
                    match item {
                        Item::Feature(name, on) => vote(&mut self.features, name, on, label),
                        Item::Size(size) => push(&mut self.sizes, size, label),
                        Item::Debug => self.debug = true,
                        Item::NoExamples => self.no_examples = true,
                        Item::CacheRedis => self.cache_redis = true,
                        Item::Standard => {}
                    }
                }
            }
            Fact::Trigger(trigger) => {
                self.triggers.insert(trigger);
            }
            Fact::Frozen => self.frozen = true,
            Fact::Blocked => self.blocked = true,
            Fact::Comment(id) => push(&mut self.comments, id, label),
        }
    }

    fn anomaly(&mut self, label: &str, kind: AnomalyKind, message: String) {
        self.anomalies.push(label, kind, None, message);
    }

    fn finish(self) -> LabelState {
        let Assembly {
            statuses,
            created,
            addresses,
            requesters,
            active,
            building,
            ttl,
            warned,
            healed,
            features,
            sizes,
            debug,
            no_examples,
            cache_redis,
            triggers,
            frozen,
            blocked,
            comments,
            mut anomalies,
            mut other_labels,
        } = self;
        let active = anomalies.decide(Detail::Active, "active pointers (🎯)", active);
        let building = anomalies.decide(Detail::Building, "building pointers (🏗️)", building);
        let ttl = anomalies.decide(Detail::Ttl, "TTLs (⌛)", ttl);
        let expiry_warned = anomalies.decide(Detail::Warned, "expiry warnings (⏰)", warned);
        let healed = anomalies.decide(Detail::Healed, "redeploys after a failure (🩹)", healed);
        let size = anomalies.decide(Detail::Size, "sizes", sizes);
        let comment = anomalies.oldest_comment(comments);
        let primary = active.clone().or_else(|| building.clone());

        let mut environments: BTreeMap<ShortSha, Environment> = BTreeMap::new();
        for (sha, votes) in anomalies.attach(statuses, primary.as_ref()) {
            let status = anomalies.status(&sha, votes);
            environments.entry(sha).or_default().status = status;
        }
        for (sha, votes) in anomalies.attach(created, primary.as_ref()) {
            let created_at =
                anomalies.decide(Detail::Created, &format!("creation times for {sha}"), votes);
            environments.entry(sha).or_default().created_at = created_at;
        }
        for (sha, votes) in anomalies.attach(addresses, primary.as_ref()) {
            let address = anomalies.decide(Detail::Address, &format!("addresses for {sha}"), votes);
            environments.entry(sha).or_default().address = address;
        }
        for (sha, votes) in anomalies.attach(requesters, primary.as_ref()) {
            let requested_by =
                anomalies.decide(Detail::Requester, &format!("requesters for {sha}"), votes);
            environments.entry(sha).or_default().requested_by = requested_by;
        }

        let mut config = crate::Config {
            debug,
            no_examples,
            cache_redis,
            size,
            ..Default::default()
        };
        for (name, mut votes) in features {
            // Like superset-showtime, a flag labelled both on and off is on;
            // the `false` labels are reported so reconcile removes them.
            if votes.len() > 1 {
                let message = format!("feature flag {name} is labelled both on and off; on wins");
                for label in votes.remove(&false).into_iter().flatten() {
                    let kind = AnomalyKind::Conflict;
                    anomalies.push(&label, kind, Some(Detail::Feature), message.clone());
                }
            }
            config.features.insert(name, votes.contains_key(&true));
        }

        let mut anomalies = anomalies.0;
        anomalies.sort();
        anomalies.dedup();
        other_labels.sort();
        LabelState {
            environments,
            active,
            building,
            ttl,
            expiry_warned,
            healed,
            config,
            triggers,
            frozen,
            blocked,
            comment,
            anomalies,
            other_labels,
        }
    }
}

/// The anomalies found so far, and the decisions that produce them.
#[derive(Default)]
struct Anomalies(Vec<Anomaly>);

impl Anomalies {
    fn push(&mut self, label: &str, kind: AnomalyKind, detail: Option<Detail>, message: String) {
        self.0.push(Anomaly {
            label: label.to_owned(),
            kind,
            detail,
            message,
        });
    }

    /// The one value all labels agree on; a conflict anomaly per label otherwise.
    fn decide<V: Ord + std::fmt::Display>(
        &mut self,
        detail: Detail,
        what: &str,
        votes: Votes<V>,
    ) -> Option<V> {
        if votes.len() <= 1 {
            return votes.into_keys().next();
        }
        let values: Vec<String> = votes.keys().map(|v| format!("`{v}`")).collect();
        let message = format!(
            "conflicting {what}: {}; at most one is allowed",
            values.join(", ")
        );
        for label in votes.into_values().flatten() {
            self.push(&label, AnomalyKind::Conflict, Some(detail), message.clone());
        }
        None
    }

    /// The status comment: two runs at once may each post one and label it.
    /// The oldest (lowest id) is kept; the others are reported, and a plan
    /// that rewrites the labels deletes their comments first
    /// ([`Step::DeleteComment`](crate::plan::Step::DeleteComment)).
    fn oldest_comment(&mut self, votes: Votes<CommentId>) -> Option<CommentId> {
        let kept = *votes.keys().next()?;
        for (id, labels) in votes.into_iter().skip(1) {
            let message = format!("a second status comment, `{id}`; `{kept}` is kept");
            for label in labels {
                self.push(
                    &label,
                    AnomalyKind::Conflict,
                    Some(Detail::Comment),
                    message.clone(),
                );
            }
        }
        Some(kept)
    }

    /// An environment's status. `destroying` is only ever added beside the
    /// status it replaces, as the intent of a teardown (one request, no
    /// removal), and only the teardown's last write removes the pair: so
    /// when it conflicts, it wins, and the others are reported for removal.
    fn status(&mut self, sha: &ShortSha, mut votes: Votes<Status>) -> Option<Status> {
        if votes.len() > 1 && votes.contains_key(&Status::Destroying) {
            let message = format!("{sha} is being destroyed; its other statuses are stale");
            for (_, labels) in votes.iter().filter(|(s, _)| **s != Status::Destroying) {
                for label in labels {
                    let kind = AnomalyKind::Conflict;
                    self.push(label, kind, Some(Detail::Status), message.clone());
                }
            }
            votes.retain(|s, _| *s == Status::Destroying);
        }
        self.decide(Detail::Status, &format!("statuses for {sha}"), votes)
    }

    /// Moves PR-level votes onto the primary environment, or reports them as
    /// orphans when no pointer names one.
    fn attach<V: Ord>(
        &mut self,
        mut by_target: BTreeMap<Target, Votes<V>>,
        primary: Option<&ShortSha>,
    ) -> BTreeMap<ShortSha, Votes<V>> {
        let pr_level = by_target.remove(&None).unwrap_or_default();
        let mut out: BTreeMap<ShortSha, Votes<V>> = by_target
            .into_iter()
            .filter_map(|(target, votes)| target.map(|sha| (sha, votes)))
            .collect();
        match primary {
            Some(sha) => {
                if !pr_level.is_empty() {
                    let slot = out.entry(sha.clone()).or_default();
                    for (value, labels) in pr_level {
                        slot.entry(value).or_default().extend(labels);
                    }
                }
            }
            None => {
                for label in pr_level.into_values().flatten() {
                    self.push(
                        &label,
                        AnomalyKind::Orphaned,
                        None,
                        "a PR-level detail needs a `🎪 🎯 <sha7>` or `🎪 🏗️ <sha7>` pointer \
                         naming its environment"
                            .to_owned(),
                    );
                }
            }
        }
        out
    }
}
