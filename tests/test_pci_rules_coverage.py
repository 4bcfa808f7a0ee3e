"""Issue 21's rule-pack coverage: IAM.16's reuse value, EMR.1/EMR.2, RDS.21/22, IMDSv2 on instances, and the
intrinsics policy's `Fn::Join`/`Fn::Sub` half, each on a purpose-built template or CDK construct."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_rds as rds

from pci_rules import TemplateModel, evaluate
from pci_rules.rules import RULES
from tests.conftest import new_app
from tests.pci_rule_cases import PASSWORD_POLICY, Resources, r, sdk
from tests.pci_rule_cases_pack_review import PACK_REVIEW_EXTRA_BAD
from tests.pci_rule_cases_workloads import good

BY_ID = {rule.id: rule for rule in RULES}


def _failures(rule_id: str, resources: Resources) -> list[str]:
    (result,) = evaluate(TemplateModel.from_templates({"S": {"Resources": resources}}), [BY_ID[rule_id]])
    assert result.examined, f"{rule_id} examined nothing"
    return [f"{c.resource.logical_id}: {c.detail}" for c in result.failures]


# --- IAM.16: the control fails any PasswordReusePrevention but 24 ----------------------------------------------


@pytest.mark.parametrize("reuse", [4, 23, "24", True])
def test_password_reuse_other_than_24_fails_as_iam_16_asks(reuse: Any) -> None:
    call = {
        "Password": sdk("IAM", "updateAccountPasswordPolicy", {**PASSWORD_POLICY, "PasswordReusePrevention": reuse})
    }
    (failure,) = _failures("PCI4-ACCOUNT-GUARD-VALUES", call)
    assert "IAM.16" in failure


def test_password_reuse_of_24_passes() -> None:
    assert not _failures(
        "PCI4-ACCOUNT-GUARD-VALUES", {"Password": sdk("IAM", "updateAccountPasswordPolicy", PASSWORD_POLICY)}
    )


def test_the_landing_zone_refuses_a_reuse_prevention_iam_16_fails() -> None:
    from config import ConfigError, parse_environment
    from tests.test_identity import _data

    data = _data()
    data["identity"]["password_reuse_prevention"] = 12
    with pytest.raises(ConfigError, match=r"identity\.password_reuse_prevention"):
        parse_environment(data)


# --- EMR.2: block public access set by SDK call, only port 22 may be excepted ---------------------------------


def _emr_bpa(on: bool, *ports: int) -> Resources:
    ranges = [{"MinRange": p, "MaxRange": p} for p in ports]
    config = {"BlockPublicSecurityGroupRules": on, "PermittedPublicSecurityGroupRuleRanges": ranges}
    return {"Bpa": sdk("EMR", "putBlockPublicAccessConfiguration", {"BlockPublicAccessConfiguration": config})}


def test_emr_block_public_access_with_only_port_22_passes() -> None:
    assert not _failures("PCI4-ACCOUNT-GUARD-VALUES", _emr_bpa(True, 22))


@pytest.mark.parametrize(("on", "ports"), [(False, (22,)), (True, (22, 3389))])
def test_emr_block_public_access_off_or_another_port_fails(on: bool, ports: tuple[int, ...]) -> None:
    assert _failures("PCI4-ACCOUNT-GUARD-VALUES", _emr_bpa(on, *ports))


# --- EMR.1: the primary node's subnet -----------------------------------------------------------------------


def _emr(instances: dict[str, Any], **subnets: Any) -> Resources:
    cluster = r("AWS::EMR::Cluster", Name="c", ReleaseLabel="emr-7.5.0", Instances=instances)
    return {"Cluster": cluster, **subnets}


def test_an_emr_cluster_in_a_private_subnet_of_the_templates_passes() -> None:
    private = r("AWS::EC2::Subnet", VpcId="vpc-1", MapPublicIpOnLaunch=False)
    assert not _failures("PCI4-EMR-PRIMARY-NO-PUBLIC-IP", _emr({"Ec2SubnetIds": [{"Ref": "Private"}]}, Private=private))


def test_an_emr_cluster_without_a_subnet_fails() -> None:
    (failure,) = _failures("PCI4-EMR-PRIMARY-NO-PUBLIC-IP", _emr({}))
    assert "default VPC" in failure


# --- RDS.21 / RDS.22: configuration-change notifications ------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "categories", "ok"),
    [
        ("db-parameter-group", [], True),
        ("db-parameter-group", ["configuration change"], True),
        ("db-parameter-group", ["notification"], False),
        ("db-security-group", ["configuration change", "failure"], True),
        ("db-security-group", ["configuration change"], False),
    ],
)
def test_rds_configuration_event_subscriptions(source: str, categories: list[str], ok: bool) -> None:
    subscription = r("AWS::RDS::EventSubscription", SnsTopicArn="arn:aws:sns:us-east-1:1:t", SourceType=source)
    if categories:
        subscription["Properties"]["EventCategories"] = categories
    assert bool(_failures("PCI4-RDS-EVENT-SUBSCRIPTION-CONFIG", {"Events": subscription})) is not ok


# --- EC2.8: IMDSv2 on an instance, its own or its launch template's ---------------------------------------------


def _instance(**properties: Any) -> Resources:
    template = r("AWS::EC2::LaunchTemplate", LaunchTemplateData={"MetadataOptions": {"HttpTokens": "required"}})
    return {"Instance": r("AWS::EC2::Instance", ImageId="ami-1", **properties), "Template": template}


@pytest.mark.parametrize(
    ("properties", "ok"),
    [
        ({"MetadataOptions": {"HttpTokens": "required"}}, True),
        ({"LaunchTemplate": {"LaunchTemplateId": {"Ref": "Template"}, "Version": "1"}}, True),
        ({}, False),
        ({"MetadataOptions": {"HttpTokens": "optional"}}, False),
        (
            {
                "MetadataOptions": {"HttpTokens": "optional"},
                "LaunchTemplate": {"LaunchTemplateId": {"Ref": "Template"}, "Version": "1"},
            },
            False,
        ),
    ],
)
def test_an_instance_requires_imdsv2_itself_or_through_its_launch_template(
    properties: dict[str, Any], ok: bool
) -> None:
    assert bool(_failures("PCI4-EC2-INSTANCE-IMDSV2", _instance(**properties))) is not ok


# --- the intrinsics policy: Fn::Join / Fn::Sub on a purpose-built construct -----------------------------------


def _database(tmp_path: Path, publicly_accessible: dict[str, Any]) -> TemplateModel:
    """A database whose PubliclyAccessible is the intrinsic as written (an escape-hatch override: CDK's own
    `Fn.join` folds literal parts at synth, so the template would never carry the Join)."""
    app = new_app(tmp_path)
    stack = Stack(app, "Db")
    database = rds.CfnDBInstance(
        stack, "Database", engine="postgres", db_instance_class="db.t4g.micro", allocated_storage="20"
    )
    database.add_property_override("PubliclyAccessible", publicly_accessible)
    app.synth()
    template = json.loads((tmp_path / "Db.template.json").read_text(encoding="utf-8"))
    return TemplateModel.from_templates({"Db": template})


def _public_findings(model: TemplateModel) -> list[str]:
    (result,) = evaluate(model, [BY_ID["PCI4-RDS-NOT-PUBLIC"]])
    return [c.detail for c in result.failures]


@pytest.mark.parametrize(
    ("case", "value"),
    [
        ("Fn::Join of literals", {"Fn::Join": ["", ["tr", "ue"]]}),
        ("Fn::Sub with a literal variable", {"Fn::Sub": ["${Flag}", {"Flag": "true"}]}),
    ],
)
def test_a_join_or_sub_of_literals_is_read_as_the_string_it_makes(tmp_path: Path, case: str, value: Any) -> None:
    (finding,) = _public_findings(_database(tmp_path, value))
    assert finding.startswith("PubliclyAccessible is true"), case


@pytest.mark.parametrize(
    ("case", "value", "function"),
    [
        ("Fn::Join over an import", {"Fn::Join": ["", [{"Fn::ImportValue": "PublicFlag"}]]}, "Fn::Join"),
        ("Fn::Sub of a pseudo parameter", {"Fn::Sub": "${AWS::Region}"}, "Fn::Sub"),
    ],
)
def test_a_decision_on_an_unresolvable_join_or_sub_is_could_not_resolve(
    tmp_path: Path, case: str, value: Any, function: str
) -> None:
    findings = _public_findings(_database(tmp_path, value))
    assert findings == [f"could not resolve PubliclyAccessible ({function} of a value unknown until deploy)"], case


def test_a_join_read_as_a_reference_is_no_finding() -> None:
    """A service permission's SourceArn built with Fn::Sub names a source: presence is the decision."""
    permission = r(
        "AWS::Lambda::Permission",
        Action="lambda:InvokeFunction",
        FunctionName="f",
        Principal="elasticloadbalancing.amazonaws.com",
        SourceArn={"Fn::Sub": "arn:${AWS::Partition}:elasticloadbalancing:${AWS::Region}:1:targetgroup/vault/*"},
    )
    assert not _failures("PCI4-LAMBDA-SERVICE-PERMISSION-SOURCE", {"Permission": permission})


