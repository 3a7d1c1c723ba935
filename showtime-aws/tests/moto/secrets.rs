//! Secrets against moto: the registered task definition carries
//! `[ecs.secrets]` as the container's `secrets` (name and ARN), moto keeps
//! them, and a configuration change applies the settings' current set. No
//! secret value exists anywhere in these tests: only ARNs.

use super::*;

const KEY: &str = "arn:aws:ssm:us-west-2:123456789012:parameter/showtime/superset-secret-key";
const DB: &str = "arn:aws:secretsmanager:us-west-2:123456789012:secret:showtime/db-AbCdEf";

fn secrets(pairs: &[(&str, &str)]) -> Secrets {
    let table: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Secrets::parse(&table, "SUPERSET_FEATURE_").unwrap()
}

/// The secrets of a task definition's one container, name to ARN.
fn secrets_of(td: &TaskDefinition) -> BTreeMap<String, String> {
    td.container_definitions()[0]
        .secrets()
        .iter()
        .map(|s| (s.name().to_owned(), s.value_from().to_owned()))
        .collect()
}

#[tokio::test]
async fn deploy_registers_the_secrets_and_apply_config_follows_the_settings() {
    let aws = Aws::start().await;
    let with_secrets = EcsSettings {
        secrets: secrets(&[("SUPERSET_SECRET_KEY", KEY), ("DATABASE_URL", DB)]),
        ..aws.settings()
    };
    let backend = aws.backend_with(with_secrets);
    let spec = spec(&aws, 42, "abc123f");
    backend.deploy(&spec).await.unwrap();

    let service = aws.service("pr-42-abc123f-service").await.unwrap();
    let first = aws
        .task_definition(service.task_definition().unwrap())
        .await;
    assert_eq!(
        secrets_of(&first),
        BTreeMap::from([
            ("DATABASE_URL".to_owned(), DB.to_owned()),
            ("SUPERSET_SECRET_KEY".to_owned(), KEY.to_owned()),
        ]),
        "moto gives the secrets back as registered"
    );
    assert_eq!(
        first.execution_role_arn(),
        Some("ecsTaskExecutionRole"),
        "the role ECS reads them with"
    );
    let plain = env(&first);
    assert!(
        !plain.contains_key("SUPERSET_SECRET_KEY"),
        "the template's placeholder value is replaced by the secret: {plain:?}"
    );
    assert_eq!(
        plain.get("SUPERSET_FEATURE_ALERTS").map(String::as_str),
        Some("True")
    );

    // The settings change (one secret replaced, one removed); the next
    // configuration change carries the new set.
    let changed = EcsSettings {
        secrets: secrets(&[("SUPERSET_SECRET_KEY", &format!("{DB}:secret_key::"))]),
        ..aws.settings()
    };
    let backend = aws.backend_with(changed);
    permanent(backend.apply_config(&spec.id, &Config::default()).await);
    let service = aws.service("pr-42-abc123f-service").await.unwrap();
    let arn = service.task_definition().unwrap();
    assert!(arn.ends_with("task-definition/pr-42-abc123f:2"), "{arn}");
    let second = aws.task_definition(arn).await;
    assert_eq!(
        secrets_of(&second),
        BTreeMap::from([(
            "SUPERSET_SECRET_KEY".to_owned(),
            format!("{DB}:secret_key::")
        )])
    );
    assert!(!env(&second).contains_key("SUPERSET_SECRET_KEY"));

    // No secrets any more: none in the next revision, and the template's
    // plain value is back.
    let backend = aws.backend();
    permanent(backend.apply_config(&spec.id, &Config::default()).await);
    let service = aws.service("pr-42-abc123f-service").await.unwrap();
    let third = aws
        .task_definition(service.task_definition().unwrap())
        .await;
    assert!(secrets_of(&third).is_empty(), "{:?}", secrets_of(&third));
    assert!(env(&third).contains_key("SUPERSET_SECRET_KEY"));
}
