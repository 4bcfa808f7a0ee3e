"""The Security Hub PCI DSS v4.0.1 crosswalk: generated, complete, every applicable control ruled and tested."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

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
    """A control's requirements are a subset of the union of its rules' requirements and related requirements
    (pack 1.9.0: a control's requirement the rule's property does not evidence is `related`, with its reason in
    `evidence.catalog.RELATED_NOT_EVIDENCE`), so a finding of the rule names every requirement the control (and
    the assessor's crosswalk) names, evidenced or "supports"."""
    by_id = {r.id: r for r in RULES}
    short = {}
    for control in crosswalk.controls():
        found = crosswalk.mapping(control.id).rules
        if found:
            covered = {q for rule_id in found for q in (*by_id[rule_id].requirements, *by_id[rule_id].related)}
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


# --- AWS's own per-rule mapping (issue 21 part A) -----------------------------------------------------------

_ID = re.compile(r"^(A[1-3]|[1-9]|1[0-2])(\.\d{1,2}){1,3}$")


def _mapping_document() -> dict[str, object]:
    return cast(dict[str, object], json.loads(crosswalk.AWS_MAPPING_FILE.read_text(encoding="utf-8")))


def _known_ids() -> set[str]:
    lines = (ROOT / "evidence" / "pci_dss_v4_0_1_ids.txt").read_text(encoding="utf-8").splitlines()
    return {line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()}


def _section(requirement: str) -> str:
    return ".".join(requirement.split(".")[:2])


def test_the_aws_mapping_is_vendored_with_its_pages_date_and_a_status_per_rule() -> None:
    data = _mapping_document()
    assert data["read"] == "2026-12-03"
    sources = cast(dict[str, dict[str, str]], data["sources"])
    assert set(sources) == set(crosswalk.MAPPING_SOURCES)
    managed = sources["managed_pack"]
    assert managed["url"] == "https://docs.aws.amazon.com/config/latest/developerguide/managed-cpack-pci-dss-v4.html"
    assert managed["source_identifier"] == "PCI-DSS_V4"
    assert "including-global-resourcetypes.yaml" in sources["sample_pack"]["template"]
    for page in sources.values():
        assert page["title"]
        assert page["guide"] == "AWS Config Developer Guide"
        assert page["stored_copy"]
    entries = cast(list[dict[str, Any]], data["rules"])
    names = [cast(str, e["name"]) for e in entries]
    assert names == sorted(set(names)), "one entry a rule, sorted"
    for entry in entries:
        assert set(entry) == {"name", *crosswalk.MAPPING_SOURCES}, entry["name"]
        for source in crosswalk.MAPPING_SOURCES:
            found = entry[source]
            assert found["status"] in (crosswalk.READ, crosswalk.NOT_FOUND), (entry["name"], source)
            if found["status"] == crosswalk.READ:
                ids = cast(list[str], found["control_ids"])
                assert ids, (entry["name"], source)
                assert len(ids) == len(set(ids)), (entry["name"], source)
            else:
                assert "control_ids" not in found, (entry["name"], source)
    # Never an invented mapping: the managed pack's stored copy holds its first row only.
    read_managed = [e["name"] for e in entries if e["managed_pack"]["status"] == crosswalk.READ]
    assert read_managed == ["access-keys-rotated"]
    assert crosswalk.aws_requirements("access-keys-rotated") == (("8.3.9",), "managed_pack")
    # The README's example: the two pages differ on that row (the sample page gives five IDs).
    sample = next(e for e in entries if e["name"] == "access-keys-rotated")["sample_pack"]["control_ids"]
    assert sample == ["8.3.5", "8.3.7", "8.3.9", "8.3.10.1", "8.6.3"]


def test_every_requirement_aws_maps_is_a_v4_0_1_requirement_the_project_knows() -> None:
    """An ID is known when evidence/pci_dss_v4_0_1_ids.txt lists it, or when its principal requirement (1-12,
    or appendix A1/A3) is the standard's and its section's title is the one AWS's page gives it (vendored beside
    the IDs). A mistyped ID (3.6.4, v3.2.1's) or one in a section the page does not have fails."""
    data = _mapping_document()
    titles = cast(dict[str, dict[str, str]], data["sections"])["titles"]
    from evidence.catalog import PRINCIPAL_TITLES

    known = _known_ids()
    by_section_only = set()
    for entry in cast(list[dict[str, Any]], data["rules"]):
        for source in crosswalk.MAPPING_SOURCES:
            for requirement in cast(list[str], entry[source].get("control_ids", [])):
                assert _ID.fullmatch(requirement), (entry["name"], requirement)
                principal = requirement.split(".")[0]
                assert principal in PRINCIPAL_TITLES or principal in ("A1", "A3"), requirement
                assert _section(requirement) in titles, requirement
                if requirement not in known:
                    by_section_only.add(requirement)
    assert all(title.endswith(".") and len(title) > 20 for title in titles.values())
    # The sections AWS's page maps to exist in the standard; the IDs the project itself cites are all in the
    # project's list (test_evidence_catalog); these are AWS's only.
    assert "3.6.4" not in by_section_only
    assert len(by_section_only) == 53, sorted(by_section_only)


def test_every_config_rule_the_crosswalk_places_has_aws_s_mapping_or_says_it_is_not_on_the_pages() -> None:
    mapping = crosswalk.aws_mapping()
    placed = {e.name for e in crosswalk.CONFIG_PACK_RULES} | {e.name for e in crosswalk.AWS_PACK_SYNTH_RULES}
    placed |= {d.name for d in crosswalk.AWS_PACK_REVIEWED}
    vendored = {r["name"] for r in crosswalk.aws_pack_rules()}
    assert placed | vendored == set(mapping)
    on_sample = {n for n, e in mapping.items() if e["sample_pack"]["status"] == crosswalk.READ}
    # The sample pack page maps every rule of the template vendored from it, and none of the project pack's own.
    assert on_sample == vendored
    assert crosswalk.mapping_counts() == {"managed_pack": 1, "sample_pack": len(vendored)}


def _project_pack_requirements() -> dict[str, set[str]]:
    pack = json.loads((ROOT / "compliance/conformance/pci-dss-v4.json").read_text(encoding="utf-8"))
    return {
        body["Properties"]["ConfigRuleName"].removeprefix("pci-dss-v4-"): set(
            (body.get("Metadata") or {}).get("PciDssV401Requirements") or ()
        )
        for body in pack["Resources"].values()
    }


def _rows() -> list[tuple[str, tuple[str, ...]]]:
    rows = [(e.name, e.rules) for e in crosswalk.CONFIG_PACK_RULES]
    rows += [(e.name, e.rules) for e in crosswalk.AWS_PACK_SYNTH_RULES]
    rows += [(d.name, d.rules) for d in crosswalk.AWS_PACK_REVIEWED if d.rules]
    return rows


def _named(requirement: str, reason: str) -> bool:
    """The reason names the requirement: itself, a parent (10.2.1 for 10.2.1.3; A1 for the whole appendix),
    its section, an `x.y.x` wildcard, or a range `a.b-a.d` / `a.b.c-a.b.e` that spans it."""
    tokens = re.findall(r"\bA[1-3](?:\.(?:\d+|x))*|\d+(?:\.(?:\d+|x))+", reason)
    for token in tokens:
        if token.endswith(".x") and requirement.startswith(token[:-1]):
            return True
        if requirement == token or requirement.startswith(token + ".") or _section(requirement) == token:
            return True
    for low, high in re.findall(r"(A?\d+(?:\.\d+)+)-(A?\d+(?:\.\d+)+)", reason):
        head, last = low.rsplit(".", 1)
        if high.rsplit(".", 1)[0] == head:
            for k in range(int(last), int(high.rsplit(".", 1)[1]) + 1):
                if requirement == f"{head}.{k}" or requirement.startswith(f"{head}.{k}."):
                    return True
    return False


def test_every_difference_from_aws_s_mapping_has_a_specific_reviewed_reason() -> None:
    """Where a Config-rule row's synth-rule requirements, or the project pack's mapping of the same Config rule,
    differ from AWS's, crosswalk.DEPARTURES gives the reason; it names every requirement the two differ on,
    is the row's own (no two alike), and no reason stands where nothing differs."""
    project = _project_pack_requirements()
    differing: dict[str, set[str]] = {}
    for name, rule_ids in _rows():
        aws, _ = crosswalk.aws_requirements(name)
        if not aws:
            continue
        ours = set(crosswalk.rule_requirements(rule_ids))
        theirs = set(aws)
        diff = (ours ^ theirs) | (project.get(name, theirs) ^ theirs)
        if diff:
            differing[name] = diff
    assert sorted(set(differing) - set(crosswalk.DEPARTURES)) == [], "differences without a reviewed reason"
    assert sorted(set(crosswalk.DEPARTURES) - set(differing)) == [], "reasons where nothing differs"
    reasons = list(crosswalk.DEPARTURES.values())
    assert len(set(reasons)) == len(reasons)
    for name, diff in differing.items():
        reason = crosswalk.DEPARTURES[name]
        assert len(reason) >= 120, name
        unnamed = sorted(q for q in diff if not _named(q, reason))
        assert not unnamed, f"{name}: the reason does not name {unnamed}"


def test_the_named_check_accepts_parents_sections_wildcards_and_ranges_only() -> None:
    assert _named("10.2.1.3", "the events of 10.2.1.1-10.2.1.7")
    assert _named("1.3.1", "the NSCs of 1.2-1.5")
    assert _named("8.3.10.1", "the password policy's 8.3.x")
    assert _named("A1.1.3", "A1 (multi-tenant service providers only)")
    assert not _named("11.3.1", "only 1.3 here")
    assert not _named("1.3.1", "10.3.1 and 11.3")
    assert not _named("10.2.1.3", "10.2.1.4-10.2.1.7")


def test_the_crosswalk_shows_aws_s_mapping_beside_ours_on_every_config_rule_row() -> None:
    text = crosswalk.CROSSWALK_FILE.read_text(encoding="utf-8")
    for name, rule_ids in _rows():
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
        aws, source = crosswalk.aws_requirements(name)
        cell = f"{', '.join(aws)} ({crosswalk.SOURCE_LABELS[source]})" if aws else "not on either stored page"
        assert f"| {cell} |" in row, name
        ours = crosswalk.rule_requirements(rule_ids)
        evidenced = {q for r in RULES if r.id in rule_ids for q in r.requirements}
        # A requirement no rule of the row evidences is marked "(related)" (pack 1.9.0).
        cell_ours = ", ".join(q if q in evidenced else f"{q} (related)" for q in ours) or "-"
        assert f"| {cell_ours} |" in row, name
    # The QSA reader's examples (r21): AWS maps these three to 1.2.8 and 1.2.5; the pack's reasons say why it
    # cites 1.4.1 for the endpoint type and 1.2.5 with 4.2.1 for the viewer policy.
    assert "1.2.8" in crosswalk.aws_requirements("api-gw-endpoint-type-check")[0]
    assert "1.2.5" in crosswalk.aws_requirements("cloudfront-sni-enabled")[0]
    assert "1.2.5" in crosswalk.aws_requirements("cloudfront-security-policy-check")[0]


def test_readme_states_the_mapping_figures_the_crosswalk_computes() -> None:
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    only_project = len(crosswalk.aws_mapping()) - crosswalk.mapping_counts()["sample_pack"]
    assert f"each of the {len(crosswalk.DEPARTURES)} rows where they differ" in readme
    assert f"The {only_project} Config rules only the project's pack holds are on neither page" in readme
    assert "not vendored yet" not in readme


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=12), min_size=3, max_size=4).map(lambda p: ".".join(map(str, p))),
    st.text(alphabet="abcdefgh ,;()", max_size=40),
)
def test_a_requirement_is_named_by_itself_and_never_by_unrelated_prose(requirement: str, prose: str) -> None:
    assert _named(requirement, f"{prose} {requirement} {prose}")
    assert not _named(requirement, prose)
    # A sibling in another section does not name it.
    other = "13." + requirement.split(".", 1)[1]
    assert not _named(requirement, f"{prose} {other}")


