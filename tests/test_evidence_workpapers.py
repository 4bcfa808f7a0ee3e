"""The work papers (evidence/workpapers.py) on the default app, a delivery synth and one envs/ file.

Each paper is checked against the raw template JSON where it can be (every bucket, database,
secret, log group, listener, function is a row), and its CSV and JSON beside the report must carry
the same rows as the report's table.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import gate_app
from ci_tools import supply_chain
from compliance.gate import EVIDENCE_DIR, synthesize
from config.models import EvidenceConfig
from evidence.report import REPORT_NAME, Attestation, attestation_of, canonical_order, write_compliance_evidence
from evidence.scope import ScopeModel
from evidence.topology import Topology, display_name
from evidence.workpapers import (
    HMAC_ROTATION,
    IMMEDIATE_DAYS,
    RETAINED_DAYS,
    TEST_DATE,
    VAULT_ELEMENTS,
    WORKPAPER_DIR,
    WorkPaper,
    all_workpapers,
    cde_tiers,
    logging_paper,
    responsibility_paper,
    rule_review_changes,
    rule_review_changes_paper,
    software_paper,
)
from pci_constructs.lambda_bundling import SBOM_SOURCE_METADATA
from pci_constructs.segmented_vpc import NACL_NEED_METADATA
from pci_rules.model import StackTemplate, TemplateModel
from pci_rules.rule import evaluate
from pci_rules.rules import RULES
from tests.conftest import ROOT, Delivered, Synthesized, new_app

PAPERS = (
    "rule-review",
    "rule-review-changes",
    "inventory",
    "keys",
    "data-stores",
    "tls",
    "logging",
    "software",
    "segmentation",
    "responsibility",
)
ENV_FILE = "envs/nonprod-low-cost.yaml"  # one region pair, no card vault, no proxy: unlike the default


@dataclass
class Written:
    model: TemplateModel
    directory: Path
    papers: dict[str, WorkPaper]

    def report(self) -> str:
        return (self.directory / f"{REPORT_NAME}.md").read_text(encoding="utf-8")


def _write(outdir: Path, gate: Any, report: Any, attestation: Attestation | None, copy_to: Path) -> Written:
    assembly = copy_to / "cdk.out"
    shutil.copytree(outdir, assembly, ignore=shutil.ignore_patterns(EVIDENCE_DIR))
    # In the one stack order the writer uses (synth and `python -m evidence.report` alike), so the papers
    # computed here list their rows as the written ones do.
    model = canonical_order(TemplateModel.from_assembly(assembly))
    write_compliance_evidence(
        assembly, model=model, results=evaluate(model, RULES), gate=gate, report=report, attestation=attestation
    )
    att = attestation or Attestation()
    papers = all_workpapers(model, Topology(model), aoc_edition=att.aws_aoc_edition, aoc_date=att.aws_aoc_date)
    return Written(model, assembly / EVIDENCE_DIR, {p.slug: p for p in papers})


@pytest.fixture(scope="module")
def default(synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Written:
    return _write(synthesized.outdir, synthesized.gate, synthesized.report, None, tmp_path_factory.mktemp("wp"))


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """`make synth LZ_ENV=envs/nonprod-low-cost.yaml`, with an AOC recorded in its evidence block."""
    outdir = tmp_path_factory.mktemp("wp-env") / "cdk.out"
    app = new_app(outdir, env=ENV_FILE)
    zones, gate = gate_app(app)
    assembly, report = synthesize(app, gate)
    assert assembly is not None, "\n".join(map(str, report.findings))
    evidence = zones[0].config.evidence.model_copy(
        update={"aws_aoc_edition": "AWS PCI DSS AOC 2026", "aws_aoc_date": date(2026, 10, 15)}
    )
    return _write(outdir, gate, report, attestation_of(evidence), tmp_path_factory.mktemp("wp-env-out"))


def _resources(model: TemplateModel, *types: str) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(stack, logical id, properties) straight from the template JSON."""
    for name, stack in model.stacks.items():
        for logical_id, body in (stack.template.get("Resources") or {}).items():
            if body.get("Type") in types:
                yield name, logical_id, body.get("Properties") or {}


def _check_inventory(written: Written) -> None:
    """The inventory lists every resource of every template: counted in the raw JSON, compared by
    (stack, logical ID); and every NACL entry of every template states its need (pci-lz:need)."""
    paper = written.papers["inventory"]
    stack_column, id_column = paper.header.index("Stack"), paper.header.index("Logical ID")
    listed = sorted((row[stack_column], row[id_column]) for row in paper.rows)
    in_templates = sorted(
        (name, logical_id)
        for name, stack in written.model.stacks.items()
        for logical_id in (stack.template.get("Resources") or {})
    )
    assert listed == in_templates
    assert f"Every resource of every template ({len(in_templates)}:" in paper.intro
    for name, stack in written.model.stacks.items():
        for logical_id, body in (stack.template.get("Resources") or {}).items():
            if body.get("Type") == "AWS::EC2::NetworkAclEntry":
                assert (body.get("Metadata") or {}).get(NACL_NEED_METADATA), f"{name}/{logical_id} states no need"


def _check_keys(written: Written, *, vault: bool) -> None:
    """Users from identity policies beside the key policy's; every key states its cryptoperiod; the
    vault's HMAC key says KMS does not rotate it and how the project does."""
    paper = written.papers["keys"]
    grants, period = (
        paper.header.index("Users (identity policies and grants)"),
        paper.header.index("Cryptoperiod and rotation"),
    )
    assert all(row[period] for row in paper.rows)
    hmac = [r for r in paper.rows if "HMAC" in r[2]]
    assert bool(hmac) is vault
    for row in hmac:
        assert row[period] == HMAC_ROTATION
        assert "GenerateMac" in row[grants], row
        assert "ApiRole" in row[grants], row
    for row in paper.rows:
        if row[2].startswith("yes"):
            assert row[period].startswith("key material rotated by AWS KMS every 365 days"), row
    if vault:
        cardholder = [r for r in paper.rows if r[0].endswith("CardholderDataKey")]
        assert cardholder
        assert all("DetokenizeRole: Decrypt" in r[grants] for r in cardholder)


