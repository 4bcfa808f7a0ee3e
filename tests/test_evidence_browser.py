"""The report in headless Chromium: no diagram clipped, no diagram text under 8 px, PDF printed.

At 1,400 px (a browser window) and at 1,000 px (the width of an A4 landscape page with 12 mm
margins, which `make evidence-pdf` prints). Skipped outside CI when Chromium or Graphviz is
absent; `.ci/run` installs both, so CI never skips it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from compliance.gate import EVIDENCE_DIR
from evidence.browser import chromium, measure, print_pdf
from evidence.report import REPORT_NAME, write_compliance_evidence
from pci_rules.model import TemplateModel
from pci_rules.rule import evaluate
from pci_rules.rules import RULES
from tests.conftest import Synthesized

MIN_TEXT_PX = 8.0


def _tools_or_skip() -> None:
    missing = [name for name, found in (("Chromium", chromium()), ("Graphviz", shutil.which("dot"))) if not found]
    if missing and not os.environ.get("CI"):
        pytest.skip(f"{' and '.join(missing)} not installed (apt-get install chromium graphviz; .ci/run does)")
    assert not missing, f".ci/run installs {', '.join(missing)} before make test"


@pytest.fixture(scope="module")
def report_html(synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _tools_or_skip()
    assembly = tmp_path_factory.mktemp("browser") / "cdk.out"
    shutil.copytree(synthesized.outdir, assembly, ignore=shutil.ignore_patterns(EVIDENCE_DIR))
    model = TemplateModel.from_assembly(assembly)
    write_compliance_evidence(
        assembly, model=model, results=evaluate(model, RULES), gate=synthesized.gate, report=synthesized.report
    )
    return assembly / EVIDENCE_DIR / f"{REPORT_NAME}.html"


@pytest.mark.parametrize("width", [1400, 1000])
def test_no_diagram_is_clipped_and_no_diagram_text_renders_under_8_px(report_html: Path, width: int) -> None:
    measured = measure(report_html, width)
    assert measured.width == width
    assert measured.parts, "no diagram rendered as inline SVG"
    diagrams = {str(part["diagram"]) for part in measured.parts}
    assert {_kind(name) for name in diagrams} == {"network", "data-flow", "security-services"}
    for part in measured.parts:
        assert part["overflow"] is False, f"{part['diagram']} overflows its box at {width} px"
        smallest = part["smallestTextPx"]
        assert isinstance(smallest, float | int), part
        assert smallest >= MIN_TEXT_PX, (part["diagram"], smallest, width)
    # No label is printed over another (text boxes of one part intersecting by more than 1 px).
    overlapping = {str(part["diagram"]): part["overlaps"] for part in measured.parts if part["overlaps"]}
    assert overlapping == {}, overlapping
    # Every label is shown whole in at least one part of its diagram.
    assert measured.cut == {name: [] for name in diagrams}
    if width == 1400:
        assert measured.scroll_width <= width, "the page scrolls sideways at 1,400 px"


def test_the_report_prints_to_pdf(report_html: Path, tmp_path: Path) -> None:
    pdf = print_pdf(report_html, tmp_path / "report.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 2


def test_each_pdf_page_holds_whole_diagram_parts_that_fit_it(report_html: Path, tmp_path: Path) -> None:
    """Page by page: in Chromium's print layout every diagram part fits the printable area of an A4
    landscape page, and printing each part on its own page takes exactly one page per part (a part
    taller than its page would run on to the next). The report's own PDF is A4 landscape throughout."""
    from evidence.browser import PAGE_PT, PRINT_HEIGHT_PX, PRINT_WIDTH_PX, check_print, pdf_pages

    assert "@page { size: A4 landscape; margin: 12mm; }" in report_html.read_text(encoding="utf-8")
    checked = check_print(report_html)
    assert checked.parts, "no diagram part in the report"
    for diagram, width, height in checked.parts:
        assert width <= PRINT_WIDTH_PX + 1, (diagram, width)  # the window is the printable width, rounded
        assert height <= PRINT_HEIGHT_PX, (diagram, height)
    assert checked.pages == len(checked.parts), "a diagram part runs over more than one printed page"
    # Every page's smallest diagram text as printed (issue 20: at least 8 px on paper; a page too dense for it
    # is split into more pages by evidence/pages.py and svg_bands, never drawn smaller). Nothing is wider
    # than the printable width, so Chromium prints the layout unscaled: these are the sizes on paper.
    assert checked.scroll_width <= round(PRINT_WIDTH_PX), checked.scroll_width
    for (diagram, _, _), smallest in zip(checked.parts, checked.smallest_text_px, strict=True):
        assert smallest is not None, diagram
        assert smallest >= MIN_TEXT_PX, (diagram, smallest)
    least = min(s for s in checked.smallest_text_px if s is not None)
    print(f"smallest printed diagram text {least:.2f} px ({least * 0.75:.2f} pt)")
    report_pdf = print_pdf(report_html, tmp_path / "report.pdf").read_bytes()
    for sizes in (checked.page_sizes, pdf_pages(report_pdf)):
        for width, height in sizes:
            assert abs(width - PAGE_PT[0]) < 1.5, (width, height)
            assert abs(height - PAGE_PT[1]) < 1.5, (width, height)
    print(f"diagram parts {len(checked.parts)}, report pages {len(pdf_pages(report_pdf))}")


# Parts per diagram in the HTML on the default app (issue 20): one. Each diagram is shown page by page
# (evidence/pages.py: a region's network as an overview and a page per tier, the data flow by stage, the
# security services by family), every page one part. Before pages: network 6 parts a region (from 12 and
# 10), data flow 4 (from 15), security services 9 (from 12). tests/test_evidence_pages.py checks the same
# on the delivery app's and a three-AZ environment's evidence.
PARTS_AT_MOST = {"network": 1, "data-flow": 1, "security-services": 1}


def _kind(name: str) -> str:
    """`network-us-east-1-cde` -> network (a page's diagram kind)."""
    return next(kind for kind in ("network", "data-flow", "security-services") if name.startswith(kind))


def test_each_diagram_takes_at_most_its_stated_number_of_parts(report_html: Path) -> None:
    import re

    names = re.findall(r'<figure class="diagram" data-diagram="([^"]+)"', report_html.read_text(encoding="utf-8"))
    counts = {name: names.count(name) for name in sorted(set(names))}
    print("diagram parts:", ", ".join(f"{name} {count}" for name, count in counts.items()))
    for name, count in counts.items():
        assert count <= PARTS_AT_MOST[_kind(name)], (name, count)
