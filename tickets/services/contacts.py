"""End-user contacts: adding, removing, and importing them from CSV."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field

from django.db import transaction

from ..errors import InvalidInput, NotVisible, PermissionRefused
from ..limits import text_problem, without_forbidden
from ..models import (
    Contact,
    Organization,
    User,
)
from ..selectors import (
    contacts_visible_to,
    organizations_visible_to,
)


def _contact_organization(by: User, organization: Organization | int | None) -> int:
    """A customer manages only their own organisation's contacts; staff name one."""
    if by.is_customer:
        if organization is not None:
            org_pk = organization.pk if isinstance(organization, Organization) else organization
            if org_pk != by.organization_id:
                raise NotVisible(f"No organisation {org_pk}.")
        if by.organization_id is None:  # a customer always has one (database constraint)
            raise PermissionRefused("This user belongs to no organisation.")
        return by.organization_id
    if organization is None:
        raise InvalidInput(
            "Name the organisation whose contact this is.",
            fields={"organization": ["Required for provider staff."]},
        )
    org_pk = organization.pk if isinstance(organization, Organization) else organization
    if not organizations_visible_to(by).filter(pk=org_pk).exists():
        raise InvalidInput("No such organisation.", fields={"organization": ["Unknown."]})
    return org_pk


def _contact_problem(name: str, email: str) -> str:
    """Why a contact cannot be held (a phrase for a sentence or a report row), or ""."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    for what, value in (("name", name), ("e-mail address", email)):
        if found := text_problem(value):
            return f"the {what} contains {found}"
    for what, value, field in (("name", name, "name"), ("e-mail address", email, "email")):
        limit = getattr(Contact._meta.get_field(field), "max_length", None) or 0
        if len(value) > limit:
            return f"the {what} is longer than {limit} characters"
    if not email:
        return "missing email"
    try:
        validate_email(email)
    except ValidationError:
        return f"invalid email '{email}'"
    return ""


def _lock_contacts(org_pk: int) -> None:
    """Serialise changes to one organisation's contacts (until the transaction ends): two
    requests adding the same address at once then answer as one after the other would,
    the second one "already a contact", whatever the address's case."""
    Organization.objects.select_for_update().filter(pk=org_pk).values_list("pk").first()


@transaction.atomic
def contact_add(
    *, by: User, email: str, name: str = "", organization: Organization | int | None = None
) -> Contact:
    """An end user who receives the organisation's outage communications. An address is
    held once per organisation, whatever its case."""
    org_pk = _contact_organization(by, organization)
    email = (email or "").strip()
    name = (name or "").strip()
    problem = _contact_problem(name, email)
    if problem:
        field = "name" if problem.startswith("the name") else "email"
        raise InvalidInput(
            f"Cannot add this contact: {problem}.", fields={field: [problem.capitalize() + "."]}
        )
    _lock_contacts(org_pk)
    if Contact.objects.filter(organization_id=org_pk, email__iexact=email).exists():
        raise InvalidInput(
            f"{email} is already a contact.", fields={"email": ["Already a contact."]}
        )
    return Contact.objects.create(organization_id=org_pk, name=name, email=email)


@transaction.atomic
def contact_remove(*, by: User, contact: Contact | int) -> None:
    """Another organisation's contact is not visible (404) to a customer user."""
    pk = contact.pk if isinstance(contact, Contact) else contact
    found = contacts_visible_to(by).filter(pk=pk).first()
    if found is None:
        raise NotVisible(f"No contact {pk}.")
    found.delete()


@dataclass(frozen=True)
class RejectedRow:
    row: int  # line number in the file, the header included
    name: str
    email: str
    reason: str


@dataclass
class ContactImportReport:
    """What an import did: the contacts created, and each row refused with its reason."""

    accepted: list[Contact] = dataclass_field(default_factory=list)
    rejected: list[RejectedRow] = dataclass_field(default_factory=list)
    header: bool = False


CONTACT_IMPORT_MAX_ROWS = 5000


def _csv_rows(data: bytes | str) -> list[list[str]]:
    import csv
    import io

    if isinstance(data, bytes):
        try:
            # utf-8-sig: spreadsheets often save a byte-order mark first.
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                "The file is not UTF-8 text; save it as CSV (UTF-8) and try again.",
                fields={"file": ["Not UTF-8 text."]},
            ) from exc
    else:
        text = data.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    # Spreadsheets set to some European locales write ";" between columns.
    delimiter = ";" if ";" in first and "," not in first else ","
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise InvalidInput(
            f"The file could not be read as CSV: {exc}.", fields={"file": ["Not a CSV file."]}
        ) from exc


@transaction.atomic
def contacts_import_csv(
    *, by: User, data: bytes | str, organization: Organization | int | None = None
) -> ContactImportReport:
    """Add contacts from CSV (columns name,email; a header row is optional and may name
    the columns in either order). Valid rows are added; each other row is reported with
    its line number and reason: missing email, invalid email, a name or address too long
    or holding a character no text may hold, duplicate (already a contact, or earlier in
    the file). Blank lines are skipped. Holds the organisation's contacts lock."""
    org_pk = _contact_organization(by, organization)
    rows = _csv_rows(data)
    if len(rows) > CONTACT_IMPORT_MAX_ROWS + 1:
        raise InvalidInput(
            f"The file has {len(rows)} rows; import at most {CONTACT_IMPORT_MAX_ROWS} at a time.",
            fields={"file": ["Too many rows."]},
        )
    report = ContactImportReport()
    _lock_contacts(org_pk)
    name_col, email_col = 0, 1
    start = 0
    if rows:
        cells = [c.strip().lower() for c in rows[0]]
        if "email" in cells or "e-mail" in cells:
            report.header = True
            email_col = cells.index("email") if "email" in cells else cells.index("e-mail")
            name_col = cells.index("name") if "name" in cells else -1
            start = 1
    existing = {
        e.lower()
        for e in Contact.objects.filter(organization_id=org_pk).values_list("email", flat=True)
    }
    seen: dict[str, int] = {}
    to_create: list[Contact] = []
    for number, row in enumerate(rows[start:], start=start + 1):
        if not any(c.strip() for c in row):
            continue
        name = row[name_col].strip() if 0 <= name_col < len(row) else ""
        email = row[email_col].strip() if email_col < len(row) else ""
        reason = _contact_problem(name, email)
        if not reason and email.lower() in existing:
            reason = "duplicate: already a contact"
        if not reason and email.lower() in seen:
            reason = f"duplicate of row {seen[email.lower()]}"
        if reason:
            report.rejected.append(
                RejectedRow(
                    row=number,
                    name=without_forbidden(name),
                    email=without_forbidden(email),
                    reason=reason,
                )
            )
            continue
        seen[email.lower()] = number
        to_create.append(Contact(organization_id=org_pk, name=name, email=email))
    report.accepted = Contact.objects.bulk_create(to_create)
    return report
