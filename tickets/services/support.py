"""Support tickets (§4.2): raising, editing, assigning, commenting (with the automatic
moves a comment makes), and the manual transitions."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ..errors import InvalidInput, PermissionRefused
from ..models import (
    Organization,
    Priority,
    Ticket,
    TicketComment,
    TicketStatus,
    TicketType,
    User,
)
from ..selectors import (
    access_ticket,
    organizations_visible_to,
)
from .common import _choice, _required_text, _take


@transaction.atomic
def ticket_create(
    *,
    by: User,
    title: str,
    description: str = "",
    type: str = TicketType.QUESTION,
    priority: str = Priority.NORMAL,
    organization: Organization | int | None = None,
) -> Ticket:
    """A customer's ticket is always in their organisation; staff name the organisation."""
    title = _required_text(title, "title")
    if by.is_customer:
        org_id = by.organization_id
    else:
        if organization is None:
            raise InvalidInput(
                "Name the organisation the ticket belongs to.",
                fields={"organization": ["Required for provider staff."]},
            )
        org_pk = organization.pk if isinstance(organization, Organization) else organization
        if not organizations_visible_to(by).filter(pk=org_pk).exists():
            raise InvalidInput("No such organisation.", fields={"organization": ["Unknown."]})
        org_id = org_pk
    from notifications.services import ticket_created

    ticket = Ticket.objects.create(
        organization_id=org_id,
        title=title,
        description=description,
        type=_choice(type, TicketType, "type"),
        priority=_choice(priority, Priority, "priority"),
        reporter=by,
    )
    ticket_created(ticket=ticket, by=by)
    return ticket


@transaction.atomic
def ticket_update(*, ticket: Ticket | int | str, by: User, **fields: Any) -> Ticket:
    """Edit title, description, type or priority. Staff and the customer alike."""
    obj = access_ticket(by, ticket, lock=True)
    allowed = {"title", "description", "type", "priority"}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidInput(
            f"These fields cannot be changed here: {', '.join(sorted(unknown))}.",
            fields={f: ["Not writable."] for f in unknown},
        )
    if "title" in fields:
        obj.title = _required_text(fields["title"], "title")
    if "description" in fields:
        obj.description = fields["description"] or ""
    if "type" in fields:
        obj.type = _choice(fields["type"], TicketType, "type")
    if "priority" in fields:
        obj.priority = _choice(fields["priority"], Priority, "priority")
    obj.save()
    return obj


@transaction.atomic
def ticket_assign(*, ticket: Ticket | int | str, by: User, assignee: User | None) -> Ticket:
    obj = access_ticket(by, ticket, lock=True)
    if not by.is_provider:
        raise PermissionRefused("Only provider staff assign tickets.")
    if assignee is not None and (not assignee.is_provider or not assignee.is_active):
        raise InvalidInput(
            "Tickets are assigned to active provider staff only.",
            fields={"assignee": ["Not an active provider user."]},
        )
    obj.assignee = assignee
    obj.save()
    return obj


@transaction.atomic
def ticket_comment(
    *, ticket: Ticket | int | str, by: User, body: str, public: bool = True
) -> TicketComment:
    """Post a comment. A customer's comment is always public. A provider's public comment
    answers a ticket waiting for support (`reply`); a customer's comment answers one
    waiting for the customer (`customer_reply`)."""
    obj = access_ticket(by, ticket, lock=True)
    body = _required_text(body, "body")
    if by.is_customer:
        public = True
    from notifications.services import ticket_commented

    comment = TicketComment.objects.create(ticket=obj, author=by, body=body, public=public)
    ticket_commented(comment=comment, by=by)
    if by.is_provider and public and obj.status == TicketStatus.WAITING_FOR_SUPPORT:
        _take(obj, "reply", by=by, automatic=True)
    elif by.is_customer and obj.status == TicketStatus.WAITING_FOR_CUSTOMER:
        _take(obj, "customer_reply", by=by, automatic=True)
    elif by.is_customer and obj.status == TicketStatus.IN_TESTING:
        # §4.2: the customer moves a tested ticket to DONE, "or comment[s] them to send them
        # back" to WAITING FOR SUPPORT. The comment is the reason; it is posted once.
        _take(obj, "send_back", by=by, automatic=True, comment=body)
    else:
        obj.save(update_fields=["updated"])
    return comment


@transaction.atomic
def ticket_transition(
    *, ticket: Ticket | int | str, by: User, name: str, comment: str = "", **params: Any
) -> Ticket:
    """Take a manual ticket transition (`needs_work`, `start`, `accept`, `hold`, ...)."""
    obj = access_ticket(by, ticket, lock=True)
    _take(obj, name, by=by, comment=comment, **params)
    if name == "send_back":
        # The customer's reason is part of the conversation too.
        TicketComment.objects.create(ticket=obj, author=by, body=comment, public=True)
    return obj
