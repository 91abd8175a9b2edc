"""The machinery around django-fsm-2 that both state machines share.

The transition tables live on the models (`Ticket`, `Change`) as `@transition` methods.
This module gives their guards and role checks a sentence a person can act on, runs a
transition in the order every front end relies on (wrong state -> role -> input ->
guards -> the method), and writes the append-only log row.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django_fsm import RETURN_VALUE, ConcurrentTransition, Transition

from .errors import GuardFailed, InvalidInput, PermissionRefused, StaleObject, WrongState

# How a transition is started: by a person's request, as a side effect of a comment,
# or by the system as part of another transition.
MANUAL = "manual"
ON_COMMENT = "comment"
SYSTEM = "system"


class Guard:
    """A transition condition (`conditions=[...]`) that can say why it is not met."""

    def __init__(self, check: Callable[[Any], bool], message: str | Callable[[Any], str]):
        self.check = check
        self.message = message
        self.__name__ = getattr(check, "__name__", "guard")

    def __call__(self, instance: Any) -> bool:
        return bool(self.check(instance))

    def explain(self, instance: Any) -> str:
        return self.message(instance) if callable(self.message) else self.message


def guard(message: str | Callable[[Any], str]) -> Callable[[Callable[[Any], bool]], Guard]:
    def wrap(check: Callable[[Any], bool]) -> Guard:
        return Guard(check, message)

    return wrap


class Role:
    """A transition permission (`permission=...`): who may take it, and why not.

    `check(instance, user)` answers; `refusal(instance, user, params)` is the sentence
    shown when it answers no (a refusal written with three arguments also sees what was
    asked, so it can name the rule that refuses: "the QA approval" rather than "an
    approval").
    """

    def __init__(
        self,
        label: str,
        check: Callable[[Any, Any], bool],
        refusal: str | Callable[..., str],
    ) -> None:
        self.label = label
        self.check = check
        self.refusal_message = refusal
        self._refusal_sees_params = (
            callable(refusal) and len(inspect.signature(refusal).parameters) == 3
        )

    def __call__(self, instance: Any, user: Any) -> bool:
        if user is None or not getattr(user, "is_authenticated", False):
            return False
        if not user.is_active:
            return False
        return bool(self.check(instance, user))

    def refusal(self, instance: Any, user: Any, params: dict[str, Any] | None = None) -> str:
        msg = self.refusal_message
        if not callable(msg):
            return msg
        if self._refusal_sees_params:
            return msg(instance, user, params or {})
        return msg(instance, user)


NOBODY = Role("system", lambda i, u: False, "This step happens automatically; nobody takes it.")


def transition_meta(
    label: str,
    *,
    who: str,
    needs: Iterable[str] = (),
    trigger: str = MANUAL,
    describe: str = "",
) -> dict[str, Any]:
    """The `custom=` of a transition: what the UI, the API and the diagrams show."""
    return {
        "label": label,
        "who": who,
        "needs": tuple(needs),
        "trigger": trigger,
        "describe": describe,
    }


@dataclass(frozen=True)
class TransitionOption:
    """One transition as a front end offers it to one user at one moment."""

    name: str
    label: str
    targets: tuple[str, ...]
    needs: tuple[str, ...]
    allowed: bool
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    name: str
    source: str
    target: str
    result: Any


def _methods(model: type[models.Model]) -> dict[str, Any]:
    """The transition methods by name, in the order the model declares them (the order
    of WORKFLOW.md's tables), not django-fsm's alphabetical one."""
    status_field = model._meta.get_field("status")
    methods = status_field.transitions[model]  # type: ignore[union-attr]
    return dict(
        sorted(methods.items(), key=lambda kv: inspect.unwrap(kv[1]).__code__.co_firstlineno)
    )


def transitions_of(model: type[models.Model]) -> list[Transition]:
    """Every (source, transition) pair of the model's table, in declaration order."""
    return [
        t for method in _methods(model).values() for t in method._django_fsm.transitions.values()
    ]


def transition_customs(model: type[models.Model]) -> dict[str, dict[str, Any]]:
    """Each transition's `custom` (label, who, needs, trigger, describe) by name, from the
    model's table: what the pages, the API and the diagrams show of it."""
    return {t.name: t.custom for t in transitions_of(model)}


def targets_of(t: Transition, source: Any) -> tuple[str, ...]:
    if t.target is None:
        return (str(source),)
    if isinstance(t.target, RETURN_VALUE):
        return tuple(str(s) for s in t.target.allowed_states)
    return (str(t.target),)


def _current(instance: models.Model, name: str) -> Transition | None:
    method = _methods(type(instance)).get(name)
    if method is None:
        return None
    meta = method._django_fsm
    state = instance.status  # type: ignore[attr-defined]
    if not meta.has_transition(state):
        return None
    return meta.get_transition(state)


def _status_label(instance: models.Model) -> str:
    return instance.get_status_display()  # type: ignore[attr-defined]


def check(
    instance: models.Model,
    name: str,
    user: Any,
    params: dict[str, Any] | None = None,
    *,
    automatic: bool = False,
) -> Transition:
    """Raise the domain error that refuses `name` for `user` now, or return the transition.

    The order is a contract the API's status codes rest on: unknown name (400), wrong
    state (409), role (403), missing input (400), guards (409).
    """
    noun = instance._meta.verbose_name
    if name not in _methods(type(instance)):
        raise InvalidInput(
            f"There is no transition called '{name}' for a {noun}.",
            fields={"transition": [f"Unknown transition '{name}'."]},
        )
    t = _current(instance, name)
    if t is None:
        raise WrongState(f"'{name}' is not possible while the {noun} is {_status_label(instance)}.")
    trigger = t.custom.get("trigger", MANUAL)
    if trigger != MANUAL and not automatic:
        raise WrongState(
            f"'{name}' is not taken by hand: it happens automatically "
            f"({t.custom.get('describe') or 'as part of another step'})."
        )
    permission = t.permission
    # NOBODY marks a step the system takes on behalf of whoever caused the enclosing one.
    if permission is not None and permission is not NOBODY and not t.has_perm(instance, user):
        reason = (
            permission.refusal(instance, user, params)
            if isinstance(permission, Role)
            else "You may not do this."
        )
        raise PermissionRefused(reason)
    params = params or {}
    missing = {
        need: ["This field is required."]
        for need in t.custom.get("needs", ())
        if not str(params.get(need) or "").strip()
    }
    if missing:
        raise InvalidInput(
            f"'{name}' needs: {', '.join(missing)}.",
            fields=missing,
        )
    failures = [
        c.explain(instance) for c in t.conditions if isinstance(c, Guard) and not c(instance)
    ]
    failures += [
        "A condition is not met."
        for c in t.conditions
        if not isinstance(c, Guard) and not c(instance)
    ]
    if failures:
        raise GuardFailed(" ".join(failures))
    return t


def run(
    instance: models.Model,
    name: str,
    *,
    by: Any,
    automatic: bool = False,
    **params: Any,
) -> Step:
    """Check and take transition `name`, then save. The caller holds the row lock and the
    transaction and writes the log row (see `log`)."""
    t = check(instance, name, by, params, automatic=automatic)
    source = instance.status  # type: ignore[attr-defined]
    method = getattr(instance, name)
    result = method(by=by, **params)
    try:
        instance.save()
    except ConcurrentTransition as exc:
        raise StaleObject(
            f"This {instance._meta.verbose_name} was changed by someone else meanwhile; "
            "reload it and try again."
        ) from exc
    del t
    return Step(name=name, source=source, target=instance.status, result=result)  # type: ignore[attr-defined]


def options(instance: models.Model, user: Any) -> list[TransitionOption]:
    """The manual transitions from the current status that this user's role allows,
    each marked allowed or carrying the guard's reason. A front end shows exactly these."""
    out: list[TransitionOption] = []
    state = instance.status  # type: ignore[attr-defined]
    for name in _methods(type(instance)):
        t = _current(instance, name)
        if t is None or t.custom.get("trigger", MANUAL) != MANUAL:
            continue
        if not t.has_perm(instance, user):
            continue
        failures = [
            c.explain(instance) for c in t.conditions if isinstance(c, Guard) and not c(instance)
        ]
        out.append(
            TransitionOption(
                name=name,
                label=t.custom.get("label", name),
                targets=targets_of(t, state),
                needs=tuple(t.custom.get("needs", ())),
                allowed=not failures,
                reason=" ".join(failures),
            )
        )
    return out
