"""The intrinsics policy (`TemplateModel.variants()`) and nested stacks: no rule is evaded by a `Ref` to a
Parameter, an `Fn::If` or a NestedStack.

For every rule's non-compliant case, each value inside a resource's properties is wrapped in
`Fn::If[C, value, value]`, each literal leaf replaced by a `Ref` to a Parameter whose Default is that
leaf, and each string leaf by an `Fn::Join` of its parts and an `Fn::Sub` of it: the rule must still fail
on every such variant (exhaustive over the case's values, so deterministic).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from aws_cdk import Environment, IPolicyValidationPlugin, NestedStack, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kinesis as kinesis
from hypothesis import given, settings
from hypothesis import strategies as st

from pci_rules import TemplateModel, evaluate
from pci_rules.model import MAX_CONDITIONS, StackTemplate, record_unresolved_reads, reset_unresolved_reads
from pci_rules.plugin import PLUGIN_NAME, PciDssV4Plugin
from pci_rules.rules import RULES
from tests.conftest import new_app
from tests.pci_rule_cases import CASES, Resources, r

BY_ID = {rule.id: rule for rule in RULES}
Path_ = tuple[Any, ...]


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and any(k == "Ref" or k.startswith("Fn::") for k in value)


def _positions(value: Any, at: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """Every value below `value` (not inside an intrinsic), with its path."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield (*at, key), item
        if not _is_intrinsic(item):
            yield from _positions(item, (*at, key))


def _replaced(resources: Resources, logical_id: str, at: Path_, new: Any) -> Resources:
    out = copy.deepcopy(resources)
    holder: Any = out[logical_id]["Properties"]
    for key in at[:-1]:
        holder = holder[key]
    holder[at[-1]] = new
    return out


def _variants(resources: Resources) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, body in resources.items():
        for at, value in _positions(body.get("Properties") or {}):
            where = f"{logical_id}.{'.'.join(map(str, at))}"
            wrapped = _replaced(resources, logical_id, at, {"Fn::If": ["C", value, value]})
            yield f"Fn::If at {where}", {"Conditions": {"C": {}}, "Resources": wrapped}
            if not isinstance(value, (dict, list)):
                referenced = _replaced(resources, logical_id, at, {"Ref": "P"})
                parameters = {"P": {"Type": "String", "Default": value}}
                yield f"Ref at {where}", {"Parameters": parameters, "Resources": referenced}
            if isinstance(value, str) and "${" not in value:
                # Fn::Join and Fn::Sub of literals are the string they make (the intrinsics policy)
                joined = _replaced(resources, logical_id, at, {"Fn::Join": ["", [value[:1], value[1:]]]})
                yield f"Fn::Join at {where}", {"Resources": joined}
                subbed = _replaced(resources, logical_id, at, {"Fn::Sub": ["${V}", {"V": value}]})
                yield f"Fn::Sub at {where}", {"Resources": subbed}


def _failures(rule_id: str, template: dict[str, Any]) -> list[str]:
    (result,) = evaluate(TemplateModel.from_templates({"S": template}), [BY_ID[rule_id]])
    return [f"{c.resource.logical_id}: {c.detail}" for c in result.failures]


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_every_rule_fails_its_non_compliant_case_wrapped_in_intrinsics(rule_id: str) -> None:
    _, bad = CASES[rule_id]
    parameters = {"Cidr": {"Type": "String"}} if rule_id == "PCI4-TEMPLATE-PARAMETERS-RESOLVED" else {}
    evaded = [
        label
        for label, template in _variants(bad)
        if not _failures(rule_id, {**template, "Parameters": {**parameters, **template.get("Parameters", {})}})
    ]
    assert not evaded, f"{rule_id} passes its non-compliant case with {evaded[:5]} ({len(evaded)} in all)"


def _sg(cidr: Any, **template: Any) -> dict[str, Any]:
    ingress = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": cidr}]
    return {
        **template,
        "Resources": {"Group": r("AWS::EC2::SecurityGroup", GroupDescription="g", SecurityGroupIngress=ingress)},
    }


