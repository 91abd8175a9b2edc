"""Files on tickets and changes in the customer portal: attaching, downloading, deleting.
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
from ...typing import AuthenticatedRequest
from ..forms import AttachmentForm
from .common import customer_portal


def _page_of(attachment: Attachment) -> str:
    if attachment.ticket_id:
        return reverse("portal:ticket", kwargs={"ref": f"SUP-{attachment.ticket_id}"})
    return reverse("portal:change", kwargs={"ref": f"CHG-{attachment.change_id}"})


@customer_portal
def ticket_attachment_add(request: AuthenticatedRequest, ref: str) -> HttpResponse:
    ticket = access_ticket(request.user, ref)
    back = reverse("portal:ticket", kwargs={"ref": ticket.key})
    if request.method != "POST":
        return redirect(back)
    form = AttachmentForm(request.POST, request.FILES)
    return web.attach_file(request, form, by=request.user, back=back, ticket=ticket.pk)


@customer_portal
def change_attachment_add(request: AuthenticatedRequest, ref: str) -> HttpResponse:
    change = access_change(request.user, ref)
    back = reverse("portal:change", kwargs={"ref": change.key})
    if request.method != "POST":
        return redirect(back)
    form = AttachmentForm(request.POST, request.FILES)
    return web.attach_file(request, form, by=request.user, back=back, change=change.pk)


@customer_portal
def attachment_download(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    return attachment_response(access_attachment(request.user, pk))


@customer_portal
def attachment_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    if request.method != "POST":
        return redirect(_page_of(access_attachment(request.user, pk)))
    return web.delete_file(request, pk, by=request.user, back=_page_of)
