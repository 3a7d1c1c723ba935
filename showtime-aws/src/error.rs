//! Errors of the ECS backend, and how AWS SDK errors become them.
//!
//! This module owns [`AwsError`], its conversion into the port's
//! [`PortError`] (transient or permanent), and the classification of SDK
//! errors by their error code. Every message says what went wrong *and* what
//! fixes it, because the engine quotes it on the pull request. It must not
//! retry anything itself: the SDK retries throttling and 5xx (standard retry
//! mode), and the engine retries what is transient.

use std::time::Duration;

use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use showtime_core::ports::PortError;

/// An error of the ECS backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AwsError {
    /// AWS refused the call: the credentials lack a permission.
    #[error(
        "AWS denied {operation}: {message}. Fix: the IAM role or user Showtime runs as needs \
         `{operation}` — add it to its policy (the README lists the whole policy), or check \
         which credentials are in use (AWS_PROFILE, AWS_ACCESS_KEY_ID, the instance role)"
    )]
    AccessDenied {
        /// The IAM action, e.g. `ecs:CreateService`.
        operation: String,
        /// AWS's message.
        message: String,
    },
    /// The configured cluster does not exist in this account and region.
    #[error(
        "ECS cluster `{cluster}` not found in this account and region. Fix: create it \
         (`aws ecs create-cluster --cluster-name {cluster}`) or set SHOWTIME_ECS_CLUSTER \
         to an existing cluster (and AWS_REGION to its region)"
    )]
    ClusterNotFound {
        /// The cluster name.
        cluster: String,
    },
    /// AWS rejected a parameter (a subnet, a role, a size, the template).
    #[error(
        "AWS rejected {operation}: {message}. Fix the setting or the task definition \
         template this value comes from (subnets, security groups, roles, size)"
    )]
    InvalidParameter {
        /// The IAM action, e.g. `ecs:CreateService`.
        operation: String,
        /// AWS's message, or ours.
        message: String,
    },
    /// AWS did not answer in time; trying again later may work.
    #[error(
        "no answer from {what} within {}: AWS is slow or unreachable from here; it will be \
         tried again",
        human(*waited)
    )]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        waited: Duration,
    },
    /// A same-named service is still being deleted.
    #[error(
        "the previous ECS service `{service}` is still being deleted (DRAINING) after {}: \
         wait until ECS has finished draining it (usually a few minutes) and deploy again",
        human(*waited)
    )]
    Draining {
        /// The service name.
        service: String,
        /// How long the deploy waited.
        waited: Duration,
    },
    /// The task definition template is not usable.
    #[error(
        "task definition template: {message}. Fix the template JSON (SHOWTIME_TASK_DEFINITION \
         or the settings' template)"
    )]
    Template {
        /// What is wrong with it.
        message: String,
    },
    /// A setting is missing or invalid.
    #[error("setting {name}: {message}")]
    Setting {
        /// The environment variable (or field) at fault.
        name: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// Any other failure of an AWS call.
    #[error("{operation} failed: {message}{}", if *transient { " (temporary: it will be tried again)" } else { "" })]
    Sdk {
        /// The IAM action, e.g. `ecs:DescribeServices`.
        operation: String,
        /// What happened.
        message: String,
        /// Whether trying again may work.
        transient: bool,
    },
    /// A service of the environment's name exists but is not Showtime's.
    #[error(
        "ECS service `{service}` in cluster `{cluster}` exists but is not managed by Showtime \
         (it lacks the tag showtime_managed=true or its name is not pr-{{n}}-{{sha7}}-service), \
         so Showtime leaves it untouched. Fix: delete or rename that service by hand if this \
         environment should be managed by Showtime"
    )]
    NotManaged {
        /// The service name.
        service: String,
        /// The cluster.
        cluster: String,
    },
    /// The environment's service does not exist (or is being deleted).
    #[error(
        "ECS service `{service}` does not exist in cluster `{cluster}` (or is being deleted). \
         Fix: deploy the environment first"
    )]
    NotFound {
        /// The service name.
        service: String,
        /// The cluster.
        cluster: String,
    },
    /// The environment sleeps (its service's desired count is 0).
    #[error(
        "environment `{service}` is asleep (desired count 0); wake it first \
         (`/circus wake`)"
    )]
    Asleep {
        /// The service name.
        service: String,
    },
    /// The environment did not become healthy.
    #[error("environment `{service}` did not become healthy: {reason}")]
    Unhealthy {
        /// The service name.
        service: String,
        /// Why, with what to look at.
        reason: String,
    },
}

impl AwsError {
    /// Whether trying the same call again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            AwsError::Timeout { .. }
                | AwsError::Sdk {
                    transient: true,
                    ..
                }
        )
    }
}

impl From<AwsError> for PortError {
    fn from(err: AwsError) -> Self {
        if err.is_transient() {
            PortError::transient(err.to_string())
        } else {
            PortError::permanent(err.to_string())
        }
    }
}

