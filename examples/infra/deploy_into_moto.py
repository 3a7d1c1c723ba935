"""Deploys examples/infra/showtime.yaml into moto (in process, no network)
and checks what the stack created.

Run by scripts/check with the moto virtualenv's Python (scripts/moto):

    target/moto-venv/bin/python examples/infra/deploy_into_moto.py

moto's CloudFormation does not implement every resource type the template
uses. Those are listed in UNSUPPORTED with what stands in for them; the test
drops them from the parsed template before deploying (never from the file)
and fails when the list and moto disagree, so that a moto upgrade that
learns a type brings it into the deployment. Their definitions are checked
statically by examples/tests/infra.rs.
"""

import ast
import ipaddress
import json
import os
import pathlib
import unittest

import boto3
import yaml
from moto import mock_aws
from moto.cloudformation.parsing import resource_class_from_type

TEMPLATE = pathlib.Path(__file__).with_name("showtime.yaml")
REGION = "us-east-1"

# Resource types moto 5.2's CloudFormation cannot create, and why dropping
# them still leaves a meaningful deployment.
UNSUPPORTED = {
    # The two alarms; examples/tests/infra.rs checks their metrics and
    # dimensions against what the code writes.
    "AWS::CloudWatch::Alarm": "no CloudFormation model in moto",
    # The test creates the provider with the IAM API first and passes its ARN
    # (ExistingOidcProviderArn), the path of an account that has one.
    "AWS::IAM::OIDCProvider": "no CloudFormation model in moto",
    # The receiver's Function URL; its permissions are still deployed.
    "AWS::Lambda::Url": "no CloudFormation model in moto",
    # Only with AlarmEmail; the topic itself is deployed.
    "AWS::SNS::Subscription": "no CloudFormation model in moto",
}


# Intrinsic functions moto does not evaluate: the test evaluates them before
# deploying, as CloudFormation would.
#   Fn::Cidr: the subnets' blocks, carved from VpcCidr.


def evaluate_cidr(value, parameters):
    """value with every Fn::Cidr of a parameter replaced by its list of
    blocks (Python's ipaddress doing what CloudFormation does)."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Cidr"}:
            block, count, bits = value["Fn::Cidr"]
            network = ipaddress.ip_network(parameters[block["Ref"]])
            subnets = network.subnets(new_prefix=network.max_prefixlen - int(bits))
            return [str(next(subnets)) for _ in range(int(count))]
        return {k: evaluate_cidr(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate_cidr(v, parameters) for v in value]
    return value


# Properties moto's models accept and drop: after the stack is created, the
# test makes the API call CloudFormation would make with the template's value
# (so the value is at least one the API takes), then checks the result like
# the rest.
IGNORED_PROPERTIES = {
    ("AWS::EC2::Subnet", "MapPublicIpOnLaunch"),
    ("AWS::ECS::Cluster", "CapacityProviders"),
    ("AWS::ECS::Cluster", "DefaultCapacityProviderStrategy"),
    ("AWS::ECR::Repository", "LifecyclePolicy"),
    ("AWS::IAM::Role", "ManagedPolicyArns"),
}


def substitute(text, parameters):
    """A Fn::Sub string that names parameters only, filled in."""
    for name, value in parameters.items():
        text = text.replace("${" + name + "}", str(value))
    assert "${" not in text, f"not a parameter in {text!r}"
    return text


def apply_ignored_properties(client, template, physical, parameters):
    """Does what CloudFormation does with IGNORED_PROPERTIES; returns the
    (type, property) pairs it applied."""
    applied = set()
    for name, resource in template["Resources"].items():
        kind, props = resource["Type"], resource.get("Properties", {})
        for key in props:
            if (kind, key) not in IGNORED_PROPERTIES:
                continue
            applied.add((kind, key))
            if kind == "AWS::EC2::Subnet":
                client("ec2").modify_subnet_attribute(
                    SubnetId=physical[name], MapPublicIpOnLaunch={"Value": props[key]}
                )
            elif kind == "AWS::ECS::Cluster" and key == "CapacityProviders":
                strategy = [
                    {"capacityProvider": s["CapacityProvider"], "weight": s["Weight"]}
                    for s in props["DefaultCapacityProviderStrategy"]
                ]
                client("ecs").put_cluster_capacity_providers(
                    cluster=physical[name],
                    capacityProviders=props[key],
                    defaultCapacityProviderStrategy=strategy,
                )
            elif kind == "AWS::ECR::Repository":
                text = substitute(props[key]["LifecyclePolicyText"]["Fn::Sub"], parameters)
                client("ecr").put_lifecycle_policy(repositoryName=physical[name], lifecyclePolicyText=text)
            elif kind == "AWS::IAM::Role":
                for arn in props[key]:
                    client("iam").attach_role_policy(RoleName=physical[name], PolicyArn=physical[arn["Ref"]])
    return applied


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (!Ref, !Sub, !GetAtt ...)."""


