"""Files on tickets and changes in the staff workspace: attaching, downloading, deleting.
The lists themselves are on the ticket and change pages (`attachments_panel`)."""

from __future__ import annotations

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse

from ... import web
from ...downloads import attachment_response
from ...models import Attachment
from ...selectors import access_attachment, access_change, access_ticket
from ..forms import AttachmentForm
from .common import StaffRequest, staff_view


def _page_of(attachment: Attachment) -> str:
    if attachment.ticket_id:
        return reverse("staff:ticket_detail", kwargs={"ref": f"SUP-{attachment.ticket_id}"})
    return reverse("staff:change_detail", kwargs={"ref": f"CHG-{attachment.change_id}"})


@staff_view
def ticket_attachment_add(request: StaffRequest, ref: str) -> HttpResponse:
    ticket = access_ticket(request.user, ref)
    back = reverse("staff:ticket_detail", kwargs={"ref": ticket.key})
    if request.method != "POST":
        return redirect(back)
    form = AttachmentForm(request.POST, request.FILES)
    return web.attach_file(request, form, by=request.user, back=back, ticket=ticket.pk)


@staff_view
def change_attachment_add(request: StaffRequest, ref: str) -> HttpResponse:
    change = access_change(request.user, ref)
    back = reverse("staff:change_detail", kwargs={"ref": change.key})
    if request.method != "POST":
        return redirect(back)
    form = AttachmentForm(request.POST, request.FILES)
    return web.attach_file(request, form, by=request.user, back=back, change=change.pk)


@staff_view
def attachment_download(request: StaffRequest, pk: int) -> HttpResponseBase:
    return attachment_response(access_attachment(request.user, pk))


@staff_view
def attachment_delete(request: StaffRequest, pk: int) -> HttpResponse:
    if request.method != "POST":
        return redirect(_page_of(access_attachment(request.user, pk)))
    return web.delete_file(request, pk, by=request.user, back=_page_of)
