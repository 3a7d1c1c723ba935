//! Secrets of an environment: variables whose values ECS itself reads from
//! SSM Parameter Store or Secrets Manager when the task starts.
//!
//! This module owns [`SecretRef`] (the ARN of one parameter or secret,
//! checked once where it is read) and [`Secrets`] (variable names to
//! references, the names checked against the variables a configuration
//! sets), and how they are put on a container definition (its `secrets`,
//! `name` + `valueFrom`, over the template's). Showtime passes only the
//! ARNs; it never reads a value, so no value can reach a
//! label, a comment, a log line or the audit trail. The task's *execution
//! role* needs to read them (`ssm:GetParameters`,
//! `secretsmanager:GetSecretValue`, `kms:Decrypt` for a customer-managed
//! key), not the role Showtime runs as. ARNs are not secret and may appear
//! in messages.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, Secret};

use crate::error::AwsError;
use crate::template;

/// Where a secret's value is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretStore {
    /// An SSM Parameter Store parameter
    /// (`arn:aws:ssm:<region>:<account>:parameter/<name>`).
    ParameterStore,
    /// A Secrets Manager secret
    /// (`arn:aws:secretsmanager:<region>:<account>:secret:<name>`, optionally
    /// followed by `:<json-key>:<version-stage>:<version-id>`).
    SecretsManager,
}

/// The ARN of one SSM parameter or Secrets Manager secret, as ECS's
/// `valueFrom` takes it. Parsed by [`FromStr`], which says what is accepted
/// when the text is not such an ARN.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretRef {
    arn: String,
    store: SecretStore,
    region: String,
    account: String,
}

/// What a [`SecretRef`] accepts, for messages.
const ACCEPTED: &str = "the ARN of an SSM parameter \
    (`arn:aws:ssm:<region>:<account>:parameter/<name>`) or of a Secrets Manager secret \
    (`arn:aws:secretsmanager:<region>:<account>:secret:<name>`, optionally followed by \
    `:<json-key>:<version-stage>:<version-id>`, any of them empty)";

impl SecretRef {
    /// The ARN, as given.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// Where the value is kept.
    pub fn store(&self) -> SecretStore {
        self.store
    }

    /// The region of the parameter or secret.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The account that owns it (12 digits).
    pub fn account(&self) -> &str {
        &self.account
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

impl FromStr for SecretRef {
    type Err = String;

    /// Reads an ARN; the error says what was wrong and what is accepted.
    fn from_str(text: &str) -> Result<Self, String> {
        // Text that is not even an ARN may be a secret's value pasted by
        // mistake: it is never repeated in the message.
        if !text.starts_with("arn:") {
            return Err(format!(
                "the value is not an ARN (it is not repeated here, in case it is a secret \
                 itself): give {ACCEPTED}"
            ));
        }
        let bad = |why: &str| format!("`{text}` is not usable ({why}): give {ACCEPTED}");
        // arn:partition:service:region:account:resource (the resource may
        // hold more colons).
        let mut parts = text.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(region), Some(account)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad("not an ARN"));
        };
        let resource = parts.next().unwrap_or_default();
        if !(partition == "aws" || (partition.starts_with("aws-") && is_word(&partition[4..]))) {
            return Err(bad("the partition is not `aws`, `aws-cn`, `aws-us-gov`…"));
        }
        if !is_region(region) {
            return Err(bad("no region such as `us-west-2`"));
        }
        if !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) {
            return Err(bad("the account is not 12 digits"));
        }
        let store = match service {
            "ssm" => {
                let name = resource
                    .strip_prefix("parameter/")
                    .ok_or_else(|| bad("an SSM ARN names a `parameter/…`"))?;
                if !is_parameter_name(name) {
                    return Err(bad(
                        "a parameter name is letters, digits, `_.-` and `/` between path parts",
                    ));
                }
                SecretStore::ParameterStore
            }
            "secretsmanager" => {
                let rest = resource
                    .strip_prefix("secret:")
                    .ok_or_else(|| bad("a Secrets Manager ARN names a `secret:…`"))?;
                let fields: Vec<&str> = rest.split(':').collect();
                let name = fields.first().copied().unwrap_or_default();
                if !is_secret_name(name) {
                    return Err(bad("a secret name is letters, digits and `/_+=.@-`"));
                }
                // ECS takes either the bare secret or all three of json key,
                // version stage and version id (each possibly empty).
                if fields.len() != 1 && fields.len() != 4 {
                    return Err(bad(
                        "after the secret's name come either nothing or all three of \
                         `:<json-key>:<version-stage>:<version-id>`",
                    ));
                }
                SecretStore::SecretsManager
            }
            _ => return Err(bad("not an `ssm` or `secretsmanager` ARN")),
        };
        Ok(SecretRef {
            arn: text.to_owned(),
            store,
            region: region.to_owned(),
            account: account.to_owned(),
        })
    }
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

