"""A wide diagram as pages a person reads one at a time (issue 20): one page per section, plus an overview.

A `Diagram` that lists `sections` (a region's tiers, a data flow's stages, the security services'
families) is drawn whole once, as the full reference drawing, and then page by page:

- each **section page** draws the nodes of its section as the full drawing does (same ids, labels,
  clusters, the CDE boundary), and every other section that an edge of the page reaches as **one
  summary node** (`Section.summary`: a tier's name and CIDRs), linked to that section's page; every
  edge with one end on the page is kept, its far end moved to the summary node, and parallel edges
  between the same two boxes are drawn as one arrow carrying all their labels (`F12-F15`, `3, 7`), so
  the numbers the full drawing gives its flows and hops read the same on every page and in its table;
- the **overview page** draws every section as its summary node, inside the clusters the section's
  own cluster sits in (so the CDE boundary holds the CDE tiers), with the edges between sections.

Every page carries the legend. A node belongs to the section whose cluster holds it, else to the
section it names itself (`Node.section`), else to the section it has most edges to (ties: the earlier
section), else the first. `pages(diagram)` returns the overview first, then the sections in order;
nothing of the full drawing is dropped (tests/test_evidence.py checks every node is on exactly one
page and every edge on a page).
"""

from __future__ import annotations

import html
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence

from evidence.diagrams import Cluster, Diagram, Edge, Node, Section

LEGEND = "cluster_legend"
_NUMBERED = re.compile(r"^(\D*?)(\d+)$")
_RANGE = re.compile(r"^(\D*?)(\d+)-\1(\d+)$")
PAGE_SPACING = (0.1, 0.22)  # Graphviz nodesep, ranksep (inches) of every page: one printed page each
PER_LINE = 2  # labels joined on one line of a merged arrow's label


def _walk(clusters: Iterable[Cluster], path: tuple[Cluster, ...] = ()) -> Iterable[tuple[Cluster, tuple[Cluster, ...]]]:
    """Every cluster with the clusters above it (outermost first)."""
    for cluster in clusters:
        yield cluster, path
        yield from _walk(cluster.clusters, (*path, cluster))


def _inside(cluster: Cluster) -> list[str]:
    return [*cluster.nodes, *(n for inner in cluster.clusters for n in _inside(inner))]


def assignment(diagram: Diagram) -> dict[str, str]:
    """Node id -> the key of the section (page) it is drawn on; legend nodes are on every page, not here."""
    walked = list(_walk(diagram.clusters))
    legend = {n for c, _ in walked if c.id == LEGEND for n in _inside(c)}
    by_cluster = {c.id: c for c, _ in walked}
    found: dict[str, str] = {}
    for section in diagram.sections:
        if section.cluster and section.cluster in by_cluster:
            for node_id in _inside(by_cluster[section.cluster]):
                found.setdefault(node_id, section.key)
    keys = [s.key for s in diagram.sections]
    for node in diagram.nodes.values():
        if node.id not in found and node.id not in legend and node.section in keys:
            found[node.id] = node.section
    left = [n for n in diagram.nodes if n not in found and n not in legend]
    while left:
        placed = False
        for node_id in left:
            counts = dict.fromkeys(keys, 0)
            for edge in diagram.edges:
                other = edge.target if edge.source == node_id else edge.source if edge.target == node_id else None
                if other is not None and other in found:
                    counts[found[other]] += 1
            best = max(keys, key=lambda k: (counts[k], -keys.index(k)))
            if counts[best]:
                found[node_id] = best
                placed = True
        left = [n for n in left if n not in found]
        if not placed:
            for node_id in left:
                found[node_id] = keys[0]
            left = []
    return found


def join_labels(labels: Iterable[str]) -> str:
    """Labels of parallel edges as one: numbered ones (`F12`, `3`) in order, runs of three or more as
    ranges (`F12-F15`), at most PER_LINE to a line; empty labels dropped."""
    unique = list(dict.fromkeys(label for label in labels if label))
    numbered = [(m.group(1), int(m.group(2))) for label in unique if (m := _NUMBERED.match(label))]
    if len(numbered) != len(unique):
        return "\n".join(unique)
    items: list[str] = []
    ordered = sorted(set(numbered))
    run: list[tuple[str, int]] = []
    for prefix, number in [*ordered, ("", -2)]:
        if run and (prefix != run[-1][0] or number != run[-1][1] + 1):
            start, end = run[0], run[-1]
            items += [f"{start[0]}{start[1]}-{end[0]}{end[1]}"] if len(run) >= 3 else [f"{p}{n}" for p, n in run]
            run = []
        run.append((prefix, number))
    return "\n".join(", ".join(items[i : i + PER_LINE]) for i in range(0, len(items), PER_LINE))