def _intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + suffix: value}


_Loader.add_multi_constructor("!", _intrinsic)


def load_template():
    with TEMPLATE.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)  # noqa: S506 (a SafeLoader)


def mentions(value, names):
    """Whether an intrinsic in value refers to one of the resources names."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and inner in names:
                return True
            if key == "Fn::GetAtt" and inner[0] in names:
                return True
            if key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                if any("${" + n + "}" in text or "${" + n + "." in text for n in names):
                    return True
            if mentions(inner, names):
                return True
    elif isinstance(value, list):
        return any(mentions(v, names) for v in value)
    return False


def with_defaults(template, given):
    """Every parameter's value: given, else its default."""
    return {n: p.get("Default") for n, p in template["Parameters"].items()} | given


def for_moto(template, given):
    """The template without the resource types moto cannot create, and the
    outputs that name them, with the functions moto lacks evaluated for the
    parameters given (the others at their defaults)."""
    template["Resources"] = evaluate_cidr(template["Resources"], with_defaults(template, given))
    dropped = {
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] in UNSUPPORTED
    }
    template_resources = template["Resources"]
    template["Resources"] = {
        name: r for name, r in template_resources.items() if name not in dropped
    }
    # A conditional resource is named only under Fn::If of its condition
    # (cfn-lint checks that), which the parameters here make false.
    always = {n for n in dropped if "Condition" not in template_resources[n]}
    for name, resource in template["Resources"].items():
        assert not mentions(resource, always), f"{name} refers to a dropped resource"
    template["Outputs"] = {
        name: o for name, o in template["Outputs"].items() if not mentions(o, dropped)
    }
    return template, dropped


def document(policy):
    """An IAM policy document as a dict. moto answers some as JSON text, and
    the inline policies of a role made by CloudFormation as Python's repr of
    the dict (a moto quirk; AWS answers JSON)."""
    if not isinstance(policy, str):
        return policy
    try:
        return json.loads(policy)
    except json.JSONDecodeError:
        return ast.literal_eval(policy)


