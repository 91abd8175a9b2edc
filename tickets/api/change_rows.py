"""A change as the API shows it (`ChangeSerializer`'s fields, in its order), built from
rows for a page at once.

`ChangeSerializer` stays the published shape (the OpenAPI schema is generated from it);
this builds the same JSON without a model instance and a nested serializer per scenario,
checklist item, approval and user: a page of 50 changes was about 1,700 model instances and
most of the request's time (docs/benchmarks.md, issue 13). The nested rows are read with
`values()`, usernames by subquery (`username_of`), one query per relation whatever the
page size.
`tests/api/test_change_rows.py` holds the two to the same output.

The changes themselves stay model instances: `Change.incomplete_sections` (the rule of a
complete change) and `conflicts_of` read them, the first through `.all()` of its
components, scenarios and checklist, which `attach_parts` answers from the rows read here;
`conflicts_of` takes the components' names from the same rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from types import SimpleNamespace
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from approvals.models import Approval
from tickets.models import (
    Change,
    ChangeComponent,
    ChecklistItem,
    Environment,
    TestScenario,
    Ticket,
)
from tickets.scheduling import conflicts_of

from .fields import username_of

# What the main query adds to each change instead of joining its users and environment:
# select_related built five instances per change, and PostgreSQL took about 14 ms to plan
# the six-table join (0.5 ms with these subqueries); a COUNT of the list reads none of them.
_NAMES = {
    "api_environment": Subquery(
        Environment.objects.filter(pk=OuterRef("environment_id")).values("code")[:1]
    ),
    "api_author": username_of("author_id"),
    "api_reporter": username_of("reporter_id"),
    "api_window_proposed_by": username_of("window_proposed_by_id"),
    "api_window_agreed_by": username_of("window_agreed_by_id"),
}


def with_representation(changes: QuerySet[Change]) -> QuerySet[Change]:
    """`changes` with what `represent` needs from their own row (their nested rows,
    components included, are read by `attach_parts` for a page at once)."""
    return changes.defer("search_document").annotate(**_NAMES)


class _Rows(list):
    """Rows standing in for a prefetched relation: what `.all()` of its manager answers
    (Django keeps a prefetched relation in `_prefetched_objects_cache` and answers `.all()`
    with it)."""

    def all(self) -> _Rows:
        return self


def datetimes(tz: tzinfo) -> Callable[[datetime | None], str | None]:
    """DRF's DateTimeField.to_representation (ISO 8601 in the current time zone, `Z` for
    UTC) without a field per value. The database's datetimes come in UTC, and converting
    them to a UTC zone again (`astimezone`) was most of the time this takes."""
    utc = tz is UTC or getattr(tz, "key", None) == "UTC"

    def iso(value: datetime | None) -> str | None:
        if value is None:
            return None
        text = (
            value.isoformat() if utc and value.tzinfo is UTC else value.astimezone(tz).isoformat()
        )
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return iso


def _grouped(rows: Iterable[Mapping[str, Any]]) -> dict[int, list[Mapping[str, Any]]]:
    out: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        out[row["change_id"]].append(row)
    return out


@dataclass
class _Parts:
    """The page's components, scenarios, checklist items and current approvals, by
    change, in their models' order; and its attached ticket ids."""

    components: dict[int, list[Mapping[str, Any]]]
    scenarios: dict[int, list[Mapping[str, Any]]]
    checklist: dict[int, list[Mapping[str, Any]]]
    approvals: dict[int, list[Mapping[str, Any]]]
    tickets: dict[int, list[int]]


def _parts(ids: list[int]) -> _Parts:
    tickets: dict[int, list[int]] = defaultdict(list)
    for change_id, pk in Ticket.objects.filter(change_id__in=ids).values_list("change_id", "id"):
        tickets[change_id].append(pk)
    return _Parts(
        # Rows, not instances: 50 changes' components and their components as model
        # instances (a prefetch) were about 4 ms of the list.
        components=_grouped(
            ChangeComponent.objects.filter(change_id__in=ids).values(
                "change_id", "component_id", "component__name", "target_version"
            )
        ),
        # The people by subquery, not a join: at a million tickets PostgreSQL hashed the
        # whole user table (7,000 rows, 2 ms) for each of these three lists, to name the
        # few people of a page's 200 rows (docs/benchmarks.md).
        scenarios=_grouped(
            TestScenario.objects.filter(change_id__in=ids)
            .annotate(result_by_username=username_of("result_by_id"))
            .values(
                "change_id",
                "id",
                "position",
                "kind",
                "description",
                "result",
                "result_by_username",
                "result_at",
                "note",
            )
        ),
        checklist=_grouped(
            ChecklistItem.objects.filter(change_id__in=ids)
            .annotate(by_username=username_of("by_id"))
            .values(
                "change_id",
                "id",
                "position",
                "label",
                "standard",
                "state",
                "reason",
                "by_username",
                "at",
            )
        ),
        approvals=_grouped(
            Approval.objects.filter(change_id__in=ids, dismissed_at__isnull=True)
            .annotate(by_username=username_of("by_id"))
            .values("change_id", "role", "decision", "by_username", "at", "comment")
        ),
        tickets=tickets,
    )


