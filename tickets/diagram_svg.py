"""The two workflow diagrams as inline SVG, drawn from `tickets.diagrams.workflow_graph`.

A fresh machine has Python only (no graphviz, no npm), so the layout is our own and
deliberately simple: the longest path from the initial status runs down one column;
edges between neighbours on it are straight arrows; edges that skip a status or go back
curve round the left; statuses off that path (On hold, Cancelled) sit in a right-hand
column, and a transition that reaches one from several statuses is drawn as one bus.
A transition that keeps the status (approve, agree_window, ...) is listed inside its box.

The result is plain markup styled by `static/css/app.css` (classes `wf-*`), with a
<title> and a <desc> that say the same in words for screen readers.
"""

from __future__ import annotations

import html
import itertools
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import models
from django.utils.safestring import SafeString, mark_safe

from .diagrams import Edge, Graph, workflow_graph
from .workflow import MANUAL

NODE_W = 200
GAP = 46  # vertical space between two boxes of the main column
PAD_TOP = 40  # room for the start marker
LANE = 24  # distance between two curves on the left
BUS = 16  # distance between two buses on the right
CHAR = 6.4  # average width of a character of an 11px label, for the layout only
LABEL_PX = 11
_counter = itertools.count(1)


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return lines or [""]


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


@dataclass
class _Node:
    value: str
    label: str
    lines: list[str]
    loops: list[str]
    loop_lines: list[str]
    main: bool = True
    x: float = 0
    y: float = 0  # top
    h: float = 0
    terminal: bool = False
    left_ports: list[float] = field(default_factory=list)
    right_ports: list[float] = field(default_factory=list)

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def _classify(graph: Graph) -> tuple[list[str], set[int]]:
    """The main path (longest from the initial status, ignoring edges that go back) and
    the indexes of the back edges."""
    order = [v for v, _ in graph.states]
    out: dict[str, list[tuple[int, Edge]]] = defaultdict(list)
    for i, e in enumerate(graph.edges):
        if e.source != e.target:
            out[e.source].append((i, e))
    back: set[int] = set()
    state: dict[str, int] = {}  # 1 on the DFS stack, 2 done

    def visit(v: str) -> None:
        state[v] = 1
        for i, e in out[v]:
            s = state.get(e.target)
            if s == 1:
                back.add(i)
            elif s is None:
                visit(e.target)
        state[v] = 2

    for start in [graph.initial, *order]:
        if start not in state:
            visit(start)

    # Longest distance from the initial status over the remaining (acyclic) edges, in
    # topological order; ties go to the status declared first.
    forward = [e for i, e in enumerate(graph.edges) if i not in back and e.source != e.target]
    indegree = dict.fromkeys(order, 0)
    for e in forward:
        indegree[e.target] += 1
    ready = [v for v in order if indegree[v] == 0]
    topo: list[str] = []
    while ready:
        v = ready.pop(0)
        topo.append(v)
        for e in forward:
            if e.source == v:
                indegree[e.target] -= 1
                if indegree[e.target] == 0:
                    ready.append(e.target)
    dist = {graph.initial: 0}
    pred: dict[str, str] = {}
    for v in topo:
        if v not in dist:
            continue
        for e in forward:
            if e.source != v:
                continue
            d = dist[v] + 1
            better = d > dist.get(e.target, -1)
            tie = d == dist.get(e.target) and order.index(v) < order.index(pred[e.target])
            if better or tie:
                dist[e.target] = d
                pred[e.target] = v
    end = max(dist, key=lambda v: (dist[v], -order.index(v)))
    path = [end]
    while path[-1] in pred:
        path.append(pred[path[-1]])
    return list(reversed(path)), back


def _ports(n: int, h: float) -> list[float]:
    """n attachment points spread over a box side of height h (offsets from its centre)."""
    if n <= 1:
        return [0.0] * n
    span = min(h - 14, 9.0 * (n - 1))
    return [-span / 2 + span * k / (n - 1) for k in range(n)]


