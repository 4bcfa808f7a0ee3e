"""The Security Hub PCI DSS v4.0.1 crosswalk: generated, complete, every applicable control ruled and tested."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import cast

from pci_rules import crosswalk
from pci_rules.rules import RULES
from tests.pci_rule_cases import CASES

ROOT = Path(__file__).resolve().parent.parent
RULE_IDS = {r.id for r in RULES}


def test_the_committed_crosswalk_is_what_the_generator_writes() -> None:
    committed = crosswalk.CROSSWALK_FILE.read_text(encoding="utf-8")
    assert committed == crosswalk.render(), "pci_rules/CROSSWALK.md is stale: run python -m pci_rules.crosswalk"


def test_the_vendored_control_list_names_its_source_and_date() -> None:
    meta = crosswalk.source()
    assert meta["source"] == "https://docs.aws.amazon.com/securityhub/latest/userguide/pci-standard.html"
    assert date.fromisoformat(meta["retrieved"])
    controls = crosswalk.controls()
    assert len(controls) >= 140, "the standard has about 144 controls"
    assert len({c.id for c in controls}) == len(controls)
    for control in controls:
        assert re.fullmatch(r"[A-Za-z0-9]+\.\d+", control.id)
        assert control.title, control.id
        assert control.resource_types, control.id
        assert control.requirements, control.id
        assert all(re.fullmatch(r"\d{1,2}(\.\d{1,2}){1,3}", r) for r in control.requirements), control.id


def test_every_control_read_from_its_page_names_the_page() -> None:
    """The provenance of each control's details: the section of AWS's controls reference it was read from."""
    base = "https://docs.aws.amazon.com/securityhub/latest/userguide/"
    for control in crosswalk.controls():
        service, number = control.id.split(".")
        page = f"{base}{service.lower()}-controls.html#{service.lower()}-{number}"
        assert control.details_page == (page if control.details_read_from_control_page else ""), control.id
    assert "details_page" in crosswalk.source()["note"]


def test_every_control_is_mapped_and_nothing_else() -> None:
    listed = {c.id for c in crosswalk.controls()}
    assert set(crosswalk.MAPPINGS) == listed
    for control_id, mapping in crosswalk.MAPPINGS.items():
        assert not (mapping.runtime and mapping.not_applicable), control_id
        assert not (mapping.rules and (mapping.runtime or mapping.not_applicable)), control_id
        assert set(mapping.rules) <= RULE_IDS, f"{control_id} maps to unknown rules {set(mapping.rules) - RULE_IDS}"


def test_every_applicable_control_has_a_rule_with_both_cases() -> None:
    missing = []
    for control in crosswalk.controls():
        if not crosswalk.applicable(control):
            continue
        found = crosswalk.mapping(control.id).rules
        if not found:
            awaited = crosswalk.AWAITED_RULES.get(control.id)
            # A control may wait for a rule another change brings only while that rule is not in the pack.
            assert awaited is not None, f"{control.id} is applicable and has no rule"
            assert awaited not in RULE_IDS, f"{control.id}: {awaited} is in the pack, map it"
            missing.append(control.id)
            continue
        for rule_id in found:
            good, bad = CASES[rule_id]
            assert good, f"{rule_id} ({control.id}) lacks a compliant case"
            assert bad, f"{rule_id} ({control.id}) lacks a non-compliant case"
    assert set(missing) <= set(crosswalk.AWAITED_RULES)


def test_every_ruled_control_cites_no_requirement_its_rules_do_not() -> None:
    """A control's requirements are a subset of the union of its rules' requirements, so a finding of
    the rule names every requirement the control (and the assessor's crosswalk) names."""
    by_id = {r.id: r for r in RULES}
    short = {}
    for control in crosswalk.controls():
        found = crosswalk.mapping(control.id).rules
        if found:
            covered = {q for rule_id in found for q in by_id[rule_id].requirements}
            if missing := sorted(set(control.requirements) - covered):
                short[control.id] = missing
    assert not short, f"controls citing requirements their rules do not: {short}"


def test_runtime_and_not_applicable_controls_say_why() -> None:
    for control in crosswalk.controls():
        mapping = crosswalk.mapping(control.id)
        if not crosswalk.applicable(control):
            assert len(mapping.reason) >= 30, f"{control.id}: give the reason"


def test_every_rule_names_the_config_rule_that_watches_it_after_deploy() -> None:
    watched = crosswalk.watched_after_deploy()
    assert set(watched) == RULE_IDS
    assert [r for r, name in watched.items() if not name] == []


def test_config_pack_rules_in_the_crosswalk_are_the_projects_packs_and_no_controls() -> None:
    pack = json.loads((ROOT / "compliance/conformance/pci-dss-v4.json").read_text(encoding="utf-8"))
    in_pack = {r["Properties"]["ConfigRuleName"].removeprefix("pci-dss-v4-") for r in pack["Resources"].values()}
    control_rules = {c.config_rule.split(" ")[0] for c in crosswalk.controls()}
    for extra in crosswalk.CONFIG_PACK_RULES:
        assert extra.name in in_pack, extra.name
        assert extra.name not in control_rules, f"{extra.name} is a control's rule already"
        assert set(extra.rules) <= RULE_IDS


def test_readme_shows_the_coverage_figure_and_links_the_crosswalk() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert crosswalk.coverage_sentence() in readme
    assert "pci_rules/CROSSWALK.md" in readme
    assert f"({len(crosswalk.controls())} controls in the list)" in readme
    assert f"the other {len(crosswalk.controls()) - crosswalk.coverage()[1]} need the live account" in " ".join(
        readme.split()
    )
    unread = sum(1 for c in crosswalk.controls() if not c.details_read_from_control_page)
    assert f"for {unread} of the {len(crosswalk.controls())} controls the resource type" in " ".join(readme.split())
    read = len(crosswalk.controls()) - unread
    assert f"page had it: {read} of the {len(crosswalk.controls())}; the other {unread} are marked `*`" in " ".join(
        readme.split()
    )
    with_rule, total = crosswalk.coverage()
    print(f"coverage: {with_rule}/{total} applicable Security Hub PCI DSS v4.0.1 controls with a synth rule")


def test_aws_pci_dss_v4_conformance_pack_is_vendored_with_its_provenance() -> None:
    data = json.loads(crosswalk.AWS_PACK_FILE.read_text(encoding="utf-8"))
    source = data["source"]
    assert source["repository"] == "awslabs/aws-config-rules"
    assert source["path"].endswith("Operational-Best-Practices-for-PCI-DSS-v4.0-including-global-resourcetypes.yaml")
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    date.fromisoformat(source["retrieved"])
    names = [r["name"] for r in data["rules"]]
    assert len(names) == len(set(names)) >= 100
    assert all(set(r) == {"name", "identifier", "resource_types"} for r in data["rules"]), "rule identifiers only"


def test_every_template_visible_aws_pack_rule_is_mapped_or_awaiting_review() -> None:
    """AWS's pack rules that scope a resource type and have no Security Hub control are in CONFIG_PACK_RULES
    (a synth rule), reviewed (AWS_PACK_REVIEWED) or still in AWS_PACK_AWAITING_REVIEW; the scoped part of the
    awaiting set is exactly what is left, so it only shrinks."""
    by_control = {c.config_rule for c in crosswalk.controls()}
    mapped = (
        {c.name for c in crosswalk.CONFIG_PACK_RULES}
        | {c.name for c in crosswalk.AWS_PACK_SYNTH_RULES}
        | {d.name for d in crosswalk.AWS_PACK_REVIEWED}
    )
    left = {
        str(r["name"])
        for r in crosswalk.aws_pack_rules()
        if r["resource_types"] and r["name"] not in by_control and r["name"] not in mapped
    }
    scoped = {str(r["name"]) for r in crosswalk.aws_pack_rules() if r["resource_types"]}
    assert left == crosswalk.AWS_PACK_AWAITING_REVIEW & scoped
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    if left:
        assert f"{len(left)} template-visible rules of AWS's PCI DSS v4.0 conformance pack" in readme
    else:
        assert "No rule of AWS's PCI DSS v4.0 conformance pack awaits review" in readme


def test_aws_pack_rules_checked_at_synth_are_vendored_rules_no_control_or_project_pack_covers() -> None:
    """Each entry names a rule of AWS's vendored pack and its resource types, no control's or the project's
    pack's Config rule, and synth rules that exist with both cases; each pack rule is listed once."""
    vendored = {str(r["name"]): cast("list[str]", r["resource_types"]) for r in crosswalk.aws_pack_rules()}
    control_rules = {c.config_rule.split(" ")[0] for c in crosswalk.controls()}
    project = {c.name for c in crosswalk.CONFIG_PACK_RULES}
    names = [e.name for e in crosswalk.AWS_PACK_SYNTH_RULES]
    assert len(names) == len(set(names))
    for entry in crosswalk.AWS_PACK_SYNTH_RULES:
        assert entry.name in vendored, entry.name
        assert entry.name not in control_rules | project, entry.name
        assert not vendored[entry.name] or list(entry.resource_types) == vendored[entry.name], entry.name
        assert entry.rules, entry.name
        assert set(entry.rules) <= RULE_IDS, entry.name
        for rule_id in entry.rules:
            good, bad = CASES[rule_id]
            assert good, rule_id
            assert bad, rule_id
    watched = crosswalk.watched_after_deploy()
    assert f"eks-cluster-logging-enabled {crosswalk.AWS_PACK_WATCHER}" in watched["PCI4-EKS-ALL-CONTROL-PLANE-LOGS"]
    assert f"dynamodb-pitr-enabled {crosswalk.AWS_PACK_WATCHER}" in watched["PCI4-DYNAMODB-PITR"]


def _pack_sets() -> dict[str, set[str]]:
    return {
        "a Security Hub control's": {c.config_rule.split(" ")[0] for c in crosswalk.controls()},
        "CONFIG_PACK_RULES": {c.name for c in crosswalk.CONFIG_PACK_RULES},
        "AWS_PACK_SYNTH_RULES": {e.name for e in crosswalk.AWS_PACK_SYNTH_RULES},
        "AWS_PACK_REVIEWED": {d.name for d in crosswalk.AWS_PACK_REVIEWED},
        "AWS_PACK_AWAITING_REVIEW": set(crosswalk.AWS_PACK_AWAITING_REVIEW),
    }


def test_every_aws_pack_rule_scoped_or_not_is_exactly_one_of_control_mapped_reviewed_or_awaiting() -> None:
    vendored = {str(r["name"]) for r in crosswalk.aws_pack_rules()}
    sets = {name: found & vendored for name, found in _pack_sets().items()}
    for name in (
        "AWS_PACK_SYNTH_RULES",
        "AWS_PACK_REVIEWED",
        "AWS_PACK_AWAITING_REVIEW",
    ):  # CONFIG_PACK_RULES: the project's own pack
        assert _pack_sets()[name] <= vendored, f"{name} names rules not in AWS's pack"
    placed: dict[str, list[str]] = {}
    for where, names in sets.items():
        for rule_name in names:
            placed.setdefault(rule_name, []).append(where)
    assert {n: w for n, w in placed.items() if len(w) > 1} == {}, "a pack rule appears twice"
    assert sorted(vendored - set(placed)) == [], "pack rules with neither a control, a synth rule nor a decision"
    reviewed = [d.name for d in crosswalk.AWS_PACK_REVIEWED]
    assert len(reviewed) == len(set(reviewed))


def test_every_reviewed_pack_rule_gives_its_kind_reason_pages_and_rules() -> None:
    for decision in crosswalk.AWS_PACK_REVIEWED:
        assert decision.kind in crosswalk.DECISION_KINDS, decision.name
        assert len(decision.reason) >= 30, f"{decision.name}: give the reason"
        assert decision.name in decision.pages, f"{decision.name}: cite the rule's own AWS Config page"
        assert "Guide" in decision.pages or "Reference" in decision.pages, decision.name
        assert bool(decision.rules) == (decision.kind == crosswalk.RULE), decision.name
        assert set(decision.rules) <= RULE_IDS, f"{decision.name}: unknown rules {set(decision.rules) - RULE_IDS}"
        for rule_id in decision.rules:
            good, bad = CASES[rule_id]
            assert good, f"{rule_id} ({decision.name}) lacks a compliant case"
            assert bad, f"{rule_id} ({decision.name}) lacks a non-compliant case"


def test_the_unscoped_pack_rules_are_all_compared() -> None:
    """The pack's rules with no scoped resource type are placed like the others (none left uncompared)."""
    unscoped = {str(r["name"]) for r in crosswalk.aws_pack_rules() if not r["resource_types"]}
    placed = set().union(*_pack_sets().values())
    assert len(unscoped) == 18
    assert unscoped <= placed
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "are not compared at all yet" not in readme


def test_the_crosswalk_counts_the_reviewed_decisions_by_kind() -> None:
    text = crosswalk.render()
    kinds = {k: sum(1 for d in crosswalk.AWS_PACK_REVIEWED if d.kind == k) for k in crosswalk.DECISION_KINDS}
    assert (
        f'{len(crosswalk.AWS_PACK_REVIEWED)} rules of AWS\'s "Operational Best Practices for PCI DSS v4.0" pack' in text
    )
    assert f"{kinds[crosswalk.RULE]} checked by a synth rule, {kinds[crosswalk.RUNTIME]} runtime only" in text
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert (
        f"(`crosswalk.AWS_PACK_REVIEWED`, {len(crosswalk.AWS_PACK_REVIEWED)} rules: {kinds[crosswalk.RULE]} checked"
        f" by a synth rule, {kinds[crosswalk.RUNTIME]} runtime only, {kinds[crosswalk.NOT_APPLICABLE]} not"
        f" applicable to templates, {kinds[crosswalk.PARAMETERISED]} parameterised by values only the owner sets)"
    ) in readme
    unscoped = {str(r["name"]) for r in crosswalk.aws_pack_rules() if not r["resource_types"]}
    waiting = len(crosswalk.AWS_PACK_AWAITING_REVIEW & unscoped)
    if waiting:
        assert f"and {waiting} of its rules with no scoped resource type" in readme
    print(f"AWS pack reviewed: {kinds}; awaiting {len(crosswalk.AWS_PACK_AWAITING_REVIEW)}")
