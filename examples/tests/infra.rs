//! The CloudFormation template `examples/infra/showtime.yaml`, kept in step
//! with the code.
//!
//! The template is read as YAML (CloudFormation's short forms, `!Ref`,
//! `!Sub`..., turned into their long forms) and checked against what the
//! programs really do: every `SHOWTIME_*`/`GITHUB_*` variable the functions
//! get is one the code reads, and the worker's settings pass the programs'
//! own parsers; the roles grant the README's IAM list and nothing on `*`
//! that IAM lets one scope; the queue is FIFO with a dead-letter queue; the
//! reconcile alarm reads a metric under dimensions the metrics code writes;
//! the dashboard searches the metrics under the dimensions they have.
//! `examples/infra/deploy_into_moto.py` deploys the template into moto, and
//! cfn-lint checks it (both from `scripts/check`).

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml_ng::{Mapping, Value};
use showtime_core::engine::{EngineError, Outcome};
use showtime_core::plan::{Event, Next, Plan, Step};
use showtime_core::ports::EnvId;
use showtime_core::sweep::SweepReport;
use showtime_core::{PrNumber, Status};
use showtime_examples::lambda::Role;
use showtime_runtime::config::{Overrides, Settings};
use showtime_runtime::logs::LogFormat;
use showtime_runtime::metrics::emf::{NAMESPACE, ROLLUPS};
use showtime_runtime::metrics::{Metrics, MetricsFormat};

/// The `Program` dimension of the Lambda functions' metrics.
const LAMBDA_PROGRAM: &str = showtime_examples::lambda::PROGRAM;
/// Actions that IAM lets one grant on `*` only (no resource type, or a
/// listing that a condition scopes instead).
const UNSCOPABLE: &[&str] = &[
    "ecs:RegisterTaskDefinition",
    "ecs:DeregisterTaskDefinition",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTaskDefinitions",
    "ec2:DescribeNetworkInterfaces",
    "ecr:GetAuthorizationToken",
];
/// Listings granted on `*` under an `ecs:cluster` condition.
const CLUSTER_CONDITIONED: &[&str] = &["ecs:ListServices", "ecs:ListTasks"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// CloudFormation's short form `!Name value` as its long form.
fn long_form(value: Value) -> Value {
    match value {
        Value::Tagged(tagged) => {
            let name = tagged.tag.to_string();
            let name = name.trim_start_matches('!');
            let inner = long_form(tagged.value);
            let (key, inner) = match (name, inner) {
                ("Ref" | "Condition", inner) => (name.to_owned(), inner),
                ("GetAtt", Value::String(path)) => {
                    let (resource, attribute) = path.split_once('.').unwrap();
                    (
                        "Fn::GetAtt".to_owned(),
                        Value::Sequence(vec![resource.into(), attribute.into()]),
                    )
                }
                (_, inner) => (format!("Fn::{name}"), inner),
            };
            let mut map = Mapping::new();
            map.insert(key.into(), inner);
            Value::Mapping(map)
        }
        Value::Mapping(map) => Value::Mapping(
            map.into_iter()
                .map(|(k, v)| (k, long_form(v)))
                .collect::<Mapping>(),
        ),
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(long_form).collect()),
        other => other,
    }
}

struct Template {
    doc: Value,
}

