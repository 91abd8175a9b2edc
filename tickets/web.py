"""What the two HTML front ends share: the staff workspace (`views.py`) and the customer
portal (`portal.py`).

Plumbing only: who may enter a front end, pages and pagination, and the translation of a
posted form into one service call whose `DomainError` comes back onto the form (or, for a
transition, next to its button). No business rule lives here; the services decide.
The active timezone is the middleware's (`tickets.middleware.UserTimezoneMiddleware`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Page
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone

from . import services, workflow
from .errors import DomainError, NotVisible
from .limits import YEAR_MAX, YEAR_MIN, YEAR_RANGE_MESSAGE, datetime_in_range
from .models import Change, Ticket, User
from .pagination import CappedPaginator
from .scheduling import conflicts_of_one
from .selectors import access_attachment

PAGE_SIZE = 25

F = TypeVar("F", bound=forms.BaseForm)
T = TypeVar("T")
View = Callable[..., HttpResponseBase]


# --------------------------------------------------------------------------- access


def signed_in(view: View) -> View:
    """Any signed-in user; an anonymous one is sent to the login."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


def front_end(*, admits: Callable[[User], bool], elsewhere: str) -> Callable[[View], View]:
    """A front end's views: a signed-in user it `admits` (any other goes `elsewhere`, a URL
    or URL name); an object the user may not see is a 404, as the selectors say."""

    def decorator(view: View) -> View:
        @wraps(view)
        @signed_in
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not admits(request.user):  # type: ignore[arg-type]
                return redirect(elsewhere)
            try:
                return view(request, *args, **kwargs)
            except NotVisible as exc:
                raise Http404(exc.message) from exc

        return wrapper

    return decorator


# --------------------------------------------------------------------------- pages


def render_page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """The page, with the name of the timezone its dates are shown in."""
    context.setdefault("zone_name", str(timezone.get_current_timezone()))
    return render(request, template, context, status=status)


def paginate(request: HttpRequest, qs: QuerySet) -> Page:
    """A page of `qs` counted up to `pagination.COUNT_CAP` (a longer list says "more than"
    and pages on for as long as there is a next page)."""
    return CappedPaginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def succeed(request: HttpRequest, message: str, to: str) -> HttpResponse:
    """After a POST that worked: say what happened, then go to the page `to` (a URL)."""
    messages.success(request, message)
    return redirect(to)


def window_proposed(request: HttpRequest, change: Change, message: str, to: str) -> HttpResponse:
    """After a window is proposed: say so, and warn of what it clashes with (another
    change on a shared component, a freeze) before anyone agrees it."""
    conflicts = conflicts_of_one(change)
    if conflicts:
        messages.warning(
            request,
            "Before it is agreed, note that this window conflicts with: "
            + " ".join(
                f"{c.title}: {c.reason}" if c.kind == "freeze" else c.reason for c in conflicts
            ),
        )
    return succeed(request, message, to)


# --------------------------------------------------------------------------- forms


class BoundedDateTimeField(forms.DateTimeField):
    """A date and time typed in the user's timezone, refused outside `limits.YEAR_MIN` to
    `limits.YEAR_MAX` as typed, before anything converts it (into UTC to store it, into
    someone else's timezone to show it) and overflows."""

    default_error_messages = {"out_of_range": YEAR_RANGE_MESSAGE}

    def to_python(self, value: Any) -> Any:
        try:
            result = super().to_python(value)
        except (OverflowError, ValueError) as exc:
            raise forms.ValidationError(
                self.error_messages["out_of_range"], code="out_of_range"
            ) from exc
        if result is not None and not datetime_in_range(result):
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        return result


class BoundedDateField(forms.DateField):
    """A date within `limits.YEAR_MIN` to `limits.YEAR_MAX`: a page may step weeks either
    side of it (a calendar) without leaving what Python's dates hold."""

    default_error_messages = {"out_of_range": YEAR_RANGE_MESSAGE}

    def to_python(self, value: Any) -> Any:
        result = super().to_python(value)
        if result is not None and not YEAR_MIN <= result.year <= YEAR_MAX:
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        return result


