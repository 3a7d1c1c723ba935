//! `showtime-lambda`: Showtime as AWS Lambda functions. One binary (the
//! zip's `bootstrap`) for three functions, chosen by `SHOWTIME_LAMBDA_ROLE`:
//! `receiver` (Function URL), `worker` (SQS event source, partial batch
//! failures) or `sweep` (EventBridge schedule). See
//! [`showtime_examples::lambda`] and the README's "Scaling out".
//!
//! Configured as the other programs are (variables, `SHOWTIME_CONFIG`).
//! Figures: CloudWatch EMF lines on standard output after each invocation.
//! Exit codes (at start only; afterwards it serves until Lambda stops it):
//! 1 the runtime failed, 2 bad configuration or not inside Lambda.

use std::process::ExitCode;
use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use showtime_examples::exit_code::{BAD_INPUT, FAILURE};
use showtime_examples::lambda::{self, PROGRAM, Role};
use showtime_examples::{CliError, GlobalArgs};
use showtime_runtime::config::Settings;
use showtime_runtime::logs::LogFormat;
use showtime_runtime::metrics::Metrics;

type Error = lambda_runtime::Error;

fn main() -> ExitCode {
    let env = |k: &str| std::env::var(k).ok();
    let missing = lambda::missing_lambda_variables(&env);
    if !missing.is_empty() {
        return fail(
            &format!(
                "{} not set: showtime-lambda runs inside AWS Lambda (or an emulator of its \
                 runtime API); for a long-running process use showtime-webhook and \
                 showtime-worker",
                missing.join(", ")
            ),
            BAD_INPUT,
        );
    }
    let role = match Role::from_env(&env) {
        Ok(role) => role,
        Err(e) => return fail(&e.to_string(), BAD_INPUT),
    };
    // JSON log lines unless told otherwise: CloudWatch Logs reads them.
    let global = GlobalArgs {
        log_format: env("SHOWTIME_LOG_FORMAT")
            .is_none()
            .then_some(LogFormat::Json),
        ..GlobalArgs::default()
    };
    if let Err(e) = global.logging(false, &env).and_then(|logging| {
        logging
            .init()
            .map_err(|e| CliError::Internal(e.to_string()))
    }) {
        return fail(&e.to_string(), e.exit_code());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}"), FAILURE),
    };
    match runtime.block_on(serve(role, &env)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string(), e.exit_code()),
    }
}

/// Sets the function up (its cold start), then serves invocations.
async fn serve(role: Role, env: &dyn Fn(&str) -> Option<String>) -> Result<(), CliError> {
    let settings = Settings::resolve(&Default::default(), env)?;
    let metrics = Arc::new(Metrics::new().with_emf(PROGRAM));
    let emf = || {
        let _ = metrics.write_emf(chrono::Utc::now(), &mut std::io::stdout());
    };
    let served = match role {
        Role::Receiver => {
            // Refusals (bad signatures, other repositories) are counted.
            let receiver = lambda::receiver(&settings, env)
                .await?
                .with_metrics(metrics.clone());
            let (receiver, emf) = (&receiver, &emf);
            lambda_http::run(service_fn(|request| async move {
                let response = lambda::receive(receiver, request).await;
                emf();
                Ok::<_, Error>(response)
            }))
            .await
        }
        Role::Worker => {
            let handler = lambda::worker(&settings, env, metrics.clone()).await?;
            let (handler, emf) = (&handler, &emf);
            lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
                let failures = lambda::work(handler, event.payload).await;
                emf();
                Ok::<_, Error>(failures)
            }))
            .await
        }
        Role::Sweep => {
            let engine = lambda::engine(&settings, env, metrics.clone()).await?;
            let (engine, settings, emf) = (&engine, &settings, &emf);
            lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async move {
                let report = lambda::sweep(engine, settings, env).await;
                emf();
                report.map_err(Error::from)
            }))
            .await
        }
    };
    served.map_err(|e| CliError::Failed(format!("the Lambda runtime stopped: {e}")))
}

fn fail(message: &str, code: u8) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}