@pytest.mark.parametrize(
    ("case", "template"),
    [
        ("parameter default", _sg({"Ref": "Cidr"}, Parameters={"Cidr": {"Type": "String", "Default": "0.0.0.0/0"}})),
        (
            "an allowed value",
            _sg(
                {"Ref": "Cidr"},
                Parameters={
                    "Cidr": {"Type": "String", "Default": "10.0.0.0/8", "AllowedValues": ["10.0.0.0/8", "0.0.0.0/0"]}
                },
            ),
        ),
        ("true branch", _sg({"Fn::If": ["C", "0.0.0.0/0", "10.0.0.0/8"]})),
        ("false branch", _sg({"Fn::If": ["C", "10.0.0.0/8", "0.0.0.0/0"]})),
        ("in a mapping", _sg({"Fn::FindInMap": ["M", "a", "cidr"]}, Mappings={"M": {"a": {"cidr": "0.0.0.0/0"}}})),
    ],
)
def test_open_ingress_hidden_behind_an_intrinsic_fails(case: str, template: dict[str, Any]) -> None:
    assert _failures("PCI4-EC2-SG-NO-OPEN-INGRESS", template), case


def test_fn_if_around_the_whole_ingress_list_fails() -> None:
    template = _sg("0.0.0.0/0")
    group = template["Resources"]["Group"]["Properties"]
    group["SecurityGroupIngress"] = {"Fn::If": ["C", {"Ref": "AWS::NoValue"}, group["SecurityGroupIngress"]]}
    assert _failures("PCI4-EC2-SG-NO-OPEN-INGRESS", template)


