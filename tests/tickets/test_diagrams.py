"""The README's workflow diagrams are generated from the state machines, and current."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from tickets.diagrams import mermaid, render_into, workflow_graph
from tickets.models import Change, Ticket


def test_readme_diagrams_are_current() -> None:
    readme = (Path(settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")
    assert render_into(readme) == readme, "run `make diagrams`"


def test_every_transition_is_an_edge() -> None:
    graph = workflow_graph(Change)
    edges = {(e.source, e.target, e.name) for e in graph.edges}
    assert ("to_be_released", "in_testing", "perform") in edges
    assert ("awaiting_approval", "to_be_reviewed_by_business", "approve") in edges
    assert ("awaiting_approval", "to_be_released", "approve") in edges
    assert ("to_be_reviewed_by_business", "draft", "reject") in edges
    text = mermaid(Ticket)
    assert "on_hold --> in_progress : resume (provider or customer)" in text
    assert "[*] --> waiting_for_support" in text
    assert "done --> [*]" in text
