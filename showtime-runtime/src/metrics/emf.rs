//! CloudWatch Embedded Metric Format: the figures as JSON log lines that
//! CloudWatch Logs turns into metrics (ECS's `awslogs` driver and Lambda
//! send a program's output there), with no SDK and no request.
//!
//! A line is one JSON object: an `_aws` member says which members are
//! metrics (`Namespace` [`NAMESPACE`], their `Dimensions` and units), and
//! the members themselves hold the dimension values and metric values.
//! Counters are written as the increase since the previous line (CloudWatch
//! adds them up), times as the list of values observed (at most
//! [`MAX_VALUES`] a line, as EMF allows), gauges as their value now. Each
//! set of dimension values gets a line of its own.
//!
//! A CloudWatch alarm watches one metric under its exact dimensions, so a
//! metric written only under (Program, Trigger, Outcome) cannot be alarmed
//! on across triggers. The [`ROLLUPS`] name metrics that each line also
//! declares under fewer dimensions (EMF allows several dimension sets per
//! metric): CloudWatch then keeps those sums too, for alarms and dashboards
//! (`examples/infra/showtime.yaml` alarms on one).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "Showtime";
/// The most values one metric may carry in a line.
pub const MAX_VALUES: usize = 100;
/// Metrics also written under fewer dimensions: the metric's name and the
/// roll-up's dimension names, `Program` first. A line declares a roll-up
/// when it has all of its dimensions.
pub const ROLLUPS: &[(&str, &[&str])] = &[
    // Reconciles by outcome whatever triggered them: the reconcile-errors
    // alarm (Outcome = error).
    ("Reconciles", &["Program", "Outcome"]),
    // Refusals whatever the reason: one alarm on the public endpoint being
    // probed or flooded.
    ("WebhookRefusals", &["Program"]),
];

/// A metric's CloudWatch unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unit {
    /// A count.
    Count,
    /// Seconds.
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
        }
    }
}

/// Dimension names and values, `Program` first.
type Dimensions = Vec<(String, String)>;

/// What a metric holds until the next line.
#[derive(Debug, Clone, PartialEq)]
enum Held {
    Count(f64),
    Gauge(f64),
    Values(Vec<f64>),
}

/// The figures gathered since the last line, by dimensions and name.
#[derive(Debug)]
pub(super) struct Emf {
    program: String,
    held: BTreeMap<Dimensions, BTreeMap<&'static str, (Unit, Held)>>,
}

impl Emf {
    pub(super) fn new(program: &str) -> Self {
        Emf {
            program: program.to_owned(),
            held: BTreeMap::new(),
        }
    }

