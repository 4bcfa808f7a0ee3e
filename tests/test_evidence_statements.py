"""Issue 20 (s20a): statements, governed exceptions, provenance digests and complete flows.

On the default app and on a delivery synth (the session synths of tests/conftest.py); the environment
file that adopts (envs/nonprod-low-cost.yaml) is checked in tests/test_evidence_workpapers.py, whose
module synthesizes it.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from compliance.gate import EVIDENCE_DIR
from compliance.registry import justification_id
from evidence.catalog import ANTI_MALWARE_TEMPLATES, TESTING_PROCEDURES
from evidence.diagrams import data_flow_diagram
from evidence.report import (
    DIAGRAM_DIR,
    MANIFEST_NAME,
    NOT_APPLICABLE,
    REPORT_NAME,
    combined_digest,
    not_adopted_construct,
    write_compliance_evidence,
)
from evidence.scope import ScopeModel
from evidence.topology import Topology
from pci_rules.model import TemplateModel
from pci_rules.rule import evaluate
from pci_rules.rules import RULES
from tests.conftest import ROOT, Delivered, Synthesized

IDS = {
    line.split("#", 1)[0].strip()
    for line in (ROOT / "evidence" / "pci_dss_v4_0_1_ids.txt").read_text(encoding="utf-8").splitlines()
    if line.split("#", 1)[0].strip()
}


@dataclass
class Written:
    model: TemplateModel
    directory: Path
    files: list[Path]

    def report(self, sub: str = "") -> str:
        return (self.directory / sub / f"{REPORT_NAME}.md").read_text(encoding="utf-8")


def _write(outdir: Path, gate: object, report: object, target: Path) -> Written:
    assembly = target / "cdk.out"
    shutil.copytree(outdir, assembly, ignore=shutil.ignore_patterns(EVIDENCE_DIR))
    model = TemplateModel.from_assembly(assembly)
    files = write_compliance_evidence(
        assembly,
        model=model,
        results=evaluate(model, RULES),
        gate=gate,  # type: ignore[arg-type]
        report=report,  # type: ignore[arg-type]
    )
    return Written(model, assembly / EVIDENCE_DIR, files)


@pytest.fixture(scope="module")
def default(synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Written:
    return _write(synthesized.outdir, synthesized.gate, synthesized.report, tmp_path_factory.mktemp("statements"))


@pytest.fixture(scope="module")
def delivery(delivered: Delivered, tmp_path_factory: pytest.TempPathFactory) -> Written:
    return _write(delivered.outdir, delivered.gate, delivered.report, tmp_path_factory.mktemp("statements-delivery"))


def _section(text: str, requirement: str) -> str:
    return text.split(f"\n### {requirement} ", 1)[1].split("\n### ", 1)[0]


# -- 1. testing-procedure identifiers -----------------------------------------------------------------
_CITED = re.compile(r"(?:supports|Testing procedure:|testing procedures?) (\d+(?:\.\d+)+(?:\.[a-z])?)")


@pytest.mark.parametrize("which", ["default", "delivery"])
def test_every_statement_line_cites_a_real_v4_0_1_testing_procedure(which: str, request: pytest.FixtureRequest) -> None:
    written: Written = request.getfixturevalue(which)
    texts = [written.report()]
    if which == "delivery":
        texts += [written.report(env) for env in ("preprod", "prod")]
    for text in texts:
        assert "(configuration examination)" not in text
        requirements = re.findall(r"^### (\d+(?:\.\d+)+) ", text, re.MULTILINE)
        assert requirements
        for requirement in requirements:
            section = _section(text, requirement)
            assert "- Testing procedure: " in section, requirement
        cited = set(_CITED.findall(text))
        assert cited
        assert sorted(cited - IDS) == []
        for line in text.splitlines():
            if line.startswith("- Synth rule") and "(examined" in line:
                assert "Why it supports it: " in line, line


def test_stored_pan_statements_name_3_5_1_c_3_5_1_1_c_d_and_3_5_1_3_not_applicable(default: Written) -> None:
    text = default.report()
    assert "supports testing procedure 3.5.1.c" in _section(text, "3.5.1")
    hashing = _section(text, "3.5.1.1")
    assert "testing procedure 3.5.1.1.c" in hashing
    assert "testing procedure 3.5.1.1.d" in hashing
    assert "`card_vault.pan.mask_pans`" in hashing
    disk = _section(text, "3.5.1.3")
    assert f"**Template evidence: {NOT_APPLICABLE}**" in disk
    assert "Not applicable: 3.5.1.3 governs disk- or partition-level encryption" in disk
    assert "3.5.1.3.a and 3.5.1.3.b" in disk


def test_key_custodian_acknowledgment_and_authentication_policies_are_stated_outside_the_templates(
    default: Written,
) -> None:
    text = default.report()
    custodians = _section(text, "3.7.8")
    assert "- Testing procedure: 3.7.8 (" in custodians
    assert "outside the templates (not evidenced)" in custodians
    assert "Customer responsibility: Have every key custodian" in custodians
    policies = _section(text, "8.3.8")
    assert "- Testing procedure: 8.3.8.a (" in policies
    assert "8.3.8.a-c" in policies


def test_1_4_4_no_longer_rests_on_cdk_deploy_time_functions(default: Written) -> None:
    section = _section(default.report(), "1.4.4")
    assert (
        "`PCI4-LAMBDA-IN-VPC` is related here, not evidence (supports it only): 1.4.4 concerns components"
    ) in section
    assert "Exception `PCI4-LAMBDA-IN-VPC`" not in section
    assert "AWS679f53fac002430cb0da5b7982bd2287" not in section
    assert "**Template evidence: findings under exception**" not in section


def test_5_2_2_says_what_the_responsibility_matrix_says(default: Written) -> None:
    section = _section(default.report(), "5.2.2")
    assert "the templates deploy none" in section
    row = next(line for line in default.report().splitlines() if line.startswith("| Requirement 5 |"))
    assert ANTI_MALWARE_TEMPLATES in row
    assert "GuardDuty threat detection is not claimed as 5.2.2" in row


def test_every_procedure_the_report_cites_is_catalogued_or_named_at_its_requirement(default: Written) -> None:
    text = default.report()
    for requirement in re.findall(r"^### (\d+(?:\.\d+)+) ", text, re.MULTILINE):
        line = next(li for li in _section(text, requirement).splitlines() if li.startswith("- Testing procedure: "))
        if requirement in TESTING_PROCEDURES:
            assert line.startswith(f"- Testing procedure: {TESTING_PROCEDURES[requirement][0]} ("), requirement
        else:  # cited only by a Config rule's metadata or the customer table: never an invented letter
            assert line == f"- Testing procedure: {requirement} (no testing procedure catalogued for template evidence)"


# -- 3. governed exceptions -------------------------------------------------------------------------------
def test_construct_justifications_are_the_projects_until_adopted_and_carry_an_adoptable_id(default: Written) -> None:
    register = default.report().split("### Exception register (acknowledgments)", 1)[1].split("\n## ", 1)[0]
    assert "| Id | Rule | Construct path |" in register
    vpc3 = [line for line in register.splitlines() if "`AwsSolutions-VPC3`" in line]
    assert vpc3
    identifier = justification_id("SegmentedVpc", "AwsSolutions-VPC3")
    assert identifier == "construct-segmentedvpc-awssolutions-vpc3"
    for line in vpc3:
        assert line.startswith(f"| `{identifier}` |"), line
        assert line.endswith(f"| {not_adopted_construct('SegmentedVpc')} |"), line
        assert "| pci_constructs maintainers | pending | pending | pending |" in line
    assert "the environment's own (construct" not in register  # the old, wrong label
    assert "the project's (registry), not adopted by this environment" in register


def test_adoption_ids_follow_the_adopt_field_pattern() -> None:
    from config.models import AcknowledgmentAdoption

    pattern = re.compile(AcknowledgmentAdoption.model_fields["entry"].metadata[0].pattern)
    for construct_type, rule in (
        ("SegmentedVpc", "PCI.DSS.321-VPCNoUnrestrictedRouteToIGW"),
        ("PermissionsBoundary", "AwsSolutions-IAM5[Resource::*]"),
        ("A" * 60, "NIST.800.53.R5-IAMPolicyNoStatementsWithFullAccess"),
    ):
        assert pattern.fullmatch(justification_id(construct_type, rule)), (construct_type, rule)


# -- 4. provenance: combined digest, manifest -------------------------------------------------------------
def _template_digests(model: TemplateModel) -> list[str]:
    return [
        hashlib.sha256(Path(stack.template_path).read_bytes()).hexdigest()
        for stack in model.stacks.values()
        if stack.template_path
    ]


@pytest.mark.parametrize("which", ["default", "delivery"])
def test_combined_template_digest_is_on_every_diagram_and_in_the_report(
    which: str, request: pytest.FixtureRequest
) -> None:
    written: Written = request.getfixturevalue(which)
    expected = combined_digest(_template_digests(written.model))
    # The documented recomputation: sha256sum of the templates, digests sorted, one a line.
    lines = "".join(f"{d}\n" for d in sorted(_template_digests(written.model)))
    assert expected == hashlib.sha256(lines.encode()).hexdigest()
    assert f"combined SHA-256 `{expected}`" in written.report()
    top_level = {f for f in written.files if f.parent == written.directory / DIAGRAM_DIR}
    for path in (f for f in top_level if f.suffix in (".dot", ".mmd")):
        assert f"combined SHA-256 {expected}" in path.read_text(encoding="utf-8"), path.name
    if which == "delivery":
        for environment in ("preprod", "prod"):
            stage = TemplateModel(s for s in written.model.stacks.values() if s.assembly == f"assembly-{environment}")
            own = combined_digest(_template_digests(stage))
            assert f"combined SHA-256 `{own}`" in written.report(environment)
            for dot in (written.directory / environment / DIAGRAM_DIR).glob("*.dot"):
                assert f"combined SHA-256 {own}" in dot.read_text(encoding="utf-8"), dot.name


@pytest.mark.parametrize("which", ["default", "delivery"])
def test_the_manifest_lists_every_evidence_file_with_its_sha256_but_itself(
    which: str, request: pytest.FixtureRequest
) -> None:
    written: Written = request.getfixturevalue(which)
    manifest = written.directory / MANIFEST_NAME
    assert manifest in written.files
    listed = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    on_disk = {
        p.relative_to(written.directory).as_posix(): p
        for p in written.directory.rglob("*")
        if p.is_file() and p != manifest
    }
    assert set(listed) == set(on_disk)
    assert MANIFEST_NAME not in listed
    for name, path in on_disk.items():
        assert listed[name] == hashlib.sha256(path.read_bytes()).hexdigest(), name
    assert list(listed) == sorted(listed)
    if which == "delivery":
        assert any(name.startswith("prod/") for name in listed)


# -- 5. complete flows ------------------------------------------------------------------------------------
def _hop_rows(text: str, region: str) -> list[list[str]]:
    part = text.split(f"cardholder-data-flow diagram: {region}", 1)[1].split("\n### ", 1)[0]
    header = (
        "| Hop | From | To | What | Protocol and port | In-transit encryption | Card-data elements | Template rules |"
    )
    assert header in part
    return [
        [c.strip() for c in line.strip("|").split(" | ")] for line in part.splitlines() if re.match(r"^\| \d+ \|", line)
    ]


def test_every_hop_states_protocol_encryption_and_card_data(default: Written) -> None:
    text = default.report()
    for region in Topology(default.model).regions:
        rows = _hop_rows(text, region)
        assert rows
        for row in rows:
            assert row[4] != "-", row  # protocol and port
            assert row[5] != "-", row  # in-transit encryption
            assert row[6] != "-", row  # card-data elements


def test_generate_mac_is_a_pan_hop_and_kms_is_in_the_flow(default: Written) -> None:
    model = default.model
    scope = ScopeModel(model)
    for region, topo in Topology(model).regions.items():
        diagram = data_flow_diagram(model, topo, scope)
        macs = [e for e in diagram.edges if e.detail.startswith("kms:GenerateMac")]
        assert macs, region
        for hop in macs:
            assert hop.kind == "data"
            assert hop.data.startswith("cleartext PAN"), hop.data
            assert hop.tls.startswith("TLS"), hop.tls
            assert diagram.nodes[hop.target].kind == "cde", diagram.nodes[hop.target].label
        data_keys = [e for e in diagram.edges if e.detail.startswith("kms:GenerateDataKey")]
        assert all(e.data.startswith("no PAN") for e in data_keys)


def test_the_missing_hops_are_drawn_logs_xray_performance_insights_and_the_proxy_login(default: Written) -> None:
    model = default.model
    for region, topo in Topology(model).regions.items():
        diagram = data_flow_diagram(model, topo, ScopeModel(model))
        by_what = {e.detail.split("\n", 1)[0]: e for e in diagram.edges}
        logs = [e for e in diagram.edges if e.detail.startswith("function logs")]
        assert logs, region
        assert all("no PAN: masked at source" in e.data and "mask_pans" in e.data for e in logs)
        traces = [e for e in diagram.edges if e.detail.startswith("trace segments")]
        assert traces, region
        assert all("no PAN" in e.data and "UDP 2000" in e.detail for e in traces)
        insights = by_what["Performance Insights samples"]
        assert "never cleartext PAN" in insights.data
        assert any(
            e.target == insights.target and e.detail.startswith("encrypts Performance Insights") for e in diagram.edges
        )
        assert any(store[0].startswith("Performance Insights of ") for store in diagram.stores)
        # The proxy logs in to the database by end-to-end IAM (DefaultAuthScheme IAM_AUTH): no secret to read.
        proxies = [m.resource for ms in topo.members.values() for m in ms if m.resource.type == "AWS::RDS::DBProxy"]
        assert proxies, region
        for proxy in proxies:
            assert proxy.prop("DefaultAuthScheme") == "IAM_AUTH"
            hop = next(
                e
                for e in diagram.edges
                if diagram.nodes[e.source].resource == proxy.key and e.detail.startswith("PostgreSQL")
            )
            assert "end-to-end IAM authentication (no Secrets Manager secret)" in hop.detail


def test_a_proxy_with_a_secret_reads_it_and_its_key(default: Written) -> None:
    """The generic path: a proxy whose Auth names a Secrets Manager secret gets the GetSecretValue hop and the
    secret's KMS key hop (the default app's proxy uses end-to-end IAM instead)."""
    import copy

    from pci_rules.model import StackTemplate

    templates = {name: copy.deepcopy(stack.template) for name, stack in default.model.stacks.items()}
    data = next(n for n in templates if "-Data-" in n)
    resources = templates[data]["Resources"]
    proxy = next(k for k, v in resources.items() if v["Type"] == "AWS::RDS::DBProxy")
    secret = next(k for k, v in resources.items() if v["Type"] == "AWS::SecretsManager::Secret")
    resources[proxy]["Properties"].pop("DefaultAuthScheme", None)
    resources[proxy]["Properties"]["Auth"] = [{"AuthScheme": "SECRETS", "SecretArn": {"Ref": secret}}]
    model = TemplateModel(
        StackTemplate(
            name,
            templates[name],
            account=stack.account,
            region=stack.region,
            template_path=None,
            assembly=stack.assembly,
        )
        for name, stack in default.model.stacks.items()
    )
    region = default.model.stacks[data].region
    assert region is not None
    diagram = data_flow_diagram(model, Topology(model).regions[region], ScopeModel(model))
    reads = [e for e in diagram.edges if e.detail.startswith("secretsmanager:GetSecretValue (the proxy's role)")]
    assert len(reads) == 1
    assert any(e.detail.startswith("kms:Decrypt through Secrets Manager") for e in diagram.edges)
    login = next(e for e in diagram.edges if "proxy to database with the credentials of" in e.detail)
    # What the functions behind the proxy state they store (pci-lz:card-data), never cleartext PAN.
    assert login.data.startswith("stores PAN as AES-256-GCM ciphertext")
    assert "cardholder name as AES-256-GCM ciphertext" in login.data


def test_config_rule_lines_carry_their_reviewed_reasons_and_no_excluded_pair_is_mapped(default: Written) -> None:
    """Issue 20: every Config rule the report cites under a requirement carries its reviewed reason
    (evidence/mapping_reasons.py CONFIG_RULE_REASONS); the pack maps no pair the review excluded."""
    text = default.report()
    lines = text.splitlines()
    cited = 0
    for index, line in enumerate(lines):
        if line.startswith("- Watched after deploy by Config rules:"):
            names = re.findall(r"`([^`]+)`", line)
            reasons = lines[index + 1 : index + 1 + len(names)]
            for name, reason in zip(names, reasons, strict=True):
                assert reason.startswith(f"  - `{name}`: "), reason
                assert "no reviewed reason" not in reason
                cited += 1
    assert cited >= 50
    # The project's pack maps only reviewed pairs (tests/test_evidence_catalog.py), so no section names an
    # excluded one; a fork's pack that maps one again is named, not cited (tests/test_evidence.py).
    assert "is mapped here by the conformance pack but not cited" not in text
    assert "pci-dss-v4-netfw-logging-enabled" not in _section(text, "1.3.2")
    assert "pci-dss-v4-securityhub-enabled" not in _section(text, "11.5.1")


def test_3_5_1_and_3_5_1_1_are_examined_by_the_card_data_rule(default: Written) -> None:
    """Issue 20: the vault's field-level encryption and keyed hash are examined by a synth rule, cited under
    3.5.1 and 3.5.1.1; the line gives the number of functions examined. 3.5.1.1 reads "examined, no findings";
    3.5.1 reads "not evidenced" while a store may hold PAN no 3.5.1 mechanism reaches (QSA reader r20e HIGH 1:
    the load balancers' access-log buckets, tests/test_evidence.py)."""
    text = default.report()
    # 3.5.1: the API, detokenize and key-maintenance functions of each region; 3.5.1.1 (r20 MEDIUM 2): only
    # the functions with the keyed hash (API and key maintenance), detokenize has none.
    examined = {"3.5.1": 6, "3.5.1.1": 4}
    for requirement, procedure in (("3.5.1", "3.5.1.a"), ("3.5.1.1", "3.5.1.1.a")):
        section = _section(text, requirement)
        expected = "not evidenced" if requirement == "3.5.1" else "examined, no findings"
        assert f"**Template evidence: {expected}**" in section, requirement
        found = re.search(
            r"Synth rule `PCI4-CARD-DATA-FIELD-ENCRYPTION` \(examined (\d+): (\d+) passed, 0 failed\)", section
        )
        assert found, requirement
        # The API, detokenize and key-maintenance functions of each region's vault (purge and migration
        # state their card data but render none unreadable).
        assert int(found[1]) == int(found[2]) == examined[requirement]  # two regions (README "Evidence ...")
        assert f"supports testing procedure {procedure}" in section or procedure in section
    assert "3.5.1.c" in _section(text, "3.5.1")
    assert "Detokenize" not in _section(text, "3.5.1.1").split("- From the templates:", 1)[0]
    # r20 HIGH 1: the statement that no other identity may MAC rests on each key policy's deny.
    hash_keys = re.findall(
        r"The keyed-hash key `([^`]+)`'s policy denies kms:GenerateMac and kms:VerifyMac to every"
        r" principal but `([^`]+)`, `([^`]+)`",
        _section(text, "3.5.1.1"),
    )
    assert len(hash_keys) == 2  # one key per region
    for key, *roles in hash_keys:
        assert "HmacKeyV1" in key
        assert sorted(r.split("/")[-2] for r in roles) == ["ApiRole", "KeysRole"]


def test_hop_card_data_comes_from_the_templates_and_is_not_stated_without_it(default: Written) -> None:
    """Issue 20: the hop table's card-data elements are the functions' `pci-lz:card-data` metadata; with the
    metadata removed from the templates the same hops say "not stated in the templates"."""
    from evidence.flows import CARD_DATA_METADATA, NOT_STATED
    from pci_rules.model import StackTemplate

    model = default.model
    topo = next(iter(Topology(model).regions.values()))
    diagram = data_flow_diagram(model, topo, ScopeModel(model))
    card = [e for e in diagram.edges if e.kind == "data"]
    request = [e for e in card if e.detail.startswith("PAN in the request body")]
    assert request
    assert all(e.data.startswith("PAN, expiry date, cardholder name in the request") for e in request)
    detokenize = [e for e in card if e.detail.startswith("lambda:InvokeFunction")]
    assert detokenize
    assert all(e.data == "token in the request; token, PAN in the response" for e in detokenize)
    stores = [e for e in card if e.detail.startswith("PostgreSQL")]
    assert stores
    assert any("stores PAN as AES-256-GCM ciphertext" in e.data for e in stores)
    assert all(NOT_STATED not in e.data for e in card)

    def stripped(template: Any) -> Any:
        resources = {
            logical_id: {k: v for k, v in body.items() if k != "Metadata"}
            | {"Metadata": {m: x for m, x in (body.get("Metadata") or {}).items() if m != CARD_DATA_METADATA}}
            for logical_id, body in (template.get("Resources") or {}).items()
        }
        return {**template, "Resources": resources}

    bare = TemplateModel(
        [
            StackTemplate(s.name, stripped(s.template), account=s.account, region=s.region, assembly=s.assembly)
            for s in model.stacks.values()
        ]
    )
    bare_topo = Topology(bare).regions[topo.region]
    bare_edges = [e for e in data_flow_diagram(bare, bare_topo, ScopeModel(bare)).edges if e.kind == "data"]
    for prefix in ("PAN in the request body", "lambda:InvokeFunction", "PostgreSQL", "RDS backup"):
        # The hosted rotation's hop is not a function's: credentials only, stated from the template's rotation.
        hops = [e for e in bare_edges if e.detail.startswith(prefix) and not e.data.startswith("database credentials")]
        assert hops, prefix
        assert all(NOT_STATED in e.data for e in hops), (prefix, [e.data for e in hops])


def test_the_rule_table_counts_requirements_only_and_shows_related_apart(default: Written) -> None:
    """QSA reader r21b item 1: the report's rule table listed `PCI4-RDS-BACKUPS | 12.10.1 | 2 | 2`, a requirement
    the evidence excludes. The table's requirements are evidence only; related ones have their own column, and
    each is named under its requirement as related, never as a synth-rule line that supports it."""
    text = default.report()
    assert "| Rule | Requirements (evidence) | Related (not evidence) | Resources checked | Passed | Failed |" in text
    row = next(line for line in text.splitlines() if line.startswith("| `PCI4-RDS-BACKUPS` |"))
    assert row.startswith("| `PCI4-RDS-BACKUPS` | - | 12.10.1 |"), row
    section = _section(text, "12.10.1")
    assert "`PCI4-RDS-BACKUPS` is related here, not evidence (supports it only)" in section
    assert "- Synth rule `PCI4-RDS-BACKUPS` (examined" not in section
    storage = _section(text, "3.5.1.2")
    assert "- Synth rule `PCI4-RDS-STORAGE-ENCRYPTED` (examined" not in storage


def test_network_hops_have_one_schema_and_the_internet_to_alb_hop_names_its_tls(default: Written) -> None:
    """QSA reader r20b, finding 3: a network hop row is protocol and port, the rule kind that allows it, and
    the destination's in-transit encryption from the templates (internet -> load balancer 443: the HTTPS
    listener's policy), never a shifted column or a bare "-"."""
    from evidence.diagrams import NOT_SET_BY_A_RULE

    text = default.report()
    header = "| Hop | From | To | Protocol and port | Allowed by | In-transit encryption | Template rules |"
    for region in Topology(default.model).regions:
        part = text.split(f"1.2.3 network diagram: {region}", 1)[1].split("\n### ", 1)[0]
        assert header in part
        rows = [
            [c.strip() for c in line.strip("|").split(" | ")] for line in part.splitlines() if line.startswith("| F")
        ]
        assert rows
        for hop, _source, _target, port, allowed, tls, _refs in rows:
            assert port == "-" or re.fullmatch(r"(tcp|udp|icmp|all)\b.*", port), (hop, port)
            assert allowed, hop
            assert tls, hop
            assert tls != "-", hop
        policies = {
            str(li.prop("SslPolicy")) for li in default.model.resources("AWS::ElasticLoadBalancingV2::Listener")
        }
        internet_443 = [r for r in rows if r[3] == "tcp 443" and "0.0.0.0/0" in r[1]]
        assert internet_443
        assert all(r[5] in {f"TLS: HTTPS listener, {p}" for p in policies} for r in internet_443), internet_443
        assert any(r[5] == NOT_SET_BY_A_RULE for r in rows)


def test_the_entry_path_is_caller_to_load_balancer_then_waf_with_its_8_kb_body_limit(default: Written) -> None:
    """QSA reader r20b, finding 5: the caller's TLS and mTLS end at the load balancer, which sends each request
    to AWS WAF; for an ALB the body AWS WAF inspects is its first 8 KB ("Considerations for managing body
    inspection in AWS WAF", AWS WAF Developer Guide)."""
    scope = ScopeModel(default.model)
    for topo in Topology(default.model).regions.values():
        diagram = data_flow_diagram(default.model, topo, scope)
        kind = {key: node.label.split("\n")[0] for key, node in diagram.nodes.items()}
        from_client = [kind[e.target] for e in diagram.edges if e.source == "client"]
        assert from_client
        assert set(from_client) == {"Application Load Balancer"}, from_client
        to_waf = [e for e in diagram.edges if kind[e.target] == "AWS WAF web ACL"]
        assert to_waf
        assert all(kind[e.source] == "Application Load Balancer" and "8 KB" in (e.detail or e.label) for e in to_waf)
        assert not [e for e in diagram.edges if kind[e.source] == "AWS WAF web ACL" and e.kind == "data"]
    assert "before the load balancer" not in scope.category(next(default.model.resources("AWS::WAFv2::WebACL")))[1]


# -- QSA reader r20d LOW: 4.2.1 states the access-log buckets' TLS-only policy --------------------------------
def test_4_2_1_states_each_access_log_buckets_transport_from_its_policy(default: Written) -> None:
    """Every bucket a load balancer writes access logs to (counted in the raw template JSON) is named under 4.2.1
    with the transport its bucket policy requires; the default app's deny plain HTTP and TLS below 1.2."""
    text = default.report()
    section = text[text.index("### 4.2.1 ") : text.index("### ", text.index("### 4.2.1 ") + 4)]
    (line,) = [x for x in section.splitlines() if x.startswith("- Derived from the templates")]
    buckets = 0
    for stack in default.model.stacks.values():
        for body in (stack.template.get("Resources") or {}).values():
            if body.get("Type") == "AWS::ElasticLoadBalancingV2::LoadBalancer":
                attributes = {a["Key"]: a["Value"] for a in body["Properties"].get("LoadBalancerAttributes", [])}
                buckets += attributes.get("access_logs.s3.enabled") == "true"
    assert buckets >= 2
    assert line.count("): TLS only: ") == buckets, line
    assert line.count("minimum TLS 1.2 (s3:TlsVersion)") == buckets


def _lb_model(statements: list[dict[str, Any]]) -> TemplateModel:
    bucket_arn = {"Fn::GetAtt": ["Logs", "Arn"]}
    resources: dict[str, Any] = {
        "Logs": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "Lb": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {
                "LoadBalancerAttributes": [
                    {"Key": "access_logs.s3.enabled", "Value": "true"},
                    {"Key": "access_logs.s3.bucket", "Value": {"Ref": "Logs"}},
                ]
            },
        },
        "Policy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "Logs"},
                "PolicyDocument": {
                    "Statement": [
                        {"Resource": [bucket_arn, {"Fn::Join": ["", [bucket_arn, "/*"]]}], **s} for s in statements
                    ]
                },
            },
        },
    }
    return TemplateModel.from_templates({"Edge": {"Resources": resources}})


_PLAIN_DENY = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*"}


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        ([{**_PLAIN_DENY, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}], "TLS only: a Deny (no Sid)"),
        ([{**_PLAIN_DENY, "Sid": "Tls", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}], "the Deny Tls"),
        # a Deny of TLS requests, a Deny naming one principal, a Deny of reads only: none makes the bucket TLS only
        ([{**_PLAIN_DENY, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}], "plain HTTP not denied"),
        (
            [
                {
                    **_PLAIN_DENY,
                    "Principal": {"AWS": "arn:aws:iam::1:root"},
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
            "plain HTTP not denied",
        ),
        (
            [{**_PLAIN_DENY, "Action": "s3:GetObject", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}],
            "plain HTTP not denied",
        ),
        ([], "plain HTTP not denied"),
    ],
)
def test_4_2_1_transport_is_evaluated_not_matched_by_name(statements: list[dict[str, Any]], expected: str) -> None:
    from evidence.report import transit_statements

    (text,) = transit_statements(_lb_model(statements)).values()
    assert expected in text, text
