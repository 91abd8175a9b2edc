"""Every state change of tickets and changes: one function per action.

Each function fetches the object *for the acting user* (`access_*`, 404 outside their
organisation), locks its row, checks the role, runs the FSM transition (or the edit),
writes the log row in the same transaction, and leaves side effects to after commit.
Front ends (staff pages, portal, API, admin, commands) only translate to and from these.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import workflow
from .errors import InvalidInput, PermissionRefused, WrongState
from .models import (
    EDITABLE,
    FIELD_SECTION,
    SECTIONS,
    Change,
    ChangeComponent,
    ChecklistItem,
    ChecklistState,
    ChecklistTemplateItem,
    Component,
    ComponentVersion,
    Contact,
    Environment,
    Organization,
    Performer,
    Priority,
    ReleasedTicket,
    Resolution,
    ScenarioKind,
    ScenarioResult,
    SectionEdit,
    StandardCheck,
    TestScenario,
    Ticket,
    TicketComment,
    TicketStatus,
    TicketType,
    TransitionLog,
    User,
)
from .selectors import (
    access_change,
    access_ticket,
    checklist_items_visible_to,
    components_visible_to,
    contacts_visible_to,
    organizations_visible_to,
    scenarios_visible_to,
    tickets_visible_to,
)

# --------------------------------------------------------------------------- shared


def _log(subject: Ticket | Change, step: workflow.Step, by: User | None, comment: str) -> None:
    TransitionLog.objects.create(
        ticket=subject if isinstance(subject, Ticket) else None,
        change=subject if isinstance(subject, Change) else None,
        actor=by,
        transition=step.name,
        source=step.source,
        target=step.target,
        comment=comment,
    )


def _take(
    subject: Ticket | Change,
    name: str,
    *,
    by: User,
    comment: str = "",
    automatic: bool = False,
    **params: Any,
) -> workflow.Step:
    """Run one transition on a row the caller has locked, and log it. Caller holds the
    transaction."""
    from notifications.services import transition_taken

    step = workflow.run(subject, name, by=by, automatic=automatic, comment=comment, **params)
    _log(subject, step, by, comment)
    transition_taken(subject=subject, step=step, by=by)
    return step


def _choice(value: Any, choices: Any, field: str) -> str:
    if value not in choices.values:
        raise InvalidInput(
            f"'{value}' is not a valid {field}; use one of: {', '.join(choices.values)}.",
            fields={field: [f"'{value}' is not a valid choice."]},
        )
    return str(value)


def _required_text(value: Any, field: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise InvalidInput(f"{field.capitalize()} is required.", fields={field: ["Required."]})
    return text


# --------------------------------------------------------------------------- tickets


@transaction.atomic
def ticket_create(
    *,
    by: User,
    title: str,
    description: str = "",
    type: str = TicketType.QUESTION,
    priority: str = Priority.NORMAL,
    organization: Organization | int | None = None,
) -> Ticket:
    """A customer's ticket is always in their organisation; staff name the organisation."""
    title = _required_text(title, "title")
    if by.is_customer:
        org_id = by.organization_id
    else:
        if organization is None:
            raise InvalidInput(
                "Name the organisation the ticket belongs to.",
                fields={"organization": ["Required for provider staff."]},
            )
        org_pk = organization.pk if isinstance(organization, Organization) else organization
        if not organizations_visible_to(by).filter(pk=org_pk).exists():
            raise InvalidInput("No such organisation.", fields={"organization": ["Unknown."]})
        org_id = org_pk
    return Ticket.objects.create(
        organization_id=org_id,
        title=title,
        description=description,
        type=_choice(type, TicketType, "type"),
        priority=_choice(priority, Priority, "priority"),
        reporter=by,
    )


@transaction.atomic
def ticket_update(*, ticket: Ticket | int | str, by: User, **fields: Any) -> Ticket:
    """Edit title, description, type or priority. Staff and the customer alike."""
    obj = access_ticket(by, ticket, lock=True)
    allowed = {"title", "description", "type", "priority"}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidInput(
            f"These fields cannot be changed here: {', '.join(sorted(unknown))}.",
            fields={f: ["Not writable."] for f in unknown},
        )
    if "title" in fields:
        obj.title = _required_text(fields["title"], "title")
    if "description" in fields:
        obj.description = fields["description"] or ""
    if "type" in fields:
        obj.type = _choice(fields["type"], TicketType, "type")
    if "priority" in fields:
        obj.priority = _choice(fields["priority"], Priority, "priority")
    obj.save()
    return obj