def test_a_control_whose_rules_only_support_its_requirements_is_marked_related_only() -> None:
    """QSA reader r21c, MEDIUM 3: "full" coverage read as requirement coverage where the control's rule carries the
    control's requirements only as `related`. Such a control is marked "related only" in the crosswalk and counted
    apart in the coverage sentence; a control whose rule evidences one of its requirements is not."""
    by_id = {r.id: r for r in RULES}
    text = (Path(crosswalk.__file__).parent / "CROSSWALK.md").read_text(encoding="utf-8")
    flagged = [c for c in crosswalk.controls() if crosswalk.applicable(c) and crosswalk.related_only(c.id)]
    assert {"DocumentDB.2", "EKS.3", "S3.17"} <= {c.id for c in flagged}
    for control in flagged:
        evidenced = {q for rule in crosswalk.mapping(control.id).rules for q in by_id[rule].requirements}
        assert not any(
            q == r or q.startswith(f"{r}.") or r.startswith(f"{q}.") for q in evidenced for r in control.requirements
        ), control.id
        row = next(
            line
            for line in text.splitlines()
            if line.startswith(f"| [{control.id}]") or line.startswith(f"| {control.id}")
        )
        assert "**related only**" in row, control.id
    evidencing = [c for c in crosswalk.controls() if crosswalk.mapping(c.id).rules and not crosswalk.related_only(c.id)]
    assert evidencing
    for control in evidencing:
        evidenced = {q for rule in crosswalk.mapping(control.id).rules for q in by_id[rule].requirements}
        assert any(
            q == r or q.startswith(f"{r}.") or r.startswith(f"{q}.") for q in evidenced for r in control.requirements
        )
    assert (
        f"{len(flagged)} of those with a rule are checked by rules whose findings support"
        in crosswalk.coverage_sentence()
    )


