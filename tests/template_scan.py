"""Walks synthesized CloudFormation templates for the deploy-correctness checks (issue #9).

Every helper takes plain template dicts (as `Synthesized.templates()` yields them), so the same
check runs over the session's default synthesis, a configuration variant, or a small bad app.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from compliance.service_conditions import PolicyKind

Template = dict[str, Any]

# Where each resource type keeps the policy document whose service-principal statements we check.
POLICY_DOCUMENTS: dict[str, tuple[str, PolicyKind]] = {
    "AWS::KMS::Key": ("KeyPolicy", "key"),
    "AWS::S3::BucketPolicy": ("PolicyDocument", "bucket"),
    "AWS::SNS::TopicPolicy": ("PolicyDocument", "topic"),
    "AWS::Logs::ResourcePolicy": ("PolicyDocument", "log-group"),
    "AWS::EC2::VPCEndpoint": ("PolicyDocument", "endpoint"),
    "AWS::IAM::Role": ("AssumeRolePolicyDocument", "trust"),
}
_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def resources(template: Template) -> dict[str, dict[str, Any]]:
    return dict(template.get("Resources", {}))


def empty_templates(templates: Iterable[tuple[str, Template]]) -> list[str]:
    """Stacks whose template creates nothing: CloudFormation refuses a template without resources
    (cfn-lint F0001), and CDK's own AWS::CDK::Metadata, which the CLI adds, does not count."""
    return [
        stack
        for stack, template in templates
        if not any(r.get("Type") != "AWS::CDK::Metadata" for r in resources(template).values())
    ]


def of_type(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in resources(template).items() if r["Type"] == resource_type}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def references(value: Any) -> set[str]:
    """Logical IDs a property value points at: Ref, Fn::GetAtt and ${X} inside Fn::Sub."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str) and not inner.startswith("AWS::"):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= set(_SUB_REFERENCE.findall(text))
                if isinstance(inner, list):
                    found |= references(inner[1:])
            else:
                found |= references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= references(inner)
    return found


def prerequisites(template: Template, logical_id: str) -> set[str]:
    """Everything CloudFormation creates before `logical_id`: DependsOn and references, transitively."""
    all_resources = resources(template)
    seen: set[str] = set()
    pending = [logical_id]
    while pending:
        resource = all_resources.get(pending.pop(), {})
        direct = set(as_list(resource.get("DependsOn", []))) | references(resource.get("Properties", {}))
        for other in direct - seen:
            if other in all_resources:
                seen.add(other)
                pending.append(other)
    return seen


def _rendered(document: Any) -> Any:
    """A policy document as a dict; JSON strings (log-group resource policies) are parsed, tokens kept."""
    if isinstance(document, str):
        return json.loads(document)
    if isinstance(document, dict) and "Fn::Join" in document:
        separator, parts = document["Fn::Join"]
        text = separator.join(part if isinstance(part, str) else "TOKEN" for part in parts)
        return json.loads(text)
    return document


@dataclass(frozen=True)
class ServiceStatement:
    stack: str
    logical_id: str
    kind: PolicyKind
    service: str
    sid: str
    condition_keys: frozenset[str]

    def __str__(self) -> str:
        return f"{self.stack}/{self.logical_id} ({self.kind}) {self.sid or '<no Sid>'} -> {self.service}"


def _services(principal: Any) -> list[str]:
    if not isinstance(principal, dict):
        return []
    services = principal.get("Service", [])
    return [s for s in as_list(services) if isinstance(s, str)]


def _function_permission(stack: str, logical_id: str, props: dict[str, Any]) -> Iterator[ServiceStatement]:
    """A Lambda permission for a service principal; its SourceArn/SourceAccount are those condition keys."""
    principal = props.get("Principal")
    if isinstance(principal, str) and principal.endswith(".amazonaws.com"):
        keys = frozenset(
            key
            for prop, key in (("SourceArn", "aws:SourceArn"), ("SourceAccount", "aws:SourceAccount"))
            if prop in props
        )
        yield ServiceStatement(stack, logical_id, "function", principal, "", keys)


def service_statements(templates: Iterable[tuple[str, Template]]) -> Iterator[ServiceStatement]:
    """Every service-principal statement of a key, bucket, topic, log-group, endpoint, trust or function policy."""
    for stack, template in templates:
        for logical_id, resource in resources(template).items():
            if resource["Type"] == "AWS::Lambda::Permission":
                yield from _function_permission(stack, logical_id, resource.get("Properties", {}))
                continue
            located = POLICY_DOCUMENTS.get(resource["Type"])
            if located is None:
                continue
            prop, kind = located
            document = resource.get("Properties", {}).get(prop)
            if document is None:
                continue
            for statement in as_list(_rendered(document).get("Statement", [])):
                condition = statement.get("Condition", {})
                keys = frozenset(key for operator in condition.values() for key in operator)
                for service in _services(statement.get("Principal")):
                    yield ServiceStatement(stack, logical_id, kind, service, statement.get("Sid", ""), keys)


def role_users_without_policies(template: Template) -> list[str]:
    """Resources that use a role of this template before every policy attached to that role exists.

    A policy is attached to a role by its `Roles` (AWS::IAM::Policy / ManagedPolicy). A user is any
    other resource whose properties reference the role, except IAM and key/bucket/topic policies,
    which only name it. Each finding reads `<user> uses <role> before <policy>`.
    """
    all_resources = resources(template)
    attached: dict[str, set[str]] = {}
    for policy_id, policy in all_resources.items():
        if policy["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for role in references(policy.get("Properties", {}).get("Roles", [])):
                attached.setdefault(role, set()).add(policy_id)
    not_users = {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role", *POLICY_DOCUMENTS}
    findings = []
    for user_id, user in all_resources.items():
        if user["Type"] in not_users:
            continue
        used_roles = references(user.get("Properties", {})) & attached.keys()
        if not used_roles:
            continue
        before = prerequisites(template, user_id)
        for role in sorted(used_roles):
            for policy_id in sorted(attached[role] - before):
                findings.append(f"{user_id} uses {role} before {policy_id}")
    return findings


def exports(template: Template) -> set[str]:
    """Export names, as literal strings (CDK writes them literally)."""
    return {
        output["Export"]["Name"]
        for output in template.get("Outputs", {}).values()
        if "Export" in output and isinstance(output["Export"]["Name"], str)
    }


def imports(template: Template) -> set[str]:
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "Fn::ImportValue" and isinstance(inner, str):
                    found.add(inner)
                else:
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(template.get("Resources", {}))
    walk(template.get("Outputs", {}))
    return found


def _statement_admits_anyone(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    anyone = principal == "*" or (isinstance(principal, dict) and as_list(principal.get("AWS")) == ["*"])
    return statement.get("Effect") == "Allow" and anyone and not statement.get("Condition")


def endpoint_gaps(template: Template, required: dict[str, list[tuple[str, str]]]) -> list[str]:
    """Endpoints whose policy does not let `required[service]` (action, resource) pairs through unconditioned.

    `service` is the last part of the endpoint's ServiceName (s3, sts, ...). Each gap reads
    `<endpoint>: <action> on <resource>`.
    """
    gaps = []
    for logical_id, endpoint in of_type(template, "AWS::EC2::VPCEndpoint").items():
        props = endpoint["Properties"]
        name = props["ServiceName"]
        rendered = (
            "".join(p if isinstance(p, str) else "" for p in name["Fn::Join"][1]) if isinstance(name, dict) else name
        )
        service = rendered.rsplit(".", 1)[-1]
        statements = [
            s for s in as_list(props.get("PolicyDocument", {}).get("Statement", [])) if _statement_admits_anyone(s)
        ]
        for action, resource in required.get(service, []):
            if not any(action in as_list(s["Action"]) and resource in as_list(s["Resource"]) for s in statements):
                gaps.append(f"{logical_id}: {action} on {resource}")
    return gaps


def _log_group_names(template: Template) -> dict[str, str | None]:
    return {lid: r["Properties"].get("LogGroupName") for lid, r in of_type(template, "AWS::Logs::LogGroup").items()}


def _literal(value: Any) -> str | None:
    """A string, or a Fn::Join of strings only; None when a token is in it."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        if all(isinstance(p, str) for p in parts):
            return str(separator.join(parts))
    return None