def render(
    model: type[models.Model],
    current: str | None = None,
    *,
    title: str | None = None,
) -> SafeString:
    """The workflow of `model` as an <svg> element, `current` highlighted."""
    graph = workflow_graph(model)
    uid = f"wf{next(_counter)}"
    labels = dict(graph.states)
    main_path, _back_edges = _classify(graph)

    loops: dict[str, list[str]] = defaultdict(list)
    for e in graph.edges:
        if e.source == e.target and e.name not in loops[e.source]:
            loops[e.source].append(e.name)
    sources = {e.source for e in graph.edges if e.source != e.target}

    nodes: dict[str, _Node] = {}
    for value, label in graph.states:
        lines = _wrap(label, 24)
        loop_lines = _wrap("↻ " + ", ".join(loops[value]), 30) if loops[value] else []
        nodes[value] = _Node(
            value=value,
            label=label,
            lines=lines,
            loops=loops[value],
            loop_lines=loop_lines,
            main=value in main_path,
            h=20 + 17 * len(lines) + 14 * len(loop_lines),
            terminal=value not in sources,
        )
    row_h = max(n.h for n in nodes.values()) + GAP

    # -- edges, sorted into the three kinds the layout draws differently
    straight: list[tuple[int, Edge]] = []  # neighbours on the main path, downwards
    arcs: list[tuple[int, Edge]] = []  # skips and returns on the main path
    side: dict[tuple[str, str, str], list[tuple[int, Edge]]] = defaultdict(list)
    row = {v: k for k, v in enumerate(main_path)}
    for i, e in enumerate(graph.edges):
        if e.source == e.target:
            continue
        s_main, t_main = e.source in row, e.target in row
        if s_main and t_main:
            if row[e.target] == row[e.source] + 1:
                straight.append((i, e))
            else:
                arcs.append((i, e))
        else:
            # Grouped by transition and off-path status: one bus per group.
            off_path_end = e.target if s_main else e.source
            direction = "to" if s_main else "from"
            side[(e.name, off_path_end, direction)].append((i, e))

    # -- lanes for the arcs on the left: shorter spans nearer the column
    def span(e: Edge) -> tuple[int, int]:
        a, b = row[e.source], row[e.target]
        return (min(a, b), max(a, b))

    lanes: list[list[tuple[int, int]]] = []
    arc_lane: dict[int, int] = {}
    for i, e in sorted(arcs, key=lambda ie: (span(ie[1])[1] - span(ie[1])[0], span(ie[1]))):
        lo, hi = span(e)
        for k, taken in enumerate(lanes):
            if all(hi <= a or lo >= b for a, b in taken):
                taken.append((lo, hi))
                arc_lane[i] = k
                break
        else:
            lanes.append([(lo, hi)])
            arc_lane[i] = len(lanes) - 1
    longest_arc_label = max((len(e.name) for _, e in arcs), default=0)
    left_margin = 16 + (28 + LANE * len(lanes) + longest_arc_label * CHAR if arcs else 0)

    # -- positions: the main column, then the off-path statuses beside it
    x0 = left_margin
    for k, v in enumerate(main_path):
        n = nodes[v]
        n.x = x0
        n.y = PAD_TOP + k * row_h + (row_h - GAP - n.h) / 2
    buses = list(side.items())
    bus_x = {key: x0 + NODE_W + 34 + BUS * k for k, (key, _) in enumerate(buses)}
    longest_bus_label = max((len(name) for (name, _, _) in side), default=0)
    side_x = x0 + NODE_W + 34 + BUS * max(len(buses) - 1, 0) + 24 + longest_bus_label * CHAR
    placed: list[tuple[float, float]] = []
    off_path = [v for v, _ in graph.states if v not in row]
    for v in off_path:
        n = nodes[v]
        n.main = False
        near = [row[e.source] for e in graph.edges if e.target == v and e.source in row]
        near += [row[e.target] for e in graph.edges if e.source == v and e.target in row]
        centre = sum(near) / len(near) if near else len(main_path)
        y = PAD_TOP + centre * row_h + (row_h - GAP - n.h) / 2
        for top, bottom in sorted(placed):
            if y < bottom + 16 and y + n.h > top - 16:
                y = bottom + 16
        placed.append((y, y + n.h))
        n.x, n.y = side_x, y
    width = (side_x + NODE_W if off_path else x0 + NODE_W + 120) + 16
    height = max(n.y + n.h for n in nodes.values()) + 24

    # -- attachment points on the sides of each box
    left_users: dict[str, list[tuple[float, str]]] = defaultdict(list)
    right_users: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for i, e in arcs:
        left_users[e.source].append((arc_lane[i], f"{i}s"))
        left_users[e.target].append((arc_lane[i], f"{i}t"))
    for key, members in buses:
        for i, e in members:
            main_end = e.source if key[2] == "to" else e.target
            right_users[main_end].append((bus_x[key], f"{i}"))
            left_users[key[1]].append((bus_x[key], f"bus{buses.index((key, members))}"))
    left_port: dict[str, float] = {}
    right_port: dict[str, float] = {}
    for v, users in left_users.items():
        unique = sorted(set(users), key=lambda u: (-u[0], u[1]))
        for (_rank, tag), off in zip(unique, _ports(len(unique), nodes[v].h), strict=True):
            left_port[f"{v}:{tag}"] = nodes[v].cy + off
    for v, users in right_users.items():
        unique = sorted(set(users))
        for (_rank, tag), off in zip(unique, _ports(len(unique), nodes[v].h), strict=True):
            right_port[f"{v}:{tag}"] = nodes[v].cy + off

    # -- drawing
    out: list[str] = []
    label_boxes: list[tuple[float, float, float, float]] = []

    def cls(e: Edge) -> str:
        c = "wf-edge"
        if e.trigger != MANUAL:
            c += " wf-edge--system"
        if current is not None and e.source == current:
            c += " wf-edge--from-current"
        return c

    def marker(e: Edge) -> str:
        cur = current is not None and e.source == current
        return f"url(#{uid}-arrow{'-current' if cur else ''})"

    def put_label(
        x: float, y: float, text: str, anchor: str, e: Edge, lo: float, hi: float
    ) -> None:
        w = len(text) * CHAR
        for _ in range(12):
            left = x - w if anchor == "end" else x - w / 2 if anchor == "middle" else x
            box = (left, y - LABEL_PX, left + w, y + 3)
            clash = any(
                box[0] < b[2] and box[2] > b[0] and box[1] < b[3] and box[3] > b[1]
                for b in label_boxes
            )
            if not clash:
                break
            y = y + 14 if y + 14 <= hi else max(lo, y - 28)
        label_boxes.append(box)
        c = "wf-label" + (
            " wf-label--from-current" if current is not None and e.source == current else ""
        )
        out.append(
            f'<text class="{c}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{_esc(text)}</text>'
        )

    out.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="wf" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'aria-labelledby="{uid}-title {uid}-desc">'
    )
    verbose = str(model._meta.verbose_name)
    heading = title or f"{verbose.capitalize()} workflow"
    if current is not None:
        heading += f"; current status: {labels.get(current, current)}"
    out.append(f'<title id="{uid}-title">{_esc(heading)}</title>')
    out.append(f'<desc id="{uid}-desc">{_esc(describe(graph))}</desc>')
    marker_attrs = (
        'viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" '
        'markerUnits="userSpaceOnUse" orient="auto-start-reverse"'
    )
    out.append(
        f'<defs><marker id="{uid}-arrow" {marker_attrs}>'
        '<path class="wf-arrow" d="M0,0 L10,5 L0,10 z"/></marker>'
        f'<marker id="{uid}-arrow-current" {marker_attrs}>'
        '<path class="wf-arrow wf-arrow--current" d="M0,0 L10,5 L0,10 z"/></marker></defs>'
    )

    # the start marker
    first = nodes[graph.initial]
    cx = first.x + NODE_W / 2
    out.append(f'<circle class="wf-start" cx="{cx:.1f}" cy="{first.y - 26:.1f}" r="6"/>')
    out.append(
        f'<path class="wf-edge" d="M{cx:.1f},{first.y - 20:.1f} V{first.y - 1:.1f}" '
        f'marker-end="url(#{uid}-arrow)"/>'
    )

    # straight arrows down the main column; several transitions share one arrow
    pairs: dict[tuple[str, str], list[Edge]] = defaultdict(list)
    for _, e in straight:
        pairs[(e.source, e.target)].append(e)
    for (s, t), es in pairs.items():
        a, b = nodes[s], nodes[t]
        x = a.x + NODE_W / 2
        e = es[0]
        out.append(
            f'<path class="{cls(e)}" d="M{x:.1f},{a.y + a.h:.1f} V{b.y - 1:.1f}" '
            f'marker-end="{marker(e)}"/>'
        )
        names = ", ".join(dict.fromkeys(x.name for x in es))
        mid = (a.y + a.h + b.y) / 2 + 4
        put_label(x + 8, mid, names, "start", e, a.y + a.h + 10, b.y - 4)

    # curves on the left for skips and returns
    for i, e in arcs:
        a, b = nodes[e.source], nodes[e.target]
        ys, yt = left_port[f"{e.source}:{i}s"], left_port[f"{e.target}:{i}t"]
        lx = x0 - 28 - LANE * arc_lane[i]
        r = min(10.0, abs(yt - ys) / 2)
        sign = 1 if yt > ys else -1
        out.append(
            f'<path class="{cls(e)}" d="M{x0:.1f},{ys:.1f} H{lx + r:.1f} '
            f"Q{lx:.1f},{ys:.1f} {lx:.1f},{ys + sign * r:.1f} V{yt - sign * r:.1f} "
            f'Q{lx:.1f},{yt:.1f} {lx + r:.1f},{yt:.1f} H{x0 - 1:.1f}" marker-end="{marker(e)}"/>'
        )
        put_label(lx - 5, (ys + yt) / 2 + 4, e.name, "end", e, min(ys, yt) + 12, max(ys, yt) - 2)

    # buses on the right, to and from the statuses off the main path
    for k, (key, members) in enumerate(buses):
        name, side_status, direction = key
        bx = bus_x[key]
        o = nodes[side_status]
        oy = left_port[f"{side_status}:bus{k}"]
        stub_ys: list[float] = []
        # The trunk is drawn for the member that leaves the current status, if any.
        e0 = next((e for _, e in members if e.source == current), members[0][1])
        for i, e in members:
            main_end = e.source if direction == "to" else e.target
            y = right_port[f"{main_end}:{i}"]
            stub_ys.append(y)
            m = nodes[main_end]
            if direction == "to":
                out.append(f'<path class="{cls(e)}" d="M{m.x + NODE_W:.1f},{y:.1f} H{bx:.1f}"/>')
            else:
                out.append(
                    f'<path class="{cls(e)}" d="M{bx:.1f},{y:.1f} H{m.x + NODE_W + 1:.1f}" '
                    f'marker-end="{marker(e)}"/>'
                )
        top, bottom = min([*stub_ys, oy]), max([*stub_ys, oy])
        if bottom > top:
            out.append(f'<path class="{cls(e0)}" d="M{bx:.1f},{top:.1f} V{bottom:.1f}"/>')
        if direction == "to":
            out.append(
                f'<path class="{cls(e0)}" d="M{bx:.1f},{oy:.1f} H{o.x - 1:.1f}" '
                f'marker-end="{marker(e0)}"/>'
            )
        else:
            out.append(f'<path class="{cls(e0)}" d="M{o.x:.1f},{oy:.1f} H{bx:.1f}"/>')
        put_label(o.x - 6, oy - 4, name, "end", e0, oy - 30, oy + 30)

    # the boxes last, over the lines
    for v, _ in graph.states:
        n = nodes[v]
        c = "wf-node"
        if n.terminal:
            c += " wf-node--terminal"
        state_note = ""
        if v == current:
            c += " wf-node--current"
            state_note = ' aria-current="step"'
        out.append(f'<g class="{c}"{state_note}>')
        out.append(
            f'<rect x="{n.x:.1f}" y="{n.y:.1f}" width="{NODE_W}" height="{n.h:.1f}" rx="8"/>'
        )
        ty = n.y + 23
        for line in n.lines:
            out.append(
                f'<text x="{n.x + NODE_W / 2:.1f}" y="{ty:.1f}" text-anchor="middle">'
                f"{_esc(line)}</text>"
            )
            ty += 17
        for line in n.loop_lines:
            out.append(
                f'<text class="wf-loops" x="{n.x + NODE_W / 2:.1f}" y="{ty - 2:.1f}" '
                f'text-anchor="middle">{_esc(line)}</text>'
            )
            ty += 14
        out.append("</g>")
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text above went through _esc


