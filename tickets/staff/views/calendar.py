"""The change calendar in the staff workspace (issue 14): deployment windows and freezes
by month, week or agenda, with their conflicts; the freezes, which operations management
declares (`services.schedule`); and the user's secret calendar feed."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from ... import calendar_page, web
from ...models import Freeze
from ...selectors import components_visible_to, freezes_visible_to, organizations_visible_to
from ...services import schedule
from ..freeze_forms import FreezeForm
from .common import StaffRequest, staff_view

# What the calendar's navigation links carry along.
FILTERS = ("organization", "environment", "component", "status")
FREEZE_SHOWS = {
    "current": "Current and upcoming",
    "past": "Past",
    "all": "All",
}


@staff_view
def calendar(request: StaffRequest) -> HttpResponse:
    user = request.user
    form = calendar_page.CalendarFilterForm(
        request.GET,
        organizations=organizations_visible_to(user),
        components=components_visible_to(user),
    )
    context = {
        "nav": "calendar",
        "cal": calendar_page.build(user, form, keep=FILTERS),
        "form": form,
        "change_url": "staff:change_detail",
        "may_manage": schedule.may_manage_freezes(user),
        "feed_url": "staff:calendar_feed",
        "feed": calendar_page.feed_of(user),
    }
    return web.render_page(request, "staff/calendar/calendar.html", context)


@require_POST
@staff_view
def calendar_feed(request: StaffRequest) -> HttpResponse:
    return calendar_page.feed_post(
        request,
        render=lambda context, status: web.render_page(
            request, "staff/calendar/feed.html", context, status
        ),
        back="staff:calendar",
    )


# --------------------------------------------------------------------------- freezes


@staff_view
def freeze_list(request: StaffRequest) -> HttpResponse:
    user = request.user
    show = request.GET.get("show", "current")
    if show not in FREEZE_SHOWS:
        show = "current"
    qs = (
        freezes_visible_to(user)
        .select_related("organization", "environment")
        .prefetch_related("components")
    )
    now = timezone.now()
    if show == "current":
        qs = qs.current(now).order_by("start", "id")
    elif show == "past":
        qs = qs.past(now).order_by("-start", "-id")
    context = {
        "nav": "calendar",
        "page": web.paginate(request, qs),
        "show": show,
        "shows": FREEZE_SHOWS,
        "may_manage": schedule.may_manage_freezes(user),
    }
    return web.render_page(request, "staff/calendar/freeze_list.html", context)


def _refused(request: StaffRequest) -> HttpResponse:
    return web.render_page(
        request,
        "staff/calendar/refused.html",
        {"nav": "calendar", "message": "Only operations management declares freezes."},
        status=403,
    )


def _form_page(
    request: StaffRequest, form: FreezeForm, freeze: Freeze | None, status: int = 200
) -> HttpResponse:
    context = {"nav": "calendar", "form": form, "freeze": freeze}
    return web.render_page(request, "staff/calendar/freeze_form.html", context, status)


def _saved(request: StaffRequest, verb: str) -> object:
    return lambda freeze: web.succeed(
        request, f"{freeze.kind} “{freeze.title}” {verb}.", reverse("staff:freeze_list")
    )


@staff_view
def freeze_new(request: StaffRequest) -> HttpResponse:
    user = request.user
    if not schedule.may_manage_freezes(user):
        return _refused(request)
    zone = str(timezone.get_current_timezone())
    form = FreezeForm(
        request.POST or None,
        organizations=organizations_visible_to(user),
        initial={"timezone": zone, "hard": "hard"},
    )
    if request.method != "POST":
        return _form_page(request, form, None)
    return web.submit(
        form,
        lambda data: schedule.freeze_create(by=user, **data),
        again=lambda f, status: _form_page(request, f, None, status),
        then=_saved(request, "declared"),  # type: ignore[arg-type]
    )


@staff_view
def freeze_detail(request: StaffRequest, pk: int) -> HttpResponse:
    """The freeze, read-only; its form for operations management."""
    user = request.user
    freeze = schedule.access_freeze(user, pk)
    if not schedule.may_manage_freezes(user):
        if request.method == "POST":
            return _refused(request)
        context = {"nav": "calendar", "freeze": freeze}
        return web.render_page(request, "staff/calendar/freeze_detail.html", context)
    form = FreezeForm(
        request.POST or None,
        organizations=organizations_visible_to(user),
        initial=FreezeForm.initial_for(freeze),
    )
    if request.method != "POST":
        return _form_page(request, form, freeze)
    return web.submit(
        form,
        lambda data: schedule.freeze_update(freeze=freeze.pk, by=user, **data),
        again=lambda f, status: _form_page(request, f, freeze, status),
        then=_saved(request, "saved"),  # type: ignore[arg-type]
    )


@staff_view
def freeze_delete(request: StaffRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes."""
    user = request.user
    freeze = schedule.access_freeze(user, pk)
    if not schedule.may_manage_freezes(user):
        return _refused(request)
    if request.method != "POST":
        context = {"nav": "calendar", "freeze": freeze}
        return web.render_page(request, "staff/calendar/freeze_delete.html", context)
    schedule.freeze_delete(freeze=freeze.pk, by=user)
    return web.succeed(
        request, f"The freeze “{freeze.title}” is deleted.", reverse("staff:freeze_list")
    )
