"""Small readers shared by the rules: booleans as CloudFormation accepts them, tags, policy statements."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pci_rules.model import Resource

ANYWHERE = frozenset({"0.0.0.0/0", "::/0"})


def is_true(value: Any) -> bool:
    """CloudFormation takes `true` and `"true"` alike for a Boolean property."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def tag(resource: Resource, key: str) -> Any:
    """The value of a tag in a `[{Key, Value}]` list (None when absent)."""
    tags = resource.prop("Tags")
    if isinstance(tags, list):
        for item in tags:
            if isinstance(item, Mapping) and item.get("Key") == key:
                return item.get("Value")
    return None


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(document: Any) -> Iterator[Mapping[str, Any]]:
    """The statements of an IAM policy document (a single statement object included)."""
    if isinstance(document, Mapping):
        for statement in as_list(document.get("Statement")):
            if isinstance(statement, Mapping):
                yield statement


def identity_policy_documents(resource: Resource) -> list[Any]:
    """Policy documents an IAM identity resource carries (inline on a role/user/group, or a policy)."""
    if resource.type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        return [resource.prop("PolicyDocument")]
    return [p.get("PolicyDocument") for p in as_list(resource.prop("Policies")) if isinstance(p, Mapping)]


IAM_IDENTITY_TYPES = (
    "AWS::IAM::Role",
    "AWS::IAM::User",
    "AWS::IAM::Group",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
)


def managed_policy_arns(resource: Resource) -> list[str]:
    """Managed policy ARNs attached to a role/user/group, rendered to strings (`Fn::Sub`/`Fn::Join` read through)."""
    return [text for arn in as_list(resource.reference("ManagedPolicyArns")) if (text := flatten(arn))]


