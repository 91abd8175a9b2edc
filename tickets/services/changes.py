"""Change tickets (§2): creating, the sections (one edit at a time, or `change_edit`
for several at once), components and tickets in scope, and the transitions."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import workflow
from ..errors import InvalidInput, PermissionRefused, WrongState
from ..models import (
    EDITABLE,
    FIELD_SECTION,
    SECTION_EDITOR,
    SECTIONS,
    Change,
    ChangeComponent,
    ChecklistItem,
    ChecklistTemplateItem,
    Component,
    ComponentVersion,
    Environment,
    FreezeOverride,
    Occurrence,
    Organization,
    Performer,
    ReleasedTicket,
    Resolution,
    SectionEdit,
    StandardCheck,
    Ticket,
    TicketStatus,
    TicketType,
    User,
    hard_freezes_in_force,
)
from ..selectors import (
    access_change,
    access_ticket,
    components_visible_to,
    organizations_visible_to,
    parse_ref,
    tickets_visible_to,
)
from .common import _choice, _take


def _require_editor(change: Change, by: User) -> None:
    if not SECTION_EDITOR(change, by):
        raise PermissionRefused(SECTION_EDITOR.refusal(change, by))
    if change.status not in EDITABLE:
        raise WrongState(
            f"{change.key} is {change.get_status_display()}; its sections can no longer be edited."
        )


def _ensure_still_complete(change: Change, fields: Iterable[str]) -> None:
    """WORKFLOW.md: a change past DRAFT stays complete. Called after an edit is applied,
    inside its transaction: the refusal rolls the whole edit back."""
    if change.status == Change.S.DRAFT:
        return
    text = change.incomplete_message()
    if not text:
        return
    raise InvalidInput(
        f"{change.key} is {change.get_status_display()}: a change past Draft stays complete, "
        f"and this edit would leave it incomplete: {text}.",
        fields={f: [f"{change.key} would be incomplete: {text}."] for f in sorted(set(fields))},
    )


def _sections_edited(
    change: Change, by: User, edits: list[tuple[str, Any, Any]]
) -> list[SectionEdit]:
    """Record the edits; if approvals were given to the old text, dismiss them (the change
    returns to AWAITING_APPROVAL). Caller holds the change's row lock."""
    rows = [
        SectionEdit(
            change=change,
            actor=by,
            section=FIELD_SECTION[field],
            field=field,
            old_value=old,
            new_value=new,
        )
        for field, old, new in edits
        if old != new
    ]
    if not rows:
        return []
    SectionEdit.objects.bulk_create(rows)
    batch = _EDIT_BATCH.get()
    if batch is not None:
        # Inside `change_edit`: the whole save is checked, and approvals dismissed, once.
        batch.extend(rows)
        change.save(update_fields=["updated"])
        return rows
    _edits_made(change, by, rows)
    return rows


def _edits_made(change: Change, by: User, rows: list[SectionEdit]) -> None:
    """After edits to a change's sections: a change past Draft must still be complete
    (else the refusal rolls the whole edit back), and approvals given to the old text are
    dismissed (the change returns to AWAITING_APPROVAL). Caller holds the row lock."""
    from notifications.services import change_edited

    _ensure_still_complete(change, (r.field for r in rows))
    if change.edits_dismiss_approvals():
        sections = sorted({r.section for r in rows})
        names = ", ".join(f"{n}. {SECTIONS[n][0]}" for n in sections)
        _take(
            change,
            "dismiss_approvals",
            by=by,
            automatic=True,
            comment=f"Edited after approval: {names}.",
        )
    else:
        change.save(update_fields=["updated"])
    change_edited(change=change, by=by, fields=(r.field for r in rows))


# The section edits of the `change_edit` under way in this context, if any.
_EDIT_BATCH: ContextVar[list[SectionEdit] | None] = ContextVar("edit_batch", default=None)


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


CHANGE_TEXT_FIELDS = (
    "title",
    "summary",
    "impact",
    "changelog",
    "deployment_procedure",
    "rollback_procedure",
    "communication_audience",
    "communication_message",
    "communication_timing",
)


