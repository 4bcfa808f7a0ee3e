"""Kind 2 of issue #9: an export that a configuration change removes while a consumer still imports it.

The default app is what is deployed; each variant changes one flag. CloudFormation updates the
producers first, so every export a default consumer imports must still be exported by the same
producer in the variant (producers a variant drops entirely, a removed region's, are deleted by
hand after their consumers). Variants are built without the compliance gate, which changes no
template: one synthesis each.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack

from config import parse_environment
from config.defaults import EMBEDDED_ENVIRONMENTS
from stacks.landing_zone import build_landing_zone
from tests.conftest import Synthesized, new_app
from tests.template_scan import Template, exports, imports


def _variant(change: str) -> dict[str, Any]:
    data = copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])
    if change == "proxy off":
        data["database"] = {"enable_proxy": False}
    elif change.endswith(" off"):
        data["audit"][change.removesuffix(" off")] = "off"
    elif change == "one region":
        data["regions"] = {data["home_region"]: data["regions"][data["home_region"]]}
    elif change == "three AZs":
        data["az_count"] = 3
    return data


VARIANTS = ("proxy off", "config_mode off", "security_hub_mode off", "guardduty_mode off", "one region", "three AZs")


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


@pytest.mark.parametrize("change", VARIANTS)
def test_a_single_flag_change_keeps_every_imported_export(
    synthesized: Synthesized, tmp_path: Path, change: str
) -> None:
    deployed = dict(synthesized.templates())
    app = new_app(tmp_path)
    build_landing_zone(app, parse_environment(_variant(change)))
    assert dropped_exports(deployed, _templates(app)) == []


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
