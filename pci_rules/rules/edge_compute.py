"""Edge, build and compute: the rules of AWS's "Operational Best Practices for PCI DSS v4.0" conformance pack
(`pci_rules/aws_pci_dss_v4_conformance_pack_rules.json`) whose property a template shows and that no Security
Hub control of the standard covers (issue 21, QSA review item 5).

Each rule reads what the AWS Config managed rule of the same purpose reads ("<rule-name>", AWS Config
Developer Guide, "AWS Config managed rules"); the crosswalk (`pci_rules/CROSSWALK.md`) names the Config rule.
The vendored pack carries no PCI DSS requirement per rule and AWS's mapping page is not read, so each rule
cites the v4.0.1 requirement the property serves, and says why beside it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pci_rules.model import Resource, TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import as_list, is_true


def _check(resource: Resource, problem: str | None) -> Check:
    return Check(resource, problem is None, problem or "")


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in as_list(value) if isinstance(v, Mapping)]


# --- API Gateway REST APIs ----------------------------------------------------------------------------


@rule(
    id="PCI4-APIGW-CACHE-ENCRYPTED",
    # 3.5.1: a CDE API's stage cache holds its responses, which may carry PAN, at rest in the API Gateway cache.
    requirements=("3.5.1",),
    description="Every API Gateway REST API stage that caches responses encrypts its cache on every caching method.",
    fix="Set CacheDataEncrypted true on every MethodSettings entry with CachingEnabled (and on the /* * default).",
)
def apigw_cache_encrypted(model: TemplateModel) -> Iterator[Check]:
    # api-gw-cache-enabled-and-encrypted also fails a stage with no cache; this rule asks no cache of a CDE
    # API (caching card-data responses is not required), only that a cache that exists is encrypted
    # (AWS::ApiGateway::Stage CacheClusterEnabled, MethodSetting CachingEnabled/CacheDataEncrypted).
    for stage in model.resources("AWS::ApiGateway::Stage"):
        settings = _mappings(stage.prop("MethodSettings"))
        plain = [s for s in settings if is_true(s.get("CachingEnabled")) and not is_true(s.get("CacheDataEncrypted"))]
        # A cache cluster caches GET methods by default, unencrypted, unless a method setting encrypts it.
        unset = is_true(stage.prop("CacheClusterEnabled")) and not any(
            is_true(s.get("CacheDataEncrypted")) for s in settings
        )
        yield _check(stage, "a cache is not encrypted" if plain or unset else None)


# The endpoint types a CDE REST API may use: api-gw-endpoint-type-check's endpointConfigurationTypes parameter
# (no default: the owner lists the allowed types).
APIGW_ALLOWED_ENDPOINT_TYPES = ("REGIONAL", "PRIVATE")


@rule(
    id="PCI4-APIGW-ENDPOINT-TYPE",
    # 1.4.1: a regional or private endpoint sits behind network controls the owner configures (its own WAF,
    # CloudFront distribution or VPC endpoint); an edge-optimized one fronts it with an AWS-managed distribution.
    requirements=("1.4.1",),
    description=f"Every API Gateway REST API uses a {' or '.join(APIGW_ALLOWED_ENDPOINT_TYPES)} endpoint, not EDGE.",
    fix="Set EndpointConfiguration.Types to [REGIONAL] or [PRIVATE] (CDK: endpoint_types); EDGE is the default.",
)
def apigw_endpoint_type(model: TemplateModel) -> Iterator[Check]:
    # AWS::ApiGateway::RestApi EndpointConfiguration.Types: "If unspecified, the default is EDGE" (CloudFormation
    # Template Reference, "AWS::ApiGateway::RestApi EndpointConfiguration").
    for api in model.resources("AWS::ApiGateway::RestApi"):
        types = [str(t).upper() for t in as_list(api.prop("EndpointConfiguration", "Types", default=["EDGE"]))]
        other = [t for t in types if t not in APIGW_ALLOWED_ENDPOINT_TYPES]
        yield _check(api, f"endpoint type {', '.join(other)}" if other or not types else None)


@rule(
    id="PCI4-APIGW-XRAY",
    # 10.2.1: the trace records each request's path through the API and its integrations.
    requirements=("10.2.1",),
    description="Every API Gateway REST API stage has AWS X-Ray active tracing on.",
    fix="Set TracingEnabled true on the AWS::ApiGateway::Stage (CDK: tracing_enabled=True).",
)
def apigw_xray(model: TemplateModel) -> Iterator[Check]:
    for stage in model.resources("AWS::ApiGateway::Stage"):
        yield _check(stage, None if is_true(stage.prop("TracingEnabled")) else "X-Ray tracing is off")


# --- CloudFront viewer certificates and S3 origins -----------------------------------------------------


def _viewer_certificate(distribution: Resource) -> Mapping[str, Any]:
    certificate = distribution.prop("DistributionConfig", "ViewerCertificate")
    return certificate if isinstance(certificate, Mapping) else {}


def _custom_certificate(certificate: Mapping[str, Any]) -> bool:
    return bool(certificate.get("AcmCertificateArn") or certificate.get("IamCertificateId"))


@rule(
    id="PCI4-CLOUDFRONT-CUSTOM-CERTIFICATE",
    # 4.2.1: the owner's certificate (ACM, renewed and inventoried) protects viewer connections.
    requirements=("4.2.1",),
    description="Every CloudFront distribution serves viewers with its own certificate, not the default one.",
    fix="Set ViewerCertificate.AcmCertificateArn (a us-east-1 ACM certificate) and the distribution's Aliases.",
)
def cloudfront_custom_certificate(model: TemplateModel) -> Iterator[Check]:
    # cloudfront-custom-ssl-certificate: NON_COMPLIANT when the distribution uses the default certificate
    # (ViewerCertificate absent or CloudFrontDefaultCertificate true).
    for distribution in model.resources("AWS::CloudFront::Distribution"):
        custom = _custom_certificate(_viewer_certificate(distribution))
        yield _check(distribution, None if custom else "the default *.cloudfront.net certificate")


# Viewer security policies of TLS 1.2 or later ("Supported protocols and ciphers between viewers and CloudFront",
# Amazon CloudFront Developer Guide); cloudfront-security-policy-check fails anything below TLSv1.2_2018.
CLOUDFRONT_TLS12_POLICIES = ("TLSv1.2_2018", "TLSv1.2_2019", "TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025")


@rule(
    id="PCI4-CLOUDFRONT-TLS12-POLICY",
    requirements=("4.2.1",),
    description="Every CloudFront distribution requires TLS 1.2 or later of viewers (MinimumProtocolVersion).",
    fix="Set ViewerCertificate.MinimumProtocolVersion to TLSv1.2_2021 (needs a custom certificate).",
)
def cloudfront_tls12_policy(model: TemplateModel) -> Iterator[Check]:
    # With the default certificate CloudFront sets the policy to TLSv1 whatever the template says
    # (CloudFormation Template Reference, "AWS::CloudFront::Distribution ViewerCertificate").
    for distribution in model.resources("AWS::CloudFront::Distribution"):
        certificate = _viewer_certificate(distribution)
        # CloudFormation's MinimumProtocolVersion default is TLSv1 (same page), so an unset policy fails too.
        policy = certificate.get("MinimumProtocolVersion", "TLSv1") if _custom_certificate(certificate) else "TLSv1"
        ok = policy in CLOUDFRONT_TLS12_POLICIES
        yield _check(distribution, None if ok else f"MinimumProtocolVersion {policy!r} is below TLSv1.2_2018")


@rule(
    id="PCI4-CLOUDFRONT-SNI",
    # 4.2.1: the viewer TLS endpoint serves the owner's certificate by SNI, the method CloudFront supports
    # for every modern client, not from dedicated IP addresses outside the distribution's managed policy.
    requirements=("4.2.1",),
    description="Every CloudFront distribution with a custom certificate serves it by SNI, not a dedicated IP (vip).",
    fix="Set ViewerCertificate.SslSupportMethod to sni-only.",
)
def cloudfront_sni(model: TemplateModel) -> Iterator[Check]:
    # cloudfront-sni-enabled: NON_COMPLIANT when a custom certificate is associated but SslSupportMethod is vip.
    for distribution in model.resources("AWS::CloudFront::Distribution"):
        certificate = _viewer_certificate(distribution)
        if _custom_certificate(certificate):
            method = certificate.get("SslSupportMethod")
            yield _check(distribution, None if method == "sni-only" else f"SslSupportMethod {method!r}, not sni-only")


@rule(
    id="PCI4-CLOUDFRONT-S3-ORIGIN-ACCESS",
    # 1.4.4: the bucket behind the distribution is reachable only through CloudFront, not from the internet.
    requirements=("1.4.4",),
    description="Every CloudFront S3 origin is reached through origin access control (or a legacy access identity).",
    fix="Set the origin's OriginAccessControlId (CDK: S3BucketOrigin.with_origin_access_control).",
)
def cloudfront_s3_origin_access(model: TemplateModel) -> Iterator[Check]:
    # cloudfront-s3-origin-access-control-enabled asks OAC of every S3 origin; cloudfront-origin-access-
    # identity-enabled asks the legacy OAI. With OAC, S3OriginConfig.OriginAccessIdentity is empty
    # (CloudFormation Template Reference, "AWS::CloudFront::Distribution S3OriginConfig").
    for distribution in model.resources("AWS::CloudFront::Distribution"):
        origins = _mappings(distribution.prop("DistributionConfig", "Origins"))
        s3 = [o for o in origins if "S3OriginConfig" in o]
        if s3:
            open_ = [
                str(o.get("Id"))
                for o in s3
                if not o.get("OriginAccessControlId")
                and not ((o.get("S3OriginConfig") or {}).get("OriginAccessIdentity"))
            ]
            yield _check(distribution, f"S3 origin {', '.join(open_)} without origin access control" if open_ else None)


# --- CodeBuild, CodeDeploy ----------------------------------------------------------------------------


@rule(
    id="PCI4-CODEBUILD-ARTIFACTS-ENCRYPTED",
    # 2.2.6: artifact encryption is a security parameter of the build service; switched off, the build output
    # (deployable code and configuration) is stored readable in the artifact store.
    requirements=("2.2.6",),
    description="No CodeBuild project disables encryption of its primary or secondary artifacts.",
    fix="Remove EncryptionDisabled (or set it false) from Artifacts and every SecondaryArtifacts entry.",
)
def codebuild_artifacts_encrypted(model: TemplateModel) -> Iterator[Check]:
    # codebuild-project-artifact-encryption: NON_COMPLIANT when encryptionDisabled is true for any primary or
    # secondary artifact (AWS::CodeBuild::Project Artifacts.EncryptionDisabled).
    for project in model.resources("AWS::CodeBuild::Project"):
        artifacts = _mappings(project.prop("Artifacts")) + _mappings(project.prop("SecondaryArtifacts"))
        plain = any(is_true(a.get("EncryptionDisabled")) for a in artifacts)
        yield _check(project, "an artifact is not encrypted" if plain else None)


CODEDEPLOY_ALL_AT_ONCE = "CodeDeployDefault.LambdaAllAtOnce"


@rule(
    id="PCI4-CODEDEPLOY-LAMBDA-GRADUAL",
    # 6.5.1: its procedures "to address failures and return to a secure state": a canary or linear shift limits a
    # faulty change to part of the traffic and CodeDeploy rolls it back.
    requirements=("6.5.1",),
    description=f"No CodeDeploy deployment group for Lambda shifts all traffic at once ({CODEDEPLOY_ALL_AT_ONCE}).",
    fix="Set DeploymentConfigName to a canary or linear one (e.g. CodeDeployDefault.LambdaCanary10Percent5Minutes).",
)
def codedeploy_lambda_gradual(model: TemplateModel) -> Iterator[Check]:
    # codedeploy-lambda-allatonce-traffic-shift-disabled reads the group of a Lambda application; a group
    # without DeploymentConfigName takes the all-at-once default ("Deployment configurations on an AWS Lambda
    # compute platform", AWS CodeDeploy User Guide).
    for group in model.resources("AWS::CodeDeploy::DeploymentGroup"):
        application = model.target(group.stack, group.reference("ApplicationName"))
        if application is None or str(application.prop("ComputePlatform")) != "Lambda":
            continue
        name = group.prop("DeploymentConfigName", default=CODEDEPLOY_ALL_AT_ONCE)
        yield _check(group, f"{name} shifts all traffic at once" if name == CODEDEPLOY_ALL_AT_ONCE else None)


# --- EC2 instances, Client VPN, transit gateways -------------------------------------------------------


def _launch_template(model: TemplateModel, instance: Resource) -> Resource | None:
    reference = instance.reference("LaunchTemplate", "LaunchTemplateId") or instance.reference(
        "LaunchTemplate", "LaunchTemplateName"
    )
    return model.target(instance.stack, reference) if reference is not None else None


def _instance_or_template(model: TemplateModel, instance: Resource, key: str, *inner: str) -> Any:
    """The instance's own `key`, else its launch template's LaunchTemplateData `key` (then `inner`)."""
    value = instance.prop(key)
    if value is None and (template := _launch_template(model, instance)) is not None:
        value = template.prop("LaunchTemplateData", key, *inner)
    return value


@rule(
    id="PCI4-EC2-DETAILED-MONITORING",
    # 10.2.1: one-minute instance metrics feed the alarms that surface failures and anomalies in time.
    requirements=("10.2.1",),
    description="Every EC2 instance has detailed (one-minute) monitoring on, itself or through its launch template.",
    fix="Set Monitoring true on the instance or LaunchTemplateData.Monitoring.Enabled (CDK: detailed_monitoring).",
)
def ec2_detailed_monitoring(model: TemplateModel) -> Iterator[Check]:
    for instance in model.resources("AWS::EC2::Instance"):
        own = instance.prop("Monitoring")
        template = _launch_template(model, instance)
        from_template = template.prop("LaunchTemplateData", "Monitoring", "Enabled") if template else None
        on = is_true(own) or (own is None and is_true(from_template))
        yield _check(instance, None if on else "detailed monitoring is off")


@rule(
    id="PCI4-EC2-INSTANCE-PROFILE",
    # 8.6.2: the instance gets rotated role credentials, so no access key is stored on it.
    requirements=("8.6.2",),
    description="Every EC2 instance has an IAM instance profile, itself or through its launch template.",
    fix="Set IamInstanceProfile on the instance or LaunchTemplateData.IamInstanceProfile (CDK: role=...).",
)
def ec2_instance_profile(model: TemplateModel) -> Iterator[Check]:
    for instance in model.resources("AWS::EC2::Instance"):
        profile = _instance_or_template(model, instance, "IamInstanceProfile")
        yield _check(instance, None if profile else "no instance profile")


@rule(
    id="PCI4-EC2-NO-KEY-PAIR",
    # 8.2.2: an EC2 key pair is one shared credential for the instance's default OS user.
    requirements=("8.2.2",),
    description="No EC2 instance is launched with an EC2 key pair, itself or through its launch template.",
    fix="Remove KeyName (and LaunchTemplateData.KeyName); reach instances with Session Manager.",
)
def ec2_no_key_pair(model: TemplateModel) -> Iterator[Check]:
    # ec2-no-amazon-key-pair: NON_COMPLIANT when an instance was launched with a key pair (launch-time only).
    for instance in model.resources("AWS::EC2::Instance"):
        key = _instance_or_template(model, instance, "KeyName")
        yield _check(instance, "launched with a key pair" if key else None)


@rule(
    id="PCI4-EC2-CLIENT-VPN-NOT-ALL",
    # 7.2.1: Client VPN access to a network is granted to the directory groups that need it, not to everyone.
    requirements=("7.2.1",),
    description="No Client VPN authorization rule authorizes all clients (AuthorizeAllGroups).",
    fix="Remove AuthorizeAllGroups and set AccessGroupId to the directory or IdP group that needs the network.",
)
def client_vpn_not_all(model: TemplateModel) -> Iterator[Check]:
    # ec2-client-vpn-not-authorize-all: NON_COMPLIANT when an authorization rule grants access to all clients
    # (AWS::EC2::ClientVpnAuthorizationRule AuthorizeAllGroups).
    for authorization in model.resources("AWS::EC2::ClientVpnAuthorizationRule"):
        everyone = is_true(authorization.prop("AuthorizeAllGroups"))
        yield _check(authorization, "authorizes all clients" if everyone else None)


@rule(
    id="PCI4-EC2-TGW-NO-AUTO-ACCEPT",
    # 1.3.1: an attachment accepted without review would add a route into the CDE's networks.
    requirements=("1.3.1",),
    description="No transit gateway accepts shared VPC attachments automatically.",
    fix="Leave AutoAcceptSharedAttachments unset or set it disable.",
)
def tgw_no_auto_accept(model: TemplateModel) -> Iterator[Check]:
    # ec2-transit-gateway-auto-vpc-attach-disabled: NON_COMPLIANT when AutoAcceptSharedAttachments is enable
    # (CloudFormation default: disable).
    for gateway in model.resources("AWS::EC2::TransitGateway"):
        auto = str(gateway.prop("AutoAcceptSharedAttachments", default="disable")).lower() == "enable"
        yield _check(gateway, "shared attachments are accepted automatically" if auto else None)


# --- Containers: ECR, ECS, EKS -------------------------------------------------------------------------


@rule(
    id="PCI4-ECR-LIFECYCLE-POLICY",
    # 6.3.3: expiring superseded images keeps unpatched ones from being pulled and deployed again.
    requirements=("6.3.3",),
    description="Every ECR private repository has a lifecycle policy.",
    fix="Set LifecyclePolicy.LifecyclePolicyText (CDK: lifecycle_rules=[...]).",
)
def ecr_lifecycle_policy(model: TemplateModel) -> Iterator[Check]:
    for repository in model.resources("AWS::ECR::Repository"):
        text = repository.prop("LifecyclePolicy", "LifecyclePolicyText")
        yield _check(repository, None if text else "no lifecycle policy")


@rule(
    id="PCI4-ECS-NO-HOST-PID",
    # 2.2.6: a container sharing the host's process namespace sees and signals every process on the host.
    requirements=("2.2.6",),
    description="No ECS task definition shares the host's process namespace (PidMode host).",
    fix="Remove PidMode or set it task.",
)
def ecs_no_host_pid(model: TemplateModel) -> Iterator[Check]:
    for task in model.resources("AWS::ECS::TaskDefinition"):
        yield _check(task, "PidMode host" if str(task.prop("PidMode")).lower() == "host" else None)


@rule(
    id="PCI4-ECS-LOG-CONFIGURATION",
    requirements=("10.2.1",),
    description="Every container of every ECS task definition has a log configuration.",
    fix="Set LogConfiguration (e.g. awslogs to a retained, encrypted log group) on every container definition.",
)
def ecs_log_configuration(model: TemplateModel) -> Iterator[Check]:
    # ecs-task-definition-log-configuration: NON_COMPLIANT when a container definition has no logConfiguration.
    for task in model.resources("AWS::ECS::TaskDefinition"):
        containers = _mappings(task.prop("ContainerDefinitions"))
        bare = [str(c.get("Name")) for c in containers if not c.get("LogConfiguration")]
        yield _check(task, f"container {', '.join(bare)} has no log configuration" if bare else None)


# The EKS control-plane log types (CloudFormation Template Reference, "AWS::EKS::Cluster LoggingTypeConfig");
# eks-cluster-logging-enabled fails a cluster that does not enable every one.
EKS_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


@rule(
    id="PCI4-EKS-ALL-CONTROL-PLANE-LOGS",
    requirements=("10.2.1",),
    description="Every EKS cluster sends all five control-plane log types to CloudWatch Logs.",
    fix=f"Enable {', '.join(EKS_LOG_TYPES)} in Logging.ClusterLogging.EnabledTypes (CDK: cluster_logging).",
)
def eks_all_control_plane_logs(model: TemplateModel) -> Iterator[Check]:
    for cluster in model.resources("AWS::EKS::Cluster"):
        types = {str(t.get("Type")) for t in _mappings(cluster.prop("Logging", "ClusterLogging", "EnabledTypes"))}
        missing = [t for t in EKS_LOG_TYPES if t not in types]
        yield _check(cluster, f"log types off: {', '.join(missing)}" if missing else None)
