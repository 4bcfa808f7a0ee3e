"""Fixed physical names the synthesized templates create, and whether each is still free (issue #22).

A resource whose template sets its name (a log group, a bucket, a role, an alias...) fails its create with
"already exists" when something of that name is already in the account (or, for S3 buckets, anywhere):
a leftover of an earlier failed deploy, another stack, a hand-made one. The names are read from the
templates, never listed by hand: `NAME_PROPERTIES` says, per resource type, which property holds the
physical name and how to look it up (one read-only call each); `NOT_NAMES` lists the name-like
properties that create no account-unique name (references to other resources, display names, names
scoped inside their parent). tests/test_deploy_correctness.py holds every literal name-like property of
every synthesized template to one of the two tables, so a new kind cannot slip past.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

Template = dict[str, Any]
# (account client factory, region, name, resource properties) -> whether the name is taken
Lookup = Callable[[Any, str, str, dict[str, Any]], bool]


@dataclass(frozen=True)
class FixedName:
    stack: str
    region: str
    logical_id: str
    resource_type: str
    name: str

    def __str__(self) -> str:
        return f"{self.resource_type} {self.name}"


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _taken(call: Callable[[], Any], *absent: str) -> bool:
    """True when `call` answers; False when it fails with one of the `absent` error codes."""
    try:
        call()
    except ClientError as err:
        if _code(err) in absent:
            return False
        raise
    return True


def _bucket(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    # HeadBucket: 404 when no bucket of that name exists anywhere; 403 when another account owns it
    # (bucket names are global: "Bucket naming rules", Amazon S3 User Guide).
    try:
        clients("s3", region).head_bucket(Bucket=name)
    except ClientError as err:
        if _code(err) in ("404", "NoSuchBucket", "NotFound"):
            return False
        if _code(err) in ("403", "AccessDenied", "Forbidden"):
            return True
        raise
    return True


def _log_group(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    groups = clients("logs", region).describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return any(g["logGroupName"] == name for g in groups)


def _role(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return _taken(lambda: clients("iam", region).get_role(RoleName=name), "NoSuchEntity")


def _managed_policy(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    iam = clients("iam", region)
    path = props.get("Path", "/") if isinstance(props.get("Path", "/"), str) else "/"
    account = clients("sts", region).get_caller_identity()["Account"]
    arn = f"arn:aws:iam::{account}:policy{path}{name}"
    return _taken(lambda: iam.get_policy(PolicyArn=arn), "NoSuchEntity")


def _oidc_provider(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    host = name.removeprefix("https://")
    arns = clients("iam", region).list_open_id_connect_providers()["OpenIDConnectProviderList"]
    return any(str(p["Arn"]).endswith(f":oidc-provider/{host}") for p in arns)


def _alias(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return _taken(lambda: clients("kms", region).describe_key(KeyId=name), "NotFoundException")


def _topic(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    account = clients("sts", region).get_caller_identity()["Account"]
    arn = f"arn:aws:sns:{region}:{account}:{name}"
    return _taken(lambda: clients("sns", region).get_topic_attributes(TopicArn=arn), "NotFound", "NotFoundException")


def _queue(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return _taken(
        lambda: clients("sqs", region).get_queue_url(QueueName=name),
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    )


def _secret(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    # A secret scheduled for deletion still holds its name until the recovery window ends.
    return _taken(lambda: clients("secretsmanager", region).describe_secret(SecretId=name), "ResourceNotFoundException")


def _parameter(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    found = clients("ssm", region).describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}]
    )["Parameters"]
    return bool(found)


def _function(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return _taken(lambda: clients("lambda", region).get_function(FunctionName=name), "ResourceNotFoundException")


def _db_instance(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return _taken(lambda: clients("rds", region).describe_db_instances(DBInstanceIdentifier=name), "DBInstanceNotFound")


def _db_proxy(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return _taken(lambda: clients("rds", region).describe_db_proxies(DBProxyName=name), "DBProxyNotFoundFault")


def _firewall(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return _taken(
        lambda: clients("network-firewall", region).describe_firewall(FirewallName=name), "ResourceNotFoundException"
    )


def _firewall_policy(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return _taken(
        lambda: clients("network-firewall", region).describe_firewall_policy(FirewallPolicyName=name),
        "ResourceNotFoundException",
    )


def _rule_group(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    kind = props.get("Type", "STATEFUL")
    return _taken(
        lambda: clients("network-firewall", region).describe_rule_group(RuleGroupName=name, Type=kind),
        "ResourceNotFoundException",
    )


def _web_acl(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    scope = props.get("Scope", "REGIONAL")
    wafv2 = clients("wafv2", "us-east-1" if scope == "CLOUDFRONT" else region)
    marker, names = None, set()
    while True:
        page = wafv2.list_web_acls(Scope=scope, **({"NextMarker": marker} if marker else {}))
        names |= {acl["Name"] for acl in page.get("WebACLs", [])}
        marker = page.get("NextMarker")
        if not marker or not page.get("WebACLs"):
            return name in names


def _target_group(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return _taken(lambda: clients("elbv2", region).describe_target_groups(Names=[name]), "TargetGroupNotFound")


def _load_balancer(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return _taken(lambda: clients("elbv2", region).describe_load_balancers(Names=[name]), "LoadBalancerNotFound")


def _trust_store(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return _taken(lambda: clients("elbv2", region).describe_trust_stores(Names=[name]), "TrustStoreNotFound")


def _trail(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return _taken(lambda: clients("cloudtrail", region).get_trail(Name=name), "TrailNotFoundException")


def _alarm(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return bool(clients("cloudwatch", region).describe_alarms(AlarmNames=[name])["MetricAlarms"])


def _conformance_pack(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return _taken(
        lambda: clients("config", region).describe_conformance_packs(ConformancePackNames=[name]),
        "NoSuchConformancePackException",
    )


def _analyzer(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return _taken(
        lambda: clients("accessanalyzer", region).get_analyzer(analyzerName=name), "ResourceNotFoundException"
    )


def _log_resource_policy(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    policies = clients("logs", region).describe_resource_policies()["resourcePolicies"]
    return any(p["policyName"] == name for p in policies)


def _pipeline(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return _taken(lambda: clients("codepipeline", region).get_pipeline(name=name), "PipelineNotFoundException")


def _build_project(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    return bool(clients("codebuild", region).batch_get_projects(names=[name])["projects"])


def _scp(clients: Any, region: str, name: str, props: dict[str, Any]) -> bool:
    kind = props.get("Type", "SERVICE_CONTROL_POLICY")
    pages = clients("organizations", region).get_paginator("list_policies").paginate(Filter=kind)
    return any(p["Name"] == name for page in pages for p in page["Policies"])


@dataclass(frozen=True)
class NameSpec:
    path: tuple[str, ...]  # property path to the physical name
    lookup: Lookup
    scope: str  # "region", "account" (IAM: one namespace for every region) or "global" (S3 bucket names)


NAME_PROPERTIES: dict[str, NameSpec] = {
    "AWS::S3::Bucket": NameSpec(("BucketName",), _bucket, "global"),
    "AWS::Logs::LogGroup": NameSpec(("LogGroupName",), _log_group, "region"),
    "AWS::Logs::ResourcePolicy": NameSpec(("PolicyName",), _log_resource_policy, "region"),
    "AWS::IAM::Role": NameSpec(("RoleName",), _role, "account"),
    "AWS::IAM::ManagedPolicy": NameSpec(("ManagedPolicyName",), _managed_policy, "account"),
    "AWS::IAM::OIDCProvider": NameSpec(("Url",), _oidc_provider, "account"),
    "AWS::KMS::Alias": NameSpec(("AliasName",), _alias, "region"),
    "AWS::SNS::Topic": NameSpec(("TopicName",), _topic, "region"),
    "AWS::SQS::Queue": NameSpec(("QueueName",), _queue, "region"),
    "AWS::SecretsManager::Secret": NameSpec(("Name",), _secret, "region"),
    # The hosted rotation function the Secrets Manager transform creates under this name.
    "AWS::SecretsManager::RotationSchedule": NameSpec(
        ("HostedRotationLambda", "RotationLambdaName"), _function, "region"
    ),
    "AWS::SSM::Parameter": NameSpec(("Name",), _parameter, "region"),
    "AWS::Lambda::Function": NameSpec(("FunctionName",), _function, "region"),
    "AWS::RDS::DBInstance": NameSpec(("DBInstanceIdentifier",), _db_instance, "region"),
    "AWS::RDS::DBProxy": NameSpec(("DBProxyName",), _db_proxy, "region"),
    "AWS::NetworkFirewall::Firewall": NameSpec(("FirewallName",), _firewall, "region"),
    "AWS::NetworkFirewall::FirewallPolicy": NameSpec(("FirewallPolicyName",), _firewall_policy, "region"),
    "AWS::NetworkFirewall::RuleGroup": NameSpec(("RuleGroupName",), _rule_group, "region"),
    "AWS::WAFv2::WebACL": NameSpec(("Name",), _web_acl, "region"),
    "AWS::ElasticLoadBalancingV2::TargetGroup": NameSpec(("Name",), _target_group, "region"),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": NameSpec(("Name",), _load_balancer, "region"),
    "AWS::ElasticLoadBalancingV2::TrustStore": NameSpec(("Name",), _trust_store, "region"),
    "AWS::CloudTrail::Trail": NameSpec(("TrailName",), _trail, "region"),
    "AWS::CloudWatch::Alarm": NameSpec(("AlarmName",), _alarm, "region"),
    "AWS::Config::ConformancePack": NameSpec(("ConformancePackName",), _conformance_pack, "region"),
    # AWS's managed pack, put by the templates' custom resource (pci_constructs/detective_controls.py,
    # ManagedConformancePack): the same namespace, so the same lookup. PutConformancePack on a name taken
    # would update that pack in place and the stack's deletion would delete it.
    "Custom::ConfigManagedConformancePack": NameSpec(("ConformancePackName",), _conformance_pack, "region"),
    "AWS::AccessAnalyzer::Analyzer": NameSpec(("AnalyzerName",), _analyzer, "region"),
    "AWS::CodePipeline::Pipeline": NameSpec(("Name",), _pipeline, "region"),
    "AWS::CodeBuild::Project": NameSpec(("Name",), _build_project, "region"),
    "AWS::Organizations::Policy": NameSpec(("Name",), _scp, "account"),
}

# Name-like properties (ending in Name or Identifier, or a URL) that create no account-unique name.
NOT_NAMES: dict[tuple[str, str], str] = {
    ("AWS::CloudWatch::Alarm", "MetricName"): "the metric the alarm watches",
    ("AWS::SNS::Topic", "DisplayName"): "a label, not unique",
    ("AWS::RDS::DBInstance", "DBName"): "the database inside the instance",
    ("AWS::RDS::DBInstance", "CACertificateIdentifier"): "the AWS certificate authority it uses",
    ("AWS::RDS::DBProxyTargetGroup", "TargetGroupName"): "always 'default', scoped to its proxy",
    ("AWS::EC2::VPCEndpoint", "ServiceName"): "the AWS service the endpoint reaches",
    ("AWS::IAM::Policy", "PolicyName"): "an inline policy's name, scoped to the roles it is put on",
    ("AWS::Lambda::Alias", "Name"): "an alias name, scoped to its function",
    ("Custom::ConfigManagedConformancePack", "SourceIdentifier"): "which AWS managed pack to deploy, not a name",
}


def _pseudo(value: Any, region: str, account: str) -> str | None:
    if value == {"Ref": "AWS::Region"}:
        return region
    if value == {"Ref": "AWS::AccountId"}:
        return account
    if value == {"Ref": "AWS::Partition"}:
        return "aws"
    if value == {"Ref": "AWS::URLSuffix"}:
        return "amazonaws.com"
    return value if isinstance(value, str) else None


def literal(value: Any, region: str, account: str) -> str | None:
    """A name the template fixes: a string, or a Fn::Join of strings and pseudo parameters; None when the
    name depends on another resource or CloudFormation generates it."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        rendered = [_pseudo(part, region, account) for part in parts]
        if all(part is not None for part in rendered):
            return str(separator).join(p for p in rendered if p is not None)
    return None


