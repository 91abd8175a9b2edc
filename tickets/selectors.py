"""What a user may see: one selector per entity, used by every front end.

A customer user sees only their organisation's objects, and only public comments; an
inactive or anonymous user sees nothing. `access_*` fetch one object *for a user* and
raise `NotVisible` (404) for anything outside that, optionally locking the row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connections
from django.db.models import Case, F, OuterRef, Q, QuerySet, Subquery, Value, When

from .errors import NotVisible
from .models import (
    Attachment,
    AttachmentEvent,
    Change,
    ChangeComponent,
    ChecklistItem,
    Component,
    ComponentVersion,
    Contact,
    Freeze,
    Organization,
    TestScenario,
    Ticket,
    TicketComment,
    TransitionLog,
    User,
)
from .models.freezes import FreezeQuerySet
from .models.search import SEARCH_CONFIG
from .pagination import ROWS_TOTAL, rows_total


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


def freezes_visible_to(user: Any) -> FreezeQuerySet:
    """Provider staff see every freeze; a customer those of every organisation and their
    own."""
    org = _customer_org(user)
    if org is False:
        return Freeze.objects.none()
    if org is None:
        return Freeze.objects.all()
    return Freeze.objects.filter(Q(organization__isnull=True) | Q(organization_id=org))


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


def change_components_shown() -> QuerySet[ChangeComponent]:
    """Section 2 as a change's page shows it, for `Prefetch("change_components", ...)` on
    changes the caller may see: each component, and as `current_version` the version
    now on the change's environment (None if never released there), in one query."""
    now_on = ComponentVersion.objects.filter(
        component_id=OuterRef("component_id"), environment_id=OuterRef("change__environment_id")
    ).values("version")[:1]
    return ChangeComponent.objects.select_related("component").annotate(
        current_version=Subquery(now_on)
    )


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


def by_pk(qs: QuerySet, pk: int | None) -> Any:
    """The row `pk` of `qs`, or None. `get()` drops the ordering, where `.first()` orders
    by the model's: the ORM spent about 0.3 ms compiling that ORDER BY for every page's
    one object."""
    if pk is None:
        return None
    try:
        return qs.get(pk=pk)
    except qs.model.DoesNotExist:
        return None


def _access(qs: QuerySet, ref: Any, prefix: str, noun: str, lock: bool) -> Any:
    pk = ref.pk if hasattr(ref, "pk") else parse_ref(ref, prefix)
    if pk is None:
        raise NotVisible(f"No {noun} {ref}.")
    if lock:
        # Lock the row itself only (not joined rows); callers hold a transaction.
        qs = qs.select_for_update(of=("self",))
    obj = by_pk(qs, pk)
    if obj is None:
        raise NotVisible(f"No {noun} {prefix}-{pk}.")
    return obj


def access_ticket(
    user: Any,
    ref: Any,
    *,
    lock: bool = False,
    reading: Callable[[QuerySet[Ticket]], QuerySet[Ticket]] | None = None,
) -> Ticket:
    """The ticket `ref` (instance, id or SUP-key) if `user` may see it. With `lock`, the
    row is locked until the end of the caller's transaction; `reading` as `access_change`
    says."""
    qs = tickets_visible_to(user)
    return _access(reading(qs) if reading else qs, ref, "SUP", "ticket", lock)


def access_change(
    user: Any,
    ref: Any,
    *,
    lock: bool = False,
    reading: Callable[[QuerySet[Change]], QuerySet[Change]] | None = None,
) -> Change:
    """The change `ref` (instance, id or CHG-key) if `user` may see it. With `lock`, the
    row is locked until the end of the caller's transaction. `reading` adds what a page
    reads with the change (select_related, prefetch_related) to the one query that
    finds it among the visible ones."""
    qs = changes_visible_to(user)
    return _access(reading(qs) if reading else qs, ref, "CHG", "change", lock)


# The people a change's page names: the change's own, and those of the rows it prefetched.
CHANGE_PEOPLE = ("author", "reporter", "window_proposed_by", "window_agreed_by")
CHANGE_ROWS_PEOPLE = {"scenarios": "result_by", "checklist": "by", "approvals": "by"}


