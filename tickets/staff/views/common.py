"""What every staff view shares: the request type, the access decorator, the site's
home, and small helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.db.models import Case, Prefetch, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_htmx.middleware import HtmxDetails

from approvals.models import Approval
from approvals.selectors import given_now_count

from ... import web, workflow
from ...models import (
    ChangeStatus,
    SectionEdit,
    User,
)
from ...typing import AuthenticatedRequest

BOARD_CARDS = 12  # per column; the list view pages through the rest
DASHBOARD_ROWS = 8


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
    focus: bool = False  # the comment just posted: focused when the page loads


def live_approvals() -> Prefetch:
    """The approvals that still count, for lists of changes that name who gave them (one
    query for all); the round is matched per change in Python."""
    standing = Approval.objects.standing().select_related("by")
    return Prefetch("approvals", queryset=standing, to_attr="live_approvals")


def approvals_given_now() -> Case:
    """How many approvals count now (`approvals.selectors.given_now_count`) on a change
    awaiting approval, 0 on any other (the lists show the number only then): an
    annotation, where a prefetch built every approval of every card (most of them on
    changes long past approval) to count a few."""
    return Case(
        When(status=ChangeStatus.AWAITING_APPROVAL, then=given_now_count()),
        default=Value(0),
    )


def filtered_list(
    request: StaffRequest,
    filters: Any,
    rows: QuerySet,
    *,
    sorts: dict[str, tuple[Any, ...]],
    nav: str,
    target: str,
    template: str,
) -> HttpResponse:
    """A staff list: filtered (and searched) by `filters`, sorted as asked (a search the
    user did not sort keeps its ranking), paged, and rendered whole or, for htmx, only
    its results (`template` with `list.html` swapped for `_results.html`)."""
    if filters.is_bound:
        rows = filters.qs
    sort = request.GET.get("sort")
    if sort or not filters.searched():
        rows = rows.order_by(*sorts.get(sort or "-updated", sorts["-updated"]))
    context = {"nav": nav, "filters": filters, "page": web.paginate(request, rows)}
    if request.htmx and request.htmx.target == target:
        return web.render_page(request, template.replace("list.html", "_results.html"), context)
    return web.render_page(request, template, context)