def _check_papers(written: Written) -> None:
    """Every paper is in the report (HTML too) and in CSV and JSON with the same rows."""
    text = written.report()
    html_text = (written.directory / f"{REPORT_NAME}.html").read_text(encoding="utf-8")
    assert "WORKPAPER-PLACEHOLDER" not in html_text
    assert list(written.papers) == list(PAPERS)
    for slug, paper in written.papers.items():
        assert f"### {paper.title}" in text
        assert f"[{slug}.csv]({WORKPAPER_DIR}/{slug}.csv)" in text
        assert f"<h3>{paper.title}</h3>" in html_text
        with (written.directory / WORKPAPER_DIR / f"{slug}.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        assert tuple(rows[0]) == paper.header
        assert [tuple(r) for r in rows[1:]] == list(paper.rows), slug
        data = json.loads((written.directory / WORKPAPER_DIR / f"{slug}.json").read_text(encoding="utf-8"))
        assert data["columns"] == list(paper.header)
        assert data["rows"] == paper.records()
        assert paper.rows, f"{slug} is empty"


def _check_data_stores(written: Written, *, vault: bool) -> None:
    paper = written.papers["data-stores"]
    refs = {row[-1]: row for row in paper.rows}
    types = ("AWS::S3::Bucket", "AWS::RDS::DBInstance", "AWS::SecretsManager::Secret")
    for stack, logical_id, _ in _resources(written.model, *types):
        assert f"{stack}/{logical_id}" in refs, f"{stack}/{logical_id} is not a data-store row"
    databases = [row for row in paper.rows if row[1].startswith("DBInstance")]
    assert databases
    for row in databases:
        assert (row[5] == VAULT_ELEMENTS) is vault, row
        assert "storage encrypted, KMS key" in row[6]
        assert "not publicly accessible" in row[6]
        assert "automated backups" in row[4]
    for row in paper.rows:
        assert all(row), row  # purpose, retention, elements, protection, access logging always stated
        if row[1].startswith("Bucket"):
            assert "TLS only (bucket policy)" in row[6], row
            assert "all public access blocked" in row[6], row


def _check_tls(written: Written, *, proxy: bool) -> None:
    paper = written.papers["tls"]
    refs = {row[-1]: row for row in paper.rows}
    for stack, logical_id, props in _resources(written.model, "AWS::ElasticLoadBalancingV2::Listener"):
        row = refs[f"{stack}/{logical_id}"]
        assert props.get("Protocol") == "HTTPS", "no plain-HTTP listener, not even a redirect"
        assert row[3] == props["SslPolicy"]
        assert "outside the templates: unverified" in row[4]  # the configured ACM certificate
    assert any(r[1].startswith("RDS Proxy") for r in paper.rows) is proxy
    assert all("rds.force_ssl=1" in r[3] for r in paper.rows if r[1].startswith("database parameter group"))


def _check_logging(written: Written) -> None:
    paper = written.papers["logging"]
    destinations = " ".join(r[2] for r in paper.rows)
    refs = {r[-1] for r in paper.rows}
    for group in written.model.resources("AWS::Logs::LogGroup"):  # every log group is some row's destination
        assert f"({group.stack})" in destinations or f"{group.stack}/{group.logical_id}" in refs, group.path
    sources = {r[1].split(" (")[0] for r in paper.rows}
    for expected in ("VPC flow log", "AWS WAF web ACL log", "Network Firewall alert log", "S3 server access log of"):
        assert any(s.startswith(expected) for s in sources), expected
    trail_rows = [r for r in paper.rows if r[1].startswith("CloudTrail trail")]
    archive = next(r for r in trail_rows if r[2].startswith("Bucket"))
    assert "Object Lock" in archive[4]
    assert archive[5] == f"{RETAINED_DAYS} days"
    assert archive[6] == "180 days"  # Glacier Flexible Retrieval at 180 days ends "immediately available"
    for row in paper.rows:
        assert "flag" not in row[5], row  # 12 months kept
        assert "flag" not in row[6], row  # 3 months immediately available


def _check_software(written: Written, *, vault: bool) -> None:
    """Every function's SBOM cell follows from its template alone: the requirements file the bundler
    recorded (`SBOM_SOURCE_METADATA`) named as `make audit` names its SBOM (supply_chain.label), else
    "missing"; so a new function never needs a change here. Every SBOM named is one `make audit` builds."""
    paper = written.papers["software"]
    refs = {row[-1]: row for row in paper.rows}
    audited = {supply_chain.label(path, ROOT) for path in supply_chain.requirements_files(ROOT)}
    for name, stack in written.model.stacks.items():
        for logical_id, body in (stack.template.get("Resources") or {}).items():
            if body.get("Type") != "AWS::Lambda::Function":
                continue
            props = body["Properties"]
            row = refs[f"{name}/{logical_id}"]
            assert row[3] == props["Runtime"]
            asset_hash = props["Code"]["S3Key"].split(".")[0]
            assert row[4] == f"sha256:{_asset_digest(written, name, asset_hash)}; CDK asset {asset_hash}", row
            source = (body.get("Metadata") or {}).get(SBOM_SOURCE_METADATA)
            if source is None:
                assert row[5] == "missing", row
                continue
            sbom_label = supply_chain.label(ROOT / source, ROOT)
            assert sbom_label in audited, source
            assert row[5].startswith(f"sbom/{sbom_label}.cdx.json"), row
    vault_rows = [r for r in paper.rows if "CardVault/" in r[1]]
    assert bool(vault_rows) is vault
    assert all(r[5].startswith("sbom/lambda-") for r in vault_rows), vault_rows  # every vault function has one
    assert any(r[5] == "missing" for r in paper.rows)  # CDK's own providers: no SBOM source known


def _asset_digest(written: Written, stack: str, asset_hash: str) -> str:
    """CODE_DIGEST_RULE computed here on its own: the built asset the stack's asset manifest names,
    its files' SHA-256 in `sha256sum` form, sorted by path, hashed; "(built asset directory ...)"."""
    template_path = written.model.stacks[stack].template_path
    assert template_path is not None
    directory = Path(template_path).parent
    manifest = json.loads((directory / f"{stack}.assets.json").read_text(encoding="utf-8"))
    source = directory / manifest["files"][asset_hash]["source"]["path"]
    assert source.is_dir(), source
    lines = "".join(
        f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.relative_to(source).as_posix()}\n"
        for f in sorted(source.rglob("*"), key=lambda f: f.relative_to(source).as_posix().encode())
        if f.is_file()
    )
    return f"{hashlib.sha256(lines.encode()).hexdigest()} (built asset directory {source.name})"