@transaction.atomic
def ticket_assign(*, ticket: Ticket | int | str, by: User, assignee: User | None) -> Ticket:
    obj = access_ticket(by, ticket, lock=True)
    if not by.is_provider:
        raise PermissionRefused("Only provider staff assign tickets.")
    if assignee is not None and (not assignee.is_provider or not assignee.is_active):
        raise InvalidInput(
            "Tickets are assigned to active provider staff only.",
            fields={"assignee": ["Not an active provider user."]},
        )
    obj.assignee = assignee
    obj.save()
    return obj


@transaction.atomic
def ticket_comment(
    *, ticket: Ticket | int | str, by: User, body: str, public: bool = True
) -> TicketComment:
    """Post a comment. A customer's comment is always public. A provider's public comment
    answers a ticket waiting for support (`reply`); a customer's comment answers one
    waiting for the customer (`customer_reply`)."""
    obj = access_ticket(by, ticket, lock=True)
    body = _required_text(body, "body")
    if by.is_customer:
        public = True
    comment = TicketComment.objects.create(ticket=obj, author=by, body=body, public=public)
    if by.is_provider and public and obj.status == TicketStatus.WAITING_FOR_SUPPORT:
        _take(obj, "reply", by=by, automatic=True)
    elif by.is_customer and obj.status == TicketStatus.WAITING_FOR_CUSTOMER:
        _take(obj, "customer_reply", by=by, automatic=True)
    elif by.is_customer and obj.status == TicketStatus.IN_TESTING:
        # §4.2: the customer moves a tested ticket to DONE, "or comment[s] them to send them
        # back" to WAITING FOR SUPPORT. The comment is the reason; it is posted once.
        _take(obj, "send_back", by=by, automatic=True, comment=body)
    else:
        obj.save(update_fields=["updated"])
    return comment


@transaction.atomic
def ticket_transition(
    *, ticket: Ticket | int | str, by: User, name: str, comment: str = "", **params: Any
) -> Ticket:
    """Take a manual ticket transition (`needs_work`, `start`, `accept`, `hold`, ...)."""
    obj = access_ticket(by, ticket, lock=True)
    _take(obj, name, by=by, comment=comment, **params)
    if name == "send_back":
        # The customer's reason is part of the conversation too.
        TicketComment.objects.create(ticket=obj, author=by, body=comment, public=True)
    return obj


# --------------------------------------------------------------------------- changes


def _require_editor(change: Change, by: User) -> None:
    from .models import SECTION_EDITOR

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
        f"and this edit would leave it without {text}.",
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
    _ensure_still_complete(change, (r.field for r in rows))
    SectionEdit.objects.bulk_create(rows)
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
    return rows


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
    from .selectors import parse_ref

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
def scenario_add(
    *, change: Change | int | str, by: User, kind: str, description: str
) -> TestScenario:
    obj = access_change(by, change, lock=True)
    _require_editor(obj, by)
    kind = _choice(kind, ScenarioKind, "kind")
    description = _required_text(description, "description")
    last = obj.scenarios.order_by("-position").values_list("position", flat=True).first() or 0
    scenario = TestScenario.objects.create(
        change=obj, kind=kind, description=description, position=last + 1
    )
    _sections_edited(
        obj,
        by,
        [("scenarios", None, {"added": scenario.pk, "kind": kind, "description": description})],
    )
    return scenario


def _access_scenario(by: User, scenario: TestScenario | int, change: Any = None) -> TestScenario:
    pk = scenario.pk if isinstance(scenario, TestScenario) else scenario
    qs = scenarios_visible_to(by)
    if change is not None:
        qs = qs.filter(change=access_change(by, change))
    found = qs.filter(pk=pk).first()
    if found is None:
        from .errors import NotVisible

        raise NotVisible(f"No test scenario {pk}.")
    return found