# --- Which pack holds each watching Config rule (QSA reader r21c) ------------------------------------------


def test_the_default_packs_are_the_landing_zones_configuration_defaults() -> None:
    from config.models import AuditConfig, ConformancePacksConfig

    packs = ConformancePacksConfig()
    assert crosswalk.DEFAULT_PROJECT_PACK is packs.project
    assert crosswalk.DEFAULT_AWS_PACK is (packs.aws_managed is not None or packs.aws_sample_s3_uri is not None)
    assert crosswalk.DEFAULT_SECURITY_HUB is (AuditConfig().security_hub_mode != "off")


def test_the_pack_holding_each_config_rule_is_read_from_the_files_the_packs_are_built_from() -> None:
    """The project pack is the template the Detection stack deploys; AWS's is the vendored sample list."""
    from stacks.detection_stack import CONFORMANCE_PACK_TEMPLATE

    assert crosswalk.PROJECT_PACK_FILE == CONFORMANCE_PACK_TEMPLATE
    pack = json.loads(CONFORMANCE_PACK_TEMPLATE.read_text(encoding="utf-8"))
    project = {b["Properties"]["ConfigRuleName"].removeprefix("pci-dss-v4-") for b in pack["Resources"].values()}
    aws = {str(r["name"]) for r in crosswalk.aws_pack_rules()}
    expected = {
        (True, True): crosswalk.BOTH_PACKS,
        (True, False): crosswalk.PROJECT_PACK,
        (False, True): crosswalk.AWS_PACK,
        (False, False): crosswalk.NEITHER_PACK,
    }
    packs = crosswalk.watching_packs()
    assert set(packs) == RULE_IDS
    for rule_id, (held, _) in packs.items():
        for part in held.split("; "):
            if part == "-" or part.startswith("Security Hub "):
                continue
            name, holder = part.split(": ")
            assert holder == expected[(name in project, name in aws)], (rule_id, name)
    for extra in crosswalk.CONFIG_PACK_RULES:
        assert crosswalk.pack_holding(extra.name) in (crosswalk.PROJECT_PACK, crosswalk.BOTH_PACKS), extra.name
    for extra in crosswalk.AWS_PACK_SYNTH_RULES:
        assert crosswalk.pack_holding(extra.name) == crosswalk.AWS_PACK, extra.name


