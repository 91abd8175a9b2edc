"""The staff workspace (`/staff/`): the pages support agents, QA, peers and operations
work in all day, and the account pages every user shares (`/accounts/`).

Every view is a thin translator. It reads through the selectors (another organisation's
object, or a made-up key, is a 404), calls one service function per action, and maps a
`DomainError` back onto the page it came from: the refusal's sentence next to the button
or on the form, the form kept as typed, the error's HTTP status. Which actions a page
offers, and why one is blocked, is asked of the domain (`services.transitions_for`).

Forms work without JavaScript (POST, then redirect); htmx only swaps the part of the page
that changed (`hx-select` picks it out of the same full page a plain request gets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.db.models import Case, Count, F, IntegerField, Prefetch, QuerySet, Value, When
from django.db.models.expressions import Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from approvals.models import Approval, ApprovalRole, Decision
from approvals.selectors import approval_roles_open_to, approvals_panel

from . import diagram_svg, services, web, workflow
from .errors import DomainError, NotVisible
from .forms import (
    AssignForm,
    AttachForm,
    ChangeCreateForm,
    ChangeFilter,
    ChangeSectionsForm,
    ChecklistForm,
    ChecklistItemForm,
    CommentForm,
    ComponentsForm,
    ScenarioFormSet,
    ScenarioResultForm,
    TicketCreateForm,
    TicketEditForm,
    TicketFilter,
    TransitionForm,
    WindowForm,
)
from .models import (
    EDITABLE,
    SECTIONS,
    Change,
    ChangeComponent,
    ChangeStatus,
    ChecklistItem,
    ChecklistState,
    ComponentVersion,
    Priority,
    Resolution,
    SectionEdit,
    TestScenario,
    Ticket,
    TicketComment,
    TicketType,
    User,
)
from .selectors import (
    access_change,
    access_ticket,
    change_log_visible_to,
    changes_visible_to,
    comments_visible_to,
    components_visible_to,
    parse_ref,
    ticket_log_visible_to,
    tickets_attachable_to,
    tickets_visible_to,
)
from .typing import AuthenticatedRequest

BOARD_CARDS = 25  # per column; the list view pages through the rest
DASHBOARD_ROWS = 8

# --------------------------------------------------------------------------- plumbing


class StaffRequest(AuthenticatedRequest):
    """A request behind `staff_view`: a provider user, with django-htmx's details."""

    htmx: HtmxDetails


# Provider staff only: a customer user is sent to the portal (by `home`), an anonymous one
# to the login. An object the user may not see is a 404, as the selectors say.
staff_view = web.front_end(admits=lambda user: user.is_provider, elsewhere="home")


