"""The customer portal (`/portal/`): what an enterprise customer's users do in the process
of WORKFLOW.md, written for business readers.

Every view is a thin translator: it fetches objects through the selectors (another
organisation's object is a 404), calls one service function per action, and maps a
`DomainError` back onto the page (the refusal's sentence next to what asked for it, the
form as typed, the error's HTTP status). Which actions a page offers, and why one is
blocked, is asked of the domain (`transitions_for`), never re-derived here.
"""

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

from . import services, web, workflow
from .errors import DomainError
from .models import (
    Change,
    ChecklistItem,
    Resolution,
    TestScenario,
    Ticket,
    TicketStatus,
)
from .portal_forms import (
    CONTACTS_UPLOAD_MAX_BYTES,
    ChecklistItemForm,
    CommentForm,
    ContactForm,
    ContactImportForm,
    ScenarioResultForm,
    TicketForm,
    TransitionForm,
    WindowForm,
)
from .selectors import (
    access_change,
    access_ticket,
    change_log_visible_to,
    changes_visible_to,
    changes_waiting_on_customer,
    comments_visible_to,
    contacts_visible_to,
    customer_action_counts,
    ticket_log_visible_to,
    tickets_visible_to,
    tickets_waiting_on_customer,
)
from .typing import AuthenticatedRequest

STAFF_HOME = "/staff/"

# What each waiting status asks of the customer, in their words. Keyed by status only:
# *whether* something waits on the customer is the models' `waiting_on_customer_q()`.
ASKED_OF_YOU = {
    "ticket": {
        TicketStatus.WAITING_FOR_CUSTOMER: "The support team answered and needs your reply.",
        TicketStatus.IN_TESTING: "It has been released: try it, then accept it or send it back.",
        TicketStatus.TO_BE_RELEASED: "It is ready and goes out when you carry out {change}.",
    },
    "change": {
        Change.S.TO_BE_REVIEWED_BY_BUSINESS: (
            "Review the change and approve it as Business, or reject it with a reason."
        ),
        Change.S.TO_BE_RELEASED: (
            "Settle the deployment window with the support team, confirm the checks before "
            "the release, then carry out the change."
        ),
        Change.S.IN_TESTING: (
            "Test it on UAT: record each scenario's result, accept or send back each "
            "ticket, then close the change."
        ),
        Change.S.ROLLED_BACK: "The change was rolled back: close it to finish.",
    },
}

# One line under each button: what taking the step means, in the customer's words (the
# shared actions partial adds the full stop).
ACTION_HELP = {
    "business_approve": "You confirm, for your business, that the change may go ahead",
    "reject": "The change goes back to the support team to be reworked",
    "submit": "The change goes to the support team's approvers",
    "perform": "Confirm you carried out the deployment procedure; its tickets move to testing",
    "roll_back": "Confirm you followed the rollback procedure",
    "close": "Ends the testing phase and closes the change",
    "cancel": "The change will not take place",
    "accept": "It works as expected: the ticket is done",
    "send_back": "It does not work: the support team looks at it again",
    "hold": "Keeps the ticket aside without closing it",
    "resume": "Brings the ticket back where it was",
}


# --------------------------------------------------------------------------- plumbing


# Customer users only: staff go to their workspace, anonymous users to the login; an object
# outside the user's organisation is a 404.
customer_portal = web.front_end(admits=lambda user: user.is_customer, elsewhere=STAFF_HOME)