def _at(props: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = props
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def fixed_names(stack: str, region: str, account: str, template: Template) -> Iterator[FixedName]:
    """Every physical name `template` fixes, of the types `NAME_PROPERTIES` knows."""
    for logical_id, resource in template.get("Resources", {}).items():
        spec = NAME_PROPERTIES.get(resource.get("Type", ""))
        if spec is None:
            continue
        name = literal(_at(resource.get("Properties") or {}, spec.path), region, account)
        if name is not None:
            yield FixedName(stack, region, logical_id, resource["Type"], name)


def name_like_properties(template: Template) -> Iterator[tuple[str, str]]:
    """(type, property) of every literal top-level property that looks like a physical name."""
    for resource in template.get("Resources", {}).values():
        for prop, value in (resource.get("Properties") or {}).items():
            if (prop.endswith(("Name", "Identifier")) or prop == "Url") and literal(value, "r", "a") is not None:
                yield resource["Type"], prop


@dataclass(frozen=True)
class StackTemplate:
    """One stack of a synthesized cloud assembly: its CloudFormation name, account, region and template."""

    name: str
    account: str
    region: str
    template: Template


def read_assembly(directory: Path) -> list[StackTemplate]:
    """The stacks of a cloud assembly directory (cdk.out), nested stage assemblies included, read from
    its manifest.json (no CDK import: preflight needs only the files)."""
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    found: list[StackTemplate] = []
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        kind, props = artifact.get("type"), artifact.get("properties", {})
        if kind == "aws:cloudformation:stack":
            _, _, where = str(artifact.get("environment", "aws://unknown/unknown")).partition("aws://")
            account, _, region = where.partition("/")
            template = json.loads((directory / props["templateFile"]).read_text(encoding="utf-8"))
            found.append(StackTemplate(props.get("stackName", artifact_id), account, region, template))
        elif kind == "cdk:cloud-assembly":
            found += read_assembly(directory / props["directoryName"])
    return found


def stacks_of(stacks: Iterable[StackTemplate], environment: str) -> list[StackTemplate]:
    """The stacks of one environment (`PciLz-<env>-...`)."""
    return [s for s in stacks if s.name.startswith(f"PciLz-{environment}-")]