def label_numbers(label: str) -> set[str]:
    """The single labels a (joined) label stands for: `F12-F14, F2` -> {F12, F13, F14, F2}; a line that
    is not a list of numbers and ranges is one label ("events (HTTPS, TLS)")."""
    found: set[str] = set()
    for line in label.split("\n"):
        items = re.split(r",\s*", line)
        if not all(_NUMBERED.match(i) or _RANGE.match(i) for i in items):
            found.add(line)
            continue
        for item in items:
            ranged = _RANGE.match(item)
            if ranged:
                prefix, start, end = ranged.group(1), int(ranged.group(2)), int(ranged.group(3))
                found |= {f"{prefix}{n}" for n in range(start, end + 1)}
            else:
                found.add(item)
    return found


KIND_ORDER = ("data", "flow", "key", "log", "route")  # an overview arrow of several kinds is drawn as the first
CARD_DATA = "data"  # the edge kind of a hop that carries card data (evidence.diagrams.carries_card_data)


def _merged(edges: Iterable[tuple[str, str, Edge]], *, any_kind: bool = False) -> list[Edge]:
    """(source, target, edge) triples as one edge per (source, target, kind), labels joined; with
    `any_kind` (the overview) one edge per (source, target, data class), drawn as its members' first kind in
    KIND_ORDER: card-data hops and the other hops between two boxes are never one arrow."""
    groups: dict[tuple[str, str, str], list[Edge]] = {}
    for source, target, edge in edges:
        data_class = CARD_DATA if edge.kind == CARD_DATA else "other"
        groups.setdefault((source, target, data_class if any_kind else edge.kind), []).append(edge)
    out = []
    for (source, target, _class), members in groups.items():
        kind = min((e.kind for e in members), key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else 99)
        refs = tuple(dict.fromkeys(r for e in members for r in e.refs))
        detail = "; ".join(dict.fromkeys(e.detail for e in members if e.detail))
        out.append(
            Edge(
                source,
                target,
                join_labels(e.label for e in members),
                kind,
                refs,
                detail,
                members[0].tls,
                members[0].data,
            )
        )
    return out


def _apart(edges: Sequence[Edge], rankdir: str = "TB") -> None:
    """A card-data arrow and an arrow of the other hops between the same two boxes leave and enter on opposite
    sides (top to bottom the card-data one on the left, left to right on top; https://graphviz.org/docs/attr-types/portPos/):
    drawn side by side, Graphviz put one's label beside the other arrow (it sets a label right of its arrow).
    Every other key-use arrow enters its box at the top centre: beside the calls converging on the same box
    (the deploy triggers' into the vault's functions), its label was nearer theirs."""
    pairs: dict[tuple[str, str], list[Edge]] = {}
    for edge in edges:
        pairs.setdefault((edge.source, edge.target), []).append(edge)
    for members in pairs.values():
        if len(members) < 2 or not any(e.kind == CARD_DATA for e in members):
            continue
        data, other = (("sw", "nw"), ("se", "ne")) if rankdir == "TB" else (("ne", "nw"), ("se", "sw"))
        for edge in members:
            edge.ports = data if edge.kind == CARD_DATA else other
    if rankdir != "TB":
        return
    for edge in edges:
        if edge.kind == "key" and edge.ports == ("", ""):
            edge.ports = ("", "n")


def _copy(cluster: Cluster, placed: Mapping[str, list[str]]) -> Cluster | None:
    """`cluster` with only the nodes placed in it on this page (and the clusters that keep any)."""
    inner = [c for c in (_copy(i, placed) for i in cluster.clusters) if c is not None]
    nodes = placed.get(cluster.id, [])
    if not nodes and not inner:
        return None
    return Cluster(cluster.id, cluster.label, cluster.kind, list(nodes), inner)


def _summary_id(key: str, scope: str = "") -> str:
    return "page_" + re.sub(r"[^A-Za-z0-9_]", "_", key) + (f"_{scope}" if scope else "")


