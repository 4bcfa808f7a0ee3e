"""Every PCI DSS v4.0.1 identifier the project cites exists in the standard (issue 20 item 5).

The list, `evidence/pci_dss_v4_0_1_ids.txt`, was built from the standard's text (its header names the
sources and the date); a mistyped or v3.2.1 identifier (3.6.4 was the v3.2.1 key-rotation number) fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evidence import catalog
from pci_rules.rules import RULES

ROOT = Path(__file__).resolve().parent.parent
IDS = {
    line.split("#", 1)[0].strip()
    for line in (ROOT / "evidence" / "pci_dss_v4_0_1_ids.txt").read_text(encoding="utf-8").splitlines()
    if line.split("#", 1)[0].strip()
}


def test_the_vendored_list_is_well_formed() -> None:
    assert len(IDS) > 90
    for identifier in IDS:
        parts = identifier.split(".")
        assert parts[0].isdigit()
        assert 1 <= int(parts[0]) <= 12, identifier
        # A testing procedure (x.y.z.a) belongs to a requirement that is listed too.
        if parts[-1].isalpha():
            assert ".".join(parts[:-1]) in IDS, identifier


def test_every_identifier_in_the_catalog_exists_in_v4_0_1() -> None:
    cited = set(catalog.TITLES) | set(catalog.TESTING_PROCEDURES) | set(catalog.LIMITS)
    cited |= set(catalog.CUSTOMER_RESPONSIBILITIES) | {r for _, r in catalog.RELATED_NOT_EVIDENCE}
    cited |= {r for control in catalog.SECURITY_HUB_CONTROLS for r in control.requirements}
    for requirement, (procedure, _) in catalog.TESTING_PROCEDURES.items():
        assert procedure == requirement or procedure.startswith(requirement + "."), (requirement, procedure)
        cited.add(procedure)
    assert sorted(cited - IDS) == []


def test_every_identifier_the_rule_pack_and_the_conformance_pack_cite_exists_in_v4_0_1() -> None:
    cited = {r for rule in RULES for r in (*rule.requirements, *rule.related)}
    pack = json.loads((ROOT / "compliance" / "conformance" / "pci-dss-v4.json").read_text(encoding="utf-8"))
    for body in pack["Resources"].values():
        cited |= set((body.get("Metadata") or {}).get("PciDssV401Requirements") or ())
    assert sorted(cited - IDS) == []


def test_the_readme_shows_the_evidence_screenshots_that_make_evidence_screenshots_writes() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--screenshots docs" in makefile
    for name in ("evidence-report-page.png", "evidence-data-flow.png"):
        assert f"](docs/{name})" in readme
        data = (ROOT / "docs" / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        width = int.from_bytes(data[16:20], "big")
        assert width == 1400, (name, width)


# Issue 20 (QSA review): pairs a status must never rest on again. Since pack 1.9.0 they are the rules'
# `related` requirements (never evidence); one moving back into a rule's `requirements` fails here.
_REVIEWED_UNRELATED = {
    ("PCI4-SNS-ENCRYPTED", "3.5.1"),
    ("PCI4-LAMBDA-ENV-ENCRYPTED", "3.5.1"),
    ("PCI4-RDS-DELETION-PROTECTION", "3.5.1"),
    ("PCI4-STATEFUL-RETAINED", "3.5.1"),
    ("PCI4-TRAIL-KMS", "3.5.1"),
    ("PCI4-SECRET-CUSTOMER-KEY", "3.5.1"),
    ("PCI4-NETWORK-FIREWALL-POSTURE", "1.5.1"),
    ("PCI4-SECURITYHUB-PCI-V401", "12.4.2"),
    ("PCI4-ELB-DESYNC-MITIGATION", "6.2.4"),
    ("PCI4-ELB-DROP-INVALID-HEADERS", "6.2.4"),
    ("PCI4-ELB-DESYNC-MITIGATION", "6.4.2"),  # QSA reader r21e (pack 1.12.0): a load-balancer setting, not a WAF
    ("PCI4-ELB-DROP-INVALID-HEADERS", "6.4.2"),
    ("PCI4-ELB-ACM-CERTIFICATE", "4.2.1.1"),
    ("PCI4-TRAIL-DATA-EVENTS", "10.2.1.7"),
    ("PCI4-EC2-NACL-IN-USE", "1.2.7"),
    ("PCI4-KMS-CUSTODIAN-SEPARATION", "3.6.1.2"),
    ("PCI4-KMS-DELETION-WINDOW", "3.7.5"),
    ("PCI4-SNS-ENCRYPTED", "10.3.2"),
    ("PCI4-RDS-DELETION-PROTECTION", "10.5.1"),
    ("PCI4-STATEFUL-RETAINED", "10.5.1"),
    ("PCI4-TRAIL-MULTI-REGION", "10.2.2"),
    ("PCI4-ACCOUNT-GUARD-VALUES", "1.4.4"),
    ("PCI4-SECRET-ROTATION", "8.3.9"),
    # QSA reader r21b (pack 1.9.0): the pairs pack 1.8.0 cited and the evidence excluded or could not test.
    ("PCI4-RDS-BACKUPS", "12.10.1"),
    ("PCI4-DYNAMODB-PITR", "12.10.1"),
    ("PCI4-CLOUDFRONT-SNI", "1.2.5"),
    ("PCI4-ECR-LIFECYCLE-POLICY", "3.2.1"),
    ("PCI4-DYNAMODB-KMS", "3.5.1.2"),
    ("PCI4-SQS-ENCRYPTED", "3.5.1.2"),
    ("PCI4-RDS-STORAGE-ENCRYPTED", "3.5.1.2"),
    ("PCI4-APIGW-XRAY", "10.7.2"),
    ("PCI4-EC2-DETAILED-MONITORING", "10.7.2"),
}


def test_reviewed_unrelated_pairs_are_related_never_evidence() -> None:
    evidence = {(r.id, q) for r in RULES for q in r.requirements}
    related = {(r.id, q) for r in RULES for q in r.related}
    readmitted = _REVIEWED_UNRELATED & evidence
    assert not readmitted, f"unrelated pairs back in a rule's requirements: {sorted(readmitted)}"
    assert related >= _REVIEWED_UNRELATED, "a reviewed pair left the pack: review it here"


def test_no_requirement_a_rule_evidences_is_excluded_and_every_related_one_says_why() -> None:
    """The evidence's exclusions and the rules' requirements cannot disagree (QSA reader r21b item 1): a pair
    of a rule's `requirements` is never in RELATED_NOT_EVIDENCE, and every `related` pair has its reason."""
    evidence = {(r.id, q) for r in RULES for q in r.requirements}
    related = {(r.id, q) for r in RULES for q in r.related}
    assert not evidence & related, "a requirement both evidenced and related"
    assert not evidence & set(catalog.RELATED_NOT_EVIDENCE), sorted(evidence & set(catalog.RELATED_NOT_EVIDENCE))
    assert set(catalog.RELATED_NOT_EVIDENCE) == related, sorted(set(catalog.RELATED_NOT_EVIDENCE) ^ related)
    assert all(len(reason.strip()) >= 20 for reason in catalog.RELATED_NOT_EVIDENCE.values())