def read_people(pairs: Iterable[tuple[Any, str]]) -> None:
    """Give each (object, field) pair its user (`field` a foreign key to User), all of them
    read in one query. A page that names many people reads them this way rather than by a
    join of the users table per relation (`select_related`): PostgreSQL plans every join
    order of those joins on every request, and the ORM compiles and builds each joined
    row; on a change page that was 15% of its time (docs/benchmarks.md)."""
    pairs = [(obj, field) for obj, field in pairs if getattr(obj, f"{field}_id") is not None]
    ids = {getattr(obj, f"{field}_id") for obj, field in pairs}
    people = User.objects.in_bulk(ids) if ids else {}
    for obj, field in pairs:
        setattr(obj, field, people[getattr(obj, f"{field}_id")])


def read_change_people(change: Change, fields: Iterable[str] = CHANGE_PEOPLE) -> Change:
    """`read_people` for a change page: the change's `fields` and the people of the rows
    prefetched with it (a scenario's result, a checklist item, an approval), in one
    query. Prefetch those rows without their users."""
    pairs: list[tuple[Any, str]] = [(change, field) for field in fields]
    cached = getattr(change, "_prefetched_objects_cache", {})
    for name, field in CHANGE_ROWS_PEOPLE.items():
        pairs += [(row, field) for row in cached.get(name, ())]
    read_people(pairs)
    return change


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


def customer_action_counts(user: Any, also: dict[str, QuerySet] | None = None) -> dict[str, Any]:
    """{"tickets": n, "changes": m, "total": n + m} for the navigation, each counted up to
    `pagination.PANEL_COUNT_CAP` (a large organisation's open tickets are not counted on
    every page), in one query; with their labels ("99+" past the cap) under
    `*_label`. The counts of `also` (the unread notices) come in the same query."""
    from .pagination import PANEL_COUNT_CAP, capped_counts

    counts = capped_counts(
        {
            "tickets": tickets_waiting_on_customer(user),
            "changes": changes_waiting_on_customer(user),
            **(also or {}),
        },
        cap=PANEL_COUNT_CAP,
    )
    counts["total"] = counts["tickets"] + counts["changes"]
    labels = {
        f"{key}_label": f"{PANEL_COUNT_CAP:,}+" if n > PANEL_COUNT_CAP else str(n)
        for key, n in counts.items()
    }
    return {**counts, **labels}


def tickets_attachable_to(user: Any, change: Change, search: str = "") -> QuerySet[Ticket]:
    """Section 4's candidates, as `change_set_tickets` accepts them: the organisation's
    tickets ready for release that no unperformed change holds (a ticket sent back from
    testing may go into a follow-up release), optionally searched by title or SUP-key."""
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


# --------------------------------------------------------------------------- search

# A ranked search ranks the most recently updated matches, at most this many: ranking is
# computed per match, and a common word matches a large share of a desk's history
# ("invoice": 42% of the seeded tickets). Unranked, a search answers every match.
SEARCH_RANKED_MATCHES = 1000
_WORD = re.compile(r"[^\W_]+")
_MAX_WORDS = 16
_MAX_PK = 2**63 - 1


def tickets_matching(qs: QuerySet[Ticket], text: str, *, ranked: bool = True) -> QuerySet[Ticket]:
    """The tickets of `qs` (already scoped, e.g. `tickets_visible_to(user)`, and filtered)
    that match `text`: every word of it in the title or the description, each word also
    as the beginning of a longer one ("inv" finds "invoices"), with English stemming. A
    bare number also finds the ticket of that id; a key ("SUP-12", any case) finds that
    ticket alone.

    Ranked (the default), the answer is ordered: the ticket of the number first, then by
    relevance (a word of the title counts more than one of the description), then most
    recently updated; among the SEARCH_RANKED_MATCHES most recently updated matches only.
    Unranked, every match, in the order of `qs` (give it one): for an explicit order, or
    to reach matches older than those. Each row has `search_rank` (0 unranked).

    PostgreSQL full-text search on the stored `search_document` (GIN-indexed); on other
    databases (SQLite for `make run`) `icontains` per word, ranked by recency only."""
    return _matching(qs, text, "SUP", ("title", "description"), ranked)