def test_a_function_without_a_recorded_sbom_source_shows_missing(tmp_path: Path) -> None:
    """A function the bundler did not record, or whose requirements file is gone, is "missing", never an error."""
    recorded = {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "python3.14", "Handler": "h.handler"}}
    model = _model(
        {
            "Plain": recorded,
            "Gone": {**recorded, "Metadata": {SBOM_SOURCE_METADATA: "lambda/nowhere/requirements.txt"}},
            "Known": {**recorded, "Metadata": {SBOM_SOURCE_METADATA: "lambda/purge/requirements.txt"}},
        }
    )
    rows = {row[-1].split("/")[-1]: row for row in software_paper(model, ROOT).rows}
    assert rows["Plain"][5] == "missing"
    assert rows["Gone"][5] == "missing"
    assert rows["Known"][5].startswith("sbom/lambda-purge.cdx.json")


def _check_segmentation(written: Written) -> None:
    paper = written.papers["segmentation"]
    assert all(row[5] == TEST_DATE for row in paper.rows)
    for region, _regional in Topology(written.model).regions.items():
        controls = [r[1] for r in paper.rows if r[0] == region]
        assert any(c.startswith("NACL") and "(CDE subnets)" in c for c in controls), region
        assert any(c.startswith("route table") for c in controls), region
        assert any(c.startswith("SG") for c in controls), region
        # Only the CDE's internet edge (the load balancer's tier) routes to the internet gateway; no CDE route
        # table goes to a NAT gateway directly (the application tier's egress passes the firewall).
        for row in (r for r in paper.rows if r[0] == region and r[1].startswith("route table")):
            assert "nat-gateway" not in row[3], row
            assert ("internet-gateway" in row[3]) == row[2].endswith("(CDE edge) from the internet"), row
    assert any(r[2] == "out-of-scope environments" for r in paper.rows)
    # QSA reader r20b, finding 6: the internet is an untrusted network, never "out of scope"; each region's paper
    # names it with what the templates admit from it; groups with nothing attached are listed, not skipped; the
    # paper says what a test of the deployed network must still do.
    assert not any("(out of scope)" in cell for row in paper.rows for cell in row)
    for region, regional in Topology(written.model).regions.items():
        (internet,) = [r for r in paper.rows if r[0] == region and r[1].startswith("internet (untrusted network")]
        assert internet[2].endswith("from an untrusted network"), internet
        unattached = [g for g in regional.security_groups if not regional.members.get(g.key)]
        listed = [r for r in paper.rows if r[0] == region and r[1].endswith("(attached to nothing in these templates)")]
        assert len(listed) == len(unattached), (region, listed)
    (deployed,) = [r for r in paper.rows if r[1] == "the deployed network (every row above)"]
    assert "every TCP and UDP port" in deployed[4]
    assert "organizationally independent" in deployed[4]
    assert "not a test" in paper.intro
    # The CDE's edges where they are: each CDE tier with the internet and with every tier outside the boundary,
    # never between two CDE tiers (public to application is inside the CDE).
    scope = ScopeModel(written.model)
    for region, regional in Topology(written.model).regions.items():
        boundaries = [r for r in paper.rows if r[0] == region and r[1].startswith("boundary ")]
        inside = cde_tiers(regional, scope)
        assert any(regional.is_cde_tier(t) for t in inside), inside
        outside = [t for t in regional.tiers if t not in inside]
        assert len(boundaries) == len(inside) * (1 + len(outside)), (region, inside, outside)
        for tier in inside:
            mine = [r for r in boundaries if r[1].startswith(f"boundary {tier} tier (CDE) / ")]
            assert all(r[2].startswith("NACL ") for r in mine), mine
            assert not any(f"/ {other} tier" in r[1] for r in mine for other in inside), mine
            internet = next(r for r in mine if r[1].endswith("/ internet (untrusted network)"))
            if regional.is_cde_tier(tier):  # the tagged data tier: nothing from the internet
                assert "default deny" in internet[2], internet
                assert internet[3] == "no security-group rule crosses it", internet
        # Where a public tier hosts the load balancer, its internet edge is the one the security groups open.
        if "Public" in inside:
            edge = next(r for r in boundaries if r[1] == "boundary Public tier (CDE) / internet (untrusted network)")
            assert "tcp 443 from 0.0.0.0/0" in edge[3], edge


def test_default_app_work_papers(default: Written) -> None:
    _check_papers(default)
    _check_inventory(default)
    _check_keys(default, vault=True)
    _check_data_stores(default, vault=True)
    _check_tls(default, proxy=True)
    _check_logging(default)
    _check_software(default, vault=True)
    _check_segmentation(default)
    responsibility = default.papers["responsibility"]
    assert all("edition and date unverified" in row[1] for row in responsibility.rows[:12])
    assert "unverified: set evidence.aws_aoc_edition" in responsibility.intro


def test_env_file_work_papers_and_the_recorded_aoc(env_file: Written) -> None:
    _check_papers(env_file)
    _check_inventory(env_file)
    _check_keys(env_file, vault=False)
    _check_data_stores(env_file, vault=False)
    _check_tls(env_file, proxy=False)
    _check_logging(env_file)
    _check_software(env_file, vault=False)
    _check_segmentation(env_file)
    responsibility = env_file.papers["responsibility"]
    cited = "AWS PCI DSS Attestation of Compliance, AWS PCI DSS AOC 2026, dated 2026-10-15"
    assert cited in responsibility.intro
    assert all(cited in row[1] for row in responsibility.rows[:12])
    assert "9" in responsibility.rows[8][0]
    assert "physical" in responsibility.rows[8][1]
    assert cited in env_file.report()


