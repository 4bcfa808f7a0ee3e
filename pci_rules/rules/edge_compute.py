"""Edge, build and compute: the rules of AWS's "Operational Best Practices for PCI DSS v4.0" conformance pack
(`pci_rules/aws_pci_dss_v4_conformance_pack_rules.json`) whose property a template shows and that no Security
Hub control of the standard covers (issue 21, QSA review item 5).

Each rule reads what the AWS Config managed rule of the same purpose reads ("<rule-name>", AWS Config
Developer Guide, "AWS Config managed rules"); the crosswalk (`pci_rules/CROSSWALK.md`) names the Config rule.
Each rule cites the v4.0.1 requirement the property serves, and says why beside it. AWS's own mapping of each
Config rule (`pci_rules/aws_pci_dss_v4_config_mapping.json`, read from the AWS Config Developer Guide page
"Operational Best Practices for PCI DSS 4.0 (Including global resource types)") is shown beside it in the
crosswalk, and every difference carries a reviewed reason there (`crosswalk.DEPARTURES`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pci_rules.model import Resource, TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import EKS_CLUSTER_TYPES, as_list, eks_log_types, flatten, is_true, statements


def _check(resource: Resource, problem: str | None) -> Check:
    return Check(resource, problem is None, problem or "")


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in as_list(value) if isinstance(v, Mapping)]


# --- API Gateway REST APIs ----------------------------------------------------------------------------


def _rest_stages(model: TemplateModel) -> Iterator[tuple[Resource, tuple[str, ...]]]:
    """Each REST API stage the templates make, beside the property path its settings sit under: an
    AWS::ApiGateway::Stage (its own properties, `()`), and an AWS::ApiGateway::Deployment with a StageName or a
    StageDescription, which creates that stage from its StageDescription (`("StageDescription",)`; absent,
    every setting takes its default: "AWS::ApiGateway::Deployment", CloudFormation Template Reference)."""
    for stage in model.resources("AWS::ApiGateway::Stage"):
        yield stage, ()
    for deployment in model.resources("AWS::ApiGateway::Deployment"):
        if deployment.reference("StageName") is not None or deployment.reference("StageDescription") is not None:
            yield deployment, ("StageDescription",)


@rule(
    id="PCI4-APIGW-CACHE-ENCRYPTED",
    # Related to 3.5.1.2, not evidence (3.5.1.2.a examines the 3.5.1 mechanism beside it): CacheDataEncrypted
    # encrypts the cache's storage, storage-level encryption, the subject of
    # 3.5.1.2; a cached response is served decrypted to any caller the API serves, so it is not the 3.5.1
    # mechanism for any PAN a response carries (that is field-level: PCI4-CARD-DATA-FIELD-ENCRYPTION).
    requirements=(),
    related=("3.5.1.2",),
    description="Every API Gateway REST API stage that caches responses encrypts its cache on every caching method.",
    fix="Set CacheDataEncrypted true on every MethodSettings entry with CachingEnabled (and on the /* * default).",
)
def apigw_cache_encrypted(model: TemplateModel) -> Iterator[Check]:
    # api-gw-cache-enabled-and-encrypted also fails a stage with no cache; this rule asks no cache of a CDE
    # API (caching card-data responses is not required), only that a cache that exists is encrypted
    # (AWS::ApiGateway::Stage CacheClusterEnabled, MethodSetting CachingEnabled/CacheDataEncrypted).
    for stage, prefix in _rest_stages(model):
        settings = _mappings(stage.prop(*prefix, "MethodSettings"))
        if prefix:
            # StageDescription's own CachingEnabled/CacheDataEncrypted set every method ("AWS::ApiGateway::
            # Deployment StageDescription", CloudFormation Template Reference).
            settings.append(
                {
                    "CachingEnabled": stage.prop(*prefix, "CachingEnabled"),
                    "CacheDataEncrypted": stage.prop(*prefix, "CacheDataEncrypted"),
                }
            )
        plain = [s for s in settings if is_true(s.get("CachingEnabled")) and not is_true(s.get("CacheDataEncrypted"))]
        # A cache cluster caches GET methods by default, unencrypted, unless a method setting encrypts it.
        unset = is_true(stage.prop(*prefix, "CacheClusterEnabled")) and not any(
            is_true(s.get("CacheDataEncrypted")) for s in settings
        )
        yield _check(stage, "a cache is not encrypted" if plain or unset else None)


# A PRIVATE endpoint is reachable only through interface VPC endpoints ("Creating a private API", API Gateway
# Developer Guide). A REGIONAL or EDGE endpoint is reachable from the internet on every stage it has, so it passes
# only with an NSC the templates show in front of EVERY stage: an AWS WAF web ACL associated with each stage
# (AWS::WAFv2::WebACLAssociation ResourceArn "arn:<partition>:apigateway:<region>::/restapis/<api-id>/stages/
# <stage-name>": "AWS::WAFv2::WebACLAssociation", CloudFormation Template Reference; "AssociateWebACL", AWS WAF API
# Reference; a web ACL is associated with one stage, not with the API).
#
# A CloudFront distribution with a web ACL (DistributionConfig.WebACLId) whose origin is the API leaves the
# execute-api endpoint itself reachable, so it counts only beside a resource policy (AWS::ApiGateway::RestApi
# Policy) that denies execute-api:Invoke on every stage, method and path to any request without the secret the
# distribution sends: a Deny with StringNotEquals on aws:Referer (a key "AWS condition keys that can be used in
# API Gateway resource policies", API Gateway Developer Guide, lists for every authorization type), whose value the
# same origin sends as an origin custom header Referer (OriginCustomHeaders; CloudFront overwrites a header of that
# name a viewer sent: "Add custom headers to origin requests", Amazon CloudFront Developer Guide). aws:SourceIp is
# not taken as the gate: CloudFront's origin-facing addresses are not a range a template can show to be
# CloudFront's only.
APIGW_PRIVATE_ENDPOINT = "PRIVATE"


def _api_stages(model: TemplateModel, api: Resource) -> list[tuple[Resource, Any]]:
    """Each stage of `api` the templates make, beside its StageName (a string, or whatever the template holds):
    AWS::ApiGateway::Stage resources and Deployments with a StageName whose RestApiId references the API."""
    stages: list[tuple[Resource, Any]] = []
    for stage, prefix in _rest_stages(model):
        if api not in model.references(stage.stack, stage.reference("RestApiId")):
            continue
        if prefix and stage.reference("StageName") is None:
            continue  # a StageDescription with no StageName makes no stage ("AWS::ApiGateway::Deployment")
        stages.append((stage, stage.reference("StageName")))
    return stages


def _token(logical_id: str) -> str:
    """A reference as `flatten` renders it: `<Id>` from a Ref in an Fn::Join, `${Id}` in Fn::Sub text."""
    return rf"(?:<{re.escape(logical_id)}>|\$\{{{re.escape(logical_id)}\}})"


def _stage_has_web_acl(model: TemplateModel, api: Resource, stage: Resource, name: Any) -> bool:
    """Whether a web ACL association's ResourceArn names this stage of this API: ".../restapis/<api>/stages/
    <stage>", the API by reference and the stage by reference to the AWS::ApiGateway::Stage or by its literal
    StageName (a Deployment's stage has only its name)."""
    stage_forms = [_token(stage.logical_id)] if stage.type == "AWS::ApiGateway::Stage" else []
    if isinstance(name, str):
        stage_forms.append(re.escape(name))
    if not stage_forms:
        return False
    pattern = re.compile(rf"/restapis/{_token(api.logical_id)}/stages/(?:{'|'.join(stage_forms)})$")
    for association in model.resources("AWS::WAFv2::WebACLAssociation"):
        if association.stack == api.stack and pattern.search(flatten(association.reference("ResourceArn"))):
            return True
    return False


def _resource_covers_all(statement: Mapping[str, Any]) -> bool:
    """Whether the statement's Resource covers every stage, method and path: `*`, `execute-api:/*`, or an
    execute-api ARN ending `/*` ("API Gateway resource policy examples": "execute-api:/* to represent all stages,
    methods, and paths in the current API")."""
    resources = [flatten(r) for r in as_list(statement.get("Resource"))]
    return any(r in ("*", "execute-api:/*") or (r.endswith("/*") and "execute-api" in r) for r in resources)


def _referer_gates(api: Resource) -> list[set[str]]:
    """For each Deny in the API's resource policy that refuses execute-api:Invoke on every resource to every
    principal unless aws:Referer equals one of some values (its only condition), those values."""
    gates: list[set[str]] = []
    for statement in statements(api.reference("Policy")):
        principal = statement.get("Principal")
        anyone = principal == "*" or (isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS")))
        actions = [str(a).lower() for a in as_list(statement.get("Action"))]
        if statement.get("Effect") != "Deny" or not anyone or not _resource_covers_all(statement):
            continue
        if not any(a in ("*", "execute-api:*", "execute-api:invoke") for a in actions):
            continue
        condition = statement.get("Condition")
        # One operator with one key: a second narrows the Deny further (operators and keys are ANDed).
        if not isinstance(condition, Mapping) or list(condition) != ["StringNotEquals"]:
            continue
        keys = condition["StringNotEquals"]
        if isinstance(keys, Mapping) and [str(k).lower() for k in keys] == ["aws:referer"]:
            values = {str(v) for v in as_list(next(iter(keys.values()))) if isinstance(v, str) and v}
            if values:
                gates.append(values)
    return gates


def _cloudfront_origins(model: TemplateModel, api: Resource) -> list[Mapping[str, Any]]:
    """The origins, of distributions with a WebACLId, whose domain references the API."""
    origins: list[Mapping[str, Any]] = []
    for distribution in model.resources("AWS::CloudFront::Distribution"):
        if not distribution.prop("DistributionConfig", "WebACLId"):
            continue
        for origin in _mappings(distribution.reference("DistributionConfig", "Origins")):
            if api in model.references(distribution.stack, origin.get("DomainName")):
                origins.append(origin)
    return origins


def _sends_referer(origin: Mapping[str, Any], values: set[str]) -> bool:
    return any(
        str(header.get("HeaderName", "")).lower() == "referer" and header.get("HeaderValue") in values
        for header in _mappings(origin.get("OriginCustomHeaders"))
    )


def _endpoint_problem(model: TemplateModel, api: Resource, public: str) -> str | None:
    """None when a web ACL sits in front of every way in; else the finding, naming what the read found."""
    stages = _api_stages(model, api)
    bare = [stage for stage, name in stages if not _stage_has_web_acl(model, api, stage, name)]
    if stages and not bare:
        return None
    origins = _cloudfront_origins(model, api)
    if origins:
        gates = _referer_gates(api)
        if any(_sends_referer(origin, values) for origin in origins for values in gates):
            return None
        return (
            f"endpoint type {public} behind a CloudFront web ACL, but no resource policy denies execute-api:Invoke"
            " without the Referer secret that distribution sends (its execute-api endpoint stays reachable)"
        )
    if not stages:
        return f"endpoint type {public} with no WAF web ACL in front of it"
    names = ", ".join(
        str(name) if isinstance(name, str) else stage.logical_id for stage, name in stages if stage in bare
    )
    return f"endpoint type {public} with no WAF web ACL on stage {names}"


@rule(
    id="PCI4-APIGW-ENDPOINT-TYPE",
    # 1.4.1: NSCs are implemented between trusted and untrusted networks. A PRIVATE endpoint admits only the VPC's
    # interface endpoints; a REGIONAL or EDGE one faces the internet on every stage, and passes only where the
    # templates show the NSC in front of each: a WAF web ACL on every stage, or a web ACL on the distribution that
    # fronts it together with a resource policy that refuses callers who bypass the distribution (1.4.1.a examines
    # NSC configurations between the networks; the web ACL is that configuration). AWS's sample-pack page maps
    # api-gw-endpoint-type-check to 1.2.8 and six more of 1.x; 1.2.8 concerns NSC configuration files, which the
    # endpoint type is not (crosswalk.DEPARTURES says why for each).
    requirements=("1.4.1",),
    description="Every API Gateway REST API is PRIVATE, or REGIONAL/EDGE only with an AWS WAF web ACL on every"
    " stage, or behind a CloudFront distribution with a web ACL and a resource policy denying execute-api:Invoke"
    " to callers that bypass it.",
    fix="Set EndpointConfiguration.Types to [PRIVATE] (CDK: endpoint_types), or associate a WAF web ACL with every"
    " stage of the API (AWS::WAFv2::WebACLAssociation, ResourceArn the stage ARN), or front it with a CloudFront"
    " distribution with a web ACL and give the API a Policy that denies execute-api:Invoke on execute-api:/*"
    " unless aws:Referer equals the secret the distribution sends as the origin's Referer custom header"
    " (StringNotEquals); EDGE is the default.",
)
def apigw_endpoint_type(model: TemplateModel) -> Iterator[Check]:
    # AWS::ApiGateway::RestApi EndpointConfiguration.Types: "If unspecified, the default is EDGE" (CloudFormation
    # Template Reference, "AWS::ApiGateway::RestApi EndpointConfiguration").
    for api in model.resources("AWS::ApiGateway::RestApi"):
        types = [str(t).upper() for t in as_list(api.prop("EndpointConfiguration", "Types", default=["EDGE"]))]
        if types and all(t == APIGW_PRIVATE_ENDPOINT for t in types):
            yield _check(api, None)
            continue
        public = ", ".join(t for t in types if t != APIGW_PRIVATE_ENDPOINT) or "EDGE"
        yield _check(api, _endpoint_problem(model, api, public))


@rule(
    id="PCI4-APIGW-XRAY",
    # Related to 10.7.2, not evidence (10.7.2.b examines the alert a failed control raises): a trace is not an audit
    # log (10.2.1 asks logs of user and administrator actions; a stage's access
    # log is one). X-Ray samples requests and records their path
    # through the stage to the services behind it ("Amazon API Gateway active tracing support for AWS X-Ray",
    # AWS X-Ray Developer Guide), which is how a failure of the API tier the vault's access control sits in is
    # located and addressed promptly once an alarm has detected it; the trace itself raises no alert.
    requirements=(),
    related=("10.7.2",),
    description="Every API Gateway REST API stage has AWS X-Ray active tracing on.",
    fix="Set TracingEnabled true on the AWS::ApiGateway::Stage or the Deployment's StageDescription"
    " (CDK: deploy_options tracing_enabled=True).",
)
def apigw_xray(model: TemplateModel) -> Iterator[Check]:
    for stage, prefix in _rest_stages(model):
        yield _check(stage, None if is_true(stage.prop(*prefix, "TracingEnabled")) else "X-Ray tracing is off")


# Execution-log levels api-gw-execution-logging-enabled accepts: "NON_COMPLIANT if logging is not enabled, or if
# loggingLevel is neither ERROR nor INFO" (AWS Config Developer Guide, api-gw-execution-logging-enabled).
_EXECUTION_LOG_LEVELS = ("ERROR", "INFO")


def _rest_stage_logging_problems(stage: Resource, prefix: tuple[str, ...]) -> list[str]:
    problems = []
    if not stage.prop(*prefix, "AccessLogSetting", "DestinationArn"):
        problems.append("no access log destination (AccessLogSetting.DestinationArn)")
    settings = [m for m in as_list(stage.prop(*prefix, "MethodSettings")) if isinstance(m, Mapping)]
    every = [m for m in settings if m.get("ResourcePath") == "/*" and m.get("HttpMethod") == "*"]
    # A Deployment's StageDescription also takes LoggingLevel for every method of the stage it makes.
    levels = [str(m.get("LoggingLevel", "OFF")).upper() for m in every]
    if prefix:
        levels.append(str(stage.prop(*prefix, "LoggingLevel", default="OFF")).upper())
    if not any(level in _EXECUTION_LOG_LEVELS for level in levels):
        problems.append("execution logging off (no LoggingLevel ERROR or INFO for every method, /* *)")
    for method in settings:
        level = method.get("LoggingLevel")
        if level is not None and str(level).upper() not in _EXECUTION_LOG_LEVELS and method not in every:
            problems.append(f"execution logging {level} on {method.get('HttpMethod')} {method.get('ResourcePath')}")
    return problems


@rule(
    id="PCI4-APIGW-REST-STAGE-LOGGING",
    # 10.2.1: audit logs are enabled and active for all system components. A REST API stage's access log records
    # each request (caller, time, method, path, status); its execution log records what API Gateway did with it.
    # Security Hub APIGateway.1 (not in the PCI DSS standard's control list) and the Config rule
    # api-gw-execution-logging-enabled ask every method's LoggingLevel ERROR or INFO; the access log is
    # AccessLogSetting ("AWS::ApiGateway::Stage AccessLogSetting", CloudFormation Template Reference). The v2 rule
    # (PCI4-APIGW-V2-ACCESS-LOGS) reads HTTP and WebSocket stages only.
    requirements=("10.2.1",),
    description="Every API Gateway REST API stage writes access logs and execution logs (ERROR or INFO on every"
    " method).",
    fix="Set AccessLogSetting.DestinationArn (and Format) and a MethodSettings entry ResourcePath /*, HttpMethod *"
    " with LoggingLevel INFO or ERROR on the AWS::ApiGateway::Stage or the Deployment's StageDescription, and no"
    " method set to OFF (CDK: deploy_options access_log_destination=..., logging_level=MethodLoggingLevel.INFO).",
)
def apigw_rest_stage_logging(model: TemplateModel) -> Iterator[Check]:
    for stage, prefix in _rest_stages(model):
        problems = _rest_stage_logging_problems(stage, prefix)
        yield _check(stage, "; ".join(problems) or None)


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
    # 4.2.1: viewers reach the distribution over TLS 1.2 or later only. 1.2.5 is related (AWS's mapping; 1.2.5.a
    # examines the documented list of allowed protocols, which this is not): the protocol versions accepted are
    # narrowed, SSL 3.0 and TLS 1.0/1.1 are not allowed at all.
    requirements=("4.2.1",),
    related=("1.2.5",),
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
    # Related to 1.2.5 (AWS's mapping), not evidence: 1.2.5.a examines the documented, approved list of allowed
    # services, protocols and ports. Serving the certificate by SNI only allows the connection method every modern
    # client uses; a dedicated-IP (vip) endpoint exists to admit clients without SNI, an extra allowed service
    # that needs a business need of its own. SNI changes no cipher or protocol version, so it is not 4.2.1's
    # strong cryptography (PCI4-CLOUDFRONT-TLS12-POLICY is).
    requirements=(),
    related=("1.2.5",),
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
CODEDEPLOY_LAMBDA_CONFIG_PREFIX = "CodeDeployDefault.Lambda"


def _codedeploy_application(model: TemplateModel, group: Resource) -> Resource | None:
    """The AWS::CodeDeploy::Application a deployment group's ApplicationName names: by `Ref` (an
    application's Ref is its name), else the application in these templates whose ApplicationName is that
    literal ("AWS::CodeDeploy::DeploymentGroup", CloudFormation Template Reference)."""
    named = group.reference("ApplicationName")
    found = model.target(group.stack, named)
    if found is not None or not isinstance(named, str):
        return found
    applications = model.resources("AWS::CodeDeploy::Application")
    return next((a for a in applications if a.reference("ApplicationName") == named), None)


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
    # A group names its application by reference or by the application's name as a literal; a group whose
    # application is in neither form here is examined when its DeploymentConfigName is a Lambda one
    # (CodeDeployDefault.Lambda*, a config only the Lambda compute platform has: same page).
    for group in model.resources("AWS::CodeDeploy::DeploymentGroup"):
        application = _codedeploy_application(model, group)
        configured = group.prop("DeploymentConfigName")
        lambda_config = isinstance(configured, str) and configured.startswith(CODEDEPLOY_LAMBDA_CONFIG_PREFIX)
        if application is None and not lambda_config:
            continue
        if application is not None and str(application.prop("ComputePlatform")) != "Lambda":
            continue
        name = configured if configured is not None else CODEDEPLOY_ALL_AT_ONCE
        yield _check(group, f"{name} shifts all traffic at once" if name == CODEDEPLOY_ALL_AT_ONCE else None)


# --- EC2 instances, Client VPN, transit gateways -------------------------------------------------------


def _launch_template(model: TemplateModel, instance: Resource) -> Resource | None:
    reference = instance.reference("LaunchTemplate", "LaunchTemplateId") or instance.reference(
        "LaunchTemplate", "LaunchTemplateName"
    )
    return model.target(instance.stack, reference) if reference is not None else None


AUTO_SCALING_GROUP = "AWS::AutoScaling::AutoScalingGroup"


def _group_templates(model: TemplateModel, group: Resource) -> list[Resource | None]:
    """The launch templates an Auto Scaling group launches from: its LaunchTemplate and its
    MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification (each LaunchTemplateId or
    LaunchTemplateName; "AWS::AutoScaling::AutoScalingGroup LaunchTemplateSpecification", CloudFormation
    Template Reference). None for one named that is not in these templates; [] for a group launching from a
    launch configuration (read by the PCI4-AUTOSCALING-LAUNCH-CONFIG rules)."""
    specifications = [group.reference("LaunchTemplate")]
    specifications.append(group.reference("MixedInstancesPolicy", "LaunchTemplate", "LaunchTemplateSpecification"))
    found: list[Resource | None] = []
    for specification in specifications:
        if isinstance(specification, Mapping):
            reference = specification.get("LaunchTemplateId") or specification.get("LaunchTemplateName")
            found.append(model.target(group.stack, reference) if reference is not None else None)
    return found


# What a launch configuration calls LaunchTemplateData's key ("AWS::AutoScaling::LaunchConfiguration",
# CloudFormation Template Reference): InstanceMonitoring is a Boolean, "true" for detailed monitoring; absent, it
# is not taken as on (the rule asks it set); KeyName and IamInstanceProfile are named alike.
LAUNCH_CONFIGURATION_PROPERTIES = {"Monitoring": "InstanceMonitoring", "IamInstanceProfile": "IamInstanceProfile"}
UNREAD_SOURCES = ("a launch template not in these templates", "a launch configuration not in these templates")


def _group_configuration(model: TemplateModel, group: Resource, key: str) -> list[tuple[str, Any]]:
    """(where, value) of the launch configuration an Auto Scaling group launches from (its
    LaunchConfigurationName), for LaunchTemplateData `key`; [] for a group with none."""
    name = group.reference("LaunchConfigurationName")
    if name is None:
        return []
    configuration = model.target(group.stack, name)
    if configuration is None or configuration.type != "AWS::AutoScaling::LaunchConfiguration":
        return [(UNREAD_SOURCES[1], None)]
    return [("its launch configuration", configuration.prop(LAUNCH_CONFIGURATION_PROPERTIES.get(key, key)))]


def _launched(model: TemplateModel, key: str, *inner: str) -> Iterator[tuple[Resource, list[tuple[str, Any]]]]:
    """Each EC2 instance and each Auto Scaling group, beside (where, value) of LaunchTemplateData `key` (then
    `inner`) for each source its instances take it from: an instance's own `key` (`inner` not applied), else
    its launch template's (for an instance with none, where names its own `key` as unset; for one whose template
    is not in these templates, "a launch template not in these templates"); a group's every launch template
    ("a launch template not in these templates" is None), else its launch configuration's property of that
    meaning (`LAUNCH_CONFIGURATION_PROPERTIES`)."""
    for instance in model.resources("AWS::EC2::Instance"):
        own = instance.prop(key)
        if own is not None:
            yield instance, [("its own", own)]
            continue
        template = _launch_template(model, instance)
        if template is not None:
            yield instance, [("its launch template", template.prop("LaunchTemplateData", key, *inner))]
        elif instance.prop("LaunchTemplate") is not None:
            yield instance, [(UNREAD_SOURCES[0], None)]
        else:  # no launch template: the instance's own property is all there is (pack 1.13.0, QSA reader r21f)
            yield instance, [(f"its own {key} not set, no launch template", None)]
    for group in model.resources(AUTO_SCALING_GROUP):
        templates = _group_templates(model, group)
        if templates:
            yield (
                group,
                [
                    ("its launch template", t.prop("LaunchTemplateData", key, *inner))
                    if t is not None
                    else (UNREAD_SOURCES[0], None)
                    for t in templates
                ],
            )
        elif configuration := _group_configuration(model, group, key):
            yield group, configuration


def _group_unread(sources: list[tuple[str, Any]]) -> str | None:
    return next((where for where, _ in sources if where in UNREAD_SOURCES), None)


@rule(
    id="PCI4-EC2-DETAILED-MONITORING",
    # Related to 10.7.2, not evidence (10.7.2.b examines the alert a failed control raises; metrics are an
    # alarm's input): detailed monitoring sends the instance's metrics every minute instead of every five ("Detailed
    # monitoring (1-minute intervals)", aws_cdk.aws_ecs.InstanceMonitoring, AWS CDK API Reference), so an alarm
    # on a failing instance that runs a security control detects and alerts on it within minutes. Metrics are
    # not audit logs, so 10.2.1 (AWS's page lists 10.2.1.1) is not cited.
    requirements=(),
    related=("10.7.2",),
    description="Every EC2 instance and Auto Scaling group has detailed (one-minute) monitoring on, itself or"
    " through its launch template or launch configuration.",
    fix="Set Monitoring true on the instance or LaunchTemplateData.Monitoring.Enabled (CDK: detailed_monitoring).",
)
def ec2_detailed_monitoring(model: TemplateModel) -> Iterator[Check]:
    # An instance's Monitoring is a Boolean; LaunchTemplateData.Monitoring.Enabled "Specify true to enable
    # detailed monitoring. Otherwise, basic monitoring is enabled" ("AWS::EC2::LaunchTemplate Monitoring").
    for launched, sources in _launched(model, "Monitoring", "Enabled"):
        off = [where for where, value in sources if not is_true(value)]
        yield _check(launched, f"detailed monitoring is off ({', '.join(off)})" if off else None)


@rule(
    id="PCI4-EC2-INSTANCE-PROFILE",
    # 8.6.2: the instance gets rotated role credentials, so no access key is stored on it.
    requirements=("8.6.2",),
    description="Every EC2 instance and Auto Scaling group has an IAM instance profile, itself or through its"
    " launch template or launch configuration.",
    fix="Set IamInstanceProfile on the instance or LaunchTemplateData.IamInstanceProfile (CDK: role=...).",
)
def ec2_instance_profile(model: TemplateModel) -> Iterator[Check]:
    for launched, sources in _launched(model, "IamInstanceProfile"):
        bare = [where for where, value in sources if not value]
        yield _check(launched, f"no instance profile ({', '.join(bare)})" if bare else None)


@rule(
    id="PCI4-EC2-NO-KEY-PAIR",
    # 8.2.2: an EC2 key pair is one shared credential for the instance's default OS user.
    requirements=("8.2.2",),
    description="No EC2 instance or Auto Scaling group is launched with an EC2 key pair, itself or through its"
    " launch template or launch configuration.",
    fix="Remove KeyName (and LaunchTemplateData.KeyName); reach instances with Session Manager.",
)
def ec2_no_key_pair(model: TemplateModel) -> Iterator[Check]:
    # ec2-no-amazon-key-pair: NON_COMPLIANT when an instance was launched with a key pair (launch-time only).
    # An instance or group whose launch template is not in these templates is not passed unread (pack 1.14.0:
    # an instance's was, QSA reader r21f).
    for launched, sources in _launched(model, "KeyName"):
        keyed = [where for where, value in sources if value]
        unread = _group_unread(sources)
        problem = f"launched with a key pair ({', '.join(keyed)})" if keyed else unread and f"{unread}: not read"
        yield _check(launched, problem or None)


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
    # Related to 3.2.1 (AWS's mapping), not evidence: 3.2.1.a examines the retention policy for account data,
    # which images are not. A lifecycle policy is a retention and disposal rule for what the repository stores
    # (images expire after a count or an age). Expiring an old image patches nothing, so 6.3.3 (installing
    # security updates) is not cited; PCI4-ECR-SCAN-ON-PUSH and Inspector serve vulnerability management.
    requirements=(),
    related=("3.2.1",),
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
    for cluster in model.resources(*EKS_CLUSTER_TYPES):
        types = eks_log_types(cluster)
        missing = [t for t in EKS_LOG_TYPES if t not in types]
        yield _check(cluster, f"log types off: {', '.join(missing)}" if missing else None)
