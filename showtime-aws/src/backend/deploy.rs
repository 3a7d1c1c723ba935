//! Deploy and configuration change: the task definition of an environment
//! from the template (or from its running revision), then the service created
//! or updated to it. It waits for readiness only through the readiness flow,
//! and must not decide ownership (that is the listing module's).

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerDefinition,
    DeploymentCircuitBreaker, DeploymentConfiguration, LaunchType, NetworkConfiguration,
    PropagateTags, Service, Tag, TaskDefinitionField,
};
use showtime_core::Config;
use showtime_core::ports::{EnvId, EnvSpec};
use tokio::time::Instant;

use super::EcsBackend;
use super::list::{SHA_TAG, config_tags, is_config_key, tag};
use crate::error::{AwsError, human};
use crate::secrets;
use crate::settings::Capacity;
use crate::template::{self, Size, TaskDraft, Vars};

impl EcsBackend {
    fn size_of(&self, config: &Config) -> Result<Size, AwsError> {
        match &config.size {
            Some(size) => self.settings.size(size.as_str()),
            None => self
                .settings
                .sizes
                .get(&self.settings.default_size)
                .copied()
                .ok_or_else(|| AwsError::Setting {
                    name: "default_size".to_owned(),
                    message: format!(
                        "the default size `{}` is not in the size table ({}); name one of them",
                        self.settings.default_size,
                        self.settings.size_names()
                    ),
                }),
        }
    }

    fn template_text(&self) -> &str {
        self.settings
            .task_definition_template
            .as_deref()
            .unwrap_or(template::DEFAULT_TEMPLATE)
    }

    fn vars(&self, id: &EnvId, sha: &str) -> Vars {
        Vars {
            region: self.ecs.config().region().map(|r| r.to_string()),
            cluster: self.settings.cluster.clone(),
            name: id.name(),
            pr: id.pr.to_string(),
            sha: sha.to_owned(),
            sha7: id.sha.to_string(),
            port: self.settings.container_port,
        }
    }

    /// Describes the service until it is not DRAINING, for at most
    /// `draining_timeout`.
    async fn describe_after_draining(&self, id: &EnvId) -> Result<Option<Service>, AwsError> {
        let started = Instant::now();
        let timeout = self.settings.draining_timeout;
        loop {
            let service = self.describe(id).await?;
            match service {
                Some(s) if s.status() == Some("DRAINING") => {
                    let waited = started.elapsed();
                    if waited >= timeout {
                        return Err(AwsError::Draining {
                            service: Self::service_name(id),
                            waited,
                        });
                    }
                    self.progress(
                        id,
                        format!(
                            "the previous service {} is still being deleted (DRAINING); \
                             waiting ({} of at most {})",
                            Self::service_name(id),
                            human(waited),
                            human(timeout)
                        ),
                    );
                    tokio::time::sleep(self.settings.poll_interval.min(timeout - waited)).await;
                }
                other => return Ok(other),
            }
        }
    }

    /// The task definition of a new environment, from the template.
    fn deploy_draft(&self, spec: &EnvSpec, size: Size) -> Result<TaskDraft, AwsError> {
        let vars = self.vars(&spec.id, spec.sha.as_str());
        let mut draft = template::parse(self.template_text(), &vars)?;
        draft.set_size(size);
        let image = if spec.image.trim().is_empty() {
            self.default_image(spec)
        } else {
            spec.image.clone()
        };
        let container = draft.container_mut(self.settings.container_name.as_deref())?;
        let template_container = container.clone();
        container.image = Some(image);
        let base = container.environment().to_vec();
        template::apply_config(container, base, &spec.config, &self.settings.feature_prefix);
        secrets::apply_secrets(container, &template_container, &self.settings.secrets)?;
        template::ensure_port(container, self.settings.container_port);
        draft.check_secrets()?;
        let ours = Self::showtime_tags(spec);
        let mut tags: Vec<Tag> = draft
            .tags
            .iter()
            .filter(|t| !ours.iter().any(|o| o.key() == t.key()))
            .cloned()
            .collect();
        tags.extend(ours);
        draft.tags = tags;
        Ok(draft)
    }