def test_delivery_synth_writes_the_papers_per_environment(delivered: Delivered, tmp_path: Path) -> None:
    assembly = tmp_path / "cdk.out"
    shutil.copytree(delivered.outdir, assembly, ignore=shutil.ignore_patterns(EVIDENCE_DIR))
    model = TemplateModel.from_assembly(assembly)
    write_compliance_evidence(
        assembly, model=model, results=evaluate(model, RULES), gate=delivered.gate, report=delivered.report
    )
    top = assembly / EVIDENCE_DIR
    for environment in ("preprod", "prod"):
        directory = top / environment / WORKPAPER_DIR
        assert sorted(p.stem for p in directory.glob("*.csv")) == sorted(PAPERS), environment
        with (directory / "data-stores.csv").open(encoding="utf-8", newline="") as handle:
            stacks = {row["Stack"] for row in csv.DictReader(handle)}
        assert stacks
        for stack in stacks:  # each environment's papers hold its own stacks only
            assert re.search(rf"PciLz-?{environment}-?[A-Z]", stack), (environment, stack)
        # The stage's inventory: every resource of the stage's templates, no other.
        with (directory / "inventory.csv").open(encoding="utf-8", newline="") as handle:
            listed = sorted((row["Stack"], row["Logical ID"]) for row in csv.DictReader(handle))
        stage = [s for s in model.stacks.values() if s.assembly == f"assembly-{environment}"]
        assert stage
        assert listed == sorted((s.name, logical_id) for s in stage for logical_id in s.template.get("Resources") or {})
    # The delivery-wide set: the tooling account is outside the CDE's accounts, and security-impacting: it deploys
    # the CDE's stacks (QSA reader r20d MEDIUM), never an out-of-scope environment.
    from evidence.workpapers import OTHER_ENVIRONMENT, TOOLING_CATEGORY, TOOLING_EXPECTED

    tooling = delivered.config.tooling.account
    with (top / WORKPAPER_DIR / "segmentation.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert not [r for r in rows if r["Separates"] == "out-of-scope environment"]
    named = [r for r in rows if tooling in r["Control to test"]]
    assert len(named) == 1
    assert (named[0]["Separates"], named[0]["Test"]) == (TOOLING_CATEGORY, TOOLING_EXPECTED)
    # Each environment's set names the other environments of the configuration as out-of-scope environments,
    # with the checks from each towards its CDE (QSA reader r20b, finding 6), and the tooling as security-impacting.
    for environment, other in (("preprod", "prod"), ("prod", "preprod")):
        with (top / environment / WORKPAPER_DIR / "segmentation.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        separated = {
            r["Control to test"].split(" (account", 1)[0]: r
            for r in rows
            if r["Separates"] in (OTHER_ENVIRONMENT, TOOLING_CATEGORY)
        }
        assert set(separated) == {f"environment {other}", "environment delivery (tooling)"}, separated
        own = separated["environment delivery (tooling)"]
        assert tooling in own["Control to test"]
        assert (own["Separates"], own["Test"]) == (TOOLING_CATEGORY, TOOLING_EXPECTED)
        assert separated[f"environment {other}"]["Separates"] == OTHER_ENVIRONMENT
        assert (
            separated[f"environment {other}"]["Test"] == "no connection from this environment reaches the CDE (11.4.5)"
        )


# -- small models: the flags fire --------------------------------------------------------------------
def _model(resources: dict[str, Any]) -> TemplateModel:
    return TemplateModel([StackTemplate("S", {"Resources": resources}, account="111111111111", region="eu-west-1")])


def test_a_route_with_no_stated_need_is_flagged() -> None:
    """QSA reader r20b: the rule review flagged rules and NACL entries without a justification, not routes."""
    from evidence.workpapers import MISSING_JUSTIFICATION, rule_review

    vpc = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}
    table = {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}}
    gateway = {"Type": "AWS::EC2::InternetGateway", "Properties": {}}
    route = {
        "Type": "AWS::EC2::Route",
        "Properties": {
            "RouteTableId": {"Ref": "Table"},
            "DestinationCidrBlock": "0.0.0.0/0",
            "GatewayId": {"Ref": "Igw"},
        },
    }
    needed = {**route, "Metadata": {"pci-lz:need": "the public tier's internet edge"}}
    model = _model({"Vpc": vpc, "Table": table, "Igw": gateway, "Bare": route, "Stated": needed})
    rows = {row[7].split("/")[-1]: row for row in rule_review(Topology(model)) if row[2] == "route"}
    assert MISSING_JUSTIFICATION in rows["Bare"][6]
    assert rows["Bare"][5] == "-"
    assert MISSING_JUSTIFICATION not in rows["Stated"][6]
    assert rows["Stated"][5] == "the public tier's internet edge"


def test_short_retention_and_an_early_glacier_transition_are_flagged() -> None:
    model = _model(
        {
            "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}},
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "LifecycleConfiguration": {
                        "Rules": [
                            {
                                "Status": "Enabled",
                                "Transitions": [{"StorageClass": "GLACIER", "TransitionInDays": 30}],
                                "ExpirationInDays": 200,
                            }
                        ]
                    }
                },
            },
            "Trail": {
                "Type": "AWS::CloudTrail::Trail",
                "Properties": {
                    "S3BucketName": {"Ref": "Bucket"},
                    "CloudWatchLogsLogGroupArn": {"Fn::GetAtt": ["Group", "Arn"]},
                },
            },
        }
    )
    rows = {r[2].split(" (")[0]: r for r in logging_paper(model).rows}
    assert rows["LogGroup Group"][5] == f"30 days (below {RETAINED_DAYS} days: flag)"
    assert rows["LogGroup Group"][6] == f"30 days (below {IMMEDIATE_DAYS} days: flag)"
    assert rows["Bucket Bucket"][5] == f"200 days (below {RETAINED_DAYS} days: flag)"
    assert rows["Bucket Bucket"][6] == f"30 days (below {IMMEDIATE_DAYS} days: flag)"


def test_the_aoc_is_cited_only_when_both_edition_and_date_are_set() -> None:
    model = _model({})
    only_edition = responsibility_paper(model, aoc_edition="AWS PCI DSS AOC 2026", aoc_date=None)
    assert "unverified" in only_edition.intro
    config = EvidenceConfig(aws_aoc_edition="AWS PCI DSS AOC 2026", aws_aoc_date=date(2026, 10, 15))
    att = attestation_of(config)
    both = responsibility_paper(model, aoc_edition=att.aws_aoc_edition, aoc_date=att.aws_aoc_date)
    assert "dated 2026-10-15" in both.intro
    assert "not reproduced" in both.intro


def test_a_resource_the_papers_do_not_know_never_breaks_them() -> None:
    model = _model({"X": {"Type": "AWS::DynamoDB::Table", "Properties": {}}})
    papers = {p.slug: p for p in all_workpapers(model, Topology(model))}
    assert [r[1] for r in papers["data-stores"].rows] == ["Table X"]


