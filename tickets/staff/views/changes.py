"""Changes in the staff workspace: the list, the board, a change page and its actions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.db import connections
from django.db.models import F, Prefetch, QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from approvals.selectors import approvals_panel, with_approvals

from ... import diagram_svg, pagination, services, web, workflow
from ...errors import DomainError
from ...models import (
    SECTIONS,
    Change,
    ChangeStatus,
    Occurrence,
    Resolution,
    SectionEdit,
    Ticket,
    User,
)
from ...pagination import capped_counts
from ...scheduling import conflicts_of_one
from ...selectors import (
    access_change,
    access_ticket,
    attachment_events_visible_to,
    change_components_shown,
    change_log_visible_to,
    changes_visible_to,
    read_change_people,
)
from ..forms import (
    ChangeCreateForm,
    ChangeFilter,
    ChecklistItemForm,
    ScenarioResultForm,
    TransitionForm,
    WindowForm,
)
from .common import (
    BOARD_CARDS,
    Entry,
    StaffRequest,
    _done,
    _status_label,
    approvals_given_now,
    filtered_list,
    staff_view,
)

CHANGE_SORTS = {
    "updated": ("updated", "pk"),
    "-updated": ("-updated", "-pk"),
    "created": ("created", "pk"),
    "-created": ("-created", "-pk"),
    "key": ("pk",),
    "-key": ("-pk",),
    "status": ("status", "-updated"),
    "-status": ("-status", "-updated"),
    "window": (F("window_start").asc(nulls_last=True), "-updated"),
    "-window": (F("window_start").desc(nulls_last=True), "-updated"),
    "title": ("title", "pk"),
    "-title": ("-title", "pk"),
}


# What a row of the change list shows (templates/staff/changes/_results.html).
CHANGE_ROW_FIELDS = (
    "id",
    "title",
    "status",
    "performer",
    "approval_round",
    "window_start",
    "window_agreed_at",
    "updated",
    "created",
    "organization__name",
    "environment__name",
    "author__username",
    "author__first_name",
    "author__last_name",
)


def _change_rows(user: User) -> QuerySet[Change]:
    return (
        changes_visible_to(user)
        .select_related("organization", "environment", "author")
        .only(*CHANGE_ROW_FIELDS)
        .annotate(approvals_given=approvals_given_now())
    )


@staff_view
def change_list(request: StaffRequest) -> HttpResponse:
    user = request.user
    qs = _change_rows(user)
    return filtered_list(
        request,
        ChangeFilter(request.GET or None, queryset=qs, user=user),
        qs,
        sorts=CHANGE_SORTS,
        nav="changes",
        target="change-results",
        template="staff/changes/list.html",
    )


# What a card shows (templates/staff/changes/_board.html), and the status django-fsm reads;
# the names of its organisation and environment come as values (BOARD_CARD_NAMES), not as
# two more instances per card (a quarter of the cards' query, about 200 cards).
BOARD_CARD_FIELDS = (
    "id",
    "title",
    "status",
    "performer",
    "updated",
    "approval_round",
    "window_start",
    "window_agreed_at",
)
BOARD_CARD_NAMES = {
    "organization_name": F("organization__name"),
    "environment_name": F("environment__name"),
}


@staff_view
def change_board(request: StaffRequest) -> HttpResponse:
    user = request.user
    filters = ChangeFilter(
        request.GET or None, queryset=changes_visible_to(user), user=user, board=True
    )
    base = filters.qs if filters.is_bound else changes_visible_to(user)
    # Per column, the BOARD_CARDS most recent cards: one `ORDER BY updated DESC LIMIT`
    # on the (status, -updated) index per status, joined by UNION ALL in the cards'
    # query; then the columns' counts (each capped, one query).
    statuses = [value for value, _ in ChangeStatus.choices]
    parts = {s: base.filter(status=s) for s in statuses}
    newest = [qs.order_by("-updated", "-pk").values("pk")[:BOARD_CARDS] for qs in parts.values()]
    if connections[base.db].features.supports_slicing_ordering_in_compound:
        chosen: Any = newest[0].union(*newest[1:], all=True)
    else:  # SQLite (`make run`): no LIMIT inside a UNION; one small query per column
        chosen = [pk for qs in newest for pk in qs.values_list("pk", flat=True)]
    cards = (
        Change.objects.filter(pk__in=chosen)
        .only(*BOARD_CARD_FIELDS)
        .annotate(**BOARD_CARD_NAMES, approvals_given=approvals_given_now())
        .order_by("-updated", "-pk")
    )
    counts = capped_counts(parts, cap=pagination.PANEL_COUNT_CAP)
    columns: list[dict[str, Any]] = [
        {"status": value, "label": label, "cards": [], "count": counts.get(value, 0)}
        for value, label in ChangeStatus.choices
    ]
    by_status = {c["status"]: c for c in columns}
    for change in cards:
        by_status[change.status]["cards"].append(change)
    context = {"nav": "board", "filters": filters, "columns": columns, "limit": BOARD_CARDS}
    if request.htmx and request.htmx.target == "board":
        return web.render_page(request, "staff/changes/_board.html", context)
    return web.render_page(request, "staff/changes/board.html", context)


@staff_view
def change_new(request: StaffRequest) -> HttpResponse:
    user = request.user
    source_ref = request.POST.get("source") or request.GET.get("source") or ""
    source = access_ticket(user, source_ref) if source_ref else None
    initial: dict[str, Any] = {"source": source.key if source else ""}
    if source is not None:
        initial.update(organization=source.organization_id, title=source.title)
    form = ChangeCreateForm(request.POST or None, user=user, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                change = services.change_create(
                    by=user,
                    organization=data["organization"],
                    title=data["title"],
                    environment=data["environment"],
                    performer=data["performer"],
                    source_ticket=source.pk if source else None,
                )
            except DomainError as exc:
                web.add_domain_errors(form, exc, aliases={"source_ticket": "source"})
                status = exc.http_status
            else:
                messages.success(request, f"{change.key} created as a draft: write its sections.")
                return redirect("staff:change_edit", ref=change.key)
        else:
            status = 400
    context = {"nav": "changes", "form": form, "source": source}
    return web.render_page(request, "staff/changes/new.html", context, status)


# What section 4 shows of each attached ticket (and the status django-fsm reads).
SECTION_4_TICKET_FIELDS = ("id", "change_id", "title", "type", "status")


def _change(user: User, ref: str, *, full: bool = True, approvals: bool = False) -> Change:
    """The change with what its page (or the editor) shows, in a fixed number of queries;
    with `approvals`, every approval too, for the panel and the approve option to share.
    The source ticket is shown by its key only (`source_ticket_id`): not joined."""

    def reading(qs: QuerySet[Change]) -> QuerySet[Change]:
        # Its people, and its rows' people, in one query after (`read_change_people`).
        qs = qs.select_related("organization", "environment")
        if full:
            qs = qs.prefetch_related(
                Prefetch("change_components", queryset=change_components_shown()),
                "scenarios",
                "checklist",
                Prefetch(
                    "tickets",
                    queryset=Ticket.objects.only(*SECTION_4_TICKET_FIELDS).order_by("pk"),
                ),
            )
        return qs.prefetch_related(with_approvals(who=False)) if approvals else qs

    change = access_change(user, ref, reading=reading)
    # Without `full`, a search of section 4's candidates: it names no one.
    return read_change_people(change) if full else change


EDIT_BURST = timedelta(minutes=2)


def _timeline(user: User, change: Change) -> list[Entry]:
    """Transitions, section edits and files added or removed, newest first; the edits one
    person saved together (in one editor save, or within a couple of minutes) read as one
    entry."""
    meta = workflow.transition_customs(Change)
    entries = [
        Entry(
            at=log.at,
            kind="transition",
            actor=log.actor,
            obj=log,
            text=meta.get(log.transition, {}).get("label", log.transition),
            source=_status_label(Change, log.source),
            target=_status_label(Change, log.target),
        )
        for log in change_log_visible_to(user, change)
    ]
    entries += [
        Entry(at=event.at, kind="file", actor=event.actor, obj=event)
        for event in attachment_events_visible_to(user, change)
    ]
    stream: list[Entry] = []
    edits = SectionEdit.objects.filter(change=change).select_related("actor")
    items: list[Entry | SectionEdit] = [*entries, *edits]
    for item in sorted(items, key=lambda x: x.at):
        if isinstance(item, Entry):
            stream.append(item)
            continue
        last = stream[-1] if stream else None
        if (
            last is not None
            and last.kind == "edit"
            and last.actor == item.actor
            and item.at - last.edits[-1].at <= EDIT_BURST
        ):
            last.edits.append(item)
        else:
            stream.append(Entry(at=item.at, kind="edit", actor=item.actor, obj=item, edits=[item]))
    entries = stream
    for e in entries:
        if e.kind == "edit":
            e.text = ", ".join(
                f"{n}. {SECTIONS[n][0]}" for n in sorted({x.section for x in e.edits})
            )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries


def _communications(change: Change) -> list[Any]:
    """Every communication queued or sent for this change, with its delivery counts."""
    from notifications.selectors import communications_for_change, show_failures

    return show_failures(list(communications_for_change(change=change)))


def _change_page(
    request: StaffRequest,
    ref: str,
    *,
    refused: web.Refusal | None = None,
    window_form: WindowForm | None = None,
    item_forms: dict[int, ChecklistItemForm] | None = None,
    result_forms: dict[int, ScenarioResultForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    change = _change(user, ref, approvals=True)
    options = services.transitions_for(change, user)
    approve = next((o for o in options if o.name == "approve"), None)
    my_roles = approve.extra.get("roles", []) if approve else []
    components = [
        {"cc": cc, "current": cc.current_version}  # type: ignore[attr-defined]
        for cc in change.change_components.all()
    ]
    item_forms = item_forms or {}
    result_forms = result_forms or {}
    conflicts = conflicts_of_one(change) if change.window_start else []
    context = {
        "nav": "changes",
        "change": change,
        "sections": SECTIONS,
        "incomplete": {n: problem for n, _, problem in change.incomplete_sections()},
        "components": components,
        "options": options,
        "describe": {
            name: m.get("describe", "") for name, m in workflow.transition_customs(Change).items()
        },
        "refused": refused,
        "panel": approvals_panel(change=change),
        "my_roles": my_roles,
        "checklist": [
            (
                i,
                item_forms.get(i.pk)
                or ChecklistItemForm(
                    initial={"state": i.state, "reason": i.reason}, prefix=f"i{i.pk}"
                ),
            )
            for i in change.checklist.all()
        ],
        "scenarios": [
            (
                s,
                result_forms.get(s.pk)
                or ScenarioResultForm(
                    initial={"result": s.result, "note": s.note}, prefix=f"s{s.pk}"
                ),
            )
            for s in change.scenarios.all()
        ],
        # Asked of the change: the same rules the services enforce.
        "recording_results": change.can_record_results(request.user),
        "checklist_open": change.can_fill_checklist(request.user),
        "window_form": window_form
        or WindowForm(
            initial={
                "start": timezone.localtime(change.window_start) if change.window_start else None,
                "end": timezone.localtime(change.window_end) if change.window_end else None,
            }
        ),
        "timeline": _timeline(user, change),
        "communications": _communications(change),
        "diagram": diagram_svg.render(Change, change.status),
        "resolution_choices": Resolution.choices,
        "transition_url": "staff:change_transition",
        "conflicts": conflicts,
        "calendar_url": calendar_link(change),
        "source_key": Ticket.key_of(change.source_ticket_id) if change.source_ticket_id else "",
        "freeze_override": _freeze_override(change, user, options),
    }
    return web.render_page(request, "staff/changes/detail.html", context, status)


def calendar_link(change: Change) -> str:
    """The week of the change's window on the calendar."""
    if change.window_start is None:
        return ""
    day = timezone.localtime(change.window_start).date().isoformat()
    return reverse("staff:calendar") + f"?view=week&date={day}"


