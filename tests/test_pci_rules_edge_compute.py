"""Issue 21's edge, build and compute rules (`pci_rules/rules/edge_compute.py`) beyond their two cases: what
each reads from a launch template, CloudFormation's defaults, and where it departs from its AWS Config rule."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pci_rules import TemplateModel, evaluate
from pci_rules.rules import RULES
from tests.pci_rule_cases import Resources, r

BY_ID = {rule.id: rule for rule in RULES}
TEMPLATE_REF = {"LaunchTemplate": {"LaunchTemplateId": {"Ref": "Template"}, "Version": "1"}}


def _failures(rule_id: str, resources: Resources) -> list[str]:
    (result,) = evaluate(TemplateModel.from_templates({"S": {"Resources": resources}}), [BY_ID[rule_id]])
    assert result.examined, f"{rule_id} examined nothing"
    return [f"{c.resource.logical_id}: {c.detail}" for c in result.failures]


def _instance(template_data: dict[str, Any], **properties: Any) -> Resources:
    return {
        "Instance": r("AWS::EC2::Instance", ImageId="ami-1", **properties),
        "Template": r("AWS::EC2::LaunchTemplate", LaunchTemplateData=template_data),
    }


@pytest.mark.parametrize(
    ("rule_id", "template_data", "properties", "ok"),
    [
        ("PCI4-EC2-DETAILED-MONITORING", {"Monitoring": {"Enabled": True}}, TEMPLATE_REF, True),
        (
            "PCI4-EC2-DETAILED-MONITORING",
            {"Monitoring": {"Enabled": True}},
            {**TEMPLATE_REF, "Monitoring": False},
            False,
        ),
        ("PCI4-EC2-DETAILED-MONITORING", {}, {}, False),
        ("PCI4-EC2-INSTANCE-PROFILE", {"IamInstanceProfile": {"Name": "app"}}, TEMPLATE_REF, True),
        ("PCI4-EC2-INSTANCE-PROFILE", {}, TEMPLATE_REF, False),
        ("PCI4-EC2-NO-KEY-PAIR", {"KeyName": "ops"}, TEMPLATE_REF, False),
        ("PCI4-EC2-NO-KEY-PAIR", {}, TEMPLATE_REF, True),
    ],
)
def test_an_instance_is_read_itself_then_through_its_launch_template(
    rule_id: str, template_data: dict[str, Any], properties: dict[str, Any], ok: bool
) -> None:
    assert bool(_failures(rule_id, _instance(template_data, **properties))) is not ok


def _distribution(certificate: dict[str, Any]) -> Resources:
    return {"Cdn": r("AWS::CloudFront::Distribution", DistributionConfig={"ViewerCertificate": certificate})}


def test_a_custom_certificate_without_a_policy_takes_cloudformations_tlsv1_default_and_fails() -> None:
    certificate = {
        "AcmCertificateArn": "arn:aws:acm:us-east-1:111111111111:certificate/x",
        "SslSupportMethod": "sni-only",
    }
    assert _failures("PCI4-CLOUDFRONT-TLS12-POLICY", _distribution(certificate)) == [
        "Cdn: MinimumProtocolVersion 'TLSv1' is below TLSv1.2_2018"
    ]
    assert _failures("PCI4-CLOUDFRONT-SNI", _distribution(certificate)) == []


def test_the_default_certificate_fails_the_certificate_and_policy_rules_whatever_the_policy_says() -> None:
    default = _distribution({"CloudFrontDefaultCertificate": True, "MinimumProtocolVersion": "TLSv1.2_2021"})
    assert _failures("PCI4-CLOUDFRONT-CUSTOM-CERTIFICATE", default)
    assert _failures("PCI4-CLOUDFRONT-TLS12-POLICY", default)


def test_a_legacy_origin_access_identity_also_restricts_an_s3_origin() -> None:
    origin = {
        "Id": "site",
        "DomainName": "b.s3.amazonaws.com",
        "S3OriginConfig": {"OriginAccessIdentity": "origin-access-identity/cloudfront/E1"},
    }
    cdn = {"Cdn": r("AWS::CloudFront::Distribution", DistributionConfig={"Origins": [origin]})}
    assert _failures("PCI4-CLOUDFRONT-S3-ORIGIN-ACCESS", cdn) == []


@pytest.mark.parametrize(
    ("properties", "ok"),
    [
        ({}, True),  # no cache: passes here, unlike api-gw-cache-enabled-and-encrypted (the crosswalk says so)
        ({"CacheClusterEnabled": True}, False),  # a cache cluster caches GET methods, unencrypted by default
        ({"MethodSettings": [{"ResourcePath": "/cards", "HttpMethod": "GET", "CachingEnabled": True}]}, False),
    ],
)
def test_a_rest_api_stage_cache_is_encrypted_where_one_exists(properties: dict[str, Any], ok: bool) -> None:
    stage = {"Stage": r("AWS::ApiGateway::Stage", RestApiId="a1", **properties)}
    assert bool(_failures("PCI4-APIGW-CACHE-ENCRYPTED", stage)) is not ok


def test_a_rest_api_without_an_endpoint_configuration_is_edge_optimized_and_fails() -> None:
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", {"Api": r("AWS::ApiGateway::RestApi", Name="x")}) == [
        "Api: endpoint type EDGE with no WAF web ACL in front of it"
    ]


def _stage_arn(api: str, stage: str) -> dict[str, Any]:
    """What CDK's `Stage.stage_arn` renders: arn:<partition>:apigateway:<region>::/restapis/<api>/stages/<stage>."""
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":apigateway:",
                {"Ref": "AWS::Region"},
                "::/restapis/",
                {"Ref": api},
                "/stages/",
                {"Ref": stage},
            ],
        ]
    }


