"""`{% attachments_panel subject "staff" %}`: a ticket's or change's files, with their
history and the upload form, as the user of the page may see and act on them (the same
selectors and rules as the API). `front` is `staff` or `portal`: whose URLs to link."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from tickets.models import Ticket
from tickets.selectors import attachment_events_visible_to, attachments_of

register = template.Library()


@register.inclusion_tag("includes/attachments.html", takes_context=True)
def attachments_panel(context: Any, subject: Any, front: str) -> dict[str, Any]:
    user = context["request"].user
    kind = "ticket" if isinstance(subject, Ticket) else "change"
    files = list(
        attachments_of(user, subject).select_related("uploaded_by").order_by("created", "id")
    )
    for attachment in files:
        attachment.deletable = attachment.deletable_by(user)  # type: ignore[attr-defined]
    return {
        "front": front,
        "subject": subject,
        "kind": kind,
        "files": files,
        # The staff pages show the files' history in the conversation or timeline; the
        # portal's change page in the panel.
        "events": (
            list(attachment_events_visible_to(user, subject))
            if kind == "change" and front == "portal"
            else []
        ),
        "upload_url": f"{front}:{kind}_attachment_add",
        "internal_allowed": user.is_provider,
        "max_mb": settings.ATTACHMENTS_MAX_BYTES // (1024 * 1024),
        "csrf_token": context.get("csrf_token"),
    }
