"""Changes in the portal: the list, the review of a change, and every customer step."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.contrib import messages
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from approvals.selectors import approvals_panel, with_approvals

from ... import services, web, workflow
from ...models import (
    Change,
    Resolution,
    Ticket,
)
from ...scheduling import conflicts_of_one
from ...selectors import (
    access_change,
    access_ticket,
    change_components_shown,
    change_log_visible_to,
    changes_matching,
    changes_visible_to,
    changes_waiting_on_customer,
    read_change_people,
)
from ...typing import AuthenticatedRequest
from ..forms import (
    ChecklistItemForm,
    ScenarioResultForm,
    TransitionForm,
    WindowForm,
)
from .common import ACTION_HELP, _asked, _page, _refused_form, _row_id, customer_portal

CHANGE_FILTERS: dict[str, tuple[str, Callable[[Any], QuerySet]]] = {
    "action": ("Needs your action", changes_waiting_on_customer),
    "open": (
        "In progress",
        lambda user: changes_visible_to(user).exclude(
            status__in=[Change.S.DONE, Change.S.CANCELLED]
        ),
    ),
    "closed": (
        "Closed",
        lambda user: changes_visible_to(user).filter(
            status__in=[Change.S.DONE, Change.S.CANCELLED]
        ),
    ),
    "all": ("All", changes_visible_to),
}


# What a row of the list shows (templates/portal/change_list.html).
ROW_FIELDS = (
    "id",
    "title",
    "status",
    "performer",
    "updated",
    "window_start",
    "window_agreed_at",
    "environment__name",
)


@customer_portal
def change_list(request: AuthenticatedRequest) -> HttpResponse:
    show = request.GET.get("show", "open")
    if show not in CHANGE_FILTERS:
        show = "open"
    qs = (
        CHANGE_FILTERS[show][1](request.user)
        .select_related("environment")
        .only(*ROW_FIELDS)
        .order_by("-updated", "-pk")
    )
    q = request.GET.get("q", "").strip()[:200]
    if q:
        # The staff list's and the API's search (`changes_matching`), ranked.
        qs = changes_matching(qs, q)
    return _page(
        request,
        "change_list.html",
        {
            "nav": "changes",
            "page": web.paginate(request, qs),
            "show": show,
            "q": q,
            "filters": [(key, label) for key, (label, _) in CHANGE_FILTERS.items()],
        },
    )


def _change_for_review(user: Any, ref: str) -> Change:
    """The change with everything its review page shows, read once, in a fixed number of
    queries (its approvals once, for the panel and the options alike)."""
    change = access_change(
        user,
        ref,
        # Its people, and its rows' people, in one query after (`read_change_people`).
        reading=lambda qs: qs.select_related("environment", "organization").prefetch_related(
            Prefetch("change_components", queryset=change_components_shown()),
            "scenarios",
            "checklist",
            # Not the description: the page lists the tickets by key, title and status.
            Prefetch("tickets", queryset=Ticket.objects.defer("description").order_by("pk")),
            with_approvals(who=False),
        ),
    )
    return read_change_people(change, ("author", "window_proposed_by", "window_agreed_by"))


def _change_page(
    request: AuthenticatedRequest,
    ref: str,
    *,
    refused: web.Refusal | None = None,
    failed: tuple[str, Any, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The review page. `refused` answers a step of the actions panel; `failed` is
    (kind, key, bound form) of a form elsewhere on the page that was refused: that form
    is shown again as typed, with the reason."""
    user = request.user
    change = _change_for_review(user, ref)

    def form_for(kind: str, key: Any, make: Callable[[], Any]) -> Any:
        if failed and failed[0] == kind and failed[1] == key:
            return failed[2]
        return make()

    options = services.transitions_for(change, user)
    components = [
        {
            "component": cc.component,
            "target": cc.target_version,
            "current": cc.current_version,  # type: ignore[attr-defined]
        }
        for cc in change.change_components.all()
    ]
    tickets = [
        {
            "ticket": t,
            "actions": [
                {
                    "option": o,
                    "form": form_for("ticket", (t.pk, o.name), TransitionForm),
                    "describe": ACTION_HELP.get(o.name, ""),
                }
                for o in services.transitions_for(t, user)
                if o.name in ("accept", "send_back")
            ],
        }
        for t in change.tickets.all()
    ]
    scenarios = [
        {
            "scenario": s,
            "form": form_for(
                "scenario",
                s.pk,
                partial(
                    ScenarioResultForm,
                    initial={"result": s.result, "note": s.note},
                    auto_id=_row_id("scenario", s.pk),
                ),
            ),
        }
        for s in change.scenarios.all()
    ]
    checklist = [
        {
            "item": i,
            "form": form_for(
                "checklist",
                i.pk,
                partial(
                    ChecklistItemForm,
                    initial={"state": i.state, "reason": i.reason},
                    auto_id=_row_id("check", i.pk),
                ),
            ),
        }
        for i in change.checklist.all()
    ]
    window_start = change.window_start and timezone.localtime(change.window_start)
    window_end = change.window_end and timezone.localtime(change.window_end)
    labels = dict(Change.S.choices)
    steps = workflow.transition_customs(Change)
    return _page(
        request,
        "change_detail.html",
        {
            "nav": "changes",
            "change": change,
            "asked": _asked("change", change) if change.waiting_on == "customer" else "",
            # Agreeing the window is offered in the window's own section.
            "options": [o for o in options if o.name != "agree_window"],
            "window_options": [o for o in options if o.name == "agree_window"],
            # A refused agreement is answered beside the window, not in the actions panel.
            "refused": None if refused and refused.name == "agree_window" else refused,
            "window_refused": refused if refused and refused.name == "agree_window" else None,
            "describe": ACTION_HELP,
            "resolution_choices": Resolution.choices,
            "window_form": form_for(
                "window",
                None,
                lambda: WindowForm(initial={"start": window_start, "end": window_end}),
            ),
            "window_open": change.can_propose_window(request.user),
            "components": components,
            "tickets": tickets,
            "scenarios": scenarios,
            "testing": change.can_record_results(request.user),
            "checklist": checklist,
            # Provider staff may fill it in too; in the portal it is the customer's own
            # changes (the rule's customer half).
            "checklist_open": change.can_fill_checklist(request.user),
            # While the customer may perform it, the checks are what stands in the way.
            "checklist_first": any(o.name == "perform" for o in options),
            "conflicts": conflicts_of_one(change) if change.window_start else [],
            "calendar_url": (
                reverse("portal:calendar") + f"?view=week&date={window_start.date().isoformat()}"
                if window_start
                else ""
            ),
            "approvals": approvals_panel(change=change),
            "log": [
                {
                    "entry": e,
                    "step": steps.get(e.transition, {}).get("label", e.transition),
                    "label": labels.get(e.target, e.target),
                    "moved": e.source != e.target,
                }
                for e in change_log_visible_to(user, change)
            ],
        },
        status=status,
    )


