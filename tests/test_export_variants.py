"""Kind 2 of issue #9: an export that a configuration change removes while a consumer still imports it.

The default app is what is deployed; each variant changes one flag. CloudFormation updates the
producers first, so every export a default consumer imports must still be exported by the same
producer in the variant (producers a variant drops entirely, a removed region's, are deleted by
hand after their consumers). Variants are built without the compliance gate, which changes no
template: one synthesis each.

Issue #22: the variants cover every optional stack (the card vault, the archive replica, the
guardrails, the operator roles, the detection modes), both ways: a stack a configuration change
removes from the app stays deployed (neither CDK nor the pipeline deletes a stack) and keeps
importing, so what it imports is pinned by its producer.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack

from config import parse_environment
from config.defaults import EMBEDDED_ENVIRONMENTS
from stacks.landing_zone import build_landing_zone
from tests.cache import cached_synth_result
from tests.conftest import CDK_CONTEXT, Synthesized, new_app
from tests.template_scan import Template, exports, fixed_name_replacements, imports


def _variant(change: str) -> dict[str, Any]:
    data = copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])
    if change.startswith("card vault "):
        if change == "card vault off":
            data["card_vault"] = {**data["card_vault"], "enabled": False}
        else:
            del data["card_vault"]
    elif change == "egress nat":  # firewall <-> nat: the NAT gateways move between subnet groups
        data["egress"] = {**data.get("egress", {}), "mode": "nat"}
    elif change == "proxy off":
        data["database"] = {"enable_proxy": False}
    elif change.endswith(" off"):
        data["audit"][change.removesuffix(" off")] = "off"
    elif change == "one region":
        data["regions"] = {data["home_region"]: data["regions"][data["home_region"]]}
    elif change == "three AZs":
        data["az_count"] = 3
    elif change == "vault unreserved":
        none = dict.fromkeys(("api", "detokenize", "purge", "migration"))
        data["card_vault"] = {**data["card_vault"], "reserved_concurrency": none}
    elif change == "replica in the home region only":
        data["regions"] = {data["home_region"]: data["regions"][data["home_region"]]}
        data["audit"] = {**data["audit"], "replica_region": None}
    elif change == "guardrails on":
        data["guardrails"] = {"organization_unit_ids": ["r-abcd"], "management_account": "999999999999"}
    elif change == "no operator roles":
        data["identity"] = {
            **data["identity"],
            "administrator_principals": [],
            "auditor_principals": [],
            "break_glass_principals": [],
        }
    elif change == "detection all existing":
        data["audit"] = {
            **data["audit"],
            "config_mode": "existing",
            "security_hub_mode": "existing",
            "guardduty_mode": "existing",
        }
    elif change == "nothing to detect":  # no Detection stack at all (issue #18)
        off = {"config_mode": "off", "security_hub_mode": "off"}
        data["audit"] = {**data["audit"], **off, "guardduty_mode": "existing"}
    return data


# Every optional stack (vault, replica, guardrails, identity parts, detection modes) switched off or on.
VARIANTS = (
    "egress nat",
    "proxy off",
    "config_mode off",
    "security_hub_mode off",
    "guardduty_mode off",
    "one region",
    "three AZs",
    "card vault off",
    "card vault removed",
    "vault unreserved",
    "replica in the home region only",
    "guardrails on",
    "no operator roles",
    "detection all existing",
    "nothing to detect",
)


# Changes that are never reversed: lowering az_count re-addresses nothing but removes subnets that
# hold the database and endpoints (README, Deploying), so only raising it is supported.
ONE_WAY = {"three AZs"}


def _templates(app: App) -> dict[str, Template]:
    return {artifact.stack_name: artifact.template for artifact in app.synth().stacks}


def dropped_exports(deployed: dict[str, Template], variant: dict[str, Template]) -> list[str]:
    """Imports of the deployed consumers whose export the variant's producer no longer has."""
    exported = {name for template in variant.values() for name in exports(template)}
    dropped = []
    for consumer, template in deployed.items():
        for name in sorted(imports(template)):
            producer = name.split(":", 1)[0]
            if producer in variant and name not in exported:
                dropped.append(f"{consumer} imports {name}, which {producer} no longer exports")
    return dropped


_VARIANT_TEMPLATES: dict[str, dict[str, Template]] = {}


def _variant_templates(change: str, tmp_path: Path) -> dict[str, Template]:
    """One synthesis per variant and source state (issue #23): kept for this module's other test, and on
    disk (tests/cache.py, keyed by the variant's configuration, the CDK context and the source tree)."""
    if change not in _VARIANT_TEMPLATES:
        data = _variant(change)

        def build() -> dict[str, Template]:
            app = new_app(tmp_path)
            build_landing_zone(app, parse_environment(data))
            return _templates(app)

        configuration = json.dumps({"environment": data, "context": CDK_CONTEXT}, sort_keys=True, default=str)
        _VARIANT_TEMPLATES[change] = cached_synth_result("variant-templates", configuration, build, Path(__file__))
    return _VARIANT_TEMPLATES[change]