def flatten(value: Any) -> str:
    """A readable string of a value: `Fn::Sub` template text, `Fn::Join` parts joined, refs as `<Ref>`."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and len(value) == 1:
        ((key, inner),) = value.items()
        if key == "Fn::Sub":
            return flatten(inner[0] if isinstance(inner, list) else inner)
        if key == "Fn::Join" and isinstance(inner, list) and len(inner) == 2:
            return str(inner[0]).join(flatten(v) for v in as_list(inner[1]))
        if key == "Ref":
            return f"<{inner}>"
        return f"<{key}>"
    return ""


# A subnet is in the cardholder-data environment when it carries this tag (the landing zone's
# segmented VPC tags its CDE tier so). Other apps tag their CDE subnets the same way.
CDE_TAG = ("pci-scope", "cde")


def is_cde_subnet(subnet: Resource) -> bool:
    return subnet.type == "AWS::EC2::Subnet" and tag(subnet, CDE_TAG[0]) == CDE_TAG[1]


def allows_anyone(statement: Mapping[str, Any]) -> bool:
    """An Allow statement whose principal is `*` (or AWS `*`) with no condition to narrow it."""
    principal = statement.get("Principal")
    anyone = principal == "*" or (isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS")))
    return statement.get("Effect") == "Allow" and not statement.get("Condition") and anyone


def is_customer_key(value: Any) -> bool:
    """A KMS key reference that is not an AWS managed key (`alias/aws/...`)."""
    return bool(value) and "alias/aws/" not in str(value)


# The calls a CDK `AwsCustomResource` (`Custom::AWS`) renders, each a JSON string ("AwsCustomResource", AWS CDK API
# Reference, aws_cdk.custom_resources): `Create` is onCreate, or onUpdate where no onCreate is given ("Default: - the
# call when the resource is updated"); `Update` is onUpdate and runs on every stack update that changes the
# resource's properties; `Delete` runs when the resource is removed. Create and Update each leave the account in the
# state they set, so a guard is read in both (pack 1.14.0: Update was not read, so a guard weakened on update
# passed). Delete is not read: what a guard's removal undoes is the stack owner's decision on deletion.
STATE_SETTING_CALLS = ("Create", "Update")


def sdk_call(resource: Resource, phase: str = "Create") -> Mapping[str, Any] | None:
    """The SDK call a CDK `AwsCustomResource` (`Custom::AWS`) makes in `phase` ("Create", "Update" or "Delete"),
    parsed; None when absent or unreadable.

    Tokens inside its JSON (`Fn::Join` parts such as the account ID) read as `<Ref>` placeholders.
    """
    import json

    if resource.type != "Custom::AWS":
        return None
    text = flatten(resource.reference(phase))
    try:
        call = json.loads(text)
    except ValueError:
        return None
    return call if isinstance(call, Mapping) else None


def sdk_calls(resource: Resource) -> list[tuple[str, Mapping[str, Any]]]:
    """(phase, call) for each state-setting call (`STATE_SETTING_CALLS`) a `Custom::AWS` resource renders, Create
    first; [] for any other resource."""
    found = [(phase, sdk_call(resource, phase)) for phase in STATE_SETTING_CALLS]
    return [(phase, call) for phase, call in found if call is not None]


def sdk_service(call: Mapping[str, Any]) -> str:
    """A call's service in one spelling, whichever form CDK accepted ("AwsSdkCall.service": the SDK v2 name
    `Inspector2`, the v3 client name `inspector2` or package `@aws-sdk/client-inspector2`): lower case, no
    package prefix, no hyphens (`inspector2`)."""
    service = str(call.get("service", "")).strip().lower()
    service = service.removeprefix("@aws-sdk/").removeprefix("client-")
    return service.replace("-", "")


def sdk_action(call: Mapping[str, Any]) -> str:
    """A call's action in one spelling, whichever form CDK accepted ("AwsSdkCall.action": the v2 method
    `updateAccountPasswordPolicy`, the v3 command `UpdateAccountPasswordPolicyCommand` or the API name
    `UpdateAccountPasswordPolicy`): the v2 method form, first letter lower case, no `Command` suffix."""
    action = str(call.get("action", "")).strip().removesuffix("Command")
    return action[:1].lower() + action[1:]


def inspector_missing(resource: Resource, wanted: tuple[str, ...]) -> list[str] | None:
    """For a `Custom::AWS` resource that enables Amazon Inspector (inspector2 `enable`, in any spelling
    `sdk_service`/`sdk_action` accept) on create or update: what each such call leaves out of `wanted`
    resourceTypes ("Inspector enabled without ...", with the phase where both calls enable it); None for a
    resource that enables no Inspector."""
    enables = [
        (phase, call)
        for phase, call in sdk_calls(resource)
        if sdk_service(call) == "inspector2" and sdk_action(call) == "enable"
    ]
    if not enables:
        return None
    problems = []
    for phase, call in enables:
        parameters = call.get("parameters")
        types = {str(t) for t in as_list(parameters.get("resourceTypes") if isinstance(parameters, Mapping) else None)}
        missing = [t for t in wanted if t not in types]
        if missing:
            where = f"on {phase.lower()}: " if len(enables) > 1 else ""
            problems.append(f"{where}Inspector enabled without {', '.join(missing)}")
    return problems


def actions_of(statement: Mapping[str, Any]) -> list[str]:
    return [str(a) for a in as_list(statement.get("Action"))]


def only_a_boundary(model: Any, policy: Resource) -> bool:
    """A managed policy used as a permissions boundary and attached to no identity: it caps what identity
    policies grant (effective access is their intersection) and grants nothing itself.

    A boundary is named by reference or by its ARN (`arn:...:policy/<ManagedPolicyName>`, how an Aspect
    names a policy of another stack without an export).
    """
    if policy.type != "AWS::IAM::ManagedPolicy":
        return False
    name = policy.prop("ManagedPolicyName")

    def names_it(identity: Resource, value: Any) -> bool:
        if model.target(identity.stack, value) == policy:
            return True
        return isinstance(name, str) and flatten(value).endswith(f":policy/{name}")

    bounded = attached = False
    for identity in model.resources("AWS::IAM::Role", "AWS::IAM::User"):
        bounded = bounded or names_it(identity, identity.prop("PermissionsBoundary"))
        attached = attached or any(names_it(identity, arn) for arn in as_list(identity.prop("ManagedPolicyArns")))
    return bounded and not attached


# CDK's stable `aws_eks.Cluster` creates its cluster through a custom resource of this type, whose `Config`
# property is the EKS CreateCluster request in the API's own field names (`version`, `resourcesVpcConfig`,
# `encryptionConfig`, `logging.clusterLogging[{types, enabled}]`: aws-cdk-lib aws-eks/lib/cluster-resource.ts;
# "CreateCluster", Amazon EKS API Reference). `AWS::EKS::Cluster` is the CloudFormation resource.
EKS_CDK_CLUSTER = "Custom::AWSCDK-EKS-Cluster"
EKS_CLUSTER_TYPES = ("AWS::EKS::Cluster", EKS_CDK_CLUSTER)


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in as_list(value) if isinstance(v, Mapping)]


def eks_version(cluster: Resource) -> Any:
    """The Kubernetes version an EKS cluster names (a string such as "1.32"), None when unset."""
    if cluster.type == EKS_CDK_CLUSTER:
        return cluster.prop("Config", "version")
    return cluster.prop("Version")


def eks_endpoint_public(cluster: Resource) -> Any:
    """The cluster's endpointPublicAccess as written, True when unset (the EKS API default, "VpcConfigRequest",
    Amazon EKS API Reference; CloudFormation's EndpointPublicAccess default is the same)."""
    if cluster.type == EKS_CDK_CLUSTER:
        return cluster.prop("Config", "resourcesVpcConfig", "endpointPublicAccess", default=True)
    return cluster.prop("ResourcesVpcConfig", "EndpointPublicAccess", default=True)