@customer_portal
def change_detail(request: AuthenticatedRequest, ref: str) -> HttpResponse:
    return _change_page(request, ref)


def _change_url(change: Change, anchor: str = "") -> str:
    url = reverse("portal:change", kwargs={"ref": change.key})
    return f"{url}#{anchor}" if anchor else url


def _back_to_change(change: Change, anchor: str = "") -> HttpResponse:
    return redirect(_change_url(change, anchor))


@customer_portal
def change_transition(request: AuthenticatedRequest, ref: str, name: str) -> HttpResponse:
    user = request.user
    change = access_change(user, ref)
    if request.method != "POST":
        return _back_to_change(change)
    refused = web.take_transition(TransitionForm(request.POST), change, name, by=user)
    if refused is not None:
        return _change_page(request, ref, refused=refused, status=refused.status)
    change.refresh_from_db()
    if name == "agree_window":
        messages.success(request, f"You agreed the deployment window of {change.key}.")
        return _back_to_change(change, "window")
    messages.success(request, f"{change.key} is now {change.get_status_display()}.")
    return _back_to_change(change)


@customer_portal
def change_window(request: AuthenticatedRequest, ref: str) -> HttpResponse:
    change = access_change(request.user, ref)
    if request.method != "POST":
        return _back_to_change(change, "window")
    return web.submit(
        WindowForm(request.POST),
        lambda data: services.change_propose_window(
            change=change.pk, by=request.user, start=data["start"], end=data["end"]
        ),
        again=lambda form, status: _change_page(
            request, ref, failed=("window", None, form), status=status
        ),
        then=lambda proposed: web.window_proposed(
            request,
            proposed,
            f"You proposed a new deployment window for {change.key}; "
            "the support team is asked to agree it.",
            _change_url(change, "window"),
        ),
    )


@customer_portal
def change_scenario_result(request: AuthenticatedRequest, ref: str, scenario: int) -> HttpResponse:
    change = access_change(request.user, ref)
    if not change.scenarios.filter(pk=scenario).exists():
        raise Http404("No such test scenario on this change.")
    if request.method != "POST":
        return _back_to_change(change, f"scenario-{scenario}")
    return web.submit(
        ScenarioResultForm(request.POST, auto_id=_row_id("scenario", scenario)),
        lambda data: services.scenario_record_result(
            scenario=scenario,
            change=change.pk,
            by=request.user,
            result=data["result"],
            note=data["note"],
        ),
        again=lambda form, status: _change_page(
            request, ref, failed=("scenario", scenario, form), status=status
        ),
        then=lambda _: web.succeed(
            request, "Result recorded.", _change_url(change, f"scenario-{scenario}")
        ),
    )


@customer_portal
def change_checklist_item(request: AuthenticatedRequest, ref: str, item: int) -> HttpResponse:
    change = access_change(request.user, ref)
    if not change.checklist.filter(pk=item).exists():
        raise Http404("No such checklist item on this change.")
    if request.method != "POST":
        return _back_to_change(change, f"check-{item}")
    return web.submit(
        ChecklistItemForm(request.POST, auto_id=_row_id("check", item)),
        lambda data: services.checklist_item_update(
            item=item,
            change=change.pk,
            by=request.user,
            state=data["state"],
            reason=data["reason"],
        ),
        again=lambda form, status: _change_page(
            request, ref, failed=("checklist", item, form), status=status
        ),
        then=lambda _: web.succeed(
            request, "Checklist updated.", _change_url(change, f"check-{item}")
        ),
    )


@customer_portal
def change_ticket_transition(
    request: AuthenticatedRequest, ref: str, ticket: str, name: str
) -> HttpResponse:
    """Accept or send back a ticket from the change it was released with."""
    user = request.user
    change = access_change(user, ref)
    found = access_ticket(user, ticket)
    if found.change_id != change.pk:
        raise Http404("That ticket is not in this change's scope.")
    if request.method != "POST":
        return _back_to_change(change, f"ticket-{found.key}")
    refused = web.take_transition(TransitionForm(request.POST), found, name, by=user)
    if refused is not None:
        return _change_page(
            request,
            ref,
            failed=("ticket", (found.pk, name), _refused_form(refused)),
            status=refused.status,
        )
    found.refresh_from_db()
    messages.success(request, f"{found.key} is now {found.get_status_display()}.")
    return _back_to_change(change, f"ticket-{found.key}")