SCOPE_KINDS = {"cde": "CDE", "connected": "connected-to", "out": "outside"}  # a split summary's "(CDE part)"
PART_LABEL_MIN = 22  # characters a split summary's own subtitle may take where its stage's is shorter


class _Pager:
    def __init__(self, diagram: Diagram) -> None:
        self.diagram = diagram
        self.assigned = assignment(diagram)
        used = set(self.assigned.values())
        self.sections = [s for s in diagram.sections if s.key in used]
        walked = list(_walk(diagram.clusters))
        self.parent: dict[str, str | None] = {c.id: (path[-1].id if path else None) for c, path in walked}
        self.home: dict[str, str | None] = {n: c.id for c, _ in walked for n in c.nodes}
        self.legend = next((c for c, _ in walked if c.id == LEGEND), None)
        # The cluster of each scope class (a data flow's CDE boundary, connected-to and outside clusters).
        self.scope_home = {c.kind: c.id for c in diagram.clusters if c.kind in SCOPE_KINDS}
        self.count = len(self.sections) + (1 if diagram.overview else 0)
        self.numbers: dict[str, int] = {}
        number = 2 if diagram.overview else 1
        for section in self.sections:
            self.numbers[section.key] = number
            number += 1

    def name(self, key: str) -> str:
        return f"{self.diagram.name}-{key}"

    def summary(self, section: Section, with_page: bool = True, scope: str = "", stacked: bool = False) -> Node:
        """The node that stands for `section` on another page; with `scope`, for its nodes of that scope class
        only (shaded by it, its first line saying which part it is; `stacked`, as the overview draws it: the
        part on a line of its own, so a rank of split summaries side by side stays within a page's width)."""
        head, _, rest = section.summary.partition("\n")
        if scope:
            rest = self.part_label(section, scope, rest)
        if scope and not stacked:
            head += f" ({SCOPE_KINDS[scope]} part)"
        if with_page:  # on its first line: a line less a summary box, and a rank of them is a page's height
            head += f", page {self.numbers[section.key]} of {self.count}"
        if scope and stacked:
            rest = f"({SCOPE_KINDS[scope]} part)" + (f"\n{rest}" if rest else "")
        label = head + (f"\n{rest}" if rest else "")
        return Node(_summary_id(section.key, scope), label, scope or section.kind, link=self.name(section.key))

    def part_label(self, section: Section, scope: str, generic: str) -> str:
        """A scope-split summary's subtitle: what its own members are (their `Node.part`, in drawing order), on
        one line no wider than the stage's generic subtitle (`generic`, kept where no member says what it is),
        so a part's box is as tall and as wide as the stage's (QSA reader r20b finding 10: "Entry (outside
        part)" listed the WAF and the load balancer, which are CDE)."""
        parts = list(
            dict.fromkeys(
                n.part
                for n in self.diagram.nodes.values()
                if n.part and self.assigned.get(n.id) == section.key and self.scope_of(n.id) == scope
            )
        )
        if not parts:
            return generic
        width = max(PART_LABEL_MIN, *(len(line) for line in generic.splitlines()))
        shown: list[str] = []
        for index, part in enumerate(parts):
            more = len(parts) - index - 1
            candidate = ", ".join([*shown, part]) + (f" +{more}" if more else "")
            if shown and len(candidate) > width:
                return ", ".join(shown) + f" +{len(parts) - len(shown)}"
            shown.append(part)
        return ", ".join(shown)

    def scope_of(self, node_id: str) -> str:
        """A node's scope class where the diagram splits its summaries by scope, else ""."""
        if not self.diagram.scoped_summaries:
            return ""
        kind = self.diagram.nodes[node_id].kind
        return kind if kind in SCOPE_KINDS and kind in self.scope_home else ""

    def far_end(self, section: Section, node_id: str, stacked: bool = False) -> tuple[Node, str | None]:
        """(summary node, its home cluster) that stands for `node_id` of `section` on another page (`stacked`:
        on the overview, see `summary`)."""
        scope = self.scope_of(node_id)
        if scope:
            return self.summary(section, scope=scope, stacked=stacked), self.scope_home[scope]
        return self.summary(section), self.summary_home(section)

    def summary_home(self, section: Section) -> str | None:
        """The cluster a section's summary node is drawn in: the one its own cluster sits in."""
        if section.home is not None:
            return section.home
        return self.parent.get(section.cluster) if section.cluster else None

    def page(
        self, subtitle: str, name: str, nodes: Sequence[Node], homes: Mapping[str, str | None], rankdir: str = ""
    ) -> Diagram:
        source = self.diagram
        page = Diagram(
            name=name,
            title=source.title,
            subtitle=subtitle,
            rankdir=rankdir or source.rankdir,
            spacing=PAGE_SPACING,
            # A page's numbers as the edges' own labels: as xlabels, the numbers of arrows leaving one summary
            # node were printed in a pile beside it, nearer other arrows than their own.
            xlabels=False,
            page_of=source.name,
        )
        placed: dict[str, list[str]] = {}
        top: list[Node] = []
        for node in nodes:
            page.nodes[node.id] = node
            home = homes.get(node.id)
            if home is None:
                top.append(node)
            else:
                placed.setdefault(home, []).append(node.id)
        page.clusters = [c for c in (_copy(c, placed) for c in source.clusters if c.id != LEGEND) if c is not None]
        if self.legend is not None:
            page.clusters.append(Cluster(self.legend.id, self.legend.label, self.legend.kind, list(self.legend.nodes)))
            for node_id in self.legend.nodes:
                page.nodes[node_id] = source.nodes[node_id]
        return page

    def section_page(self, section: Section) -> Diagram:
        source = self.diagram
        mine = [n for n in source.nodes.values() if self.assigned.get(n.id) == section.key]
        homes: dict[str, str | None] = {n.id: self.home.get(n.id) for n in mine}
        summaries: dict[str, Node] = {}
        triples = []
        by_key = {s.key: s for s in self.sections}
        for edge in source.edges:
            if section.key not in (self.assigned.get(edge.source), self.assigned.get(edge.target)):
                continue
            ends = []
            for end in (edge.source, edge.target):
                key = self.assigned.get(end)
                if key == section.key or key is None:
                    ends.append(end)
                else:
                    node, home = self.far_end(by_key[key], end)
                    summaries.setdefault(node.id, node)
                    homes[node.id] = home
                    ends.append(node.id)
            triples.append((ends[0], ends[1], edge))
        number = self.numbers[section.key]
        page = self.page(
            f"Page {number} of {self.count}: {section.title} (each other page drawn as one summary node)",
            self.name(section.key),
            [*mine, *summaries.values()],
            homes,
            section.rankdir,
        )
        page.edges = _merged(triples)
        _apart(page.edges, page.rankdir)
        return page

    def overview(self) -> Diagram:
        source = self.diagram
        by_key = {s.key: s for s in self.sections}
        found: dict[str, Node] = {}
        homes: dict[str, str | None] = {}
        for node_id, key in self.assigned.items():  # one summary per section (per scope class, where split)
            node, home = self.far_end(by_key[key], node_id, stacked=True)
            found.setdefault(node.id, node)
            homes[node.id] = home
        order = {s.key: i for i, s in enumerate(self.sections)}
        scopes = list(SCOPE_KINDS)
        nodes = sorted(
            found.values(),
            key=lambda n: (
                order[n.link.removeprefix(f"{source.name}-")],
                scopes.index(n.kind) if n.kind in scopes else 0,
            ),
        )
        triples = []
        for edge in source.edges:
            source_key, target_key = self.assigned.get(edge.source), self.assigned.get(edge.target)
            if source_key is None or target_key is None:
                continue
            there = [
                self.far_end(by_key[source_key], edge.source, stacked=True)[0].id,
                self.far_end(by_key[target_key], edge.target, stacked=True)[0].id,
            ]
            if there[0] != there[1]:
                triples.append((there[0], there[1], edge))
        page = self.page(
            f"Page 1 of {self.count}: overview, {source.overview} (each box is a page of its own)",
            self.name("overview"),
            nodes,
            homes,
            "TB",  # a handful of boxes: top to bottom keeps the page narrow
        )
        page.edges = _merged(triples, any_kind=True)  # parallel arrows of several kinds were printed apart
        _apart(page.edges)
        return page