# -- issue 20 (s20a): the environment file that adopts, its provenance and its flows -----------------
def test_the_env_file_adoptions_show_the_adopters_governance_pending_where_missing(env_file: Written) -> None:
    """envs/nonprod-low-cost.yaml adopts a registry entry (fully governed) and a construct justification
    (approval pending): the register shows the adopter's risk owner, approver, approval date and ticket."""
    from evidence.report import not_adopted_construct

    register = env_file.report().split("### Exception register (acknowledgments)", 1)[1].split("\n## ", 1)[0]
    rows = register.splitlines()
    registry = [r for r in rows if r.startswith("| `data-accesslogs-s1` |")]
    assert registry
    for row in registry:
        assert "| nonprod-platform-owner | nonprod-risk-office | 2026-11-25 | RISK-2041 | 2027-06-30 |" in row
        assert "adopted by nonprod (risk owner nonprod-platform-owner) from the project's registry entry" in row
        assert "(owner platform-security (landing-zone maintainers))" in row
    construct = [r for r in rows if r.startswith("| `construct-segmentedvpc-awssolutions-vpc3` |")]
    assert construct
    for row in construct:
        assert "| nonprod-network-owner | pending | pending | pending | 2027-06-30 |" in row
        assert "from the project's construct SegmentedVpc justification" in row
        assert not_adopted_construct("SegmentedVpc") not in row
    # What this environment does not adopt stays the project's.
    assert any(r.endswith(f"| {not_adopted_construct('PermissionsBoundary')} |") for r in rows)


def test_the_env_file_evidence_has_its_manifest_combined_digest_and_hop_columns(env_file: Written) -> None:
    import hashlib

    from evidence.report import MANIFEST_NAME, combined_digest

    digests = [
        hashlib.sha256(Path(s.template_path).read_bytes()).hexdigest()
        for s in env_file.model.stacks.values()
        if s.template_path
    ]
    combined = combined_digest(digests)
    assert f"combined SHA-256 `{combined}`" in env_file.report()
    for dot in (env_file.directory / "diagrams").glob("*.dot"):
        assert f"combined SHA-256 {combined}" in dot.read_text(encoding="utf-8"), dot.name
    manifest = (env_file.directory / MANIFEST_NAME).read_text(encoding="utf-8")
    names = [line.split("  ", 1)[1] for line in manifest.splitlines()]
    assert f"{REPORT_NAME}.md" in names
    assert MANIFEST_NAME not in names
    # No proxy in this profile: the functions-free environment still states every hop's encryption.
    assert "| Hop | From | To | What | Protocol and port | In-transit encryption | Card-data elements |" in (
        env_file.report()
    )


def test_directory_digest_lists_what_find_type_f_lists(tmp_path: Path) -> None:
    """CODE_DIGEST_RULE on a tree with nested folders and a link to a folder, which `find` (no -L) does not
    descend: every regular file once, sorted by path bytes, in `sha256sum` form."""
    from evidence.workpapers import directory_digest

    root = tmp_path / "asset"
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "a.py").write_bytes(b"a")
    (root / "pkg" / "b.py").write_bytes(b"b")
    (root / "pkg" / "sub" / "c.txt").write_bytes(b"c" * 70_000)
    (root / "linked").symlink_to(root / "pkg", target_is_directory=True)
    listed = [("a.py", b"a"), ("pkg/b.py", b"b"), ("pkg/sub/c.txt", b"c" * 70_000)]
    expected = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in listed)
    assert directory_digest(root) == hashlib.sha256(expected.encode()).hexdigest()


def test_the_qsa_r20c_low_findings_keys_inventory_stores_and_sboms(default: Written) -> None:
    """QSA reader r20c LOW: the keys paper said the keyed-hash key protects "none in the templates" while the store
    table cites it for `pan_hmac`; the vault functions' invoke permissions (the load balancer's, the detokenize
    callers') had the basis "monitoring, alerting"; the store table said the vault masks card numbers in flow-log
    and database log groups it never writes; the SBOM cells pointed outside the set as if in it, and credited the
    Keys function with detokenize's SBOM."""
    from evidence.diagrams import data_flow_diagram
    from evidence.scope import ScopeModel

    model = default.model
    scope = ScopeModel(model)
    keyed = {(display_name(key), key.stack) for key in scope.keyed_hash_keys.values()}
    keys_rows = [r for r in default.papers["keys"].rows if (r[0], r[1]) in keyed]
    assert keyed
    assert len(keys_rows) == len(keyed)
    for row in keys_rows:
        assert "vault.cards pan_hmac" in row[8], row
    permissions = [r for r in default.papers["inventory"].rows if r[0] == "AWS::Lambda::Permission"]
    vault_paths = [r for r in permissions if "/CardVault/" in r[2]]
    assert vault_paths
    for row in vault_paths:
        assert "monitoring, alerting" not in row[7], row
        assert "a path card data takes" in row[7], row
    for topo in Topology(model).regions.values():
        for store in data_flow_diagram(model, topo, scope).stores:
            if store[0].startswith("log group") and "the vault masks" in store[1]:
                raise AssertionError(store)
            if "FlowLogs" in store[0] or "postgresql" in store[0]:
                assert store[1].startswith("log events: no PAN"), store
    software = {r[1]: r[5] for r in default.papers["software"].rows}
    keys_sbom = software["Lambda CardVault/Keys"]
    assert "not in this set" in keys_sbom
    assert "the dependencies of lambda/detokenize/requirements.txt, the same set bundled into CardVault/Detokenize" in (
        keys_sbom
    )
    assert all("not in this set" in cell for cell in software.values() if cell.startswith("sbom/"))


