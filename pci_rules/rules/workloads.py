"""Resource types a fork's CDE workload typically adds, one rule per Security Hub PCI DSS v4.0.1 control
whose property a rendered template shows (the crosswalk, `pci_rules/CROSSWALK.md`, names the control).

Each rule examines the resources of its type only: an app without that type gives it nothing to examine
(the default app of the repository that ships this pack has few of them); the fork app of its tests
(`tests/fork/app.py`) gives every one of them something.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator, Mapping
from typing import Any

from pci_rules.model import Resource, TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import (
    EKS_CLUSTER_TYPES,
    SEARCH_DOMAINS,
    as_list,
    eks_encrypted_resources,
    eks_endpoint_public,
    eks_log_types,
    eks_version,
    inspector_missing,
    is_false,
    is_true,
    statements,
)


def _check(resource: Resource, problem: str | None) -> Check:
    return Check(resource, problem is None, problem or "")


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in as_list(value) if isinstance(v, Mapping)]


def _version(value: Any) -> tuple[int, ...]:
    parts = str(value).split(".")
    return tuple(int(p) for p in parts if p.isdigit())


# --- API Gateway, AppSync, Step Functions: request and execution logs ----------------------------------


@rule(
    id="PCI4-APIGW-V2-ACCESS-LOGS",
    requirements=("10.4.2",),
    description="Every API Gateway V2 stage (HTTP and WebSocket APIs) writes access logs.",
    fix="Set AccessLogSettings.DestinationArn (and Format) on the AWS::ApiGatewayV2::Stage.",
)
def apigw_v2_access_logs(model: TemplateModel) -> Iterator[Check]:
    for stage in model.resources("AWS::ApiGatewayV2::Stage"):
        yield _check(stage, None if stage.prop("AccessLogSettings", "DestinationArn") else "no access log destination")


@rule(
    id="PCI4-APPSYNC-FIELD-LOGGING",
    requirements=("10.4.2",),
    description="Every AppSync GraphQL API has field-level logging on (ERROR, INFO, DEBUG or ALL).",
    fix="Set LogConfig.FieldLogLevel (not NONE) and LogConfig.CloudWatchLogsRoleArn on the GraphQL API.",
)
def appsync_field_logging(model: TemplateModel) -> Iterator[Check]:
    for api in model.resources("AWS::AppSync::GraphQLApi"):
        level = str(api.prop("LogConfig", "FieldLogLevel", default="NONE")).upper()
        yield _check(api, None if level != "NONE" else "field-level logging is off")


@rule(
    id="PCI4-STEPFUNCTIONS-LOGGING",
    requirements=("10.4.2",),
    description="Every Step Functions state machine logs its executions to CloudWatch Logs at level ERROR or ALL.",
    fix="Set LoggingConfiguration with Level ERROR or ALL and a log group destination.",
)
def stepfunctions_logging(model: TemplateModel) -> Iterator[Check]:
    # Level FATAL logs only execution failures, not errors in states (QSA reader r21e LOW): ERROR or ALL only.
    for machine in model.resources("AWS::StepFunctions::StateMachine"):
        level = str(machine.prop("LoggingConfiguration", "Level", default="OFF")).upper()
        destinations = machine.prop("LoggingConfiguration", "Destinations")
        if level not in ("ERROR", "ALL"):
            problem: str | None = f"execution logging level {level}, not ERROR or ALL"
        else:
            problem = None if destinations else "execution logging has no destination"
        yield _check(machine, problem)


# --- CloudFront -------------------------------------------------------------------------------------


def _distributions(model: TemplateModel) -> Iterator[tuple[Resource, Mapping[str, Any]]]:
    for distribution in model.resources("AWS::CloudFront::Distribution"):
        config = distribution.prop("DistributionConfig")
        yield distribution, config if isinstance(config, Mapping) else {}


def _custom_origins(config: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        o["CustomOriginConfig"]
        for o in _mappings(config.get("Origins"))
        if isinstance(o.get("CustomOriginConfig"), Mapping)
    ]


@rule(
    id="PCI4-CLOUDFRONT-DEFAULT-ROOT-OBJECT",
    requirements=("2.2.6",),
    description="A CloudFront distribution with an S3 origin names a default root object.",
    fix="Set DistributionConfig.DefaultRootObject (e.g. index.html).",
)
def cloudfront_default_root_object(model: TemplateModel) -> Iterator[Check]:
    for distribution, config in _distributions(model):
        if any("S3OriginConfig" in o or "OriginAccessControlId" in o for o in _mappings(config.get("Origins"))):
            yield _check(distribution, None if config.get("DefaultRootObject") else "no default root object")


@rule(
    id="PCI4-CLOUDFRONT-VIEWER-HTTPS",
    requirements=("4.2.1",),
    description="Every CloudFront cache behavior redirects HTTP to HTTPS or serves HTTPS only.",
    fix="Set ViewerProtocolPolicy to redirect-to-https or https-only on the default and every cache behavior.",
)
def cloudfront_viewer_https(model: TemplateModel) -> Iterator[Check]:
    for distribution, config in _distributions(model):
        behaviors = _mappings(config.get("DefaultCacheBehavior")) + _mappings(config.get("CacheBehaviors"))
        allow_all = [b for b in behaviors if b.get("ViewerProtocolPolicy", "allow-all") == "allow-all"]
        yield _check(distribution, "a cache behavior allows plain HTTP" if allow_all or not behaviors else None)


@rule(
    id="PCI4-CLOUDFRONT-LOGGING",
    requirements=("10.4.2",),
    description="Every CloudFront distribution writes standard access logs.",
    fix="Set DistributionConfig.Logging.Bucket.",
)
def cloudfront_logging(model: TemplateModel) -> Iterator[Check]:
    for distribution, config in _distributions(model):
        logging = config.get("Logging")
        yield _check(distribution, None if isinstance(logging, Mapping) and logging.get("Bucket") else "no access logs")


@rule(
    id="PCI4-CLOUDFRONT-WAF",
    requirements=("6.4.2",),
    description="Every CloudFront distribution is associated with an AWS WAF web ACL.",
    fix="Set DistributionConfig.WebACLId to a CLOUDFRONT-scope web ACL's ARN.",
)
def cloudfront_waf(model: TemplateModel) -> Iterator[Check]:
    for distribution, config in _distributions(model):
        yield _check(distribution, None if config.get("WebACLId") else "no web ACL")


# CloudFront's origin protocols (CloudFront API Reference, OriginSslProtocols: SSLv3 | TLSv1 | TLSv1.1 | TLSv1.2).
# Only TLSv1.2 is strong cryptography for 4.2.1; no stored AWS page gives the default of an absent list, so an
# origin reached over TLS declares it (CDK's HttpOrigin renders [TLSv1.2] by default).
_STRONG_ORIGIN_PROTOCOLS = frozenset({"TLSv1.2"})


def _weak_origin_protocols(origin: Mapping[str, Any]) -> str | None:
    """Why an origin reached over TLS is not held to TLSv1.2 only (None: it is)."""
    declared = origin.get("OriginSSLProtocols")
    if declared is None:
        return "declares no OriginSSLProtocols"
    weak = sorted(str(p) for p in as_list(declared) if str(p) not in _STRONG_ORIGIN_PROTOCOLS)
    return f"allows {', '.join(weak)}" if weak else None


@rule(
    id="PCI4-CLOUDFRONT-ORIGIN-HTTPS",
    requirements=("4.2.1",),
    description=(
        "CloudFront reaches every custom origin over HTTPS (never http-only, nor match-viewer with allow-all),"
        " with TLSv1.2 only."
    ),
    fix="Set CustomOriginConfig.OriginProtocolPolicy to https-only and OriginSSLProtocols to [TLSv1.2].",
)
def cloudfront_origin_https(model: TemplateModel) -> Iterator[Check]:
    for distribution, config in _distributions(model):
        origins = _custom_origins(config)
        if not origins:
            continue
        viewer = (config.get("DefaultCacheBehavior") or {}).get("ViewerProtocolPolicy", "allow-all")
        bad = [
            o
            for o in origins
            if o.get("OriginProtocolPolicy") == "http-only"
            or (o.get("OriginProtocolPolicy") == "match-viewer" and viewer == "allow-all")
        ]
        weak = [f"origin {o.get('Id', '?')} {w}" for o in origins if o not in bad and (w := _weak_origin_protocols(o))]
        problem = "a custom origin is reached without TLS" if bad else None
        problem = problem or (f"a custom origin is reached with TLS below 1.2 ({'; '.join(weak)})" if weak else None)
        yield _check(distribution, problem)


@rule(
    id="PCI4-CLOUDFRONT-ORIGIN-NO-SSLV3",
    requirements=("4.2.1",),
    description=(
        "No CloudFront custom origin allows SSLv3 or any protocol below TLSv1.2 (OriginSSLProtocols is [TLSv1.2])."
    ),
    fix="Set CustomOriginConfig.OriginSSLProtocols to [TLSv1.2].",
)
def cloudfront_origin_no_sslv3(model: TemplateModel) -> Iterator[Check]:
    for distribution, config in _distributions(model):
        origins = _custom_origins(config)
        if origins:
            weak = [f"origin {o.get('Id', '?')} {w}" for o in origins if (w := _weak_origin_protocols(o))]
            yield _check(
                distribution, f"a custom origin allows less than TLSv1.2 ({'; '.join(weak)})" if weak else None
            )


# --- EC2 instances, launch templates, Auto Scaling, VPN ----------------------------------------------


@rule(
    id="PCI4-EC2-LAUNCH-TEMPLATE-IMDSV2",
    requirements=("2.2.6",),
    description="Every EC2 launch template requires IMDSv2 (HttpTokens required).",
    fix="Set LaunchTemplateData.MetadataOptions.HttpTokens to required (CDK: require_imdsv2=True).",
)
def launch_template_imdsv2(model: TemplateModel) -> Iterator[Check]:
    for template in model.resources("AWS::EC2::LaunchTemplate"):
        tokens = template.prop("LaunchTemplateData", "MetadataOptions", "HttpTokens")
        yield _check(template, None if tokens == "required" else f"HttpTokens {tokens!r}, not 'required'")


@rule(
    id="PCI4-EC2-INSTANCE-IMDSV2",
    requirements=("2.2.6",),
    description="Every EC2 instance requires IMDSv2: its own MetadataOptions, or else its launch template's.",
    fix="Set MetadataOptions.HttpTokens to required on the instance or its launch template (CDK: require_imdsv2=True).",
)
def instance_imdsv2(model: TemplateModel) -> Iterator[Check]:
    # EC2.8 (ec2-controls.html#ec2-8) reads the instance's HttpTokens. AWS::EC2::Instance MetadataOptions.HttpTokens
    # sets it (CloudFormation Template Reference, "AWS::EC2::Instance MetadataOptions"); a value given on the
    # instance overrides its launch template's ("Launch an instance from a launch template", Amazon EC2 User Guide).
    for instance in model.resources("AWS::EC2::Instance"):
        tokens = instance.prop("MetadataOptions", "HttpTokens")
        where = "its MetadataOptions"
        if tokens is None:
            reference = instance.reference("LaunchTemplate", "LaunchTemplateId") or instance.reference(
                "LaunchTemplate", "LaunchTemplateName"
            )
            template = model.target(instance.stack, reference) if reference is not None else None
            tokens = template.prop("LaunchTemplateData", "MetadataOptions", "HttpTokens") if template else None
            if template is not None:
                where = "its launch template"
            elif reference is not None:
                where = "no MetadataOptions, and a launch template not in these templates"
            else:
                where = "no MetadataOptions and no launch template"
        yield _check(instance, None if tokens == "required" else f"HttpTokens {tokens!r} ({where}), not 'required'")


@rule(
    id="PCI4-EC2-LAUNCH-TEMPLATE-NO-PUBLIC-IP",
    requirements=("1.4.4",),
    description="No EC2 launch template assigns a public IP address to a network interface.",
    fix="Remove AssociatePublicIpAddress (or set it false) from the launch template's network interfaces.",
)
def launch_template_no_public_ip(model: TemplateModel) -> Iterator[Check]:
    for template in model.resources("AWS::EC2::LaunchTemplate"):
        interfaces = _mappings(template.prop("LaunchTemplateData", "NetworkInterfaces"))
        public = any(is_true(i.get("AssociatePublicIpAddress")) for i in interfaces)
        yield _check(template, "a network interface gets a public IP" if public else None)


@rule(
    id="PCI4-AUTOSCALING-LAUNCH-CONFIG-IMDSV2",
    requirements=("2.2.6",),
    description="Every Auto Scaling launch configuration requires IMDSv2.",
    fix="Set MetadataOptions.HttpTokens to required, or move to a launch template that does.",
)
def launch_configuration_imdsv2(model: TemplateModel) -> Iterator[Check]:
    for config in model.resources("AWS::AutoScaling::LaunchConfiguration"):
        tokens = config.prop("MetadataOptions", "HttpTokens")
        yield _check(config, None if tokens == "required" else f"HttpTokens {tokens!r}, not 'required'")


@rule(
    id="PCI4-AUTOSCALING-LAUNCH-CONFIG-NO-PUBLIC-IP",
    requirements=("1.4.4",),
    description="No Auto Scaling launch configuration gives its instances public IP addresses.",
    fix="Set AssociatePublicIpAddress to false on the launch configuration.",
)
def launch_configuration_no_public_ip(model: TemplateModel) -> Iterator[Check]:
    for config in model.resources("AWS::AutoScaling::LaunchConfiguration"):
        yield _check(config, "instances get public IPs" if is_true(config.prop("AssociatePublicIpAddress")) else None)


@rule(
    id="PCI4-EC2-NACL-IN-USE",
    requirements=(),
    related=("1.2.7",),
    description="Every network ACL is associated with a subnet (no unused ACLs to review).",
    fix="Associate the network ACL with its subnets (AWS::EC2::SubnetNetworkAclAssociation) or delete it.",
)
def nacl_in_use(model: TemplateModel) -> Iterator[Check]:
    for nacl in model.resources("AWS::EC2::NetworkAcl"):
        used = model.attached(nacl, "AWS::EC2::SubnetNetworkAclAssociation", "NetworkAclId")
        yield _check(nacl, None if used else "associated with no subnet")


@rule(
    id="PCI4-EC2-VPN-LOGGING",
    requirements=("10.4.2",),
    description="Every site-to-site VPN connection logs each tunnel to CloudWatch Logs.",
    fix="Set VpnTunnelOptionsSpecifications[].LogOptions.CloudwatchLogOptions.LogEnabled true for each tunnel.",
)
def vpn_logging(model: TemplateModel) -> Iterator[Check]:
    for vpn in model.resources("AWS::EC2::VPNConnection"):
        tunnels = _mappings(vpn.prop("VpnTunnelOptionsSpecifications"))
        logged = bool(tunnels) and all(
            is_true(((t.get("LogOptions") or {}).get("CloudwatchLogOptions") or {}).get("LogEnabled")) for t in tunnels
        )
        yield _check(vpn, None if logged else "a tunnel does not log")


@rule(
    id="PCI4-EC2-CLIENT-VPN-LOGGING",
    requirements=("10.2.1",),
    description="Every Client VPN endpoint logs client connections.",
    fix="Set ConnectionLogOptions.Enabled true with a CloudWatch Logs group.",
)
def client_vpn_logging(model: TemplateModel) -> Iterator[Check]:
    for endpoint in model.resources("AWS::EC2::ClientVpnEndpoint"):
        ok = is_true(endpoint.prop("ConnectionLogOptions", "Enabled"))
        yield _check(endpoint, None if ok else "client connection logging is off")


# --- Containers: ECR, ECS, EKS ----------------------------------------------------------------------


@rule(
    id="PCI4-ECR-SCAN-ON-PUSH",
    # 11.3.1 is related, not evidence (pack 1.10.0, issue 21 LOW 7): 11.3.1's testing procedures examine the
    # internal scan reports of at least every three months and their rescans, which a repository's scan-on-push
    # setting is not. The scans it turns on feed those reports; 6.2.3 and 6.2.4 are related for Security Hub
    # ECR.1's mapping (evidence.catalog.RELATED_NOT_EVIDENCE says why for each).
    requirements=(),
    related=("11.3.1", "6.2.3", "6.2.4"),
    description="Every ECR private repository scans images on push.",
    fix="Set ImageScanningConfiguration.ScanOnPush true (CDK: image_scan_on_push=True), or enhanced scanning.",
)
def ecr_scan_on_push(model: TemplateModel) -> Iterator[Check]:
    # Enhanced registry scanning covers a repository only when a rule's RepositoryFilters (WILDCARD) match its
    # name ("Scan images for software vulnerabilities in Amazon ECR", Amazon ECR User Guide: filters).
    filters = [
        str(f.get("Filter"))
        for c in model.resources("AWS::ECR::RegistryScanningConfiguration")
        if str(c.prop("ScanType")).upper() == "ENHANCED"
        for rule_ in _mappings(c.prop("Rules"))
        for f in _mappings(rule_.get("RepositoryFilters"))
    ]
    for repository in model.resources("AWS::ECR::Repository"):
        name = model.literal(repository.stack, repository.prop("RepositoryName"))
        by_registry = any(f == "*" or (isinstance(name, str) and fnmatch.fnmatchcase(name, f)) for f in filters)
        ok = by_registry or is_true(repository.prop("ImageScanningConfiguration", "ScanOnPush"))
        yield _check(repository, None if ok else "images are not scanned on push (no registry filter matches it)")


def _assigns_public_ip(resource: Resource) -> bool:
    network = resource.prop("NetworkConfiguration") or {}
    config = network.get("AwsvpcConfiguration") or network.get("AwsVpcConfiguration") or {}
    return str(config.get("AssignPublicIp", "DISABLED")).upper() == "ENABLED"


@rule(
    id="PCI4-ECS-SERVICE-NO-PUBLIC-IP",
    requirements=("1.4.4",),
    description="No ECS service assigns public IP addresses to its tasks.",
    fix="Set NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp to DISABLED (CDK: assign_public_ip=False).",
)
def ecs_service_no_public_ip(model: TemplateModel) -> Iterator[Check]:
    for service in model.resources("AWS::ECS::Service"):
        yield _check(service, "tasks get public IPs" if _assigns_public_ip(service) else None)


@rule(
    id="PCI4-ECS-TASK-SET-NO-PUBLIC-IP",
    requirements=("1.4.4",),
    description="No ECS task set assigns public IP addresses to its tasks.",
    fix="Set NetworkConfiguration.AwsVpcConfiguration.AssignPublicIp to DISABLED.",
)
def ecs_task_set_no_public_ip(model: TemplateModel) -> Iterator[Check]:
    for task_set in model.resources("AWS::ECS::TaskSet"):
        yield _check(task_set, "tasks get public IPs" if _assigns_public_ip(task_set) else None)


# Environment variable names the ECS.8 control treats as secrets ("Security Hub CSPM controls for ECS").
ECS_SECRET_VARIABLES = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ECS_ENGINE_AUTH_DATA"})


@rule(
    id="PCI4-ECS-NO-SECRETS-IN-ENVIRONMENT",
    requirements=("8.6.2",),
    description=(
        "No ECS container definition passes credentials as plain environment variables named AWS_ACCESS_KEY_ID,"
        " AWS_SECRET_ACCESS_KEY or ECS_ENGINE_AUTH_DATA (the names Security Hub ECS.8 checks; a secret under"
        " any other name is not detected)."
    ),
    fix="Pass credentials through ContainerDefinitions[].Secrets (Secrets Manager or SSM), or use the task role.",
)
def ecs_no_secrets_in_environment(model: TemplateModel) -> Iterator[Check]:
    for task in model.resources("AWS::ECS::TaskDefinition"):
        names = {
            str(variable.get("Name"))
            for container in _mappings(task.prop("ContainerDefinitions"))
            for variable in _mappings(container.get("Environment"))
        }
        found = sorted(names & ECS_SECRET_VARIABLES)
        yield _check(task, f"credentials in environment: {', '.join(found)}" if found else None)


@rule(
    id="PCI4-ECS-FARGATE-LATEST-PLATFORM",
    requirements=("6.3.3",),
    description="Every Fargate ECS service runs on the LATEST platform version (security patches).",
    fix="Leave PlatformVersion unset or set it to LATEST.",
)
def ecs_fargate_latest_platform(model: TemplateModel) -> Iterator[Check]:
    for service in model.resources("AWS::ECS::Service"):
        providers = {str(p.get("CapacityProvider")) for p in _mappings(service.prop("CapacityProviderStrategy"))}
        if service.prop("LaunchType") == "FARGATE" or providers & {"FARGATE", "FARGATE_SPOT"}:
            version = service.prop("PlatformVersion", default="LATEST")
            yield _check(service, None if version == "LATEST" else f"PlatformVersion pinned to {version!r}")


@rule(
    id="PCI4-EKS-PRIVATE-ENDPOINT",
    requirements=("1.4.4",),
    description="No EKS cluster's API endpoint is publicly accessible.",
    fix="Set ResourcesVpcConfig EndpointPublicAccess false, EndpointPrivateAccess true (CDK: EndpointAccess.PRIVATE).",
)
def eks_private_endpoint(model: TemplateModel) -> Iterator[Check]:
    for cluster in model.resources(*EKS_CLUSTER_TYPES):
        public = eks_endpoint_public(cluster)
        yield _check(cluster, None if is_false(public) else "the API endpoint is public")


# The oldest Kubernetes version in Amazon EKS standard support on 2026-12-02 ("Understand the Kubernetes
# version lifecycle on EKS", Amazon EKS User Guide): raise it as versions leave standard support.
EKS_OLDEST_SUPPORTED = (1, 32)


@rule(
    id="PCI4-EKS-SUPPORTED-VERSION",
    requirements=("12.3.4",),
    description="Every EKS cluster names a Kubernetes version still in standard support.",
    fix="Set Version to a Kubernetes version in standard support and upgrade before it leaves support.",
)
def eks_supported_version(model: TemplateModel) -> Iterator[Check]:
    for cluster in model.resources(*EKS_CLUSTER_TYPES):
        version = eks_version(cluster)
        ok = version is not None and _version(version) >= EKS_OLDEST_SUPPORTED
        yield _check(
            cluster, None if ok else f"Version {version!r} is older than {'.'.join(map(str, EKS_OLDEST_SUPPORTED))}"
        )


@rule(
    id="PCI4-EKS-SECRETS-ENCRYPTED",
    requirements=(),
    related=("3.5.1",),
    description="Every EKS cluster envelope-encrypts Kubernetes secrets with a KMS key.",
    fix="Add EncryptionConfig with Resources [secrets] and a KMS key (CDK: secrets_encryption_key).",
)
def eks_secrets_encrypted(model: TemplateModel) -> Iterator[Check]:
    for cluster in model.resources(*EKS_CLUSTER_TYPES):
        encrypted = "secrets" in eks_encrypted_resources(cluster)
        yield _check(cluster, None if encrypted else "secrets are not envelope-encrypted")


@rule(
    id="PCI4-EKS-AUDIT-LOGGING",
    requirements=("10.2.1",),
    description="Every EKS cluster sends its audit log to CloudWatch Logs.",
    fix="Enable the audit log type in Logging.ClusterLogging.EnabledTypes (CDK: cluster_logging).",
)
def eks_audit_logging(model: TemplateModel) -> Iterator[Check]:
    for cluster in model.resources(*EKS_CLUSTER_TYPES):
        yield _check(cluster, None if "audit" in eks_log_types(cluster) else "audit logging is off")


# --- Data stores: DAX, ElastiCache, OpenSearch, DocumentDB, Neptune, Redshift, DMS, EFS ---------------


@rule(
    id="PCI4-DAX-TLS",
    requirements=("4.2.1",),
    description="Every DynamoDB Accelerator cluster encrypts its endpoint traffic with TLS.",
    fix="Set ClusterEndpointEncryptionType to TLS (set at creation; a change replaces the cluster).",
)
def dax_tls(model: TemplateModel) -> Iterator[Check]:
    for cluster in model.resources("AWS::DAX::Cluster"):
        yield _check(
            cluster, None if cluster.prop("ClusterEndpointEncryptionType") == "TLS" else "endpoint without TLS"
        )


@rule(
    id="PCI4-ELASTICACHE-MINOR-UPGRADES",
    requirements=("6.3.3",),
    description="Every ElastiCache cluster and replication group takes minor engine versions automatically.",
    fix="Leave AutoMinorVersionUpgrade unset or set it true.",
)
def elasticache_minor_upgrades(model: TemplateModel) -> Iterator[Check]:
    for cache in model.resources("AWS::ElastiCache::CacheCluster", "AWS::ElastiCache::ReplicationGroup"):
        yield _check(
            cache, "automatic minor upgrades are off" if is_false(cache.prop("AutoMinorVersionUpgrade")) else None
        )


@rule(
    id="PCI4-ELASTICACHE-TRANSIT-ENCRYPTION",
    requirements=("4.2.1",),
    description=(
        "Every ElastiCache replication group encrypts traffic in transit and refuses unencrypted connections"
        " (TransitEncryptionMode required, or not declared)."
    ),
    fix="Set TransitEncryptionEnabled true and TransitEncryptionMode required (never preferred).",
)
def elasticache_transit_encryption(model: TemplateModel) -> Iterator[Check]:
    # TransitEncryptionMode "preferred" accepts unencrypted connections beside TLS (a migration setting); an
    # undeclared mode passes: no stored AWS page confirms its default, so the pack records that (README).
    for group in model.resources("AWS::ElastiCache::ReplicationGroup"):
        mode = group.prop("TransitEncryptionMode")
        if not is_true(group.prop("TransitEncryptionEnabled")):
            problem: str | None = "traffic in transit is not encrypted"
        elif mode is not None and str(mode).lower() != "required":
            problem = f"TransitEncryptionMode {mode!r} accepts unencrypted connections; set 'required'"
        else:
            problem = None
        yield _check(group, problem)


@rule(
    id="PCI4-ELASTICACHE-AUTH",
    requirements=("8.3.1",),
    description="Every Redis OSS/Valkey replication group authenticates clients (AUTH token or RBAC user groups).",
    fix="Set AuthToken (from Secrets Manager) or UserGroupIds on the replication group.",
)
def elasticache_auth(model: TemplateModel) -> Iterator[Check]:
    for group in model.resources("AWS::ElastiCache::ReplicationGroup"):
        if str(group.prop("Engine", default="redis")).lower() in ("redis", "valkey"):
            ok = bool(group.prop("AuthToken") or group.prop("UserGroupIds"))
            yield _check(group, None if ok else "clients are not authenticated")


# Search domains of both CloudFormation types: `_common.SEARCH_DOMAINS`.


@rule(
    id="PCI4-ES-IN-VPC",
    requirements=("1.4.4",),
    description="Every OpenSearch Service domain (AWS::OpenSearchService::Domain or the older"
    " AWS::Elasticsearch::Domain) is reachable only inside a VPC.",
    fix="Set VPCOptions (subnets and security groups) on the domain (CDK: vpc=... on aws_opensearchservice.Domain).",
)
def es_in_vpc(model: TemplateModel) -> Iterator[Check]:
    # A domain without VPCOptions has a public endpoint (elasticsearch-in-vpc-only / opensearch-in-vpc-only:
    # NON_COMPLIANT if the domain endpoint is public).
    for domain in model.resources(*SEARCH_DOMAINS):
        yield _check(
            domain, None if domain.prop("VPCOptions", "SubnetIds") else "not in a VPC (no VPCOptions.SubnetIds)"
        )


@rule(
    id="PCI4-ES-NODE-TO-NODE-ENCRYPTION",
    requirements=(),
    related=("4.2.1",),  # internal transit, not open public networks (evidence.catalog INTERNAL_TRANSIT)
    description="Every OpenSearch Service domain (either CloudFormation type) encrypts traffic between its nodes.",
    fix="Set NodeToNodeEncryptionOptions.Enabled true (CDK: node_to_node_encryption=True).",
)
def es_node_to_node(model: TemplateModel) -> Iterator[Check]:
    for domain in model.resources(*SEARCH_DOMAINS):
        enabled = domain.prop("NodeToNodeEncryptionOptions", "Enabled")
        problem = None if is_true(enabled) else f"node-to-node traffic is not encrypted (Enabled {enabled!r})"
        yield _check(domain, problem)


@rule(
    id="PCI4-ES-AUDIT-LOGS",
    requirements=("10.2.1", "10.4.2"),
    description="Every Elasticsearch domain publishes audit logs.",
    fix="Set LogPublishingOptions.AUDIT_LOGS with Enabled true and a log group.",
)
def es_audit_logs(model: TemplateModel) -> Iterator[Check]:
    # An AWS::OpenSearchService::Domain is PCI4-OPENSEARCH-AUDIT-LOGS' (Security Hub Opensearch.5).
    for domain in model.resources("AWS::Elasticsearch::Domain"):
        ok = is_true(domain.prop("LogPublishingOptions", "AUDIT_LOGS", "Enabled"))
        yield _check(domain, None if ok else "audit logs are not published")


# TLS security policies of OpenSearch Service / Elasticsearch domains that allow TLS 1.2 or later only
# ("DomainEndpointOptions", CloudFormation reference of AWS::OpenSearchService::Domain, and the API's
# DomainEndpointOptions: Policy-Min-TLS-1-0-2019-07 supports TLS 1.0 to 1.2, Policy-Min-TLS-1-2-2019-07 only
# TLS 1.2, Policy-Min-TLS-1-2-PFS-2023-10 TLS 1.2 to 1.3 with perfect forward secrecy).
SEARCH_TLS12_POLICIES = ("Policy-Min-TLS-1-2-PFS-2023-10", "Policy-Min-TLS-1-2-2019-07")


@rule(
    id="PCI4-ES-TLS12",
    requirements=("4.2.1",),
    description="Every OpenSearch Service domain (either CloudFormation type) enforces HTTPS with a TLS 1.2+"
    " security policy.",
    fix="Set DomainEndpointOptions.EnforceHTTPS true and TLSSecurityPolicy Policy-Min-TLS-1-2-PFS-2023-10"
    " (CDK: enforce_https=True, tls_security_policy=TLSSecurityPolicy.TLS_1_2_PFS).",
)
def es_tls12(model: TemplateModel) -> Iterator[Check]:
    # opensearch-https-required / elasticsearch-https-required: NON_COMPLIANT if EnforceHTTPS is not true, or
    # TLSSecurityPolicy is not among the accepted policies.
    for domain in model.resources(*SEARCH_DOMAINS):
        options = domain.prop("DomainEndpointOptions") or {}
        enforce, policy = options.get("EnforceHTTPS"), options.get("TLSSecurityPolicy")
        ok = is_true(enforce) and policy in SEARCH_TLS12_POLICIES
        problem = f"HTTPS with TLS 1.2+ is not enforced (EnforceHTTPS {enforce!r}, TLSSecurityPolicy {policy!r})"
        yield _check(domain, None if ok else problem)


@rule(
    id="PCI4-OPENSEARCH-AUDIT-LOGS",
    requirements=("10.2.1",),
    description="Every OpenSearch Service domain publishes audit logs.",
    fix="Set LogPublishingOptions.AUDIT_LOGS with Enabled true and a log group (fine-grained access control on).",
)
def opensearch_audit_logs(model: TemplateModel) -> Iterator[Check]:
    for domain in model.resources("AWS::OpenSearchService::Domain"):
        ok = is_true(domain.prop("LogPublishingOptions", "AUDIT_LOGS", "Enabled"))
        yield _check(domain, None if ok else "audit logs are not published")


@rule(
    id="PCI4-DOCDB-BACKUP-RETENTION",
    requirements=(),
    related=("3.2.1", "10.5.1"),
    description="Every DocumentDB cluster keeps automated backups at least 7 days.",
    fix="Set BackupRetentionPeriod to 7 or more.",
)
def docdb_backup_retention(model: TemplateModel) -> Iterator[Check]:
    for cluster in model.resources("AWS::DocDB::DBCluster"):
        days = cluster.prop("BackupRetentionPeriod", default=1)
        ok = isinstance(days, int | str) and str(days).isdigit() and int(days) >= 7
        yield _check(cluster, None if ok else f"BackupRetentionPeriod {days!r} < 7")


@rule(
    id="PCI4-DOCDB-AUDIT-LOGS",
    requirements=("10.2.1", "10.3.3"),
    description="Every DocumentDB cluster exports its audit log to CloudWatch Logs.",
    fix="Add audit to EnableCloudwatchLogsExports (and audit_logs enabled in the cluster parameter group).",
)
def docdb_audit_logs(model: TemplateModel) -> Iterator[Check]:
    for cluster in model.resources("AWS::DocDB::DBCluster"):
        ok = "audit" in as_list(cluster.prop("EnableCloudwatchLogsExports"))
        yield _check(cluster, None if ok else "audit log not exported")


@rule(
    id="PCI4-NEPTUNE-AUDIT-LOGS",
    requirements=("10.2.1", "10.3.3"),
    description="Every Neptune cluster exports its audit log to CloudWatch Logs.",
    fix="Add audit to EnableCloudwatchLogsExports (and neptune_enable_audit_log in the parameter group).",
)
def neptune_audit_logs(model: TemplateModel) -> Iterator[Check]:
    for cluster in model.resources("AWS::Neptune::DBCluster"):
        ok = "audit" in as_list(cluster.prop("EnableCloudwatchLogsExports"))
        yield _check(cluster, None if ok else "audit log not exported")


@rule(
    id="PCI4-REDSHIFT-NOT-PUBLIC",
    requirements=("1.4.4",),
    description="No Redshift cluster is publicly accessible.",
    fix="Set PubliclyAccessible false.",
)
def redshift_not_public(model: TemplateModel) -> Iterator[Check]:
    for cluster in model.resources("AWS::Redshift::Cluster"):
        yield _check(cluster, "publicly accessible" if is_true(cluster.prop("PubliclyAccessible")) else None)


@rule(
    id="PCI4-REDSHIFT-REQUIRE-TLS",
    requirements=("4.2.1",),
    description="Every Redshift cluster's parameter group requires SSL connections.",
    fix="Set require_ssl true in the cluster's AWS::Redshift::ClusterParameterGroup.",
)
def redshift_require_tls(model: TemplateModel) -> Iterator[Check]:
    # The finding says what require_ssl is: an explicit "false" is not "not set" (pack 1.13.0, QSA reader r21f).
    for cluster in model.resources("AWS::Redshift::Cluster"):
        name = cluster.prop("ClusterParameterGroupName")
        group = model.target(cluster.stack, name)
        parameters = _mappings(group.prop("Parameters")) if group else []
        values = [p.get("ParameterValue") for p in parameters if p.get("ParameterName") == "require_ssl"]
        if any(is_true(value) for value in values):
            problem = None
        elif values:
            problem = f"require_ssl is {values[-1]!r} in its parameter group, not true"
        elif group is not None:
            problem = "require_ssl is not set in its parameter group"
        elif name is not None:
            problem = "its parameter group is not in these templates: require_ssl not read"
        else:
            problem = (
                "no ClusterParameterGroupName: require_ssl is not set (the default parameter group's is not shown)"
            )
        yield _check(cluster, problem)


@rule(
    id="PCI4-REDSHIFT-AUDIT-LOGGING",
    requirements=("10.2.1",),
    description="Every Redshift cluster has audit logging on.",
    fix="Set LoggingProperties (an S3 bucket, or LogDestinationType cloudwatch with LogExports).",
)
def redshift_audit_logging(model: TemplateModel) -> Iterator[Check]:
    for cluster in model.resources("AWS::Redshift::Cluster"):
        logging = cluster.prop("LoggingProperties") or {}
        ok = bool(logging.get("BucketName") or logging.get("LogDestinationType"))
        yield _check(cluster, None if ok else "audit logging is off")


@rule(
    id="PCI4-DMS-INSTANCE-NOT-PUBLIC",
    requirements=("1.4.4",),
    description="No DMS replication instance is publicly accessible (CloudFormation's default is public).",
    fix="Set PubliclyAccessible false.",
)
def dms_instance_not_public(model: TemplateModel) -> Iterator[Check]:
    for instance in model.resources("AWS::DMS::ReplicationInstance"):
        ok = is_false(instance.prop("PubliclyAccessible", default=True))
        yield _check(instance, None if ok else "publicly accessible")


@rule(
    id="PCI4-DMS-MINOR-UPGRADES",
    requirements=("6.3.3",),
    description="Every DMS replication instance takes minor engine versions automatically.",
    fix="Set AutoMinorVersionUpgrade true.",
)
def dms_minor_upgrades(model: TemplateModel) -> Iterator[Check]:
    for instance in model.resources("AWS::DMS::ReplicationInstance"):
        ok = is_true(instance.prop("AutoMinorVersionUpgrade"))
        yield _check(instance, None if ok else "automatic minor upgrades are off")


# Log components the DMS.7/DMS.8 controls require at LOGGER_SEVERITY_DEFAULT or above.
DMS_TARGET_COMPONENTS = ("TARGET_APPLY", "TARGET_LOAD")
DMS_SOURCE_COMPONENTS = ("SOURCE_CAPTURE", "SOURCE_UNLOAD")


def _dms_logged(task: Resource, components: tuple[str, ...]) -> bool:
    settings = task.prop("ReplicationTaskSettings")
    if isinstance(settings, str):
        try:
            settings = json.loads(settings)
        except ValueError:
            return False
    logging = (settings or {}).get("Logging") or {} if isinstance(settings, Mapping) else {}
    if not is_true(logging.get("EnableLogging")):
        return False
    levels = {c.get("Id"): c.get("Severity") for c in _mappings(logging.get("LogComponents"))}
    return all(
        levels.get(c) in ("LOGGER_SEVERITY_DEFAULT", "LOGGER_SEVERITY_DEBUG", "LOGGER_SEVERITY_DETAILED_DEBUG")
        for c in components
    )


@rule(
    id="PCI4-DMS-TARGET-LOGGING",
    requirements=("10.4.2",),
    description="Every DMS replication task logs its target components (TARGET_APPLY, TARGET_LOAD).",
    fix="ReplicationTaskSettings.Logging: EnableLogging true, TARGET_APPLY/TARGET_LOAD at LOGGER_SEVERITY_DEFAULT.",
)
def dms_target_logging(model: TemplateModel) -> Iterator[Check]:
    for task in model.resources("AWS::DMS::ReplicationTask"):
        yield _check(task, None if _dms_logged(task, DMS_TARGET_COMPONENTS) else "target components are not logged")


@rule(
    id="PCI4-DMS-SOURCE-LOGGING",
    requirements=("10.4.2",),
    description="Every DMS replication task logs its source components (SOURCE_CAPTURE, SOURCE_UNLOAD).",
    fix="ReplicationTaskSettings.Logging: EnableLogging true, SOURCE_CAPTURE/SOURCE_UNLOAD at LOGGER_SEVERITY_DEFAULT.",
)
def dms_source_logging(model: TemplateModel) -> Iterator[Check]:
    for task in model.resources("AWS::DMS::ReplicationTask"):
        yield _check(task, None if _dms_logged(task, DMS_SOURCE_COMPONENTS) else "source components are not logged")


@rule(
    id="PCI4-DMS-ENDPOINT-TLS",
    requirements=("4.2.1",),
    description="Every DMS endpoint connects with TLS (SslMode other than none; Redis OSS with ssl-encryption).",
    fix="Set SslMode require, verify-ca or verify-full (Redis OSS: RedisSettings.SslSecurityProtocol ssl-encryption).",
)
def dms_endpoint_tls(model: TemplateModel) -> Iterator[Check]:
    for endpoint in model.resources("AWS::DMS::Endpoint"):
        if str(endpoint.prop("EngineName")).lower() == "redis":
            ok = endpoint.prop("RedisSettings", "SslSecurityProtocol", default="ssl-encryption") == "ssl-encryption"
        else:
            ok = str(endpoint.prop("SslMode", default="none")).lower() != "none"
        yield _check(endpoint, None if ok else "connects without TLS")


@rule(
    id="PCI4-DMS-ENDPOINT-AUTHENTICATION",
    requirements=("7.3.1", "8.3.1"),
    description="DMS endpoints for Neptune use IAM authorization and those for MongoDB an authentication mechanism.",
    fix="Set NeptuneSettings.IamAuthEnabled true; set MongoDbSettings.AuthType password (not no).",
)
def dms_endpoint_authentication(model: TemplateModel) -> Iterator[Check]:
    for endpoint in model.resources("AWS::DMS::Endpoint"):
        engine = str(endpoint.prop("EngineName")).lower()
        if engine == "neptune":
            yield _check(
                endpoint,
                None if is_true(endpoint.prop("NeptuneSettings", "IamAuthEnabled")) else "no IAM authorization",
            )
        elif engine in ("mongodb", "docdb"):
            auth = str(endpoint.prop("MongoDbSettings", "AuthType", default="password")).lower()
            yield _check(endpoint, None if auth != "no" else "no authentication mechanism")


@rule(
    id="PCI4-EFS-ACCESS-POINT-USER",
    requirements=("7.3.1",),
    description="Every EFS access point enforces a POSIX user identity.",
    fix="Set PosixUser (Uid, Gid) on the AWS::EFS::AccessPoint.",
)
def efs_access_point_user(model: TemplateModel) -> Iterator[Check]:
    for point in model.resources("AWS::EFS::AccessPoint"):
        yield _check(point, None if point.prop("PosixUser", "Uid") is not None else "no POSIX user enforced")


# --- Messaging, streaming, events, DNS, transfer, notebooks, Beanstalk, classic LBs, S3 points ---------


@rule(
    id="PCI4-MQ-AUDIT-LOGS",
    requirements=("10.2.1", "10.3.3"),
    description="Every ActiveMQ broker streams audit logs to CloudWatch Logs.",
    fix="Set Logs.Audit true on the AWS::AmazonMQ::Broker.",
)
def mq_audit_logs(model: TemplateModel) -> Iterator[Check]:
    for broker in model.resources("AWS::AmazonMQ::Broker"):
        if str(broker.prop("EngineType")).upper() == "ACTIVEMQ":
            yield _check(broker, None if is_true(broker.prop("Logs", "Audit")) else "audit logs are off")


@rule(
    id="PCI4-MQ-MINOR-UPGRADES",
    requirements=("6.3.3",),
    description="Every Amazon MQ broker takes minor engine versions automatically.",
    fix="Set AutoMinorVersionUpgrade true.",
)
def mq_minor_upgrades(model: TemplateModel) -> Iterator[Check]:
    for broker in model.resources("AWS::AmazonMQ::Broker"):
        ok = is_true(broker.prop("AutoMinorVersionUpgrade"))
        yield _check(broker, None if ok else "automatic minor upgrades are off")


@rule(
    id="PCI4-MSK-IN-TRANSIT",
    requirements=("4.2.1",),
    description="Every MSK cluster encrypts traffic between brokers and with clients (TLS only).",
    fix="Leave EncryptionInfo.EncryptionInTransit.InCluster true and set ClientBroker TLS.",
)
def msk_in_transit(model: TemplateModel) -> Iterator[Check]:
    for cluster in model.resources("AWS::MSK::Cluster"):
        transit = cluster.prop("EncryptionInfo", "EncryptionInTransit") or {}
        ok = not is_false(transit.get("InCluster", True)) and transit.get("ClientBroker", "TLS") == "TLS"
        yield _check(cluster, None if ok else "traffic is not TLS-only")


@rule(
    id="PCI4-MSK-CONNECT-IN-TRANSIT",
    requirements=("4.2.1",),
    description="Every MSK Connect connector reaches its cluster over TLS.",
    fix="Set KafkaClusterEncryptionInTransit.EncryptionType TLS.",
)
def msk_connect_in_transit(model: TemplateModel) -> Iterator[Check]:
    for connector in model.resources("AWS::KafkaConnect::Connector"):
        ok = connector.prop("KafkaClusterEncryptionInTransit", "EncryptionType") == "TLS"
        yield _check(connector, None if ok else "plaintext to the cluster")


@rule(
    id="PCI4-EVENTBRIDGE-BUS-POLICY",
    requirements=(),
    related=("1.4.4",),
    description="Every custom EventBridge event bus has a resource-based policy (who may put events is explicit).",
    fix="Set Policy on the AWS::Events::EventBus or add an AWS::Events::EventBusPolicy for it.",
)
def eventbridge_bus_policy(model: TemplateModel) -> Iterator[Check]:
    # A policy allowing everyone (Principal "*" or {"AWS": "*"}) to put events with no Condition makes who may
    # put events explicit only as "anyone" (QSA reader r21e LOW): it fails, as no policy does.
    for bus in model.resources("AWS::Events::EventBus"):
        attached = model.referrers(bus, "AWS::Events::EventBusPolicy")
        if not bus.prop("Policy") and not attached:
            yield _check(bus, "no resource-based policy")
            continue
        documents = [bus.prop("Policy")] + [{"Statement": p.prop("Statement")} for p in attached]
        documents += [{"Statement": {k: p.prop(k) for k in ("Principal", "Action", "Condition")}} for p in attached]
        open_ = [
            statement
            for document in documents
            for statement in statements(document)
            if statement.get("Effect", "Allow") == "Allow"
            and _everyone(statement.get("Principal"))
            and any(str(a) in ("events:PutEvents", "events:*", "*") for a in as_list(statement.get("Action")))
            and not statement.get("Condition")
        ]
        yield _check(bus, "the policy lets any principal put events, with no condition" if open_ else None)


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS"))


@rule(
    id="PCI4-ROUTE53-QUERY-LOGGING",
    requirements=("10.4.2",),
    description="Every public Route 53 hosted zone logs DNS queries.",
    fix="Set QueryLoggingConfig.CloudWatchLogsLogGroupArn (a us-east-1 log group).",
)
def route53_query_logging(model: TemplateModel) -> Iterator[Check]:
    for zone in model.resources("AWS::Route53::HostedZone"):
        if not zone.prop("VPCs"):
            ok = bool(zone.prop("QueryLoggingConfig", "CloudWatchLogsLogGroupArn"))
            yield _check(zone, None if ok else "DNS queries are not logged")


@rule(
    id="PCI4-TRANSFER-NO-FTP",
    requirements=("4.2.1",),
    description="No Transfer Family server accepts plain FTP.",
    fix="Set Protocols to [SFTP] or [FTPS].",
)
def transfer_no_ftp(model: TemplateModel) -> Iterator[Check]:
    for server in model.resources("AWS::Transfer::Server"):
        protocols = [str(p).upper() for p in as_list(server.prop("Protocols", default=["SFTP"]))]
        yield _check(server, "plain FTP accepted" if "FTP" in protocols else None)


@rule(
    id="PCI4-SAGEMAKER-NO-DIRECT-INTERNET",
    requirements=("1.4.4",),
    description="No SageMaker notebook instance has direct internet access (CloudFormation's default is Enabled).",
    fix="Set DirectInternetAccess Disabled and a SubnetId in the VPC.",
)
def sagemaker_no_direct_internet(model: TemplateModel) -> Iterator[Check]:
    for notebook in model.resources("AWS::SageMaker::NotebookInstance"):
        ok = notebook.prop("DirectInternetAccess", default="Enabled") == "Disabled"
        yield _check(notebook, None if ok else "direct internet access")


def _beanstalk_option(environment: Resource, namespace: str, name: str) -> Any:
    for option in _mappings(environment.prop("OptionSettings")):
        if option.get("Namespace") == namespace and option.get("OptionName") == name:
            return option.get("Value")
    return None


@rule(
    id="PCI4-BEANSTALK-MANAGED-UPDATES",
    requirements=("6.3.3",),
    description="Every Elastic Beanstalk environment has managed platform updates on.",
    fix="Set aws:elasticbeanstalk:managedactions ManagedActionsEnabled true (and an update level).",
)
def beanstalk_managed_updates(model: TemplateModel) -> Iterator[Check]:
    for environment in model.resources("AWS::ElasticBeanstalk::Environment"):
        value = _beanstalk_option(environment, "aws:elasticbeanstalk:managedactions", "ManagedActionsEnabled")
        yield _check(environment, None if is_true(value) else "managed platform updates are off")


@rule(
    id="PCI4-BEANSTALK-STREAM-LOGS",
    requirements=("10.4.2",),
    description="Every Elastic Beanstalk environment streams its logs to CloudWatch Logs.",
    fix="Set aws:elasticbeanstalk:cloudwatch:logs StreamLogs true.",
)
def beanstalk_stream_logs(model: TemplateModel) -> Iterator[Check]:
    for environment in model.resources("AWS::ElasticBeanstalk::Environment"):
        value = _beanstalk_option(environment, "aws:elasticbeanstalk:cloudwatch:logs", "StreamLogs")
        yield _check(environment, None if is_true(value) else "logs are not streamed")


CLB = "AWS::ElasticLoadBalancing::LoadBalancer"
# The predefined Classic Load Balancer policy the ELB.8 control asks for (TLS 1.2 only).
CLB_TLS12_POLICY = "ELBSecurityPolicy-TLS-1-2-2017-01"


@rule(
    id="PCI4-CLB-HTTPS-LISTENERS",
    requirements=("4.2.1",),
    description="Every Classic Load Balancer listener terminates HTTPS or TLS (SSL).",
    fix="Use Protocol HTTPS or SSL with an SSLCertificateId on every listener (or move to an ALB/NLB).",
)
def clb_https_listeners(model: TemplateModel) -> Iterator[Check]:
    for lb in model.resources(CLB):
        plain = [
            li for li in _mappings(lb.prop("Listeners")) if str(li.get("Protocol")).upper() not in ("HTTPS", "SSL")
        ]
        yield _check(lb, "a listener without TLS" if plain else None)


@rule(
    id="PCI4-CLB-TLS12-POLICY",
    requirements=("4.2.1",),
    description="A Classic Load Balancer with HTTPS/SSL listeners uses the predefined TLS 1.2 security policy.",
    fix=f"Add an SSLNegotiationPolicyType policy with Reference-Security-Policy {CLB_TLS12_POLICY}.",
)
def clb_tls12_policy(model: TemplateModel) -> Iterator[Check]:
    for lb in model.resources(CLB):
        if not any(str(li.get("Protocol")).upper() in ("HTTPS", "SSL") for li in _mappings(lb.prop("Listeners"))):
            continue
        ok = any(
            policy.get("PolicyType") == "SSLNegotiationPolicyType"
            and any(
                a.get("Name") == "Reference-Security-Policy" and a.get("Value") == CLB_TLS12_POLICY
                for a in _mappings(policy.get("Attributes"))
            )
            for policy in _mappings(lb.prop("Policies"))
        )
        yield _check(lb, None if ok else f"not on {CLB_TLS12_POLICY}")


_BPA_KEYS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")


def _blocks_public(resource: Resource) -> str | None:
    settings = resource.prop("PublicAccessBlockConfiguration") or {}
    off = [k for k in _BPA_KEYS if is_false(settings.get(k))]  # every setting defaults to true
    return f"public access not blocked: {', '.join(off)} false" if off else None


@rule(
    id="PCI4-S3-ACCESS-POINT-BPA",
    requirements=("1.4.4",),
    description="Every S3 access point keeps all four Block Public Access settings on.",
    fix="Leave PublicAccessBlockConfiguration unset or all four settings true.",
)
def s3_access_point_bpa(model: TemplateModel) -> Iterator[Check]:
    for point in model.resources("AWS::S3::AccessPoint"):
        yield _check(point, _blocks_public(point))


@rule(
    id="PCI4-S3-MRAP-BPA",
    requirements=("1.4.4",),
    description="Every S3 Multi-Region Access Point keeps all four Block Public Access settings on.",
    fix="Leave PublicAccessBlockConfiguration unset or all four settings true.",
)
def s3_mrap_bpa(model: TemplateModel) -> Iterator[Check]:
    for point in model.resources("AWS::S3::MultiRegionAccessPoint"):
        yield _check(point, _blocks_public(point))


# The RDS event categories the RDS.20 control requires of a db-instance subscription.
RDS_INSTANCE_CRITICAL_EVENTS = ("maintenance", "configuration change", "failure")


@rule(
    id="PCI4-RDS-EVENT-SUBSCRIPTION-CRITICAL",
    # RDS.20 maps 11.5.2 (rds-controls.html#rds-20); 10.4.1 is the project's own reading (the events are reviewed)
    requirements=("10.4.1", "11.5.2"),
    description="Every RDS event subscription for DB instances covers maintenance, configuration change and failure.",
    fix="Leave EventCategories empty (all) or include maintenance, configuration change and failure.",
)
def rds_event_subscription_critical(model: TemplateModel) -> Iterator[Check]:
    for subscription in model.resources("AWS::RDS::EventSubscription"):
        if subscription.prop("SourceType") != "db-instance":
            continue
        categories = as_list(subscription.prop("EventCategories"))
        missing = [c for c in RDS_INSTANCE_CRITICAL_EVENTS if categories and c not in categories]
        ok = not missing and not is_false(subscription.prop("Enabled"))
        yield _check(subscription, None if ok else f"disabled or missing {', '.join(missing)}")


# RDS.21 and RDS.22 ("Security Hub CSPM controls for Amazon RDS", rds-controls.html#rds-21, #rds-22): the event
# categories a subscription for parameter groups and for DB security groups must notify.
RDS_CONFIG_EVENTS = {
    "db-parameter-group": ("configuration change",),
    "db-security-group": ("configuration change", "failure"),
}


@rule(
    id="PCI4-RDS-EVENT-SUBSCRIPTION-CONFIG",
    requirements=("11.5.2",),
    description=(
        "Every RDS event subscription for DB parameter groups covers configuration change, and every one for DB"
        " security groups configuration change and failure."
    ),
    fix="Leave EventCategories empty (all) or include configuration change (and failure for db-security-group).",
)
def rds_event_subscription_config(model: TemplateModel) -> Iterator[Check]:
    for subscription in model.resources("AWS::RDS::EventSubscription"):
        wanted = RDS_CONFIG_EVENTS.get(str(subscription.prop("SourceType")))
        if wanted is None:
            continue
        categories = as_list(subscription.prop("EventCategories"))
        missing = [c for c in wanted if categories and c not in categories]
        ok = not missing and not is_false(subscription.prop("Enabled"))
        yield _check(subscription, None if ok else f"disabled or missing {', '.join(missing)}")


@rule(
    id="PCI4-EMR-PRIMARY-NO-PUBLIC-IP",
    requirements=("1.4.4",),
    description=(
        "Every EMR cluster names its subnet, and no subnet of these templates it uses assigns public IPs on launch."
    ),
    fix="Set Instances.Ec2SubnetId (or Ec2SubnetIds) to a private subnet whose MapPublicIpOnLaunch is false.",
)
def emr_primary_no_public_ip(model: TemplateModel) -> Iterator[Check]:
    # EMR.1 (emr-controls.html#emr-1): a primary node gets a public IPv4 address when its subnet assigns one, which
    # default subnets do; a cluster that names no subnet launches in the default VPC. A subnet from outside these
    # templates (an ID or an import) is not examined here: the control reads it after launch.
    for cluster in model.resources("AWS::EMR::Cluster"):
        named = as_list(cluster.reference("Instances", "Ec2SubnetIds")) + as_list(
            cluster.reference("Instances", "Ec2SubnetId")
        )
        public = [
            subnet.logical_id
            for value in named
            if (subnet := model.target(cluster.stack, value)) is not None
            and subnet.type == "AWS::EC2::Subnet"
            and is_true(subnet.prop("MapPublicIpOnLaunch"))
        ]
        problem = "no subnet: the default VPC's default subnet assigns public IPs" if not named else None
        yield _check(cluster, problem or (f"subnet {', '.join(public)} assigns public IPs" if public else None))


# Amazon Inspector scan types for EC2 instances and ECR images (Inspector.1, Inspector.2).
INSPECTOR_EC2_ECR = ("EC2", "ECR")


@rule(
    id="PCI4-INSPECTOR-EC2-ECR-SCANNING",
    requirements=("11.3.1",),
    description="Where the templates enable Amazon Inspector, EC2 and ECR scanning are enabled too.",
    fix="Pass resourceTypes including EC2 and ECR to the Inspector2 enable call.",
)
def inspector_ec2_ecr_scanning(model: TemplateModel) -> Iterator[Check]:
    for resource in model.resources("Custom::AWS"):
        missing = inspector_missing(resource, INSPECTOR_EC2_ECR)
        if missing is not None:
            yield _check(resource, "; ".join(missing) or None)


@rule(
    id="PCI4-LAMBDA-NO-PUBLIC-ACCESS",
    # 7.2.1 (Security Hub Lambda.1's requirement): 7.2.1.b examines access control settings against the access
    # control model; a function policy that lets anyone invoke is such a setting granting access to no defined
    # role. 1.4.4: no direct path from an untrusted network to a CDE component. (QSA reader r21d LOW: Lambda.1's
    # 7.2.1 was carried only by PCI4-LAMBDA-SERVICE-PERMISSION-SOURCE.)
    requirements=("1.4.4", "7.2.1"),
    description=(
        "No Lambda permission lets anyone (`*`) invoke a function without a source condition, and no function URL"
        " takes unauthenticated requests (AuthType NONE)."
    ),
    fix="Name the principal (an account, role or service with SourceArn/SourceAccount); use AuthType AWS_IAM.",
)
def lambda_no_public_access(model: TemplateModel) -> Iterator[Check]:
    for permission in model.resources("AWS::Lambda::Permission"):
        public = permission.prop("Principal") == "*" and not any(
            permission.prop(key) for key in ("SourceArn", "SourceAccount", "PrincipalOrgID")
        )
        if permission.prop("FunctionUrlAuthType") == "NONE":
            public = True
        yield _check(permission, "anyone may invoke" if public else None)
    for url in model.resources("AWS::Lambda::Url"):
        yield _check(url, "the function URL takes unauthenticated requests" if url.prop("AuthType") == "NONE" else None)