@transaction.atomic
def scenario_update(
    *, scenario: TestScenario | int, by: User, change: Any = None, **fields: Any
) -> TestScenario:
    """Edit a scenario's kind or description (a section 8 edit)."""
    found = _access_scenario(by, scenario, change)
    obj = access_change(by, found.change_id, lock=True)
    _require_editor(obj, by)
    s = TestScenario.objects.get(pk=found.pk)
    edits = []
    if "kind" in fields:
        kind = _choice(fields["kind"], ScenarioKind, "kind")
        if kind != s.kind:
            edits.append(("scenarios", {"id": s.pk, "kind": s.kind}, {"id": s.pk, "kind": kind}))
            s.kind = kind
    if "description" in fields:
        text = _required_text(fields["description"], "description")
        if text != s.description:
            edits.append(
                (
                    "scenarios",
                    {"id": s.pk, "description": s.description},
                    {"id": s.pk, "description": text},
                )
            )
            s.description = text
    if edits:
        s.save()
        _sections_edited(obj, by, edits)
    return s


@transaction.atomic
def scenario_remove(*, scenario: TestScenario | int, by: User, change: Any = None) -> None:
    found = _access_scenario(by, scenario, change)
    obj = access_change(by, found.change_id, lock=True)
    _require_editor(obj, by)
    TestScenario.objects.filter(pk=found.pk).delete()
    _sections_edited(
        obj, by, [("scenarios", {"removed": found.pk, "description": found.description}, None)]
    )


@transaction.atomic
def scenario_record_result(
    *, scenario: TestScenario | int, by: User, result: str, note: str = "", change: Any = None
) -> TestScenario:
    """Record a test result while the change is in testing (the customer, or provider QA
    helping them)."""
    found = _access_scenario(by, scenario, change)
    obj = access_change(by, found.change_id, lock=True)
    result = _choice(result, ScenarioResult, "result")
    if not obj.accepts_test_results:
        raise WrongState(
            f"Results are recorded while the change is In testing; {obj.key} is "
            f"{obj.get_status_display()}."
        )
    from .models import RESULT_RECORDER

    if not RESULT_RECORDER(obj, by):
        raise PermissionRefused(RESULT_RECORDER.refusal(obj, by))
    s = TestScenario.objects.select_for_update().get(pk=found.pk)
    s.result = result
    s.note = note or ""
    s.result_by = by
    s.result_at = timezone.now()
    s.save()
    return s


@transaction.atomic
def checklist_item_update(
    *, item: ChecklistItem | int, by: User, state: str, reason: str = "", change: Any = None
) -> ChecklistItem:
    """Section 9: confirm a pre-release check, before perform, by the performer's side."""
    pk = item.pk if isinstance(item, ChecklistItem) else item
    qs = checklist_items_visible_to(by)
    if change is not None:
        qs = qs.filter(change=access_change(by, change))
    found = qs.filter(pk=pk).first()
    if found is None:
        from .errors import NotVisible

        raise NotVisible(f"No checklist item {pk}.")
    obj = access_change(by, found.change_id, lock=True)
    state = _choice(state, ChecklistState, "state")
    if obj.status not in EDITABLE:
        raise WrongState(f"{obj.key} is {obj.get_status_display()}; the checklist is closed.")
    from .models import CHECKLIST_FILLER

    if not CHECKLIST_FILLER(obj, by):
        raise PermissionRefused(CHECKLIST_FILLER.refusal(obj, by))
    if state == ChecklistState.NOT_APPLICABLE and not (reason or "").strip():
        raise InvalidInput(
            "Say why this item does not apply.", fields={"reason": ["Required for not applicable."]}
        )
    i = ChecklistItem.objects.get(pk=found.pk)
    i.state = state
    i.reason = reason if state == ChecklistState.NOT_APPLICABLE else ""
    i.by = by if state != ChecklistState.PENDING else None
    i.at = timezone.now() if state != ChecklistState.PENDING else None
    i.save()
    obj.save(update_fields=["updated"])
    return i


def window_problems(start: Any, end: Any, *, now: datetime | None = None) -> dict[str, list[str]]:
    """WORKFLOW.md: a proposed window starts in the future and ends after it starts; and
    within reason (CHANGE_WINDOW_MAX_DAYS_AHEAD, CHANGE_WINDOW_MAX_HOURS), so no front end
    can store a date another cannot show. Empty when the window is acceptable."""
    errors: dict[str, list[str]] = {}
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or timezone.is_naive(value):
            errors[name] = ["A date and time with its timezone."]
    if errors:
        return errors
    now = now or timezone.now()
    ahead = timedelta(days=settings.CHANGE_WINDOW_MAX_DAYS_AHEAD)
    longest = timedelta(hours=settings.CHANGE_WINDOW_MAX_HOURS)
    if start <= now:
        errors["start"] = ["The window must start in the future."]
    elif start - now > ahead:
        errors["start"] = [f"The window must start within {ahead.days} days from now."]
    if end <= start:
        errors["end"] = ["The window must end after it starts."]
    elif end - start > longest:
        errors["end"] = [f"A window lasts at most {settings.CHANGE_WINDOW_MAX_HOURS} hours."]
    return errors


