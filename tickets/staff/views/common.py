"""What every staff view shares: the request type, the access decorator, the site's
home, and small helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_htmx.middleware import HtmxDetails

from approvals.models import Approval, Decision

from ... import web, workflow
from ...models import (
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


def live_approvals(*, who: bool = True) -> Prefetch:
    """The approvals that still count, for lists of changes (one query for all): given
    and not dismissed; the round is matched per change in Python. `who=False` when only
    their number is shown (no user read per approval)."""
    approvals = Approval.objects.filter(decision=Decision.APPROVED, dismissed_at__isnull=True)
    approvals = (
        approvals.select_related("by") if who else approvals.only("id", "change_id", "round")
    )
    return Prefetch("approvals", queryset=approvals, to_attr="live_approvals")


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
