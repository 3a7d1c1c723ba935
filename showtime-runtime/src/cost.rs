//! What an environment costs: its size's vCPU and memory, priced per hour.
//!
//! Sizes are the configured `[sizes]` table (CPU units and MiB, as ECS takes
//! them) or the default one; prices are `[cost]`'s or AWS Fargate's
//! published Linux/x86 prices in us-east-1. The figure is an estimate of
//! what the environment has cost so far, not a bill: it knows nothing of
//! data transfer, load balancers or a region's own prices.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use showtime_core::{Config, SizeName};

use crate::config::SizeSpec;

/// AWS Fargate, Linux/x86, on-demand, us-east-1: US dollars per vCPU-hour.
pub const FARGATE_VCPU_HOUR: f64 = 0.04048;
/// AWS Fargate, Linux/x86, on-demand, us-east-1: US dollars per GB-hour.
pub const FARGATE_GB_HOUR: f64 = 0.004445;
/// Fargate Spot's price as a share of on-demand, an approximation: AWS
/// advertises discounts of up to 70 % and moves Spot prices over time.
pub const SPOT_SHARE: f64 = 0.3;

/// The size an environment without one gets, when the table offers it
/// (otherwise the table's first), as the ECS backend chooses.
pub const DEFAULT_SIZE: &str = "medium";

/// Prices per hour, in US dollars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    /// Per vCPU-hour.
    pub vcpu_hour: f64,
    /// Per GB-hour of memory (1 GB = 1024 MiB, as Fargate counts).
    pub gb_hour: f64,
}

impl Prices {
    /// Fargate on-demand, us-east-1.
    pub const ON_DEMAND: Prices = Prices {
        vcpu_hour: FARGATE_VCPU_HOUR,
        gb_hour: FARGATE_GB_HOUR,
    };

    /// Fargate Spot, us-east-1, approximated as [`SPOT_SHARE`] of on-demand.
    pub fn spot() -> Prices {
        Prices {
            vcpu_hour: FARGATE_VCPU_HOUR * SPOT_SHARE,
            gb_hour: FARGATE_GB_HOUR * SPOT_SHARE,
        }
    }
}

impl Default for Prices {
    fn default() -> Self {
        Prices::ON_DEMAND
    }
}

/// The sizes environments may have, with their CPU units (1024 = one vCPU)
/// and MiB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeTable {
    sizes: BTreeMap<SizeName, SizeSpec>,
    default: Option<SizeName>,
}

impl SizeTable {
    /// The configured table (`[sizes]`).
    pub fn new(sizes: BTreeMap<SizeName, SizeSpec>) -> Self {
        let default = DEFAULT_SIZE
            .parse::<SizeName>()
            .ok()
            .filter(|name| sizes.contains_key(name))
            .or_else(|| sizes.keys().next().cloned());
        SizeTable { sizes, default }
    }

    /// The size an environment runs with: the one its configuration names,
    /// else the default.
    pub fn size_of(&self, config: &Config) -> Option<SizeName> {
        config.size.clone().or_else(|| self.default.clone())
    }

    /// The CPU units and MiB of `size`, when the table has it.
    pub fn spec(&self, size: &SizeName) -> Option<SizeSpec> {
        self.sizes.get(size).copied()
    }
}

impl Default for SizeTable {
    /// `small` 512/1024, `medium` 1024/2048, `large` 2048/4096, `xlarge`
    /// 4096/8192 (CPU units / MiB): the ECS backend's default table.
    fn default() -> Self {
        let table = [
            ("small", 512, 1024),
            ("medium", 1024, 2048),
            ("large", 2048, 4096),
            ("xlarge", 4096, 8192),
        ]
        .into_iter()
        .filter_map(|(name, cpu, memory)| Some((name.parse().ok()?, SizeSpec { cpu, memory })))
        .collect();
        SizeTable::new(table)
    }
}

/// Sizes and prices together: what an hour of an environment costs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Costs {
    /// The sizes.
    pub sizes: SizeTable,
    /// The prices.
    pub prices: Prices,
}