def test_the_conformance_pack_maps_no_pair_the_review_excludes() -> None:
    """Issue 20: AWS Config shows the pack's mappings to an assessor after deploy, so the pack carries none
    the review excluded; each exclusion still names a rule of the pack (a stale one fails)."""
    from evidence.report import conformance_rules

    rules = {c.name: c for c in conformance_rules()}
    pairs = {(c.name, q) for c in rules.values() for q in c.requirements}
    mapped = sorted(set(catalog.UNRELATED_CONFIG_RULES) & pairs)
    assert not mapped, f"the conformance pack maps pairs the review excludes: {mapped}"
    stale = sorted(name for name, _ in catalog.UNRELATED_CONFIG_RULES if name not in rules)
    assert not stale, f"Config-rule exclusions naming no rule of the pack: {stale}"
    assert len(catalog.UNRELATED_CONFIG_RULES) == 15
    assert ("pci-dss-v4-kms-cmk-not-scheduled-for-deletion", "3.7.2") in catalog.UNRELATED_CONFIG_RULES
    assert rules["pci-dss-v4-kms-cmk-not-scheduled-for-deletion"].requirements == ("3.6.1",)
    assert rules["pci-dss-v4-rds-storage-encrypted"].requirements == ()


def test_the_conformance_pack_maps_exactly_the_reviewed_pairs() -> None:
    """One source of truth: every rule's `PciDssV401Requirements`, and the requirements its Description
    names (what the AWS Config console shows), are exactly its pairs in CONFIG_RULE_REASONS."""
    from evidence.mapping_reasons import CONFIG_RULE_REASONS

    pack = json.loads((ROOT / "compliance" / "conformance" / "pci-dss-v4.json").read_text(encoding="utf-8"))
    pairs = set()
    for body in pack["Resources"].values():
        name = body["Properties"]["ConfigRuleName"]
        requirements = body["Metadata"]["PciDssV401Requirements"]
        reviewed = sorted((q for n, q in CONFIG_RULE_REASONS if n == name), key=lambda q: requirements.index(q))
        assert requirements == reviewed, name
        description = body["Properties"]["Description"]
        if requirements:
            assert description.startswith(f"PCI DSS v4.0.1 {', '.join(requirements)}: "), name
        else:
            assert description.startswith("PCI DSS v4.0.1 no requirement: "), name
            assert "not PCI DSS evidence" in description, name
        # CloudFormation Template Reference, AWS::Config::ConfigRule: Description "Maximum: 256" (the Config API
        # ConfigRule.Description is EmptiableStringWithCharLimit256).
        assert len(description) <= 256, name
        pairs |= {(name, q) for q in requirements}
    assert pairs == set(CONFIG_RULE_REASONS)


