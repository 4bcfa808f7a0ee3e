"""Every valid configuration passes the gate: environments generated across the schema's dimensions.

Hypothesis draws one to four regions of one partition, `az_count` 2-3, one to eight ingress CIDRs,
`egress.mode`, the proxy on or off, the vault on or off, each detection `*_mode`, the guardrails
on or off and the organization trail on or off. Each environment is written to a YAML file and
gated exactly as `make synth LZ_ENV=<file>` does (`app.gate_app`): it must pass with no
acknowledgment added, except the one README prescribes for a one-region environment (its log
archive has no second region to replicate to).

Bounded for `make test`: LZ_GENERATED_EXAMPLES examples (default 12), seed LZ_GENERATED_SEED
(default 18, fixed so CI is repeatable: see tests/conftest.py; printed in pytest's header so a
failure reproduces with `LZ_GENERATED_SEED=<seed> pytest ...`). Every assembly is also scanned for
a template with no resources, which CloudFormation refuses.
"""

from __future__ import annotations

import json
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from app import gate_app
from compliance.gate import failure_summary, synthesize
from config import load_environment
from config.defaults import EMBEDDED_ENVIRONMENTS
from tests.cache import cached_synth_result
from tests.conftest import GENERATED_EXAMPLES, GENERATED_SEED, new_app
from tests.template_scan import empty_templates

EXAMPLES, SEED = GENERATED_EXAMPLES, GENERATED_SEED  # printed in pytest's session header

ACCOUNT = "111111111111"
CERTIFICATE = "00000000-0000-4000-8000-0000000000"  # + two digits per region
# Regions of the aws partition with at least three availability zones (az_count 3 must be possible).
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1")
MODES = ("create", "existing", "off")
# What README ("Acknowledging a finding for one environment") prescribes for one region.
SINGLE_REGION_RULES = ("PCI.DSS.321-S3BucketReplicationEnabled", "NIST.800.53.R5-S3BucketReplicationEnabled")


def _single_region_acknowledgments(name: str) -> list[dict[str, str]]:
    return [
        {
            "path": f"PciLz-{name}-Audit-*/LogArchive",
            "rule": rule,
            "reason": "Environment with one region: the archive is object-locked but has no second-region copy",
            "requirement": "PCI DSS v4.0.1 10.5.1",
            "owner": "environment owner",
            "review_by": (date.today() + timedelta(days=90)).isoformat(),
        }
        for rule in SINGLE_REGION_RULES
    ]


@st.composite
def environments(draw: st.DrawFn) -> dict[str, Any]:
    base: dict[str, Any] = json.loads(json.dumps(EMBEDDED_ENVIRONMENTS["default"]))
    regions = draw(st.lists(st.sampled_from(REGIONS), min_size=1, max_size=4, unique=True))
    name = "gen"
    cidrs = draw(
        st.lists(
            st.sampled_from([f"198.51.{n}.0/24" for n in range(100, 120)] + ["0.0.0.0/0"]),
            min_size=1,
            max_size=8,
            unique=True,
        )
    )
    proxy = draw(st.booleans())
    env: dict[str, Any] = {
        **base,
        "name": name,
        "home_region": regions[0],
        "regions": {
            region: {
                "vpc_cidr": f"10.{10 + index * 10}.0.0/16",
                "certificate_arn": f"arn:aws:acm:{region}:{ACCOUNT}:certificate/{CERTIFICATE}{index:02d}",
            }
            for index, region in enumerate(regions)
        },
        "az_count": draw(st.integers(min_value=2, max_value=3)),
        "allowed_ingress_cidrs": cidrs,
        "egress": {"mode": draw(st.sampled_from(("firewall", "nat")))},
        "database": {"enable_proxy": proxy},
    }
    audit: dict[str, Any] = {
        **base["audit"],
        "config_mode": draw(st.sampled_from(MODES)),
        "security_hub_mode": draw(st.sampled_from(MODES)),
        "guardduty_mode": draw(st.sampled_from(MODES)),
    }
    if len(regions) > 1:
        audit["replica_region"] = regions[1]
    else:
        env["acknowledgments"] = _single_region_acknowledgments(name)
    if draw(st.booleans()):
        audit |= {"organization_trail": True, "organization_id": "o-a1b2c3d4e5"}
    env["audit"] = audit
    if draw(st.booleans()):
        env["guardrails"] = {"organization_unit_ids": ["ou-ab12-cdefgh34"], "management_account": "555555555555"}
    if not draw(st.booleans()):  # the vault off: no card_vault block
        env.pop("card_vault", None)
    return env


@seed(SEED)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(environment=environments())
def test_a_generated_environment_passes_the_gate_with_no_acknowledgment_added(environment: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="lz-generated-") as directory:
        path = Path(directory) / "generated.yaml"
        text = yaml.safe_dump(environment, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        config = load_environment(str(path))  # valid by construction: the loader accepts it

        def gate() -> dict[str, Any]:
            """The gated synth, and what this test asserts of it (issue #23: kept per configuration and
            source state in tests/cache.py, so a repeat run with nothing changed does not synthesize)."""
            app = new_app(Path(directory) / "cdk.out", env=str(path))
            zones, gate = gate_app(app)
            assembly, report = synthesize(app, gate)
            templates = [(artifact.stack_name, artifact.template) for artifact in assembly.stacks] if assembly else []
            return {
                "configs": [z.config.model_dump(mode="json") for z in zones],
                "synthesized": assembly is not None,
                "passed": report.passed,
                "failures": failure_summary(report),
                "empty": empty_templates(templates),
            }

        outcome = cached_synth_result("generated-environment", text, gate, Path(__file__))
        assert outcome["configs"] == [config.model_dump(mode="json")]
        shape = (
            f"regions={list(config.regions)} az_count={config.az_count} cidrs={len(config.allowed_ingress_cidrs)}"
            f" egress={config.egress.mode} proxy={config.database.enable_proxy} vault={config.card_vault is not None}"
            f" modes={config.audit.config_mode}/{config.audit.security_hub_mode}/{config.audit.guardduty_mode}"
            f" guardrails={config.guardrails.enabled} org_trail={config.audit.organization_trail}"
        )
        again = f"reproduce: LZ_GENERATED_SEED={SEED} LZ_GENERATED_EXAMPLES={EXAMPLES}"
        assert outcome["synthesized"], f"{shape} ({again}): the gate stopped synthesis\n{outcome['failures']}"
        assert outcome["passed"], f"{shape} ({again})\n{outcome['failures']}"
        assert outcome["empty"] == [], f"{shape} ({again}): CloudFormation refuses a stack of nothing"