def test_a_parameter_nobody_can_resolve_is_a_finding_and_an_ssm_parameter_is_not() -> None:
    unresolved = _sg({"Ref": "Cidr"}, Parameters={"Cidr": {"Type": "String"}})
    assert any("could not resolve" in f for f in _failures("PCI4-TEMPLATE-PARAMETERS-RESOLVED", unresolved))
    ssm = _sg({"Ref": "Cidr"}, Parameters={"Cidr": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/x"}})
    assert not _failures("PCI4-TEMPLATE-PARAMETERS-RESOLVED", ssm)


_NO_DEFAULT = {"Cidr": {"Type": "String"}}


@pytest.mark.parametrize(
    ("case", "cidr", "function"),
    [
        ("Fn::Join over a Ref", {"Fn::Join": ["", [{"Ref": "Cidr"}, "/32"]]}, "Fn::Join"),
        ("Fn::Sub of ${Name}", {"Fn::Sub": "${Cidr}/32"}, "Fn::Sub"),
        ("Fn::Join over a Select of a Ref", {"Fn::Join": ["", [{"Fn::Select": [0, [{"Ref": "Cidr"}]]}]]}, "Fn::Join"),
    ],
)
def test_an_unresolvable_intrinsic_nested_in_a_list_the_rule_reads_is_could_not_resolve(
    case: str, cidr: Any, function: str
) -> None:
    """The ingress entries are one `prop` read; the CIDR inside the first entry is a Fn::Join/Fn::Sub over a
    Parameter without Default: the pass becomes "could not resolve" at its path, on the group."""
    findings = _failures("PCI4-EC2-SG-NO-OPEN-INGRESS", _sg(cidr, Parameters=_NO_DEFAULT))
    expected = f"Group: could not resolve SecurityGroupIngress[0].CidrIp ({function} of a value unknown until deploy)"
    assert len(findings) == 1, (case, findings)
    assert findings[0].startswith(expected), case


@pytest.mark.parametrize(
    ("case", "cidr", "parameters"),
    [
        ("a resource attribute", {"Fn::Join": ["", [{"Fn::GetAtt": ["Vpc", "CidrBlock"]}]]}, {}),
        ("a pseudo parameter", {"Fn::Sub": "10.0.0.0/${AWS::AccountId}"}, {}),
        ("an import", {"Fn::Join": ["", [{"Fn::ImportValue": "Cidr"}]]}, {}),
        (
            "a parameter with AllowedValues",
            {"Fn::Join": ["", [{"Ref": "Cidr"}, "/32"]]},
            {"Cidr": {"Type": "String", "Default": "10.0.0.1", "AllowedValues": ["10.0.0.1", "10.0.0.2"]}},
        ),
        ("an unresolvable parameter the intrinsic does not use", {"Fn::Sub": "${AWS::Region}"}, _NO_DEFAULT),
    ],
)
def test_a_nested_intrinsic_of_resolvable_or_resource_parts_is_no_finding(
    case: str, cidr: Any, parameters: dict[str, Any]
) -> None:
    """CDK joins GetAtt and pseudo-parameter ARNs into every policy document: those are not reported."""
    assert _failures("PCI4-EC2-SG-NO-OPEN-INGRESS", _sg(cidr, Parameters=parameters)) == [], case


def test_an_unresolvable_intrinsic_nested_in_a_policy_document_is_charged_to_its_resource() -> None:
    """A statement's Principal built from a Parameter without Default: the bucket policy's read of its
    document is reported against the policy (where it was read), not against the bucket."""
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": {"Fn::Join": ["", ["arn:aws:iam::", {"Ref": "Account"}, ":root"]]}},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/*",
    }
    document = {"Version": "2012-10-17", "Statement": [statement]}
    template = {
        "Parameters": {"Account": {"Type": "String"}},
        "Resources": {"Policy": r("AWS::S3::BucketPolicy", Bucket="b", PolicyDocument=document)},
    }
    model = TemplateModel.from_templates({"S": template})
    (policy,) = model.resources("AWS::S3::BucketPolicy")
    assert policy.unresolvable_parameters == frozenset({"Account"})
    reads: list[Any] = []
    token = record_unresolved_reads(reads)
    try:
        policy.prop("PolicyDocument")
    finally:
        reset_unresolved_reads(token)
    assert reads == [(("S", "Policy"), ("PolicyDocument", "Statement", 0, "Principal", "AWS"), "Fn::Join")]


def test_the_default_shape_of_a_template_has_one_variant() -> None:
    model = TemplateModel.from_templates({"S": _sg("10.0.0.0/8")})
    assert model.variants() == [("", model)]


# --- nested stacks ----------------------------------------------------------------------------------


def _nested_app(tmp_path: Path, *, plugin: PciDssV4Plugin | None = None) -> Path:
    app = new_app(tmp_path)
    if plugin is not None:
        Validations.of(app).add_plugins(cast(IPolicyValidationPlugin, plugin))  # typed with the newer interface
    parent = Stack(app, "Parent")
    child = NestedStack(parent, "Child")
    vpc = ec2.Vpc(child, "Vpc", max_azs=1, nat_gateways=0, subnet_configuration=[])
    group = ec2.SecurityGroup(child, "Open", vpc=vpc)
    group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(22))
    try:
        app.synth()
    except Exception:  # the plugin's violation fails the synth; the report is written first
        assert plugin is not None
    return tmp_path


def test_an_open_group_in_a_nested_stack_fails(tmp_path: Path) -> None:
    outdir = _nested_app(tmp_path)
    nested = list(outdir.glob("*.nested.template.json"))
    assert nested, "CDK wrote no nested template"
    model = TemplateModel.from_template_paths([outdir / "Parent.template.json"])
    assert any(name.startswith("Parent/") for name in model.stacks), sorted(model.stacks)
    (result,) = evaluate(model, [BY_ID["PCI4-EC2-SG-NO-OPEN-INGRESS"]])
    assert [c.resource.path for c in result.failures] == ["Parent/Child/Open/Resource"]


def test_the_plugin_reports_the_nested_stacks_violation(tmp_path: Path) -> None:
    plugin = PciDssV4Plugin(rules=[BY_ID["PCI4-EC2-SG-NO-OPEN-INGRESS"]])
    outdir = _nested_app(tmp_path, plugin=plugin)
    report = json.loads((outdir / "validation-report.json").read_text())
    (ours,) = [p for p in report["pluginReports"] if p["pluginName"] == PLUGIN_NAME]
    assert [v["ruleName"] for v in ours["violations"]] == ["PCI4-EC2-SG-NO-OPEN-INGRESS"]


# --- narrower rules the assessor found (item 6 of the review) ----------------------------------------