def test_the_crosswalk_says_whether_a_rule_is_watched_in_the_default_configuration() -> None:
    packs = crosswalk.watching_packs()
    # Only in AWS's pack, which the default configuration does not deploy.
    assert packs["PCI4-CLOUDFRONT-SNI"][1].startswith("no: only with AWS's pack")
    # A control's rule: Security Hub's standard runs it.
    assert packs["PCI4-S3-CUSTOMER-KEY"] == (
        "s3-default-encryption-kms: project pack; Security Hub S3.17",
        "yes: project pack, Security Hub",
    )
    assert packs["PCI4-IAM-PERMISSIONS-BOUNDARY"] == ("-", "no Config rule")
    rendered = crosswalk.render()
    assert "| AWS Config rule | Held by | By default |" in rendered
    for rule_id, (held, default) in packs.items():
        assert f" | {held} | {default} |" in rendered, rule_id


def test_the_control_count_is_pinned_to_its_stated_reason() -> None:
    """QSA reader r21c: the issue counted 144 controls, the vendored list has 142. The list's own note says
    why (every entry of AWS's list on the retrieval date; no stored page gives 144 or names a control missing
    here); a refresh that changes the count fails here until the note is reread."""
    meta = crosswalk.source()
    assert len(crosswalk.controls()) == int(meta["listed_count"]) == 142
    note = meta["count_note"]
    assert "144" in note
    assert "retired" in note
    assert "not verified" in note
    assert f"- Why 142 controls: {note}." in crosswalk.render()
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "The 142 are every entry of AWS's list on the retrieval date; the issue's 144 names no source" in readme


