"""Support tickets in the staff workspace: the queue, a ticket, and its actions."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.postgres.search import SearchVectorField
from django.db.models import QuerySet, TextField
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from ... import diagram_svg, services, web, workflow
from ...errors import DomainError
from ...models import (
    EDITABLE,
    Change,
    Ticket,
    TicketComment,
    TicketType,
    User,
)
from ...selectors import (
    access_ticket,
    attachment_events_visible_to,
    changes_visible_to,
    comments_visible_to,
    ticket_log_visible_to,
    tickets_visible_to,
)
from ..forms import (
    AssignForm,
    AttachForm,
    CommentForm,
    TicketCreateForm,
    TicketEditForm,
    TicketFilter,
    TransitionForm,
)
from .common import Entry, StaffRequest, _done, _status_label, filtered_list, staff_view

# What a row of the queue shows (templates/staff/tickets/_results.html); whether a ticket
# in release waits on the customer comes from `with_customer_release`, not its change.
TICKET_ROW_FIELDS = (
    "id",
    "title",
    "type",
    "priority",
    "status",
    "updated",
    "created",
    "change_id",
    "organization__name",
    "assignee__username",
    "assignee__first_name",
    "assignee__last_name",
)
TICKET_SORTS = {
    "updated": ("updated", "pk"),
    "-updated": ("-updated", "-pk"),
    "created": ("created", "pk"),
    "-created": ("-created", "-pk"),
    "priority": ("priority_rank", "-updated"),
    "-priority": ("-priority_rank", "-updated"),
    "key": ("pk",),
    "-key": ("-pk",),
    "status": ("status", "-updated"),
    "-status": ("-status", "-updated"),
    "title": ("title", "pk"),
    "-title": ("-title", "pk"),
}


# A change's long texts (its sections, its search document), left unread where a page
# shows the change by its key, title and status.
CHANGE_TEXTS = [
    f"change__{f.name}"
    for f in Change._meta.concrete_fields
    if isinstance(getattr(f, "output_field", f), TextField | SearchVectorField)
]


@staff_view
def ticket_list(request: StaffRequest) -> HttpResponse:
    user = request.user
    qs = Ticket.with_customer_release(
        tickets_visible_to(user)
        .select_related("organization", "assignee")
        .only(*TICKET_ROW_FIELDS)
        .annotate(priority_rank=Ticket.priority_order())
    )
    return filtered_list(
        request,
        TicketFilter(request.GET or None, queryset=qs, user=user),
        qs,
        sorts=TICKET_SORTS,
        nav="tickets",
        target="queue-results",
        template="staff/tickets/list.html",
    )


@staff_view
def ticket_new(request: StaffRequest) -> HttpResponse:
    user = request.user
    form = TicketCreateForm(request.POST or None, user=user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                ticket = services.ticket_create(by=user, **form.cleaned_data)
            except DomainError as exc:
                web.add_domain_errors(form, exc)
                status = exc.http_status
            else:
                messages.success(request, f"{ticket.key} created.")
                return redirect("staff:ticket_detail", ref=ticket.key)
        else:
            status = 400
    return web.render_page(
        request, "staff/tickets/new.html", {"nav": "tickets", "form": form}, status
    )


def _ticket(user: User, ref: str) -> Ticket:
    """The ticket with what its page shows of its people and its change: the change's key,
    title and status, not its sections."""
    return access_ticket(
        user,
        ref,
        reading=lambda qs: qs.select_related(
            "organization", "assignee", "reporter", "change"
        ).defer(*CHANGE_TEXTS),
    )


def _ticket_page(
    request: StaffRequest,
    ref: str,
    *,
    refused: web.Refusal | None = None,
    comment_form: CommentForm | None = None,
    assign_form: AssignForm | None = None,
    attach_form: AttachForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    ticket = _ticket(user, ref)
    meta = workflow.transition_customs(Ticket)
    posted = request.GET.get("posted")
    stream = [
        Entry(
            at=c.created,
            kind="comment",
            actor=c.author,
            obj=c,
            text=c.body,
            focus=posted == str(c.pk),
        )
        for c in comments_visible_to(user)
        .filter(ticket=ticket)
        .select_related("author", "author__organization")
    ]
    stream += [
        Entry(
            at=log.at,
            kind="transition",
            actor=log.actor,
            obj=log,
            text=meta.get(log.transition, {}).get("label", log.transition),
            source=_status_label(Ticket, log.source),
            target=_status_label(Ticket, log.target),
        )
        for log in ticket_log_visible_to(user, ticket)
    ]
    stream += [
        Entry(at=event.at, kind="file", actor=event.actor, obj=event)
        for event in attachment_events_visible_to(user, ticket)
    ]
    stream.sort(key=lambda e: (e.at, e.kind != "comment"))

    # Attaching is the domain's `attach` step, taken when a change's section 4 lists the
    # ticket; offer it exactly when the domain would take it for this user.
    attachable = ticket.change_id is None and _may(ticket, "attach", user, change="-")
    if attach_form is None and attachable:
        attach_form = AttachForm(changes=_changes_to_attach_to(user, ticket))
    context = {
        "nav": "tickets",
        "ticket": ticket,
        "stream": stream,
        "options": services.transitions_for(ticket, user),
        "describe": {name: m.get("describe", "") for name, m in meta.items()},
        "refused": refused,
        "comment_form": comment_form or CommentForm(),
        "assign_form": assign_form or AssignForm(initial={"assignee": ticket.assignee_id}),
        "attach_form": attach_form if attachable else None,
        "raised_changes": list(
            changes_visible_to(user).filter(source_ticket=ticket).only("pk", "title", "status")
        )
        if ticket.type == TicketType.CHANGE_REQUEST
        else [],
        "diagram": diagram_svg.render(Ticket, ticket.status),
        "transition_url": "staff:ticket_transition",
    }
    return web.render_page(request, "staff/tickets/detail.html", context, status)


def _may(subject: Any, name: str, user: User, **params: Any) -> bool:
    try:
        workflow.check(subject, name, user, params, automatic=True)
    except DomainError:
        return False
    return True


def _changes_to_attach_to(user: User, ticket: Ticket) -> QuerySet[Change]:
    return (
        changes_visible_to(user)
        .filter(organization_id=ticket.organization_id, status__in=EDITABLE)
        .order_by("-updated")
    )


@staff_view
def ticket_detail(request: StaffRequest, ref: str) -> HttpResponse:
    return _ticket_page(request, ref)


@staff_view
def ticket_edit(request: StaffRequest, ref: str) -> HttpResponse:
    """Title, description, type and priority, through `services.ticket_update`."""
    user = request.user
    ticket = _ticket(user, ref)

    def again(form: TicketEditForm, status: int) -> HttpResponse:
        context = {"nav": "tickets", "ticket": ticket, "form": form}
        return web.render_page(request, "staff/tickets/edit.html", context, status)

    if request.method != "POST":
        fields = ("title", "description", "type", "priority")
        return again(TicketEditForm(initial={f: getattr(ticket, f) for f in fields}), 200)
    return web.submit(
        TicketEditForm(request.POST),
        lambda data: services.ticket_update(ticket=ticket.pk, by=user, **data),
        again=again,
        then=lambda saved: web.succeed(request, f"{saved.key} saved.", _ticket_url(saved.key)),
    )


@require_POST
@staff_view
def ticket_comment(request: StaffRequest, ref: str) -> HttpResponse:
    ticket = access_ticket(request.user, ref)

    def posted(comment: TicketComment) -> HttpResponse:
        url = reverse("staff:ticket_detail", args=[ticket.key])
        return web.succeed(
            request,
            "Internal note added." if not comment.public else "Comment posted.",
            f"{url}?posted={comment.pk}#comment-{comment.pk}",
        )

    return web.submit(
        CommentForm(request.POST),
        lambda data: services.ticket_comment(
            ticket=ticket.pk, by=request.user, body=data["body"], public=not data["internal"]
        ),
        again=lambda form, status: _ticket_page(request, ref, comment_form=form, status=status),
        then=posted,
        aliases={"body": "body"},
    )


@require_POST
@staff_view
def ticket_assign(request: StaffRequest, ref: str) -> HttpResponse:
    ticket = access_ticket(request.user, ref)
    data = request.POST.copy()
    if "assign_to_me" in data:
        data["assignee"] = str(request.user.pk)

    def assigned(ticket: Ticket) -> HttpResponse:
        who = ticket.assignee.get_username() if ticket.assignee else "nobody"
        return web.succeed(request, f"{ticket.key} is assigned to {who}.", _ticket_url(ticket.key))

    return web.submit(
        AssignForm(data),
        lambda data: services.ticket_assign(
            ticket=ticket.pk, by=request.user, assignee=data["assignee"]
        ),
        again=lambda form, status: _ticket_page(request, ref, assign_form=form, status=status),
        then=assigned,
    )


@require_POST
@staff_view
def ticket_attach(request: StaffRequest, ref: str) -> HttpResponse:
    user = request.user
    ticket = access_ticket(user, ref)

    def attach(data: dict[str, Any]) -> Change:
        change: Change = data["change"]
        services.change_set_tickets(
            change=change.pk,
            by=user,
            tickets=[*change.tickets.values_list("pk", flat=True), ticket.pk],
        )
        return change

    return web.submit(
        AttachForm(request.POST, changes=_changes_to_attach_to(user, ticket)),
        attach,
        again=lambda form, status: _ticket_page(request, ref, attach_form=form, status=status),
        then=lambda change: web.succeed(
            request, f"{ticket.key} is attached to {change.key}.", _ticket_url(ticket.key)
        ),
        aliases={"tickets": "change"},
    )


@require_POST
@staff_view
def ticket_transition(request: StaffRequest, ref: str, name: str) -> HttpResponse:
    user = request.user
    ticket = access_ticket(user, ref)
    refused = web.take_transition(TransitionForm(request.POST), ticket, name, by=user)
    if refused is not None:
        return _ticket_page(request, ref, refused=refused, status=refused.status)
    ticket.refresh_from_db()
    _done(request, Ticket, name, ticket)
    return redirect("staff:ticket_detail", ref=ticket.key)


def _ticket_url(key: str) -> str:
    return reverse("staff:ticket_detail", args=[key])