def _apis(types: list[str]) -> Resources:
    return {
        "Api": r("AWS::ApiGateway::RestApi", Name="cards", EndpointConfiguration={"Types": types}),
        "Stage": r("AWS::ApiGateway::Stage", RestApiId={"Ref": "Api"}, StageName="prod"),
        "Other": r("AWS::ApiGateway::RestApi", Name="other", EndpointConfiguration={"Types": ["PRIVATE"]}),
        "OtherStage": r("AWS::ApiGateway::Stage", RestApiId={"Ref": "Other"}, StageName="prod"),
    }


_ACL = "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/cards/0"


@pytest.mark.parametrize("types", [["REGIONAL"], ["EDGE"]])
def test_an_internet_facing_rest_api_passes_only_with_a_web_acl_on_its_own_stage(types: list[str]) -> None:
    """QSA reader r21 item 4: a REGIONAL API with nothing in front of it passed 1.4.1; now it fails, and a web
    ACL on another API's stage (the attacker's decoy) does not pass it."""
    alone = _apis(types)
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", alone) == [
        f"Api: endpoint type {types[0]} with no WAF web ACL on stage prod"
    ]
    decoy = {
        **alone,
        "Acl": r("AWS::WAFv2::WebACLAssociation", ResourceArn=_stage_arn("Other", "OtherStage"), WebACLArn=_ACL),
    }
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", decoy) == [
        f"Api: endpoint type {types[0]} with no WAF web ACL on stage prod"
    ]
    guarded = {
        **alone,
        "Acl": r("AWS::WAFv2::WebACLAssociation", ResourceArn=_stage_arn("Api", "Stage"), WebACLArn=_ACL),
    }
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", guarded) == []