def _rule_module_strings() -> list[str]:
    """Every string constant of the rule modules: descriptions, fixes, finding details, docstrings."""
    import ast

    found = []
    for path in sorted((ROOT / "pci_rules" / "rules").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append(node.value)
    return found


def test_no_crosswalk_or_rule_text_speaks_of_the_landing_zone_unless_listed_with_a_reason() -> None:
    """QSA reader r21c: the pack runs on any CDK app; its crosswalk reasons and rule texts must hold for any app
    (`crosswalk.LANDING_ZONE_MENTIONS` lists the mentions that stay, each with its reason)."""
    texts = [crosswalk.render(), *(f"{r.description} {r.fix}" for r in RULES), *_rule_module_strings()]
    allowed = crosswalk.LANDING_ZONE_MENTIONS
    for phrase, reason in allowed.items():
        assert "landing zone" in phrase
        assert len(reason) >= 40, phrase
        assert any(phrase in " ".join(t.split()) for t in texts), f"{phrase!r} is listed but no longer said"
    offending = []
    for text in texts:
        rest = " ".join(text.split())
        for phrase in allowed:
            rest = rest.replace(phrase, "")
        at = rest.lower().find("landing zone")
        if at >= 0:
            offending.append(rest[max(0, at - 60) : at + 40])
    assert offending == []


def test_an_account_level_control_is_full_only_when_a_rule_fails_on_the_resource_missing() -> None:
    """QSA reader r21d HIGH: a control that evaluates the account (`crosswalk.ACCOUNT_LEVEL_TYPES`: the account,
    its one GuardDuty detector per Region) fails in an account without the resource, while a rule over the
    templates examines only what they declare. On an app with no such resource, a control none of whose rules
    fails on the absence is conditional (never full), with the reason saying what it examines."""
    from pci_rules.model import TemplateModel
    from pci_rules.rule import evaluate

    bare = TemplateModel.from_templates({"App": {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}})
    results = {r.rule.id: r for r in evaluate(bare, RULES)}
    derived = set()
    for control in crosswalk.controls():
        rule_ids = crosswalk.mapping(control.id).rules
        if not crosswalk.applicable(control) or not rule_ids:
            continue
        if not set(control.resource_types) <= crosswalk.ACCOUNT_LEVEL_TYPES:
            continue
        if any(results[rule_id].failures for rule_id in rule_ids):
            continue  # the rule fails on absence: finding none is a finding, the control can be full
        derived.add(control.id)
        assert results[rule_ids[0]].evidence.startswith("not evidenced"), control.id
        assert crosswalk.coverage_kind(control.id) == "conditional", control.id
        assert "examined only where" in crosswalk.CONDITIONAL[control.id], control.id
    assert {"CloudTrail.3", "S3.22", "S3.23", "GuardDuty.1", "GuardDuty.6", "GuardDuty.10"} <= derived
    assert "declare a trail" in crosswalk.CONDITIONAL["S3.22"]
    assert "declare a detector" in crosswalk.CONDITIONAL["GuardDuty.6"]


def test_the_coverage_sentence_opens_with_the_figure_a_qsa_can_cite() -> None:
    """QSA reader r21d LOW: full, evidenced (not related only) and verified (not `*`) controls come first."""
    citable = [
        c.id
        for c in crosswalk.controls()
        if crosswalk.applicable(c)
        and crosswalk.coverage_kind(c.id) == "full"
        and not crosswalk.related_only(c.id)
        and c.details_read_from_control_page
    ]
    assert crosswalk.citable() == len(citable)
    assert crosswalk.coverage_sentence().startswith(f"{len(citable)} of the {crosswalk.coverage()[1]} ")
    assert "CloudTrail.3" not in citable  # conditional, and `*`
    assert "GuardDuty.6" not in citable  # conditional