/// `us-west-2`, `eu-central-1`, `us-gov-west-1`, `cn-north-1`.
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn is_parameter_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 2048
        && s.split('/').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        })
}

fn is_secret_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 512
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'+' | b'=' | b'.' | b'@' | b'-')
        })
}

/// Whether `name` can be an environment variable's name: a letter or `_`,
/// then letters, digits and `_`.
fn is_variable_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The secrets of every environment: variable name to [`SecretRef`], in
/// name order. Built only by [`Secrets::parse`], so every name is a valid
/// variable name that no configuration sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets(BTreeMap<String, SecretRef>);

impl Secrets {
    /// Reads a table of variable names to ARNs (`[ecs.secrets]`). A name
    /// must be a variable name and must not be one the configuration
    /// decides (those starting with `feature_prefix`, `SUPERSET_LOG_LEVEL`,
    /// `FLASK_DEBUG`, `SUPERSET_LOAD_EXAMPLES`, `SHOWTIME_CACHE`); a value
    /// must be a [`SecretRef`]. The error is [`AwsError::Setting`] whose
    /// `name` is the table's key at fault.
    pub fn parse<'a>(
        table: impl IntoIterator<Item = (&'a String, &'a String)>,
        feature_prefix: &str,
    ) -> Result<Secrets, AwsError> {
        let mut secrets = BTreeMap::new();
        for (name, value) in table {
            let bad = |message: String| AwsError::Setting {
                name: name.clone(),
                message,
            };
            if !is_variable_name(name) {
                return Err(bad(format!(
                    "`{name}` is not an environment variable name: use letters, digits and \
                     `_`, not starting with a digit"
                )));
            }
            if template::is_config_var(name, feature_prefix) {
                return Err(bad(format!(
                    "`{name}` is set by Showtime from the PR's configuration (feature flags \
                     `{feature_prefix}*`, debug, examples, cache), so it cannot also be a \
                     secret: pick another name"
                )));
            }
            secrets.insert(name.clone(), value.trim().parse().map_err(bad)?);
        }
        Ok(Secrets(secrets))
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The secret of variable `name`.
    pub fn get(&self, name: &str) -> Option<&SecretRef> {
        self.0.get(name)
    }

    /// Whether variable `name` is a secret.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Variable names and their secrets, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &SecretRef)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// Puts `secrets` on a container as ECS `secrets` (`name` + `valueFrom`),
/// on top of `template`'s own: a configured secret replaces the template's
/// secret or plain variable of the same name (the shipped template's
/// `SUPERSET_SECRET_KEY` placeholder, say). The set is recomputed from the
/// template each time, so a secret removed from the settings leaves the
/// next revision, and the template's plain value of its name comes back.
pub(crate) fn apply_secrets(
    container: &mut ContainerDefinition,
    template: &ContainerDefinition,
    secrets: &Secrets,
) -> Result<(), AwsError> {
    let previous: Vec<String> = container
        .secrets()
        .iter()
        .map(|s| s.name().to_owned())
        .collect();
    let mut merged: Vec<Secret> = template
        .secrets()
        .iter()
        .filter(|s| !secrets.contains(s.name()))
        .cloned()
        .collect();
    for (name, secret) in secrets.iter() {
        merged.push(
            Secret::builder()
                .name(name)
                .value_from(secret.arn())
                .build()
                .map_err(|e| AwsError::Setting {
                    name: name.to_owned(),
                    message: e.to_string(),
                })?,
        );
    }
    let mut env: Vec<KeyValuePair> = container
        .environment()
        .iter()
        .filter(|kv| !secrets.contains(kv.name().unwrap_or_default()))
        .cloned()
        .collect();
    for name in previous {
        let still = merged.iter().any(|s| s.name() == name);
        let in_env = env.iter().any(|kv| kv.name() == Some(name.as_str()));
        if !still
            && !in_env
            && let Some(kv) = template
                .environment()
                .iter()
                .find(|kv| kv.name() == Some(name.as_str()))
        {
            env.push(kv.clone());
        }
    }
    container.environment = Some(env);
    container.secrets = template::non_empty(merged);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::tests::{env_of, vars};
    use crate::template::{DEFAULT_TEMPLATE, parse};

    const SSM: &str = "arn:aws:ssm:us-west-2:123456789012:parameter/showtime/superset-secret-key";
    const SM: &str = "arn:aws:secretsmanager:us-west-2:123456789012:secret:showtime/db-AbCdEf";

    fn secret(text: &str) -> Result<SecretRef, String> {
        text.parse()
    }

    #[test]
    fn parameter_and_secret_arns_are_read() {
        let p = secret(SSM).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.store(), SecretStore::ParameterStore);
        assert_eq!((p.region(), p.account()), ("us-west-2", "123456789012"));
        assert_eq!(p.arn(), SSM);
        let s = secret(SM).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.store(), SecretStore::SecretsManager);
        for ok in [
            "arn:aws:ssm:eu-central-1:123456789012:parameter/flat_name.v1",
            "arn:aws-cn:ssm:cn-north-1:123456789012:parameter/a/b/c",
            "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:x",
            &format!("{SM}:password::"),
            &format!("{SM}:password:AWSCURRENT:"),
            &format!("{SM}:::0123abcd-0123"),
        ] {
            assert!(secret(ok).is_ok(), "{ok}: {:?}", secret(ok));
        }
    }

    #[test]
    fn anything_else_is_refused_with_what_is_accepted() {
        let pasted = secret("super-secret-value").err().unwrap_or_default();
        assert!(!pasted.contains("super-secret-value"), "{pasted}");
        for (bad, why) in [
            ("", "not an ARN"),
            ("super-secret-value", "not an ARN"),
            ("/showtime/key", "not an ARN"),
            (
                "arn:gcp:ssm:us-west-2:123456789012:parameter/x",
                "partition",
            ),
            ("arn:aws:ssm::123456789012:parameter/x", "region"),
            ("arn:aws:ssm:uswest2:123456789012:parameter/x", "region"),
            ("arn:aws:ssm:us-west-2:1234:parameter/x", "12 digits"),
            ("arn:aws:ssm", "not an ARN"),
            ("arn:aws:ssm:us-west-2:123456789012:x", "parameter/"),
            (
                "arn:aws:ssm:us-west-2:123456789012:parameter/",
                "parameter name",
            ),
            (
                "arn:aws:ssm:us-west-2:123456789012:parameter//x",
                "parameter name",
            ),
            (
                "arn:aws:ssm:us-west-2:123456789012:parameter/a b",
                "parameter name",
            ),
            (
                "arn:aws:secretsmanager:us-west-2:123456789012:db",
                "secret:",
            ),
            (
                "arn:aws:secretsmanager:us-west-2:123456789012:secret:",
                "secret name",
            ),
            (&format!("{SM}:password"), "all three"),
            (&format!("{SM}:a:b:c:d"), "all three"),
            ("arn:aws:s3:us-west-2:123456789012:bucket/x", "`ssm` or"),
        ] {
            let err = secret(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad} is refused"));
            assert!(err.contains(why), "{bad}: {err}");
            assert!(err.contains("arn:aws:ssm:<region>"), "{bad}: {err}");
        }
    }

    fn table(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_table_is_checked_name_by_name() {
        let good = table(&[("SUPERSET_SECRET_KEY", SSM), ("_DB", SM)]);
        let secrets = Secrets::parse(&good, "SUPERSET_FEATURE_").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(secrets.len(), 2);
        assert_eq!(
            secrets.get("SUPERSET_SECRET_KEY").map(SecretRef::arn),
            Some(SSM)
        );
        assert!(Secrets::parse(&table(&[]), "X_").is_ok_and(|s| s.is_empty()));

        for (name, value, why) in [
            ("1PASSWORD", SSM, "not an environment variable name"),
            ("DB-URL", SSM, "not an environment variable name"),
            ("", SSM, "not an environment variable name"),
            ("SUPERSET_FEATURE_ALERTS", SSM, "set by Showtime"),
            ("FLASK_DEBUG", SSM, "set by Showtime"),
            ("SHOWTIME_CACHE", SSM, "set by Showtime"),
            ("DB", "hunter2", "not an ARN"),
        ] {
            let err = Secrets::parse(&table(&[(name, value)]), "SUPERSET_FEATURE_")
                .err()
                .unwrap_or_else(|| panic!("{name} = {value} is refused"));
            match &err {
                AwsError::Setting { name: at, message } => {
                    assert_eq!(at, name);
                    assert!(message.contains(why), "{name}: {message}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    fn secrets_of(c: &ContainerDefinition) -> Vec<(String, String)> {
        c.secrets()
            .iter()
            .map(|s| (s.name().to_owned(), s.value_from().to_owned()))
            .collect()
    }

    #[test]
    fn secrets_replace_plain_values_and_leave_when_removed() {
        const KEY: &str = "arn:aws:ssm:us-west-2:123456789012:parameter/showtime/key";
        const DB: &str = "arn:aws:secretsmanager:us-west-2:123456789012:secret:db-AbCdEf";
        let table: BTreeMap<String, String> = [
            ("SUPERSET_SECRET_KEY".to_owned(), KEY.to_owned()),
            ("DATABASE_URL".to_owned(), format!("{DB}:url::")),
        ]
        .into();
        let secrets = Secrets::parse(&table, "SUPERSET_FEATURE_").unwrap_or_else(|e| panic!("{e}"));
        let draft = parse(DEFAULT_TEMPLATE, &vars()).unwrap_or_else(|e| panic!("{e}"));
        let template = draft.containers[0].clone();
        assert!(
            env_of(&template)
                .iter()
                .any(|(k, _)| k == "SUPERSET_SECRET_KEY")
        );

        let mut c = template.clone();
        apply_secrets(&mut c, &template, &secrets).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            secrets_of(&c),
            [
                ("DATABASE_URL".to_owned(), format!("{DB}:url::")),
                ("SUPERSET_SECRET_KEY".to_owned(), KEY.to_owned()),
            ]
        );
        assert!(
            !env_of(&c).iter().any(|(k, _)| k == "SUPERSET_SECRET_KEY"),
            "a secret replaces the template's plain value"
        );
        assert_eq!(env_of(&c).len() + 1, env_of(&template).len());

        // The secret removed from the settings: the next revision has no
        // secrets, and the template's plain value again.
        apply_secrets(&mut c, &template, &Secrets::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.secrets().is_empty());
        let mut back = env_of(&c);
        let mut expected = env_of(&template);
        back.sort();
        expected.sort();
        assert_eq!(back, expected);
    }

    #[test]
    fn secrets_need_an_execution_role() {
        let table: BTreeMap<String, String> = [(
            "API_TOKEN".to_owned(),
            "arn:aws:ssm:us-west-2:123456789012:parameter/token".to_owned(),
        )]
        .into();
        let secrets = Secrets::parse(&table, "SUPERSET_FEATURE_").unwrap_or_else(|e| panic!("{e}"));
        let text = r#"{"containerDefinitions":[{"name":"a","image":"x"}]}"#;
        let mut draft = parse(text, &vars()).unwrap_or_else(|e| panic!("{e}"));
        assert!(draft.check_secrets().is_ok(), "no secrets, no role needed");
        let template = draft.containers[0].clone();
        apply_secrets(&mut draft.containers[0], &template, &secrets)
            .unwrap_or_else(|e| panic!("{e}"));
        let err = draft
            .check_secrets()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("executionRoleArn"), "{err}");
        draft.execution_role_arn = Some("ecsTaskExecutionRole".to_owned());
        assert!(draft.check_secrets().is_ok());
    }
}