# QSA reader r20b, finding 9: a (Config rule, requirement) pair of the pack where every synth rule of the same
# property (crosswalk.watched_after_deploy: the synth rules the Config rule keeps watching after deploy) that
# names the requirement names it as related, not evidence. Reviewed differences, where the synth rule checks
# several properties and its related pair is about another one, with the property each pair is about:
_PACK_DIFFERS_REVIEWED = {
    ("pci-dss-v4-ebs-snapshot-public-restorable-check", "1.4.4"): "PCI4-ACCOUNT-GUARD-VALUES' 1.4.4 is related"
    " for the IAM password policy; the Config rule watches the account's EBS snapshot block, a store's copy",
    ("pci-dss-v4-s3-account-level-public-access-blocks-periodic", "1.4.4"): "PCI4-ACCOUNT-GUARD-VALUES' 1.4.4 is"
    " related for the IAM password policy; the Config rule watches the account's S3 public access block",
}


def _pack_differs_from_synth_rules(config_rules: list[Any]) -> dict[tuple[str, str], list[str]]:
    """(pack Config rule, requirement) -> the synth rules of the same property that hold it related only."""
    from pci_rules.crosswalk import watched_after_deploy

    watching: dict[str, list[str]] = {}
    for rule_id, names in watched_after_deploy().items():
        for name in names.split(", "):
            watching.setdefault(name.split(" ", 1)[0], []).append(rule_id)
    by_id = {r.id: r for r in RULES}
    differs = {}
    for config_rule in config_rules:
        synth = watching.get(config_rule.name.removeprefix("pci-dss-v4-"), [])
        for requirement in config_rule.requirements:
            related = [r for r in synth if requirement in by_id[r].related]
            evidenced = [r for r in synth if requirement in by_id[r].requirements]
            if related and not evidenced:
                differs[(config_rule.name, requirement)] = related
    return differs


