"""Freezes and calendar feeds (API.md, "Scheduling"). Operations management (or an
admin) declares freezes; anyone signed in may have a calendar feed of what they see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..errors import InvalidInput, NotVisible, PermissionRefused
from ..limits import YEAR_RANGE_MESSAGE, datetime_in_range
from ..models import (
    TIMEZONE_CHOICES,
    CalendarFeed,
    Component,
    Environment,
    Freeze,
    Organization,
    User,
    feed_token_hash,
    parse_rrule,
)
from ..models.freezes import MAX_FREEZE_HOURS
from ..selectors import freezes_visible_to, parse_ref

FREEZE_FIELDS = (
    "title",
    "reason",
    "start",
    "end",
    "timezone",
    "rrule",
    "hard",
    "organization",
    "environment",
    "components",
)
_TIMEZONES = {value for value, _ in TIMEZONE_CHOICES}


def may_manage_freezes(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and (user.is_superuser or (user.is_provider and user.is_operations_manager))
    )


def _require_manager(by: User) -> None:
    if not may_manage_freezes(by):
        raise PermissionRefused("Only operations management declares freezes.")


def access_freeze(user: Any, ref: Any, *, lock: bool = False) -> Freeze:
    pk = parse_ref(ref, "")
    qs = freezes_visible_to(user)
    if lock:
        qs = qs.select_for_update(of=("self",))
    freeze = qs.filter(pk=pk).first() if pk is not None else None
    if freeze is None:
        raise NotVisible("No such freeze.")
    return freeze


def _apply(freeze: Freeze, data: dict[str, Any]) -> list[int] | None:
    """Set the given fields on `freeze` (not saved); return the component ids to set, or
    None when they are not given. Every problem is refused at once, by field."""
    errors: dict[str, list[str]] = {}
    unknown = set(data) - set(FREEZE_FIELDS)
    if unknown:
        raise InvalidInput(
            f"Unknown fields: {', '.join(sorted(unknown))}.",
            fields={f: ["Unknown field."] for f in unknown},
        )
    if "title" in data:
        freeze.title = str(data["title"] or "").strip()[:200]
    if not freeze.title:
        errors["title"] = ["Required."]
    if "reason" in data:
        freeze.reason = str(data["reason"] or "").strip()
    if "hard" in data:
        freeze.hard = bool(data["hard"])
    if "timezone" in data:
        if data["timezone"] not in _TIMEZONES:
            errors["timezone"] = ["Not a time zone we know (e.g. Europe/London)."]
        else:
            freeze.timezone = data["timezone"]
    for name in ("start", "end"):
        if name in data:
            value = data[name]
            if not isinstance(value, datetime) or timezone.is_naive(value):
                errors[name] = ["A date and time with its timezone."]
            elif not datetime_in_range(value) or not datetime_in_range(value.astimezone(UTC)):
                errors[name] = [YEAR_RANGE_MESSAGE]
            else:
                setattr(freeze, name, value)
    if freeze.start is None:
        errors.setdefault("start", ["Required."])
    if freeze.end is None:
        errors.setdefault("end", ["Required."])
    if not ({"start", "end"} & set(errors)):
        if freeze.end <= freeze.start:
            errors["end"] = ["The freeze must end after it starts."]
        elif freeze.end - freeze.start > timedelta(hours=MAX_FREEZE_HOURS):
            errors["end"] = [f"One period lasts at most {MAX_FREEZE_HOURS // 24} days."]
    if "rrule" in data:
        freeze.rrule = str(data["rrule"] or "").strip()
    if freeze.rrule and not ({"start", "timezone"} & set(errors)):
        try:
            parse_rrule(freeze.rrule, freeze.start, freeze.timezone)
        except ValueError as exc:
            errors["rrule"] = [str(exc)]
    if "organization" in data:
        ref = getattr(data["organization"], "pk", data["organization"])
        org = None
        if ref not in (None, ""):
            org = Organization.objects.filter(pk=parse_ref(ref, "") or 0).first()
            if org is None:
                errors["organization"] = ["No such organisation."]
        freeze.organization = org
    if "environment" in data:
        ref = getattr(data["environment"], "pk", data["environment"])
        env = None
        if ref not in (None, ""):
            env = Environment.objects.filter(pk=parse_ref(ref, "") or 0).first()
            if env is None:
                errors["environment"] = ["No such environment."]
        freeze.environment = env
    component_ids: list[int] | None = None
    if "components" in data:
        refs = data["components"] or []
        ids = {parse_ref(getattr(r, "pk", r), "") for r in refs}
        found = Component.objects.filter(pk__in=[i for i in ids if i is not None])
        if freeze.organization_id is not None:
            found = found.filter(organization_id=freeze.organization_id)
        component_ids = sorted(found.values_list("id", flat=True))
        if len(component_ids) != len(ids):
            errors["components"] = [
                "Unknown components, or components of another organisation than the freeze's."
            ]
    if errors:
        raise InvalidInput(
            "The freeze is not valid: "
            + " ".join(f"{name}: {' '.join(msgs)}" for name, msgs in errors.items()),
            fields=errors,
        )
    return component_ids


def check_freeze(freeze: Freeze, data: dict[str, Any]) -> None:
    """Refuse `data` as `freeze_create`/`freeze_update` would (InvalidInput by field),
    changing only the unsaved `freeze` given: for a form that shows every problem."""
    _apply(freeze, data)


def _save(freeze: Freeze, component_ids: list[int] | None) -> Freeze:
    freeze.last_end = freeze.compute_last_end()
    if component_ids is not None:
        freeze.all_components = not component_ids
    freeze.save()
    if component_ids is not None:
        freeze.components.set(component_ids)
    return freeze


@transaction.atomic
def freeze_create(*, by: User, **data: Any) -> Freeze:
    _require_manager(by)
    freeze = Freeze(created_by=by, start=None, end=None)  # type: ignore[misc]
    freeze.hard = bool(data.get("hard", True))
    return _save(freeze, _apply(freeze, data))


@transaction.atomic
def freeze_update(*, freeze: Freeze | int | str, by: User, **data: Any) -> Freeze:
    _require_manager(by)
    obj = access_freeze(by, freeze.pk if isinstance(freeze, Freeze) else freeze, lock=True)
    components = _apply(obj, data)
    obj.sequence += 1
    return _save(obj, components)


@transaction.atomic
def freeze_delete(*, freeze: Freeze | int | str, by: User) -> None:
    _require_manager(by)
    obj = access_freeze(by, freeze.pk if isinstance(freeze, Freeze) else freeze, lock=True)
    obj.delete()


@transaction.atomic
def calendar_feed_issue(*, by: User) -> str:
    """A new secret feed token for `by`, revoking the previous one. Only its hash is kept:
    the caller shows the URL once."""
    token = CalendarFeed.new_token()
    CalendarFeed.objects.filter(user=by).delete()
    CalendarFeed.objects.create(user=by, token_hash=feed_token_hash(token))
    return token


@transaction.atomic
def calendar_feed_revoke(*, by: User) -> bool:
    deleted, _ = CalendarFeed.objects.filter(user=by).delete()
    return bool(deleted)


def calendar_feed_user(token: str) -> User:
    """The active user whose feed `token` is; NotVisible (404) for anything else."""
    feed = (
        CalendarFeed.objects.select_related("user")
        .filter(token_hash=feed_token_hash(token or ""), user__is_active=True)
        .first()
    )
    if feed is None:
        raise NotVisible("No such calendar feed.")
    now = timezone.now()
    if feed.last_used is None or now - feed.last_used > timedelta(minutes=5):
        CalendarFeed.objects.filter(pk=feed.pk).update(last_used=now)
    return feed.user