def log_destinations(template: Template) -> list[tuple[str, Any]]:
    """(writer, destination) for every log group a resource of this template writes to.

    The destination is a literal log-group name or a property value referencing a log group.
    Covered writers: Lambda functions (LoggingConfig, else /aws/lambda/<FunctionName>, else an
    unnamed function whose group AWS would create), hosted secret rotation functions, RDS log
    exports, enhanced monitoring and proxies, VPC flow logs, WAF logging, CloudTrail.
    """
    found: list[tuple[str, Any]] = []
    for lid, resource in resources(template).items():
        props, kind = resource.get("Properties", {}), resource["Type"]
        if kind == "AWS::Lambda::Function":
            logging_config = props.get("LoggingConfig", {})
            if "LogGroup" in logging_config:
                found.append((lid, logging_config["LogGroup"]))
            else:
                name = _literal(props.get("FunctionName"))
                found.append((lid, f"/aws/lambda/{name}" if name else None))
        elif kind == "AWS::SecretsManager::RotationSchedule" and "HostedRotationLambda" in props:
            name = _literal(props["HostedRotationLambda"].get("RotationLambdaName"))
            found.append((lid, f"/aws/lambda/{name}" if name else None))
        elif kind == "AWS::RDS::DBInstance":
            identifier = _literal(props.get("DBInstanceIdentifier"))
            for export in props.get("EnableCloudwatchLogsExports", []):
                found.append((lid, f"/aws/rds/instance/{identifier}/{export}" if identifier else None))
            if props.get("MonitoringInterval", 0):
                found.append((lid, "RDSOSMetrics"))
        elif kind == "AWS::RDS::DBProxy":
            name = _literal(props.get("DBProxyName"))
            found.append((lid, f"/aws/rds/proxy/{name}" if name else None))
        elif kind == "AWS::EC2::FlowLog" and props.get("LogDestinationType", "cloud-watch-logs") == "cloud-watch-logs":
            found.append((lid, props.get("LogGroupName", props.get("LogDestination"))))
        elif kind == "AWS::WAFv2::LoggingConfiguration":
            for destination in props.get("LogDestinationConfigs", []):
                found.append((lid, destination))
        elif kind == "AWS::CloudTrail::Trail" and "CloudWatchLogsLogGroupArn" in props:
            found.append((lid, props["CloudWatchLogsLogGroupArn"]))
    return found