impl Costs {
    /// US dollars an hour of `size` costs, when the table knows it.
    pub fn per_hour(&self, size: &SizeName) -> Option<f64> {
        let spec = self.sizes.spec(size)?;
        let vcpu = f64::from(spec.cpu) / 1024.0;
        let gb = f64::from(spec.memory) / 1024.0;
        Some(vcpu * self.prices.vcpu_hour + gb * self.prices.gb_hour)
    }
}

/// A `[cost]` price that is not a price.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[cost] {name}: {message}")]
pub struct CostError {
    /// The key.
    pub name: String,
    /// What is wrong, and what would be accepted.
    pub message: String,
}

impl Costs {
    /// Sizes from `[sizes]`, prices from `[cost]` over Fargate's on-demand
    /// (or, with `fargate-spot` capacity, Spot) defaults.
    pub fn from_settings(
        settings: &crate::config::Settings,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Costs, CostError> {
        let section = &settings.file.cost;
        let capacity = var("SHOWTIME_ECS_CAPACITY").or_else(|| settings.file.ecs.capacity.clone());
        let mut prices = match capacity.as_deref() {
            Some(c) if c.eq_ignore_ascii_case("fargate-spot") => Prices::spot(),
            _ => Prices::ON_DEMAND,
        };
        let amounts = [
            (
                "price_vcpu_hour",
                section.price_vcpu_hour,
                Some(&mut prices.vcpu_hour),
            ),
            (
                "price_gb_hour",
                section.price_gb_hour,
                Some(&mut prices.gb_hour),
            ),
            ("monthly_budget_usd", section.monthly_budget_usd, None),
        ];
        for (name, given, slot) in amounts {
            let Some(amount) = given else { continue };
            if !amount.is_finite() || amount < 0.0 {
                return Err(CostError {
                    name: name.to_owned(),
                    message: "give an amount in US dollars, 0 or more".to_owned(),
                });
            }
            if let Some(slot) = slot {
                *slot = amount;
            }
        }
        let sizes = match &settings.file.sizes {
            Some(table) => SizeTable::new(table.clone()),
            None => SizeTable::default(),
        };
        Ok(Costs { sizes, prices })
    }
}

/// What `per_hour` comes to from `created` to `now` (nothing before it was
/// created).
pub fn so_far(per_hour: f64, created: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    let seconds = (now - created).num_seconds().max(0);
    // Seconds of a lifetime are far below 2^52: the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let hours = seconds as f64 / 3600.0;
    per_hour * hours
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(name: &str) -> SizeName {
        name.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_medium_hour_on_demand_is_one_vcpu_and_two_gb() {
        let costs = Costs::default();
        let hour = costs.per_hour(&size("medium")).unwrap_or_default();
        assert!((hour - (0.04048 + 2.0 * 0.004445)).abs() < 1e-12, "{hour}");
        assert_eq!(costs.per_hour(&size("huge")), None);
    }

    #[test]
    fn the_default_size_is_medium_or_the_first_configured() {
        let table = SizeTable::default();
        assert_eq!(table.size_of(&Config::default()), Some(size("medium")));
        let only_large = SizeTable::new(
            [(
                size("large"),
                SizeSpec {
                    cpu: 2048,
                    memory: 4096,
                },
            )]
            .into(),
        );
        assert_eq!(only_large.size_of(&Config::default()), Some(size("large")));
        let small = Config {
            size: Some(size("small")),
            ..Config::default()
        };
        assert_eq!(only_large.size_of(&small), Some(size("small")));
    }

    #[cfg(feature = "aws")]
    #[test]
    fn the_default_table_is_the_ecs_backends() {
        let ecs = showtime_aws::settings::default_sizes();
        let table = SizeTable::default();
        assert_eq!(ecs.len(), 4);
        for (name, s) in ecs {
            assert_eq!(
                table.spec(&size(&name)),
                Some(SizeSpec {
                    cpu: s.cpu,
                    memory: s.memory
                })
            );
        }
    }

    #[test]
    fn cost_so_far_counts_from_creation() {
        let created = DateTime::<Utc>::UNIX_EPOCH;
        let later = created + chrono::Duration::minutes(90);
        assert!((so_far(2.0, created, later) - 3.0).abs() < 1e-12);
        assert!(so_far(2.0, later, created).abs() < 1e-12);
    }
}