def _freeze_override(change: Change, user: User, options: list[Any]) -> list[Occurrence]:
    """The hard freezes the page offers to override, when `perform` is blocked (the
    service says whether a freeze is all that blocks it, and whether `user` may)."""
    perform = next((o for o in options if o.name == "perform"), None)
    if perform is None or perform.allowed:
        return []
    return services.freezes_overridable(change, user)


@staff_view
def change_detail(request: StaffRequest, ref: str) -> HttpResponse:
    return _change_page(request, ref)


@require_POST
@staff_view
def change_transition(request: StaffRequest, ref: str, name: str) -> HttpResponse:
    user = request.user
    change = access_change(user, ref)
    refused = web.take_transition(TransitionForm(request.POST), change, name, by=user)
    if refused is not None:
        return _change_page(request, ref, refused=refused, status=refused.status)
    change.refresh_from_db()
    _done(request, Change, name, change)
    return redirect("staff:change_detail", ref=change.key)


def _change_url(key: str, anchor: str) -> str:
    return reverse("staff:change_detail", args=[key]) + f"#{anchor}"


@require_POST
@staff_view
def change_window(request: StaffRequest, ref: str) -> HttpResponse:
    user = request.user
    change = access_change(user, ref)
    return web.submit(
        WindowForm(request.POST),
        lambda data: services.change_propose_window(
            change=change.pk, by=user, start=data["start"], end=data["end"]
        ),
        again=lambda form, status: _change_page(request, ref, window_form=form, status=status),
        then=lambda change: web.window_proposed(
            request,
            change,
            f"Window proposed for {change.key}; the other side is asked to agree it.",
            _change_url(change.key, "window"),
        ),
    )