def missing_log_groups(template: Template) -> list[str]:
    """Writers whose log group is not a resource of the same template: AWS would create it, unencrypted."""
    groups = _log_group_names(template)
    names = {name for name in groups.values() if isinstance(name, str)}
    missing = []
    for writer, destination in log_destinations(template):
        if destination is None:
            missing.append(f"{writer}: writes to a log group whose name is only known at deploy time")
            continue
        literal = _literal(destination)
        if literal is not None:
            # A WAF destination is a log-group ARN: arn:...:log-group:<name>
            name = literal.split(":log-group:")[-1].removesuffix(":*")
            if name not in names:
                missing.append(f"{writer}: {name}")
        elif not references(destination) & groups.keys() and not any(
            isinstance(n, str) and n in json.dumps(destination) for n in names
        ):
            missing.append(f"{writer}: {json.dumps(destination)}")
    return missing


def reserved_concurrency(template: Template) -> dict[str, int]:
    """Each function's ReservedConcurrentExecutions (functions that reserve none left out)."""
    return {
        lid: int(r["Properties"]["ReservedConcurrentExecutions"])
        for lid, r in of_type(template, "AWS::Lambda::Function").items()
        if r.get("Properties", {}).get("ReservedConcurrentExecutions") is not None
    }


def reservations_by_region(stacks: Iterable[tuple[str, Template]]) -> dict[str, int]:
    """Total reserved concurrency per region over (region, template) pairs."""
    totals: dict[str, int] = {}
    for region, template in stacks:
        totals[region] = totals.get(region, 0) + sum(reserved_concurrency(template).values())
    return totals


# Resource policies whose AWS principals the owning service validates when the policy is written.
_PRINCIPAL_DOCUMENTS: dict[str, str] = {
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::SecretsManager::ResourcePolicy": "ResourcePolicy",
    "AWS::IAM::Role": "AssumeRolePolicyDocument",
    "AWS::Logs::ResourcePolicy": "PolicyDocument",
}


def _principal_text(value: Any) -> str | None:
    """A principal as text: literals kept, `Ref: AWS::Partition`/`AccountId` filled in, None when any
    other token is part of it (a resource of the templates, which exists by its own dependency)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        rendered = [_principal_text(part) for part in parts]
        return None if any(p is None for p in rendered) else separator.join(p for p in rendered if p is not None)
    if value == {"Ref": "AWS::Partition"}:
        return "aws"
    return None


@dataclass(frozen=True)
class NamedPrincipal:
    stack: str
    logical_id: str
    principal: str

    def __str__(self) -> str:
        return f"{self.stack}/{self.logical_id} names {self.principal}"


def named_principals(templates: Iterable[tuple[str, Template]]) -> Iterator[NamedPrincipal]:
    """Every AWS principal (role, user, account) named in a resource, key, trust or function policy."""
    for stack, template in templates:
        for logical_id, resource in resources(template).items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::Lambda::Permission":
                text = _principal_text(props.get("Principal"))
                if text is not None and not text.endswith(".amazonaws.com"):
                    yield NamedPrincipal(stack, logical_id, text)
                continue
            prop = _PRINCIPAL_DOCUMENTS.get(resource["Type"])
            if prop is None or props.get(prop) is None:
                continue
            try:
                document = _rendered(props[prop])
            except json.JSONDecodeError:
                continue
            for statement in as_list(document.get("Statement", [])):
                principal = statement.get("Principal")
                if not isinstance(principal, dict):
                    continue
                for value in as_list(principal.get("AWS", [])):
                    text = _principal_text(value)
                    if text is not None:
                        yield NamedPrincipal(stack, logical_id, text)


def created_principals(template: Template) -> set[str]:
    """ARN suffixes (`role/<name>`, `user/<name>`) of the roles and users a template names literally."""
    created = set()
    for resource in resources(template).values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role" and isinstance(props.get("RoleName"), str):
            created.add(f"role{props.get('Path', '/')}{props['RoleName']}")
        elif resource["Type"] == "AWS::IAM::User" and isinstance(props.get("UserName"), str):
            created.add(f"user{props.get('Path', '/')}{props['UserName']}")
    return created


# Actions that hand a role key material or secret values it could use offline.
_KEY_MATERIAL_READS = ("secretsmanager:GetSecretValue", "ssm:GetParameter", "ssm:GetParameters")


def _role_actions(template: Template) -> dict[str, set[str]]:
    """Every action each role of the template is allowed by the identity policies attached to it."""
    allowed: dict[str, set[str]] = {}
    for policy in [
        *of_type(template, "AWS::IAM::ManagedPolicy").values(),
        *of_type(template, "AWS::IAM::Policy").values(),
    ]:
        props = policy.get("Properties") or {}
        actions = {
            action
            for statement in as_list((props.get("PolicyDocument") or {}).get("Statement"))
            if isinstance(statement, dict) and statement.get("Effect", "Allow") == "Allow"
            for action in as_list(statement.get("Action"))
        }
        for role in as_list(props.get("Roles")):
            for ref in references(role):
                allowed.setdefault(ref, set()).update(actions)
    for logical_id, role in of_type(template, "AWS::IAM::Role").items():
        for inline in as_list((role.get("Properties") or {}).get("Policies") or []):
            for statement in as_list((inline.get("PolicyDocument") or {}).get("Statement") or []):
                if isinstance(statement, dict) and statement.get("Effect", "Allow") == "Allow":
                    allowed.setdefault(logical_id, set()).update(as_list(statement.get("Action")))
    return allowed


def database_users_reading_key_material(template: Template) -> list[str]:
    """Roles that log in to a database as an application user (`rds-db:connect`) and can also read a secret
    value: such a role holds a key (an HMAC key, say) beside the rows it reads, so it can test guesses offline
    (issue 19, finding 3). A keyed-hash key belongs in KMS (GenerateMac), where every guess is a logged call."""
    return sorted(
        f"{role}: {sorted(actions & set(_KEY_MATERIAL_READS))}"
        for role, actions in _role_actions(template).items()
        if "rds-db:connect" in actions and actions & set(_KEY_MATERIAL_READS)
    )


# --- Issue #22: nothing a landing-zone role is granted is denied by the permissions boundary ----------


@dataclass(frozen=True)
class BoundaryConflict:
    stack: str
    role: str
    action: str
    resource: str
    denied_by: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.stack}: role {self.role} is granted {self.action} on {self.resource}, denied by {self.denied_by}"


# Where a resource's ARN is its Ref (SNS topics) or its GetAtt Arn (functions, rules), and the ARN's shape.
_TAGGED_ARNS = {
    "AWS::Lambda::Function": ("FunctionName", "arn:{p}:lambda:{r}:{a}:function:{n}"),
    "AWS::SNS::Topic": ("TopicName", "arn:{p}:sns:{r}:{a}:{n}"),
    "AWS::Events::Rule": ("Name", "arn:{p}:events:{r}:{a}:rule/{n}"),
}


def _tagged_arns(stack: str, template: Template, partition: str, region: str, account: str) -> dict[str, str]:
    """logical ID -> ARN of the resources whose tags the boundary's tag conditions read; a name
    CloudFormation generates is shaped like one (`<stack>-<logical ID>-GENERATED`)."""
    found = {}
    for logical_id, resource in resources(template).items():
        if resource["Type"] in _TAGGED_ARNS:
            name_key, shape = _TAGGED_ARNS[resource["Type"]]
            name = resource.get("Properties", {}).get(name_key)
            name = name if isinstance(name, str) else f"{stack}-{logical_id}-GENERATED"
            found[logical_id] = shape.format(p=partition, r=region, a=account, n=name)
    return found


def resource_tags(template: Template, logical_id: str) -> dict[str, str]:
    """A resource's literal tags (list of Key/Value, or a map as AWS::SSM::Parameter writes them)."""
    tags = resources(template)[logical_id].get("Properties", {}).get("Tags", [])
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {t["Key"]: t["Value"] for t in tags if isinstance(t, dict) and isinstance(t.get("Value"), str)}