def test_a_web_acl_on_one_stage_does_not_pass_the_api_while_another_stage_is_bare() -> None:
    """Issue 21 r1.9.0 HIGH 1 (the reader's /tmp outside app): REGIONAL, a web ACL on stage `second`, `prod` bare,
    passed; every stage now needs its own association, an AWS::ApiGateway::Stage and a Deployment's StageName alike."""
    resources = {
        **_apis(["REGIONAL"]),
        "Second": r("AWS::ApiGateway::Stage", RestApiId={"Ref": "Api"}, StageName="second"),
        "OnSecond": r("AWS::WAFv2::WebACLAssociation", ResourceArn=_stage_arn("Api", "Second"), WebACLArn=_ACL),
    }
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", resources) == [
        "Api: endpoint type REGIONAL with no WAF web ACL on stage prod"
    ]
    resources["OnProd"] = r("AWS::WAFv2::WebACLAssociation", ResourceArn=_stage_arn("Api", "Stage"), WebACLArn=_ACL)
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", resources) == []
    resources["Deploy"] = r("AWS::ApiGateway::Deployment", RestApiId={"Ref": "Api"}, StageName="canary")
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", resources) == [
        "Api: endpoint type REGIONAL with no WAF web ACL on stage canary"
    ]
    # The Deployment's stage has only its name: an ARN naming it after /stages/ (Fn::Sub text here) covers it, and
    # a name that merely begins with it ("canary-old") does not.
    sub = {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/canary"}
    resources["OnCanary"] = r(
        "AWS::WAFv2::WebACLAssociation", ResourceArn={"Fn::Sub": sub["Fn::Sub"] + "-old"}, WebACLArn=_ACL
    )
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", resources) == [
        "Api: endpoint type REGIONAL with no WAF web ACL on stage canary"
    ]
    resources["OnCanary"] = r("AWS::WAFv2::WebACLAssociation", ResourceArn=sub, WebACLArn=_ACL)
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", resources) == []


_SECRET = "cf-origin-7f3a"  # not a credential: a test value for the Referer the distribution sends


