"""Small presentation helpers of the staff workspace (and of the shared partials)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import template
from django.http import QueryDict
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from .. import pagination

register = template.Library()

WAITING = {
    "customer": ("waiting--customer", "Waits on the customer"),
    "provider": ("waiting--provider", "Waits on us"),
}


@register.simple_tag
def status_badge(obj: Any) -> str:
    """The status of a ticket or change as a coloured badge (colour never alone: the
    label is always written)."""
    return format_html(
        '<span class="badge status-{}">{}</span>', obj.status, obj.get_status_display()
    )


@register.simple_tag
def waiting_on(obj: Any) -> str:
    who = obj.waiting_on
    if who not in WAITING:
        return ""
    css, text = WAITING[who]
    return format_html('<span class="waiting {}">{}</span>', css, text)


@register.simple_tag(takes_context=True)
def query(context: Any, **changes: Any) -> str:
    """The current query string with some parameters replaced (None removes one); the
    page number is dropped whenever anything else changes."""
    request = context.get("request")
    params = QueryDict(mutable=True)
    if request is not None:
        params = request.GET.copy()
    if "page" not in changes:
        params.pop("page", None)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    encoded = urlencode(sorted((k, v) for k in params for v in params.getlist(k)))
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def sort_link(context: Any, field: str, label: str, default: str = "-updated") -> str:
    """A column heading that sorts by `field`, and toggles the direction when it already
    does; `aria-sort` tells a screen reader the current order."""
    request = context.get("request")
    current = (request.GET.get("sort") if request is not None else None) or default
    if current == field:
        target, arrow = f"-{field}", " ▲"
    elif current == f"-{field}":
        target, arrow = field, " ▼"
    else:
        target, arrow = field, ""
    href = query(context, sort=target)
    return format_html(
        '<a class="sort-link" href="{}"{}>{}<span aria-hidden="true">{}</span></a>',
        href,
        mark_safe(' aria-current="true"') if arrow else "",
        label,
        arrow,
    )


@register.filter
def aria_sort(request: Any, field: str) -> str:
    current = request.GET.get("sort") or "-updated"
    if current == field:
        return "ascending"
    if current == f"-{field}":
        return "descending"
    return "none"


@register.filter
def count_label(n: int) -> str:
    """A panel's count (`pagination.capped_counts` at PANEL_COUNT_CAP): "99+" once it
    passed the cap."""
    cap = pagination.PANEL_COUNT_CAP
    return f"{cap:,}+" if n > cap else str(n)


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def person(user: Any) -> str:
    if user is None:
        return "the system"
    return user.get_full_name() or user.get_username()


@register.filter
def refused_for(refused: Any, name: str) -> Any:
    """The refusal if it answered the action `name`, else None."""
    return refused if refused is not None and getattr(refused, "name", None) == name else None


@register.filter
def refused_elsewhere(refused: Any, options: Any) -> bool:
    """A refusal for an action no longer offered (the state moved on): shown on top."""
    return refused is not None and refused.name not in {o.name for o in options}


@register.filter
def role_label(value: str) -> str:
    from approvals.models import ApprovalRole

    try:
        return str(ApprovalRole(value).label)
    except ValueError:
        return value


# Steps that undo or stop work get the quieter, red button.
DESTRUCTIVE = {"reject", "cancel", "roll_back", "send_back", "hold"}


@register.filter
def destructive(name: str) -> bool:
    return name in DESTRUCTIVE


@register.filter
def ordered_actions(options: Any) -> list[Any]:
    """What moves the work forward first, then what is blocked, then what undoes or
    stops it (the order of the domain's table within each group)."""
    return sorted(options, key=lambda o: (o.name in DESTRUCTIVE, not o.allowed))


@register.simple_tag
def approvals_needed() -> int:
    """How many provider approvals a change needs (QA, Peer, Operations)."""
    from approvals.models import PROVIDER_ROLES

    return len(PROVIDER_ROLES)
