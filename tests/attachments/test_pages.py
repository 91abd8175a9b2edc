"""Files on the staff and portal pages of tickets and changes, through the test client:
the list, the upload form (multipart, CSRF), download and delete, and the refusals."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.attachments.conftest import HTML, PNG
from tests.factories import ChangeFactory, TicketFactory
from tickets import services
from tickets.models import Attachment


def _client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _csrf(client: Client, page: str) -> str:
    answer = client.get(page)
    assert answer.status_code == 200
    return answer.cookies["csrftoken"].value


def _post_file(client: Client, page: str, url: str, name: str, content: bytes, **extra):
    token = _csrf(client, page)
    upload = SimpleUploadedFile(name, content)
    return client.post(url, {"file": upload, "csrfmiddlewaretoken": token, **extra}, follow=True)


def test_portal_ticket_upload_list_download_delete(cast):
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    client = _client(cast.alice)
    page = f"/portal/tickets/{ticket.key}/"
    answer = _post_file(client, page, f"{page}attachments/", "screen.png", PNG)
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "screen.png is attached." in html
    assert 'data-testid="attachment"' in html
    assert 'enctype="multipart/form-data"' in html
    attachment = Attachment.objects.get()
    assert f"/portal/attachments/{attachment.pk}/download/" in html
    got = client.get(f"/portal/attachments/{attachment.pk}/download/")
    assert got.status_code == 200
    assert got["X-Content-Type-Options"] == "nosniff"
    # The history of files, beside the list.
    assert "added the file <strong>screen.png</strong>" in html

    token = _csrf(client, page)
    answer = client.post(
        f"/portal/attachments/{attachment.pk}/delete/",
        {"csrfmiddlewaretoken": token},
        follow=True,
    )
    assert "screen.png is deleted." in answer.content.decode()
    assert not Attachment.objects.exists()


def test_portal_change_upload(cast):
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    client = _client(cast.alice)
    page = f"/portal/changes/{change.key}/"
    answer = _post_file(client, page, f"/portal/changes/{change.key}/attachments/", "a.html", HTML)
    assert "a.html is attached." in answer.content.decode()
    got = client.get(f"/portal/attachments/{Attachment.objects.get().pk}/download/")
    assert got["Content-Disposition"].startswith("attachment")


def test_too_large_keeps_the_page_with_a_message(cast, settings):
    settings.ATTACHMENTS_MAX_BYTES = 10
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    client = _client(cast.alice)
    page = f"/portal/tickets/{ticket.key}/"
    answer = _post_file(client, page, f"{page}attachments/", "big.txt", b"x" * 11)
    assert answer.redirect_chain[-1][0] == page
    assert "files of at most" in answer.content.decode()
    assert not Attachment.objects.exists()


def test_another_organisations_file_is_404_in_the_portal(cast):
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    attachment = services.attachment_add(
        by=cast.alice, ticket=ticket.pk, file=SimpleUploadedFile("a.png", PNG)
    )
    bob = _client(cast.bob)
    assert bob.get(f"/portal/attachments/{attachment.pk}/download/").status_code == 404
    assert bob.post(f"/portal/attachments/{attachment.pk}/delete/").status_code in (403, 404)
    assert Client().get(f"/portal/attachments/{attachment.pk}/download/").status_code == 302


def test_staff_ticket_and_change_pages(cast):
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    client = _client(cast.agent)
    page = f"/staff/tickets/{ticket.key}/"
    answer = _post_file(
        client, page, f"/staff/tickets/{ticket.key}/attachments/", "log.txt", b"a\n", internal="on"
    )
    assert "log.txt is attached." in answer.content.decode()
    internal = Attachment.objects.get()
    assert internal.internal
    # The customer does not see an internal file, on the page or by its URL.
    alice = _client(cast.alice)
    assert "log.txt" not in alice.get(f"/portal/tickets/{ticket.key}/").content.decode()
    assert alice.get(f"/portal/attachments/{internal.pk}/download/").status_code == 404

    page = f"/staff/changes/{change.key}/"
    answer = _post_file(
        client, page, f"/staff/changes/{change.key}/attachments/", "plan.pdf", b"%PDF-1.4\n"
    )
    html = answer.content.decode()
    assert "plan.pdf is attached." in html
    pdf = Attachment.objects.get(change=change)
    assert pdf.content_type == "application/pdf"
    assert f"/staff/attachments/{pdf.pk}/download/" in html
    assert client.get(f"/staff/attachments/{pdf.pk}/download/").status_code == 200
    # The history: in the ticket's conversation and the change's timeline.
    assert (
        "added the file log.txt (internal)"
        in client.get(f"/staff/tickets/{ticket.key}/").content.decode()
    )
    assert "added the file plan.pdf" in html


def test_the_files_panel_shows_a_customer_their_organisation_s_files_only(cast):
    """`attachments_of`: the panel's files of a subject the page already fetched; a
    customer sees no internal file, and nothing at all of another organisation's subject
    (should a page ever hand it one)."""
    from django.core.files.base import ContentFile

    from tickets.selectors import attachments_of

    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    shared = services.attachment_add(
        by=cast.agent, file=ContentFile(b"a", name="a.txt"), ticket=ticket
    )
    internal = services.attachment_add(
        by=cast.agent, file=ContentFile(b"b", name="b.txt"), ticket=ticket, internal=True
    )
    assert set(attachments_of(cast.agent, ticket)) == {shared, internal}
    assert list(attachments_of(cast.alice, ticket)) == [shared]
    assert list(attachments_of(cast.bob, ticket)) == []
    html = _client(cast.alice).get(f"/portal/tickets/{ticket.key}/").content.decode()
    assert "a.txt" in html and "b.txt" not in html