# -- QSA reader r20f: rule-level diff, key derivation, log groups as stores, containment, the ALB invoke -----
_RULE_ROW = st.tuples(
    st.sampled_from(["us-east-1", "us-west-2"]),
    st.sampled_from(["SG a", "SG b", "NACL c"]),
    st.sampled_from(["ingress", "egress"]),
    st.sampled_from(["tcp 443", "tcp 5432", "tcp 8443"]),
    st.sampled_from(["0.0.0.0/0", "10.0.0.0/16", "SG d"]),
    st.sampled_from(["need", "-"]),
    st.sampled_from(["-", "0.0.0.0/0"]),
    st.sampled_from(["S/A", "S/B", "S/C"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_RULE_ROW, max_size=12), st.lists(_RULE_ROW, max_size=12))
def test_rule_review_changes_account_for_every_rule(now: list[tuple[str, ...]], then: list[tuple[str, ...]]) -> None:
    """Every rule of either side is unchanged, added, removed or one side of a change; a set against itself
    has no change; swapping the sides swaps added and removed."""
    changes = rule_review_changes(now, then)
    assert rule_review_changes(now, now) == []
    kinds = [c[0] for c in changes]
    added, removed, changed = kinds.count("added"), kinds.count("removed"), kinds.count("changed")
    unchanged = len(now) - added - changed
    assert unchanged == len(then) - removed - changed >= 0
    swapped = [c[0] for c in rule_review_changes(then, now)]
    assert swapped.count("added") == removed
    assert swapped.count("removed") == added


def test_rule_review_changes_paper_states_each_case(tmp_path: Path) -> None:
    """No review: "none recorded"; a review without a recorded rule set or an unreadable one: "not evidenced";
    a recorded one: the rules added, removed and changed, with the file's SHA-256."""
    row = ("us-east-1", "SG a", "ingress", "tcp 443", "0.0.0.0/0", "need", "0.0.0.0/0", "S/A")
    none = rule_review_changes_paper([row], reviewed_commit=None, reviewed_file=None, reviewed_name=None)
    assert "none recorded" in none.intro
    assert none.rows[0][0] == "none recorded"
    unset = rule_review_changes_paper([row], reviewed_commit="a" * 40, reviewed_file=None, reviewed_name=None)
    assert "not evidenced" in unset.intro
    bad = tmp_path / "bad.json"
    bad.write_text('{"columns": ["x"], "rows": []}', encoding="utf-8")
    unreadable = rule_review_changes_paper([row], reviewed_commit="a" * 40, reviewed_file=bad, reviewed_name="bad.json")
    assert "could not be read" in unreadable.intro
    assert unreadable.rows[0][0] == "not evidenced"
    reviewed = tmp_path / "rule-review.json"
    header = ["Region", "Control", "Direction", "Traffic", "Peer / target", "Stated need", "Flags", "Template"]
    old = dict(zip(header, (*row[:3], "tcp 80", *row[4:]), strict=True))
    gone = dict(zip(header, ("us-east-1", "SG z", "egress", "tcp 22", "10.0.0.0/8", "-", "-", "S/Z"), strict=True))
    reviewed.write_text(json.dumps({"columns": header, "rows": [old, gone]}), encoding="utf-8")
    paper = rule_review_changes_paper(
        [row], reviewed_commit="a" * 40, reviewed_file=reviewed, reviewed_name="rule-review.json"
    )
    assert hashlib.sha256(reviewed.read_bytes()).hexdigest() in paper.intro
    assert "0 added, 1 removed, 1 changed" in paper.intro
    assert [r[0] for r in paper.rows] == ["changed", "removed"]
    assert "traffic: tcp 80" in paper.rows[0][5]
    assert "traffic: tcp 443" in paper.rows[0][6]


def test_evidence_config_reviewed_rule_review_needs_a_commit_and_a_repository_path() -> None:
    with pytest.raises(ValueError, match="needs last_reviewed_commit"):
        EvidenceConfig(reviewed_rule_review="reviews/rule-review.json")
    for bad in ("/etc/rule-review.json", "../rule-review.json", "reviews/rule-review.csv"):
        with pytest.raises(ValueError, match="relative path"):
            EvidenceConfig(last_review_date=date(2026, 12, 1), last_reviewed_commit="a" * 40, reviewed_rule_review=bad)


def test_keys_paper_is_derived_from_key_policies_and_encryption_properties(default: Written) -> None:
    """Rotation states the key's RotationPeriodInDays; a principal an unconditional Deny names is shown with
    what it is denied; the account root's kms:* reads as a grant to the account's IAM policies; a store is
    listed only through its encryption property (with what it encrypts)."""
    paper = default.papers["keys"]
    for record in paper.records():
        key = next(
            k
            for k in default.model.resources("AWS::KMS::Key")
            if display_name(k) == record["Key"] and k.stack == record["Stack"]
        )
        days = key.prop("RotationPeriodInDays")
        if key.prop("EnableKeyRotation") is True and key.prop("KeySpec") in (None, "SYMMETRIC_DEFAULT"):
            assert record["Rotation"] == f"automatic, every {days} days (RotationPeriodInDays)"
        for statement in key.prop("KeyPolicy", "Statement"):
            if statement.get("Effect") == "Deny" and statement.get("Sid"):
                assert f"{statement['Sid']}: denies" in record["Deny of use to other principals (key policy)"]
        if "pci-lz-key-administrator" in record["Administrators (key policy)"]:
            assert "(denied " in record["Administrators (key policy)"]
            assert "pci-lz-key-administrator" not in record["Users (key policy)"]
        assert "(kms:* to the account" in record["Users (key policy)"]
    cardholder = next(r for r in paper.records() if r["Key"] == "Keys/CardholderDataKey")
    assert "(storage, automated backups and snapshots; Performance Insights data)" in cardholder["Stores it protects"]
    environment = next(r for r in paper.records() if r["Key"] == "CardVault/EnvironmentKey")
    assert "Function CardVault/Api (environment variables at rest)" in environment["Stores it protects"]


def test_keys_paper_users_follow_the_key_policy_denies(default: Written) -> None:
    """Issue 20: the cardholder-data key's account-root grant reads as limited to what its Deny exempts, the vault's
    roles (under the exempt path) are not refused, a grant on `*` narrowed by kms:ViaService (the security
    auditor's, to the logs alias through S3) is listed under each logs key, and every conditional Deny names its
    exemptions. No identity user of a key is left unmarked while a Deny refuses its direct use."""
    from evidence.iam_eval import Request, denied_by, render
    from evidence.workpapers import _known

    records = default.papers["keys"].records()
    users, by_policy, deny = (
        "Users (key policy)",
        "Users (identity policies and grants)",
        "Deny of use to other principals (key policy)",
    )
    cardholder = [r for r in records if r["Key"] == "Keys/CardholderDataKey"]
    logs = [r for r in records if r["Key"] == "Keys/LogsKey"]
    block = [r for r in records if r["Key"] == "Keys/BlockStorageKey"]
    assert len(cardholder) == len(logs) == len(block) >= 2
    for record in cardholder:
        assert "limited by OnlyTheCardVaultAndRdsUseTheKey leaves only: roles under the IAM path" in record[users]
        assert "/pci-lz-default-card-vault/" in record[deny]
        for grant in record[by_policy].split("; "):
            assert grant.startswith("Role CardVault/"), grant
            assert "refuse" not in grant, grant
    for record in logs:
        assert (
            "Role SecurityAuditor/Role: Decrypt through s3.*.amazonaws.com only (kms:ViaService)" in record[by_policy]
        )
    for record in block:
        assert "DenyUseOutsideEc2: denies" in record[deny]
        (ec2_deny,) = [d for d in record[deny].split("\n") if d.startswith("DenyUseOutsideEc2")] or [record[deny]]
        assert ":role/aws:ec2-infrastructure" in ec2_deny, ec2_deny  # EC2's own volume principal (key_ring)
        assert "AWS service principals (aws:PrincipalIsAWSService); requests through ec2." in ec2_deny, ec2_deny
    # Cross-check one verdict with the evaluator directly: a role outside the vault path is refused a direct call.
    key = next(k for k in default.model.resources("AWS::KMS::Key") if k.logical_id.startswith("KeysCardholderDataKey"))
    statements = [render(s, _known(default.model, key.stack)) for s in key.prop("KeyPolicy", "Statement")]
    outsider = {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/Other", "aws:PrincipalIsAWSService": "false"}
    assert "OnlyTheCardVaultAndRdsUseTheKey" in denied_by(statements, Request("kms:Decrypt", context=outsider))


def test_data_stores_list_every_log_group(default: Written) -> None:
    """Every log group of the templates is a data-store row with its retention, key and data protection policy;
    a WAF log group's row carries the card-data statement the scope makes for it."""
    rows = {r[8]: r for r in default.papers["data-stores"].rows}
    groups = list(default.model.resources("AWS::Logs::LogGroup"))
    assert groups
    for group in groups:
        row = rows[f"{group.stack}/{group.logical_id}"]
        days = group.prop("RetentionInDays")
        assert row[4].startswith(f"{days} days" if days else "never expires")
        assert ("data protection policy audits" in row[6]) == (
            "CreditCardNumber" in json.dumps(group.prop("DataProtectionPolicy"))
        )
    waf = [r for r in rows.values() if "AWS WAF web ACL log" in r[3]]
    assert waf
    assert all("WAF logging configuration" in r[5] for r in waf)


def test_segmentation_statement_follows_from_the_model(default: Written) -> None:
    """The containment statement names each region's CDE tiers and counts exactly the control rows below it."""
    paper = default.papers["segmentation"]
    scope = ScopeModel(default.model)
    topology = Topology(default.model)
    for region, regional in topology.regions.items():
        tiers = [
            t
            for t in regional.tiers
            if regional.is_cde_tier(t) or any(s.resource.key in scope.hosted for s in regional.tier_subnets(t))
        ]
        nacls = sum(1 for r in paper.rows if r[0] == region and r[1].startswith("NACL "))
        assert f"In {region} the CDE is the {', '.join(tiers)} tiers" in paper.intro
        assert f"{nacls} NACL" in paper.intro
    assert "the internet (an untrusted network) (2 rows)" in paper.intro
    firewalls = [r for r in paper.rows if r[1].startswith("Network Firewall ")]
    assert firewalls
    assert all("policy " in r[3] and "(application tier)" not in r[2] for r in firewalls)


# -- client certificate revocation in the TLS paper (issue 19, finding 9 follow-up) ----------------------------
def _mtls_model(**revocation: Any) -> TemplateModel:
    """A listener in verify mode on a `ClientTrustStore` built with `revocation` or `revocation_waiver`."""
    from aws_cdk import App, Environment, Stack
    from aws_cdk import aws_elasticloadbalancingv2 as elbv2
    from aws_cdk.assertions import Template

    from pci_constructs.client_trust_store import ClientTrustStore

    stack = Stack(App(), "Mtls", env=Environment(account="111111111111", region="eu-west-1"))
    store = ClientTrustStore(
        stack, "Clients", ca_bundle=ROOT / "config/certs/demo-client-ca.pem", name="mtls-test", **revocation
    )
    elbv2.CfnListener(
        stack,
        "Https",
        load_balancer_arn="arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/x/0123456789abcdef",
        port=443,
        protocol="HTTPS",
        ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        default_actions=[{"type": "fixed-response", "fixedResponseConfig": {"statusCode": "404"}}],
        mutual_authentication={"mode": "verify", "trustStoreArn": store.trust_store.trust_store_arn},
    )
    template = Template.from_stack(stack).to_json()
    return TemplateModel([StackTemplate("Mtls", template, account="111111111111", region="eu-west-1")])


def _trust_store_cell(model: TemplateModel) -> str:
    from evidence.workpapers import tls_paper

    (row,) = [r for r in tls_paper(model).rows if r[1].startswith("listener")]
    return row[6]


def test_the_tls_paper_names_the_crl_the_trust_store_checks() -> None:
    from pci_constructs.client_trust_store import RevocationList

    cell = _trust_store_cell(
        _mtls_model(revocation=RevocationList(bucket="example-pki-crls", key="clients/ca.crl.pem", version="v7"))
    )
    assert "mTLS mode verify" in cell
    assert "client certificate revocation: CRL s3://example-pki-crls/clients/ca.crl.pem@v7" in cell
    assert "not checked" not in cell


@settings(max_examples=8, deadline=None)
@given(
    owner=st.sampled_from(["platform-security", "Card Platform Owner", "j.doe@example.com"]),
    approved=st.one_of(st.just("pending"), st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 11, 30))),
    days=st.integers(min_value=0, max_value=300),
)
def test_the_tls_paper_states_a_waived_revocation_with_its_governance(owner: str, approved: Any, days: int) -> None:
    from datetime import timedelta

    from pci_constructs.client_trust_store import RevocationWaiver

    review_by = date.today() + timedelta(days=days)
    reason = "No client PKI yet: the demonstration CA publishes no CRL; revoked certificates live until expiry."
    waiver = RevocationWaiver(
        reason=reason,
        owner=owner,
        approver="payments-risk-committee",
        approval_date=approved,
        ticket="RISK-19",
        review_by=review_by,
    )
    cell = _trust_store_cell(_mtls_model(revocation_waiver=waiver))
    approval = approved.isoformat() if isinstance(approved, date) else approved
    assert (
        f"client certificate revocation: not checked: waived by {owner}, approved by payments-risk-committee on"
        f" {approval}, ticket RISK-19, review by {review_by.isoformat()}: {reason}"
    ) in cell