def changes_matching(qs: QuerySet[Change], text: str, *, ranked: bool = True) -> QuerySet[Change]:
    """As `tickets_matching`, for changes: the title and the summary, or the key ("CHG-3",
    "3")."""
    return _matching(qs, text, "CHG", ("title", "summary"), ranked)


def search_words(text: str) -> list[str]:
    """The words a search looks for: letters and digits, at most 16."""
    return _WORD.findall(text)[:_MAX_WORDS]


def _matching(
    qs: QuerySet, text: str, prefix: str, fields: tuple[str, ...], ranked: bool
) -> QuerySet:
    pk = parse_ref(text, prefix)
    if pk is not None and not 0 < pk <= _MAX_PK:
        pk = None
    key = Q(pk=pk) if pk is not None else None
    # "SUP-12" is that ticket: its words ("sup", "12") would only add noise, and a rare
    # pair of words is what the planner estimates worst.
    words = [] if key and "-" in text else search_words(text)
    if not words:
        return (qs.filter(key) if key else qs.none()).annotate(search_rank=Value(0.0))
    if connections[qs.db].vendor == "postgresql":
        query = SearchQuery(
            " & ".join(f"{w}:*" for w in words), search_type="raw", config=SEARCH_CONFIG
        )
        text_match = Q(search_document=query)
        rank: Any = SearchRank(F("search_document"), query)
    else:
        text_match = Q()
        for w in words:
            text_match &= Q(*[Q(**{f"{f}__icontains": w}) for f in fields], _connector=Q.OR)
        rank = Value(0.0)
    if not ranked:
        return qs.filter(text_match | key if key else text_match).annotate(search_rank=Value(0.0))
    # The candidates are read newest first: for a common word PostgreSQL walks `-updated`
    # and stops at the limit; for a rare one it reads the GIN index. The number's own row
    # joins them by a UNION, not an OR, which would keep PostgreSQL from either.
    ids = qs.filter(text_match).order_by("-updated").values("pk")[:SEARCH_RANKED_MATCHES]
    if key:
        ids = ids.union(qs.filter(key).values("pk"), all=True)
    first = Case(When(key, then=Value(1)), default=Value(0)) if key else Value(0)
    # Counted with the page (`pagination.ROWS_TOTAL`): the candidates are found once.
    return (
        qs.filter(pk__in=ids)
        .annotate(search_rank=rank, is_key=first, **{ROWS_TOTAL: rows_total()})
        .order_by("-is_key", "-search_rank", "-updated", "-pk")
    )


# --------------------------------------------------------------------------- attachments


def attachments_visible_to(user: Any) -> QuerySet[Attachment]:
    """Files on the tickets and changes `user` sees; a customer never sees internal ones."""
    org = _customer_org(user)
    qs = Attachment.objects.all()
    if org is False:
        return qs.none()
    if org is None:
        return qs
    return qs.filter(Q(ticket__organization_id=org) | Q(change__organization_id=org)).filter(
        internal=False
    )


def attachments_of(user: Any, subject: Ticket | Change) -> QuerySet[Attachment]:
    """The files of a ticket or change the caller already fetched through `access_ticket`
    / `access_change`; a customer's without internal ones. `attachments_visible_to` as
    it answers for one subject, without joining tickets and changes to find the
    organisation of each file (and none for a subject of another organisation)."""
    field = "ticket" if isinstance(subject, Ticket) else "change"
    qs = Attachment.objects.filter(**{field: subject})
    org = _customer_org(user)
    if org is False or (org is not None and subject.organization_id != org):
        return qs.none()
    return qs if org is None else qs.filter(internal=False)


def attachment_events_visible_to(user: Any, subject: Ticket | Change) -> QuerySet[AttachmentEvent]:
    """The file history of a ticket or change the caller already fetched through
    `access_ticket` / `access_change`; a customer's without internal files."""
    field = "ticket" if isinstance(subject, Ticket) else "change"
    qs = AttachmentEvent.objects.filter(**{field: subject}).select_related("actor")
    if _customer_org(user):
        qs = qs.filter(internal=False)
    return qs


def access_attachment(user: Any, ref: Any, *, lock: bool = False) -> Attachment:
    """The attachment `ref` (instance or id) if `user` may see it (its ticket's or change's
    visibility, and internal ones for provider staff only)."""
    return _access(attachments_visible_to(user), ref, "ATT", "attachment", lock)