def _one(rule_id: str, resources: Resources) -> list[str]:
    return _failures(rule_id, {"Resources": resources})


def test_a_fargate_service_by_capacity_provider_strategy_is_checked() -> None:
    service = r(
        "AWS::ECS::Service",
        CapacityProviderStrategy=[{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}],
        PlatformVersion="1.3.0",
    )
    assert _one("PCI4-ECS-FARGATE-LATEST-PLATFORM", {"Service": service})


def test_enhanced_registry_scanning_covers_only_the_repositories_its_filters_match() -> None:
    def registry(filter_: str) -> Resources:
        rules = [
            {"ScanFrequency": "SCAN_ON_PUSH", "RepositoryFilters": [{"Filter": filter_, "FilterType": "WILDCARD"}]}
        ]
        return {
            "Registry": r("AWS::ECR::RegistryScanningConfiguration", ScanType="ENHANCED", Rules=rules),
            "Repository": r("AWS::ECR::Repository", RepositoryName="cde-vault"),
        }

    assert _one("PCI4-ECR-SCAN-ON-PUSH", registry("other-*"))
    assert not _one("PCI4-ECR-SCAN-ON-PUSH", registry("cde-*"))


def test_runtime_monitoring_without_eks_add_on_management_fails() -> None:
    features = [
        {"Name": name, "Status": "ENABLED"}
        for name in ("S3_DATA_EVENTS", "RDS_LOGIN_EVENTS", "LAMBDA_NETWORK_LOGS", "RUNTIME_MONITORING")
    ]
    failures = _one(
        "PCI4-GUARDDUTY-PROTECTIONS", {"Detector": r("AWS::GuardDuty::Detector", Enable=True, Features=features)}
    )
    assert any("EKS_ADDON_MANAGEMENT" in f for f in failures)


# --- issue 21, QSA reader r21: nested Fn::If, free Parameters, region conditions -----------------------

_TLS_RULE = "PCI4-EC2-SG-NO-OPEN-INGRESS"
_EQUALS = {
    "A": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
    "B": {"Fn::Equals": [{"Ref": "AWS::AccountId"}, "111111111111"]},
}


def test_a_bad_value_only_one_mix_of_nested_conditions_reaches_fails() -> None:
    """If[A, If[B, good, bad], good]: bad only with A true and B false, which every-true/every-false missed."""
    cidr = {"Fn::If": ["A", {"Fn::If": ["B", "10.0.0.0/8", "0.0.0.0/0"]}, "10.0.0.0/8"]}
    (finding,) = _failures(_TLS_RULE, _sg(cidr, Conditions=_EQUALS))
    assert "A true, B false" in finding, finding


def test_nested_conditions_that_all_lead_to_a_good_value_pass() -> None:
    cidr = {"Fn::If": ["A", {"Fn::If": ["B", "10.0.0.0/8", "10.1.0.0/16"]}, "10.2.0.0/16"]}
    assert _failures(_TLS_RULE, _sg(cidr, Conditions=_EQUALS)) == []


def test_conditions_defined_over_other_conditions_stay_consistent() -> None:
    """NotA is Fn::Not of A: If[A, If[NotA, bad, good], good] never reaches bad, so it passes."""
    conditions = {**_EQUALS, "NotA": {"Fn::Not": [{"Condition": "A"}]}}
    cidr = {"Fn::If": ["A", {"Fn::If": ["NotA", "0.0.0.0/0", "10.0.0.0/8"]}, "10.0.0.0/8"]}
    assert _failures(_TLS_RULE, _sg(cidr, Conditions=conditions)) == []


def test_more_conditions_than_the_cap_under_one_resource_could_not_resolve() -> None:
    names = [f"C{i}" for i in range(MAX_CONDITIONS + 1)]
    conditions = {n: {"Fn::Equals": [{"Ref": "AWS::StackName"}, n]} for n in names}
    cidr: Any = "10.0.0.0/8"
    for name in names:
        cidr = {"Fn::If": [name, cidr, "10.0.0.0/8"]}
    (finding,) = _failures(_TLS_RULE, _sg(cidr, Conditions=conditions))
    assert f"Fn::If over {MAX_CONDITIONS + 1} conditions: more than {MAX_CONDITIONS} are not enumerated" in finding
    # at the cap every assignment is checked and the good value passes
    under = {n: conditions[n] for n in names[:MAX_CONDITIONS]}
    cidr = "10.0.0.0/8"
    for name in names[:MAX_CONDITIONS]:
        cidr = {"Fn::If": [name, cidr, "10.0.0.0/8"]}
    assert _failures(_TLS_RULE, _sg(cidr, Conditions=under)) == []