def pages(diagram: Diagram) -> list[Diagram]:
    """The diagram's pages (see the module docstring); [] when it has no sections."""
    if not diagram.sections:
        return []
    pager = _Pager(diagram)
    out = [pager.overview()] if diagram.overview else []
    return out + [pager.section_page(s) for s in pager.sections]


# -- a label nearest its own arrow ------------------------------------------------------------------------
# Graphviz places an edge's label beside the middle of its edge (`label`: a virtual node there; `xlabel`:
# after layout, https://graphviz.org/docs/attrs/xlabel/), not checked against the other edges: where
# several arrows run side by side, a number can end up nearer another arrow than its own. `place_labels`
# moves each such label to the point beside its own path nearest where Graphviz put it.
_EDGE_GROUP = re.compile(r'(<g id="[^"]*" class="edge">)(.*?)(</g>)', re.DOTALL)
_PATH = re.compile(r'<path[^>]* d="([^"]+)"')
_TEXT = re.compile(r'(<text[^>]* x=")([-\d.]+)(" y=")([-\d.]+)("[^>]*font-size="([\d.]+)"[^>]*>)([^<]*)(</text>)')
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
LABEL_GAP = 4.0  # SVG units between a moved label's centre and its own path
Point = tuple[float, float]


def path_points(d: str) -> list[Point]:
    """Points along a Graphviz edge path ("M x,y C x1,y1 x2,y2 x3,y3 ..."), each cubic sampled 12 times."""
    values = [float(v) for v in _NUMBER.findall(d)]
    coords = list(zip(values[::2], values[1::2], strict=False))
    if not coords:
        return []
    points = [coords[0]]
    for i in range(1, len(coords) - 2, 3):
        p0, p1, p2, p3 = coords[i - 1], coords[i], coords[i + 1], coords[i + 2]
        for step in range(1, 13):
            t = step / 12
            a, b, c, e = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t**3
            points.append(
                (a * p0[0] + b * p1[0] + c * p2[0] + e * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + e * p3[1])
            )
    return points


