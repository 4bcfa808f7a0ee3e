"""Pack 1.15.0 (issue 21): PCI4-TRAIL-MANAGEMENT-EVENTS reads every selector shape, PCI4-ALARM-ACTIONS asks an
INSUFFICIENT_DATA action, and the landing zone's own alarms meet it without changing how they treat missing data."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pci_rules import TemplateModel, evaluate
from pci_rules.rules import RULES
from pci_rules.rules.trail import management_gaps
from tests.conftest import Synthesized
from tests.pci_rule_cases import TRAIL_OK, r

BY_ID = {rule.id: rule for rule in RULES}
MANAGEMENT = {"Field": "eventCategory", "Equals": ["Management"]}


def _checks(rule_id: str, stacks: dict[str, dict[str, Any]]) -> dict[str, tuple[bool, str]]:
    model = TemplateModel.from_templates({name: {"Resources": resources} for name, resources in stacks.items()})
    (result,) = evaluate(model, [BY_ID[rule_id]])
    return {c.resource.logical_id: (c.passed, c.detail) for c in result.checks}


def _trail(**properties: Any) -> dict[str, Any]:
    return r("AWS::CloudTrail::Trail", **{**TRAIL_OK, **properties})


def _advanced(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"FieldSelectors": [MANAGEMENT, *fields]}


@pytest.mark.parametrize(
    ("properties", "passed"),
    [
        ({}, True),  # no selector: CloudTrail's default records every management event
        ({"EventSelectors": [{}]}, True),  # IncludeManagementEvents true and ReadWriteType All by default
        ({"EventSelectors": [{"IncludeManagementEvents": True, "ReadWriteType": "All"}]}, True),
        ({"EventSelectors": [{"ReadWriteType": "ReadOnly"}, {"ReadWriteType": "WriteOnly"}]}, True),
        ({"EventSelectors": [{"ReadWriteType": "WriteOnly"}]}, False),
        ({"EventSelectors": [{"IncludeManagementEvents": "false"}]}, False),
        ({"EventSelectors": [{"ExcludeManagementEventSources": ["rdsdata.amazonaws.com"]}]}, False),
        ({"AdvancedEventSelectors": [_advanced()]}, True),
        (
            {
                "AdvancedEventSelectors": [
                    _advanced({"Field": "readOnly", "Equals": ["true"]}),
                    _advanced({"Field": "readOnly", "Equals": ["false"]}),
                ]
            },
            True,
        ),
        ({"AdvancedEventSelectors": [_advanced({"Field": "readOnly", "Equals": ["false"]})]}, False),
        ({"AdvancedEventSelectors": [_advanced({"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]})]}, False),
        # data events only: no management events at all
        (
            {
                "AdvancedEventSelectors": [
                    {
                        "FieldSelectors": [
                            {"Field": "eventCategory", "Equals": ["Data"]},
                            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                        ]
                    }
                ]
            },
            False,
        ),
        ({"IsMultiRegionTrail": False}, False),  # records them, but in its own region only
    ],
)
def test_management_events_are_read_from_every_selector_shape(properties: dict[str, Any], passed: bool) -> None:
    checks = _checks("PCI4-TRAIL-MANAGEMENT-EVENTS", {"S": {"Trail": _trail(**properties)}})
    assert checks["Trail"][0] is passed, checks


def test_one_multi_region_trail_of_the_account_is_enough_and_named() -> None:
    narrow = _trail(IsMultiRegionTrail=False, EventSelectors=[{"ReadWriteType": "WriteOnly"}])
    checks = _checks("PCI4-TRAIL-MANAGEMENT-EVENTS", {"S": {"Full": _trail(), "Narrow": narrow}})
    assert checks["Full"] == (True, "")
    assert checks["Narrow"] == (True, "recorded by multi-region trail Full")
    alone = _checks("PCI4-TRAIL-MANAGEMENT-EVENTS", {"S": {"Narrow": narrow}})
    passed, detail = alone["Narrow"]
    assert not passed
    assert "write only (read and write needed)" in detail


def test_an_excluded_source_is_named() -> None:
    trail = _trail(AdvancedEventSelectors=[_advanced({"Field": "eventSource", "NotEquals": ["rdsdata.amazonaws.com"]})])
    passed, detail = _checks("PCI4-TRAIL-MANAGEMENT-EVENTS", {"S": {"Trail": trail}})["Trail"]
    assert not passed
    assert "exclude event sources ['rdsdata.amazonaws.com']" in detail


_KINDS = st.sampled_from(["All", "ReadOnly", "WriteOnly"])
_BASIC = st.fixed_dictionaries(
    {},
    optional={
        "ReadWriteType": _KINDS,
        "IncludeManagementEvents": st.booleans(),
        "ExcludeManagementEventSources": st.lists(st.sampled_from(["kms.amazonaws.com", "rdsdata.amazonaws.com"])),
    },
)
_COVERS = {"All": {"read", "write"}, "ReadOnly": {"read"}, "WriteOnly": {"write"}}


@settings(max_examples=200, deadline=None)
@given(st.lists(_BASIC, min_size=1, max_size=5))
def test_basic_selectors_pass_exactly_when_their_unfiltered_union_is_read_and_write(selectors: list[Any]) -> None:
    """The model of the EventSelector page and the Config rules: a selector records management events unless
    IncludeManagementEvents is false; together those must cover read and write, and none of them may exclude a
    source (multi-region-cloudtrail-enabled fails any non-empty ExcludeManagementEventSources, even where another
    selector records the excluded source's events)."""
    covered: set[str] = set()
    excludes = False
    for selector in selectors:
        if not selector.get("IncludeManagementEvents", True):
            continue
        if selector.get("ExcludeManagementEventSources"):
            excludes = True
        else:
            covered |= _COVERS[selector.get("ReadWriteType", "All")]
    trail = r("AWS::CloudTrail::Trail", EventSelectors=selectors)
    model = TemplateModel.from_templates({"S": {"Resources": {"Trail": trail}}})
    gaps = management_gaps(next(model.resources("AWS::CloudTrail::Trail")))
    assert (not gaps) is (covered == {"read", "write"} and not excludes), (selectors, gaps)


@pytest.mark.parametrize(
    ("properties", "passed"),
    [
        ({"AlarmActions": ["t"], "InsufficientDataActions": ["t"]}, True),
        ({"AlarmActions": ["t"]}, False),
        ({"InsufficientDataActions": ["t"]}, False),
        ({"AlarmActions": ["t"], "InsufficientDataActions": ["t"], "ActionsEnabled": False}, False),
        ({"AlarmActions": ["t"], "InsufficientDataActions": ["t"], "OKActions": []}, True),  # no OK action asked
    ],
)
def test_alarm_actions_follow_the_config_rule_defaults(properties: dict[str, Any], passed: bool) -> None:
    checks = _checks("PCI4-ALARM-ACTIONS", {"S": {"Alarm": r("AWS::CloudWatch::Alarm", **properties)}})
    assert checks["Alarm"][0] is passed, checks


def test_every_alarm_of_the_default_app_notifies_on_insufficient_data_without_changing_missing_data(
    synthesized: Synthesized,
) -> None:
    """The landing zone's alarms (security alarms, the GenerateMac volume alarm, the card vault's) publish to the
    same topic on INSUFFICIENT_DATA as on ALARM, add no OK action, and keep treating missing data points as not
    breaching (or breaching), so a period without data leaves their state as before."""
    alarms = [
        body["Properties"]
        for _, template in synthesized.templates()
        for body in template.get("Resources", {}).values()
        if body["Type"] == "AWS::CloudWatch::Alarm"
    ]
    assert len(alarms) >= 12
    for alarm in alarms:
        assert alarm["InsufficientDataActions"] == alarm["AlarmActions"], alarm.get("AlarmDescription")
        assert "OKActions" not in alarm
        assert alarm["TreatMissingData"] in ("notBreaching", "breaching"), alarm.get("AlarmDescription")
