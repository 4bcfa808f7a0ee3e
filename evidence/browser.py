"""The report in a real browser: headless Chromium measures the diagrams and prints the PDF.

Not part of the synth (the synth stays machine-independent): the browser test and
`make evidence-pdf` call it. Chromium is the Debian package `chromium` (`.ci/run` installs it).

- `measure(html_path, width)` opens a copy of the report with a measuring script appended (the
  report itself carries no script), at a window `width` px wide, and returns per diagram part
  whether it overflows its box, the smallest rendered text height in px, the pairs of texts whose
  boxes overlap (labels printed over each other), and the texts that no part shows whole (a label
  cut at every part's edge).
- `print_pdf(html_path, pdf_path)` prints the report (A4 landscape, from its `@page` rule).
- `screenshots(html_path, directory)` takes the README's two pictures (`make evidence-screenshots`).
- `check_print(html_path)` is the page-by-page check of the PDF: in Chromium's print layout (the
  report's print styles, at the printable width of an A4 landscape page with 12 mm margins) each
  diagram part's box against the printable area, and a real print of every diagram part, each
  starting a page: as many pages as parts means no part was split across pages (a part taller
  than a page would continue on the next), and every page is A4 landscape.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_RESULT = re.compile(r'<pre id="lz-measure">(.*?)</pre>', re.DOTALL)

# Runs after load: for each <figure class="diagram"> (one part of a diagram), its box against the
# page, and each text element's rendered size; then which texts no part of a diagram shows whole.
_MEASURE = """
<script>
window.addEventListener("load", () => {
  const out = {width: window.innerWidth, scrollWidth: document.documentElement.scrollWidth, parts: []};
  const unseen = {};
  for (const figure of document.querySelectorAll("figure.diagram")) {
    const svg = figure.querySelector("svg");
    const box = svg.getBoundingClientRect();
    const frame = figure.getBoundingClientRect();
    const texts = Array.from(svg.querySelectorAll("text"));
    const name = figure.dataset.diagram;
    if (!(name in unseen)) unseen[name] = new Set(texts.map((_, i) => i));
    let smallest = Infinity;
    texts.forEach((text, i) => {
      const r = text.getBoundingClientRect();
      const size = parseFloat(text.getAttribute("font-size") || "14") * text.getScreenCTM().a;
      const inside = r.left >= box.left - 0.5 && r.right <= box.right + 0.5
        && r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5;
      if (r.width > 0 && inside) {
        unseen[name].delete(i);
        smallest = Math.min(smallest, size);
      }
    });
    // Text boxes that overlap another by more than 1 px each way (labels printed over each other).
    const boxes = texts.map(t => [t.getBoundingClientRect(), t.textContent]).filter(([r]) => r.width > 0);
    const overlaps = [];
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, ta] = boxes[i], [b, tb] = boxes[j];
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 1 && h > 1) overlaps.push([ta, tb]);
      }
    }
    out.parts.push({
      overlaps: overlaps,
      diagram: name,
      overflow: box.right > frame.right + 0.5 || box.left < frame.left - 0.5 || box.right > window.innerWidth,
      svgWidth: box.width,
      smallestTextPx: smallest === Infinity ? null : smallest,
    });
  }
  out.cut = {};
  for (const [name, left] of Object.entries(unseen)) {
    const svg = document.querySelector(`figure[data-diagram="${name}"] svg`);
    const texts = svg.querySelectorAll("text");
    out.cut[name] = Array.from(left).map(i => texts[i].textContent);
  }
  const pre = document.createElement("pre");
  pre.id = "lz-measure";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


