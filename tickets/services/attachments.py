"""Files on tickets and changes: attaching one, deleting one, each recorded in the
subject's file history (`AttachmentEvent`) in the same transaction.

Who may: whoever sees the ticket or change (a customer user their organisation's, provider
staff all) attaches; only provider staff attach internal files, and a file attached to an
internal comment is internal. The uploader or provider staff delete.
"""

from __future__ import annotations

import re
import unicodedata
from typing import IO, Any

import filetype
from django.conf import settings
from django.core.files import File
from django.db import transaction

from ..errors import InvalidInput, PermissionRefused, TooLarge
from ..limits import without_forbidden
from ..models import Attachment, AttachmentEvent, Change, Ticket, User
from ..selectors import access_attachment, access_change, access_ticket, comments_visible_to

NAME_MAX = 200
_SNIFF_BYTES = 8192
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|]+')


def clean_name(raw: str) -> str:
    """A file name safe to store and to send back in a Content-Disposition: its last path
    segment, NFC, without control characters, quotes, separators or reserved characters,
    at most NAME_MAX characters (the extension kept)."""
    name = unicodedata.normalize("NFC", without_forbidden(str(raw or "")))
    name = re.split(r"[\\/]", name)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip(" .")
    if not name:
        return "attachment"
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:20] if dot else ""
        name = (stem if dot else name)[: NAME_MAX - len(ext) - 1].rstrip(" .") + (
            f".{ext}" if ext else ""
        )
    return name


def sniff(head: bytes) -> str:
    """The content type of a file from its first bytes, never from a client's header."""
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    if b"\x00" in head:
        return "application/octet-stream"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 3:
            return "application/octet-stream"
        text = head[: exc.start].decode("utf-8")
    lower = text.lstrip("\ufeff \t\r\n").lower()
    if "<svg" in lower[:2048]:
        return "image/svg+xml"
    if lower.startswith(("<!doctype html", "<html", "<head", "<body", "<script")) or (
        "<html" in lower[:1024]
    ):
        return "text/html"
    if lower.startswith("<?xml"):
        return "application/xml"
    return "text/plain"


def _read_head(upload: IO[bytes] | File) -> bytes:
    upload.seek(0)
    head = upload.read(_SNIFF_BYTES)
    upload.seek(0)
    return bytes(head)


def _subject(by: User, ticket: Any, change: Any) -> Ticket | Change:
    if (ticket is None) == (change is None):
        raise InvalidInput("Attach a file to a ticket or to a change.")
    if ticket is not None:
        return access_ticket(by, ticket, lock=True)
    return access_change(by, change, lock=True)


def _event(attachment: Attachment, by: User, action: str) -> None:
    AttachmentEvent.objects.create(
        ticket_id=attachment.ticket_id,
        change_id=attachment.change_id,
        actor=by,
        action=action,
        name=attachment.name,
        size=attachment.size,
        internal=attachment.internal,
    )


@transaction.atomic
def attachment_add(
    *,
    by: User,
    file: File,
    name: str | None = None,
    ticket: Ticket | int | str | None = None,
    change: Change | int | str | None = None,
    comment: int | None = None,
    internal: bool = False,
) -> Attachment:
    """Attach `file` (an upload, or any Django File) to `ticket` or `change`. Locks the
    subject's row, so concurrent uploads count against the limit one at a time. The bytes
    are written to storage before the commit: a rolled-back upload leaves an unreferenced
    file, never a row without its file."""
    subject = _subject(by, ticket, change)
    if internal and not by.is_provider:
        raise PermissionRefused("Only provider staff attach internal files.")
    if comment is not None:
        if not isinstance(subject, Ticket):
            raise InvalidInput(
                "Only a ticket's files belong to a comment.",
                fields={"comment": ["Not on a change."]},
            )
        found = comments_visible_to(by).filter(pk=comment, ticket=subject).first()
        if found is None:
            raise InvalidInput(
                f"No comment {comment} on {subject.key}.",
                fields={"comment": ["Not a comment of this ticket."]},
            )
        # A file on an internal comment is as internal as the comment.
        internal = internal or not found.public
    size = file.size or 0
    limit = settings.ATTACHMENTS_MAX_BYTES
    if size > limit:
        raise TooLarge(
            f"The file is {size / 1048576:.1f} MB; files of at most "
            f"{limit / 1048576:.0f} MB can be attached.",
            fields={"file": [f"Larger than {limit / 1048576:.0f} MB."]},
        )
    if size == 0:
        raise InvalidInput("The file is empty.", fields={"file": ["Empty."]})
    existing = Attachment.objects.filter(**{type(subject).__name__.lower(): subject}).count()
    if existing >= settings.ATTACHMENTS_MAX_PER_SUBJECT:
        raise InvalidInput(
            f"{subject.key} already has {existing} files, the most one ticket or change "
            "may have; delete one first.",
            fields={"file": ["Too many files."]},
        )
    attachment = Attachment(
        ticket=subject if isinstance(subject, Ticket) else None,
        change=subject if isinstance(subject, Change) else None,
        comment_id=comment,
        internal=internal,
        name=clean_name(name if name is not None else (file.name or "")),
        size=size,
        content_type=sniff(_read_head(file)),
        uploaded_by=by,
    )
    attachment.file.save("upload", file, save=False)
    attachment.save()
    _event(attachment, by, AttachmentEvent.Action.ADDED)
    subject.save(update_fields=["updated"])
    return attachment


@transaction.atomic
def attachment_delete(*, attachment: Attachment | int, by: User) -> None:
    """Delete a file: its uploader, or provider staff. The row goes in this transaction,
    the stored bytes after the commit (a rollback keeps both)."""
    obj = access_attachment(by, attachment, lock=True)
    if not obj.deletable_by(by):
        raise PermissionRefused("Only whoever attached a file, or provider staff, delete it.")
    subject: Ticket | Change = (
        access_ticket(by, obj.ticket_id, lock=True)
        if obj.ticket_id
        else (access_change(by, obj.change_id, lock=True))
    )
    _event(obj, by, AttachmentEvent.Action.REMOVED)
    storage, stored = obj.file.storage, str(obj.file.name)
    obj.delete()
    subject.save(update_fields=["updated"])
    transaction.on_commit(lambda: storage.delete(stored))