    async fn register(&self, draft: TaskDraft, family: &str) -> Result<String, AwsError> {
        let out = draft
            .request(&self.ecs, family)
            .send()
            .await
            .map_err(|e| self.sdk("ecs:RegisterTaskDefinition", e))?;
        out.task_definition()
            .and_then(|td| td.task_definition_arn())
            .map(str::to_owned)
            .ok_or_else(|| AwsError::Sdk {
                operation: "ecs:RegisterTaskDefinition".to_owned(),
                message: "the answer carries no task definition ARN".to_owned(),
                transient: true,
            })
    }

    async fn create_service(&self, spec: &EnvSpec, task_definition: &str) -> Result<(), AwsError> {
        let s = &self.settings;
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(s.subnets.clone()))
            .set_security_groups(if s.security_groups.is_empty() {
                None
            } else {
                Some(s.security_groups.clone())
            })
            .assign_public_ip(if s.assign_public_ip {
                AssignPublicIp::Enabled
            } else {
                AssignPublicIp::Disabled
            })
            .build()
            .map_err(|e| AwsError::Setting {
                name: "SHOWTIME_ECS_SUBNETS".to_owned(),
                message: e.to_string(),
            })?;
        // The circuit breaker turns tasks that keep failing into a FAILED
        // rollout instead of retrying forever; nothing to roll back to.
        let breaker = DeploymentCircuitBreaker::builder()
            .enable(true)
            .rollback(false)
            .build();
        let mut request = self
            .ecs
            .create_service()
            .cluster(&s.cluster)
            .service_name(Self::service_name(&spec.id))
            .task_definition(task_definition)
            .desired_count(1)
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(vpc)
                    .build(),
            )
            .deployment_configuration(
                DeploymentConfiguration::builder()
                    .deployment_circuit_breaker(breaker)
                    .build(),
            )
            .propagate_tags(PropagateTags::Service)
            .enable_ecs_managed_tags(true)
            .set_tags(Some(Self::showtime_tags(spec)));
        request = match s.capacity {
            Capacity::Fargate => request.launch_type(LaunchType::Fargate),
            Capacity::FargateSpot => request.capacity_provider_strategy(
                CapacityProviderStrategyItem::builder()
                    .capacity_provider("FARGATE_SPOT")
                    .weight(1)
                    .build()
                    .map_err(|e| AwsError::Setting {
                        name: "SHOWTIME_ECS_CAPACITY".to_owned(),
                        message: e.to_string(),
                    })?,
            ),
        };
        request
            .send()
            .await
            .map_err(|e| self.sdk("ecs:CreateService", e))?;
        Ok(())
    }

    /// Deploy: see [`Backend::deploy`](showtime_core::ports::Backend::deploy).
    pub(super) async fn deploy_env(&self, spec: &EnvSpec) -> Result<(), AwsError> {
        let id = &spec.id;
        if self.settings.subnets.is_empty() {
            return Err(AwsError::Setting {
                name: "SHOWTIME_ECS_SUBNETS".to_owned(),
                message: "no subnets configured: set it to the comma-separated subnet IDs the \
                          tasks run in (public subnets for public addresses)"
                    .to_owned(),
            });
        }
        let size = self.size_of(&spec.config)?;
        let draft = self.deploy_draft(spec, size)?;
        if let Some(existing) = self.describe_after_draining(id).await? {
            if existing.status() == Some("ACTIVE") {
                if Self::is_managed(&existing) {
                    self.progress(id, "the service already exists; nothing to create");
                    return Ok(());
                }
                return Err(self.not_managed(id));
            }
        }
        let arn = self.register(draft, &Self::family(id)).await?;
        self.create_service(spec, &arn).await?;
        self.progress(
            id,
            format!(
                "created service {} in cluster {} ({arn})",
                Self::service_name(id),
                self.settings.cluster
            ),
        );
        Ok(())
    }

    /// Writes the configuration's tags on the service, and removes the
    /// continuation tags it no longer needs.
    async fn record_config(
        &self,
        id: &EnvId,
        service: &Service,
        tags: Vec<Tag>,
    ) -> Result<(), AwsError> {
        let Some(arn) = service.service_arn() else {
            return Err(AwsError::Sdk {
                operation: "ecs:DescribeServices".to_owned(),
                message: format!("service {} has no ARN", Self::service_name(id)),
                transient: false,
            });
        };
        let stale: Vec<String> = service
            .tags()
            .iter()
            .filter_map(|t| t.key())
            .filter(|k| is_config_key(k) && !tags.iter().any(|t| t.key() == Some(*k)))
            .map(str::to_owned)
            .collect();
        self.ecs
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| self.sdk("ecs:TagResource", e))?;
        if !stale.is_empty() {
            self.ecs
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(stale))
                .send()
                .await
                .map_err(|e| self.sdk("ecs:UntagResource", e))?;
        }
        Ok(())
    }

    /// Configuration change: see [`Backend::apply_config`](showtime_core::ports::Backend::apply_config).
    pub(super) async fn reconfigure(&self, id: &EnvId, config: &Config) -> Result<(), AwsError> {
        let size = self.size_of(config)?;
        let service = self.managed_service(id).await?;
        let current = service
            .task_definition()
            .ok_or_else(|| AwsError::Sdk {
                operation: "ecs:DescribeServices".to_owned(),
                message: format!("service {} has no task definition", Self::service_name(id)),
                transient: false,
            })?
            .to_owned();
        let described = self
            .ecs
            .describe_task_definition()
            .task_definition(&current)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|e| self.sdk("ecs:DescribeTaskDefinition", e))?;
        let Some(td) = described.task_definition() else {
            return Err(AwsError::Sdk {
                operation: "ecs:DescribeTaskDefinition".to_owned(),
                message: format!("no task definition in the answer for {current}"),
                transient: true,
            });
        };
        let mut draft = TaskDraft::from_existing(td, described.tags());
        draft.set_size(size);
        let new_tags = config_tags(config);
        draft.tags.retain(|t| !t.key().is_some_and(is_config_key));
        draft.tags.extend(new_tags.iter().cloned());

        // The template's own values of the variables a configuration sets,
        // to restore what the previous configuration changed.
        let sha = tag(service.tags(), SHA_TAG)
            .unwrap_or(id.sha.as_str())
            .to_owned();
        let mut template_draft = template::parse(self.template_text(), &self.vars(id, &sha))?;
        let container_name = self.settings.container_name.as_deref();
        let template_container = template_draft
            .container_mut(container_name)
            .map(|c| c.clone())
            .unwrap_or_else(|_| ContainerDefinition::builder().build());
        let prefix = &self.settings.feature_prefix;
        let container = draft.container_mut(container_name)?;
        let base = template::reset_config_env(
            container.environment(),
            template_container.environment(),
            prefix,
        );
        template::apply_config(container, base, config, prefix);
        // The secrets are the settings' of now, as the size is: a
        // configuration change is when a changed set reaches a running
        // environment.
        secrets::apply_secrets(container, &template_container, &self.settings.secrets)?;
        draft.check_secrets()?;

        let family = td
            .family()
            .map(str::to_owned)
            .unwrap_or_else(|| Self::family(id));
        let arn = self.register(draft, &family).await?;
        self.ecs
            .update_service()
            .cluster(&self.settings.cluster)
            .service(Self::service_name(id))
            .task_definition(&arn)
            .force_new_deployment(true)
            .send()
            .await
            .map_err(|e| self.sdk("ecs:UpdateService", e))?;
        self.record_config(id, &service, new_tags).await?;
        self.progress(id, format!("deploying the new configuration ({arn})"));
        self.ready(id).await.map(|_| ())
    }
}