impl Template {
    fn load() -> Template {
        let path = workspace().join("examples/infra/showtime.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
        Template {
            doc: long_form(doc),
        }
    }

    fn resource(&self, name: &str) -> &Value {
        self.doc["Resources"]
            .get(name)
            .unwrap_or_else(|| panic!("no resource {name}"))
    }

    fn props(&self, name: &str) -> &Value {
        &self.resource(name)["Properties"]
    }

    /// `(name, resource)` of every resource of `kind`.
    fn of_type(&self, kind: &str) -> Vec<(&str, &Value)> {
        self.doc["Resources"]
            .as_mapping()
            .unwrap()
            .iter()
            .filter(|(_, r)| r["Type"] == kind)
            .map(|(n, r)| (n.as_str().unwrap(), r))
            .collect()
    }

    fn default_of(&self, parameter: &str) -> Option<String> {
        let p = self.doc["Parameters"].get(parameter)?;
        Some(scalar(p.get("Default")?))
    }

    /// The value `value` would have once deployed with `parameters` (the
    /// defaults otherwise); resources and pseudo parameters stand for
    /// themselves (`<Name>`, `<Name.Attribute>`). `None`: `AWS::NoValue`.
    fn evaluate(&self, value: &Value, parameters: &BTreeMap<&str, String>) -> Option<String> {
        let lookup = |name: &str| -> Option<String> {
            if name == "AWS::NoValue" {
                return None;
            }
            Some(
                parameters
                    .get(name)
                    .cloned()
                    .or_else(|| self.default_of(name))
                    .unwrap_or_else(|| format!("<{name}>")),
            )
        };
        let Value::Mapping(map) = value else {
            return Some(scalar(value));
        };
        let (key, inner) = map.iter().next().unwrap();
        match key.as_str().unwrap() {
            "Ref" => lookup(inner.as_str().unwrap()),
            "Fn::GetAtt" => Some(format!("<{}.{}>", scalar(&inner[0]), scalar(&inner[1]))),
            "Fn::Sub" => {
                let mut text = inner.as_str().unwrap().to_owned();
                while let Some(start) = text.find("${") {
                    let end = start + text[start..].find('}').unwrap();
                    let name = &text[start + 2..end];
                    let value = if name.contains('.') {
                        format!("<{name}>")
                    } else {
                        lookup(name).unwrap()
                    };
                    text.replace_range(start..=end, &value);
                }
                Some(text)
            }
            "Fn::If" => {
                let condition = self.condition(inner[0].as_str().unwrap(), parameters);
                self.evaluate(&inner[if condition { 1 } else { 2 }], parameters)
            }
            other => panic!("{other} is not evaluated here"),
        }
    }

    /// A condition of the `Conditions` section, for `parameters`.
    fn condition(&self, name: &str, parameters: &BTreeMap<&str, String>) -> bool {
        self.truth(&self.doc["Conditions"][name], parameters)
    }

    fn truth(&self, value: &Value, parameters: &BTreeMap<&str, String>) -> bool {
        let (key, inner) = value.as_mapping().unwrap().iter().next().unwrap();
        match key.as_str().unwrap() {
            "Fn::Not" => !self.truth(&inner[0], parameters),
            "Fn::Equals" => {
                let side = |v: &Value| match v.get("Fn::Join") {
                    // A list parameter joined: its text as given.
                    Some(join) => self.evaluate(&join[1], parameters).unwrap_or_default(),
                    None => self.evaluate(v, parameters).unwrap_or_default(),
                };
                side(&inner[0]) == side(&inner[1])
            }
            other => panic!("{other} is not evaluated here"),
        }
    }

    /// The variables of a function, deployed with `parameters`.
    fn environment(
        &self,
        function: &str,
        parameters: &BTreeMap<&str, String>,
    ) -> BTreeMap<String, String> {
        self.props(function)["Environment"]["Variables"]
            .as_mapping()
            .unwrap()
            .iter()
            .filter_map(|(k, v)| Some((scalar(k), self.evaluate(v, parameters)?)))
            .collect()
    }

    /// Every IAM statement that applies to the role `role`: its inline
    /// policies, its managed policies of this template, and the template's
    /// policies that name it.
    fn statements(&self, role: &str) -> Vec<&Value> {
        let props = self.props(role);
        let mut documents: Vec<&Value> = Vec::new();
        for policy in props["Policies"].as_sequence().into_iter().flatten() {
            documents.push(&policy["PolicyDocument"]);
        }
        for arn in props["ManagedPolicyArns"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let name = arn["Ref"]
                .as_str()
                .expect("a managed policy of this template");
            documents.push(&self.props(name)["PolicyDocument"]);
        }
        for (_, policy) in self.of_type("AWS::IAM::Policy") {
            let roles = serde_yaml_ng::to_string(&policy["Properties"]["Roles"]).unwrap();
            if roles.contains(role) {
                documents.push(&policy["Properties"]["PolicyDocument"]);
            }
        }
        documents
            .into_iter()
            .flat_map(|d| d["Statement"].as_sequence().unwrap())
            .collect()
    }

    /// Every action granted to `role`.
    fn actions(&self, role: &str) -> BTreeSet<String> {
        self.statements(role)
            .into_iter()
            .flat_map(actions_of)
            .collect()
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn actions_of(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::Sequence(items) => items.iter().map(scalar).collect(),
        one => vec![scalar(one)],
    }
}

/// The text of every Rust source file of the programs and libraries.
fn sources() -> String {
    fn walk(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut text = String::new();
    for dir in [
        "showtime-core/src",
        "showtime-github/src",
        "showtime-aws/src",
        "showtime-runtime/src",
        "examples/src",
    ] {
        walk(&workspace().join(dir), &mut text);
    }
    text
}

fn readme() -> String {
    std::fs::read_to_string(workspace().join("README.md")).unwrap()
}

/// The actions of the README's IAM policy ("AWS ECS backend").
fn readme_iam_list() -> BTreeSet<String> {
    let readme = readme();
    let start = readme.find("The IAM policy Showtime needs").unwrap();
    let block = &readme[start..];
    let block = &block[block.find("```json").unwrap() + 7..];
    let block = &block[..block.find("```").unwrap()];
    let policy: serde_json::Value = serde_json::from_str(block).unwrap();
    policy["Statement"][0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

/// The ECR push actions the README's GitHub Actions set-up adds.
fn readme_ecr_push() -> BTreeSet<String> {
    let readme = readme();
    let start = readme.find("ECR push").unwrap();
    let text = &readme[start..];
    let text = &text[text.find("(`ecr:").unwrap()..];
    let text = &text[..text.find(')').unwrap()];
    let push: BTreeSet<String> = text
        .split('`')
        .filter(|w| w.starts_with("ecr:"))
        .map(str::to_owned)
        .collect();
    assert!(push.len() >= 5, "{push:?}");
    push
}

#[test]
fn every_variable_the_functions_set_is_one_the_programs_read() {
    let template = Template::load();
    let sources = sources();
    let functions = template.of_type("AWS::Lambda::Function");
    assert_eq!(functions.len(), 3);
    for (name, _) in functions {
        let env = template.environment(name, &BTreeMap::new());
        for variable in env.keys() {
            // Lambda reserves these (AWS_REGION among them): setting one
            // fails the deployment.
            assert!(
                !variable.starts_with("AWS_") && !variable.starts_with("LAMBDA_"),
                "{name} sets the reserved {variable}"
            );
            if !variable.starts_with("SHOWTIME_") && !variable.starts_with("GITHUB_") {
                continue;
            }
            let read = sources.contains(&format!("\"{variable}\""));
            assert!(read, "{name} sets {variable}, which no program reads");
        }
        let role = env[showtime_examples::lambda::ROLE_VARIABLE].parse::<Role>();
        assert!(role.is_ok(), "{name}: {role:?}");
        assert_eq!(env["SHOWTIME_METRICS"], "emf", "{name}");
        assert_eq!(
            MetricsFormat::resolve(None, &|k| env.get(k).cloned()),
            Ok(MetricsFormat::Emf)
        );
        assert_eq!(env["SHOWTIME_LOG_FORMAT"].parse(), Ok(LogFormat::Json));
        assert!(env["GITHUB_REPOSITORY"].contains("GitHubRepository"));
    }
}

#[test]
fn the_functions_play_their_parts_with_what_each_needs() {
    let template = Template::load();
    let none = BTreeMap::new();
    let receiver = template.environment("Receiver", &none);
    let worker = template.environment("Worker", &none);
    let sweep = template.environment("Sweep", &none);
    assert_eq!(receiver["SHOWTIME_LAMBDA_ROLE"], "receiver");
    assert_eq!(worker["SHOWTIME_LAMBDA_ROLE"], "worker");
    assert_eq!(sweep["SHOWTIME_LAMBDA_ROLE"], "sweep");
    // The receiver checks signatures and queues; it holds no GitHub token.
    assert!(receiver["GITHUB_WEBHOOK_SECRET"].starts_with("{{resolve:secretsmanager:"));
    assert_eq!(receiver["SHOWTIME_SQS_QUEUE_URL"], "<WorkQueue>");
    assert!(!receiver.contains_key("GITHUB_TOKEN"));
    // The sweep is the worker without the queue.
    let mut as_worker = sweep.clone();
    as_worker.insert("SHOWTIME_LAMBDA_ROLE".into(), "worker".into());
    assert_eq!(worker, as_worker);
    assert!(worker["GITHUB_TOKEN"].starts_with("{{resolve:secretsmanager:"));
    assert!(!worker.contains_key("SHOWTIME_SQS_QUEUE_URL"));
    assert!(!worker.contains_key("SHOWTIME_TASK_DEFINITION"));
    let with_template: BTreeMap<&str, String> =
        [("TaskDefinitionPath", "/var/task/td.json".to_owned())].into();
    assert_eq!(
        template.environment("Worker", &with_template)["SHOWTIME_TASK_DEFINITION"],
        "/var/task/td.json"
    );
    for (name, function) in template.of_type("AWS::Lambda::Function") {
        let props = &function["Properties"];
        assert_eq!(props["Runtime"], "provided.al2023", "{name}");
        assert_eq!(props["Handler"], "bootstrap", "{name}");
    }
}

#[test]
fn the_worker_settings_pass_the_programs_own_parsers() {
    let template = Template::load();
    let capacities = template.doc["Parameters"]["EnvironmentCapacity"]["AllowedValues"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(scalar)
        .collect::<Vec<_>>();
    assert_eq!(capacities, ["fargate", "fargate-spot"]);
    for capacity in capacities {
        let parameters: BTreeMap<&str, String> = [
            ("EnvironmentCapacity", capacity),
            ("GitHubRepository", "apache/superset".to_owned()),
        ]
        .into();
        let env = template.environment("Worker", &parameters);
        let lookup = |k: &str| env.get(k).cloned();
        let settings = Settings::resolve(&Overrides::default(), &lookup).unwrap();
        assert_eq!(settings.repository.as_deref(), Some("apache/superset"));
        assert_eq!(settings.backend, showtime_runtime::config::BackendKind::Ecs);
        let ecs = showtime_runtime::wiring::ecs_settings(&settings, &lookup)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ecs.cluster, "<Cluster>");
        assert_eq!(ecs.subnets, ["<PublicSubnetA>", "<PublicSubnetB>"]);
        assert_eq!(ecs.security_groups, ["<EnvironmentSecurityGroup.GroupId>"]);
        assert_eq!(ecs.ecr_repository, "<Repository>");
        assert_eq!(
            ecs.image_template,
            "<AWS::AccountId>.dkr.ecr.<AWS::Region>.<AWS::URLSuffix>/{repository}:{tag}"
        );
        assert_eq!(ecs.container_port, 8080);
        // A reconcile ends within the worker's 900 s: the ready wait is
        // shorter, leaving time to write the outcome onto the PR.
        let timeout = template.props("Worker")["Timeout"].as_u64().unwrap();
        assert!(ecs.ready_timeout < Duration::from_secs(timeout));
    }
}

#[test]
fn the_roles_grant_the_readme_iam_list_scoped_to_the_stack() {
    let template = Template::load();
    let iam = readme_iam_list();
    for role in ["WorkerRole", "SweepRole", "DeployRole"] {
        let granted = template.actions(role);
        let missing: Vec<_> = iam.difference(&granted).collect();
        assert!(missing.is_empty(), "{role} lacks {missing:?}");
    }
    let deploy = template.actions("DeployRole");
    let missing: Vec<_> = readme_ecr_push()
        .into_iter()
        .filter(|a| !deploy.contains(a))
        .collect();
    assert!(missing.is_empty(), "the deploy role lacks {missing:?}");

    // The worker consumes the queue; the sweep does not touch it; the
    // receiver only sends (and writes its logs).
    let worker = template.actions("WorkerRole");
    for action in [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    ] {
        assert!(worker.contains(action), "{action}");
    }
    assert!(
        !template
            .actions("SweepRole")
            .iter()
            .any(|a| a.starts_with("sqs:"))
    );
    assert_eq!(
        template.actions("ReceiverRole"),
        BTreeSet::from(
            [
                "sqs:SendMessage",
                "logs:CreateLogStream",
                "logs:PutLogEvents"
            ]
            .map(String::from)
        )
    );

    // Least privilege: `*` only where IAM offers nothing narrower.
    for role in [
        "WorkerRole",
        "SweepRole",
        "DeployRole",
        "ReceiverRole",
        "TaskExecutionRole",
    ] {
        for statement in template.statements(role) {
            let actions = actions_of(statement);
            assert!(
                actions.iter().all(|a| !a.contains('*')),
                "{role}: {actions:?}"
            );
            if statement["Resource"] != "*" {
                continue;
            }
            for action in &actions {
                let conditioned = CLUSTER_CONDITIONED.contains(&action.as_str())
                    && statement["Condition"]["ArnEquals"]["ecs:cluster"].is_mapping();
                assert!(
                    UNSCOPABLE.contains(&action.as_str()) || conditioned,
                    "{role} grants {action} on *"
                );
            }
        }
    }
    // The one role the backend may pass is the preview tasks'.
    let pass: Vec<_> = template
        .statements("WorkerRole")
        .into_iter()
        .filter(|s| actions_of(s) == ["iam:PassRole"])
        .collect();
    assert_eq!(pass.len(), 1);
    assert_eq!(
        template
            .evaluate(&pass[0]["Resource"], &BTreeMap::new())
            .unwrap(),
        "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/ecsTaskExecutionRole"
    );
}

#[test]
fn the_deploy_role_trusts_this_repository_s_workflows_only() {
    let template = Template::load();
    let statement = &template.props("DeployRole")["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(statement["Action"], "sts:AssumeRoleWithWebIdentity");
    let condition = &statement["Condition"];
    assert_eq!(
        condition["StringEquals"]["token.actions.githubusercontent.com:aud"],
        "sts.amazonaws.com"
    );
    let parameters: BTreeMap<&str, String> =
        [("GitHubRepository", "apache/superset".to_owned())].into();
    let sub = &condition["StringLike"]["token.actions.githubusercontent.com:sub"];
    assert_eq!(
        template.evaluate(sub, &parameters).unwrap(),
        "repo:apache/superset:*"
    );
    let provider = template.props("GitHubOidcProvider");
    assert_eq!(
        provider["Url"],
        "https://token.actions.githubusercontent.com"
    );
}

#[test]
fn the_queue_is_fifo_with_a_dead_letter_queue() {
    let template = Template::load();
    let none = BTreeMap::new();
    let queue = template.props("WorkQueue");
    let dlq = template.props("DeadLetterQueue");
    for q in [queue, dlq] {
        assert_eq!(q["FifoQueue"], true);
        assert_eq!(q["ContentBasedDeduplication"], false);
        assert!(
            template
                .evaluate(&q["QueueName"], &none)
                .unwrap()
                .ends_with(".fifo")
        );
    }
    let redrive = &queue["RedrivePolicy"];
    assert_eq!(
        template
            .evaluate(&redrive["deadLetterTargetArn"], &none)
            .unwrap(),
        "<DeadLetterQueue.Arn>"
    );
    assert_eq!(
        template
            .evaluate(&redrive["maxReceiveCount"], &none)
            .unwrap(),
        "5"
    );
    // AWS's advice for an event source: at least 6 × the function timeout.
    let timeout = template.props("Worker")["Timeout"].as_u64().unwrap();
    assert!(queue["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout);

    let mapping = template.props("WorkerEvents");
    assert_eq!(
        template
            .evaluate(&mapping["EventSourceArn"], &none)
            .unwrap(),
        "<WorkQueue.Arn>"
    );
    assert_eq!(
        template.evaluate(&mapping["FunctionName"], &none).unwrap(),
        "<Worker>"
    );
    assert_eq!(mapping["BatchSize"], 10);
    assert_eq!(
        mapping["FunctionResponseTypes"][0],
        "ReportBatchItemFailures"
    );

    let alarm = template.props("DeadLetterAlarm");
    assert_eq!(alarm["Namespace"], "AWS/SQS");
    assert_eq!(alarm["MetricName"], "ApproximateNumberOfMessagesVisible");
    assert_eq!(
        template
            .evaluate(&alarm["Dimensions"][0]["Value"], &none)
            .unwrap(),
        "<DeadLetterQueue.QueueName>"
    );
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(alarm["Threshold"], 0);
}

/// What a reconcile of PR 42 did: one plan of `steps`.
fn outcome(steps: Vec<Step>) -> Result<Outcome, EngineError> {
    Ok(Outcome {
        pr: PrNumber::new(42).unwrap(),
        plans: vec![Plan {
            reason: "test".into(),
            steps,
            next: Next::Done,
            refusal: None,
            failure: None,
        }],
        audit: Vec::new(),
        labels: Vec::new(),
        failure: None,
        out_of_rounds: false,
        permission: None,
    })
}

/// The EMF lines the Lambda functions would write after a sweep in which
/// one PR's reconcile failed with an error, a create, a teardown, and the
/// queue's, the labels' and GitHub's figures: every metric there is.
fn lambda_emf() -> Vec<serde_json::Value> {
    let metrics = Metrics::new().with_emf(LAMBDA_PROGRAM);
    let env = EnvId::new(PrNumber::new(42).unwrap(), "abc1234".parse().unwrap());
    let since = Duration::from_secs(90);
    metrics.reconciled(
        &Event::Look,
        &outcome(vec![Step::AwaitReady(env.clone())]),
        since,
    );
    metrics.reconciled(&Event::Look, &outcome(vec![Step::Destroy(env)]), since);
    let report = SweepReport {
        errors: vec![(PrNumber::new(42).unwrap(), "GitHub answered 502".into())],
        ..SweepReport::default()
    };
    metrics.swept(&report);
    metrics.queue_depth(3);
    metrics.queue_wait(Duration::from_millis(250));
    metrics.environments(&[(Status::Running, 2)]);
    metrics.github(&showtime_github::Exchange {
        method: "GET",
        endpoint: "/repos/:owner/:repo/pulls/:pull_number".into(),
        status: Some(200),
        rate_limit_remaining: Some(4999),
        rate_limit_resource: Some("core".into()),
    });
    metrics
        .emf_lines(chrono::Utc::now())
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `(metric, dimension set)` of every metric declared in `lines`.
fn declared(lines: &[serde_json::Value]) -> BTreeSet<(String, Vec<String>)> {
    let mut out = BTreeSet::new();
    for line in lines {
        for directive in line["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            assert_eq!(directive["Namespace"], NAMESPACE);
            for metric in directive["Metrics"].as_array().unwrap() {
                for set in directive["Dimensions"].as_array().unwrap() {
                    let set = set
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|d| d.as_str().unwrap().to_owned())
                        .collect();
                    out.insert((metric["Name"].as_str().unwrap().to_owned(), set));
                }
            }
        }
    }
    out
}

#[test]
fn the_reconcile_alarm_reads_a_metric_the_code_writes() {
    let template = Template::load();
    let alarm = template.props("ReconcileErrorAlarm");
    assert_eq!(alarm["Namespace"], NAMESPACE);
    let metric = alarm["MetricName"].as_str().unwrap();
    let dimensions: Vec<(String, String)> = alarm["Dimensions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|d| (scalar(&d["Name"]), scalar(&d["Value"])))
        .collect();
    assert_eq!(
        dimensions,
        [
            ("Program".to_owned(), LAMBDA_PROGRAM.to_owned()),
            ("Outcome".to_owned(), "error".to_owned())
        ]
    );
    assert!(ROLLUPS.iter().any(|(m, _)| *m == metric));

    // A line that declares the metric under exactly these dimensions, with
    // exactly these values: what CloudWatch adds up for the alarm.
    let lines = lambda_emf();
    let names: Vec<&str> = dimensions.iter().map(|(n, _)| n.as_str()).collect();
    let matching = lines.iter().find(|line| {
        line.get(metric).is_some()
            && dimensions
                .iter()
                .all(|(n, v)| line[n.as_str()] == v.as_str())
            && declared(std::slice::from_ref(line))
                .iter()
                .any(|(m, set)| m == metric && *set == names)
    });
    assert!(
        matching.is_some(),
        "no line declares {metric} under {names:?}: {lines:?}"
    );
    assert_eq!(alarm["Statistic"], "Sum");
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
}

#[test]
fn the_dashboard_searches_the_metrics_under_the_dimensions_they_have() {
    let template = Template::load();
    let body = template.evaluate(
        &template.props("Dashboard")["DashboardBody"],
        &BTreeMap::new(),
    );
    let body: serde_json::Value = serde_json::from_str(&body.unwrap()).unwrap();
    // Every SEARCH: `{Showtime,Dim,...} MetricName="Name"`.
    let mut searched = BTreeSet::new();
    for widget in body["widgets"].as_array().unwrap() {
        for metric in widget["properties"]["metrics"].as_array().unwrap() {
            let Some(expression) = metric[0]["expression"].as_str() else {
                continue;
            };
            let schema =
                &expression[expression.find('{').unwrap() + 1..expression.find('}').unwrap()];
            let mut parts = schema.split(',');
            assert_eq!(parts.next(), Some(NAMESPACE), "{expression}");
            let set: Vec<String> = parts.map(str::to_owned).collect();
            let name = expression.split("MetricName=\"").nth(1).unwrap();
            let name = &name[..name.find('"').unwrap()];
            searched.insert((name.to_owned(), set));
        }
    }
    let names: BTreeSet<&str> = searched.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "Reconciles",
            "QueueDepth",
            "QueueWait",
            "TimeToReady",
            "TimeToDestroy",
            "Teardowns",
            "Environments",
            "GitHubRequests",
            "GitHubRateLimitRemaining",
        ])
    );
    // Each is searched under a dimension set the code declares it with, and
    // every metric the code writes is on the dashboard.
    let written = declared(&lambda_emf());
    for (name, set) in &searched {
        assert!(
            written.contains(&(name.clone(), set.clone())),
            "{name} under {set:?}: {written:?}"
        );
    }
    let written_names: BTreeSet<&str> = written.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(written_names, names);
}
