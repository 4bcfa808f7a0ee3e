"""A compliant and a non-compliant template for each rule of `pci_rules/rules/pack_review.py`.

As in `tests/pci_rule_cases_workloads.py`, the compliant case is the fork app's own resource
(`tests.fork.app.WORKLOAD`) and the non-compliant case changes the one property the rule is about.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.pci_rule_cases_workloads import Resources, bad, good


def _unmetered_rule_group() -> Resources:
    resources = good("RuleGroup")
    resources["RuleGroup"]["Properties"]["VisibilityConfig"]["CloudWatchMetricsEnabled"] = False
    return resources


def _classic_listener(certificate: Any) -> list[dict[str, Any]]:
    listeners: list[dict[str, Any]] = copy.deepcopy(good("Classic")["Classic"]["Properties"]["Listeners"])
    listeners[0]["SSLCertificateId"] = certificate
    return listeners


_SHARE = {
    "Share": {
        "Type": "AWS::ServiceCatalog::PortfolioShare",
        "Properties": {"PortfolioId": {"Ref": "Portfolio"}, "AccountId": "222222222222"},
    }
}

PACK_REVIEW_CASES: dict[str, tuple[Resources, Resources]] = {
    "PCI4-WAF-RULE-GROUP-CONTENT": (good("RuleGroup"), bad("RuleGroup", Rules=[])),
    "PCI4-WAF-CLASSIC-NOT-EMPTY": (good("ClassicAcl", "ClassicRule"), bad("ClassicAcl", "ClassicRule", Rules=[])),
    "PCI4-ACMPCA-NO-ROOT-CA": (good("IssuingCa"), bad("IssuingCa", Type="ROOT")),
    "PCI4-CLB-ACM-CERTIFICATE": (
        good("Classic"),
        bad("Classic", Listeners=_classic_listener("arn:aws:iam::111111111111:server-certificate/classic")),
    ),
    "PCI4-SERVICECATALOG-ORG-SHARE": (good("Portfolio"), {**good("Portfolio"), **_SHARE}),
    "PCI4-APPSYNC-WAF": (good("GraphApi", "GraphWaf"), good("GraphApi")),
}

# Further non-compliant variants, each failing the rule alone.
PACK_REVIEW_EXTRA_BAD: dict[str, Resources] = {
    "unmetered rule group": _unmetered_rule_group(),
    "classic rule without predicates": bad("ClassicRule", Predicates=[]),
}