# --- the review of AWS's PCI DSS v4.0 conformance pack (pci_rules/rules/pack_review.py) -----------------------


@pytest.mark.parametrize(
    ("case", "rule_id"),
    [
        ("unmetered rule group", "PCI4-WAF-RULE-GROUP-CONTENT"),
        ("classic rule without predicates", "PCI4-WAF-CLASSIC-NOT-EMPTY"),
    ],
)
def test_each_half_of_a_pack_review_rule_fails_alone(case: str, rule_id: str) -> None:
    (failure,) = _failures(rule_id, PACK_REVIEW_EXTRA_BAD[case])
    assert failure, case


def test_a_classic_listener_certificate_made_here_must_be_acm() -> None:
    """A listener's SSLCertificateId referencing an IAM server certificate in the templates fails;
    one referencing an ACM certificate there passes."""
    resources = good("Classic")
    listener = resources["Classic"]["Properties"]["Listeners"][0]
    listener["SSLCertificateId"] = {"Ref": "Cert"}
    acm = {"Cert": r("AWS::CertificateManager::Certificate", DomainName="fork.example.com")}
    assert _failures("PCI4-CLB-ACM-CERTIFICATE", {**resources, **acm}) == []
    listener["SSLCertificateId"] = {"Fn::GetAtt": ["Cert", "Arn"]}
    iam = {"Cert": r("AWS::IAM::ServerCertificate", CertificateBody="x", PrivateKey="y")}
    (failure,) = _failures("PCI4-CLB-ACM-CERTIFICATE", {**resources, **iam})
    assert "AWS::IAM::ServerCertificate" in failure
