"""The workflow diagrams are drawn from the state machines, for eyes and screen readers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tickets.diagram_svg import render, transition_rows
from tickets.diagrams import workflow_graph
from tickets.models import Change, ChangeStatus, Ticket, TicketStatus

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(str(svg))  # noqa: S314 - our own markup, and it must be well-formed


def _ids(root: ET.Element) -> set[str]:
    return {e.get("id") for e in root.iter() if e.get("id")}


@pytest.mark.parametrize(
    ("model", "current"),
    [(Ticket, TicketStatus.IN_TESTING), (Change, ChangeStatus.AWAITING_APPROVAL)],
)
def test_every_status_and_transition_is_drawn(model, current) -> None:
    root = _parse(render(model, current))
    graph = workflow_graph(model)
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for _, label in graph.states:
        for word in label.split():
            assert word in texts
    for edge in graph.edges:
        assert edge.name in texts, edge.name
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert root.get("role") == "img"
    assert title.get("id") in root.get("aria-labelledby")
    assert dict(graph.states)[current] in title.text
    for edge in graph.edges:
        assert edge.name in desc.text


def test_the_current_status_is_highlighted_once() -> None:
    root = _parse(render(Change, ChangeStatus.TO_BE_RELEASED))
    current = [g for g in root.iter(f"{SVG}g") if "wf-node--current" in g.get("class", "")]
    assert len(current) == 1
    assert "To be released" in "".join(t.text or "" for t in current[0].iter(f"{SVG}text"))
    assert current[0].get("aria-current") == "step"


def test_two_diagrams_on_one_page_do_not_share_ids() -> None:
    assert not _ids(_parse(render(Ticket))) & _ids(_parse(render(Change)))


def test_the_table_lists_each_transition_once() -> None:
    rows = transition_rows(Ticket, TicketStatus.ON_HOLD)
    names = [r.name for r in rows]
    assert len(names) == len(set(names))
    resume = next(r for r in rows if r.name == "resume")
    assert resume.from_current and resume.sources == ["On hold"]
    assert len(resume.targets) == 6