def attach_parts(changes: Sequence[Change]) -> _Parts:
    """Reads the page's nested rows and lets each change's `.change_components.all()`,
    `.scenarios.all()` and `.checklist.all()` answer from them (what
    `incomplete_sections` reads)."""
    parts = _parts([c.pk for c in changes])
    for change in changes:
        cache = change.__dict__.setdefault("_prefetched_objects_cache", {})
        cache["change_components"] = _Rows(
            SimpleNamespace(target_version=row["target_version"])
            for row in parts.components.get(change.pk, [])
        )
        cache["scenarios"] = _Rows(
            SimpleNamespace(kind=row["kind"]) for row in parts.scenarios.get(change.pk, [])
        )
        cache["checklist"] = _Rows(
            SimpleNamespace(standard=row["standard"]) for row in parts.checklist.get(change.pk, [])
        )
    return parts


def represent(changes: Sequence[Change]) -> list[dict[str, Any]]:
    """The changes (read through `with_representation`) as ChangeSerializer shows them,
    with their conflicts computed for all of them at once."""
    parts = attach_parts(changes)
    conflicts = conflicts_of(
        changes,
        components={
            pk: {r["component_id"]: r["component__name"] for r in rows}
            for pk, rows in parts.components.items()
        },
    )
    iso = datetimes(timezone.get_current_timezone())
    scenarios, checklist, approvals, tickets = (
        parts.scenarios,
        parts.checklist,
        parts.approvals,
        parts.tickets,
    )
    out = []
    for c in changes:
        components = parts.components.get(c.pk, ())
        n = c.__dict__
        out.append(
            {
                "id": c.pk,
                "key": f"CHG-{c.pk}",
                "title": c.title,
                "summary": c.summary,
                "organization": c.organization_id,
                "environment": n["api_environment"],
                "performer": c.performer,
                "author": n["api_author"],
                "reporter": n["api_reporter"],
                "source_ticket": c.source_ticket_id,
                "components": [r["component_id"] for r in components],
                "component_versions": [
                    {
                        "component": r["component_id"],
                        "name": r["component__name"],
                        "target_version": r["target_version"],
                    }
                    for r in components
                ],
                "outage_expected": c.outage_expected,
                "outage_duration_minutes": c.outage_duration_minutes,
                "impact": c.impact,
                "tickets": sorted(tickets.get(c.pk, ())),
                "changelog": c.changelog,
                "deployment_procedure": c.deployment_procedure,
                "rollback_procedure": c.rollback_procedure,
                "scenarios": [
                    {
                        "id": r["id"],
                        "position": r["position"],
                        "kind": r["kind"],
                        "description": r["description"],
                        "result": r["result"],
                        "result_by": r["result_by_username"],
                        "result_at": iso(r["result_at"]),
                        "note": r["note"],
                    }
                    for r in scenarios.get(c.pk, ())
                ],
                "checklist": [
                    {
                        "id": r["id"],
                        "position": r["position"],
                        "label": r["label"],
                        "state": r["state"],
                        "reason": r["reason"],
                        "by": r["by_username"],
                        "at": iso(r["at"]),
                    }
                    for r in checklist.get(c.pk, ())
                ],
                "window_start": iso(c.window_start),
                "window_end": iso(c.window_end),
                "window_agreed": c.window_agreed_at is not None,
                "window_proposed_by": n["api_window_proposed_by"],
                "window_agreed_by": n["api_window_agreed_by"],
                "communication_plan": {
                    "audience": c.communication_audience,
                    "message": c.communication_message,
                    "timing": c.communication_timing,
                },
                "status": c.status,
                "resolution": c.resolution or None,
                "approvals": [
                    {
                        "role": r["role"],
                        "decision": r["decision"],
                        "by": r["by_username"],
                        "at": iso(r["at"]),
                        "comment": r["comment"],
                    }
                    for r in approvals.get(c.pk, ())
                ],
                "waiting_on": c.waiting_on,
                "incomplete_sections": [
                    {"section": number, "name": name, "missing": problem}
                    for number, name, problem in c.incomplete_sections()
                ],
                "conflicts": [i.as_dict() for i in conflicts[c.pk]],
                "created": iso(c.created),
                "updated": iso(c.updated),
            }
        )
    return out