def home(request: HttpRequest) -> HttpResponse:
    """`/`: staff to their workspace, customer users to the portal, others to the login."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login("/")
    if getattr(user, "is_customer", False):
        return redirect("/portal/")
    return redirect("staff:dashboard")


def _status_label(model: type, value: str) -> str:
    status = model._meta.get_field("status")  # type: ignore[attr-defined]
    return str(dict(status.choices).get(value, value))


def _done(request: HttpRequest, model: type, name: str, obj: Any) -> None:
    label = workflow.transition_customs(model).get(name, {}).get("label", name)
    messages.success(request, f"{label}: {obj.key} is now {obj.get_status_display()}.")


# --------------------------------------------------------------------------- dashboard


def _week(now: datetime) -> tuple[datetime, datetime]:
    local = timezone.localtime(now)
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return monday, monday + timedelta(days=7)


def _live_approvals() -> Prefetch:
    """The approvals that still count, for lists of changes (one query for all): given
    and not dismissed; the round is matched per change in Python."""
    return Prefetch(
        "approvals",
        queryset=Approval.objects.filter(
            decision=Decision.APPROVED, dismissed_at__isnull=True
        ).select_related("by"),
        to_attr="live_approvals",
    )


def _given(change: Change) -> list[Approval]:
    return [a for a in change.live_approvals if a.round == change.approval_round]  # type: ignore[attr-defined]


@staff_view
def dashboard(request: StaffRequest) -> HttpResponse:
    user = request.user
    waiting = (
        tickets_visible_to(user)
        .filter(Ticket.waiting_on_provider_q())
        .select_related("organization", "assignee", "change")
        .order_by("-updated")
    )
    mine = waiting.filter(assignee=user)
    unassigned = waiting.filter(assignee__isnull=True)

    # Changes awaiting an approval this user may give: every such change is read once,
    # with its live approvals, and the domain answers per change without a query.
    to_approve = []
    for change in (
        changes_visible_to(user)
        .filter(status=ChangeStatus.AWAITING_APPROVAL)
        .select_related("organization", "environment", "author")
        .prefetch_related(_live_approvals())
        .order_by("updated")
    ):
        given = _given(change)
        roles = approval_roles_open_to(change=change, user=user, given=given)
        if roles:
            to_approve.append(
                {
                    "change": change,
                    "roles": [ApprovalRole(r).label for r in roles],
                    "given": given,
                }
            )

    in_flight = (
        changes_visible_to(user)
        .filter(author=user)
        .exclude(status__in=[ChangeStatus.DONE, ChangeStatus.CANCELLED])
        .select_related("organization", "environment")
        .order_by("-updated")
    )
    start, end = _week(timezone.now())
    windows = (
        changes_visible_to(user)
        .filter(window_start__lt=end, window_end__gt=start)
        .exclude(status=ChangeStatus.CANCELLED)
        .select_related("organization", "environment", "window_agreed_by", "window_proposed_by")
        .order_by("window_start")
    )
    context = {
        "nav": "dashboard",
        "mine": list(mine[:DASHBOARD_ROWS]),
        "mine_count": mine.count(),
        "unassigned": list(unassigned[:DASHBOARD_ROWS]),
        "unassigned_count": unassigned.count(),
        "to_approve": to_approve,
        "in_flight": list(in_flight[:DASHBOARD_ROWS]),
        "in_flight_count": in_flight.count(),
        "windows": list(windows),
        "week_start": start,
        "week_end": end - timedelta(days=1),
        **_notices(user),
    }
    return web.render_page(request, "staff/dashboard.html", context)


def _notices(user: User) -> dict[str, Any]:
    """The user's latest action notices and how many are unread, when the notifications
    app offers them."""
    try:
        from notifications.selectors import notices_for, unread_notice_count
    except ImportError:
        return {"notices": None, "unread_notices": 0}
    return {
        "notices": list(notices_for(user)[:DASHBOARD_ROWS]),
        "unread_notices": unread_notice_count(user),
    }


@require_POST
@staff_view
def notice_read(request: StaffRequest, notice: int) -> HttpResponse:
    """One of the user's own notices, marked read (anyone else's is a 404)."""
    from notifications.services import notice_mark_read

    notice_mark_read(user=request.user, notice=notice)
    return redirect(f"{reverse('staff:dashboard')}#h-notices")


@require_POST
@staff_view
def notices_read(request: StaffRequest) -> HttpResponse:
    from notifications.services import notices_mark_all_read

    count = notices_mark_all_read(user=request.user)
    return web.succeed(
        request,
        f"{count} notice{'' if count == 1 else 's'} marked as read.",
        f"{reverse('staff:dashboard')}#h-notices",
    )


# --------------------------------------------------------------------------- tickets

PRIORITY_RANK = Case(
    When(priority=Priority.URGENT, then=Value(4)),
    When(priority=Priority.HIGH, then=Value(3)),
    When(priority=Priority.NORMAL, then=Value(2)),
    default=Value(1),
    output_field=IntegerField(),
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


@staff_view
def ticket_list(request: StaffRequest) -> HttpResponse:
    user = request.user
    qs = (
        tickets_visible_to(user)
        .select_related("organization", "assignee", "change")
        .annotate(priority_rank=PRIORITY_RANK)
    )
    filters = TicketFilter(request.GET or None, queryset=qs, user=user)
    sort = request.GET.get("sort") or "-updated"
    ordering = TICKET_SORTS.get(sort, TICKET_SORTS["-updated"])
    rows = filters.qs if filters.is_bound else qs
    page = web.paginate(request, rows.order_by(*ordering))
    context = {"nav": "tickets", "filters": filters, "page": page}
    if request.htmx and request.htmx.target == "queue-results":
        return web.render_page(request, "staff/tickets/_results.html", context)
    return web.render_page(request, "staff/tickets/list.html", context)


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


@dataclass
class Entry:
    """One line of a conversation or a timeline."""

    at: datetime
    kind: str  # comment / transition / edit
    actor: User | None
    obj: Any
    text: str = ""
    source: str = ""
    target: str = ""
    edits: list[SectionEdit] = field(default_factory=list)


def _ticket(user: User, ref: str) -> Ticket:
    pk = parse_ref(ref, "SUP")
    ticket = (
        tickets_visible_to(user)
        .select_related("organization", "assignee", "reporter", "change")
        .filter(pk=pk)
        .first()
        if pk is not None
        else None
    )
    if ticket is None:
        raise NotVisible(f"No ticket {ref}.")
    return ticket


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
    stream = [
        Entry(at=c.created, kind="comment", actor=c.author, obj=c, text=c.body)
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
        "posted": request.GET.get("posted"),
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


# --------------------------------------------------------------------------- changes


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


def _change_rows(user: User) -> QuerySet[Change]:
    return (
        changes_visible_to(user)
        .select_related("organization", "environment", "author")
        .prefetch_related(_live_approvals())
    )


@staff_view
def change_list(request: StaffRequest) -> HttpResponse:
    user = request.user
    qs = _change_rows(user)
    filters = ChangeFilter(request.GET or None, queryset=qs, user=user)
    sort = request.GET.get("sort") or "-updated"
    rows = filters.qs if filters.is_bound else qs
    page = web.paginate(request, rows.order_by(*CHANGE_SORTS.get(sort, CHANGE_SORTS["-updated"])))
    context = {"nav": "changes", "filters": filters, "page": page}
    if request.htmx and request.htmx.target == "change-results":
        return web.render_page(request, "staff/changes/_results.html", context)
    return web.render_page(request, "staff/changes/list.html", context)


@staff_view
def change_board(request: StaffRequest) -> HttpResponse:
    user = request.user
    filters = ChangeFilter(
        request.GET or None, queryset=changes_visible_to(user), user=user, board=True
    )
    base = filters.qs if filters.is_bound else changes_visible_to(user)
    # One query for the cards (at most BOARD_CARDS per column, the most recent first)
    # and one for the column counts, however many changes there are.
    ranked = (
        base.annotate(
            rank=Window(RowNumber(), partition_by=[F("status")], order_by=F("updated").desc())
        )
        .filter(rank__lte=BOARD_CARDS)
        .select_related("organization", "environment", "author")
        .prefetch_related(_live_approvals())
        .order_by("-updated")
    )
    counts = dict(base.order_by().values_list("status").annotate(n=Count("pk")))
    columns = [
        {"status": value, "label": label, "cards": [], "count": counts.get(value, 0)}
        for value, label in ChangeStatus.choices
    ]
    by_status = {c["status"]: c for c in columns}
    for change in ranked:
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


def _change(user: User, ref: str, *, full: bool = True) -> Change:
    """The change with what its page shows, in a fixed number of queries."""
    pk = parse_ref(ref, "CHG")
    qs = changes_visible_to(user).select_related(
        "organization",
        "environment",
        "author",
        "reporter",
        "source_ticket",
        "window_proposed_by",
        "window_agreed_by",
    )
    if full:
        qs = qs.prefetch_related(
            Prefetch(
                "change_components",
                queryset=ChangeComponent.objects.select_related("component").prefetch_related(
                    Prefetch(
                        "component__versions",
                        queryset=ComponentVersion.objects.select_related("environment"),
                    )
                ),
            ),
            Prefetch("scenarios", queryset=TestScenario.objects.select_related("result_by")),
            Prefetch("checklist", queryset=ChecklistItem.objects.select_related("by")),
            Prefetch("tickets", queryset=Ticket.objects.select_related("assignee").order_by("pk")),
        )
    change = qs.filter(pk=pk).first() if pk is not None else None
    if change is None:
        raise NotVisible(f"No change {ref}.")
    return change


EDIT_BURST = timedelta(minutes=2)


def _timeline(user: User, change: Change) -> list[Entry]:
    """Transitions and section edits, newest first; the edits one person saved together
    (in one editor save, or within a couple of minutes) read as one entry."""
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
    from notifications.selectors import communications_for_change

    return list(communications_for_change(change=change))


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
    change = _change(user, ref)
    options = services.transitions_for(change, user)
    approve = next((o for o in options if o.name == "approve"), None)
    my_roles = approve.extra.get("roles", []) if approve else []
    components = []
    for cc in change.change_components.all():
        versions = {v.environment_id: v.version for v in cc.component.versions.all()}
        components.append(
            {
                "cc": cc,
                "current": versions.get(change.environment_id),
                "all": cc.component.versions.all(),
            }
        )
    item_forms = item_forms or {}
    result_forms = result_forms or {}
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
    }
    return web.render_page(request, "staff/changes/detail.html", context, status)


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
        then=lambda change: web.succeed(
            request,
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


# --------------------------------------------------------------------------- editor


class Editor:
    """The forms of the change editor, bound together: what was typed stays when any of
    them is refused."""

    def __init__(self, user: User, change: Change, data: QueryDict | None = None) -> None:
        self.change = change
        self.sections = ChangeSectionsForm(data, initial=ChangeSectionsForm.initial_for(change))
        components = (
            components_visible_to(user)
            .filter(organization_id=change.organization_id)
            .prefetch_related(
                Prefetch(
                    "versions", queryset=ComponentVersion.objects.select_related("environment")
                )
            )
            .order_by("name")
        )
        self.components = ComponentsForm(
            data,
            components=components,
            current={cc.component_id: cc.target_version for cc in change.change_components.all()},
        )
        scenarios = list(change.scenarios.all())
        self.scenarios = ScenarioFormSet(
            data,
            prefix="scenarios",
            initial=[{"id": s.pk, "kind": s.kind, "description": s.description} for s in scenarios],
        )
        if not scenarios and data is None:
            self.scenarios.extra = 2
        self.checklist = ChecklistForm(data, items=change.checklist.all())
        self.data = data
        self.scenario_errors: list[str] = []

    def forms(self) -> list[Any]:
        return [self.sections, self.components, self.scenarios, self.checklist]

    def is_valid(self) -> bool:
        # Every form is validated (no short cut), so all their errors show at once.
        results = [f.is_valid() for f in self.forms()]
        return all(results)

    def save(self, user: User) -> None:
        """Everything through the services, in one transaction: all of it or none."""
        pk = self.change.pk
        with transaction.atomic():
            services.change_update(change=pk, by=user, **self.sections.section_data(self.change))
            services.change_set_components(change=pk, by=user, components=self.components.chosen())
            services.change_set_tickets(change=pk, by=user, tickets=self.sections.ticket_ids())
            for form in self.scenarios.forms:
                if not form.has_changed() and not form.cleaned_data.get("id"):
                    continue
                sid = form.cleaned_data.get("id")
                if sid and self.scenarios.can_delete and form.cleaned_data.get("DELETE"):
                    services.scenario_remove(scenario=sid, by=user, change=pk)
                elif sid:
                    services.scenario_update(
                        scenario=sid,
                        by=user,
                        change=pk,
                        kind=form.cleaned_data["kind"],
                        description=form.cleaned_data["description"],
                    )
                elif form.cleaned_data.get("description") and not form.cleaned_data.get("DELETE"):
                    services.scenario_add(
                        change=pk,
                        by=user,
                        kind=form.cleaned_data["kind"],
                        description=form.cleaned_data["description"],
                    )
            for item, state, reason in self.checklist.changed_items():
                services.checklist_item_update(
                    item=item.pk, by=user, change=pk, state=state, reason=reason
                )

    def refuse(self, exc: DomainError) -> None:
        """Put a refusal on the form that holds the field it names."""
        fields = set(exc.fields)
        if fields & {"components"}:
            self.components.add_error(None, exc.message)
        elif fields & {"kind", "description"}:
            self.scenario_errors.append(exc.message)
        elif fields & {"state", "reason"}:
            self.checklist.add_error(None, exc.message)
        else:
            web.add_domain_errors(self.sections, exc)

    def errors(self) -> list[tuple[str, str]]:
        """(anchor, message) for the error summary at the top of the page."""
        out: list[tuple[str, str]] = []
        anchors = {
            "title": "section-1",
            "summary": "section-1",
            "environment": "section-1",
            "performer": "section-1",
            "outage_expected": "section-3",
            "outage_duration_minutes": "section-3",
            "impact": "section-3",
            "communication_audience": "section-3",
            "communication_message": "section-3",
            "communication_timing": "section-3",
            "tickets": "section-4",
            "changelog": "section-5",
            "deployment_procedure": "section-6",
            "rollback_procedure": "section-7",
        }
        for name, errs in self.sections.errors.items():
            label = self.sections.fields[name].label if name in self.sections.fields else ""
            for e in errs:
                out.append((anchors.get(name, "sections"), f"{label}: {e}" if label else str(e)))
        for errs in self.components.errors.values():
            out += [("section-2", str(e)) for e in errs]
        for i, f in enumerate(self.scenarios.forms, start=1):
            for errs in f.errors.values():
                out += [("section-8", f"Scenario {i}: {e}") for e in errs]
        out += [("section-8", str(e)) for e in self.scenarios.non_form_errors()]
        out += [("section-8", e) for e in self.scenario_errors]
        for errs in self.checklist.errors.values():
            out += [("section-9", str(e)) for e in errs]
        return out

    def tickets(
        self, user: User, search: str = ""
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Section 4: the attached tickets (ticked unless unticked in the form), then the
        candidates: those ticked in the form, then the search's results."""
        attached = list(self.change.tickets.all())
        if self.data is not None:
            ticked = {int(v) for v in self.data.getlist("tickets") if v.isdigit()}
        else:
            ticked = {t.pk for t in attached}
        return _ticket_rows(user, self.change, attached, ticked, search)