_FREE = {"Cidr": {"Type": "String", "Default": "10.0.0.0/8"}}  # a Default and no AllowedValues


@pytest.mark.parametrize(
    ("case", "cidr", "template", "function"),
    [
        ("directly", {"Ref": "Cidr"}, {}, "Ref"),
        ("a Fn::Select index", {"Fn::Select": [{"Ref": "Index"}, ["10.0.0.0/8", "0.0.0.0/0"]]}, {}, "Fn::Select"),
        (
            "a Fn::FindInMap key",
            {"Fn::FindInMap": ["M", {"Ref": "Cidr"}, "cidr"]},
            {"Mappings": {"M": {"10.0.0.0/8": {"cidr": "10.0.0.0/8"}, "x": {"cidr": "0.0.0.0/0"}}}},
            "Fn::FindInMap",
        ),
        (
            "a Fn::If condition on it",
            {"Fn::If": ["Open", "0.0.0.0/0", "10.0.0.0/8"]},
            {"Conditions": {"Open": {"Fn::Equals": [{"Ref": "Cidr"}, "open"]}}},
            "Fn::If",
        ),
    ],
)
def test_a_parameter_with_a_default_and_no_allowed_values_is_a_free_value(
    case: str, cidr: Any, template: dict[str, Any], function: str
) -> None:
    parameters = {**_FREE, "Index": {"Type": "Number", "Default": 0}}
    findings = _failures(_TLS_RULE, _sg(cidr, Parameters=parameters, **template))
    assert len(findings) == 1, (case, findings)
    assert findings[0].startswith(f"Group: could not resolve SecurityGroupIngress[0].CidrIp ({function} "), case
    if function != "Fn::If":  # a condition's Parameter is no use of it by the resource
        (reported,) = _failures("PCI4-TEMPLATE-PARAMETERS-RESOLVED", _sg(cidr, Parameters=parameters, **template))
        assert "a Default without AllowedValues" in reported, case


def test_a_parameter_with_allowed_values_is_checked_at_each_value() -> None:
    values = ["10.0.0.0/8", "10.1.0.0/16"]
    allowed = {"Cidr": {"Type": "String", "Default": "10.0.0.0/8", "AllowedValues": values}}
    assert _failures(_TLS_RULE, _sg({"Ref": "Cidr"}, Parameters=allowed)) == []
    assert _failures("PCI4-TEMPLATE-PARAMETERS-RESOLVED", _sg({"Ref": "Cidr"}, Parameters=allowed)) == []
    values.append("0.0.0.0/0")
    (finding,) = _failures(_TLS_RULE, _sg({"Ref": "Cidr"}, Parameters=allowed))
    assert "allowed value #3" in finding


_CN_REGIONS = {
    "Unsupported": {
        "Fn::Or": [
            {"Fn::Equals": [{"Ref": "AWS::Region"}, "cn-north-1"]},
            {"Fn::Equals": [{"Ref": "AWS::Region"}, "cn-northwest-1"]},
        ]
    }
}


def _region_model(region: str | None) -> TemplateModel:
    cidr = {"Fn::If": ["Unsupported", "0.0.0.0/0", "10.0.0.0/8"]}
    stack = StackTemplate(name="S", template=_sg(cidr, Conditions=_CN_REGIONS), account="1" * 12, region=region)
    return TemplateModel([stack])


def test_a_condition_on_a_known_region_is_evaluated_against_it() -> None:
    (result,) = evaluate(_region_model("eu-west-1"), [BY_ID[_TLS_RULE]])
    assert result.checks
    assert not result.failures
    (result,) = evaluate(_region_model("cn-north-1"), [BY_ID[_TLS_RULE]])
    assert result.failures