def test_the_pack_maps_no_requirement_the_evidence_holds_related_for_the_same_property() -> None:
    """QSA reader r20b, finding 9: the pack mapped s3-bucket-ssl-requests-only to 4.2.1 while PCI4-S3-TLS-ONLY,
    the synth rule of the same check, is an internal-transit note there. The pack's pairs agree with the synth
    rules' evidence, apart from the reviewed multi-property differences above (a stale one fails)."""
    from evidence.report import conformance_rules

    rules = conformance_rules()
    differs = _pack_differs_from_synth_rules(rules)
    unreviewed = sorted(set(differs) - set(_PACK_DIFFERS_REVIEWED))
    assert not unreviewed, f"the pack maps requirements its synth rules hold related only: {unreviewed}"
    assert set(differs) == set(_PACK_DIFFERS_REVIEWED), "a reviewed difference is gone: remove it"
    assert all(differs[pair] == ["PCI4-ACCOUNT-GUARD-VALUES"] for pair in _PACK_DIFFERS_REVIEWED)
    ssl = next(c for c in rules if c.name == "pci-dss-v4-s3-bucket-ssl-requests-only")
    assert ssl.requirements == ()
    why = catalog.UNRELATED_CONFIG_RULES[("pci-dss-v4-s3-bucket-ssl-requests-only", "4.2.1")]
    assert why.startswith(catalog.INTERNAL_TRANSIT)


def test_a_pack_mapping_a_requirement_its_synth_rule_holds_related_is_caught() -> None:
    """The check above, on a pack that maps s3-bucket-ssl-requests-only to 4.2.1 again, names that pair."""
    from evidence.report import ConfigRule

    readded = ConfigRule("pci-dss-v4-s3-bucket-ssl-requests-only", "S3_BUCKET_SSL_REQUESTS_ONLY", ("4.2.1",))
    differs = _pack_differs_from_synth_rules([readded])
    assert differs == {("pci-dss-v4-s3-bucket-ssl-requests-only", "4.2.1"): ["PCI4-S3-TLS-ONLY"]}


def test_a_pack_mapping_an_excluded_pair_is_caught() -> None:
    """The check above, on a pack that maps a reviewed exclusion again, names that pair."""
    from evidence.report import ConfigRule

    readded = ConfigRule("pci-dss-v4-rds-storage-encrypted", "RDS_STORAGE_ENCRYPTED", ("3.5.1",))
    pairs = {(readded.name, q) for q in readded.requirements}
    assert set(catalog.UNRELATED_CONFIG_RULES) & pairs == {("pci-dss-v4-rds-storage-encrypted", "3.5.1")}


# Issue 20: every (rule, requirement) pair of the rule pack carries a reviewed reason (why the rule's
# result supports that requirement's testing procedure) or a reviewed exclusion; a new pair without
# either fails here, so no statement can rest on an unreviewed mapping.
def test_every_rule_requirement_pair_has_a_reviewed_reason_or_exclusion() -> None:
    from evidence.mapping_reasons import MAPPING_REASONS

    pairs = {(r.id, q) for r in RULES for q in r.requirements}
    unreviewed = pairs - set(MAPPING_REASONS)
    assert not unreviewed, f"(rule, requirement) pairs with no reviewed reason: {sorted(unreviewed)}"
    both = set(MAPPING_REASONS) & set(catalog.RELATED_NOT_EVIDENCE)
    assert not both, f"pairs both cited and related: {sorted(both)}"
    stale = set(MAPPING_REASONS) - pairs
    assert not stale, f"reasons naming no pair of the rule pack: {sorted(stale)}"
    assert all(len(reason) >= 20 for reason in MAPPING_REASONS.values())
    # The QSA's 1.4.4 finding: the exception rested on CDK's deploy-time functions, which store nothing.
    assert ("PCI4-LAMBDA-IN-VPC", "1.4.4") in catalog.RELATED_NOT_EVIDENCE