def describe(graph: Graph) -> str:
    """The diagram in words: each status and where its transitions lead."""
    labels = dict(graph.states)
    by_source: dict[str, list[str]] = defaultdict(list)
    for e in graph.edges:
        how = "" if e.trigger == MANUAL else ", automatic"
        target = "stays" if e.source == e.target else f"to {labels.get(e.target, e.target)}"
        by_source[e.source].append(f"{e.name} ({e.who}{how}) {target}")
    parts = [f"Starts in {labels[graph.initial]}."]
    for value, label in graph.states:
        if by_source[value]:
            parts.append(f"From {label}: " + "; ".join(by_source[value]) + ".")
        else:
            parts.append(f"{label} is final.")
    return " ".join(parts)


@dataclass(frozen=True)
class TransitionRow:
    name: str
    sources: list[str]
    targets: list[str]
    who: str
    automatic: bool
    from_current: bool


def transition_rows(model: type[models.Model], current: str | None = None) -> list[TransitionRow]:
    """One row per transition (sources merged) for the table under a diagram."""
    graph = workflow_graph(model)
    labels = dict(graph.states)
    rows: dict[str, dict[str, object]] = {}
    for e in graph.edges:
        r = rows.setdefault(
            e.name,
            {"sources": [], "targets": [], "who": e.who, "automatic": e.trigger != MANUAL},
        )
        for key, value in (("sources", e.source), ("targets", e.target)):
            label = labels.get(value, value)
            if label not in r[key]:  # type: ignore[operator]
                r[key].append(label)  # type: ignore[attr-defined]
    return [
        TransitionRow(
            name=name,
            sources=r["sources"],  # type: ignore[arg-type]
            targets=r["targets"],  # type: ignore[arg-type]
            who=str(r["who"]),
            automatic=bool(r["automatic"]),
            from_current=current is not None and labels.get(current) in r["sources"],  # type: ignore[operator]
        )
        for name, r in rows.items()
    ]