# A4 landscape, 12 mm margins (the report's `@page` rule); CSS px are 1/96 in.
PAGE_MM = (297.0, 210.0)
MARGIN_MM = 12.0
PX_PER_MM = 96 / 25.4
PRINT_WIDTH_PX = (PAGE_MM[0] - 2 * MARGIN_MM) * PX_PER_MM  # 1031.8
PRINT_HEIGHT_PX = (PAGE_MM[1] - 2 * MARGIN_MM) * PX_PER_MM  # 703.0
PAGE_PT = (PAGE_MM[0] / 25.4 * 72, PAGE_MM[1] / 25.4 * 72)  # 841.9 x 595.3 pt
_FIGURE = re.compile(r'<figure class="diagram" data-diagram="[^"]*">.*?</figure>', re.DOTALL)
_MEDIABOX = re.compile(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]")
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![s\w])")
_MEASURE_PRINT = """
<script>
window.addEventListener("load", () => {
  const parts = Array.from(document.querySelectorAll("figure.diagram")).map(figure => {
    const box = figure.getBoundingClientRect();
    // The smallest text as printed: its font size times the SVG's scale on the page, in CSS px (1/96 in).
    let smallest = Infinity;
    for (const text of figure.querySelectorAll("svg text")) {
      if (text.getBoundingClientRect().width > 0) {
        smallest = Math.min(smallest, parseFloat(text.getAttribute("font-size") || "14") * text.getScreenCTM().a);
      }
    }
    return {diagram: figure.dataset.diagram, width: box.width, height: box.height,
            smallestTextPx: smallest === Infinity ? null : smallest};
  });
  const pre = document.createElement("pre");
  pre.id = "lz-measure";
  pre.textContent = JSON.stringify({parts: parts, scrollWidth: document.documentElement.scrollWidth});
  document.body.appendChild(pre);
});
</script>
"""


@dataclass(frozen=True)
class PrintCheck:
    """`parts`: each diagram part's box in the print layout (diagram, width px, height px);
    `pages`: pages the diagram-per-page print took; `page_sizes`: every page's size in pt;
    `smallest_text_px`: per part (in `parts` order), its smallest text as printed in CSS px (1/96 in,
    0.75 pt), None for a part without text; `scroll_width`: the print layout's width in CSS px. When it is
    the printable width (nothing wider), Chromium prints the layout unscaled (it shrinks a page only when
    its content overflows), so these sizes are the sizes on paper."""

    parts: list[tuple[str, float, float]]
    pages: int
    page_sizes: list[tuple[float, float]]
    smallest_text_px: list[float | None]
    scroll_width: int


@dataclass(frozen=True)
class Measurement:
    width: int
    scroll_width: int
    parts: list[dict[str, object]]
    cut: dict[str, list[str]]


