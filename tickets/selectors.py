"""What a user may see: one selector per entity, used by every front end.

A customer user sees only their organisation's objects, and only public comments; an
inactive or anonymous user sees nothing. `access_*` fetch one object *for a user* and
raise `NotVisible` (404) for anything outside that, optionally locking the row.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet

from .errors import NotVisible
from .models import (
    Change,
    ChecklistItem,
    Component,
    Contact,
    Organization,
    TestScenario,
    Ticket,
    TicketComment,
    TransitionLog,
    User,
)


def _customer_org(user: Any) -> int | bool | None:
    """None for provider staff (everything), the organisation id for a customer, False for
    nobody (anonymous, inactive)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.kind == User.Kind.PROVIDER:
        return None
    return user.organization_id or False


def _scoped(qs: QuerySet, user: Any, path: str = "organization_id") -> QuerySet:
    org = _customer_org(user)
    if org is False:
        return qs.none()
    if org is None:
        return qs
    return qs.filter(**{path: org})


def organizations_visible_to(user: Any) -> QuerySet[Organization]:
    return _scoped(Organization.objects.all(), user, "id")


def components_visible_to(user: Any) -> QuerySet[Component]:
    return _scoped(Component.objects.all(), user)


def contacts_visible_to(user: Any) -> QuerySet[Contact]:
    return _scoped(Contact.objects.all(), user)


def tickets_visible_to(user: Any) -> QuerySet[Ticket]:
    return _scoped(Ticket.objects.all(), user)


def changes_visible_to(user: Any) -> QuerySet[Change]:
    return _scoped(Change.objects.all(), user)


def comments_visible_to(user: Any) -> QuerySet[TicketComment]:
    qs = _scoped(TicketComment.objects.all(), user, "ticket__organization_id")
    if _customer_org(user):
        qs = qs.filter(public=True)
    return qs


def scenarios_visible_to(user: Any) -> QuerySet[TestScenario]:
    return _scoped(TestScenario.objects.all(), user, "change__organization_id")


def checklist_items_visible_to(user: Any) -> QuerySet[ChecklistItem]:
    return _scoped(ChecklistItem.objects.all(), user, "change__organization_id")


def ticket_log_visible_to(user: Any, ticket: Ticket) -> QuerySet[TransitionLog]:
    """The log of a ticket the caller already fetched through `access_ticket`."""
    return TransitionLog.objects.filter(ticket=ticket).select_related("actor")


def change_log_visible_to(user: Any, change: Change) -> QuerySet[TransitionLog]:
    return TransitionLog.objects.filter(change=change).select_related("actor")


_REF = re.compile(r"^(?:(?P<prefix>[A-Za-z]+)-)?(?P<n>\d+)$")


def parse_ref(ref: Any, prefix: str) -> int | None:
    """An id from 12, "12" or "CHG-12" (prefix checked, case-insensitive); None if not."""
    if isinstance(ref, int):
        return ref
    m = _REF.match(str(ref).strip())
    if not m:
        return None
    if m["prefix"] and m["prefix"].upper() != prefix:
        return None
    return int(m["n"])


def _access(qs: QuerySet, ref: Any, prefix: str, noun: str, lock: bool) -> Any:
    pk = ref.pk if hasattr(ref, "pk") else parse_ref(ref, prefix)
    if pk is None:
        raise NotVisible(f"No {noun} {ref}.")
    if lock:
        # Lock the row itself only (not joined rows); callers hold a transaction.
        qs = qs.select_for_update(of=("self",))
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise NotVisible(f"No {noun} {prefix}-{pk}.")
    return obj


def access_ticket(user: Any, ref: Any, *, lock: bool = False) -> Ticket:
    """The ticket `ref` (instance, id or SUP-key) if `user` may see it. With `lock`, the
    row is locked until the end of the caller's transaction."""
    return _access(tickets_visible_to(user), ref, "SUP", "ticket", lock)


def access_change(user: Any, ref: Any, *, lock: bool = False) -> Change:
    """The change `ref` (instance, id or CHG-key) if `user` may see it. With `lock`, the
    row is locked until the end of the caller's transaction."""
    return _access(changes_visible_to(user), ref, "CHG", "change", lock)


# --------------------------------------------------------------------------- portal


def tickets_waiting_on_customer(user: Any) -> QuerySet[Ticket]:
    """The tickets that wait on the customer (WORKFLOW.md: WAITING_FOR_CUSTOMER,
    IN_TESTING, and TO_BE_RELEASED when its change is customer-performed), among those
    `user` may see: the portal's "Needs your action"."""
    return tickets_visible_to(user).filter(Ticket.waiting_on_customer_q())


def changes_waiting_on_customer(user: Any) -> QuerySet[Change]:
    """The changes that wait on the customer (by status and performer, see
    `Change.customer_waiting_statuses`), among those `user` may see."""
    return changes_visible_to(user).filter(Change.waiting_on_customer_q())


def customer_action_counts(user: Any) -> dict[str, int]:
    """{"tickets": n, "changes": m, "total": n + m} for the navigation: two COUNT queries,
    whatever the number of rows."""
    n_tickets = tickets_waiting_on_customer(user).count()
    n_changes = changes_waiting_on_customer(user).count()
    return {"tickets": n_tickets, "changes": n_changes, "total": n_tickets + n_changes}


def tickets_attachable_to(user: Any, change: Change, search: str = "") -> QuerySet[Ticket]:
    """Section 4's candidates, as `change_set_tickets` accepts them: the organisation's
    tickets ready for release that no unperformed change holds (a ticket sent back from
    testing may go into a follow-up release), optionally searched by title or SUP-key."""
    from django.db.models import Q

    from .models import EDITABLE, TicketStatus

    qs = tickets_visible_to(user).filter(
        Q(change__isnull=True) | ~Q(change__status__in=EDITABLE),
        organization_id=change.organization_id,
        status=TicketStatus.TO_BE_RELEASED,
    )
    search = search.strip()
    if search:
        pk = parse_ref(search, "SUP")
        match = Q(title__icontains=search)
        qs = qs.filter(match | Q(pk=pk) if pk else match)
    return qs.order_by("-updated")