def _clean_change_fields(fields: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in fields.items():
        if name in CHANGE_TEXT_FIELDS:
            clean[name] = (value or "").strip() if name == "title" else (value or "")
            if name == "title" and not clean[name]:
                errors[name] = ["A title is required."]
        elif name == "outage_expected":
            if value not in (True, False, None):
                errors[name] = ["Must be true, false or empty."]
            clean[name] = value
        elif name == "outage_duration_minutes":
            if value in (None, ""):
                clean[name] = None
            else:
                try:
                    minutes = int(value)
                except (TypeError, ValueError):
                    minutes = -1
                if minutes <= 0:
                    errors[name] = ["A positive number of minutes."]
                clean[name] = minutes
        else:
            errors[name] = ["Not a section field."]
    if errors:
        raise InvalidInput(
            "Please correct: " + ", ".join(sorted(errors)) + ".",
            fields=errors,
        )
    return clean


@transaction.atomic
def change_create(
    *,
    by: User,
    organization: Organization | int,
    title: str,
    environment: Environment | int | str | None = None,
    performer: str = Performer.PROVIDER,
    source_ticket: Ticket | int | str | None = None,
    **sections: Any,
) -> Change:
    """A new DRAFT change with the default checklist. Staff, or a customer writing a change
    they will perform themselves."""
    from notifications.services import change_created

    org_pk = organization.pk if isinstance(organization, Organization) else organization
    if not organizations_visible_to(by).filter(pk=org_pk).exists():
        raise InvalidInput("No such organisation.", fields={"organization": ["Unknown."]})
    performer = _choice(performer, Performer, "performer")
    if by.is_customer and performer != Performer.CUSTOMER:
        raise PermissionRefused(
            "The provider writes the changes it performs; raise a change request ticket instead."
        )
    env = _environment(environment)
    data = _clean_change_fields({"title": title, **sections})
    source = access_ticket(by, source_ticket) if source_ticket is not None else None
    if source is not None and source.organization_id != org_pk:
        raise InvalidInput(
            "The change request belongs to another organisation.",
            fields={"source_ticket": ["Another organisation's ticket."]},
        )
    change = Change.objects.create(
        organization_id=org_pk,
        environment=env,
        performer=performer,
        author=by,
        reporter=by,
        source_ticket=source,
        **data,
    )
    # The four checks of §2.3 item 9 always; then the items organisations and admins added.
    items = [ChecklistItem(change=change, label=c.label, standard=c.value) for c in StandardCheck]
    standard_labels = {c.label.casefold() for c in StandardCheck}
    templates = ChecklistTemplateItem.objects.filter(organization__isnull=True) | (
        ChecklistTemplateItem.objects.filter(organization_id=org_pk)
    )
    for t in templates.order_by("organization_id", "position", "id"):
        if t.label.casefold() not in standard_labels:
            items.append(ChecklistItem(change=change, label=t.label))
    for position, item in enumerate(items, start=1):
        item.position = position
    ChecklistItem.objects.bulk_create(items)
    change_created(change=change, by=by)
    return change


def _environment(value: Environment | int | str | None) -> Environment:
    if isinstance(value, Environment):
        return value
    qs = Environment.objects.all()
    if value is None:
        env = qs.filter(code="uat").first() or qs.first()
    elif isinstance(value, int) or str(value).isdigit():
        env = qs.filter(pk=int(value)).first()
    else:
        env = qs.filter(code=value).first()
    if env is None:
        raise InvalidInput(
            f"Unknown environment '{value}'.", fields={"environment": ["Unknown environment."]}
        )
    return env


@transaction.atomic
def change_update(*, change: Change | int | str, by: User, **fields: Any) -> Change:
    """Edit section fields (and the target environment or performer while in DRAFT).
    Recorded in the edit history; dismisses the round's approvals if any were given."""
    obj = access_change(by, change, lock=True)
    _require_editor(obj, by)
    meta: dict[str, Any] = {}
    for name in ("environment", "performer"):
        if name in fields:
            meta[name] = fields.pop(name)
    if meta and obj.status != Change.S.DRAFT:
        raise WrongState("The environment and the performer can only be changed in Draft.")
    if "environment" in meta:
        obj.environment = _environment(meta["environment"])
    if "performer" in meta:
        obj.performer = _choice(meta["performer"], Performer, "performer")
    data = _clean_change_fields(fields)
    edits = []
    for name, value in data.items():
        old = getattr(obj, name)
        if old != value:
            edits.append((name, _json(old), _json(value)))
            setattr(obj, name, value)
    if meta:
        obj.save()
    if edits:
        obj.save()
        _sections_edited(obj, by, edits)
    return obj


@transaction.atomic
def change_set_components(
    *, change: Change | int | str, by: User, components: Iterable[tuple[Any, str | None]]
) -> Change:
    """Section 2: replace the components with (component, version to release) pairs. A
    version of None keeps the version the change already gives that component."""
    obj = access_change(by, change, lock=True)
    _require_editor(obj, by)
    current = {cc.component_id: cc for cc in obj.change_components.all()}
    wanted: dict[int, str] = {}
    for comp, version in components:
        pk = comp.pk if isinstance(comp, Component) else int(comp)
        if version is None:
            version = current[pk].target_version if pk in current else ""
        wanted[pk] = version.strip()
    found = set(
        components_visible_to(by)
        .filter(pk__in=wanted, organization_id=obj.organization_id)
        .values_list("pk", flat=True)
    )
    unknown = sorted(set(wanted) - found)
    if unknown:
        raise InvalidInput(
            f"Not components of {obj.organization}: {', '.join(map(str, unknown))}.",
            fields={"components": [f"Unknown component {pk}." for pk in unknown]},
        )
    old = {pk: cc.target_version for pk, cc in current.items()}
    if old == wanted:
        return obj
    obj.change_components.exclude(component_id__in=wanted).delete()
    for pk, version in wanted.items():
        if pk in current:
            if current[pk].target_version != version:
                current[pk].target_version = version
                current[pk].save(update_fields=["target_version"])
        else:
            ChangeComponent.objects.create(change=obj, component_id=pk, target_version=version)
    _sections_edited(
        obj,
        by,
        [
            (
                "components",
                {str(k): v for k, v in old.items()},
                {str(k): v for k, v in wanted.items()},
            )
        ],
    )
    return obj


def changelog_from_tickets(tickets: Iterable[Ticket]) -> str:
    """Section 5's starting text: the attached tickets as features and bug fixes."""
    features = [t for t in tickets if t.type != TicketType.BUG]
    bugs = [t for t in tickets if t.type == TicketType.BUG]
    parts = []
    if features:
        parts.append("Features:\n" + "\n".join(f"- {t.key} {t.title}" for t in features))
    if bugs:
        parts.append("Bug fixes:\n" + "\n".join(f"- {t.key} {t.title}" for t in bugs))
    return "\n\n".join(parts)


@transaction.atomic
def change_set_tickets(*, change: Change | int | str, by: User, tickets: Iterable[Any]) -> Change:
    """Section 4: the tickets in scope. Only TO_BE_RELEASED tickets of the change's
    organisation that no other change holds may be attached; an empty changelog is
    pre-filled from them."""
    obj = access_change(by, change, lock=True)
    _require_editor(obj, by)
    if not by.is_provider:
        raise PermissionRefused("Only provider staff attach tickets to a change.")
    refs = list(tickets)
    ids = [parse_ref(r.pk if isinstance(r, Ticket) else r, "SUP") for r in refs]
    bad_refs = [str(r) for r, i in zip(refs, ids, strict=True) if i is None]
    wanted = {i for i in ids if i is not None}
    visible = {
        t.pk: t
        for t in tickets_visible_to(by)
        .filter(pk__in=wanted)
        .select_related("change")
        .select_for_update(of=("self",))
    }
    current = set(obj.tickets.values_list("pk", flat=True))
    problems = bad_refs + [f"SUP-{pk} does not exist" for pk in sorted(wanted - set(visible))]
    for pk in sorted(wanted - current):
        t = visible.get(pk)
        if t is None:
            continue
        if t.organization_id != obj.organization_id:
            problems.append(f"{t.key} belongs to another organisation")
        elif t.status != TicketStatus.TO_BE_RELEASED:
            problems.append(f"{t.key} is {t.get_status_display()}, not To be released")
        elif t.change is not None and t.change.pk != obj.pk and t.change.is_editable:
            # A ticket sent back from testing may go into another release (§2.2); one still
            # waiting in a change that has not been performed belongs to that change.
            problems.append(f"{t.key} is already attached to CHG-{t.change_id}")
    if problems:
        raise InvalidInput(
            "These tickets cannot be attached: " + "; ".join(problems) + ".",
            fields={"tickets": problems},
        )
    if wanted == current:
        return obj
    for pk in sorted(wanted - current):
        _take(visible[pk], "attach", by=by, automatic=True, change=obj)
    obj.tickets.filter(pk__in=current - wanted).update(change=None)
    edits: list[tuple[str, Any, Any]] = [("tickets", sorted(current), sorted(wanted))]
    if not obj.changelog.strip():
        text = changelog_from_tickets(obj.tickets.order_by("pk"))
        edits.append(("changelog", obj.changelog, text))
        obj.changelog = text
        obj.save()
    _sections_edited(obj, by, edits)
    return obj


@transaction.atomic
def change_transition(
    *, change: Change | int | str, by: User, name: str, comment: str = "", **params: Any
) -> Change:
    """Take a manual change transition (`submit`, `approve`, `reject`, `perform`, ...)
    and what follows from it: perform releases the attached tickets, a successful close
    records the released versions, cancel frees the attached tickets."""
    obj = access_change(by, change, lock=True)
    override = str(params.pop("override_reason", "") or "").strip()
    if override and name != "perform":
        raise InvalidInput(
            f"'{name}' does not take override_reason: only perform overrides a hard freeze.",
            fields={"override_reason": [f"Not used by '{name}'."]},
        )
    overridden = _freeze_override(obj, by, override) if name == "perform" and override else []
    if overridden:
        titles = ", ".join(f"'{p.freeze.title}'" for p in overridden)
        note = f"Performed inside the hard freeze {titles}, overridden: {override}"
        comment = f"{comment}\n\n{note}" if comment else note
    step = _take(obj, name, by=by, comment=comment, **params)
    for period in overridden:
        FreezeOverride.objects.create(
            change=obj,
            freeze=period.freeze,
            freeze_title=period.freeze.title,
            actor=by,
            reason=override,
        )
    if step.name == "perform":
        for ticket in obj.tickets.select_for_update(of=("self",)).filter(
            status=TicketStatus.TO_BE_RELEASED
        ):
            _take(ticket, "release", by=by, automatic=True, comment=f"{obj.key} performed.")
            ReleasedTicket.objects.create(change=obj, ticket=ticket)
    elif step.name == "close" and obj.resolution == Resolution.SUCCESSFUL:
        _record_released_versions(obj)
    elif step.name == "cancel":
        obj.tickets.update(change=None)
    return obj


def _may_override_freezes(by: User) -> bool:
    return bool(by.is_provider and by.is_operations_manager)


def freezes_overridable(change: Change, by: User) -> list[Occurrence]:
    """The hard freezes `by` may override to perform `change` now: operations management
    only, and only when a freeze is all that stops `perform` (the workflow's options asked
    as with an override given). For a front end to offer the override; empty otherwise."""
    if not _may_override_freezes(by):
        return []
    frozen = hard_freezes_in_force(change, timezone.now())
    if not frozen:
        return []
    change.freeze_override = "?"  # type: ignore[attr-defined]
    try:
        perform = next((o for o in workflow.options(change, by) if o.name == "perform"), None)
    finally:
        del change.freeze_override  # type: ignore[attr-defined]
    return frozen if perform is not None and perform.allowed else []


def _freeze_override(change: Change, by: User, reason: str) -> list[Occurrence]:
    """API.md: operations management may perform inside a hard freeze with a reason. Lets
    the `no_hard_freeze` guard pass for this transition; the caller records each freeze
    overridden (and the reason) in the change's history."""
    if not _may_override_freezes(by):
        raise PermissionRefused(
            "Only operations management may override a hard freeze; ask them to perform it."
        )
    periods = hard_freezes_in_force(change, timezone.now())
    if periods:
        change.freeze_override = reason  # type: ignore[attr-defined]
    return periods


def _record_released_versions(change: Change) -> None:
    now = timezone.now()
    for cc in change.change_components.all():
        ComponentVersion.objects.update_or_create(
            component_id=cc.component_id,
            environment_id=change.environment_id,
            defaults={"version": cc.target_version, "updated": now, "released_by": change},
        )


def transitions_for(subject: Ticket | Change, user: User) -> list[workflow.TransitionOption]:
    """What `user` may do next with `subject` (and what is blocked, with the reason)."""
    options = workflow.options(subject, user)
    if isinstance(subject, Change) and any(o.name == "approve" for o in options):
        from approvals.selectors import approval_refusal, approval_roles_open_to

        roles = approval_roles_open_to(change=subject, user=user)
        options = [
            workflow.TransitionOption(
                **{
                    **o.__dict__,
                    "allowed": o.allowed and bool(roles),
                    "reason": o.reason
                    or ("" if roles else approval_refusal(change=subject, user=user)),
                    "extra": {"roles": roles},
                }
            )
            if o.name == "approve"
            else o
            for o in options
        ]
    return options