@require_POST
@staff_view
def change_checklist_item(request: StaffRequest, ref: str, item: int) -> HttpResponse:
    user = request.user
    change = access_change(user, ref)
    return web.submit(
        ChecklistItemForm(request.POST, prefix=f"i{item}"),
        lambda data: services.checklist_item_update(
            item=item, by=user, change=change.pk, state=data["state"], reason=data["reason"]
        ),
        again=lambda form, status: _change_page(
            request, ref, item_forms={item: form}, status=status
        ),
        then=lambda found: web.succeed(
            request,
            f"Checklist: {found.label} is {found.get_state_display()}.",
            _change_url(change.key, "section-9"),
        ),
    )


@require_POST
@staff_view
def change_scenario_result(request: StaffRequest, ref: str, scenario: int) -> HttpResponse:
    user = request.user
    change = access_change(user, ref)
    return web.submit(
        ScenarioResultForm(request.POST, prefix=f"s{scenario}"),
        lambda data: services.scenario_record_result(
            scenario=scenario, by=user, change=change.pk, result=data["result"], note=data["note"]
        ),
        again=lambda form, status: _change_page(
            request, ref, result_forms={scenario: form}, status=status
        ),
        then=lambda found: web.succeed(
            request,
            f"Scenario #{found.position}: {found.get_result_display()}.",
            _change_url(change.key, "section-8"),
        ),
    )