class DeployIntoMoto(unittest.TestCase):
    """One stack, created once; each test reads a part of it."""

    @classmethod
    def setUpClass(cls):
        os.environ.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=REGION,
        )
        # Nothing may leave the process: moto intercepts every boto3 call.
        cls.mock = mock_aws()
        cls.mock.start()
        session = boto3.Session(region_name=REGION)
        cls.client = session.client

        # The code zip the functions name: any object will do for moto.
        s3 = cls.client("s3")
        s3.create_bucket(Bucket="showtime-code")
        s3.put_object(Bucket="showtime-code", Key="showtime-lambda.zip", Body=b"PK\x05\x06" + b"\0" * 18)
        # An account that has GitHub's OIDC provider already.
        cls.oidc_arn = cls.client("iam").create_open_id_connect_provider(
            Url="https://token.actions.githubusercontent.com",
            ClientIDList=["sts.amazonaws.com"],
            ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"],
        )["OpenIDConnectProviderArn"]
        cls.secret_arn = cls.client("secretsmanager").create_secret(
            Name="superset-secret-key", SecretString="not-a-secret"
        )["ARN"]

        given = {
            "GitHubRepository": "apache/superset",
            "CodeBucket": "showtime-code",
            "ExistingOidcProviderArn": cls.oidc_arn,
            "TaskSecretArns": cls.secret_arn,
        }
        template, cls.dropped = for_moto(load_template(), given)
        cfn = cls.client("cloudformation")
        cfn.create_stack(
            StackName="showtime",
            TemplateBody=json.dumps(template),
            Capabilities=["CAPABILITY_NAMED_IAM"],
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()],
        )
        stack = cfn.describe_stacks(StackName="showtime")["Stacks"][0]
        cls.stack = stack
        cls.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        cls.resources = {
            r["LogicalResourceId"]: r
            for r in cfn.describe_stack_resources(StackName="showtime")["StackResources"]
        }
        physical = {n: r.get("PhysicalResourceId") for n, r in cls.resources.items()}
        cls.applied = apply_ignored_properties(
            cls.client, template, physical, with_defaults(template, given)
        )

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def test_the_unsupported_list_is_what_moto_lacks(self):
        types = {r["Type"] for r in load_template()["Resources"].values()}
        # moto logs a warning for each type it lacks: expected here.
        with self.assertLogs("moto", level="WARNING"):
            lacking = {t for t in types if resource_class_from_type(t) is None}
        self.assertEqual(lacking, set(UNSUPPORTED), "update UNSUPPORTED to what moto lacks")
        self.assertEqual(
            self.dropped,
            {"DeadLetterAlarm", "ReconcileErrorAlarm", "GitHubOidcProvider", "ReceiverUrl", "AlarmEmailSubscription"},
        )

    def test_every_ignored_property_was_applied(self):
        self.assertEqual(self.applied, IGNORED_PROPERTIES)

    def test_the_stack_is_complete(self):
        self.assertEqual(self.stack["StackStatus"], "CREATE_COMPLETE")
        for name in self.load_resources():
            if name in self.dropped:
                continue
            self.assertIn(name, self.resources, f"{name} not created")
        # Conditions: an existing OIDC provider, task secrets given, no email.
        self.assertIn("TaskSecretsPolicy", self.resources)

    def load_resources(self):
        template = load_template()
        unconditional = {n for n, r in template["Resources"].items() if "Condition" not in r}
        return unconditional | {"TaskExecutionRole", "TaskSecretsPolicy"}

    def test_the_queue_is_fifo_with_a_dead_letter_queue(self):
        sqs = self.client("sqs")
        queue = sqs.get_queue_attributes(QueueUrl=self.outputs["QueueUrl"], AttributeNames=["All"])["Attributes"]
        dlq = sqs.get_queue_attributes(QueueUrl=self.outputs["DeadLetterQueueUrl"], AttributeNames=["All"])[
            "Attributes"
        ]
        self.assertTrue(self.outputs["QueueUrl"].endswith("/showtime.fifo"))
        self.assertTrue(self.outputs["DeadLetterQueueUrl"].endswith("/showtime-dlq.fifo"))
        self.assertEqual(queue["FifoQueue"], "true")
        self.assertEqual(queue["ContentBasedDeduplication"], "false")
        self.assertEqual(dlq["FifoQueue"], "true")
        redrive = json.loads(queue["RedrivePolicy"])
        self.assertEqual(redrive["deadLetterTargetArn"], dlq["QueueArn"])
        self.assertEqual(int(redrive["maxReceiveCount"]), 5)
        # At least 6 times the worker's timeout.
        worker = self.client("lambda").get_function_configuration(FunctionName="showtime-worker")
        self.assertGreaterEqual(int(queue["VisibilityTimeout"]), 6 * worker["Timeout"])

    def test_the_cluster_has_fargate_and_fargate_spot(self):
        cluster = self.client("ecs").describe_clusters(clusters=[self.outputs["ClusterName"]])["clusters"][0]
        self.assertEqual(cluster["clusterName"], "showtime")
        self.assertEqual(sorted(cluster["capacityProviders"]), ["FARGATE", "FARGATE_SPOT"])

    def test_the_network_has_two_public_subnets_and_the_security_group(self):
        ec2 = self.client("ec2")
        subnet_ids = self.outputs["Subnets"].split(",")
        subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]
        self.assertEqual(len({s["AvailabilityZone"] for s in subnets}), 2)
        self.assertTrue(all(s["MapPublicIpOnLaunch"] for s in subnets))
        table_id = self.resources["PublicRouteTable"]["PhysicalResourceId"]
        table = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]
        # moto keeps CloudFormation's subnet associations apart from the
        # table (describe_route_tables does not list them): the stack's
        # resources say they were made.
        for name in ["PublicSubnetARoutes", "PublicSubnetBRoutes"]:
            self.assertEqual(self.resources[name]["PhysicalResourceId"], table_id)
        default = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        self.assertEqual(
            [r["GatewayId"] for r in default], [self.resources["InternetGateway"]["PhysicalResourceId"]]
        )
        group = ec2.describe_security_groups(GroupIds=[self.outputs["SecurityGroup"]])["SecurityGroups"][0]
        ports = {(p["FromPort"], p["ToPort"]) for p in group["IpPermissions"]}
        self.assertEqual(ports, {(8080, 8080)})

    def test_the_repository_has_its_lifecycle_policy(self):
        ecr = self.client("ecr")
        repo = ecr.describe_repositories(repositoryNames=["showtime"])["repositories"][0]
        self.assertEqual(self.outputs["RepositoryUri"], repo["repositoryUri"])
        policy = json.loads(ecr.get_lifecycle_policy(repositoryName="showtime")["lifecyclePolicyText"])
        rules = {r["selection"]["tagStatus"]: r["selection"] for r in policy["rules"]}
        self.assertEqual(rules["untagged"]["countNumber"], 1)
        self.assertEqual(rules["tagged"]["tagPrefixList"], ["pr-"])
        self.assertEqual(rules["tagged"]["countNumber"], 14)

    def test_the_roles_and_their_policies(self):
        iam = self.client("iam")
        account = self.client("sts").get_caller_identity()["Account"]
        for role in ["showtime-receiver", "showtime-worker", "showtime-sweep", "showtime-github-actions", "ecsTaskExecutionRole"]:
            iam.get_role(RoleName=role)
        backend_arn = f"arn:aws:iam::{account}:policy/showtime-backend"
        for role in ["showtime-worker", "showtime-sweep", "showtime-github-actions"]:
            attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
            self.assertIn(backend_arn, [p["PolicyArn"] for p in attached], role)
        self.assertEqual(iam.list_attached_role_policies(RoleName="showtime-receiver")["AttachedPolicies"], [])

        backend = iam.get_policy_version(
            PolicyArn=backend_arn, VersionId=iam.get_policy(PolicyArn=backend_arn)["Policy"]["DefaultVersionId"]
        )["PolicyVersion"]["Document"]
        backend = document(backend)
        passrole = [s for s in backend["Statement"] if s["Action"] == "iam:PassRole"]
        self.assertEqual(passrole[0]["Resource"], f"arn:aws:iam::{account}:role/ecsTaskExecutionRole")

        receiver = document(
            iam.get_role_policy(RoleName="showtime-receiver", PolicyName="queue-deliveries")["PolicyDocument"]
        )
        actions = [s["Action"] for s in receiver["Statement"]]
        self.assertIn("sqs:SendMessage", actions)
        self.assertNotIn("sqs:ReceiveMessage", json.dumps(receiver))

        trust = iam.get_role(RoleName="showtime-github-actions")["Role"]["AssumeRolePolicyDocument"]
        trust = document(trust)
        statement = trust["Statement"][0]
        self.assertEqual(statement["Principal"]["Federated"], self.oidc_arn)
        self.assertEqual(
            statement["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"], "repo:apache/superset:*"
        )
        self.assertEqual(
            statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"], "sts.amazonaws.com"
        )
        self.assertEqual(self.outputs["DeployRoleArn"], iam.get_role(RoleName="showtime-github-actions")["Role"]["Arn"])

        secrets = iam.get_role_policy(RoleName="ecsTaskExecutionRole", PolicyName="showtime-task-secrets")
        self.assertIn(self.secret_arn, json.dumps(secrets["PolicyDocument"]))

    def test_the_functions_follow_the_lambda_contract(self):
        lam = self.client("lambda")
        env = {}
        for role in ["receiver", "worker", "sweep"]:
            config = lam.get_function_configuration(FunctionName=f"showtime-{role}")
            self.assertEqual(config["Runtime"], "provided.al2023")
            self.assertEqual(config["Handler"], "bootstrap")
            self.assertEqual(config["Architectures"], ["x86_64"])
            env[role] = config["Environment"]["Variables"]
            self.assertEqual(env[role]["SHOWTIME_LAMBDA_ROLE"], role)
            self.assertEqual(env[role]["GITHUB_REPOSITORY"], "apache/superset")
            self.assertEqual(env[role]["SHOWTIME_METRICS"], "emf")
            self.assertEqual(env[role]["SHOWTIME_LOG_FORMAT"], "json")
            self.assertNotIn("AWS_REGION", env[role])
        self.assertEqual(env["receiver"]["SHOWTIME_SQS_QUEUE_URL"], self.outputs["QueueUrl"])
        # moto does not resolve dynamic references; CloudFormation does.
        self.assertEqual(
            env["receiver"]["GITHUB_WEBHOOK_SECRET"], "{{resolve:secretsmanager:showtime/webhook-secret}}"
        )
        self.assertNotIn("GITHUB_TOKEN", env["receiver"])
        self.assertEqual(env["worker"], {**env["sweep"], "SHOWTIME_LAMBDA_ROLE": "worker"})
        worker = env["worker"]
        self.assertEqual(worker["GITHUB_TOKEN"], "{{resolve:secretsmanager:showtime/github-token}}")
        self.assertEqual(worker["SHOWTIME_BACKEND"], "ecs")
        self.assertEqual(worker["SHOWTIME_ECS_CLUSTER"], self.outputs["ClusterName"])
        self.assertEqual(worker["SHOWTIME_ECS_SUBNETS"], self.outputs["Subnets"])
        self.assertEqual(worker["SHOWTIME_ECS_SECURITY_GROUPS"], self.outputs["SecurityGroup"])
        self.assertEqual(worker["SHOWTIME_ECR_REPOSITORY"], "showtime")
        self.assertEqual(
            worker["SHOWTIME_IMAGE_TEMPLATE"],
            self.outputs["RepositoryUri"].replace("/showtime", "/{repository}") + ":{tag}",
        )
        self.assertNotIn("SHOWTIME_TASK_DEFINITION", worker)
        self.assertNotIn("SHOWTIME_SQS_QUEUE_URL", worker)

        mappings = lam.list_event_source_mappings(FunctionName="showtime-worker")["EventSourceMappings"]
        self.assertEqual(len(mappings), 1)
        mapping = mappings[0]
        queue_arn = self.client("sqs").get_queue_attributes(
            QueueUrl=self.outputs["QueueUrl"], AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.assertEqual(mapping["EventSourceArn"], queue_arn)
        self.assertEqual(mapping["BatchSize"], 10)
        self.assertEqual(mapping["FunctionResponseTypes"], ["ReportBatchItemFailures"])

        policy = json.loads(lam.get_policy(FunctionName="showtime-receiver")["Policy"])
        actions = sorted(s["Action"] for s in policy["Statement"])
        self.assertEqual(actions, ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"])

    def test_the_sweep_runs_on_its_schedule(self):
        events = self.client("events")
        rule = events.describe_rule(Name="showtime-sweep")
        self.assertEqual(rule["ScheduleExpression"], "rate(30 minutes)")
        targets = events.list_targets_by_rule(Rule="showtime-sweep")["Targets"]
        sweep = self.client("lambda").get_function_configuration(FunctionName="showtime-sweep")
        self.assertEqual([t["Arn"] for t in targets], [sweep["FunctionArn"]])

    def test_log_groups_keep_logs_for_the_retention(self):
        logs = self.client("logs")
        for name in ["/aws/lambda/showtime-receiver", "/aws/lambda/showtime-worker", "/aws/lambda/showtime-sweep", "/ecs/superset-ci"]:
            groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
            self.assertEqual([(g["logGroupName"], g.get("retentionInDays")) for g in groups], [(name, 30)])

    def test_the_dashboard_shows_every_metric_the_programs_write(self):
        body = json.loads(self.client("cloudwatch").get_dashboard(DashboardName="showtime")["DashboardBody"])
        text = json.dumps(body)
        for metric in [
            "Reconciles",
            "QueueDepth",
            "QueueWait",
            "TimeToReady",
            "TimeToDestroy",
            "Teardowns",
            "Environments",
            "GitHubRequests",
            "GitHubRateLimitRemaining",
        ]:
            self.assertIn(f'MetricName=\\"{metric}\\"', text, metric)
        self.assertNotIn("${", text)

    def test_the_outputs_name_the_github_variables(self):
        variables = dict(pair.split("=", 1) for pair in self.outputs["GitHubVariables"].split(" "))
        self.assertEqual(
            sorted(variables),
            [
                "AWS_REGION",
                "SHOWTIME_AWS_ROLE_ARN",
                "SHOWTIME_ECR_REPOSITORY",
                "SHOWTIME_ECS_CLUSTER",
                "SHOWTIME_ECS_SECURITY_GROUPS",
                "SHOWTIME_ECS_SUBNETS",
            ],
        )
        self.assertEqual(variables["AWS_REGION"], REGION)
        self.assertEqual(variables["SHOWTIME_AWS_ROLE_ARN"], self.outputs["DeployRoleArn"])
        self.assertEqual(variables["SHOWTIME_ECS_SUBNETS"], self.outputs["Subnets"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
