"""The parts of a change with rows of their own: test scenarios (section 8) and their
results, and the checklist (section 9)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from ..errors import InvalidInput, NotVisible, PermissionRefused, WrongState
from ..models import (
    CHECKLIST_FILLER,
    EDITABLE,
    RESULT_RECORDER,
    Change,
    ChecklistItem,
    ChecklistState,
    ScenarioKind,
    ScenarioResult,
    TestScenario,
    User,
)
from ..selectors import (
    access_change,
    checklist_items_visible_to,
    scenarios_visible_to,
)
from .changes import _require_editor, _sections_edited
from .common import _choice, _required_text


@transaction.atomic
def scenario_add(
    *, change: Change | int | str, by: User, kind: str, description: str
) -> TestScenario:
    obj = access_change(by, change, lock=True)
    _require_editor(obj, by)
    kind = _choice(kind, ScenarioKind, "kind")
    description = _required_text(description, "description")
    last = obj.scenarios.order_by("-position").values_list("position", flat=True).first() or 0
    scenario = TestScenario.objects.create(
        change=obj, kind=kind, description=description, position=last + 1
    )
    _sections_edited(
        obj,
        by,
        [("scenarios", None, {"added": scenario.pk, "kind": kind, "description": description})],
    )
    return scenario


def _access_scenario(by: User, scenario: TestScenario | int, change: Any = None) -> TestScenario:
    pk = scenario.pk if isinstance(scenario, TestScenario) else scenario
    qs = scenarios_visible_to(by)
    if change is not None:
        qs = qs.filter(change=access_change(by, change))
    found = qs.filter(pk=pk).first()
    if found is None:
        raise NotVisible(f"No test scenario {pk}.")
    return found


@transaction.atomic
def scenario_update(
    *, scenario: TestScenario | int, by: User, change: Any = None, **fields: Any
) -> TestScenario:
    """Edit a scenario's kind or description (a section 8 edit)."""
    found = _access_scenario(by, scenario, change)
    obj = access_change(by, found.change_id, lock=True)
    _require_editor(obj, by)
    s = TestScenario.objects.get(pk=found.pk)
    edits = []
    if "kind" in fields:
        kind = _choice(fields["kind"], ScenarioKind, "kind")
        if kind != s.kind:
            edits.append(("scenarios", {"id": s.pk, "kind": s.kind}, {"id": s.pk, "kind": kind}))
            s.kind = kind
    if "description" in fields:
        text = _required_text(fields["description"], "description")
        if text != s.description:
            edits.append(
                (
                    "scenarios",
                    {"id": s.pk, "description": s.description},
                    {"id": s.pk, "description": text},
                )
            )
            s.description = text
    if edits:
        s.save()
        _sections_edited(obj, by, edits)
    return s


@transaction.atomic
def scenario_remove(*, scenario: TestScenario | int, by: User, change: Any = None) -> None:
    found = _access_scenario(by, scenario, change)
    obj = access_change(by, found.change_id, lock=True)
    _require_editor(obj, by)
    TestScenario.objects.filter(pk=found.pk).delete()
    _sections_edited(
        obj, by, [("scenarios", {"removed": found.pk, "description": found.description}, None)]
    )


@transaction.atomic
def scenario_record_result(
    *, scenario: TestScenario | int, by: User, result: str, note: str = "", change: Any = None
) -> TestScenario:
    """Record a test result while the change is in testing (the customer, or provider QA
    helping them)."""
    found = _access_scenario(by, scenario, change)
    obj = access_change(by, found.change_id, lock=True)
    result = _choice(result, ScenarioResult, "result")
    if not obj.accepts_test_results:
        raise WrongState(
            f"Results are recorded while the change is In testing; {obj.key} is "
            f"{obj.get_status_display()}."
        )
    if not RESULT_RECORDER(obj, by):
        raise PermissionRefused(RESULT_RECORDER.refusal(obj, by))
    s = TestScenario.objects.select_for_update().get(pk=found.pk)
    s.result = result
    s.note = note or ""
    s.result_by = by
    s.result_at = timezone.now()
    s.save()
    return s


@transaction.atomic
def checklist_item_update(
    *, item: ChecklistItem | int, by: User, state: str, reason: str = "", change: Any = None
) -> ChecklistItem:
    """Section 9: confirm a pre-release check, before perform, by the performer's side."""
    pk = item.pk if isinstance(item, ChecklistItem) else item
    qs = checklist_items_visible_to(by)
    if change is not None:
        qs = qs.filter(change=access_change(by, change))
    found = qs.filter(pk=pk).first()
    if found is None:
        raise NotVisible(f"No checklist item {pk}.")
    obj = access_change(by, found.change_id, lock=True)
    state = _choice(state, ChecklistState, "state")
    if obj.status not in EDITABLE:
        raise WrongState(f"{obj.key} is {obj.get_status_display()}; the checklist is closed.")
    if not CHECKLIST_FILLER(obj, by):
        raise PermissionRefused(CHECKLIST_FILLER.refusal(obj, by))
    if state == ChecklistState.NOT_APPLICABLE and not (reason or "").strip():
        raise InvalidInput(
            "Say why this item does not apply.", fields={"reason": ["Required for not applicable."]}
        )
    i = ChecklistItem.objects.get(pk=found.pk)
    i.state = state
    i.reason = reason if state == ChecklistState.NOT_APPLICABLE else ""
    i.by = by if state != ChecklistState.PENDING else None
    i.at = timezone.now() if state != ChecklistState.PENDING else None
    i.save()
    obj.save(update_fields=["updated"])
    return i
