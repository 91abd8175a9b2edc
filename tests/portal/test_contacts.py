"""End-user contacts: the services (who may manage whose contacts, the CSV import and its
report) and their portal pages."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import ContactFactory
from tickets.errors import InvalidInput, NotVisible
from tickets.models import Contact
from tickets.portal.forms import CONTACTS_UPLOAD_MAX_BYTES
from tickets.services import contact_add, contact_remove, contacts_import_csv


def test_a_customer_adds_contacts_to_their_own_organisation_only(cast) -> None:
    contact = contact_add(by=cast.alice, name=" Jane ", email=" jane@acme.example ")
    assert (contact.organization, contact.name, contact.email) == (
        cast.acme,
        "Jane",
        "jane@acme.example",
    )
    with pytest.raises(NotVisible):
        contact_add(by=cast.alice, email="x@globex.example", organization=cast.globex)
    assert not Contact.objects.filter(organization=cast.globex).exists()


def test_provider_staff_manage_any_organisations_contacts(cast) -> None:
    with pytest.raises(InvalidInput, match="Name the organisation"):
        contact_add(by=cast.agent, email="x@globex.example")
    contact = contact_add(by=cast.agent, email="x@globex.example", organization=cast.globex)
    assert contact.organization == cast.globex
    contact_remove(by=cast.agent, contact=contact.pk)
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    ("email", "problem"),
    [("", "Missing email"), ("not-an-address", "Invalid email"), ("JANE@acme.example", "Already")],
)
def test_an_unusable_address_is_refused(cast, email, problem) -> None:
    ContactFactory(organization=cast.acme, email="jane@acme.example")
    with pytest.raises(InvalidInput) as refused:
        contact_add(by=cast.alice, email=email)
    assert refused.value.fields["email"][0].startswith(problem)


def test_a_customer_cannot_remove_another_organisations_contact(cast) -> None:
    theirs = ContactFactory(organization=cast.globex)
    with pytest.raises(NotVisible):
        contact_remove(by=cast.alice, contact=theirs.pk)
    assert Contact.objects.filter(pk=theirs.pk).exists()


CSV = (
    "name,email\n"  # 1: header
    "Jane Doe,jane@acme.example\n"  # 2
    "John Roe,not-an-address\n"  # 3: invalid
    "\n"  # 4: blank, skipped
    "No Mail,\n"  # 5: missing
    "Existing,OLD@acme.example\n"  # 6: already a contact (case does not matter)
    "Jane Again,Jane@Acme.example\n"  # 7: duplicate of row 2
    ",anon@acme.example\n"  # 8: a name is optional
    "Short row\n"  # 9: no email column at all
)


def test_import_reports_each_rejected_row_with_its_reason(cast) -> None:
    ContactFactory(organization=cast.acme, email="old@acme.example")
    report = contacts_import_csv(by=cast.alice, data=CSV.encode())
    assert report.header
    assert sorted(c.email for c in report.accepted) == ["anon@acme.example", "jane@acme.example"]
    assert [(r.row, r.reason) for r in report.rejected] == [
        (3, "invalid email 'not-an-address'"),
        (5, "missing email"),
        (6, "duplicate: already a contact"),
        (7, "duplicate of row 2"),
        (9, "missing email"),
    ]
    assert Contact.objects.filter(organization=cast.acme).count() == 3
    # Importing the same file again adds nothing and says why.
    again = contacts_import_csv(by=cast.alice, data=CSV.encode())
    assert again.accepted == []
    assert {r.row for r in again.rejected if r.reason.startswith("duplicate")} >= {2, 8}


@pytest.mark.parametrize(
    "data",
    [
        b"Jane Doe,jane@acme.example\nJohn,john@acme.example\n",  # no header
        b"email,name\njane@acme.example,Jane Doe\njohn@acme.example,John\n",  # swapped
        b"\xef\xbb\xbfName;Email\r\nJane Doe;jane@acme.example\r\nJohn;john@acme.example\r\n",
    ],
    ids=["no-header", "columns-swapped", "excel-bom-semicolons"],
)
def test_import_reads_the_usual_spreadsheet_exports(cast, data) -> None:
    report = contacts_import_csv(by=cast.alice, data=data)
    assert report.rejected == []
    assert {(c.name, c.email) for c in report.accepted} == {
        ("Jane Doe", "jane@acme.example"),
        ("John", "john@acme.example"),
    }


def test_import_refuses_a_file_that_is_not_utf8_text(cast) -> None:
    with pytest.raises(InvalidInput, match="not UTF-8"):
        contacts_import_csv(by=cast.alice, data=b"\xff\xfe\x00J\x00a")


def test_import_goes_to_the_importers_organisation(cast) -> None:
    contacts_import_csv(by=cast.bob, data=b"jane,jane@globex.example\n")
    assert Contact.objects.get().organization == cast.globex
    with pytest.raises(NotVisible):
        contacts_import_csv(by=cast.bob, data=b"x,x@acme.example\n", organization=cast.acme)


# --------------------------------------------------------------------------- pages


def test_the_import_page_lists_the_rejected_rows(cast, alice_client) -> None:
    ContactFactory(organization=cast.acme, email="old@acme.example")
    upload = SimpleUploadedFile("contacts.csv", CSV.encode(), content_type="text/csv")
    response = alice_client.post("/portal/contacts/import/", {"file": upload})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="accepted-count">2<' in html
    assert 'data-testid="rejected-count">5<' in html
    for row, reason in ((3, "Invalid email"), (5, "Missing email"), (7, "Duplicate of row 2")):
        assert f'<tr data-row="{row}"><td>{row}</td>' in html
        assert reason in html


@pytest.mark.parametrize(
    ("size", "status"),
    [
        (CONTACTS_UPLOAD_MAX_BYTES + 100, 400),  # the form measures the file
        (2 * CONTACTS_UPLOAD_MAX_BYTES, 413),  # refused from the request's length
    ],
)
def test_an_oversized_upload_is_refused(cast, alice_client, size, status) -> None:
    row = b"x,x@acme.example\n"
    big = b"name,email\n" + row * (size // len(row) + 1)
    upload = SimpleUploadedFile("big.csv", big, content_type="text/csv")
    response = alice_client.post("/portal/contacts/import/", {"file": upload})
    assert response.status_code == status
    assert "at most 1024 KB" in response.content.decode()
    assert not Contact.objects.exists()


def test_adding_and_removing_a_contact_in_the_portal(cast, alice_client) -> None:
    response = alice_client.post("/portal/contacts/add/", {"name": "Jane", "email": "nope"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Invalid email" in html and 'value="Jane"' in html
    response = alice_client.post(
        "/portal/contacts/add/", {"name": "Jane", "email": "jane@acme.example"}
    )
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert contact.organization == cast.acme
    assert "jane@acme.example" in alice_client.get("/portal/contacts/").content.decode()
    assert alice_client.post(f"/portal/contacts/{contact.pk}/remove/").status_code == 302
    assert not Contact.objects.exists()


def test_the_contact_list_is_paginated(cast, alice_client) -> None:
    ContactFactory.create_batch(30, organization=cast.acme)
    first = alice_client.get("/portal/contacts/")
    assert len(first.context["page"].object_list) == 25
    assert "Page 1 of 2" in first.content.decode()
    second = alice_client.get("/portal/contacts/?page=2")
    assert len(second.context["page"].object_list) == 5
