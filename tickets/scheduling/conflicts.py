"""Conflicts (API.md): a change's window overlapping another live change's window on a
shared component and environment, or touching a freeze that applies to it. Touching
windows (one ends as the other starts) do not conflict."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from ..models import Change, ChangeComponent, Freeze, Occurrence, overlaps
from ..models.choices import WINDOW_LIVE
from ..models.freezes import FreezeQuerySet, freeze_kind


@dataclass(frozen=True)
class ConflictItem:
    kind: str  # "change" | "freeze"
    id: int
    key: str | None
    title: str
    reason: str
    start: datetime
    end: datetime
    hard: bool = False

    @property
    def freeze_label(self) -> str:
        return freeze_kind(self.hard)

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "id": self.id,
            "key": self.key,
            "title": self.title,
            "reason": self.reason,
        }


def _when(start: datetime, end: datetime) -> str:
    s, e = timezone.localtime(start), timezone.localtime(end)
    same_day = s.date() == e.date()
    return (
        f"{s:%Y-%m-%d %H:%M} to {e:%H:%M}"
        if same_day
        else f"{s:%Y-%m-%d %H:%M} to {e:%Y-%m-%d %H:%M}"
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _component_map(changes: Sequence[Change]) -> dict[int, dict[int, str]]:
    """Change id → {component id: name}: from what the page prefetched (`change_components`
    with their component), else in one query."""
    out: dict[int, dict[int, str]] = defaultdict(dict)
    fetched = [
        c for c in changes if "change_components" in getattr(c, "_prefetched_objects_cache", {})
    ]
    done = {c.pk for c in fetched}
    rest = [c.pk for c in changes if c.pk not in done]
    for change in fetched:
        for cc in change.change_components.all():
            # Rows standing in for the relation (the API's `attach_parts`) name no
            # component: those changes are read again below.
            if not isinstance(cc, ChangeComponent) or not ChangeComponent.component.is_cached(cc):
                rest.append(change.pk)
                break
            out[change.pk][cc.component_id] = cc.component.name
    if rest:
        rows = ChangeComponent.objects.filter(change_id__in=rest).values_list(
            "change_id", "component_id", "component__name"
        )
        for change_id, component_id, name in rows:
            out[change_id][component_id] = name
    return out


def _freeze_applies(freeze: Freeze, change: Change, components: set[int]) -> bool:
    if freeze.organization_id is not None and freeze.organization_id != change.organization_id:
        return False
    if freeze.environment_id is not None and freeze.environment_id != change.environment_id:
        return False
    return freeze.all_components or bool(components & freeze.component_ids)  # type: ignore[attr-defined]


def freezes_over(
    start: datetime, end: datetime, freezes: FreezeQuerySet | None = None
) -> list[tuple[Freeze, list[Occurrence]]]:
    """Every freeze (of `freezes`, by default all) with a period in [start, end) and those
    periods: one query, and one more for the components of those limited to some."""
    found = [
        (f, periods)
        for f in (freezes if freezes is not None else Freeze.objects.all())
        .select_related("environment")
        .touching(start, end)
        if (periods := list(f.occurrences(start, end)))
    ]
    limited = [f.pk for f, _ in found if not f.all_components]
    components: dict[int, set[int]] = defaultdict(set)
    if limited:
        through = Freeze.components.through.objects.filter(freeze_id__in=limited)
        for freeze_id, component_id in through.values_list("freeze_id", "component_id"):
            components[freeze_id].add(component_id)
    for f, _ in found:
        f.component_ids = components.get(f.pk, set())  # type: ignore[attr-defined]
    return found


def _window(change: Change) -> tuple[datetime, datetime]:
    start, end = change.window_start, change.window_end
    if start is None or end is None:  # pragma: no cover - callers keep windowed changes
        raise ValueError(f"{change.key} has no window.")
    return start, end


@dataclass(frozen=True)
class _Lane:
    """Another live change's window on one component and environment."""

    start: datetime
    end: datetime
    change_id: int
    title: str

    @property
    def key(self) -> str:
        return f"CHG-{self.change_id}"