/// A duration for people: `45s`, `5m`, `2m30s`, `1h`.
pub(crate) fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// The error codes of AWS that mean "not allowed".
const ACCESS_DENIED: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredTokenException",
    "AuthFailure",
];

/// The error codes of throttling (retried by the SDK first).
const THROTTLING: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
];

/// The error codes of AWS-side failures.
const SERVER: &[&str] = &[
    "ServerException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "Unavailable",
];

/// The SDK's own timeout for one call, all attempts included (see
/// [`crate::EcsBackend::from_sdk_config`]).
pub(crate) const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);

/// The error code of an SDK error, when AWS sent one.
pub(crate) fn code<E: ProvideErrorMetadata>(err: &SdkError<E>) -> Option<&str> {
    err.code()
}

/// Classifies an SDK error of `operation` (an IAM action such as
/// `ecs:CreateService`) by its code.
pub(crate) fn from_sdk<E>(operation: &str, cluster: &str, err: SdkError<E>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let operation = operation.to_owned();
    let message = err
        .message()
        .map(str::to_owned)
        .unwrap_or_else(|| chain(&err));
    let code = err.code().unwrap_or_default().to_owned();
    match &err {
        SdkError::ServiceError(service) => classify(
            &operation,
            cluster,
            &code,
            message,
            service.raw().status().is_server_error(),
        ),
        SdkError::TimeoutError(_) => AwsError::Timeout {
            what: operation,
            waited: OPERATION_TIMEOUT,
        },
        SdkError::DispatchFailure(failure) => {
            let text = chain(&err);
            let lower = text.to_ascii_lowercase();
            if failure.is_user() || lower.contains("credential") || lower.contains("identity") {
                AwsError::Sdk {
                    operation,
                    message: format!(
                        "the request could not be sent: {text}. Fix: give Showtime AWS \
                         credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
                         or an instance or task role) and a region (AWS_REGION)"
                    ),
                    transient: false,
                }
            } else {
                AwsError::Sdk {
                    operation,
                    message: format!("could not reach AWS: {text}"),
                    transient: true,
                }
            }
        }
        SdkError::ResponseError(_) => AwsError::Sdk {
            operation,
            message: format!("AWS's answer could not be read: {}", chain(&err)),
            transient: true,
        },
        SdkError::ConstructionFailure(_) => AwsError::Sdk {
            operation,
            message: format!(
                "the request could not be built: {}. Fix: check the region (AWS_REGION) \
                 and the settings",
                chain(&err)
            ),
            transient: false,
        },
        _ => AwsError::Sdk {
            operation,
            message: chain(&err),
            transient: false,
        },
    }
}

/// Classifies an error answer of `operation` by its AWS error code (the
/// same codes for the JSON protocols of ECS and ECR and EC2's Query API).
pub(crate) fn classify(
    operation: &str,
    cluster: &str,
    code: &str,
    message: String,
    server_side: bool,
) -> AwsError {
    let operation = operation.to_owned();
    if ACCESS_DENIED.contains(&code) {
        AwsError::AccessDenied { operation, message }
    } else if code == "ClusterNotFoundException" {
        AwsError::ClusterNotFound {
            cluster: cluster.to_owned(),
        }
    } else if code == "InvalidParameterException" || code == "ClientException" {
        AwsError::InvalidParameter { operation, message }
    } else if THROTTLING.contains(&code) {
        AwsError::Sdk {
            operation,
            message: format!(
                "AWS kept throttling the requests ({code}) through every retry: {message}; \
                 fewer environments at once, or a raised API quota, would help"
            ),
            transient: true,
        }
    } else if SERVER.contains(&code) || server_side {
        AwsError::Sdk {
            operation,
            message: format!("AWS had an internal error ({}): {message}", or_status(code)),
            transient: true,
        }
    } else {
        AwsError::Sdk {
            operation,
            message: format!("{}: {message}", or_status(code)),
            transient: false,
        }
    }
}

/// An error and its sources, `outer: inner: root`, without repeats.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

fn or_status(code: &str) -> &str {
    if code.is_empty() {
        "no error code"
    } else {
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_and_permanent() {
        let t = AwsError::Timeout {
            what: "ecs:DescribeServices".into(),
            waited: Duration::from_secs(120),
        };
        assert!(PortError::from(t).is_transient());
        let d = AwsError::AccessDenied {
            operation: "ecs:CreateService".into(),
            message: "no".into(),
        };
        let p = PortError::from(d);
        assert!(!p.is_transient());
        assert!(p.to_string().contains("needs `ecs:CreateService`"), "{p}");
        let c = PortError::from(AwsError::ClusterNotFound {
            cluster: "superset-ci".into(),
        });
        assert!(c.to_string().contains("SHOWTIME_ECS_CLUSTER"), "{c}");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human(Duration::from_secs(300)), "5m");
        assert_eq!(human(Duration::from_secs(150)), "2m30s");
        assert_eq!(human(Duration::from_secs(3600)), "1h");
        assert_eq!(human(Duration::from_millis(20)), "20ms");
    }
}