def test_the_default_app_tls_paper_states_the_shipped_waiver(default: Written) -> None:
    """The default environment has no client PKI: its listeners' trust store cell states the waiver."""
    from config.defaults import DEMO_CLIENT_CRL_WAIVER as W

    cells = [r[6] for r in default.papers["tls"].rows if r[1].startswith("listener") and "mTLS" in r[6]]
    assert cells  # one HTTPS listener with mutual TLS per region
    for cell in cells:
        assert (
            f"client certificate revocation: not checked: waived by {W['owner']}, approved by {W['approver']} on"
            f" {W['approval_date']}, ticket {W['ticket']}, review by {W['review_by']}: {W['reason']}"
        ) in cell


# -- QSA reader r20d LOW: which buckets' object-level access a trail records ----------------------------------
def test_the_data_stores_rows_say_which_buckets_the_trails_data_events_record(default: Written) -> None:
    """The trail's archive (its S3BucketName, read in the raw template JSON) is the one bucket its S3 selector
    excludes, with the reason the trail's metadata gives; every other bucket of the trail's account reads as
    recorded by it."""
    from pci_constructs.audit_trail import ARCHIVE_EXCLUSION_REASON

    archives = {
        (stack, body["Properties"]["S3BucketName"]["Ref"])
        for stack, _, body in (
            (name, lid, body)
            for name, template in default.model.stacks.items()
            for lid, body in (template.template.get("Resources") or {}).items()
        )
        if body.get("Type") == "AWS::CloudTrail::Trail"
    }
    assert archives
    buckets = [r for r in default.papers["data-stores"].rows if r[1].startswith("Bucket")]
    assert len(buckets) > len(archives)
    for row in buckets:
        stack, logical_id = row[8].split("/")
        if (stack, logical_id) in archives:
            assert "object-level access not recorded (excluded by the selector 'S3 object-level access'" in row[7]
            assert ARCHIVE_EXCLUSION_REASON in row[7]
        else:
            assert "object-level access recorded by trail " in row[7], row