def _referer_deny(secret: Any = _SECRET, **overrides: Any) -> dict[str, Any]:
    """The resource policy "API Gateway resource policy examples" builds on: allow execute-api:/*, deny it unless
    aws:Referer is the distribution's secret."""
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "execute-api:Invoke",
        "Resource": "execute-api:/*",
        "Condition": {"StringNotEquals": {"aws:Referer": secret}},
        **overrides,
    }
    allow = {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"}
    return {"Version": "2012-10-17", "Statement": [allow, deny]}


def _behind_cdn(policy: dict[str, Any] | None, header: str | None = _SECRET, web_acl: bool = True) -> Resources:
    origin: dict[str, Any] = {
        "Id": "api",
        "DomainName": {"Fn::Join": ["", [{"Ref": "Api"}, ".execute-api.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]},
    }
    if header is not None:
        origin["OriginCustomHeaders"] = [{"HeaderName": "Referer", "HeaderValue": header}]
    config: dict[str, Any] = {"Enabled": True, "Origins": [origin]}
    if web_acl:
        config["WebACLId"] = "arn:aws:wafv2:us-east-1:111122223333:global/webacl/cdn/0"
    resources = {**_apis(["EDGE"]), "Cdn": r("AWS::CloudFront::Distribution", DistributionConfig=config)}
    if policy is not None:
        resources["Api"] = r(
            "AWS::ApiGateway::RestApi", Name="cards", EndpointConfiguration={"Types": ["EDGE"]}, Policy=policy
        )
    return resources


_BYPASS = (
    "Api: endpoint type EDGE behind a CloudFront web ACL, but no resource policy denies execute-api:Invoke without"
    " the Referer secret that distribution sends (its execute-api endpoint stays reachable)"
)


def test_an_api_behind_a_distribution_web_acl_passes_only_with_a_policy_refusing_callers_who_bypass_it() -> None:
    """Issue 21 r1.9.0 HIGH 1: a distribution with a WebACLId in front passed while the execute-api endpoint stayed
    open to anyone who called it directly. It passes now only with a Deny of execute-api:Invoke on execute-api:/*
    unless aws:Referer is the value the same origin sends as its Referer custom header."""
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", _behind_cdn(None)) == [_BYPASS]
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", _behind_cdn(_referer_deny())) == []
    # No web ACL on the distribution: nothing in front, whatever the policy.
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", _behind_cdn(_referer_deny(), web_acl=False)) == [
        "Api: endpoint type EDGE with no WAF web ACL on stage prod"
    ]


@pytest.mark.parametrize(
    ("why", "policy", "header"),
    [
        ("the distribution sends no Referer", _referer_deny(), None),
        ("the distribution sends another value", _referer_deny(), "guessable"),
        ("an empty secret", _referer_deny(""), ""),
        ("the Deny covers one path only", _referer_deny(Resource="execute-api:/prod/GET/cards"), _SECRET),
        (
            "the Deny spares other actions' principals",
            _referer_deny(Principal={"AWS": "arn:aws:iam::111122223333:root"}),
            _SECRET,
        ),
        ("an Allow, not a Deny", _referer_deny(Effect="Allow"), _SECRET),
        (
            "a second condition narrows the Deny",
            _referer_deny(
                Condition={"StringNotEquals": {"aws:Referer": _SECRET}, "Bool": {"aws:SecureTransport": "false"}}
            ),
            _SECRET,
        ),
        (
            "source addresses are not a gate a template shows to be CloudFront's",
            _referer_deny(Condition={"NotIpAddress": {"aws:SourceIp": ["0.0.0.0/1"]}}),
            _SECRET,
        ),
    ],
)
def test_a_resource_policy_that_lets_a_direct_caller_through_does_not_pass_a_distribution_fronted_api(
    why: str, policy: dict[str, Any], header: str | None
) -> None:
    """Adversarial: each policy below still admits a caller who goes to the execute-api endpoint directly."""
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", _behind_cdn(policy, header)) == [_BYPASS], why


def test_a_private_rest_api_passes_without_a_web_acl() -> None:
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", _apis(["PRIVATE"])) == []


def test_a_lambda_deployment_group_without_a_configuration_takes_all_at_once() -> None:
    resources = {
        "App": r("AWS::CodeDeploy::Application", ComputePlatform="Lambda"),
        "Group": r("AWS::CodeDeploy::DeploymentGroup", ApplicationName={"Ref": "App"}, ServiceRoleArn="arn"),
    }
    assert _failures("PCI4-CODEDEPLOY-LAMBDA-GRADUAL", resources) == [
        "Group: CodeDeployDefault.LambdaAllAtOnce shifts all traffic at once"
    ]


# Pack 1.8.0 (issue 21 part A, QSA reader r21): the citations moved to what each property serves. A rule
# drifting back to the questioned requirement fails here; crosswalk.DEPARTURES says why AWS's differs.
_BY_ID = {r.id: r for r in RULES}
_STORAGE_ENCRYPTION = (
    "PCI4-DAX-ENCRYPTED",
    "PCI4-DOCDB-ENCRYPTED",
    "PCI4-DYNAMODB-KMS",
    "PCI4-KINESIS-ENCRYPTED",
    "PCI4-NEPTUNE-ENCRYPTED",
    "PCI4-REDSHIFT-KMS",
    "PCI4-ATHENA-RESULTS-ENCRYPTED",
    "PCI4-SQS-ENCRYPTED",
    "PCI4-EFS-ENCRYPTED",
    "PCI4-APIGW-CACHE-ENCRYPTED",
    "PCI4-EC2-VOLUME-ENCRYPTED",
    "PCI4-EC2-EBS-DEFAULT-ENCRYPTION",
    "PCI4-RDS-STORAGE-ENCRYPTED",
)
_BACKUPS = (
    "PCI4-DYNAMODB-PITR",
    "PCI4-ELASTICACHE-BACKUPS",
    "PCI4-NEPTUNE-BACKUP-RETENTION",
    "PCI4-REDSHIFT-BACKUPS",
    "PCI4-BACKUP-VAULT-NO-MANUAL-DELETION",
    "PCI4-RDS-BACKUPS",
)


@pytest.mark.parametrize("rule_id", _STORAGE_ENCRYPTION)
def test_storage_level_encryption_evidences_nothing_and_is_related_to_3_5_1_2(rule_id: str) -> None:
    """Pack 1.9.0 (QSA reader r21b item 2): 3.5.1.2.a examines that PAN on non-removable media is also rendered
    unreadable by a 3.5.1 mechanism, which no store setting shows; a customer-managed key is key management
    (3.6.1, a procedure), so both are related, never evidence."""
    rule = _BY_ID[rule_id]
    assert rule.requirements == ()
    assert "3.5.1.2" in rule.related
    assert "3.5.1" not in rule.requirements


@pytest.mark.parametrize("rule_id", _BACKUPS)
def test_backups_are_related_to_the_incident_response_plan_not_evidence_of_it(rule_id: str) -> None:
    assert _BY_ID[rule_id].requirements == ()
    assert _BY_ID[rule_id].related == ("12.10.1",)


@pytest.mark.parametrize(
    ("rule_id", "requirements", "related"),
    [
        ("PCI4-APIGW-XRAY", (), ("10.7.2",)),
        ("PCI4-EC2-DETAILED-MONITORING", (), ("10.7.2",)),
        ("PCI4-ECR-LIFECYCLE-POLICY", (), ("3.2.1",)),
        ("PCI4-CLOUDFRONT-SNI", (), ("1.2.5",)),
        ("PCI4-CLOUDFRONT-TLS12-POLICY", ("4.2.1",), ("1.2.5",)),
        ("PCI4-APIGW-ENDPOINT-TYPE", ("1.4.1",), ()),
    ],
)
def test_the_questioned_edge_and_compute_citations_are_the_reviewed_ones(
    rule_id: str, requirements: tuple[str, ...], related: tuple[str, ...]
) -> None:
    assert _BY_ID[rule_id].requirements == requirements
    assert _BY_ID[rule_id].related == related


_ENDPOINT_TYPES = st.lists(st.sampled_from(["PRIVATE", "REGIONAL", "EDGE", "regional", "private"]), max_size=3)


@settings(max_examples=80, deadline=None)
@given(
    types=_ENDPOINT_TYPES,
    on_own=st.booleans(),
    on_second=st.booleans(),
    on_other=st.booleans(),
    via_cdn=st.booleans(),
    gated=st.booleans(),
)
def test_an_api_passes_the_endpoint_rule_iff_private_or_a_web_acl_fronts_every_way_in(
    types: list[str], on_own: bool, on_second: bool, on_other: bool, via_cdn: bool, gated: bool
) -> None:
    """Property (issue 21 r1.9.0 HIGH 1): whatever the endpoint types and whatever web ACLs sit in front of a
    decoy API, the API (two stages) passes only when every type is PRIVATE, or a web ACL is on each of its stages,
    or a distribution with a WebACLId fronts it and its policy denies callers without the distribution's Referer
    secret. An empty list is EDGE, CloudFormation's default."""
    resources = _apis(types) if types else {**_apis(["EDGE"]), "Api": r("AWS::ApiGateway::RestApi", Name="c")}
    resources["Second"] = r("AWS::ApiGateway::Stage", RestApiId={"Ref": "Api"}, StageName="second")
    if on_own:
        resources["Own"] = r("AWS::WAFv2::WebACLAssociation", ResourceArn=_stage_arn("Api", "Stage"), WebACLArn=_ACL)
    if on_second:
        resources["Own2"] = r("AWS::WAFv2::WebACLAssociation", ResourceArn=_stage_arn("Api", "Second"), WebACLArn=_ACL)
    if on_other:
        resources["Decoy"] = r(
            "AWS::WAFv2::WebACLAssociation", ResourceArn=_stage_arn("Other", "OtherStage"), WebACLArn=_ACL
        )
    if via_cdn:
        resources["Cdn"] = _behind_cdn(None)["Cdn"]
    if gated:
        resources["Api"] = r(
            "AWS::ApiGateway::RestApi", **{**resources["Api"]["Properties"], "Policy": _referer_deny()}
        )
    private = bool(types) and all(t.upper() == "PRIVATE" for t in types)
    failed = [f for f in _failures("PCI4-APIGW-ENDPOINT-TYPE", resources) if f.startswith("Api:")]
    assert (not failed) is (private or (on_own and on_second) or (via_cdn and gated))
