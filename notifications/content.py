"""What the messages say: subject, text and HTML, rendered from templates once, when the
event happens, and stored on the Notification (every recipient gets the same words)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.template.loader import render_to_string
from django.utils import dateformat

if TYPE_CHECKING:
    from tickets.models import Change


DASH = "\N{EN DASH}"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def format_window(start: datetime | None, end: datetime | None, tz_name: str) -> str:
    """'Tuesday 3 June 2025, 22:00-23:30 CEST (Europe/Paris)' (with an en dash), in the
    organisation's zone: end users read the time where they are, not the server's."""
    if start is None or end is None:
        return "to be announced"
    zone = _zone(tz_name)
    s, e = start.astimezone(zone), end.astimezone(zone)
    first = dateformat.format(s, "l j F Y, H:i")
    if s.date() == e.date():
        span = f"{first}{DASH}{dateformat.format(e, 'H:i')} {e.tzname()}"
    else:
        span = f"{first} {s.tzname()} {DASH} {dateformat.format(e, 'l j F Y, H:i')} {e.tzname()}"
    return f"{span} ({zone.key})"


def _render(template: str, context: dict[str, Any]) -> Rendered:
    base = f"notifications/email/{template}"
    subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
    return Rendered(
        subject=subject[:300],
        text=render_to_string(f"{base}.txt", context).strip() + "\n",
        html=render_to_string(f"{base}.html", context),
    )


def outage(
    kind: str,
    change: Change,
    *,
    window_start: datetime | None,
    window_end: datetime | None,
    previous: dict[str, Any] | None = None,
    rolled_back: bool = False,
) -> Rendered:
    """An outage communication to end users: the change's summary, what they will notice
    (impact) and the window, in the organisation's timezone."""
    org = change.organization
    context = {
        "kind": kind,
        "change": change,
        "organization": org,
        "window": format_window(window_start, window_end, org.timezone),
        "previous_window": (
            format_window(previous.get("start"), previous.get("end"), org.timezone)
            if previous
            else ""
        ),
        "duration": change.outage_duration_minutes,
        "rolled_back": rolled_back,
    }
    return _render(kind, context)


def action(
    *, key: str, title: str, headline: str, details: str = "", what_to_do: str = ""
) -> Rendered:
    """An action notice to people with a login: what now waits on them, and why."""
    context = {
        "key": key,
        "title": title,
        "headline": headline,
        "details": details,
        "what_to_do": what_to_do,
    }
    return _render("action", context)