def _ticket_rows(
    user: User, change: Change, attached: list[Ticket], ticked: set[int], search: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    attached_rows = [{"ticket": t, "checked": t.pk in ticked} for t in attached]
    shown = {t.pk for t in attached}
    extra = sorted(ticked - shown)
    candidates = list(tickets_visible_to(user).filter(pk__in=extra)) if extra else []
    shown |= {t.pk for t in candidates}
    candidates += [t for t in tickets_attachable_to(user, change, search)[:20] if t.pk not in shown]
    candidate_rows = [{"ticket": t, "checked": t.pk in ticked} for t in candidates]
    return attached_rows, candidate_rows


@staff_view
def change_edit(request: StaffRequest, ref: str) -> HttpResponse:
    user = request.user
    change = _change(user, ref)
    if not change.is_editable:
        messages.info(
            request,
            f"{change.key} is {change.get_status_display()}: its sections can no longer be edited.",
        )
        return redirect("staff:change_detail", ref=change.key)
    status = 200
    search = ""
    if request.method == "POST":
        editor = Editor(user, change, request.POST)
        search = request.POST.get("ticket_search", "")
        if "find_tickets" in request.POST:
            # Without JavaScript the ticket search is a submit: show the results and keep
            # everything typed, without saving.
            pass
        elif editor.is_valid():
            try:
                editor.save(user)
            except DomainError as exc:
                editor.refuse(exc)
                status = exc.http_status
            else:
                change.refresh_from_db()
                messages.success(request, f"{change.key} saved.")
                if "save_and_view" in request.POST:
                    return redirect("staff:change_detail", ref=change.key)
                return redirect("staff:change_edit", ref=change.key)
        else:
            status = 400
    else:
        editor = Editor(user, change)
    ticket_rows, candidate_rows = editor.tickets(user, search)
    submit = next((o for o in services.transitions_for(change, user) if o.name == "submit"), None)
    context = {
        "nav": "changes",
        "change": change,
        "editor": editor,
        "sections": SECTIONS,
        "incomplete": {n: problem for n, _, problem in change.incomplete_sections()},
        "errors": editor.errors() if request.method == "POST" else [],
        "checklist_pending": sum(
            1 for i in change.checklist.all() if i.state == ChecklistState.PENDING
        ),
        "ticket_rows": ticket_rows,
        "candidate_rows": candidate_rows,
        "ticket_search": search,
        "submit_option": submit,
        "approvals_given": change.edits_dismiss_approvals(),
    }
    return web.render_page(request, "staff/changes/edit.html", context, status)


@staff_view
def change_ticket_candidates(request: StaffRequest, ref: str) -> HttpResponse:
    """htmx: section 4's candidates for a search, as checkboxes to tick."""
    user = request.user
    change = _change(user, ref, full=False)
    search = request.GET.get("ticket_search", "")
    ticked = {int(v) for v in request.GET.getlist("tickets") if v.isdigit()}
    _, rows = _ticket_rows(user, change, [], ticked, search)
    return web.render_page(
        request,
        "staff/changes/_ticket_candidates.html",
        {"change": change, "candidate_rows": rows, "ticket_search": search},
    )


# --------------------------------------------------------------------------- diagrams


@staff_view
def workflows(request: StaffRequest) -> HttpResponse:
    context = {
        "nav": "workflows",
        "machines": [
            {
                "title": "Support tickets",
                "svg": diagram_svg.render(Ticket),
                "rows": diagram_svg.transition_rows(Ticket),
            },
            {
                "title": "Change tickets",
                "svg": diagram_svg.render(Change),
                "rows": diagram_svg.transition_rows(Change),
            },
        ],
    }
    return web.render_page(request, "staff/workflows.html", context)


# --------------------------------------------------------------------------- API tokens

TOKEN_LIFETIMES = {"7": 7, "30": 30, "90": 90}  # days


@web.signed_in
def api_tokens(request: AuthenticatedRequest) -> HttpResponse:
    """A user's own API tokens (django-rest-knox): create one (its key is shown once, in
    this response only, and stored hashed), see when each was made and expires, revoke."""
    from knox.models import AuthToken

    user = request.user
    created_key = None
    status = 200
    if request.method == "POST":
        if "revoke" in request.POST:
            deleted, _ = AuthToken.objects.filter(
                user=user, token_key=request.POST.get("revoke", "")
            ).delete()
            if deleted:
                messages.success(request, "Token revoked: it no longer works.")
            else:
                messages.error(request, "You have no such token; it may be revoked already.")
            return redirect("api_tokens")
        days = TOKEN_LIFETIMES.get(request.POST.get("lifetime", ""), 30)
        _token, created_key = AuthToken.objects.create(user=user, expiry=timedelta(days=days))
        status = 201
    tokens = AuthToken.objects.filter(user=user).order_by("-created")
    response = web.render_page(
        request,
        "registration/api_tokens.html",
        {
            "tokens": tokens,
            "created_key": created_key,
            "lifetimes": TOKEN_LIFETIMES,
            "now": timezone.now(),
        },
        status,
    )
    if created_key:
        response["Cache-Control"] = "no-store"  # the key must not linger in any cache
    return response
