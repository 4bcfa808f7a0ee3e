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
        f"Api: endpoint type {types[0]} with no WAF web ACL in front of it"
    ]
    decoy = {
        **alone,
        "Acl": r("AWS::WAFv2::WebACLAssociation", ResourceArn=_stage_arn("Other", "OtherStage"), WebACLArn=_ACL),
    }
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", decoy) == [
        f"Api: endpoint type {types[0]} with no WAF web ACL in front of it"
    ]
    guarded = {
        **alone,
        "Acl": r("AWS::WAFv2::WebACLAssociation", ResourceArn=_stage_arn("Api", "Stage"), WebACLArn=_ACL),
    }
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", guarded) == []


@pytest.mark.parametrize("web_acl", [None, "arn:aws:wafv2:us-east-1:111122223333:global/webacl/cdn/0"])
def test_an_edge_api_behind_a_distribution_passes_only_where_the_distribution_has_a_web_acl(
    web_acl: str | None,
) -> None:
    origin = {
        "Id": "api",
        "DomainName": {"Fn::Join": ["", [{"Ref": "Api"}, ".execute-api.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]},
    }
    config: dict[str, Any] = {"Enabled": True, "Origins": [origin]}
    if web_acl:
        config["WebACLId"] = web_acl
    resources = {**_apis(["EDGE"]), "Cdn": r("AWS::CloudFront::Distribution", DistributionConfig=config)}
    expected = [] if web_acl else ["Api: endpoint type EDGE with no WAF web ACL in front of it"]
    assert _failures("PCI4-APIGW-ENDPOINT-TYPE", resources) == expected


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


@settings(max_examples=60, deadline=None)
@given(types=_ENDPOINT_TYPES, on_own=st.booleans(), on_other=st.booleans(), via_cdn=st.booleans())
def test_an_api_passes_the_endpoint_rule_iff_private_or_a_web_acl_fronts_that_api(
    types: list[str], on_own: bool, on_other: bool, via_cdn: bool
) -> None:
    """Property (QSA reader r21b item 4): whatever the endpoint types and whatever web ACLs sit in front of a
    decoy API, the API passes only when every type is PRIVATE or a web ACL fronts it (its own stage, or a
    distribution with a WebACLId whose origin is the API). An empty list is EDGE, CloudFormation's default."""
    resources = _apis(types) if types else {**_apis(["EDGE"]), "Api": r("AWS::ApiGateway::RestApi", Name="c")}
    if on_own:
        resources["Own"] = r("AWS::WAFv2::WebACLAssociation", ResourceArn=_stage_arn("Api", "Stage"), WebACLArn=_ACL)
    if on_other:
        resources["Decoy"] = r(
            "AWS::WAFv2::WebACLAssociation", ResourceArn=_stage_arn("Other", "OtherStage"), WebACLArn=_ACL
        )
    if via_cdn:
        origin = {"Id": "api", "DomainName": {"Fn::Join": ["", [{"Ref": "Api"}, ".execute-api.example.com"]]}}
        config = {
            "Enabled": True,
            "Origins": [origin],
            "WebACLId": "arn:aws:wafv2:us-east-1:111122223333:global/webacl/c/0",
        }
        resources["Cdn"] = r("AWS::CloudFront::Distribution", DistributionConfig=config)
    private = bool(types) and all(t.upper() == "PRIVATE" for t in types)
    failed = [f for f in _failures("PCI4-APIGW-ENDPOINT-TYPE", resources) if f.startswith("Api:")]
    assert (not failed) is (private or on_own or via_cdn)