def chromium() -> str | None:
    """The Chromium executable on PATH, if any."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _base_command(executable: str, width: int) -> list[str]:
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    return [
        executable,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--window-size={width},1000",
    ]


def measure(html_path: Path, width: int, executable: str | None = None) -> Measurement:
    """Render the report at `width` px and measure its diagrams (see the module docstring)."""
    executable = executable or chromium()
    if executable is None:
        raise RuntimeError("Chromium is not installed (apt-get install chromium)")
    text = html_path.read_text(encoding="utf-8").replace("</body>", _MEASURE + "</body>", 1)
    with tempfile.TemporaryDirectory() as scratch:
        page = Path(scratch) / "measure.html"
        page.write_text(text, encoding="utf-8")
        data = _measured(executable, width, page)
    return Measurement(int(data["width"]), int(data["scrollWidth"]), list(data["parts"]), dict(data["cut"]))


def _measured(executable: str, width: int, page: Path) -> Any:
    """Load `page` in headless Chromium `width` px wide and return the JSON its measuring script left in the DOM.

    Raises RuntimeError when Chromium wrote no measurement (its exit code and stderr's end in the message)."""
    done = subprocess.run(  # noqa: S603
        [*_base_command(executable, width), "--virtual-time-budget=20000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    found = _RESULT.search(done.stdout)
    if found is None:
        raise RuntimeError(f"Chromium produced no measurement (exit {done.returncode}): {done.stderr[-2000:]}")
    import html as html_lib

    return json.loads(html_lib.unescape(found.group(1)))


def print_pdf(html_path: Path, pdf_path: Path, executable: str | None = None) -> Path:
    """Print the report to PDF with headless Chromium; the file written."""
    executable = executable or chromium()
    if executable is None:
        raise RuntimeError("Chromium is not installed (apt-get install chromium)")
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(  # noqa: S603
        [
            *_base_command(executable, 1400),
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf_path.resolve()}",
            html_path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if done.returncode != 0 or not pdf_path.is_file():
        raise RuntimeError(f"Chromium could not print {html_path}: {done.stderr[-2000:]}")
    return pdf_path


SCREENSHOT_WIDTH, SCREENSHOT_HEIGHT = 1400, 900
_VIEWBOX = re.compile(r'viewBox="([-\d.]+) ([-\d.]+) ([-\d.]+) ([-\d.]+)"')


def _shoot(executable: str, page: Path, png: Path, height: int) -> None:
    done = subprocess.run(  # noqa: S603
        [
            *_base_command(executable, SCREENSHOT_WIDTH)[:-1],
            f"--window-size={SCREENSHOT_WIDTH},{height}",
            f"--screenshot={png.resolve()}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if done.returncode != 0 or not png.is_file():
        raise RuntimeError(f"Chromium could not take a screenshot of {page}: {done.stderr[-2000:]}")


def screenshots(html_path: Path, directory: Path, executable: str | None = None) -> list[Path]:
    """The README's pictures: the report's first page, and the first data-flow diagram whole
    (its SVG fitted to the width), each as Chromium renders it in a 1,400 px window."""
    executable = executable or chromium()
    if executable is None:
        raise RuntimeError("Chromium is not installed (apt-get install chromium)")
    directory.mkdir(parents=True, exist_ok=True)
    report, diagram = directory / "evidence-report-page.png", directory / "evidence-data-flow.png"
    svgs = sorted((html_path.parent / "diagrams").glob("data-flow-*.svg"))
    if not svgs:
        raise RuntimeError(f"no data-flow SVG beside {html_path} (is Graphviz installed?)")
    box = _VIEWBOX.search(svgs[0].read_text(encoding="utf-8"))
    if box is None:
        raise RuntimeError(f"{svgs[0]} has no viewBox")
    width, height = float(box.group(3)), float(box.group(4))
    _shoot(executable, html_path.resolve(), report, SCREENSHOT_HEIGHT)
    with tempfile.TemporaryDirectory() as scratch:
        page = Path(scratch) / "diagram.html"
        page.write_text(
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"></head>'
            '<body style="margin:0;background:#fff">'
            f'<img src="{svgs[0].resolve().as_uri()}" style="display:block;width:100%" alt=""></body></html>',
            encoding="utf-8",
        )
        _shoot(executable, page, diagram, math.ceil(SCREENSHOT_WIDTH * height / width))
    return [report, diagram]


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """(width, height) in pt of every page of a Chromium PDF (page objects are not compressed)."""
    boxes = [(float(c) - float(a), float(d) - float(b)) for a, b, c, d in _MEDIABOX.findall(pdf)]
    count = len(_PAGE_OBJECT.findall(pdf))
    return boxes if len(boxes) == count else boxes[:count] + [(0.0, 0.0)] * (count - len(boxes))


def _print_styles(html_text: str) -> str:
    """The report with its print rules applied on screen (`@media print` -> `@media all`)."""
    return html_text.replace("@media print", "@media all")


def check_print(html_path: Path, executable: str | None = None) -> PrintCheck:
    """The page-by-page print check (see the module docstring)."""
    executable = executable or chromium()
    if executable is None:
        raise RuntimeError("Chromium is not installed (apt-get install chromium)")
    text = html_path.read_text(encoding="utf-8")
    figures = _FIGURE.findall(text)
    head = text.split("<body>", 1)[0]
    width = round(PRINT_WIDTH_PX)
    with tempfile.TemporaryDirectory() as scratch:
        page = Path(scratch) / "print-layout.html"
        page.write_text(_print_styles(text).replace("</body>", _MEASURE_PRINT + "</body>", 1), encoding="utf-8")
        layout = _measured(executable, width, page)
        measured = layout["parts"]
        parts = [(str(p["diagram"]), float(p["width"]), float(p["height"])) for p in measured]
        smallest = [None if p.get("smallestTextPx") is None else float(p["smallestTextPx"]) for p in measured]
        one_per_page = Path(scratch) / "diagrams.html"
        body = "\n".join(
            f'<div style="break-before: {"auto" if i == 0 else "page"}">{figure}</div>'
            for i, figure in enumerate(figures)
        )
        one_per_page.write_text(f"{head}<body>\n{body}\n</body>\n</html>\n", encoding="utf-8")
        pdf = print_pdf(one_per_page, Path(scratch) / "diagrams.pdf", executable)
        sizes = pdf_pages(pdf.read_bytes())
    return PrintCheck(parts, len(sizes), sizes, smallest, int(layout["scrollWidth"]))


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the compliance report to PDF with headless Chromium.")
    parser.add_argument("html", type=Path)
    parser.add_argument("pdf", type=Path, nargs="?", help="the PDF to write")
    parser.add_argument("--screenshots", type=Path, metavar="DIR", help="write the README's screenshots here instead")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        if args.screenshots is not None:
            written = screenshots(args.html, args.screenshots)
        elif args.pdf is not None:
            written = [print_pdf(args.html, args.pdf)]
        else:
            parser.error("give the PDF to write, or --screenshots DIR")
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
