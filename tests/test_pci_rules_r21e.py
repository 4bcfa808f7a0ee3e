"""QSA reader r21e's rule findings: each with the compliant case (the fork app's resource) and the one it missed."""

from __future__ import annotations

import pytest

from pci_rules import TemplateModel, evaluate
from pci_rules.rules import RULES
from tests.pci_rule_cases_workloads import Resources, _cdn, _origin, bad, good

BY_ID = {rule.id: rule for rule in RULES}


def _failures(rule_id: str, resources: Resources) -> list[str]:
    (result,) = evaluate(TemplateModel.from_templates({"S": {"Resources": resources}}), [BY_ID[rule_id]])
    assert result.examined, f"{rule_id} examined nothing"
    return [f"{c.resource.logical_id}: {c.detail}" for c in result.failures]


# --- MEDIUM 2: weak transport passed 4.2.1 rules ------------------------------------------------------------


@pytest.mark.parametrize("rule_id", ["PCI4-CLOUDFRONT-ORIGIN-HTTPS", "PCI4-CLOUDFRONT-ORIGIN-NO-SSLV3"])
def test_an_origin_held_to_tls_1_2_only_passes(rule_id: str) -> None:
    assert _failures(rule_id, good("Cdn")) == []


@pytest.mark.parametrize("rule_id", ["PCI4-CLOUDFRONT-ORIGIN-HTTPS", "PCI4-CLOUDFRONT-ORIGIN-NO-SSLV3"])
@pytest.mark.parametrize("protocols", [["TLSv1"], ["TLSv1.1", "TLSv1.2"], ["TLSv1", "TLSv1.2"]])
def test_an_origin_allowing_tls_below_1_2_fails(rule_id: str, protocols: list[str]) -> None:
    (failure,) = _failures(rule_id, _cdn(Origins=_origin("https-only", protocols)))
    assert "below 1.2" in failure or "less than TLSv1.2" in failure
    assert protocols[0] in failure


def test_an_origin_declaring_no_protocols_fails() -> None:
    origins = _origin("https-only", [])
    del origins[0]["CustomOriginConfig"]["OriginSSLProtocols"]
    (failure,) = _failures("PCI4-CLOUDFRONT-ORIGIN-NO-SSLV3", _cdn(Origins=origins))
    assert "declares no OriginSSLProtocols" in failure


def test_an_elasticache_group_in_required_mode_or_undeclared_mode_passes() -> None:
    assert good("Cache")["Cache"]["Properties"]["TransitEncryptionMode"] == "required"
    assert _failures("PCI4-ELASTICACHE-TRANSIT-ENCRYPTION", good("Cache")) == []
    assert _failures("PCI4-ELASTICACHE-TRANSIT-ENCRYPTION", bad("Cache", TransitEncryptionMode=None)) == []


def test_an_elasticache_group_in_preferred_mode_fails() -> None:
    (failure,) = _failures("PCI4-ELASTICACHE-TRANSIT-ENCRYPTION", bad("Cache", TransitEncryptionMode="preferred"))
    assert "'preferred' accepts unencrypted connections" in failure


# --- MEDIUM 4: encryption at rest of ElastiCache replication groups and OpenSearch domains -----------------


def test_new_encryption_at_rest_rules_cannot_be_acknowledged() -> None:
    for rule_id in ("PCI4-ELASTICACHE-ENCRYPTED-AT-REST", "PCI4-OPENSEARCH-ENCRYPTED-AT-REST"):
        assert not BY_ID[rule_id].acknowledgeable
        assert BY_ID[rule_id].related == ("3.5.1.2",)


def test_a_valkey_group_without_the_flag_takes_the_services_default_and_passes() -> None:
    resources = bad("Cache", AtRestEncryptionEnabled=None)
    assert resources["Cache"]["Properties"]["Engine"] == "valkey"
    (result,) = evaluate(
        TemplateModel.from_templates({"S": {"Resources": resources}}), [BY_ID["PCI4-ELASTICACHE-ENCRYPTED-AT-REST"]]
    )
    (check,) = result.checks
    assert check.passed
    assert "Valkey group by default" in check.detail