def distance(point: Point, path: Sequence[Point]) -> float:
    """Distance from a point to a polyline (inf for an empty one)."""
    if len(path) == 1:
        return math.hypot(point[0] - path[0][0], point[1] - path[0][1])
    best = math.inf
    for (ax, ay), (bx, by) in itertools.pairwise(path):
        dx, dy = bx - ax, by - ay
        length = dx * dx + dy * dy
        t = 0.0 if length == 0 else max(0.0, min(1.0, ((point[0] - ax) * dx + (point[1] - ay) * dy) / length))
        best = min(best, math.hypot(point[0] - ax - t * dx, point[1] - ay - t * dy))
    return best


def _edges(svg: str) -> list[tuple[re.Match[str], list[Point], list[re.Match[str]]]]:
    out = []
    for group in _EDGE_GROUP.finditer(svg):
        path = _PATH.search(group.group(2))
        if path is not None:
            out.append((group, path_points(path.group(1)), list(_TEXT.finditer(group.group(2)))))
    return out


def _centre(texts: Sequence[re.Match[str]]) -> Point:
    """The centre of a label's lines (each `<text>` is anchored at its middle, on its baseline)."""
    xs = [float(t.group(2)) for t in texts]
    ys = [float(t.group(4)) - float(t.group(6)) / 3 for t in texts]
    return sum(xs) / len(xs), sum(ys) / len(ys)


def misplaced_labels(svg: str) -> list[tuple[str, float, float]]:
    """Edge labels (the centre of the `<text>` lines of an edge's group) nearer another edge's path than their own:
    (label, distance to its own path, distance to the nearest other), SVG units."""
    edges = _edges(svg)
    wrong = []
    for index, (_, own, texts) in enumerate(edges):
        others = [points for i, (_, points, _) in enumerate(edges) if i != index]
        if texts:
            centre = _centre(texts)
            mine = distance(centre, own)
            nearest = min((distance(centre, p) for p in others), default=math.inf)
            if nearest < mine:
                wrong.append((" ".join(t.group(7) for t in texts), round(mine, 1), round(nearest, 1)))
    return wrong


Box = tuple[float, float, float, float]  # left, top, right, bottom (SVG units)
Chunk = tuple[Box, Sequence[Point]]  # (bounding box, points) of a stretch
Path = list[Chunk]
CHUNK = 12  # points a stretch: one cubic of a Graphviz path


def _boxed(points: Sequence[Point]) -> Path:
    """A path as stretches of CHUNK segments, each with its bounding box (they share their end points)."""
    chunks = []
    for start in range(0, max(len(points) - 1, 1), CHUNK):
        part = points[start : start + CHUNK + 1]
        xs, ys = [p[0] for p in part], [p[1] for p in part]
        chunks.append(((min(xs), min(ys), max(xs), max(ys)), part))
    return chunks


