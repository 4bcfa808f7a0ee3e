"""Issue 20: the CDE boundary, what lies outside the templates, complete card-data flows, 3.5.1.

All on the session's default synth (tests/conftest.py); negative cases edit a copy of its templates.
"""

from __future__ import annotations

import copy
import html
import re
from pathlib import Path
from typing import Any

import pytest

from compliance.gate import EVIDENCE_DIR
from evidence.diagrams import Diagram, data_flow_diagram, network_diagram, services_diagram
from evidence.report import REPORT_NAME, build_diagrams, write_compliance_evidence
from evidence.scope import CDE, CONNECTED, ScopeModel, outside_templates, wireless_statement
from evidence.topology import Topology
from pci_rules.model import StackTemplate, TemplateModel
from pci_rules.rule import evaluate
from pci_rules.rules import RULES
from tests.conftest import Synthesized


@pytest.fixture(scope="module")
def model(synthesized: Synthesized) -> TemplateModel:
    return TemplateModel.from_assembly(synthesized.outdir)


@pytest.fixture(scope="module")
def report_text(synthesized: Synthesized, model: TemplateModel, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("scope-evidence")
    write_compliance_evidence(
        out, model=model, results=evaluate(model, RULES), gate=synthesized.gate, report=synthesized.report
    )
    return (out / EVIDENCE_DIR / f"{REPORT_NAME}.md").read_text(encoding="utf-8")


def _cde_paths(model: TemplateModel) -> set[str]:
    scope = ScopeModel(model)
    return {r.path for r in model.resources() if scope.category(r)[0] == CDE}


def test_the_cde_holds_everything_that_stores_processes_or_transmits_pan(model: TemplateModel) -> None:
    cde = _cde_paths(model)
    for region in ("us-east-1", "us-west-2"):
        expected = [
            f"PciLz-default-Edge-{region}/WebAcl/WebAcl",
            f"PciLz-default-Edge-{region}/PublicAlb/LoadBalancer/Resource",
            f"PciLz-default-Workload-{region}/CardVault/Api/Resource",
            f"PciLz-default-Workload-{region}/CardVault/Detokenize/Resource",
            f"PciLz-default-Network-{region}/Network/Vpc/ApplicationSubnet1/Subnet",
            f"PciLz-default-Network-{region}/Network/Vpc/CdeSubnet1/Subnet",
            # The public tier hosts the load balancer that terminates card-data TLS: CDE (QSA reader, r20).
            f"PciLz-default-Network-{region}/Network/Vpc/PublicSubnet1/Subnet",
            # GenerateMac sends the cleartext PAN through the KMS interface endpoint: CDE.
            f"PciLz-default-Network-{region}/Network/Vpc/KmsEndpoint/Resource",
            f"PciLz-default-Data-{region}/Database/Proxy/Resource",
            f"PciLz-default-Data-{region}/Database/Instance/Resource",
            f"PciLz-default-Keys-{region}/Keys/CardholderDataKey/Resource",
        ]
        assert set(expected) <= cde, set(expected) - cde
        # The keyed-hash key: whatever the vault is given as its HMAC key (a KMS HMAC key; a secret before).
        scope = ScopeModel(model)
        hmac = [k for k in scope.keyed_hash_keys.values() if model.stack_of(k).region == region]
        assert hmac
        assert all(k.path in cde for k in hmac)
    # Not in the CDE: the NAT gateways' egress tier, the firewall tier, the logs key, the trail, and every
    # interface endpoint no PAN passes (each tested the same way as the KMS endpoint).
    assert not any(
        f"/{part}" in p
        for p in cde
        for part in ("EgressSubnet", "FirewallSubnet", "LogsKey/", "Trail/", "LogsEndpoint/", "StsEndpoint/")
    )
    assert not any(f"/{part}" in p for p in cde for part in ("SecretsManagerEndpoint/", "XRayEndpoint/", "S3Endpoint/"))


def test_every_diagram_shades_the_scope_and_carries_a_legend(model: TemplateModel) -> None:
    built = build_diagrams(model)
    assert {b.diagram.name.split("-us-")[0] for b in built} == {"network", "data-flow", "security-services"}
    for item in built:
        legend = next(c for c in item.diagram.clusters if c.kind == "legend")
        kinds = {item.diagram.nodes[n].kind for n in legend.nodes}
        assert {"cde", "connected", "out"} <= kinds, item.diagram.name
        # In DOT the legend is a row of the heading (a cluster took a rank per entry); on every page too.
        for drawn in (item, *item.pages):
            assert "Legend:</TD>" in drawn.dot, drawn.diagram.name
            for node_id in legend.nodes:
                assert html.escape(item.diagram.nodes[node_id].label.split("\n")[0]) in drawn.dot, drawn.diagram.name
            assert "subgraph cluster_legend" in drawn.mermaid, drawn.diagram.name
    for topo in Topology(model).regions.values():
        network = network_diagram(topo, ScopeModel(model))
        boundary = next(c for c in network.clusters[1].clusters if c.kind == "cde")
        tiers = {c.label.split(" tier")[0] for c in boundary.clusters if " tier" in c.label}
        # The load balancer's public tier and the vault's application tier are inside the boundary.
        assert tiers == {"Public", "Application", "Cde"}, tiers
        public = next(c for c in boundary.clusters if c.label.startswith("Public tier"))
        assert public.label.startswith("Public tier (CDE: load balancer)"), public.label
        # The WAF inside the boundary too, in a box that says it is not in the VPC.
        regional = next(c for c in boundary.clusters if "not in the VPC" in c.label)
        assert [network.nodes[n].label.split("\n")[0] for n in regional.nodes] == ["AWS WAF web ACL"]
        assert all(network.nodes[n].kind == "cde" for n in regional.nodes)


def test_one_scope_model_for_inventory_diagrams_and_every_paper(model: TemplateModel) -> None:
    """Every resource gets one category: the inventory paper's, the segmentation paper's CDE systems and
    each scope-shaded diagram node all follow ScopeModel (the vault's keys included)."""
    from evidence.workpapers import CDE as PAPER_CDE
    from evidence.workpapers import all_workpapers

    scope = ScopeModel(model)
    topology = scope.topology
    papers = {p.slug: p for p in all_workpapers(model, topology, scope=scope)}
    inventory = papers["inventory"]
    scope_column, path_column, stack_column = (inventory.header.index(h) for h in ("Scope", "Construct path", "Stack"))
    by_path = {r.path: r for r in model.resources()}
    assert PAPER_CDE == CDE
    assert inventory.rows
    for row in inventory.rows:
        resource = by_path[row[path_column]]
        assert resource.stack == row[stack_column]
        assert row[scope_column] == scope.category(resource)[0], row
    # The vault's environment-variable key, its keyed-hash key and its envelope key: CDE everywhere.
    vault_keys = [*scope.envelope_keys.values(), *scope.keyed_hash_keys.values()]
    assert vault_keys
    inventory_scope = {row[path_column]: row[scope_column] for row in inventory.rows}
    for key in vault_keys:
        assert inventory_scope[key.path] == CDE, key.path
    # The functions' environment-variable key encrypts configuration, never PAN: connected-to in every view.
    environment_keys = [p for p in inventory_scope if "/CardVault/EnvironmentKey/" in p]
    assert environment_keys
    assert all(inventory_scope[p] == CONNECTED for p in environment_keys)
    # Segmentation: the security groups of CDE systems are exactly those with a CDE member.
    segmentation_groups = {row[1] for row in papers["segmentation"].rows if row[1].startswith("SG ")}
    assert segmentation_groups
    shaded = 0
    for item in build_diagrams(model, topology, (), scope):
        for node in item.diagram.nodes.values():
            if node.resource is None:
                continue
            drawn = model.resource(*node.resource)
            assert drawn is not None
            assert node.kind == scope.kind_of(drawn), (item.diagram.name, node.label)
            shaded += 1
    assert shaded


def test_wireless_is_stated_with_its_basis(model: TemplateModel, report_text: str) -> None:
    statement = wireless_statement(model)
    assert "none in the templates" in statement
    assert "Attestation of Compliance" in statement
    assert statement in report_text


def test_outside_the_templates_is_derived_not_hand_listed(model: TemplateModel, synthesized: Synthesized) -> None:
    rows = outside_templates(model, synthesized.outdir)
    kinds = {r.kind for r in rows}
    assert {
        "ACM certificate",
        "CDK asset object (bootstrap bucket)",
        "CDK bootstrap deploy role",
        "CDK bootstrap CloudFormation execution role",
        "CDK bootstrap file-publishing role",
        "hosted rotation function and its IAM role",
        "IAM role",
    } <= kinds, kinds
    references = {r.reference for r in rows}
    assert any(r.endswith(".pem") for r in references)  # the trust store's CA bundle object
    assert "arn:aws:iam::111111111111:role/pci-lz-card-vault-detokenizer" in references  # the detokenize caller
    # Nothing the templates create is listed: no pattern, no role or bucket of this synth.
    assert not any("*" in r for r in references)
    assert not any(r.endswith(":role/pci-lz-default-break-glass") for r in references)
    # Derived: a new literal ARN, an import of an export nobody makes and a CRL object show up.
    templates: dict[str, Any] = {name: copy.deepcopy(dict(s.template)) for name, s in model.stacks.items()}
    edge = templates["PciLz-default-Edge-us-east-1"]["Resources"]
    store = next(k for k, v in edge.items() if v["Type"] == "AWS::ElasticLoadBalancingV2::TrustStore")
    edge["Crl"] = {
        "Type": "AWS::ElasticLoadBalancingV2::TrustStoreRevocation",
        "Properties": {
            "TrustStoreArn": {"Ref": store},
            "RevocationContents": [{"S3Bucket": "acme-pki", "S3Key": "clients.crl"}],
        },
    }
    edge["Extra"] = {
        "Type": "AWS::SNS::Topic",
        "Properties": {
            "KmsMasterKeyId": "arn:aws:kms:us-east-1:111111111111:key/00000000-0000-0000-0000-000000000001",
            "DisplayName": {"Fn::ImportValue": "someone-elses-export"},
        },
    }
    changed = TemplateModel(
        StackTemplate(name, templates[name], s.account, s.region, s.assembly) for name, s in model.stacks.items()
    )
    added = {(r.kind, r.reference) for r in outside_templates(changed)} - {(r.kind, r.reference) for r in rows}
    assert ("S3 object", "s3://acme-pki/clients.crl") in added
    assert ("kms key", "arn:aws:kms:us-east-1:111111111111:key/00000000-0000-0000-0000-000000000001") in added
    assert ("CloudFormation export", "someone-elses-export") in added


def _labels(diagram: Any) -> dict[str, str]:
    return {n.id: n.label for n in diagram.nodes.values()}


def test_the_data_flow_runs_from_entry_to_final_disposition(model: TemplateModel) -> None:
    scope = ScopeModel(model)
    for topo in Topology(model).regions.values():
        diagram = data_flow_diagram(model, topo, scope)
        labels = _labels(diagram)

        def node(prefix: str, labels: dict[str, str] = labels) -> str:
            return next(i for i, label in labels.items() if label.startswith(prefix))

        def detail(source: str, target: str, diagram: Diagram = diagram) -> str:
            """A hop's text: what, protocol and port, then its in-transit encryption and card-data elements."""
            return next(
                "\n".join((e.detail, e.tls, e.data)) for e in diagram.edges if e.source == source and e.target == target
            )

        waf, detok, purge, migrate = (
            node("AWS WAF"),
            node("Lambda function\nCardVault/Detokenize"),
            node("Lambda function\nCardVault/Purge"),
            node("Lambda function\nCardVault/Migrate"),
        )
        database, backups = node("RDS DB instance"), node("Automated backups")
        alb = node("Application Load Balancer")
        assert "TLS" in detail("client", alb)
        assert "mutual TLS: verify" in detail("client", alb)  # TLS and mTLS end at the load balancer
        assert "first 8 KB of the body" in detail(alb, waf)  # which sends each request to AWS WAF
        caller = node("Caller role\nrole/pci-lz-card-vault-detokenizer")
        assert "response carries the PAN" in detail(caller, detok)
        assert "cron(" in labels[next(e.source for e in diagram.edges if e.target == purge and "scheduled" in e.detail)]
        assert any(e.target == migrate and "deploy" in e.detail for e in diagram.edges)
        assert "retention 7 days" in labels[backups]
        assert detail(database, backups)
        assert any("cardholder-data" in labels[e.source] and e.target == backups for e in diagram.edges)
        # KMS and Secrets Manager calls from the functions' own policies, with how they travel.
        api = node("Lambda function\nCardVault/Api")
        calls = [e.detail for e in diagram.edges if e.source == api]
        assert any(c.startswith("kms:GenerateDataKey") and "kms interface endpoint" in c for c in calls)
        # The keyed hash: a KMS HMAC key (GenerateMac) or, before it, a Secrets Manager secret.
        assert any(c.startswith(("kms:GenerateMac", "secretsmanager:GetSecretValue")) for c in calls)
        # Every log ends somewhere stated: a log group with its retention.
        sinks = [labels[e.target] for e in diagram.edges if e.kind == "log"]
        assert sinks
        assert all("kept" in s or "S3 bucket" in s for s in sinks)
        # Every hop is numbered and says how it travels (protocol and encryption, or AWS-internal).
        data = [e for e in diagram.edges if e.kind == "data"]
        assert [e.label for e in diagram.edges] == [str(i) for i in range(1, len(diagram.edges) + 1)]
        for hop in data:
            assert re.search(r"TLS|AWS-internal|encrypted at rest", hop.tls), (hop.detail, hop.tls)
            assert hop.data, hop.detail
        # Every store with its mechanism and key reference.
        stores = {row[0]: row for row in diagram.stores}
        db_row = next(row for name, row in stores.items() if name.startswith("RDS ") and "backups" not in name)
        assert "field-level AES-256-GCM envelope" in db_row[2]
        assert "keyed hash" in db_row[2]
        assert "Fn::GetAtt" in db_row[3]
        assert all(row[3] for row in diagram.stores)


def test_the_report_lists_payment_channels_and_cites_field_level_encryption_for_3_5_1(report_text: str) -> None:
    assert "| Card-not-present API (server to server) | present |" in report_text
    assert "| Card-present (POS terminals, kiosks) | N/A |" in report_text

    def section(requirement: str) -> str:
        return report_text.split(f"\n### {requirement} ", 1)[1].split("\n### ", 1)[0]

    assert "field-level AES-256-GCM envelope encryption" in section("3.5.1")
    assert "keyed-hash key" in section("3.5.1.1")
    assert "3.5.1.1.a" in section("3.5.1.1")
    assert "not the mechanism that renders PAN unreadable" in section("3.5.1.2")


def test_the_security_services_diagram_draws_audit_detection_deployment_and_access(
    model: TemplateModel, synthesized: Synthesized
) -> None:
    diagram = services_diagram(model, ScopeModel(model), Path(synthesized.outdir))
    # First lines, without the region each regional node names.
    labels = {k: re.sub(r" \([a-z]{2}(-[a-z]+)+-\d\)$", "", v.split("\n")[0]) for k, v in _labels(diagram).items()}
    edges = {(labels[e.source], labels[e.target]) for e in diagram.edges}
    trail = next(v for v in labels.values() if v.startswith("CloudTrail trail"))
    archive = next(v for v in labels.values() if v.startswith("S3 log archive"))
    replica = next(v for v in labels.values() if v.startswith("S3 archive replica"))
    assert (trail, archive) in edges
    assert (archive, replica) in edges
    assert sum(1 for v in labels.values() if v.startswith("GuardDuty detector")) == 2
    assert ("user/break-glass-1", "IAM role BreakGlass/Role") in edges
    assert any(a == "IAM role BreakGlass/Role" and b.startswith("SNS topic") for a, b in edges)
    assert ("CDK bootstrap deploy role", "CDK bootstrap CloudFormation execution role") in edges
    keys = [v for v in labels.values() if v.startswith("KMS key")]
    assert len(keys) == len(list(model.resources("AWS::KMS::Key")))  # every key, once


def test_no_diagram_repeats_a_label(model: TemplateModel, synthesized: Synthesized) -> None:
    """One key's label once (the old "environment variables; environment variables; ..."), no two
    nodes alike, no line twice in one label."""
    for item in build_diagrams(model, assembly=Path(synthesized.outdir)):
        labels = [n.label for n in item.diagram.nodes.values()]
        assert len(labels) == len(set(labels)), item.diagram.name
        for text in [*labels, *(e.detail or e.label for e in item.diagram.edges)]:
            lines = [line for line in re.split(r"\n|; ", text) if line]
            assert len(lines) == len(set(lines)), (item.diagram.name, text)


def test_the_only_listener_terminates_tls_and_the_alb_log_bucket_is_a_store(
    model: TemplateModel,
) -> None:
    """QSA reader r20b, finding 4: there is no port-80 listener (a request sent to one crosses the internet
    in clear before a redirect), so every listener terminates TLS; r20, finding 6: the load balancer's
    access-log bucket has a row in the data-flow store table."""
    from evidence.diagrams import data_flow_diagram

    scope = ScopeModel(model)
    listeners = list(model.resources("AWS::ElasticLoadBalancingV2::Listener"))
    https = [li for li in listeners if li.prop("Protocol") == "HTTPS"]
    assert https
    assert https == listeners, "no plain-HTTP listener"
    assert all(scope.category(li) == (CDE, "terminates TLS of card-data requests") for li in https)
    for region in Topology(model).regions.values():
        stores = data_flow_diagram(model, region, scope).stores
        rows = [row for row in stores if "load balancer access and connection logs" in row[0]]
        assert len(rows) == 1, [row[0] for row in stores]
        _store, holds, mechanism, key, retention = rows[0]
        assert "request lines as sent" in holds
        assert "never a request body" in holds
        assert "card number" in holds  # a PAN in a URL is kept as sent: stated, not hidden
        assert mechanism.startswith("S3 server-side encryption")
        assert key
        assert retention


def test_every_interface_endpoint_is_scoped_by_what_the_vault_sends_through_it(model: TemplateModel) -> None:
    """QSA reader r20, finding 2: the KMS endpoint carries GenerateMac's cleartext PAN (CDE); every other
    endpoint is tested the same way and states what it carries (connected-to)."""
    from evidence.topology import service_name

    scope = ScopeModel(model)
    endpoints = list(model.resources("AWS::EC2::VPCEndpoint"))
    assert {service_name(e) for e in endpoints} >= {"kms", "secretsmanager", "logs", "sts", "xray", "s3"}
    for endpoint in endpoints:
        category, basis = scope.category(endpoint)
        if service_name(endpoint) == "kms":
            assert category == CDE, basis
            assert "GenerateMac" in basis, basis
            assert "cleartext PAN" in basis, basis
        else:
            assert category == CONNECTED, basis
            assert "no PAN" in basis, basis
    # The egress firewall filters the CDE tiers' egress and carries no card data: security-impacting.
    firewalls = list(model.resources("AWS::NetworkFirewall::Firewall"))
    assert firewalls
    for firewall in firewalls:
        category, basis = scope.category(firewall)
        assert category == CONNECTED, basis
        assert "facilitates segmentation" in basis, basis
        assert not scope.firewall_carries_cde(firewall)


def _edited(model: TemplateModel, edit: Any) -> TemplateModel:
    templates: dict[str, Any] = {name: copy.deepcopy(dict(s.template)) for name, s in model.stacks.items()}
    edit(templates)
    return TemplateModel(
        StackTemplate(name, templates[name], s.account, s.region, s.assembly) for name, s in model.stacks.items()
    )


def test_log_stores_that_may_hold_pan_are_cde_with_a_statement_from_the_templates(model: TemplateModel) -> None:
    """QSA reader r20b HIGH 1: the load balancer's access-log bucket may hold a PAN a client put in a URL
    (Elastic Load Balancing cannot redact): a CDE store with its expiry stated. The WAF log group redacts the
    URI path and query string, so it is connected-to, with what it still logs as sent stated."""
    from evidence.scope import card_data_stores
    from evidence.workpapers import data_stores_paper

    scope = ScopeModel(model)
    stores = card_data_stores(model)
    buckets = [b for b in model.resources("AWS::S3::Bucket") if b.key in stores]
    groups = [g for g in model.resources("AWS::Logs::LogGroup") if g.key in stores]
    assert len(buckets) == len(groups) == 2  # one of each per region
    for bucket in buckets:
        category, basis = scope.category(bucket)
        assert category == CDE
        assert "may hold PAN" in basis
        assert "request line" in basis
        rules = bucket.prop("LifecycleConfiguration", "Rules")
        days = next(r["ExpirationInDays"] for r in rules if "ExpirationInDays" in r)
        assert f"expire after {days} days" in basis
    for group in groups:
        category, basis = scope.category(group)
        assert category == CONNECTED
        assert "redacts the URI path and query string" in basis
        assert "authorization, cookie, referer" in basis
        # QSA reader r20b: the web ACL's data protection substitutes every header, in logs and sampled requests.
        assert "data protection substitutes every header" in basis
        assert "logged as sent" not in basis
        assert "logs:Unmask" in basis
    # The data-stores paper carries the same statement, not a default.
    paper = data_stores_paper(model)
    column = paper.header.index("Card-data elements")
    texts = [row[column] for row in paper.rows]
    assert not any("never logs a card number" in t for t in texts)
    assert sum("may hold PAN" in t for t in texts) == len(buckets)
    # The data-flow store table: the WAF log group's row says what the logging configuration redacts.
    for region in Topology(model).regions.values():
        rows = data_flow_diagram(model, region, scope).stores
        assert not any("the vault never logs a PAN" in row[1] for row in rows)
        assert any(row[0].startswith("log group aws-waf-logs-") and "redacts the URI path" in row[1] for row in rows)


def test_a_waf_log_left_unredacted_or_an_alb_log_with_no_expiry_is_stated_as_such(model: TemplateModel) -> None:
    """Adversarial: a fork that drops the URI-path redaction and the access-log expiry gets a CDE log group
    and a bucket whose statement says its objects never expire."""
    from evidence.scope import card_data_stores

    def edit(templates: dict[str, Any]) -> None:
        for template in templates.values():
            for body in template.get("Resources", {}).values():
                if body["Type"] == "AWS::WAFv2::LoggingConfiguration":
                    fields = body["Properties"]["RedactedFields"]
                    body["Properties"]["RedactedFields"] = [f for f in fields if "UriPath" not in f]
                if body["Type"] == "AWS::S3::Bucket":
                    rules = body["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
                    for rule in rules:
                        rule.pop("ExpirationInDays", None)

    changed = _edited(model, edit)
    scope = ScopeModel(changed)
    stores = card_data_stores(changed)
    groups = [g for g in changed.resources("AWS::Logs::LogGroup") if g.key in stores]
    buckets = [b for b in changed.resources("AWS::S3::Bucket") if b.key in stores]
    assert groups
    assert buckets
    for group in groups:
        category, basis = scope.category(group)
        assert category == CDE
        assert "does not redact the URI path" in basis
    assert all("never expire" in scope.category(b)[1] for b in buckets)


def test_systems_outside_the_templates_that_receive_pan_are_cde(model: TemplateModel, report_text: str) -> None:
    """QSA reader r20b HIGH 2: the Payment API caller and the detokenizer's caller role send or receive PAN:
    drawn and listed as "CDE, outside the templates: unverified", never as a grey outside node."""
    from evidence.scope import CDE_OUTSIDE, cde_outside_templates

    scope = ScopeModel(model)
    rows = cde_outside_templates(model, scope)
    systems = [system for system, _, _ in rows]
    assert any(s.startswith("Payment API callers") for s in systems)
    assert "caller role role/pci-lz-card-vault-detokenizer" in systems
    assert all("12.8" in basis for _, _, basis in rows)
    assert f"### {CDE_OUTSIDE}" in report_text
    assert "caller role role/pci-lz-card-vault-detokenizer" in report_text
    for topo in Topology(model).regions.values():
        diagram = data_flow_diagram(model, topo, scope)
        cluster = next(c for c in diagram.clusters if c.id == "cluster_cde")
        outside = [diagram.nodes[i] for i in cluster.nodes if CDE_OUTSIDE in diagram.nodes[i].label]
        assert any(n.id == "client" for n in outside)
        assert any(n.label.startswith("Caller role\nrole/pci-lz-card-vault-detokenizer") for n in outside)
        assert all(n.kind == "cde" for n in outside)


def test_connected_to_resources_carry_a_basis_from_what_they_do_and_12_5_2_counts_them(
    model: TemplateModel, report_text: str
) -> None:
    """QSA reader r20b MEDIUM 7: the NAT gateways, their egress subnets and the internet gateway carry CDE
    traffic: each says so, not "same account as the CDE"; the report's 12.5.2 section counts every resource
    that is not CDE by category and basis."""
    scope = ScopeModel(model)
    nat = list(model.resources("AWS::EC2::NatGateway"))
    igw = list(model.resources("AWS::EC2::InternetGateway"))
    assert nat
    assert igw
    assert all("outbound traffic" in scope.category(r)[1] for r in nat)
    assert all("public tier's (CDE) traffic" in scope.category(r)[1] for r in igw)
    egress = [s for s in model.resources("AWS::EC2::Subnet") if "EgressSubnet" in s.path]
    assert egress
    for subnet in egress:
        category, basis = scope.category(subnet)
        assert category == CONNECTED
        assert "NAT gateway" in basis
    categories = [scope.category(r) for r in model.resources()]
    generic = [b for c, b in categories if b.startswith("same account as the CDE")]
    assert len(generic) < len(categories) // 4, len(generic)
    section = report_text.split("### Scope documentation and confirmation (12.5.2)", 1)[1].split("\n### ", 1)[0]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("| ")]
    counts = [int(row[-1]) for row in cells if row[0] in (CONNECTED, "out of scope")]
    assert sum(counts) == sum(1 for c, _ in categories if c != CDE)
    assert "not evidenced" in section


def test_every_hop_into_a_store_that_may_hold_pan_is_drawn_and_labelled_as_card_data(model: TemplateModel) -> None:
    """QSA reader r20c MEDIUM 3: the load balancer -> access-log bucket hop said "no PAN by the API's design" and
    was drawn as a log hop while the bucket is a CDE store that may hold PAN: a hop into a store takes its
    card-data class from the same scope fact as the store (ScopeModel.card_data_stores)."""
    scope = ScopeModel(model)
    holding = {key for key, (holds, _) in scope.card_data_stores.items() if holds}
    access_logs = {key for key, (_, statement) in scope.card_data_stores.items() if "access log" in statement}
    access_log_hops = 0
    for topo in Topology(model).regions.values():
        diagram = data_flow_diagram(model, topo, scope)
        for edge in diagram.edges:
            target = diagram.nodes[edge.target].resource
            if target not in holding:
                continue
            assert edge.kind == "data", (edge.label, edge.data)
            assert "may hold PAN" in edge.data, (edge.label, edge.data)
            assert "no PAN" not in edge.data, (edge.label, edge.data)
            if target in access_logs:  # (the hop's label is its number once numbered; its text is `data`)
                access_log_hops += 1
                assert edge.data.startswith("may hold PAN (request line in access logs)")
    assert access_log_hops == 2  # one load balancer per region
