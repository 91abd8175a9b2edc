"""The two workflows as data, Mermaid and Markdown, generated from the state machines.

Nothing here is drawn by hand: the README's diagrams and tables (`manage.py
workflow_diagrams`) and the diagrams in the web UI all read `workflow_graph`, which reads
the `@transition` declarations on the models.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from .models import Change, Ticket
from .workflow import MANUAL, targets_of, transitions_of

MACHINES: dict[str, type[models.Model]] = {"ticket": Ticket, "change": Change}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    name: str
    who: str
    trigger: str

    @property
    def label(self) -> str:
        how = "" if self.trigger == MANUAL else ", automatic"
        return f"{self.name} ({self.who}{how})"


@dataclass(frozen=True)
class Graph:
    states: list[tuple[str, str]]  # (value, label) in the TextChoices' order
    initial: str
    edges: list[Edge]


def workflow_graph(model: type[models.Model]) -> Graph:
    status = model._meta.get_field("status")
    edges = []
    for t in transitions_of(model):
        for target in targets_of(t, t.source):
            edges.append(
                Edge(
                    source=str(t.source),
                    target=target,
                    name=t.name,
                    who=t.custom.get("who", ""),
                    trigger=t.custom.get("trigger", MANUAL),
                )
            )
    return Graph(
        states=[(str(v), str(label)) for v, label in status.choices],  # type: ignore[union-attr]
        initial=str(status.default),  # type: ignore[union-attr]
        edges=edges,
    )


def mermaid(model: type[models.Model]) -> str:
    g = workflow_graph(model)
    lines = ["stateDiagram-v2", f"    [*] --> {g.initial}"]
    for value, label in g.states:
        lines.append(f"    {value} : {label}")
    for e in g.edges:
        lines.append(f"    {e.source} --> {e.target} : {e.label}")
    terminal = {v for v, _ in g.states} - {e.source for e in g.edges}
    for value in sorted(terminal):
        lines.append(f"    {value} --> [*]")
    return "\n".join(lines)


def markdown_table(model: type[models.Model]) -> str:
    """One row per transition: sources merged, as WORKFLOW.md writes its tables."""
    rows: dict[str, dict[str, object]] = {}
    for t in transitions_of(model):
        row = rows.setdefault(
            t.name,
            {
                "sources": [],
                "targets": [],
                "who": t.custom.get("who", ""),
                "how": t.custom.get("trigger", MANUAL),
                "needs": ", ".join(t.custom.get("needs", ())),
                "guards": ", ".join(getattr(c, "__name__", "?") for c in t.conditions),
            },
        )
        row["sources"].append(t.source)  # type: ignore[attr-defined]
        for target in targets_of(t, t.source):
            if target not in row["targets"]:  # type: ignore[operator]
                row["targets"].append(target)  # type: ignore[attr-defined]
    out = [
        "| transition | from | to | who | how | needs | guards |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        sources = ", ".join(f"`{s}`" for s in r["sources"])  # type: ignore[attr-defined]
        targets = ", ".join(f"`{s}`" for s in r["targets"])  # type: ignore[attr-defined]
        out.append(
            f"| `{name}` | {sources} | {targets} | {r['who']} | {r['how']} | "
            f"{r['needs']} | {r['guards']} |"
        )
    return "\n".join(out)


def readme_block(key: str) -> str:
    model = MACHINES[key]
    return f"```mermaid\n{mermaid(model)}\n```\n\n{markdown_table(model)}"


def render_into(text: str) -> str:
    """Replace each `<!-- BEGIN workflow:KEY -->...<!-- END workflow:KEY -->` block."""
    for key in MACHINES:
        begin, end = f"<!-- BEGIN workflow:{key} -->", f"<!-- END workflow:{key} -->"
        head, found, rest = text.partition(begin)
        if not found:
            raise ValueError(f"README has no {begin} marker")
        _, found, tail = rest.partition(end)
        if not found:
            raise ValueError(f"README has no {end} marker")
        text = f"{head}{begin}\n{readme_block(key)}\n{end}{tail}"
    return text