# Issue 20: the same for the conformance pack. Every (Config rule, requirement) pair of the pack's
# `PciDssV401Requirements` metadata carries a reviewed reason (what the managed rule watches after deploy
# that the requirement's procedure looks at); a new pair without one fails here, and a reviewed exclusion
# is not in the pack at all (above).
def test_every_config_rule_requirement_pair_has_a_reviewed_reason() -> None:
    from evidence.mapping_reasons import CONFIG_RULE_REASONS, config_reason
    from evidence.report import conformance_rules

    pairs = {(c.name, q) for c in conformance_rules() for q in c.requirements}
    unreviewed = pairs - set(CONFIG_RULE_REASONS)
    assert not unreviewed, f"(Config rule, requirement) pairs with no reviewed reason: {sorted(unreviewed)}"
    both = set(CONFIG_RULE_REASONS) & set(catalog.UNRELATED_CONFIG_RULES)
    assert not both, f"pairs both cited and excluded: {sorted(both)}"
    stale = set(CONFIG_RULE_REASONS) - pairs
    assert not stale, f"reasons naming no pair of the conformance pack: {sorted(stale)}"
    assert all(len(reason) >= 20 for reason in CONFIG_RULE_REASONS.values())
    assert all(reason.strip() for reason in catalog.UNRELATED_CONFIG_RULES.values())
    # Reviewed exclusions: logging is not restriction, Security Hub is not the intrusion detection.
    assert ("pci-dss-v4-netfw-logging-enabled", "1.3.2") in catalog.UNRELATED_CONFIG_RULES
    assert ("pci-dss-v4-securityhub-enabled", "11.5.1") in catalog.UNRELATED_CONFIG_RULES
    assert config_reason("pci-dss-v4-guardduty-enabled-centralized", "11.5.1")
    assert config_reason("pci-dss-v4-netfw-logging-enabled", "1.3.2") is None


def test_an_unreviewed_config_rule_pair_is_caught() -> None:
    """The check above, on a pack with one new and unreviewed pair, names that pair."""
    from evidence.mapping_reasons import CONFIG_RULE_REASONS
    from evidence.report import ConfigRule

    added = ConfigRule("pci-dss-v4-new-rule", "NEW_RULE", ("10.2.1",))
    pairs = {(added.name, q) for q in added.requirements}
    assert pairs - set(CONFIG_RULE_REASONS) == {("pci-dss-v4-new-rule", "10.2.1")}


def test_every_cited_requirement_has_a_real_testing_procedure() -> None:
    """No "(configuration examination)" placeholder: each requirement a rule or a statement cites names a
    v4.0.1 testing procedure of its own requirement, and the procedure is in the vendored list."""
    from evidence.mapping_reasons import MAPPING_REASONS
    from evidence.report import DIAGRAM_REQUIREMENTS, STATED_REQUIREMENTS

    cited = {q for _, q in MAPPING_REASONS} | set(STATED_REQUIREMENTS) | set(DIAGRAM_REQUIREMENTS)
    missing = sorted(cited - set(catalog.TESTING_PROCEDURES))
    assert not missing, f"requirements cited without a testing procedure: {missing}"
    for requirement, (procedure, paraphrase) in catalog.TESTING_PROCEDURES.items():
        assert procedure in IDS, procedure
        assert procedure == requirement or procedure.startswith(requirement + "."), (requirement, procedure)
        assert paraphrase, requirement
        assert "configuration examination" not in paraphrase
    for requirement in ("3.5.1.c", "3.5.1.1.c", "3.5.1.1.d", "3.5.1.3.a", "3.5.1.3.b", "3.7.8", "8.3.8.a"):
        assert requirement in IDS, requirement