@pytest.mark.parametrize("engine", ["redis", "valkey"])
def test_a_group_declaring_encryption_at_rest_off_fails(engine: str) -> None:
    (failure,) = _failures(
        "PCI4-ELASTICACHE-ENCRYPTED-AT-REST", bad("Cache", Engine=engine, AtRestEncryptionEnabled=False)
    )
    assert "not encrypted at rest" in failure


def test_an_opensearch_domain_without_encryption_at_rest_options_fails() -> None:
    (failure,) = _failures("PCI4-OPENSEARCH-ENCRYPTED-AT-REST", bad("Search", EncryptionAtRestOptions=None))
    assert "EncryptionAtRestOptions.Enabled None" in failure


# --- LOW: S3 self-logging by literal name, an open bus policy, FATAL-only logging, ECS names -----------------


def _bucket(**properties: object) -> dict[str, object]:
    return {"Type": "AWS::S3::Bucket", "Properties": properties}


def test_a_bucket_logging_to_itself_by_its_literal_name_fails_and_another_by_name_passes() -> None:
    resources = {
        "Logs": _bucket(BucketName="logs-b", LoggingConfiguration={"DestinationBucketName": "logs-b"}),
        "Data": _bucket(LoggingConfiguration={"DestinationBucketName": "logs-b"}),
    }
    (failure,) = _failures("PCI4-S3-ACCESS-LOGGING", resources)
    assert failure.startswith("Logs: ")
    # the log bucket itself, logging nowhere but receiving Data's logs by name, is exempt (loop)
    resources["Logs"] = _bucket(BucketName="logs-b")
    assert _failures("PCI4-S3-ACCESS-LOGGING", resources) == []


def _bus_statement(**statement: object) -> Resources:
    base = {"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents", "Resource": "*"}
    return bad("Bus", Policy={"Statement": [{**base, **statement}]})


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}])
def test_a_bus_policy_letting_anyone_put_events_unconditionally_fails(principal: object) -> None:
    (failure,) = _failures("PCI4-EVENTBRIDGE-BUS-POLICY", _bus_statement(Principal=principal))
    assert "any principal put events" in failure


def test_a_bus_policy_for_anyone_in_the_organization_passes() -> None:
    condition = {"StringEquals": {"aws:PrincipalOrgID": "o-abcdef1234"}}
    assert _failures("PCI4-EVENTBRIDGE-BUS-POLICY", _bus_statement(Condition=condition)) == []
    assert _failures("PCI4-EVENTBRIDGE-BUS-POLICY", good("Bus")) == []


def test_a_bus_policy_resource_in_the_legacy_form_letting_anyone_put_events_fails() -> None:
    resources = bad("Bus", Policy=None)
    resources["Open"] = {
        "Type": "AWS::Events::EventBusPolicy",
        "Properties": {
            "EventBusName": {"Ref": "Bus"},
            "StatementId": "open",
            "Principal": "*",
            "Action": "events:PutEvents",
        },
    }
    (failure,) = _failures("PCI4-EVENTBRIDGE-BUS-POLICY", resources)
    assert "any principal" in failure


@pytest.mark.parametrize("level", ["ERROR", "ALL"])
def test_step_functions_logging_at_error_or_all_passes(level: str) -> None:
    machine = good("StateMachine")
    machine["StateMachine"]["Properties"]["LoggingConfiguration"]["Level"] = level
    assert _failures("PCI4-STEPFUNCTIONS-LOGGING", machine) == []


def test_step_functions_logging_at_fatal_fails() -> None:
    machine = good("StateMachine")
    machine["StateMachine"]["Properties"]["LoggingConfiguration"]["Level"] = "FATAL"
    (failure,) = _failures("PCI4-STEPFUNCTIONS-LOGGING", machine)
    assert "level FATAL, not ERROR or ALL" in failure


def test_the_ecs_secrets_rule_says_which_names_it_checks() -> None:
    description = BY_ID["PCI4-ECS-NO-SECRETS-IN-ENVIRONMENT"].description
    assert "AWS_ACCESS_KEY_ID" in description
    assert "any other name is not detected" in description