def eks_encrypted_resources(cluster: Resource) -> set[str]:
    """The Kubernetes resources ("secrets") the cluster's encryption configuration envelope-encrypts."""
    if cluster.type == EKS_CDK_CLUSTER:
        entries, key = _mappings(cluster.prop("Config", "encryptionConfig")), "resources"
    else:
        entries, key = _mappings(cluster.prop("EncryptionConfig")), "Resources"
    return {str(name) for entry in entries for name in as_list(entry.get(key))}


def eks_log_types(cluster: Resource) -> set[str]:
    """The control-plane log types the cluster enables (`api`, `audit`...): CloudFormation's
    Logging.ClusterLogging.EnabledTypes[].Type, or the API's logging.clusterLogging entries with enabled true."""
    if cluster.type == EKS_CDK_CLUSTER:
        entries = _mappings(cluster.prop("Config", "logging", "clusterLogging"))
        return {str(t) for e in entries if is_true(e.get("enabled")) for t in as_list(e.get("types"))}
    entries = _mappings(cluster.prop("Logging", "ClusterLogging", "EnabledTypes"))
    return {str(e.get("Type")) for e in entries}


# Search domains of both CloudFormation types: CDK's aws_opensearchservice.Domain renders
# AWS::OpenSearchService::Domain, the deprecated aws_elasticsearch one AWS::Elasticsearch::Domain ("New resource
# types", Amazon OpenSearch Service Developer Guide). VPCOptions.SubnetIds, NodeToNodeEncryptionOptions.Enabled
# and DomainEndpointOptions (EnforceHTTPS, TLSSecurityPolicy) are named alike in both ("AWS::OpenSearchService::
# Domain VPCOptions", "... NodeToNodeEncryptionOptions", "... DomainEndpointOptions", CloudFormation Template
# Reference). Security Hub's ES.2/.3/.8 evaluate the Elasticsearch type; its Opensearch.2/.3/.8 are not in the
# PCI DSS v4.0.1 standard, so the OpenSearch domains are watched after deploy by the Config rules
# opensearch-in-vpc-only, opensearch-node-to-node-encryption-check and opensearch-https-required (each "does not
# evaluate Elasticsearch domains", AWS Config Developer Guide), which crosswalk.WATCHED_ALSO names (pack 1.13.0).
# EncryptionAtRestOptions.Enabled is named alike in both too (PCI4-OPENSEARCH-ENCRYPTED-AT-REST, pack 1.14.0).
SEARCH_DOMAINS = ("AWS::Elasticsearch::Domain", "AWS::OpenSearchService::Domain")