def test_the_ids_list_marks_how_each_identifier_was_checked() -> None:
    lines = (ROOT / "evidence" / "pci_dss_v4_0_1_ids.txt").read_text(encoding="utf-8").splitlines()
    entries = [line for line in lines if line.strip() and not line.startswith("#")]
    for line in entries:
        note = line.split("#", 1)[1].strip() if "#" in line else ""
        assert note.startswith(("read", "tree")), line
    # Procedures the evidence cites as "read" were compared with the standard's wording; the paraphrase
    # of a "tree" one says so.
    marks = {line.split("#", 1)[0].strip(): line.split("#", 1)[1].strip() for line in entries}
    for procedure, paraphrase in catalog.TESTING_PROCEDURES.values():
        if marks[procedure].startswith("tree") and procedure.count(".") >= 2 and procedure[-1].isalpha():
            assert "not compared" in paraphrase, procedure


def test_every_identifier_a_work_paper_heading_cites_exists_in_v4_0_1() -> None:
    """The work papers' headings (Inventory (12.5.1), Segmentation testing (11.4.5, 11.4.6), ...) cite
    requirements too; each is in the list. A one-resource model builds every paper without a synth."""
    import re

    from evidence.topology import Topology
    from evidence.workpapers import all_workpapers
    from pci_rules.model import StackTemplate, TemplateModel

    model = TemplateModel(
        [
            StackTemplate(
                "S", {"Resources": {"X": {"Type": "AWS::S3::Bucket"}}}, account="111111111111", region="eu-west-1"
            )
        ]
    )
    cited: set[str] = set()
    for paper in all_workpapers(model, Topology(model)):
        for group in re.findall(r"\(([\d., ]+)\)", paper.title):
            cited |= {part.strip() for part in group.split(",")}
    assert {"12.5.1", "6.3.2", "11.4.5", "11.4.6", "12.8.5", "12.9", "3.7"} <= cited
    assert cited <= IDS, sorted(cited - IDS)


def test_process_requirements_are_reviewed_and_listed() -> None:
    """r20 MEDIUM 4: requirements that are a process (a review, a scan, a plan) rest on prerequisite checks
    only, so they are counted as not evidenced (evidence/report.py PREREQUISITE). The catalog was reviewed
    for every requirement the rule pack and the conformance pack name; this is the list it found."""
    assert sorted(catalog.PROCESS_REQUIREMENTS, key=lambda r: tuple(int(p) for p in r.split("."))) == [
        "1.2.7",
        "6.3.1",
        "10.4.1",
        "10.4.2",
        "11.3.1",
        "11.5.2",
        "12.3.4",
        "12.4.2",
        "12.10.1",
    ]
    assert "WAF logging" in catalog.PROCESS_REQUIREMENTS["10.4.2"]
    assert "runtime not deprecated" in catalog.PROCESS_REQUIREMENTS["12.3.4"]
    assert "Config recording" in catalog.PROCESS_REQUIREMENTS["11.5.2"]
    cited = {req for rule in RULES for req in rule.requirements} | set(catalog.TITLES)
    assert set(catalog.PROCESS_REQUIREMENTS) <= cited
    # A requirement stated beyond the templates is not also a process (one reason per statement).
    assert not set(catalog.PROCESS_REQUIREMENTS) & set(catalog.BEYOND_THE_TEMPLATES)


def test_the_readme_states_the_conformance_packs_mapped_rule_counts() -> None:
    from evidence.report import conformance_rules

    rules = conformance_rules()
    mapped = sum(1 for c in rules if c.requirements)
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"{len(rules)} AWS managed Config rules, {mapped} of them mapped to PCI DSS v4.0.1" in readme
    assert (
        f"the other {len(rules) - mapped} (S3, EBS, RDS storage and SNS encryption, S3's TLS-only bucket policies,"
        " and since pack 1.15.0 RDS instance deletion protection)" in readme
    )
    assert "carries 14 requirement mappings the report excludes" not in readme