def test_a_condition_on_the_region_of_an_environment_agnostic_stack_is_examined_both_ways() -> None:
    (result,) = evaluate(_region_model(None), [BY_ID[_TLS_RULE]])
    (failure,) = result.failures
    assert "Unsupported true" in failure.detail


def _kinesis_stream(tmp_path: Path, env: Environment | None) -> TemplateModel:
    app = new_app(tmp_path)
    kinesis.Stream(Stack(app, "Streams", env=env), "Stream")
    app.synth()
    return TemplateModel.from_assembly(tmp_path)


def test_a_default_cdk_kinesis_stream_in_a_known_region_passes_and_in_an_agnostic_stack_is_examined_both_ways(
    tmp_path: Path,
) -> None:
    """CDK renders If[AwsCdkKinesisEncryptedStreamsUnsupportedRegions, NoValue, KMS] (the China regions). Since
    pack 1.9.0 the encryption rule passes the default stream (its AWS managed key is PCI4-KINESIS-CUSTOMER-KEY's
    finding): in a known region only that region's branch is examined (the KMS one), in an agnostic stack the
    unencrypted branch fails."""
    rule = BY_ID["PCI4-KINESIS-ENCRYPTED"]
    (known,) = evaluate(_kinesis_stream(tmp_path / "known", Environment(account="1" * 12, region="eu-west-1")), [rule])
    assert known.checks
    assert all("UnsupportedRegions true" not in f.detail for f in known.failures)
    assert not known.failures
    (agnostic,) = evaluate(_kinesis_stream(tmp_path / "agnostic", None), [rule])
    (failure,) = agnostic.failures
    assert "AwsCdkKinesisEncryptedStreamsUnsupportedRegions true" in failure.detail


# --- issue 21, QSA reader r21 LOW 15: a macro's resources are not examined, and say so -------------------


@pytest.mark.parametrize(
    ("case", "template", "named"),
    [
        ("the SAM transform", {"Transform": "AWS::Serverless-2016-10-31"}, "AWS::Serverless-2016-10-31"),
        ("a macro in a list", {"Transform": ["AWS::LanguageExtensions", "Acme"]}, "AWS::LanguageExtensions, Acme"),
    ],
)
def test_a_template_a_macro_rewrites_is_not_examined(case: str, template: dict[str, Any], named: str) -> None:
    findings = _failures("PCI4-TEMPLATE-NO-TRANSFORMS", {**_sg("10.0.0.0/8"), **template})
    assert findings == [f"Group: not examined: the template is rewritten at deploy by {named}"], case


def test_an_inline_fn_transform_is_not_examined_and_the_secrets_manager_transform_is_read() -> None:
    inline = _sg("10.0.0.0/8")
    inline["Resources"]["Group"]["Properties"]["Fn::Transform"] = {"Name": "AWS::Include", "Parameters": {}}
    assert _failures("PCI4-TEMPLATE-NO-TRANSFORMS", inline) == [
        "Group: not examined: the template is rewritten at deploy by AWS::Include"
    ]
    rotation = {"Transform": "AWS::SecretsManager-2024-09-16", **_sg("10.0.0.0/8")}
    assert _failures("PCI4-TEMPLATE-NO-TRANSFORMS", rotation) == []


# --- Resource-level Condition attributes (issue #21) --------------------------------------------------------


def _open_group(condition: str | None = None, cidr: Any = "0.0.0.0/0") -> dict[str, Any]:
    ingress = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": cidr}]
    body: dict[str, Any] = r(
        "AWS::EC2::SecurityGroup", GroupDescription="g", VpcId="vpc-0123456789abcdef0", SecurityGroupIngress=ingress
    )
    if condition is not None:
        body["Condition"] = condition
    return body


_OPEN_RULE = "PCI4-EC2-SG-NO-OPEN-INGRESS"


def _sg_result(template: dict[str, Any], region: str | None = None) -> Any:
    stack = StackTemplate(name="S", template=template, account="1" * 12 if region else None, region=region)
    (result,) = evaluate(TemplateModel([stack]), [BY_ID[_OPEN_RULE]])
    return result