def _near(point: Point, path: Path, limit: float) -> bool:
    """Whether `path` comes within `limit` of `point` (a stretch whose box is farther is skipped:
    the box's distance is a lower bound of the stretch's)."""
    for (left, top, right, bottom), points in path:
        dx = max(left - point[0], 0.0, point[0] - right)
        dy = max(top - point[1], 0.0, point[1] - bottom)
        if math.hypot(dx, dy) <= limit and distance(point, points) <= limit:
            return True
    return False


def _box_distance(point: Point, box: Box) -> float:
    """Distance from a point to a box (0 inside): a lower bound of its stretch's distance."""
    left, top, right, bottom = box
    return math.hypot(max(left - point[0], 0.0, point[0] - right), max(top - point[1], 0.0, point[1] - bottom))


def _path_distance(point: Point, path: Path) -> float:
    """`distance` to a boxed path, the same value: stretches nearest by their boxes first, and a stretch
    whose box is no nearer than the best found skipped (every segment is in some stretch)."""
    best = math.inf
    for bound, points in sorted(((_box_distance(point, box), points) for box, points in path), key=lambda c: c[0]):
        if bound >= best:
            break
        best = min(best, distance(point, points))
    return best


def _nearer_other(point: Point, own: Path, others: Sequence[tuple[Box, Path]]) -> bool:
    """Whether some other path (each with the box around all its stretches) is at least as near `point` as
    its own. A path whose whole box is farther than its own path is skipped: every stretch's box lies inside
    that box, so none of its stretches is nearer (the same answer, fewer distances)."""
    mine = _path_distance(point, own)
    return any(_box_distance(point, box) <= mine and _near(point, path, mine) for box, path in others)


def _outer_box(path: Path) -> Box:
    """The box around every stretch of a boxed path."""
    return (
        min(box[0] for box, _ in path),
        min(box[1] for box, _ in path),
        max(box[2] for box, _ in path),
        max(box[3] for box, _ in path),
    )


def _fits(dx: float, dy: float, lines: Sequence[Point], own: Path, others: Sequence[tuple[Box, Path]]) -> bool:
    """Every line of a label, moved by (dx, dy), nearer its own path than any other."""
    return not any(_nearer_other((x + dx, y + dy), own, others) for x, y in lines)


_ANY_TEXT = re.compile(
    r'<text text-anchor="(\w+)" x="([-\d.]+)" y="([-\d.]+)"[^>]*font-size="([\d.]+)"[^>]*>([^<]*)</text>'
)


def _text_box(anchor: str, x: float, y: float, size: float, content: str) -> Box:
    """A text's box as a browser draws it, about: 0.6 em a character, 0.95 em above the baseline and
    0.25 em below (Chromium's boxes for Graphviz's Helvetica, which falls back to a wider sans-serif)."""
    width = 0.6 * size * len(html.unescape(content))
    left = {"start": x, "end": x - width}.get(anchor, x - width / 2)
    return left, y - 0.95 * size, left + width, y + 0.25 * size


_BACKGROUND = re.compile(r'class="graph"[^>]*>\s*(?:<title>[^<]*</title>\s*)?<polygon[^>]* points="([^"]+)"')