    fn slot(
        &mut self,
        name: &'static str,
        unit: Unit,
        dimensions: &[(&str, &str)],
        empty: Held,
    ) -> &mut Held {
        let mut key = vec![("Program".to_owned(), self.program.clone())];
        key.extend(
            dimensions
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        &mut self
            .held
            .entry(key)
            .or_default()
            .entry(name)
            .or_insert((unit, empty))
            .1
    }

    /// Adds `n` to a counter.
    pub(super) fn count(&mut self, name: &'static str, dimensions: &[(&str, &str)], n: f64) {
        if let Held::Count(total) = self.slot(name, Unit::Count, dimensions, Held::Count(0.0)) {
            *total += n;
        }
    }

    /// Sets a gauge.
    pub(super) fn gauge(
        &mut self,
        name: &'static str,
        unit: Unit,
        dimensions: &[(&str, &str)],
        value: f64,
    ) {
        *self.slot(name, unit, dimensions, Held::Gauge(value)) = Held::Gauge(value);
    }

    /// Records one observed value.
    pub(super) fn value(
        &mut self,
        name: &'static str,
        unit: Unit,
        dimensions: &[(&str, &str)],
        value: f64,
    ) {
        if let Held::Values(values) = self.slot(name, unit, dimensions, Held::Values(Vec::new())) {
            values.push(value);
        }
    }

    /// The lines of everything held, stamped `timestamp_ms`; counters and
    /// values start again from nothing, gauges are kept (and written again
    /// next time, as a scrape would see them).
    pub(super) fn drain(&mut self, timestamp_ms: i64) -> Vec<String> {
        let mut lines = Vec::new();
        for (dimensions, metrics) in &mut self.held {
            let names: Vec<&str> = dimensions.iter().map(|(k, _)| k.as_str()).collect();
            let mut line = Map::new();
            // One directive per list of dimension sets: metrics with a
            // roll-up are declared apart from those without.
            let mut directives: BTreeMap<Vec<Vec<&str>>, Vec<Value>> = BTreeMap::new();
            for (name, (unit, held)) in metrics.iter_mut() {
                let values: Vec<Value> = match held {
                    Held::Count(n) if *n == 0.0 => continue,
                    Held::Count(n) => vec![json!(std::mem::take(n))],
                    Held::Gauge(v) => vec![json!(*v)],
                    Held::Values(v) if v.is_empty() => continue,
                    Held::Values(v) => std::mem::take(v).into_iter().map(|v| json!(v)).collect(),
                };
                directives
                    .entry(dimension_sets(name, &names))
                    .or_default()
                    .push(json!({ "Name": name, "Unit": unit.as_str() }));
                // EMF takes a number or a list of at most MAX_VALUES.
                let value = match values.as_slice() {
                    [one] => one.clone(),
                    _ => Value::Array(values.into_iter().take(MAX_VALUES).collect()),
                };
                line.insert((*name).to_owned(), value);
            }
            if directives.is_empty() {
                continue;
            }
            for (k, v) in dimensions.iter() {
                line.insert(k.clone(), json!(v));
            }
            let directives: Vec<Value> = directives
                .into_iter()
                .map(|(sets, definitions)| {
                    json!({
                        "Namespace": NAMESPACE,
                        "Dimensions": sets,
                        "Metrics": definitions,
                    })
                })
                .collect();
            line.insert(
                "_aws".to_owned(),
                json!({
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": directives,
                }),
            );
            lines.push(Value::Object(line).to_string());
        }
        lines
    }
}

/// The dimension sets `metric` is declared under in a line whose dimensions
/// are `names`: all of them, then each applicable roll-up.
fn dimension_sets<'a>(metric: &str, names: &[&'a str]) -> Vec<Vec<&'a str>> {
    let mut sets = vec![names.to_vec()];
    for (rolled, dimensions) in ROLLUPS {
        if *rolled != metric || dimensions.len() >= names.len() {
            continue;
        }
        // The roll-up's names as this line spells them (borrowed from it).
        let set: Option<Vec<&str>> = dimensions
            .iter()
            .map(|d| names.iter().copied().find(|n| n == d))
            .collect();
        if let Some(set) = set {
            sets.push(set);
        }
    }
    sets
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_line_per_dimension_set_with_increments_values_and_gauges() {
        let mut emf = Emf::new("showtime-webhook");
        emf.count("Reconciles", &[("Trigger", "look"), ("Outcome", "ok")], 1.0);
        emf.count("Reconciles", &[("Trigger", "look"), ("Outcome", "ok")], 1.0);
        emf.value("QueueWait", Unit::Seconds, &[], 0.25);
        emf.value("QueueWait", Unit::Seconds, &[], 1.5);
        emf.gauge("QueueDepth", Unit::Count, &[], 3.0);
        let lines = emf.drain(1_700_000_000_000);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let parsed: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let plain = parsed
            .iter()
            .find(|l| l.get("QueueDepth").is_some())
            .unwrap();
        assert_eq!(plain["QueueDepth"], 3.0);
        assert_eq!(plain["QueueWait"], json!([0.25, 1.5]));
        assert_eq!(plain["Program"], "showtime-webhook");
        let aws = &plain["_aws"];
        assert_eq!(aws["Timestamp"], 1_700_000_000_000i64);
        assert_eq!(aws["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            aws["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Program"]])
        );
        let by_trigger = parsed
            .iter()
            .find(|l| l.get("Reconciles").is_some())
            .unwrap();
        assert_eq!(by_trigger["Reconciles"], 2.0);
        // Also rolled up by outcome, for an alarm on errors of any trigger.
        assert_eq!(
            by_trigger["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Program", "Trigger", "Outcome"], ["Program", "Outcome"]])
        );

        // Counters and values start again; gauges are written again.
        let again = emf.drain(1_700_000_060_000);
        assert_eq!(again.len(), 1, "{again:?}");
        let again: Value = serde_json::from_str(&again[0]).unwrap();
        assert_eq!(again["QueueDepth"], 3.0);
        assert!(again.get("QueueWait").is_none());
    }

    #[test]
    fn a_rollup_is_declared_only_for_its_metric() {
        let mut emf = Emf::new("showtime-lambda");
        let dimensions = [("Trigger", "sweep"), ("Outcome", "error")];
        emf.count("Reconciles", &dimensions, 1.0);
        // Another metric under the same dimensions (none is today) keeps
        // only its own set.
        emf.count("Retries", &dimensions, 2.0);
        emf.count("Teardowns", &[("Result", "ok")], 1.0);
        let lines: Vec<Value> = emf
            .drain(0)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        let line = lines
            .iter()
            .find(|l| l.get("Reconciles").is_some())
            .unwrap();
        assert_eq!(line["Retries"], 2.0);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"],
            json!([
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Program", "Trigger", "Outcome"]],
                    "Metrics": [{ "Name": "Retries", "Unit": "Count" }],
                },
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Program", "Trigger", "Outcome"], ["Program", "Outcome"]],
                    "Metrics": [{ "Name": "Reconciles", "Unit": "Count" }],
                },
            ])
        );
        let teardowns = lines.iter().find(|l| l.get("Teardowns").is_some()).unwrap();
        assert_eq!(
            teardowns["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Program", "Result"]])
        );
    }
}