def test_a_resource_whose_condition_is_false_is_not_examined() -> None:
    """CloudFormation does not create it ("Conditions", CloudFormation User Guide): no check, no finding."""
    template = {"Conditions": {"Never": {"Fn::Equals": ["a", "b"]}}, "Resources": {"Open": _open_group("Never")}}
    assert _sg_result(template).checks == ()


def test_a_resource_whose_condition_is_true_is_examined_and_a_bad_one_fails() -> None:
    template = {"Conditions": {"Always": {"Fn::Equals": ["a", "a"]}}, "Resources": {"Open": _open_group("Always")}}
    (failure,) = _sg_result(template).failures
    assert "Always true" in failure.detail


def test_a_compliant_conditional_resource_passes() -> None:
    conditions = {"InChina": {"Fn::Equals": [{"Ref": "AWS::Region"}, "cn-north-1"]}}
    template = {"Conditions": conditions, "Resources": {"Closed": _open_group("InChina", "10.0.0.0/8")}}
    result = _sg_result(template)
    assert len(result.checks) == 1
    assert not result.failures


def test_a_condition_unknown_at_synth_is_examined_under_the_variant_that_creates_it() -> None:
    """On the region of an environment-agnostic stack the condition is unknown: the resource is examined in the
    variant where it exists; in a known region the condition is decided."""
    conditions = {"InChina": {"Fn::Equals": [{"Ref": "AWS::Region"}, "cn-north-1"]}}
    template = {"Conditions": conditions, "Resources": {"Open": _open_group("InChina")}}
    (failure,) = _sg_result(template).failures
    assert "InChina true" in failure.detail
    assert _sg_result(template, "eu-west-1").checks == ()
    assert _sg_result(template, "cn-north-1").failures


def test_a_condition_over_a_parameter_without_allowed_values_is_examined_as_created() -> None:
    template = {
        "Parameters": {"Env": {"Type": "String"}},
        "Conditions": {"Prod": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
        "Resources": {"Open": _open_group("Prod")},
    }
    assert _sg_result(template).failures


_LITERAL = st.sampled_from(["a", "b"])
_EXPRESSION = st.recursive(
    st.tuples(_LITERAL, _LITERAL).map(lambda pair: {"Fn::Equals": list(pair)}),
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda items: {"Fn::And": items}),
        st.lists(inner, min_size=2, max_size=3).map(lambda items: {"Fn::Or": items}),
        inner.map(lambda item: {"Fn::Not": [item]}),
    ),
    max_leaves=6,
)


def _truth(expression: dict[str, Any]) -> bool:
    ((key, inner),) = expression.items()
    if key == "Fn::Equals":
        return bool(inner[0] == inner[1])
    if key == "Fn::Not":
        return not _truth(inner[0])
    values = [_truth(item) for item in inner]
    return all(values) if key == "Fn::And" else any(values)


@settings(max_examples=60, deadline=None)
@given(_EXPRESSION)
def test_a_resource_is_examined_exactly_when_its_decidable_condition_holds(expression: dict[str, Any]) -> None:
    template = {"Conditions": {"C": expression}, "Resources": {"Open": _open_group("C")}}
    result = _sg_result(template)
    assert bool(result.checks) is _truth(expression)
    assert bool(result.failures) is _truth(expression)


# --- Fn::FindInMap keyed by a pseudo parameter of an environment-agnostic stack (issue #21) ---------------


def _mapped_group(rows: dict[str, str]) -> dict[str, Any]:
    cidr = {"Fn::FindInMap": ["Cidrs", {"Ref": "AWS::Region"}, "Ingress"]}
    return {
        "Mappings": {"Cidrs": {region: {"Ingress": value} for region, value in rows.items()}},
        "Resources": {"Group": _open_group(cidr=cidr)},
    }


def test_each_row_of_a_region_keyed_mapping_is_examined_in_an_agnostic_stack() -> None:
    template = _mapped_group({"us-east-1": "10.0.0.0/8", "eu-west-1": "0.0.0.0/0", "ap-south-1": "10.1.0.0/16"})
    (failure,) = _sg_result(template).failures
    assert "Cidrs row eu-west-1" in failure.detail