def _drawing_box(svg: str) -> Box | None:
    """The drawing's own box (Graphviz's background polygon, in the units the texts use), None if absent."""
    found = _BACKGROUND.search(svg)
    if found is None:
        return None
    values = [float(v) for v in _NUMBER.findall(found.group(1))]
    xs, ys = values[::2], values[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def _overlaps(box: Box, others: Iterable[Box]) -> bool:
    return any(
        min(box[2], o[2]) - max(box[0], o[0]) > 0.5 and min(box[3], o[3]) - max(box[1], o[1]) > 0.5 for o in others
    )


def place_labels(svg: str) -> str:
    """`svg` with every edge label that is nearer another edge's path than its own, or printed over
    another text, moved beside its own path: to the candidate LABEL_GAP units off the path (either side,
    any sampled point) nearest where Graphviz put it among those nearer its own path than any other and
    clear of every other text. Labels already so placed stay; one with no such candidate stays too."""
    edges = _edges(svg)
    boxed = [_boxed(points) for _, points, _ in edges]
    drawing = _drawing_box(svg)  # a moved label stays inside it: past its edge the browser cuts it off
    outer = [_outer_box(path) for path in boxed]
    own_spans = {(t.start() + g.start(2), t.end() + g.start(2)) for g, _, texts in edges for t in texts}
    fixed = [
        _text_box(m.group(1), float(m.group(2)), float(m.group(3)), float(m.group(4)), m.group(5))
        for m in _ANY_TEXT.finditer(svg)
        if (m.start(), m.end()) not in own_spans
    ]
    labels: dict[int, list[Box]] = {}
    for index, (_, _, texts) in enumerate(edges):
        labels[index] = [
            _text_box("middle", float(t.group(2)), float(t.group(4)), float(t.group(6)), t.group(7)) for t in texts
        ]
    moves: dict[int, tuple[float, float]] = {}
    for index, (_, own, texts) in enumerate(edges):
        if not texts or len(own) < 2:
            continue
        others = [(outer[i], path) for i, path in enumerate(boxed) if i != index and edges[i][1]]
        own_boxed = boxed[index]
        lines = [_centre(texts)]  # a label's position: the centre of its lines
        everything = fixed + [b for i, boxes in labels.items() if i != index for b in boxes]
        # Only texts a candidate could reach: within its label's size and the gaps of its own path's box.
        reach = 3 * LABEL_GAP + max(b[2] - b[0] + b[3] - b[1] for b in labels[index])
        xs, ys = [p[0] for p in own], [p[1] for p in own]
        region = (min(xs) - reach, min(ys) - reach, max(xs) + reach, max(ys) + reach)
        around = [
            b for b in everything if b[2] >= region[0] and b[0] <= region[2] and b[3] >= region[1] and b[1] <= region[3]
        ]

        def clear(dx: float, dy: float, index: int = index, around: list[Box] = around) -> bool:
            moved = [(b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy) for b in labels[index]]
            if drawing is not None and any(
                m[0] < drawing[0] or m[1] < drawing[1] or m[2] > drawing[2] or m[3] > drawing[3] for m in moved
            ):
                return False
            return not any(_overlaps(m, around) for m in moved)

        if _fits(0.0, 0.0, lines, own_boxed, others) and not any(_overlaps(b, everything) for b in labels[index]):
            continue
        cx, cy = _centre(texts)
        half = (max(b[3] for b in labels[index]) - min(b[1] for b in labels[index])) / 2
        wide = max(b[2] - b[0] for b in labels[index]) / 2
        candidates: list[tuple[float, float, float]] = []
        for (ax, ay), (bx, by) in itertools.pairwise(own):
            length = math.hypot(bx - ax, by - ay)
            if length == 0:
                continue
            nx, ny = -(by - ay) / length, (bx - ax) / length
            for share, side, extra in itertools.product((0.5,), (1, -1), (0.0, 2 * LABEL_GAP)):
                mx, my = ax + share * (bx - ax), ay + share * (by - ay)
                gap = LABEL_GAP + extra + half * abs(ny) + wide * abs(nx)
                tx, ty = mx + side * nx * gap, my + side * ny * gap
                dx, dy = tx - cx, ty - cy
                candidates.append((math.hypot(dx, dy), dx, dy))
        # The nearest candidate that fits (the first in path order among equally near ones): sorted by
        # cost (a stable sort keeps path order among ties), the first that passes both checks.
        candidates.sort(key=lambda c: c[0])
        best = next((c for c in candidates if clear(c[1], c[2]) and _fits(c[1], c[2], lines, own_boxed, others)), None)
        if best is not None:
            moves[index] = (best[1], best[2])
            labels[index] = [(b[0] + best[1], b[1] + best[2], b[2] + best[1], b[3] + best[2]) for b in labels[index]]
    if not moves:
        return svg
    out, last = [], 0
    for index, (group, _, texts) in enumerate(edges):
        if index not in moves:
            continue
        dx, dy = moves[index]
        body, cursor, moved = group.group(2), 0, []
        for text in texts:
            moved.append(body[cursor : text.start()])
            x, y = float(text.group(2)) + dx, float(text.group(4)) + dy
            moved.append(f"{text.group(1)}{x:.2f}{text.group(3)}{y:.2f}{text.group(5)}{text.group(7)}{text.group(8)}")
            cursor = text.end()
        moved.append(body[cursor:])
        out += [svg[last : group.start(2)], "".join(moved)]
        last = group.end(2)
    out.append(svg[last:])
    return "".join(out)
