//! # showtime-aws
//!
//! The AWS side of Showtime. This crate will hold the environment-backend
//! port of `showtime-core` implemented on aws-sdk-ecs and aws-sdk-ecr (with
//! the EC2 network-interface call for the public address): task definitions
//! from a template, Fargate services named `pr-{n}-{sha7}-service` and tagged
//! `showtime_managed=true`, readiness and health checks, configuration
//! changes without a rebuild, idempotent destroy, and listing for sweeps.
//!
//! Until then it re-exports the core so that the workspace builds as one.

pub use showtime_core as core;
