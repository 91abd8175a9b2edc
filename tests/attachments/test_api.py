"""The attachment endpoints of API.md: upload, list, metadata, download, delete; the size
limit; another organisation's files; files that would run in a browser."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api.support import Api, ok
from tests.attachments.conftest import HTML, PNG, SVG
from tests.factories import ChangeFactory, CustomerUserFactory, TicketFactory
from tickets.models import Attachment, AttachmentEvent


def _upload(api: Api, path: str, name: str, content: bytes, **fields: object):
    upload = SimpleUploadedFile(name, content, content_type="application/pdf")
    return api.client.post(path, {"file": upload, **fields}, format="multipart")


def test_upload_list_download_delete(cast):
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    alice = Api.of(cast.alice)
    made = ok(_upload(alice, f"/api/v1/tickets/{ticket.key}/attachments/", "shot.png", PNG), 201)
    assert made["name"] == "shot.png"
    assert made["size"] == len(PNG)
    # The bytes decide, not the client's "application/pdf".
    assert made["content_type"] == "image/png"
    assert made["uploaded_by"] == "alice"
    listed = ok(alice.get(f"/api/v1/tickets/{ticket.pk}/attachments/"))
    assert [row["id"] for row in listed["results"]] == [made["id"]]
    meta = ok(alice.get(f"/api/v1/attachments/{made['id']}/"))
    assert meta["url"].endswith(f"/api/v1/attachments/{made['id']}/download/")
    got = alice.get(meta["url"])
    assert got.status_code == 200
    assert b"".join(got.streaming_content) == PNG
    assert got["Content-Type"] == "image/png"
    assert got["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in got["Content-Security-Policy"]
    assert not got["Content-Disposition"].startswith("attachment")

    # Someone else of the organisation may not delete it; provider staff may.
    other = Api.of(CustomerUserFactory(username="carol", organization=cast.acme))
    assert other.delete(f"/api/v1/attachments/{made['id']}/").status_code == 403
    assert Api.of(cast.agent).delete(f"/api/v1/attachments/{made['id']}/").status_code == 204
    assert not Attachment.objects.exists()
    assert alice.get(meta["url"]).status_code == 404
    events = list(AttachmentEvent.objects.filter(ticket=ticket).values_list("action", "actor"))
    assert events == [("added", cast.alice.pk), ("removed", cast.agent.pk)]


def test_change_attachments_and_uploader_deletes(cast):
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    alice = Api.of(cast.alice)
    made = ok(_upload(alice, f"/api/v1/changes/{change.key}/attachments/", "plan.txt", b"ok"), 201)
    assert made["content_type"] == "text/plain"
    assert made["change"] == change.pk
    assert ok(Api.of(cast.agent).get(f"/api/v1/changes/{change.pk}/attachments/"))["count"] == 1
    assert alice.delete(f"/api/v1/attachments/{made['id']}/").status_code == 204


def test_size_limit_is_a_413_with_detail(cast, settings):
    settings.ATTACHMENTS_MAX_BYTES = 1000
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    answer = _upload(
        Api.of(cast.alice), f"/api/v1/tickets/{ticket.pk}/attachments/", "big.bin", b"x" * 1001
    )
    assert answer.status_code == 413
    assert "at most" in answer.json()["detail"]
    assert not Attachment.objects.exists()


def test_large_multipart_body_reaches_the_view(cast, settings):
    # Bodies above Django's in-memory limit are file uploads, streamed to disk: the guard
    # must not refuse them before the attachment limit is asked.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    answer = _upload(
        Api.of(cast.alice), f"/api/v1/tickets/{ticket.pk}/attachments/", "a.bin", b"\0" * 5000
    )
    assert answer.status_code == 201, answer.content


def test_another_organisations_attachment_is_404_by_id_and_by_url(cast):
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    made = ok(
        _upload(Api.of(cast.alice), f"/api/v1/tickets/{ticket.pk}/attachments/", "a.png", PNG),
        201,
    )
    bob = Api.of(cast.bob)
    for path in (
        f"/api/v1/attachments/{made['id']}/",
        f"/api/v1/attachments/{made['id']}/download/",
        f"/api/v1/tickets/{ticket.pk}/attachments/",
    ):
        answer = bob.get(path)
        assert answer.status_code == 404, path
        assert "detail" in answer.json()
    assert bob.delete(f"/api/v1/attachments/{made['id']}/").status_code == 404
    assert _upload(bob, f"/api/v1/tickets/{ticket.pk}/attachments/", "x", b"x").status_code == 404


def test_internal_files_are_provider_only(cast):
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    agent = Api.of(cast.agent)
    path = f"/api/v1/tickets/{ticket.pk}/attachments/"
    made = ok(_upload(agent, path, "notes.txt", b"internal", internal="true"), 201)
    alice = Api.of(cast.alice)
    assert ok(alice.get(path))["count"] == 0
    assert alice.get(f"/api/v1/attachments/{made['id']}/").status_code == 404
    assert _upload(alice, path, "x.txt", b"x", internal="true").status_code == 403


def test_html_and_svg_are_downloads_with_nosniff(cast):
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    alice = Api.of(cast.alice)
    for name, content, sniffed in (
        ("page.html", HTML, "text/html"),
        ("x.svg", SVG, "image/svg+xml"),
    ):
        made = ok(_upload(alice, f"/api/v1/tickets/{ticket.pk}/attachments/", name, content), 201)
        assert made["content_type"] == sniffed
        got = alice.get(made["url"])
        assert got["Content-Disposition"].startswith("attachment")
        assert got["X-Content-Type-Options"] == "nosniff"
        assert got["Content-Type"] == "application/octet-stream"
        assert "sandbox" in got["Content-Security-Policy"]


def test_hostile_names_are_cleaned(cast):
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    made = ok(
        _upload(
            Api.of(cast.alice),
            f"/api/v1/tickets/{ticket.pk}/attachments/",
            '..\\..\\evil"\r\nX-Header: 1.png',
            PNG,
        ),
        201,
    )
    assert made["name"]
    assert not set(made["name"]) & set('\\/"\r\n')


def test_attachments_are_in_the_schema(cast):
    schema = ok(Api.of(cast.agent).get("/api/schema/", {"format": "json"}))
    paths = schema["paths"]
    assert "post" in paths["/api/v1/tickets/{id}/attachments/"]
    assert "post" in paths["/api/v1/changes/{id}/attachments/"]
    assert "delete" in paths["/api/v1/attachments/{id}/"]


def test_clean_name():
    from tickets.services.attachments import clean_name

    assert clean_name("../../etc/passwd") == "passwd"
    assert clean_name('a"b\r\nc.png') == "a_b_c.png"
    assert clean_name("...") == "attachment"
    long = clean_name("x" * 500 + ".pdf")
    assert len(long) == 200 and long.endswith(".pdf")
