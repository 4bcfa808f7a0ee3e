"""Every PCI DSS v4.0.1 rule passes a compliant template and fails a non-compliant one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pci_rules import TemplateModel, evaluate
from pci_rules.docs import replace_table
from pci_rules.rule import Rule
from pci_rules.rules import RULES
from tests.pci_rule_cases import CASES, Resources
from tests.pci_rule_cases_edge_compute import LAUNCH_CONFIGURATION_CASES

BY_ID = {r.id: r for r in RULES}
# Rules with nothing to examine in the default app (it has no such resource), by design.
NOTHING_IN_THE_DEFAULT_APP = {
    "PCI4-IAM-NO-USERS": "the landing zone creates no IAM user or access key",
    "PCI4-EC2-VOLUME-ENCRYPTED": "the landing zone creates no EC2 volume, instance or launch template",
    "PCI4-CODEBUILD-HARDENED": "CodeBuild projects exist only in the delivery app (its pipeline), not the default app",
    "PCI4-INSPECTOR-LAMBDA-SCANNING": "Inspector is off by default (the fork app in tests/fork enables it)",
    "PCI4-INSPECTOR-EC2-ECR-SCANNING": "Inspector is off by default (the fork app in tests/fork enables it)",
    "PCI4-RDS-INHERITED-ENCRYPTION": "the landing zone restores and replicates no database (tests/fork/app.py"
    " restores one from a snapshot, acknowledged)",
    "PCI4-ELB-HTTP-REDIRECT-ONLY": "the landing zone has no plain-HTTP listener (its callers are servers over mTLS;"
    " tests/fork/app.py has a redirect-only one)",
    # The resource types a fork's CDE adds (pci_rules/rules/workloads.py): the fork app has one of each.
    **{
        r.id: "a workload type the landing zone does not create (tests/fork/app.py has one)"
        for r in RULES
        if r.check.__module__ == "pci_rules.rules.workloads"
        and r.id not in ("PCI4-EC2-NACL-IN-USE", "PCI4-INSPECTOR-EC2-ECR-SCANNING", "PCI4-LAMBDA-NO-PUBLIC-ACCESS")
    },
    # The data stores a fork's CDE adds (pci_rules/rules/data_stores.py): the fork app has one of each, and the
    # landing zone's topics have e-mail subscribers only (no delivery status to log).
    **{
        r.id: "a data store the landing zone does not create (tests/fork/app.py has one)"
        for r in RULES
        if r.check.__module__ == "pci_rules.rules.data_stores"
    },
    # Edge, build and compute types a fork adds (pci_rules/rules/edge_compute.py): the fork app has one of each.
    **{
        r.id: "an edge, build or compute type the landing zone does not create (tests/fork/app.py has one)"
        for r in RULES
        if r.check.__module__ == "pci_rules.rules.edge_compute"
    },
    # The AWS pack review's rules (pci_rules/rules/pack_review.py): types the landing zone does not create.
    **{
        r.id: "a resource type from the AWS pack review the landing zone does not create (tests/fork/app.py has one)"
        for r in RULES
        if r.check.__module__ == "pci_rules.rules.pack_review"
    },
}


def _run(rule_id: str, resources: Resources) -> tuple[int, list[str]]:
    # "Cidr" is a Parameter without a Default, "Known" one with AllowedValues (PCI4-TEMPLATE-PARAMETERS-RESOLVED's
    # cases; a Default alone is a free value, tests/test_pci_rules_intrinsics.py)
    parameters = {
        "Cidr": {"Type": "String"},
        "Known": {"Type": "String", "Default": "10.0.0.0/8", "AllowedValues": ["10.0.0.0/8"]},
    }
    template = {"Parameters": parameters, "Resources": resources}
    model = TemplateModel.from_templates({"S": template})
    (result,) = evaluate(model, [BY_ID[rule_id]])
    return len(result.checks), [f"{c.resource.logical_id}: {c.detail}" for c in result.failures]


def test_at_least_forty_rules_each_with_requirements_description_and_fix() -> None:
    assert len(RULES) >= 40
    for rule in RULES:
        assert rule.id.startswith("PCI4-"), rule.id
        assert rule.requirements or rule.related, rule.id
        assert all(r[0].isdigit() for r in (*rule.requirements, *rule.related)), rule.id
        assert not set(rule.requirements) & set(rule.related), rule.id
        assert rule.description.endswith("."), rule.id
        assert "\n" not in rule.description, rule.id
        assert rule.fix, rule.id


def test_every_rule_has_a_compliant_and_a_non_compliant_case() -> None:
    assert set(CASES) == set(BY_ID)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_compliant_template_passes(rule_id: str) -> None:
    examined, failures = _run(rule_id, CASES[rule_id][0])
    # "no IAM users" is confirmed by absence: its compliant template has nothing of the kind to examine
    assert examined or rule_id == "PCI4-IAM-NO-USERS", f"{rule_id} examined nothing in its compliant case"
    assert failures == []


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_non_compliant_template_fails(rule_id: str) -> None:
    _, failures = _run(rule_id, CASES[rule_id][1])
    assert failures, f"{rule_id} passed its non-compliant case"


def test_open_ingress_is_allowed_only_on_the_edge_load_balancers_group() -> None:
    from tests.pci_rule_cases import _sg

    _, failures = _run(
        "PCI4-EC2-SG-NO-OPEN-INGRESS",
        _sg([{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}], edge=False),
    )
    assert failures, "443 from anywhere on a group no internet-facing load balancer uses"


def test_an_alb_behind_a_web_acl_that_does_not_log_fails() -> None:
    from tests.pci_rule_cases import WAF_WITHOUT_LOGS

    _, failures = _run("PCI4-ELB-WAF", WAF_WITHOUT_LOGS)
    assert failures == ["Lb: its web ACL does not log"]


def test_escape_hatch_strings_count_as_booleans() -> None:
    """`add_property_override` can write "false" as a string: CloudFormation reads it as false."""
    from tests.pci_rule_cases import TRAIL_OK, r

    _, failures = _run(
        "PCI4-TRAIL-VALIDATION",
        {"Trail": r("AWS::CloudTrail::Trail", **{**TRAIL_OK, "EnableLogFileValidation": "False"})},
    )
    assert failures


def test_a_global_tables_replicas_each_need_point_in_time_recovery() -> None:
    """dynamodb-pitr-enabled evaluates each replica as a table; AWS::DynamoDB::GlobalTable sets PITR per replica."""
    from tests.pci_rule_cases import r

    on = {"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}
    replicas: list[dict[str, object]] = [{"Region": "us-east-1", **on}, {"Region": "us-west-2"}]
    examined, failures = _run("PCI4-DYNAMODB-PITR", {"Global": r("AWS::DynamoDB::GlobalTable", Replicas=replicas)})
    assert (examined, failures) == (1, ["Global: point-in-time recovery is off in us-west-2"])
    replicas[1].update(on)
    assert _run("PCI4-DYNAMODB-PITR", {"Global": r("AWS::DynamoDB::GlobalTable", Replicas=replicas)})[1] == []


def test_a_memcached_cluster_keeps_no_backups_and_is_not_examined() -> None:
    from tests.pci_rule_cases import r

    cache = r("AWS::ElastiCache::CacheCluster", Engine="memcached", CacheNodeType="cache.t4g.micro", NumCacheNodes=1)
    assert _run("PCI4-ELASTICACHE-BACKUPS", {"Cache": cache}) == (0, [])
    redis = r("AWS::ElastiCache::CacheCluster", Engine="redis", CacheNodeType="cache.t4g.micro", NumCacheNodes=1)
    assert _run("PCI4-ELASTICACHE-BACKUPS", {"Cache": redis}) == (1, ["Cache: SnapshotRetentionLimit 0 < 15"])


def test_a_topic_with_only_email_subscribers_is_not_examined_for_delivery_status() -> None:
    """SNS logs delivery status for HTTP/S, SQS, Lambda, Firehose and application endpoints only."""
    from tests.pci_rule_cases import r

    topic = {"Topic": r("AWS::SNS::Topic", Subscription=[{"Protocol": "email", "Endpoint": "ops@example.com"}])}
    assert _run("PCI4-SNS-DELIVERY-STATUS-LOGGING", topic) == (0, [])
    lambda_sub = {"Protocol": "lambda", "Endpoint": "arn:aws:lambda:us-east-1:111111111111:function:f"}
    topic["Topic"]["Properties"]["Subscription"].append(lambda_sub)
    assert _run("PCI4-SNS-DELIVERY-STATUS-LOGGING", topic) == (1, ["Topic: delivery status of lambda is not logged"])


@pytest.mark.parametrize(
    ("deletion", "replace", "failure"),
    [
        ("RetainExceptOnCreate", "Retain", None),
        ("Retain", "Retain", None),
        ("Snapshot", "Snapshot", None),
        ("RetainExceptOnCreate", "RetainExceptOnCreate", "UpdateReplacePolicy is RetainExceptOnCreate"),
        ("RetainExceptOnCreate", None, "UpdateReplacePolicy is Delete"),
    ],
)
def test_retained_means_kept_on_delete_and_replace(deletion: str, replace: str | None, failure: str | None) -> None:
    """DeletionPolicy RetainExceptOnCreate keeps the resource except when its own create rolls back;
    UpdateReplacePolicy takes Delete, Retain or Snapshot only (CloudFormation's attribute pages)."""
    from tests.pci_rule_cases import LOG_GROUP

    group = {**LOG_GROUP, "DeletionPolicy": deletion, **({"UpdateReplacePolicy": replace} if replace else {})}
    _, failures = _run("PCI4-STATEFUL-RETAINED", {"Group": group})
    assert failures == ([f"Group: {failure}"] if failure else [])


def test_readme_lists_every_rule_with_its_requirements() -> None:
    """The README's table is generated from the rules (`python -m pci_rules.docs README.md`)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert replace_table(readme) == readme, "README's rule table is out of date: run python -m pci_rules.docs README.md"
    for rule in RULES:
        row = f"| `{rule.id}` | {', '.join(rule.requirements) or '-'} | {', '.join(rule.related) or '-'} |"
        assert row in readme


def test_a_rule_that_evidences_no_requirement_carries_related_ones_and_the_reason_it_is_kept() -> None:
    """Pack 1.9.0 (QSA reader r21b): `requirements` may be empty only where `related` is not and the rule stands
    in for a Security Hub PCI DSS control or a Config rule AWS maps, or `crosswalk.SUPPORT_ONLY_REASONS` says why."""
    from pci_rules import crosswalk

    support_only = [rule for rule in RULES if not rule.requirements]
    assert support_only, "the support-only rules are the point of this test"
    for rule in support_only:
        assert rule.related, rule.id
        assert len(crosswalk.support_reason(rule.id)) >= 20, f"{rule.id}: give the reason it is kept"
    needing = {rule.id for rule in support_only if not crosswalk.support_reason(rule.id).startswith("stands in for")}
    assert set(crosswalk.SUPPORT_ONLY_REASONS) == needing, "a stale or missing SUPPORT_ONLY_REASONS entry"


def test_a_support_only_rule_says_supports_in_its_finding_never_a_requirement_it_does_not_evidence() -> None:
    by_id = {r.id: r for r in RULES}
    assert by_id["PCI4-DYNAMODB-KMS"].citation() == "supports PCI DSS v4.0.1 3.5.1.2, 3.6.1"
    assert by_id["PCI4-CLOUDFRONT-TLS12-POLICY"].citation() == "PCI DSS v4.0.1 4.2.1; supports 1.2.5"
    assert by_id["PCI4-RDS-NOT-PUBLIC"].citation() == "PCI DSS v4.0.1 1.3.1, 1.4.4"


def test_rule_package_depends_on_no_landing_zone_code() -> None:
    """pci_rules is importable by any CDK app: no import of config/, stacks/, compliance/, evidence/, ci_tools/."""
    forbidden = ("config", "stacks", "compliance", "pci_constructs", "evidence", "ci_tools")
    for source in Path(__file__).resolve().parent.parent.joinpath("pci_rules").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [n for n in names if n.split(".")[0] in forbidden], f"{source.name} imports {names}"


def test_synth_time_code_imports_no_ci_tooling() -> None:
    """compliance/ and evidence/ run at synth; ci_tools/ (scanners, SBOMs) runs only in CI or by hand."""
    root = Path(__file__).resolve().parent.parent
    for folder in ("compliance", "evidence", "pci_rules", "stacks", "pci_constructs", "config"):
        for source in root.joinpath(folder).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom | ast.Import):
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    assert not [n for n in names if n.split(".")[0] == "ci_tools"], f"{source} imports {names}"


def test_readme_states_the_current_number_of_rules() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert f"PCI DSS v4.0.1 rules ({len(RULES)}) on the rendered templates" in readme


@pytest.mark.parametrize("rule_id", sorted(LAUNCH_CONFIGURATION_CASES))
def test_a_group_launching_from_a_launch_configuration_is_examined_through_it(rule_id: str) -> None:
    good, bad = LAUNCH_CONFIGURATION_CASES[rule_id]
    examined, failures = _run(rule_id, good)
    assert examined == 1
    assert not failures, failures
    _, failures = _run(rule_id, bad)
    (failure,) = failures
    assert failure.startswith("Group:")
    assert "its launch configuration" in failure


def test_a_group_whose_launch_configuration_is_not_in_the_templates_is_not_passed_unread() -> None:
    group = LAUNCH_CONFIGURATION_CASES["PCI4-EC2-NO-KEY-PAIR"][0]["Group"]
    named_elsewhere = {
        "Group": {**group, "Properties": {**group["Properties"], "LaunchConfigurationName": "made-by-hand"}}
    }
    for rule_id in LAUNCH_CONFIGURATION_CASES:
        _, failures = _run(rule_id, named_elsewhere)
        (failure,) = failures
        assert failure.startswith("Group:")
        assert "a launch configuration not in these templates" in failure


def test_an_outside_apps_finding_cites_a_related_requirement_as_supported_only() -> None:
    """The QSA reader's example (r21b item 1): an outside app saw `PCI4-DYNAMODB-PITR ... (PCI DSS v4.0.1
    12.10.1)`, a requirement the evidence excludes. The heading now says what the rule supports, and the
    plugin's metadata keeps the two apart."""
    from pci_rules.plugin import violation_heading

    template = {"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {}}}}
    (result,) = evaluate(TemplateModel.from_templates({"S": template}), [BY_ID["PCI4-DYNAMODB-PITR"]])
    heading = violation_heading(result.rule, result.failures)
    assert "(supports PCI DSS v4.0.1 12.10.1)" in heading
    assert "(PCI DSS v4.0.1 12.10.1)" not in heading


_REQ = st.from_regex(r"\A[1-9]\.[1-9](\.[1-9]){0,2}\Z", fullmatch=True)


@settings(max_examples=100, deadline=None)
@given(requirements=st.lists(_REQ, max_size=3, unique=True), related=st.lists(_REQ, max_size=3, unique=True))
def test_a_citation_never_prints_a_related_requirement_as_evidence(requirements: list[str], related: list[str]) -> None:
    """Property: whatever a rule's two lists, its citation names the evidenced ones after "PCI DSS v4.0.1" and
    every related one only after "supports" (QSA reader r21b: related requirements are never evidence)."""
    related = [q for q in related if q not in requirements]
    if not requirements and not related:
        return
    made = Rule("PCI4-X", tuple(requirements), "x.", "x", lambda m: [], related=tuple(related))
    text = made.citation()
    evidenced, _, supported = text.partition("supports ")

    def numbers(part: str) -> list[str]:
        return [q.strip() for q in part.replace("PCI DSS v4.0.1", "").replace(";", "").split(",") if q.strip()]

    assert numbers(evidenced) == requirements
    assert numbers(supported) == related