def _known_names(template: Template, partition: str, region: str, account: str) -> dict[str, str]:
    """Ref / GetAtt values the templates fix by name: role names and log-group names (and their ARNs)."""
    known: dict[str, str] = {}
    for logical_id, resource in resources(template).items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role" and isinstance(props.get("RoleName"), str):
            known[logical_id] = props["RoleName"]
            known[f"{logical_id}.Arn"] = f"arn:{partition}:iam::{account}:role/{props['RoleName']}"
        if resource["Type"] == "AWS::Logs::LogGroup" and isinstance(props.get("LogGroupName"), str):
            known[logical_id] = props["LogGroupName"]
            known[f"{logical_id}.Arn"] = f"arn:{partition}:logs:{region}:{account}:log-group:{props['LogGroupName']}:*"
    return known


def _granted(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    """(role logical ID, Allow statement) for every identity policy attached to a role of the template."""
    for logical_id, resource in resources(template).items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for inline in props.get("Policies", []):
                for statement in as_list(inline["PolicyDocument"]["Statement"]):
                    yield logical_id, statement
        if resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            roles = [r["Ref"] for r in props.get("Roles", []) if isinstance(r, dict) and "Ref" in r]
            for statement in as_list(props["PolicyDocument"]["Statement"]):
                for role in roles:
                    yield role, statement


def boundary_conflicts(
    templates: Iterable[tuple[str, Template]],
    boundary: list[dict[str, Any]],
    *,
    account: str,
    regions: Iterable[str],
) -> list[BoundaryConflict]:
    """Each (role, action, resource) a role of the templates is granted that `boundary` denies for that role.

    The principal is the role's ARN: its fixed name, or a name shaped as CloudFormation generates one
    (`<stack>-<logical ID>-<suffix>`). A grant on `*` is compared with resource-scoped denies as `*`, so it
    counts only where the deny covers every resource (the role keeps the rest); a resource CloudFormation
    names at deploy time is unresolved and matches no named deny.
    """
    from tests.iam_eval import Request, denied_by, render

    region_names = tuple(regions)
    found = []
    for stack, template in templates:
        region = next((r for r in region_names if stack.endswith(r)), region_names[0])
        known = _known_names(template, "aws", region, account)
        arns = _tagged_arns(stack, template, "aws", region, account)
        tags_by_arn = {arn: resource_tags(template, lid) for lid, arn in arns.items()}
        rendered = {**known, **{f"{lid}.Arn": arn for lid, arn in arns.items()}}
        rendered |= {lid: arn for lid, arn in arns.items() if resources(template)[lid]["Type"] == "AWS::SNS::Topic"}
        for role, statement in _granted(template):
            if statement.get("Effect") != "Allow" or "Action" not in statement:
                continue
            name = known.get(role, f"{stack}-{role}-GENERATED")
            principal = {"aws:PrincipalArn": f"arn:aws:iam::{account}:role/{name}"}
            for action in as_list(statement["Action"]):
                for resource in as_list(render(statement.get("Resource", "*"), rendered)):
                    # The grant's own resource, and every tagged resource of the template it covers (a grant on
                    # `*` covers a protected function too): each with its tags as aws:ResourceTag/<key>.
                    own_tags = {f"aws:ResourceTag/{k}": v for k, v in tags_by_arn.get(str(resource), {}).items()}
                    own = denied_by(boundary, Request(str(action), str(resource), {**principal, **own_tags}))
                    if own:
                        found.append(BoundaryConflict(stack, name, str(action), str(resource), tuple(own)))
                    for target in (a for a in tags_by_arn if a != resource and _glob_arn(str(resource), a)):
                        tags = {f"aws:ResourceTag/{k}": v for k, v in tags_by_arn[target].items()}
                        sids = [
                            sid
                            for sid in denied_by(boundary, Request(str(action), target, {**principal, **tags}))
                            if sid not in own
                        ]
                        if sids:
                            found.append(BoundaryConflict(stack, name, str(action), target, tuple(sids)))
    return found


def _glob_arn(pattern: str, arn: str) -> bool:
    from fnmatch import fnmatchcase

    return pattern == "*" or fnmatchcase(arn, pattern)


# --- Issue #22: what the boundary protects by tag carries the tag ---------------------------------


def _service_token_functions(template: Template) -> set[str]:
    """Functions of the template a custom resource names as its ServiceToken (Ref or GetAtt)."""
    local = resources(template)
    found = set()
    for resource in local.values():
        kind = resource["Type"]
        if kind == "AWS::CloudFormation::CustomResource" or kind.startswith("Custom::"):
            for target in references(resource.get("Properties", {}).get("ServiceToken")):
                if local.get(target, {}).get("Type") == "AWS::Lambda::Function":
                    found.add(target)
    return found


def _alert_topics(template: Template) -> set[str]:
    """Topics of the template an alarm or an EventBridge rule notifies: the security alert path."""
    local = resources(template)
    named: set[str] = set()
    for resource in of_type(template, "AWS::CloudWatch::Alarm").values():
        for key in _ALARM_ACTION_KEYS:
            named |= references(resource.get("Properties", {}).get(key, []))
    for resource in of_type(template, "AWS::Events::Rule").values():
        named |= references([t.get("Arn") for t in resource.get("Properties", {}).get("Targets", [])])
    return {t for t in named if local.get(t, {}).get("Type") == "AWS::SNS::Topic"}


def _alert_rules(template: Template) -> set[str]:
    """EventBridge rules with an SNS topic as a target (a topic of the template, or an SNS ARN)."""
    local = resources(template)
    found = set()
    for logical_id, resource in of_type(template, "AWS::Events::Rule").items():
        for target in resource.get("Properties", {}).get("Targets", []):
            arn = target.get("Arn")
            to_topic = any(local.get(t, {}).get("Type") == "AWS::SNS::Topic" for t in references(arn))
            if to_topic or (isinstance(arn, str) and arn.split(":")[2:3] == ["sns"]):
                found.add(logical_id)
    return found


def protected_resources(template: Template) -> dict[str, str]:
    """logical ID -> kind of every resource the boundary protects by tag (issue #22): custom-resource
    functions (they run as the guard roles), alert topics and the rules to them."""
    kinds = dict.fromkeys(_service_token_functions(template), "custom-resource function")
    kinds |= dict.fromkeys(_alert_topics(template), "alert topic")
    kinds |= dict.fromkeys(_alert_rules(template), "alert rule")
    return kinds


def unprotected(templates: Iterable[tuple[str, Template]], key: str, value: str) -> list[str]:
    """Each resource of a protected kind that does not carry the protection tag `key`=`value`."""
    return sorted(
        f"{stack}/{lid} ({kind}) lacks the tag {key}={value}"
        for stack, template in templates
        for lid, kind in protected_resources(template).items()
        if resource_tags(template, lid).get(key) != value
    )


_ALARM_ACTION_KEYS = ("AlarmActions", "OKActions", "InsufficientDataActions")
_ARN_REGION = re.compile(r"^arn:[a-z-]+:sns:([a-z0-9-]*):")


def foreign_alarm_actions(stack: str, template: Template, region: str) -> list[str]:
    """Alarm actions that notify an SNS topic outside the alarm's region (CloudWatch cannot deliver them).

    An action is known to be in the region when it is a topic of the same template, an SSM
    parameter of the stack (regional by nature), or an ARN whose region part is the stack's own
    (or `${AWS::Region}`); anything else is reported.
    """
    faults = []
    parameters = template.get("Parameters", {})
    local = resources(template)
    for logical_id, alarm in of_type(template, "AWS::CloudWatch::Alarm").items():
        for key in _ALARM_ACTION_KEYS:
            for action in as_list(alarm.get("Properties", {}).get(key, [])):
                if _action_in_region(action, local, parameters, region):
                    continue
                faults.append(f"{stack}/{logical_id}.{key}: {json.dumps(action)}")
    return faults


def _action_in_region(action: Any, local: dict[str, Any], parameters: dict[str, Any], region: str) -> bool:
    if isinstance(action, str):
        match = _ARN_REGION.match(action)
        return match is None or match.group(1) == region  # not an SNS ARN: an EC2/SSM action of this region
    if isinstance(action, dict) and set(action) == {"Ref"}:
        target = action["Ref"]
        if target in local:
            return bool(local[target]["Type"] == "AWS::SNS::Topic")
        return str(parameters.get(target, {}).get("Type", "")).startswith("AWS::SSM::Parameter::Value")
    if isinstance(action, dict) and "Fn::Join" in action:
        separator, parts = action["Fn::Join"]
        text = separator.join(
            part if isinstance(part, str) else "${AWS::Region}" if part == {"Ref": "AWS::Region"} else "?"
            for part in parts
        )
        match = _ARN_REGION.match(text)
        return match is not None and match.group(1) in {region, "${AWS::Region}"}
    return False


# --- Issue #18 scanner kind 2: a function's security groups open to the internet -----------------

_ANYWHERE = {("CidrIp", "0.0.0.0/0"), ("CidrIpv6", "::/0")}


def _group_key(stack: str, value: Any, exported: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    """(stack, logical ID) of the security group a GroupId value names: a local GetAtt, or an import
    of another template's export of one; None for a literal ID or anything else."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return stack, value["Fn::GetAtt"][0]
    if isinstance(value, dict) and isinstance(value.get("Fn::ImportValue"), str):
        return exported.get(value["Fn::ImportValue"])
    return None


def functions_with_open_egress(templates: Iterable[tuple[str, Template]]) -> list[str]:
    """Lambda functions in a VPC one of whose security groups lets traffic out to 0.0.0.0/0 or ::/0
    (inline SecurityGroupEgress or a separate AWS::EC2::SecurityGroupEgress, in any template), or
    whose group the templates do not define (so its egress cannot be seen)."""
    templates = list(templates)
    exported: dict[str, tuple[str, str]] = {}
    for stack, template in templates:
        for output in template.get("Outputs", {}).values():
            value, name = output.get("Value"), output.get("Export", {}).get("Name")
            if isinstance(name, str) and isinstance(value, dict) and "Fn::GetAtt" in value:
                exported[name] = (stack, value["Fn::GetAtt"][0])
    egress: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for stack, template in templates:
        for logical_id, resource in of_type(template, "AWS::EC2::SecurityGroup").items():
            egress.setdefault((stack, logical_id), []).extend(
                as_list(resource.get("Properties", {}).get("SecurityGroupEgress", []))
            )
    for stack, template in templates:
        for resource in of_type(template, "AWS::EC2::SecurityGroupEgress").values():
            key = _group_key(stack, resource["Properties"].get("GroupId"), exported)
            if key is not None:
                egress.setdefault(key, []).append(resource["Properties"])
    found = []
    for stack, template in templates:
        for logical_id, function in of_type(template, "AWS::Lambda::Function").items():
            for group in as_list(function.get("Properties", {}).get("VpcConfig", {}).get("SecurityGroupIds", [])):
                key = _group_key(stack, group, exported)
                if key is None or key not in egress:
                    found.append(f"{stack}/{logical_id}: security group {json.dumps(group)} not in the templates")
                    continue
                for rule in egress[key]:
                    if any(rule.get(prop) == cidr for prop, cidr in _ANYWHERE):
                        found.append(f"{stack}/{logical_id}: {key[0]}/{key[1]} egress {json.dumps(rule)}")
    return found


def functions_without_active_tracing(templates: Iterable[tuple[str, Template]]) -> list[str]:
    """Issue #18 scanner kind 5: every AWS::Lambda::Function, CDK's own providers and singletons
    included, traces actively (no documented exception today)."""
    return [
        f"{stack}/{logical_id}"
        for stack, template in templates
        for logical_id, function in of_type(template, "AWS::Lambda::Function").items()
        if function.get("Properties", {}).get("TracingConfig", {}).get("Mode") != "Active"
    ]


def _label_keys(statement: Any) -> Iterator[str]:
    """Every LabelMatchStatement key inside a WAF rule statement (through And/Or/Not)."""
    if isinstance(statement, dict):
        for key, value in statement.items():
            if key == "LabelMatchStatement" and isinstance(value, dict):
                yield str(value.get("Key", ""))
            else:
                yield from _label_keys(value)
    elif isinstance(statement, list):
        for item in statement:
            yield from _label_keys(item)


def counted_managed_rules_not_reblocked(templates: Iterable[tuple[str, Template]]) -> list[str]:
    """Managed rules a web ACL downgrades to Count with no later Block rule matching their label.

    Counting a managed rule (a `RuleActionOverrides` entry) is only safe with a label match rule
    after the group that blocks what the rule matched wherever it should still apply ("Label
    match rule statement", AWS WAF Developer Guide). AWS labels a managed rule's matches
    `awswaf:managed:aws:<group>:<rule>`, rule names compared without case.
    """
    missing = []
    for stack, template in templates:
        for logical_id, acl in of_type(template, "AWS::WAFv2::WebACL").items():
            rules = acl["Properties"].get("Rules", [])
            for rule in rules:
                group = rule["Statement"].get("ManagedRuleGroupStatement")
                if not group:
                    continue
                for override in group.get("RuleActionOverrides", []):
                    if "Count" not in override["ActionToUse"]:
                        continue
                    suffix = ":" + override["Name"].lower()
                    if not any(
                        later["Priority"] > rule["Priority"]
                        and "Block" in later.get("Action", {})
                        and any(
                            k.startswith("awswaf:managed:aws:") and k.lower().endswith(suffix)
                            for k in _label_keys(later["Statement"])
                        )
                        for later in rules
                    ):
                        missing.append(f"{stack}/{logical_id}: {group['Name']}/{override['Name']}")
    return missing


def trigger_function(template: Template, trigger: dict[str, Any]) -> tuple[str, str | None]:
    """The function a Custom::Trigger invokes, and the alias name it invokes it through (None: a version)."""
    handler = next(iter(references(trigger["Properties"]["HandlerArn"])))
    target = resources(template).get(handler, {})
    alias = None
    if target.get("Type") == "AWS::Lambda::Alias":
        alias = str(target["Properties"]["Name"])
    if target.get("Type") in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
        handler = next(iter(references(target["Properties"]["FunctionName"])))
    return handler, alias


def migration_phase_gaps(template: Template, post_alias: str) -> list[str]:
    """Expand / contract across a deploy: every function run by a pre-deploy trigger (its version) must
    also be run by a post-deploy trigger (its `post_alias` alias), and that post trigger must come after
    every other resource of the template, each function update included, so no code of the previous
    release still runs when the contract migrations take away what it needed."""
    triggers = of_type(template, "Custom::Trigger")
    phases = {lid: trigger_function(template, t) for lid, t in triggers.items()}
    gaps = []
    everything = {lid for lid, r in resources(template).items() if r["Type"] != "AWS::CDK::Metadata"}
    for lid, (function, alias) in phases.items():
        if alias is not None:
            continue
        posts = [p for p, (f, a) in phases.items() if f == function and a == post_alias]
        if not posts:
            gaps.append(f"{function} has a pre-deploy trigger ({lid}) and no post-deploy trigger")
        for post in posts:
            for early in sorted(everything - {post} - prerequisites(template, post)):
                gaps.append(f"{post} (post-deploy) may run before {early}")
    return gaps


# --- Issue #22: a rolled-back first create leaves no resource behind ------------------------------------


def retained_through_failed_create(templates: Iterable[tuple[str, Template]]) -> list[str]:
    """Resources whose DeletionPolicy is `Retain`: when the deploy that created them rolls back,
    CloudFormation keeps them, and a fixed-name one then fails the retry with "already exists".
    `RetainExceptOnCreate` keeps them on every later delete but not on that rollback ("DeletionPolicy
    attribute", CloudFormation Template Reference). Each finding names the fixed name, if any."""
    from preflight.names import NAME_PROPERTIES, literal

    found = []
    for stack, template in templates:
        for logical_id, resource in resources(template).items():
            if resource.get("DeletionPolicy") != "Retain":
                continue
            spec = NAME_PROPERTIES.get(resource["Type"])
            value: Any = resource.get("Properties") or {}
            for key in spec.path if spec else ():
                value = value.get(key) if isinstance(value, dict) else None
            name = literal(value, "region", "account") if spec else None
            named = f", fixed name {name}" if name else ""
            found.append(f"{stack}/{logical_id} ({resource['Type']}{named}): DeletionPolicy Retain")
    return found


def unclassified_names(templates: Iterable[tuple[str, Template]]) -> list[str]:
    """(type, property) pairs with a literal name-like value that preflight neither looks up
    (`preflight.names.NAME_PROPERTIES`) nor declares as creating no account-unique name (`NOT_NAMES`)."""
    from preflight.names import NAME_PROPERTIES, NOT_NAMES, name_like_properties

    known = {(kind, spec.path[0]) for kind, spec in NAME_PROPERTIES.items()}
    return sorted(
        {
            f"{stack}: {kind}.{prop}"
            for stack, template in templates
            for kind, prop in name_like_properties(template)
            if (kind, prop) not in known and (kind, prop) not in NOT_NAMES
        }
    )


# --- A custom-named resource that an update would replace (issue #22, second review) -----------------------
# "Update behaviors of stack resources" (CloudFormation User Guide): a change to a create-only property
# replaces the resource, and "CloudFormation cannot update a stack when a custom-named resource requires
# replacing". The create-only properties and primary identifiers are the resource-provider schemas cfn-lint
# bundles (cfnlint/data/schemas: providers/<region>.json maps a type to resources/<hash>.json).


@dataclass(frozen=True)
class ProviderSchema:
    create_only: tuple[tuple[str, ...], ...]
    identifiers: tuple[str, ...]  # top-level properties of the primary identifier


def _schema_dir() -> Any:
    from importlib import resources as importlib_resources

    return importlib_resources.files("cfnlint") / "data" / "schemas"


_SCHEMAS: dict[str, ProviderSchema | None] = {}


def provider_schema(resource_type: str, region: str = "us-east-1") -> ProviderSchema | None:
    """The create-only properties and primary identifier of a type, None for a type the schemas lack
    (a custom resource)."""
    if resource_type not in _SCHEMAS:
        root = _schema_dir()
        providers = json.loads((root / "providers" / f"{region}.json").read_text(encoding="utf-8"))
        ref = providers.get(resource_type)  # the schema file's name, without .json
        if not isinstance(ref, str):
            _SCHEMAS[resource_type] = None
        else:
            schema = json.loads((root / "resources" / f"{ref}.json").read_text("utf-8"))
            paths = tuple(tuple(p.split("/")[2:]) for p in schema.get("createOnlyProperties", ()))
            ids = tuple(p.split("/")[2] for p in schema.get("primaryIdentifier", ()) if p.count("/") == 2)
            _SCHEMAS[resource_type] = ProviderSchema(create_only=paths, identifiers=ids)
    return _SCHEMAS[resource_type]


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def custom_name_properties(resource_type: str, schema: ProviderSchema) -> list[str]:
    """The create-only properties that name the resource: its primary identifier (DBProxyName, RoleName,
    BucketName, AlarmName), or `<type>Name` / `Name` where the identifier is an ARN (FirewallName)."""
    own = (f"{resource_type.rsplit('::', 1)[-1]}Name", "Name")
    return [p for (p, *rest) in schema.create_only if not rest and (p in schema.identifiers or p in own)]


def fixed_name_replacements(deployed: dict[str, Template], variant: dict[str, Template]) -> list[str]:
    """Resources of a stack in both app versions whose primary identifier is set in the template (a custom
    name: create-only and the identifier) and whose other create-only properties differ between them. A
    changed name replaces the resource under its new name, which CloudFormation can do."""
    found = []
    for stack, template in sorted(deployed.items()):
        after = resources(variant.get(stack, {}))
        for logical_id, resource in sorted(resources(template).items()):
            schema = provider_schema(resource["Type"])
            new = after.get(logical_id)
            if schema is None or new is None or new["Type"] != resource["Type"]:
                continue
            props, new_props = resource.get("Properties", {}), new.get("Properties", {})
            names = [p for p in custom_name_properties(resource["Type"], schema) if p in props]
            if not names or any(props[n] != new_props.get(n) for n in names):
                continue
            changed = [
                "/".join(path)
                for path in schema.create_only
                if path[0] not in names and _at(props, path) != _at(new_props, path)
            ]
            if changed:
                found.append(
                    f"{stack}/{logical_id} ({resource['Type']}, named {json.dumps(props[names[0]])}):"
                    f" {', '.join(changed)} change, which replaces a custom-named resource"
                )
    return found


# --- SDK calls CDK's AwsCustomResource makes at deploy time -------------------------------------------------


@functools.cache
def _botocore_session() -> Any:
    """One botocore session for the scan: its loader keeps each service model it has read, so a model the
    templates' calls name is read once per process, not once per call."""
    import botocore.session

    return botocore.session.get_session()


@functools.cache
def _service_names() -> dict[str, str]:
    """Each serviceId (spaces removed, lower case) and each service name (hyphens removed) -> the first
    service, in botocore's order, that has it. Built once per process from a throwaway session, so the
    ~450 models read for their serviceIds are not all kept in memory."""
    import botocore.session

    session = botocore.session.get_session()
    names: dict[str, str] = {}
    for name in session.get_available_services():
        model = session.get_service_model(name)
        service_id = str(model.metadata.get("serviceId", "")).replace(" ", "").lower()
        names.setdefault(service_id, name)
        names.setdefault(name.replace("-", ""), name)
    return names


def _service_model(service: str) -> Any:
    """botocore's model of the service an AwsCustomResource names (its JavaScript client name, such as
    "ConfigService", "EC2" or "S3Control", is the model's serviceId without spaces), or None."""
    wanted = service.removeprefix("@aws-sdk/client-").replace("-", "").replace(" ", "").lower()
    name = _service_names().get(wanted)
    return None if name is None else _botocore_session().get_service_model(name)


def _unmodelled(shape: Any, value: Any, path: str) -> Iterator[str]:
    if shape.type_name == "structure" and isinstance(value, dict):
        for key, item in value.items():
            if key not in shape.members:
                yield f"{path}.{key}"
            else:
                yield from _unmodelled(shape.members[key], item, f"{path}.{key}")
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unmodelled(shape.member, item, f"{path}[{index}]")


def sdk_call_unmodelled_parameters(templates: Iterable[tuple[str, Template]]) -> list[str]:
    """Every parameter of an AwsCustomResource call (`Custom::AWS` Create/Update/Delete) that the AWS API
    model of its operation does not have: the AWS SDK for JavaScript v3 serializes only modelled members,
    so such a parameter is dropped without an error and the call does less than the template says.
    Checked against botocore's model of this venv (the same API models; a member botocore has may still
    be missing from the SDK a Lambda runtime bundles, which is why the managed conformance pack is put
    by the project's own Python function instead). A call whose parameters are not literal JSON is skipped."""
    found = []
    for stack, template in templates:
        for logical_id, resource in of_type(template, "Custom::AWS").items():
            for phase in ("Create", "Update", "Delete"):
                rendered = resource.get("Properties", {}).get(phase)
                if not isinstance(rendered, str):
                    continue
                try:
                    call = json.loads(rendered)
                except ValueError:
                    continue
                model = _service_model(str(call.get("service", "")))
                where = f"{stack}/{logical_id} {phase}"
                if model is None:
                    found.append(f"{where}: no AWS API model for service {call.get('service')!r}")
                    continue
                action = str(call.get("action", ""))
                operation = action[:1].upper() + action[1:]
                if operation.removesuffix("Command") not in model.operation_names:
                    found.append(f"{where}: {model.service_name} has no operation {action!r}")
                    continue
                shape = model.operation_model(operation.removesuffix("Command")).input_shape
                parameters = call.get("parameters", {})
                if shape is not None:
                    found += [f"{where}: {p} is not in the API model" for p in _unmodelled(shape, parameters, action)]
    return found