# Issue 20 (w20b, 2026-12-03): the procedures whose wording no stored source has. Compared procedures leave this
# set with their source named in evidence/pci_dss_v4_0_1_ids.txt; the README names exactly these.
_WORDING_NOT_COMPARED = {"3.7.8", "6.5.1", "7.2.1.b", "8.2.2.a", "8.3.9", "8.3.10.1", "8.6.3", "11.3.1", "11.5.1.a"}


def test_the_procedures_not_compared_are_exactly_the_frozen_ones_and_the_readme_names_them() -> None:
    lines = (ROOT / "evidence" / "pci_dss_v4_0_1_ids.txt").read_text(encoding="utf-8").splitlines()
    marks = {
        line.split("#", 1)[0].strip(): line.split("#", 1)[1].strip()
        for line in lines
        if line.strip() and not line.startswith("#") and "#" in line
    }
    not_compared = {p for p, paraphrase in catalog.TESTING_PROCEDURES.values() if "not compared" in paraphrase}
    assert not_compared == _WORDING_NOT_COMPARED
    for procedure, paraphrase in catalog.TESTING_PROCEDURES.values():
        # Every procedure read only in the tree says so, lettered or not.
        if marks[procedure].startswith("tree"):
            assert "not compared" in paraphrase, procedure
    for procedure in ("6.2.4", "6.3.1.b", "7.3.1", "8.3.2.a", "10.4.2.b", "12.3.4"):  # compared on 2026-12-03
        assert marks[procedure].startswith("read ("), f"{procedure}: name the source it was compared in"
    # The lettered procedures found on 2026-12-03: the report cites the letter, not the requirement.
    assert catalog.TESTING_PROCEDURES["6.3.1"][0] == "6.3.1.b"
    assert catalog.TESTING_PROCEDURES["10.4.2"][0] == "10.4.2.b"
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    listed = ", ".join(
        sorted(_WORDING_NOT_COMPARED - {"3.7.8"}, key=lambda p: [int(x) if x.isdigit() else x for x in p.split(".")])
    )
    assert f"found in no stored source: {listed}" in readme


def test_internal_transit_rules_are_notes_under_4_2_1_never_its_evidence() -> None:
    """QSA reader r20b, finding 9: 4.2.1 is transmission over open, public networks. The rules that examine
    TLS inside the VPC or to an AWS API (database, proxy, buckets, topics, search nodes) are excluded from
    it as internal-transit notes (pack 1.9.0: `related`, not `requirements`); the internet-facing listener's
    rules stay cited."""
    from evidence.mapping_reasons import MAPPING_REASONS

    internal = {"PCI4-RDS-PROXY-TLS", "PCI4-RDS-TLS-FORCED", "PCI4-S3-TLS-ONLY", "PCI4-SNS-TLS-ONLY"}
    internal.add("PCI4-ES-NODE-TO-NODE-ENCRYPTION")
    for rule_id in internal:
        assert catalog.RELATED_NOT_EVIDENCE[(rule_id, "4.2.1")].startswith(catalog.INTERNAL_TRANSIT)
        assert (rule_id, "4.2.1") not in MAPPING_REASONS
    assert ("PCI4-ELB-HTTPS-TLS12", "4.2.1") in MAPPING_REASONS


def test_sub_requirements_carry_their_own_titles_not_their_principals() -> None:
    """QSA reader r20b LOW: 6.2.3 and 8.3.10.1 were headed by their principal requirement's title (6, 8)."""
    for requirement in ("6.2.3", "8.3.10.1"):
        principal = catalog.PRINCIPAL_TITLES[requirement.split(".", 1)[0]]
        assert catalog.title(requirement) != principal
    assert "reviewed before release" in catalog.title("6.2.3")
    assert catalog.title("8.3.10.1").startswith("Service providers only")