@pytest.mark.parametrize("change", VARIANTS)
def test_a_single_flag_change_keeps_every_imported_export(
    synthesized: Synthesized, tmp_path: Path, change: str
) -> None:
    """Both ways: from the default to the variant, and back (an optional stack the default lacks,
    once deployed, is the consumer whose producers must keep their exports)."""
    default = dict(synthesized.templates())
    variant = _variant_templates(change, tmp_path)
    assert dropped_exports(default, variant) == []
    if change not in ONE_WAY:
        assert dropped_exports(variant, default) == []


def test_a_consumer_that_stops_importing_an_unpinned_value_is_caught(tmp_path: Path) -> None:
    def build(consumer_imports: bool) -> dict[str, Template]:
        app = App(outdir=str(tmp_path / str(consumer_imports)))
        env = {"account": "111111111111", "region": "us-east-1"}
        producer = Stack(app, "Producer", env=env)
        from aws_cdk import aws_sns as sns

        topic = sns.Topic(producer, "Topic")
        consumer = Stack(app, "Consumer", env=env)
        if consumer_imports:
            from aws_cdk import CfnOutput

            CfnOutput(consumer, "TopicArn", value=topic.topic_arn)
        return _templates(app)

    deployed, variant = build(True), build(False)
    assert len(dropped_exports(deployed, variant)) == 1


def test_an_optional_consumer_removed_from_the_app_is_caught(tmp_path: Path) -> None:
    """The stack itself leaves the app (as the Workload stack does with the vault off) but stays deployed."""

    def build(with_consumer: bool) -> dict[str, Template]:
        app = App(outdir=str(tmp_path / f"optional-{with_consumer}"))
        env = {"account": "111111111111", "region": "us-east-1"}
        producer = Stack(app, "Producer", env=env)
        from aws_cdk import CfnOutput
        from aws_cdk import aws_sns as sns

        topic = sns.Topic(producer, "Topic")
        if with_consumer:
            CfnOutput(Stack(app, "Optional", env=env), "TopicArn", value=topic.topic_arn)
        return _templates(app)

    deployed, variant = build(True), build(False)
    assert dropped_exports(deployed, variant) == [
        f"Optional imports {name}, which Producer no longer exports" for name in sorted(imports(deployed["Optional"]))
    ]


@pytest.mark.parametrize("change", VARIANTS)
def test_a_single_flag_change_replaces_no_custom_named_resource(
    synthesized: Synthesized, tmp_path: Path, change: str
) -> None:
    """Issue #22, second review, 2: a resource with a fixed physical name whose create-only properties (the
    cfn-lint bundled provider schemas) differ between the default and the variant would be replaced under
    the same name, and CloudFormation fails the update. Both ways, like the exports."""
    default = dict(synthesized.templates())
    variant = _variant_templates(change, tmp_path)
    assert fixed_name_replacements(default, variant) == []
    if change not in ONE_WAY:
        assert fixed_name_replacements(variant, default) == []


def test_a_custom_named_resource_with_a_changed_create_only_property_is_caught(tmp_path: Path) -> None:
    """The bad case: a named proxy whose subnets change (az_count 2 -> 3) is caught; the same change with a
    name that follows the subnets, or with no other change, is not."""

    def build(label: str, subnets: list[str], name: str) -> dict[str, Template]:
        from aws_cdk import aws_rds as rds

        app = App(outdir=str(tmp_path / label))
        stack = Stack(app, "Data", env={"account": "111111111111", "region": "us-east-1"})
        rds.CfnDBProxy(
            stack,
            "Proxy",
            db_proxy_name=name,
            engine_family="POSTGRESQL",
            role_arn="arn:aws:iam::111111111111:role/proxy",
            vpc_subnet_ids=subnets,
            auth=[],
        )
        return _templates(app)

    two, three = ["subnet-a", "subnet-b"], ["subnet-a", "subnet-b", "subnet-c"]
    deployed = build("deployed", two, "cde-proxy")
    assert fixed_name_replacements(deployed, build("same", two, "cde-proxy")) == []
    (found,) = fixed_name_replacements(deployed, build("three", three, "cde-proxy"))
    assert "Data/Proxy (AWS::RDS::DBProxy" in found
    assert "VpcSubnetIds" in found
    assert fixed_name_replacements(deployed, build("renamed", three, "cde-proxy-3az")) == []