@transaction.atomic
def change_propose_window(
    *, change: Change | int | str, by: User, start: datetime, end: datetime
) -> Change:
    """Propose the deployment window. Replaces an unagreed proposal; re-proposing an agreed
    window un-agrees it (the other side agrees again)."""
    from .models import WINDOW_PROPOSER

    obj = access_change(by, change, lock=True)
    if not WINDOW_PROPOSER(obj, by):
        raise PermissionRefused(WINDOW_PROPOSER.refusal(obj, by))
    if obj.status not in EDITABLE:
        raise WrongState(
            f"{obj.key} is {obj.get_status_display()}; its window can no longer change."
        )
    errors = window_problems(start, end)
    if errors:
        raise InvalidInput(
            "The window is not valid: " + " ".join(m for ms in errors.values() for m in ms),
            fields=errors,
        )
    from notifications.services import window_proposed

    obj.window_start, obj.window_end = start, end
    obj.window_proposed_by, obj.window_proposed_at = by, timezone.now()
    obj.window_agreed_by, obj.window_agreed_at = None, None
    obj.save()
    window_proposed(change=obj, by=by)
    return obj


@transaction.atomic
def change_transition(
    *, change: Change | int | str, by: User, name: str, comment: str = "", **params: Any
) -> Change:
    """Take a manual change transition (`submit`, `approve`, `reject`, `perform`, ...)
    and what follows from it: perform releases the attached tickets, a successful close
    records the released versions, cancel frees the attached tickets."""
    obj = access_change(by, change, lock=True)
    step = _take(obj, name, by=by, comment=comment, **params)
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


def _record_released_versions(change: Change) -> None:
    now = timezone.now()
    for cc in change.change_components.all():
        ComponentVersion.objects.update_or_create(
            component_id=cc.component_id,
            environment_id=change.environment_id,
            defaults={"version": cc.target_version, "updated": now, "released_by": change},
        )


@transaction.atomic
def component_create(
    *,
    by: User,
    organization: Organization | int,
    name: str,
    description: str = "",
    versions: dict[str, str] | None = None,
) -> Component:
    """A component of a customer's platform, with its current version per environment
    (`{"uat": "2.3.0", "production": "2.2.1"}`). Provider staff only."""
    if not by.is_provider:
        raise PermissionRefused("Only provider staff register components.")
    org_pk = organization.pk if isinstance(organization, Organization) else organization
    if not organizations_visible_to(by).filter(pk=org_pk).exists():
        raise InvalidInput("No such organisation.", fields={"organization": ["Unknown."]})
    name = _required_text(name, "name")
    if Component.objects.filter(organization_id=org_pk, name=name).exists():
        raise InvalidInput(
            f"{name} is already a component of this organisation.",
            fields={"name": ["Already exists in this organisation."]},
        )
    component = Component.objects.create(organization_id=org_pk, name=name, description=description)
    for code, version in (versions or {}).items():
        ComponentVersion.objects.create(
            component=component,
            environment=_environment(code),
            version=_required_text(version, "version"),
        )
    return component


def transitions_for(subject: Ticket | Change, user: User) -> list[workflow.TransitionOption]:
    """What `user` may do next with `subject` (and what is blocked, with the reason)."""
    options = workflow.options(subject, user)
    if isinstance(subject, Change):
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


# --------------------------------------------------------------------------- contacts


def _contact_organization(by: User, organization: Organization | int | None) -> int:
    """A customer manages only their own organisation's contacts; staff name one."""
    if by.is_customer:
        if organization is not None:
            org_pk = organization.pk if isinstance(organization, Organization) else organization
            if org_pk != by.organization_id:
                from .errors import NotVisible

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

    from .limits import text_problem

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
        from .errors import NotVisible

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
            from .limits import without_forbidden

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