def add_domain_errors(
    form: forms.BaseForm, error: DomainError, *, aliases: dict[str, str] | None = None
) -> None:
    """Attach a refusal to a form: each field the form has gets its messages (`aliases`
    maps a service's field name onto the form's), and the sentence itself becomes a
    form-wide error."""
    aliases = aliases or {}
    for name, errors in error.fields.items():
        name = aliases.get(name, name)
        if name in form.fields:
            for message in errors:
                form.add_error(name, message)
    form.add_error(None, error.message)


def submit(
    form: F,
    action: Callable[[dict[str, Any]], T],
    *,
    again: Callable[[F, int], HttpResponse],
    then: Callable[[T], HttpResponse],
    aliases: dict[str, str] | None = None,
) -> HttpResponse:
    """A posted form, translated into one service call: `action(cleaned_data)`, then
    `then(its result)`. A form of the wrong shape (400), or one the domain refuses (the
    error's status, its messages on the form), is shown `again` as typed."""
    if not form.is_valid():
        return again(form, 400)
    try:
        result = action(form.cleaned_data)
    except DomainError as exc:
        add_domain_errors(form, exc, aliases=aliases)
        return again(form, exc.http_status)
    return then(result)


# --------------------------------------------------------------------------- transitions


@dataclass
class Refusal:
    """A refused step, in the shape `includes/transitions.html` shows next to its button
    (with what was typed and chosen, so nothing is lost)."""

    name: str
    message: str
    status: int = 400
    fields: dict[str, list[str]] = field(default_factory=dict)
    comment: str = ""
    resolution: str = ""
    override_reason: str = ""


def take_transition(
    form: forms.BaseForm, subject: Ticket | Change, name: str, *, by: User
) -> Refusal | None:
    """Take step `name` on `subject` through its service, with the posted comment and the
    inputs the step's table entry needs, of those the front end's transition `form` takes
    (only those: a stray field never reaches a transition method); the refusal if the
    domain says no."""
    form.is_valid()  # every field is optional: the domain says what is missing
    data = form.cleaned_data
    comment = data.get("comment", "")
    needs = workflow.transition_customs(type(subject)).get(name, {}).get("needs", ())
    params = {n: data.get(n) or "" for n in needs if n != "comment" and n in form.fields}
    # Performing inside a hard freeze: operations management's reason for the override
    # (the service decides who may give one, and whether a freeze is in force).
    override = (data.get("override_reason") or "").strip()
    if override and isinstance(subject, Change):
        params["override_reason"] = override
    try:
        if isinstance(subject, Change):
            services.change_transition(
                change=subject.pk, by=by, name=name, comment=comment, **params
            )
        else:
            services.ticket_transition(
                ticket=subject.pk, by=by, name=name, comment=comment, **params
            )
    except DomainError as exc:
        return Refusal(
            name=name,
            message=exc.message,
            status=exc.http_status,
            fields=exc.fields,
            comment=comment,
            resolution=data.get("resolution") or "",
            override_reason=override,
        )
    return None


# --------------------------------------------------------------------------- attachments


def attach_file(
    request: HttpRequest, form: forms.Form, *, by: User, back: str, **subject: Any
) -> HttpResponse:
    """A posted upload form (`file`, and `internal` where the form has it) attached to the
    ticket or change named in `subject` through `services.attachment_add`; back to the
    page `back` (a URL) either way, saying what happened (a refusal, such as a file over
    the size limit, as an error message: nothing typed on the page is lost)."""
    if not form.is_valid():
        messages.error(request, "Choose a file to attach.")
        return redirect(back)
    data = form.cleaned_data
    try:
        attachment = services.attachment_add(
            by=by, file=data["file"], internal=bool(data.get("internal")), **subject
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    return succeed(request, f"{attachment.name} is attached.", back)


def delete_file(request: HttpRequest, pk: int, *, by: User, back: Callable[[Any], str]) -> Any:
    """Delete attachment `pk` through `services.attachment_delete`, then go to `back(it)`."""
    attachment = access_attachment(by, pk)
    to = back(attachment)
    try:
        services.attachment_delete(attachment=attachment.pk, by=by)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(to)
    return succeed(request, f"{attachment.name} is deleted.", to)
