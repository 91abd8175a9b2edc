"""End-user contacts in the portal: the list, adding one, removing one, a CSV import."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from ... import services, web
from ...selectors import (
    contacts_visible_to,
)
from ...typing import AuthenticatedRequest
from ..forms import (
    CONTACTS_UPLOAD_MAX_BYTES,
    ContactForm,
    ContactImportForm,
)
from .common import _page, customer_portal


def _contacts_page(
    request: AuthenticatedRequest,
    *,
    form: ContactForm | None = None,
    import_form: ContactImportForm | None = None,
    report: services.ContactImportReport | None = None,
    import_error: str = "",
    status: int = 200,
) -> HttpResponse:
    page = web.paginate(request, contacts_visible_to(request.user).order_by("email"))
    return _page(
        request,
        "contacts.html",
        {
            "nav": "contacts",
            "page": page,
            "form": form or ContactForm(),
            "import_form": import_form or ContactImportForm(),
            "report": report,
            "import_error": import_error,
        },
        status=status,
    )


@customer_portal
def contacts(request: AuthenticatedRequest) -> HttpResponse:
    return _contacts_page(request)


@customer_portal
def contact_add(request: AuthenticatedRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("portal:contacts")
    return web.submit(
        ContactForm(request.POST),
        lambda data: services.contact_add(by=request.user, **data),
        again=lambda form, status: _contacts_page(request, form=form, status=status),
        then=lambda contact: web.succeed(
            request,
            f"{contact.email} will receive outage communications.",
            reverse("portal:contacts"),
        ),
    )


@customer_portal
def contact_remove(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    contact = contacts_visible_to(request.user).filter(pk=pk).first()
    if contact is None:
        raise Http404("No such contact.")
    if request.method != "POST":
        return redirect("portal:contacts")
    services.contact_remove(by=request.user, contact=contact.pk)
    messages.success(request, f"{contact.email} will no longer receive outage communications.")
    return redirect("portal:contacts")


@customer_portal
def contacts_import(request: AuthenticatedRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("portal:contacts")
    # Refuse an oversized upload from its declared length, before Django spools it to disk.
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > CONTACTS_UPLOAD_MAX_BYTES + 64 * 1024:
        return _contacts_page(
            request,
            import_error=(
                f"The file is too large; upload at most {CONTACTS_UPLOAD_MAX_BYTES // 1024} KB "
                "at a time."
            ),
            status=413,
        )
    return web.submit(
        ContactImportForm(request.POST, request.FILES),
        lambda data: services.contacts_import_csv(by=request.user, data=data["file"].read()),
        again=lambda form, status: _contacts_page(request, import_form=form, status=status),
        then=lambda report: _contacts_page(request, report=report),
    )
