"""Several sections of a change saved at once (the staff editor's form, the API's PATCH),
judged by where the whole save ends."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from ..models import Change, User
from ..selectors import access_change
from .changes import (
    _EDIT_BATCH,
    _edits_made,
    _require_editor,
    change_set_components,
    change_set_tickets,
    change_update,
)
from .parts import checklist_item_update, scenario_add, scenario_remove, scenario_update


@dataclass(frozen=True)
class ScenarioEdit:
    """One row of section 8 in a `change_edit`: a new scenario (no `id`), a changed one,
    or one to remove."""

    id: int | None = None
    kind: str = ""
    description: str = ""
    remove: bool = False


@transaction.atomic
def change_edit(
    *,
    change: Change | int | str,
    by: User,
    sections: dict[str, Any] | None = None,
    components: Iterable[tuple[Any, str | None]] | None = None,
    tickets: Iterable[Any] | None = None,
    scenarios: Iterable[ScenarioEdit] = (),
    checklist: Iterable[tuple[int, str, str]] = (),
) -> Change:
    """One save of several sections at once: the staff editor's form, the API's PATCH.
    Each part goes through its own service (which checks it), then the change is checked
    as a whole: complete if past Draft, approvals dismissed once if any were given. So a
    save that replaces the only regression scenario, or moves a component's version, is
    judged by where it ends, not by a step on the way; all of it is kept, or none.
    `checklist`: (item id, state, reason) triples."""
    obj = access_change(by, change, lock=True)
    _require_editor(obj, by)
    pk = obj.pk
    token = _EDIT_BATCH.set([])
    try:
        if sections:
            change_update(change=pk, by=by, **sections)
        if components is not None:
            change_set_components(change=pk, by=by, components=components)
        if tickets is not None:
            change_set_tickets(change=pk, by=by, tickets=tickets)
        for row in scenarios:
            if row.id and row.remove:
                scenario_remove(scenario=row.id, by=by, change=pk)
            elif row.id:
                scenario_update(
                    scenario=row.id, by=by, change=pk, kind=row.kind, description=row.description
                )
            elif not row.remove:
                scenario_add(change=pk, by=by, kind=row.kind, description=row.description)
        for item, state, reason in checklist:
            checklist_item_update(item=item, by=by, change=pk, state=state, reason=reason)
        rows = _EDIT_BATCH.get() or []
    finally:
        _EDIT_BATCH.reset(token)
    obj = access_change(by, pk, lock=True)
    if rows:
        _edits_made(obj, by, rows)
    return obj