def test_a_region_keyed_mapping_with_every_row_compliant_passes() -> None:
    result = _sg_result(_mapped_group({"us-east-1": "10.0.0.0/8", "eu-west-1": "10.2.0.0/16"}))
    assert len(result.checks) == 1
    assert not result.failures


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1"]),
        st.sampled_from(["10.0.0.0/8", "192.168.0.0/16", "0.0.0.0/0"]),
        min_size=1,
        max_size=5,
    )
)
def test_an_agnostic_stack_fails_exactly_when_some_row_is_open(rows: dict[str, str]) -> None:
    result = _sg_result(_mapped_group(rows))
    assert bool(result.failures) is ("0.0.0.0/0" in rows.values())
    for region, value in rows.items():  # a known region reads its own row only
        assert bool(_sg_result(_mapped_group(rows), region).failures) is (value == "0.0.0.0/0")


def test_a_condition_over_more_atoms_than_the_cap_is_examined_as_created_without_variants() -> None:
    """CDK's CDKMetadataAvailable-like condition (an Fn::Or over many regions) in an agnostic stack is not
    enumerated: the resource is examined as created, and it alone makes no variant."""
    regions = [f"xx-test-{n}" for n in range(MAX_CONDITIONS + 2)]
    many = {"Fn::Or": [{"Fn::Equals": [{"Ref": "AWS::Region"}, region]} for region in regions]}
    template = {"Conditions": {"Many": many}, "Resources": {"Open": _open_group("Many")}}
    model = TemplateModel([StackTemplate(name="S", template=template)])
    assert [label for label, _ in model.variants()] == [""]
    (failure,) = _sg_result(template).failures
    assert failure.detail.startswith("open to the internet")


# --- A finding's variant text names only the conditions the value read depended on (QSA reader r21c) -------

_TWO_UNRELATED: dict[str, Any] = {
    "Parameters": {"Stage": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]}},
    "Conditions": {
        "Traced": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
        "Described": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
        "Kept": {"Fn::Equals": [{"Ref": "AWS::AccountId"}, "111111111111"]},
    },
    "Resources": {
        "Api": r(
            "AWS::ApiGateway::Stage",
            RestApiId="a",
            TracingEnabled={"Fn::If": ["Traced", True, False]},
            Description={"Fn::If": ["Described", "east", "elsewhere"]},
        ),
        "Logs": r(
            "AWS::S3::Bucket",
            VersioningConfiguration={"Fn::If": ["Kept", {"Status": "Enabled"}, {"Status": "Suspended"}]},
        ),
    },
}


def test_a_finding_names_only_the_conditions_its_value_depended_on() -> None:
    """The stage's tracing rests on Traced (over the Stage Parameter); its Description's condition and the
    bucket's are unrelated to it, and the bucket's versioning reads no Parameter: neither finding names what it
    did not depend on, though every variant's label (the whole stack's choice) names all three conditions."""
    model = TemplateModel.from_templates({"S": _TWO_UNRELATED})
    assert all("Described" in label and "Kept" in label for label, _ in model.variants())
    (xray,) = evaluate(model, [BY_ID["PCI4-APIGW-XRAY"]])
    assert [c.detail for c in xray.failures] == [
        "X-Ray tracing is off (with Traced false; every Parameter at its Default)"
    ]
    (versioning,) = evaluate(model, [BY_ID["PCI4-S3-VERSIONING"]])
    assert [c.detail for c in versioning.failures] == ["versioning is not enabled (with Kept false)"]


def test_a_value_read_under_no_condition_gets_no_variant_text() -> None:
    """A resource whose read property is literal, beside a property chosen by a condition, is not labelled."""
    template = copy.deepcopy(_TWO_UNRELATED)
    template["Resources"]["Api"]["Properties"]["TracingEnabled"] = False
    (xray,) = evaluate(TemplateModel.from_templates({"S": template}), [BY_ID["PCI4-APIGW-XRAY"]])
    assert [c.detail for c in xray.failures] == ["X-Ray tracing is off"]
