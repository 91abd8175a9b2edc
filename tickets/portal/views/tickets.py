"""Support tickets in the portal: the customer's list, a new ticket, a conversation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from ... import services, web
from ...errors import DomainError
from ...models import (
    Ticket,
    TicketStatus,
)
from ...selectors import (
    access_ticket,
    attachment_events_visible_to,
    comments_visible_to,
    ticket_log_visible_to,
    tickets_matching,
    tickets_visible_to,
    tickets_waiting_on_customer,
)
from ...typing import AuthenticatedRequest
from ..forms import (
    CommentForm,
    TicketForm,
    TransitionForm,
)
from .common import ACTION_HELP, _asked, _page, customer_portal

TICKET_FILTERS: dict[str, tuple[str, Callable[[Any], QuerySet]]] = {
    "action": ("Needs your action", tickets_waiting_on_customer),
    "open": ("Open", lambda user: tickets_visible_to(user).exclude(status=TicketStatus.DONE)),
    "done": ("Done", lambda user: tickets_visible_to(user).filter(status=TicketStatus.DONE)),
    "all": ("All", tickets_visible_to),
}


# What a row of the list shows (templates/portal/ticket_list.html).
ROW_FIELDS = ("id", "title", "status", "type", "updated", "change_id")


@customer_portal
def ticket_list(request: AuthenticatedRequest) -> HttpResponse:
    show = request.GET.get("show", "open")
    if show not in TICKET_FILTERS:
        show = "open"
    qs = Ticket.with_customer_release(
        TICKET_FILTERS[show][1](request.user).only(*ROW_FIELDS).order_by("-updated", "-pk")
    )
    q = request.GET.get("q", "").strip()[:200]
    if q:
        # The staff queue's and the API's search (`tickets_matching`), ranked.
        qs = tickets_matching(qs, q)
    return _page(
        request,
        "ticket_list.html",
        {
            "nav": "tickets",
            "page": web.paginate(request, qs),
            "show": show,
            "q": q,
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
    ticket = access_ticket(user, ref, reading=lambda qs: qs.select_related("reporter"))
    comments = comments_visible_to(user).filter(ticket=ticket).select_related("author")
    labels = dict(TicketStatus.choices)
    # One conversation: the messages and the status changes, in the order they happened.
    timeline: list[dict[str, Any]] = [
        *({"kind": "comment", "at": c.created, "item": c} for c in comments),
        *(
            {"kind": "status", "at": e.at, "item": e, "label": labels.get(e.target, e.target)}
            for e in ticket_log_visible_to(user, ticket)
        ),
        *(
            {"kind": "file", "at": e.at, "item": e}
            for e in attachment_events_visible_to(user, ticket)
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