def conflicts_of(
    changes: Sequence[Change], components: Mapping[int, Mapping[int, str]] | None = None
) -> dict[int, list[ConflictItem]]:
    """The conflicts of each change with a window, by change id, in four queries whatever
    the number of changes: their components (none when `components` gives them, change id
    → {component id: name}, every change's); every live window overlapping their span on
    one of those components (rows, not model instances); the freezes over the span with
    theirs."""
    windowed = [c for c in changes if c.window_start and c.window_end]
    result: dict[int, list[ConflictItem]] = {c.pk: [] for c in changes}
    if not windowed:
        return result
    span_start = min(_window(c)[0] for c in windowed)
    span_end = max(_window(c)[1] for c in windowed)
    if components is None:
        components = _component_map(windowed)
    shared_ids = {component_id for c in windowed for component_id in components.get(c.pk, {})}
    # Read from `change_live_windows` and `change_component_unique` alone (no row of
    # either table, hence no ordering): at a million tickets a page of 50 changes spans
    # weeks, with thousands of windows in it.
    rows = (
        ChangeComponent.objects.filter(
            component_id__in=shared_ids,
            change__status__in=WINDOW_LIVE,
            change__window_start__lt=span_end,
            change__window_end__gt=span_start,
            change__environment_id__in={c.environment_id for c in windowed},
        )
        .order_by()
        .values_list(
            "component_id",
            "change__environment_id",
            "change_id",
            "change__title",
            "change__window_start",
            "change__window_end",
        )
    )
    # (environment, component) → windows sorted by start, for a bisect per change.
    lanes: dict[tuple[int, int], list[_Lane]] = defaultdict(list)
    for component_id, environment_id, change_id, title, start, end in rows:
        if start is not None and end is not None:  # the filter keeps only windowed rows
            lanes[(environment_id, component_id)].append(_Lane(start, end, change_id, title))
    starts: dict[tuple[int, int], list[datetime]] = {}
    for lane_key, lane in lanes.items():
        lane.sort(key=lambda row: (row.start, row.change_id))
        starts[lane_key] = [row.start for row in lane]
    frozen = freezes_over(span_start, span_end)
    for change in windowed:
        start, end = _window(change)
        mine = components.get(change.pk, {})
        shared: dict[int, tuple[_Lane, list[str]]] = {}
        for component_id, name in mine.items():
            lane_key = (change.environment_id, component_id)
            lane = lanes.get(lane_key, [])
            for other in lane[: bisect_left(starts.get(lane_key, []), end)]:
                if other.change_id != change.pk and overlaps(start, end, other.start, other.end):
                    shared.setdefault(other.change_id, (other, []))[1].append(name)
        items = [
            ConflictItem(
                kind="change",
                id=other.change_id,
                key=other.key,
                title=other.title,
                reason=(
                    f"{other.key}'s window ({_when(other.start, other.end)}) "
                    f"overlaps on {', '.join(sorted(names))}."
                ),
                start=max(start, other.start),
                end=min(end, other.end),
            )
            for other, names in shared.values()
        ]
        for freeze, periods in frozen:
            if not _freeze_applies(freeze, change, set(mine)):
                continue
            for period in periods:
                if overlaps(start, end, period.start, period.end):
                    items.append(
                        ConflictItem(
                            kind="freeze",
                            id=freeze.pk,
                            key=None,
                            title=freeze.title,
                            reason=(
                                f"{freeze.kind} {_when(period.start, period.end)}"
                                + (f": {_sentence(freeze.reason)}" if freeze.reason else ".")
                                + (
                                    " Performing inside it is refused."
                                    if freeze.hard
                                    else " Performing inside it is discouraged."
                                )
                            ),
                            start=period.start,
                            end=period.end,
                            hard=freeze.hard,
                        )
                    )
                    break
        result[change.pk] = sorted(items, key=lambda i: (i.start, i.kind, i.id))
    return result


def conflicts_of_one(change: Change) -> list[ConflictItem]:
    return conflicts_of([change])[change.pk]
