"""Refresh `securityhub_pci_dss_v4_controls.json` from the live AWS documentation (needs internet).

`make securityhub-controls` runs `python -m pci_rules.refresh_controls`: it reads the list "Controls that
apply to PCI DSS v4.0.1" of the Security Hub CSPM user guide's PCI DSS page, then each control's section
of its service page (`<service>-controls.html`) for the resource type, the PCI DSS v4.0.1 requirements and
the AWS Config rule, and rewrites the vendored file with today's date. Nothing at synth or test time calls
it; `python -m pci_rules.crosswalk` then regenerates the crosswalk, and its test names any control the
mapping does not cover yet.
"""

from __future__ import annotations

import html
import json
import re
import sys
import urllib.request
from datetime import date
from typing import Any

from pci_rules.crosswalk import CONTROLS_FILE

BASE = "https://docs.aws.amazon.com/securityhub/latest/userguide/"
STANDARD_PAGE = BASE + "pci-standard.html"
_TAG = re.compile(r"<[^>]+>")
_CONTROL = re.compile(r"\[([A-Za-z0-9]+\.\d+)\]\s*(.+)")


def _text(markup: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", markup)).split())


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (a fixed https documentation URL)
        body: bytes = response.read()
    return body.decode("utf-8", errors="replace")


def listed_controls(page: str) -> list[tuple[str, str, str]]:
    """(control ID, title, service page) of every control under "Controls that apply to PCI DSS v4.0.1"."""
    _, _, section = page.partition("Controls that apply to PCI DSS v4.0.1")
    found = []
    for href, label in re.findall(r'<a href="([a-z0-9-]+-controls\.html)#[^"]*"[^>]*>(.*?)</a>', section, re.S):
        match = _CONTROL.match(_text(label))
        if match:
            found.append((match.group(1), match.group(2), href))
    return found


def control_details(page: str, control_id: str) -> dict[str, Any]:
    """Resource types, v4.0.1 requirements and Config rule from the control's section of its service page."""
    text = _text(page)
    start = text.find(f"[{control_id}]")
    section = text[start : text.find(" [", start + len(control_id) + 3)] if start >= 0 else ""
    requirements = re.findall(r"PCI DSS v4\.0\.1/([\d.]+)", section)
    types = re.search(r"Resource type:\s*(.+?)\s*AWS Config rule:", section)
    rule = re.search(r"AWS Config rule:\s*(.+?)\s*Schedule type:", section)
    return {
        "resource_types": (types.group(1).split() if types else []),
        "requirements": requirements,
        "config_rule": rule.group(1) if rule else "",
        "details_read_from_control_page": bool(types and requirements),
    }


def refresh() -> dict[str, Any]:
    pages: dict[str, str] = {}
    controls = []
    for control_id, title, href in listed_controls(_get(STANDARD_PAGE)):
        page = pages.setdefault(href, _get(BASE + href))
        details = control_details(page, control_id)
        anchor = control_id.lower().replace(".", "-")
        details["details_page"] = f"{BASE}{href}#{anchor}" if details["details_read_from_control_page"] else ""
        controls.append({"id": control_id, "title": title, **details})
    current = json.loads(CONTROLS_FILE.read_text(encoding="utf-8"))
    return {
        **{k: v for k, v in current.items() if k != "controls"},
        "retrieved": date.today().isoformat(),
        # The count the page lists today; count_note (why it may differ from a figure quoted elsewhere) is kept,
        # and tests/test_crosswalk.py fails until it is reread against the new count.
        "listed_count": len(controls),
        "retrieved_how": f"python -m pci_rules.refresh_controls from {STANDARD_PAGE} and its control pages",
        "controls": controls,
    }


def main() -> int:
    try:
        data = refresh()
    except OSError as err:
        print(f"error: could not read the AWS documentation ({err}); the vendored list is unchanged", file=sys.stderr)
        return 1
    CONTROLS_FILE.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"{CONTROLS_FILE}: {len(data['controls'])} controls, retrieved {data['retrieved']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