def _page(
    request: AuthenticatedRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    from notifications.selectors import unread_notice_count

    context.setdefault("action_counts", customer_action_counts(request.user))
    context.setdefault("unread_notices", unread_notice_count(request.user))
    return web.render_page(request, f"portal/{template}", context, status=status)


def _asked(kind: str, obj: Ticket | Change) -> str:
    text = ASKED_OF_YOU[kind].get(obj.status, "")
    if isinstance(obj, Ticket) and obj.change_id:
        return text.format(change=f"CHG-{obj.change_id}")
    return text


def _row_id(kind: str, pk: int) -> str:
    """Element ids of a form repeated once per row, unique on the page (a label must
    point at its own row's input)."""
    return f"{kind}-{pk}-%s"


def _refused_form(refusal: web.Refusal) -> TransitionForm:
    """A transition form as it was posted, carrying the refusal (ticket rows)."""
    form = TransitionForm({"comment": refusal.comment, "resolution": refusal.resolution})
    form.is_valid()
    web.add_domain_errors(form, DomainError(refusal.message, fields=refusal.fields))
    return form


# --------------------------------------------------------------------------- home


@customer_portal
def home(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    tickets = list(
        tickets_waiting_on_customer(user).select_related("change").order_by("-updated")[:50]
    )
    changes = list(
        changes_waiting_on_customer(user)
        .select_related("environment")
        .order_by("window_start", "-updated")[:50]
    )
    upcoming = list(
        changes_visible_to(user)
        .filter(
            status__in=[Change.S.TO_BE_REVIEWED_BY_BUSINESS, Change.S.TO_BE_RELEASED],
            window_start__gte=timezone.now(),
        )
        .select_related("environment")
        .order_by("window_start")[:5]
    )
    return _page(
        request,
        "home.html",
        {
            "nav": "home",
            "action_tickets": [(t, _asked("ticket", t)) for t in tickets],
            "action_changes": [(c, _asked("change", c)) for c in changes],
            "upcoming": upcoming,
        },
    )


# --------------------------------------------------------------------------- tickets

TICKET_FILTERS: dict[str, tuple[str, Callable[[Any], QuerySet]]] = {
    "action": ("Needs your action", tickets_waiting_on_customer),
    "open": ("Open", lambda user: tickets_visible_to(user).exclude(status=TicketStatus.DONE)),
    "done": ("Done", lambda user: tickets_visible_to(user).filter(status=TicketStatus.DONE)),
    "all": ("All", tickets_visible_to),
}


@customer_portal
def ticket_list(request: AuthenticatedRequest) -> HttpResponse:
    show = request.GET.get("show", "open")
    if show not in TICKET_FILTERS:
        show = "open"
    qs = TICKET_FILTERS[show][1](request.user).select_related("change").order_by("-updated")
    return _page(
        request,
        "ticket_list.html",
        {
            "nav": "tickets",
            "page": web.paginate(request, qs),
            "show": show,
            "filters": [(key, label) for key, (label, _) in TICKET_FILTERS.items()],
        },
    )


@customer_portal
def ticket_new(request: AuthenticatedRequest) -> HttpResponse:
    form = TicketForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                ticket = services.ticket_create(by=request.user, **form.cleaned_data)
            except DomainError as exc:
                web.add_domain_errors(form, exc)
                status = exc.http_status
            else:
                messages.success(
                    request, f"{ticket.key} is raised. The support team will answer here."
                )
                return redirect("portal:ticket", ref=ticket.key)
    return _page(request, "ticket_new.html", {"nav": "tickets", "form": form}, status=status)


def _ticket_page(
    request: AuthenticatedRequest,
    ref: str,
    *,
    comment_form: CommentForm | None = None,
    refused: web.Refusal | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    ticket = access_ticket(user, ref)
    comments = comments_visible_to(user).filter(ticket=ticket).select_related("author")
    labels = dict(TicketStatus.choices)
    # One conversation: the messages and the status changes, in the order they happened.
    timeline: list[dict[str, Any]] = [
        *({"kind": "comment", "at": c.created, "item": c} for c in comments),
        *(
            {"kind": "status", "at": e.at, "item": e, "label": labels.get(e.target, e.target)}
            for e in ticket_log_visible_to(user, ticket)
        ),
    ]
    timeline.sort(key=lambda row: row["at"])
    return _page(
        request,
        "ticket_detail.html",
        {
            "nav": "tickets",
            "ticket": ticket,
            "timeline": timeline,
            "comment_form": comment_form or CommentForm(),
            "options": services.transitions_for(ticket, user),
            "refused": refused,
            "describe": ACTION_HELP,
            "asked": _asked("ticket", ticket) if ticket.waiting_on == "customer" else "",
        },
        status=status,
    )


@customer_portal
def ticket_detail(request: AuthenticatedRequest, ref: str) -> HttpResponse:
    return _ticket_page(request, ref)


@customer_portal
def ticket_comment(request: AuthenticatedRequest, ref: str) -> HttpResponse:
    ticket = access_ticket(request.user, ref)
    if request.method != "POST":
        return redirect("portal:ticket", ref=ticket.key)
    return web.submit(
        CommentForm(request.POST),
        lambda data: services.ticket_comment(ticket=ticket.pk, by=request.user, body=data["body"]),
        again=lambda form, status: _ticket_page(request, ref, comment_form=form, status=status),
        then=lambda _: web.succeed(
            request,
            "Your message was sent to the support team.",
            reverse("portal:ticket", kwargs={"ref": ticket.key}),
        ),
    )


@customer_portal
def ticket_transition(request: AuthenticatedRequest, ref: str, name: str) -> HttpResponse:
    user = request.user
    ticket = access_ticket(user, ref)
    if request.method != "POST":
        return redirect("portal:ticket", ref=ticket.key)
    refused = web.take_transition(TransitionForm(request.POST), ticket, name, by=user)
    if refused is not None:
        return _ticket_page(request, ref, refused=refused, status=refused.status)
    ticket.refresh_from_db()
    messages.success(request, f"{ticket.key} is now {ticket.get_status_display()}.")
    return redirect("portal:ticket", ref=ticket.key)


# --------------------------------------------------------------------------- changes

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


@customer_portal
def change_list(request: AuthenticatedRequest) -> HttpResponse:
    show = request.GET.get("show", "open")
    if show not in CHANGE_FILTERS:
        show = "open"
    qs = CHANGE_FILTERS[show][1](request.user).select_related("environment").order_by("-updated")
    return _page(
        request,
        "change_list.html",
        {
            "nav": "changes",
            "page": web.paginate(request, qs),
            "show": show,
            "filters": [(key, label) for key, (label, _) in CHANGE_FILTERS.items()],
        },
    )


def _change_for_review(user: Any, ref: str) -> Change:
    """The change with everything its review page shows, in a fixed number of queries."""
    pk = access_change(user, ref).pk
    return (
        changes_visible_to(user)
        .select_related(
            "environment",
            "organization",
            "author",
            "reporter",
            "window_proposed_by",
            "window_agreed_by",
        )
        .prefetch_related(
            "change_components__component__versions",
            Prefetch("scenarios", queryset=TestScenario.objects.select_related("result_by")),
            Prefetch("checklist", queryset=ChecklistItem.objects.select_related("by")),
            Prefetch("tickets", queryset=Ticket.objects.order_by("pk")),
        )
        .get(pk=pk)
    )


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
    from approvals.selectors import approvals_panel

    user = request.user
    change = _change_for_review(user, ref)

    def form_for(kind: str, key: Any, make: Callable[[], Any]) -> Any:
        if failed and failed[0] == kind and failed[1] == key:
            return failed[2]
        return make()

    options = services.transitions_for(change, user)
    components = []
    for cc in change.change_components.all():
        current = next(
            (v for v in cc.component.versions.all() if v.environment_id == change.environment_id),
            None,
        )
        components.append(
            {"component": cc.component, "target": cc.target_version, "current": current}
        )
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
        then=lambda _: web.succeed(
            request,
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


# --------------------------------------------------------------------------- contacts


def _contacts_page(
    request: AuthenticatedRequest,
    *,
    form: ContactForm | None = None,
    import_form: ContactImportForm | None = None,
    report: services.ContactImportReport | None = None,
    import_error: str = "",
    status: int = 200,
) -> HttpResponse:
    page = web.paginate(request, contacts_visible_to(request.user).order_by("email"))
    return _page(
        request,
        "contacts.html",
        {
            "nav": "contacts",
            "page": page,
            "form": form or ContactForm(),
            "import_form": import_form or ContactImportForm(),
            "report": report,
            "import_error": import_error,
        },
        status=status,
    )


@customer_portal
def contacts(request: AuthenticatedRequest) -> HttpResponse:
    return _contacts_page(request)


@customer_portal
def contact_add(request: AuthenticatedRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("portal:contacts")
    return web.submit(
        ContactForm(request.POST),
        lambda data: services.contact_add(by=request.user, **data),
        again=lambda form, status: _contacts_page(request, form=form, status=status),
        then=lambda contact: web.succeed(
            request,
            f"{contact.email} will receive outage communications.",
            reverse("portal:contacts"),
        ),
    )


@customer_portal
def contact_remove(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    contact = contacts_visible_to(request.user).filter(pk=pk).first()
    if contact is None:
        raise Http404("No such contact.")
    if request.method != "POST":
        return redirect("portal:contacts")
    services.contact_remove(by=request.user, contact=contact.pk)
    messages.success(request, f"{contact.email} will no longer receive outage communications.")
    return redirect("portal:contacts")


@customer_portal
def contacts_import(request: AuthenticatedRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("portal:contacts")
    # Refuse an oversized upload from its declared length, before Django spools it to disk.
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > CONTACTS_UPLOAD_MAX_BYTES + 64 * 1024:
        return _contacts_page(
            request,
            import_error=(
                f"The file is too large; upload at most {CONTACTS_UPLOAD_MAX_BYTES // 1024} KB "
                "at a time."
            ),
            status=413,
        )
    return web.submit(
        ContactImportForm(request.POST, request.FILES),
        lambda data: services.contacts_import_csv(by=request.user, data=data["file"].read()),
        again=lambda form, status: _contacts_page(request, import_form=form, status=status),
        then=lambda report: _contacts_page(request, report=report),
    )


# --------------------------------------------------------------------------- notices


@customer_portal
def notifications(request: AuthenticatedRequest) -> HttpResponse:
    from notifications.selectors import notices_for

    page = web.paginate(request, notices_for(request.user))
    return _page(request, "notifications.html", {"nav": "notifications", "page": page})


@customer_portal
def notification_read(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    from notifications.selectors import notices_for
    from notifications.services import notice_mark_read

    # A GET shows nothing of the notice, but still answers 404 for anyone else's.
    if not notices_for(request.user).filter(pk=pk).exists():
        raise Http404("No such notification.")
    if request.method == "POST":
        notice_mark_read(user=request.user, notice=pk)
    return redirect("portal:notifications")


@customer_portal
def notifications_read_all(request: AuthenticatedRequest) -> HttpResponse:
    from notifications.services import notices_mark_all_read

    if request.method == "POST":
        n = notices_mark_all_read(user=request.user)
        messages.success(request, f"{n} notification{'s' if n != 1 else ''} marked as read.")
    return redirect("portal:notifications")
