"""Account guards set by SDK call (`Custom::AWS`), read as CDK renders them (pack 1.14.0): the call on update as
well as on create, and every spelling `AwsSdkCall` accepts for service and action (SDK v2 method, v3 command,
`@aws-sdk/client-*` package). Before, a guard weakened in onUpdate, or set with the v3 command name, passed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import custom_resources as cr
from hypothesis import given
from hypothesis import strategies as st

from pci_rules import TemplateModel, evaluate
from pci_rules.rules import RULES
from pci_rules.rules._common import sdk_action, sdk_service
from tests.pci_rule_cases import PASSWORD_POLICY, r

BY_ID = {rule.id: rule for rule in RULES}
WEAK = {**PASSWORD_POLICY, "MinimumPasswordLength": 8}


def _call(service: str, action: str, parameters: dict[str, Any]) -> str:
    return json.dumps({"service": service, "action": action, "parameters": parameters})


def _results(rule_id: str, resources: dict[str, Any]) -> list[tuple[str, bool, str]]:
    (result,) = evaluate(TemplateModel.from_templates({"S": {"Resources": resources}}), [BY_ID[rule_id]])
    return [(c.resource.logical_id, c.passed, c.detail) for c in result.checks]


def test_a_password_policy_weakened_on_update_fails() -> None:
    guard = r(
        "Custom::AWS",
        Create=_call("IAM", "updateAccountPasswordPolicy", PASSWORD_POLICY),
        Update=_call("IAM", "updateAccountPasswordPolicy", WEAK),
    )
    assert _results("PCI4-ACCOUNT-GUARD-VALUES", {"Password": guard}) == [
        ("Password", False, "on update: MinimumPasswordLength < 12")
    ]


def test_the_same_safe_call_on_create_and_update_passes() -> None:
    call = _call("IAM", "updateAccountPasswordPolicy", PASSWORD_POLICY)
    assert _results("PCI4-ACCOUNT-GUARD-VALUES", {"Password": r("Custom::AWS", Create=call, Update=call)}) == [
        ("Password", True, "")
    ]


@pytest.mark.parametrize(
    ("service", "action"),
    [
        ("IAM", "updateAccountPasswordPolicy"),
        ("iam", "UpdateAccountPasswordPolicy"),
        ("@aws-sdk/client-iam", "UpdateAccountPasswordPolicyCommand"),
    ],
)
def test_every_spelling_cdk_accepts_is_read(service: str, action: str) -> None:
    guard = r("Custom::AWS", Create=_call(service, action, WEAK))
    assert _results("PCI4-ACCOUNT-GUARD-VALUES", {"Password": guard}) == [
        ("Password", False, "MinimumPasswordLength < 12")
    ]


def test_inspector_enabled_on_update_without_lambda_scanning_fails() -> None:
    full = {"resourceTypes": ["EC2", "ECR", "LAMBDA", "LAMBDA_CODE"]}
    guard = r(
        "Custom::AWS",
        Create=_call("Inspector2", "enable", full),
        Update=_call("@aws-sdk/client-inspector2", "EnableCommand", {"resourceTypes": ["EC2", "ECR"]}),
    )
    assert _results("PCI4-INSPECTOR-LAMBDA-SCANNING", {"Inspector": guard}) == [
        ("Inspector", False, "on update: Inspector enabled without LAMBDA, LAMBDA_CODE")
    ]
    assert [c[1] for c in _results("PCI4-INSPECTOR-EC2-ECR-SCANNING", {"Inspector": guard})] == [True]


def test_ebs_default_encryption_turned_off_on_update_fails() -> None:
    resources = {
        "Vpc": r("AWS::EC2::VPC", CidrBlock="10.0.0.0/16"),
        "Ebs": r(
            "Custom::AWS",
            Create=_call("EC2", "enableEbsEncryptionByDefault", {}),
            Update=_call("@aws-sdk/client-ec2", "DisableEbsEncryptionByDefaultCommand", {}),
        ),
    }
    failed = [c for c in _results("PCI4-EC2-EBS-DEFAULT-ENCRYPTION", resources) if not c[1]]
    assert failed, "a guard turned off on update passed"


def test_as_cdk_renders_it_an_on_update_only_call_is_read_on_create_and_update() -> None:
    """A real AwsCustomResource with only onUpdate: CDK renders it as Create and Update (both weak)."""
    app = App()
    stack = Stack(app, "S")
    cr.AwsCustomResource(
        stack,
        "Password",
        on_update=cr.AwsSdkCall(
            service="@aws-sdk/client-iam",
            action="UpdateAccountPasswordPolicyCommand",
            parameters=WEAK,
            physical_resource_id=cr.PhysicalResourceId.of("password-policy"),
        ),
        policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE),
        install_latest_aws_sdk=False,
    )
    model = TemplateModel.from_templates({"S": app.synth().get_stack_by_name("S").template})
    (result,) = evaluate(model, [BY_ID["PCI4-ACCOUNT-GUARD-VALUES"]])
    (failure,) = result.failures
    assert "on create: MinimumPasswordLength < 12" in failure.detail
    assert "on update: MinimumPasswordLength < 12" in failure.detail


NAMES = st.from_regex(r"[a-z][a-zA-Z0-9]{0,20}", fullmatch=True).filter(lambda m: not m.endswith("Command"))


@given(service=st.from_regex(r"[a-z][a-z0-9]{1,15}", fullmatch=True), method=NAMES)
def test_the_spellings_of_one_call_read_alike(service: str, method: str) -> None:
    command = method[0].upper() + method[1:]
    forms = [
        {"service": service, "action": method},
        {"service": service.upper(), "action": command},
        {"service": f"@aws-sdk/client-{service}", "action": f"{command}Command"},
    ]
    assert {sdk_service(f) for f in forms} == {service}
    assert {sdk_action(f) for f in forms} == {method}


# --- Security Hub: a disabled control of the PCI DSS v4.0.1 standard (pack 1.14.0, r21h) -------------------------


def test_a_disabled_control_of_the_v401_standard_is_a_finding_naming_it_and_its_reason() -> None:
    arn = "arn:aws:securityhub:us-east-1::standards/pci-dss/v/4.0.1"
    control = "arn:aws:securityhub:us-east-1:111111111111:control/pci-dss/v/4.0.1/CloudTrail.4"
    resources = {
        "Hub": r("AWS::SecurityHub::Hub", EnableDefaultStandards=False),
        "Standard": r(
            "AWS::SecurityHub::Standard",
            StandardsArn=arn,
            DisabledStandardsControls=[{"StandardsControlArn": control, "Reason": "validated by our own job"}],
        ),
    }
    assert ("Standard", False, "disables 1 PCI DSS v4.0.1 control(s): CloudTrail.4 (validated by our own job)") in (
        _results("PCI4-SECURITYHUB-PCI-V401", resources)
    )
    assert BY_ID["PCI4-SECURITYHUB-PCI-V401"].acknowledgeable
    resources["Standard"] = r("AWS::SecurityHub::Standard", StandardsArn=arn, DisabledStandardsControls=[])
    assert all(passed for _, passed, _ in _results("PCI4-SECURITYHUB-PCI-V401", resources))
