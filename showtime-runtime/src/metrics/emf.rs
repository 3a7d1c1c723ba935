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

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "Showtime";
/// The most values one metric may carry in a line.
pub const MAX_VALUES: usize = 100;

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
            let mut line = Map::new();
            let mut definitions = Vec::new();
            for (name, (unit, held)) in metrics.iter_mut() {
                let values: Vec<Value> = match held {
                    Held::Count(n) if *n == 0.0 => continue,
                    Held::Count(n) => vec![json!(std::mem::take(n))],
                    Held::Gauge(v) => vec![json!(*v)],
                    Held::Values(v) if v.is_empty() => continue,
                    Held::Values(v) => std::mem::take(v).into_iter().map(|v| json!(v)).collect(),
                };
                definitions.push(json!({ "Name": name, "Unit": unit.as_str() }));
                // EMF takes a number or a list of at most MAX_VALUES.
                let value = match values.as_slice() {
                    [one] => one.clone(),
                    _ => Value::Array(values.into_iter().take(MAX_VALUES).collect()),
                };
                line.insert((*name).to_owned(), value);
            }
            if definitions.is_empty() {
                continue;
            }
            let names: Vec<&str> = dimensions.iter().map(|(k, _)| k.as_str()).collect();
            for (k, v) in dimensions.iter() {
                line.insert(k.clone(), json!(v));
            }
            line.insert(
                "_aws".to_owned(),
                json!({
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        "Dimensions": [names],
                        "Metrics": definitions,
                    }],
                }),
            );
            lines.push(Value::Object(line).to_string());
        }
        lines
    }
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
        assert_eq!(
            by_trigger["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Program", "Trigger", "Outcome"]])
        );

        // Counters and values start again; gauges are written again.
        let again = emf.drain(1_700_000_060_000);
        assert_eq!(again.len(), 1, "{again:?}");
        let again: Value = serde_json::from_str(&again[0]).unwrap();
        assert_eq!(again["QueueDepth"], 3.0);
        assert!(again.get("QueueWait").is_none());
    }
}
