//! # showtime-aws
//!
//! The AWS side of Showtime: the environment-backend port of
//! `showtime-core` ([`Backend`](showtime_core::ports::Backend)) on ECS
//! Fargate, with ECR for image clean-up and EC2 for the task's public address.
//!
//! * [`EcsBackend`]: deploy (a task definition from a JSON template, a
//!   Fargate service `pr-{n}-{sha7}-service` tagged
//!   `showtime_managed=true`), readiness with an HTTP health check,
//!   configuration changes without a rebuild, idempotent destroy, and
//!   listing for sweeps. It touches only what it tagged and named.
//! * [`EcsSettings`]: cluster, network, sizes, template, secrets and
//!   timeouts, with [`EcsSettings::from_lookup`] reading `SHOWTIME_*`
//!   variables.
//! * [`Secrets`]: variables whose values ECS reads from SSM Parameter Store
//!   or Secrets Manager at task start; Showtime handles only their ARNs
//!   ([`SecretRef`]).
//! * [`EcrRegistry`]: whether an image tag is already in ECR (the
//!   [`Registry`] an image builder asks before building).
//! * [`AwsError`]: what went wrong and how to fix it, transient or
//!   permanent for the engine.
//! * [`DEFAULT_TEMPLATE`]: the shipped task definition for Superset on
//!   port 8080.
//!
//! * [`Ec2Client`]: the one EC2 call needed (`DescribeNetworkInterfaces`),
//!   signed with SigV4 over the Query API rather than through
//!   `aws-sdk-ec2`, whose size would dominate the build; behind the
//!   [`Interfaces`] trait.
//!
//! The SDK is used without its default HTTPS client (which compiles
//! aws-lc-sys); [`EcsBackend::from_env`] builds one on rustls with ring.
//!
//! ```no_run
//! use showtime_aws::{EcsBackend, EcsSettings};
//! # async fn run() -> Result<(), showtime_aws::AwsError> {
//! let settings = EcsSettings::from_lookup(|k| std::env::var(k).ok())?;
//! let backend = EcsBackend::from_env(settings)
//!     .await?
//!     .with_progress(|p| eprintln!("{}: {}", p.env, p.message));
//! # let _ = backend;
//! # Ok(())
//! # }
//! ```

pub mod backend;
pub mod ec2;
pub mod ecr;
pub mod error;
pub mod health;
pub mod secrets;
pub mod settings;
pub mod sqs;
pub mod template;

pub use backend::{EcsBackend, MANAGED_TAG, Progress};
pub use ec2::{Ec2Client, Interfaces, NetworkInterface};
pub use ecr::{EcrImage, EcrRegistry, Registry};
pub use error::AwsError;
pub use secrets::{SecretRef, SecretStore, Secrets};
pub use settings::{AddressKind, Capacity, EcsSettings, fill_image};
pub use showtime_core as core;
pub use sqs::SqsQueue;
pub use template::{DEFAULT_TEMPLATE, Size};
