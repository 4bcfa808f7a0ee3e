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

import re
from collections.abc import Iterable, Mapping, Sequence

from evidence.diagrams import Cluster, Diagram, Edge, Node, Section

LEGEND = "cluster_legend"
_NUMBERED = re.compile(r"^(\D*?)(\d+)$")
_RANGE = re.compile(r"^(\D*?)(\d+)-\1(\d+)$")
PAGE_SPACING = (0.1, 0.22)  # Graphviz nodesep, ranksep (inches) of every page: one printed page each
PER_LINE = 4  # labels joined on one line of a merged arrow's label


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
    """The single labels a (joined) label stands for: `F12-F14, F2` -> {F12, F13, F14, F2}."""
    found: set[str] = set()
    for item in re.split(r",\s*|\n", label):
        ranged = _RANGE.match(item)
        if ranged:
            prefix, start, end = ranged.group(1), int(ranged.group(2)), int(ranged.group(3))
            found |= {f"{prefix}{n}" for n in range(start, end + 1)}
        elif item:
            found.add(item)
    return found


def _merged(edges: Iterable[tuple[str, str, Edge]]) -> list[Edge]:
    """(source, target, edge) triples as one edge per (source, target, kind), labels joined."""
    groups: dict[tuple[str, str, str], list[Edge]] = {}
    for source, target, edge in edges:
        groups.setdefault((source, target, edge.kind), []).append(edge)
    out = []
    for (source, target, kind), members in groups.items():
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


def _copy(cluster: Cluster, placed: Mapping[str, list[str]]) -> Cluster | None:
    """`cluster` with only the nodes placed in it on this page (and the clusters that keep any)."""
    inner = [c for c in (_copy(i, placed) for i in cluster.clusters) if c is not None]
    nodes = placed.get(cluster.id, [])
    if not nodes and not inner:
        return None
    return Cluster(cluster.id, cluster.label, cluster.kind, list(nodes), inner)


def _summary_id(key: str) -> str:
    return "page_" + re.sub(r"[^A-Za-z0-9_]", "_", key)


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
        self.count = len(self.sections) + (1 if diagram.overview else 0)
        self.numbers: dict[str, int] = {}
        number = 2 if diagram.overview else 1
        for section in self.sections:
            self.numbers[section.key] = number
            number += 1

    def name(self, key: str) -> str:
        return f"{self.diagram.name}-{key}"

    def summary(self, section: Section, with_page: bool = True) -> Node:
        where = f"\nsee page {self.numbers[section.key]} of {self.count}" if with_page else ""
        return Node(_summary_id(section.key), section.summary + where, section.kind, link=self.name(section.key))

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
                    other = by_key[key]
                    summaries.setdefault(key, self.summary(other))
                    homes[summaries[key].id] = self.summary_home(other)
                    ends.append(summaries[key].id)
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
        return page

    def overview(self) -> Diagram:
        source = self.diagram
        nodes = [self.summary(s) for s in self.sections]
        homes = {_summary_id(s.key): self.summary_home(s) for s in self.sections}
        triples = []
        for edge in source.edges:
            ends = [self.assigned.get(edge.source), self.assigned.get(edge.target)]
            if ends[0] is not None and ends[1] is not None and ends[0] != ends[1]:
                triples.append((_summary_id(ends[0]), _summary_id(ends[1]), edge))
        page = self.page(
            f"Page 1 of {self.count}: overview, {source.overview} (each box is a page of its own)",
            self.name("overview"),
            nodes,
            homes,
            "TB",  # a handful of boxes: top to bottom keeps the page narrow
        )
        page.edges = _merged(triples)
        return page


def pages(diagram: Diagram) -> list[Diagram]:
    """The diagram's pages (see the module docstring); [] when it has no sections."""
    if not diagram.sections:
        return []
    pager = _Pager(diagram)
    out = [pager.overview()] if diagram.overview else []
    return out + [pager.section_page(s) for s in pager.sections]
