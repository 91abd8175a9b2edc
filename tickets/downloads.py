"""The answer that hands a stored attachment to a browser or a script, shared by the staff
pages, the portal and the API (each has fetched the attachment for its user first).

A file someone uploaded is never a page of ours: it is served with the type sniffed from
its bytes and `X-Content-Type-Options: nosniff`, as a download (`Content-Disposition:
attachment`) unless it is a raster image a browser decodes without running anything (PNG,
JPEG, GIF, WebP; never HTML or SVG), and under a CSP that sandboxes it and allows it
nothing, should a browser render it anyway.
"""

from __future__ import annotations

from django.http import FileResponse

from .models import Attachment

INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
SANDBOX_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def attachment_response(attachment: Attachment) -> FileResponse:
    inline = attachment.content_type in INLINE_TYPES
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=not inline,
        filename=attachment.name,
        content_type=attachment.content_type if inline else _download_type(attachment),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-store"
    return response


def _download_type(attachment: Attachment) -> str:
    # Markup goes out as what it is, but never with a type a browser would render in our
    # origin if a proxy dropped the Content-Disposition.
    if attachment.content_type in ("text/html", "image/svg+xml", "application/xml"):
        return "application/octet-stream"
    return attachment.content_type
