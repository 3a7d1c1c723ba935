//! Destroy: the service, every revision of its task definition family and
//! its image tag, each already-gone part counting as done.
//! It must not touch a same-named service that is not Showtime's.

use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::TaskDefinitionStatus;
use showtime_core::ports::EnvId;

use super::EcsBackend;
use crate::error::{self, AwsError};

impl EcsBackend {
    /// Destroy: see [`Backend::destroy`](showtime_core::ports::Backend::destroy).
    pub(super) async fn remove(&self, id: &EnvId) -> Result<(), AwsError> {
        let name = Self::service_name(id);
        if let Some(service) = self.describe(id).await? {
            let status = service.status().unwrap_or_default();
            if status != "INACTIVE" && !Self::is_managed(&service) {
                return Err(self.not_managed(id));
            }
            if status == "ACTIVE" {
                match self
                    .ecs
                    .delete_service()
                    .cluster(&self.settings.cluster)
                    .service(&name)
                    .force(true)
                    .send()
                    .await
                {
                    Ok(_) => self.progress(id, format!("deleting service {name}")),
                    Err(e)
                        if matches!(
                            error::code(&e),
                            Some("ServiceNotFoundException" | "ServiceNotActiveException")
                        ) => {}
                    Err(e) => return Err(self.sdk("ecs:DeleteService", e)),
                }
            }
        }
        self.deregister_family(id).await?;
        self.delete_image(id).await
    }

    async fn deregister_family(&self, id: &EnvId) -> Result<(), AwsError> {
        let family = Self::family(id);
        let mut arns = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .ecs
                .list_task_definitions()
                .family_prefix(&family)
                .status(TaskDefinitionStatus::Active)
                .max_results(100)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.sdk("ecs:ListTaskDefinitions", e))?;
            arns.extend(
                out.task_definition_arns()
                    .iter()
                    .filter(|arn| family_of(arn) == Some(family.as_str()))
                    .cloned(),
            );
            token = out.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        for arn in arns {
            match self
                .ecs
                .deregister_task_definition()
                .task_definition(&arn)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if gone(&e) => {}
                Err(e) => return Err(self.sdk("ecs:DeregisterTaskDefinition", e)),
            }
        }
        Ok(())
    }

    async fn delete_image(&self, id: &EnvId) -> Result<(), AwsError> {
        let operation = "ecr:BatchDeleteImage";
        let out = match self
            .ecr
            .batch_delete_image()
            .repository_name(&self.settings.ecr_repository)
            .image_ids(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_tag(id.image_tag())
                    .build(),
            )
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if matches!(
                    error::code(&e),
                    Some("RepositoryNotFoundException" | "ImageNotFoundException")
                ) =>
            {
                return Ok(());
            }
            Err(e) => return Err(self.sdk(operation, e)),
        };
        use aws_sdk_ecr::types::ImageFailureCode as Code;
        for failure in out.failures() {
            let code = failure.failure_code();
            if matches!(code, Some(Code::ImageNotFound) | None) {
                continue;
            }
            let transient = matches!(
                code,
                Some(Code::UpstreamTooManyRequests | Code::UpstreamUnavailable | Code::KmsError)
            );
            return Err(AwsError::Sdk {
                operation: operation.to_owned(),
                message: format!(
                    "image {}:{} was not deleted: {} ({})",
                    self.settings.ecr_repository,
                    id.image_tag(),
                    failure.failure_reason().unwrap_or("no reason given"),
                    code.map(|c| c.as_str()).unwrap_or_default()
                ),
                transient,
            });
        }
        Ok(())
    }
}

/// The family of a task definition ARN
/// (`arn:aws:ecs:…:task-definition/{family}:{revision}`).
fn family_of(arn: &str) -> Option<&str> {
    let (left, _revision) = arn.rsplit_once(':')?;
    left.rsplit('/').next()
}

/// Whether a deregistration failed because the revision is already gone.
fn gone<E: ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    let message = e.message().unwrap_or_default().to_ascii_lowercase();
    matches!(
        e.code(),
        Some("ClientException" | "InvalidParameterException")
    ) && (message.contains("does not exist") || message.contains("inactive"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_of_arns() {
        assert_eq!(
            family_of("arn:aws:ecs:us-east-1:1:task-definition/pr-1-abc1234:12"),
            Some("pr-1-abc1234")
        );
        assert_eq!(family_of("pr-1-abc1234:3"), Some("pr-1-abc1234"));
    }
}