def _trail_model(trail: dict[str, Any], *, trail_region: str = "us-east-1") -> TemplateModel:
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "data-bucket"}}
    other = {"Type": "AWS::S3::Bucket", "Properties": {}}
    return TemplateModel(
        [
            StackTemplate(
                "Audit",
                {"Resources": {"Trail": {"Type": "AWS::CloudTrail::Trail", "Properties": trail}}},
                "111111111111",
                trail_region,
            ),
            StackTemplate("Data", {"Resources": {"Data": bucket, "Other": other}}, "111111111111", "us-west-2"),
        ]
    )


def _coverage(trail: dict[str, Any], bucket: str = "Data", **kwargs: Any) -> str:
    from evidence.workpapers import trail_object_coverage

    model = _trail_model(trail, **kwargs)
    resource = model.resource("Data", bucket)
    assert resource is not None
    return trail_object_coverage(model, resource)


_S3_DATA = [
    {"Field": "eventCategory", "Equals": ["Data"]},
    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
]


@pytest.mark.parametrize(
    ("trail", "expected"),
    [
        # legacy event selectors: a prefix of every bucket, one bucket's prefix, another bucket's prefix
        (
            {
                "IsMultiRegionTrail": True,
                "EventSelectors": [{"DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}],
            },
            "recorded by trail Trail (event selector, All)",
        ),
        (
            {
                "IsMultiRegionTrail": True,
                "EventSelectors": [
                    {
                        "ReadWriteType": "WriteOnly",
                        "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::data-bucket/"]}],
                    }
                ],
            },
            "recorded by trail Trail (event selector, WriteOnly)",
        ),
        (
            {
                "IsMultiRegionTrail": True,
                "EventSelectors": [
                    {"DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::elsewhere/"]}]}
                ],
            },
            "not recorded: no trail's data event selector includes it",
        ),
        # advanced selectors: reads only; excluded by NotStartsWith (no reason in metadata); a deploy-time value
        (
            {
                "IsMultiRegionTrail": True,
                "AdvancedEventSelectors": [
                    {"Name": "R", "FieldSelectors": [*_S3_DATA, {"Field": "readOnly", "Equals": ["true"]}]}
                ],
            },
            "recorded by trail Trail (selector 'R', reads only)",
        ),
        (
            {
                "IsMultiRegionTrail": True,
                "AdvancedEventSelectors": [
                    {
                        "Name": "X",
                        "FieldSelectors": [
                            *_S3_DATA,
                            {"Field": "resources.ARN", "NotStartsWith": ["arn:aws:s3:::data-bucket/"]},
                        ],
                    }
                ],
            },
            "not recorded (excluded by the selector 'X' of trail Trail)",
        ),
        (
            {
                "IsMultiRegionTrail": True,
                "AdvancedEventSelectors": [
                    {
                        "Name": "U",
                        "FieldSelectors": [
                            *_S3_DATA,
                            {"Field": "resources.ARN", "StartsWith": [{"Fn::ImportValue": "unknown"}]},
                        ],
                    }
                ],
            },
            "not evidenced",
        ),
        # a single-region trail in another region records nothing of this bucket's region
        (
            {"AdvancedEventSelectors": [{"Name": "All", "FieldSelectors": _S3_DATA}]},
            "not recorded: no trail's data event selector includes it",
        ),
    ],
)
def test_trail_object_coverage_reads_each_selector_form(trail: dict[str, Any], expected: str) -> None:
    assert expected in _coverage(trail), _coverage(trail)


def test_a_selector_on_one_bucket_by_reference_excludes_the_other() -> None:
    selector = {"Field": "resources.ARN", "StartsWith": [{"Fn::Join": ["", ["arn:aws:s3:::", "data-bucket", "/"]]}]}
    trail = {
        "IsMultiRegionTrail": True,
        "AdvancedEventSelectors": [{"Name": "One", "FieldSelectors": [*_S3_DATA, selector]}],
    }
    assert "recorded by trail Trail" in _coverage(trail)
    assert "not recorded (excluded by the selector 'One'" in _coverage(trail, "Other")
    # in the trail's own region a single-region trail records it
    single = {"AdvancedEventSelectors": [{"Name": "All", "FieldSelectors": _S3_DATA}]}
    assert "recorded by trail Trail" in _coverage(single, trail_region="us-west-2")


@settings(max_examples=100, deadline=None)
@given(st.sets(st.sampled_from(["data-bucket", "data-bucket-2", "elsewhere", "data"]), max_size=4), st.booleans())
def test_a_prefix_selector_records_exactly_the_buckets_it_names(names: set[str], negated: bool) -> None:
    """StartsWith names the buckets recorded, NotStartsWith the buckets excluded; a prefix ends with `/`, so
    `data-bucket` never stands for `data-bucket-2`."""
    operator = "NotStartsWith" if negated else "StartsWith"
    arn = {"Field": "resources.ARN", operator: [f"arn:aws:s3:::{n}/" for n in sorted(names)]}
    trail = {"IsMultiRegionTrail": True, "AdvancedEventSelectors": [{"Name": "S", "FieldSelectors": [*_S3_DATA, arn]}]}
    if not names:  # an empty value list is not a valid selector: nothing to compare
        return
    recorded = "recorded by trail Trail" in _coverage(trail)
    assert recorded is (("data-bucket" in names) is not negated)
