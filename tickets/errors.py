"""The one family of domain errors.

Services and model rules raise these with a message a person can act on; each front end
maps them once: a form error or message in the web UI, an HTTP status in the API
(`http_status`), a message in the admin.
"""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the action. `message` is shown to the person as is."""

    http_status = 400
    code = "invalid"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def __str__(self) -> str:
        return self.message


class InvalidInput(DomainError):
    """The request itself is wrong: a missing comment, an unknown resolution (HTTP 400)."""

    http_status = 400
    code = "invalid"


class NotVisible(DomainError):
    """The object does not exist *for this user* (HTTP 404, never 403: no existence leak)."""

    http_status = 404
    code = "not_found"


class PermissionRefused(DomainError):
    """The user sees the object but may not do this: wrong role, four-eyes (HTTP 403)."""

    http_status = 403
    code = "permission_denied"


class Conflict(DomainError):
    """The object's current state does not allow this (HTTP 409)."""

    http_status = 409
    code = "conflict"


class WrongState(Conflict):
    """No such transition from the object's current status."""

    code = "wrong_state"


class GuardFailed(Conflict):
    """The transition exists here but one of its conditions is not met."""

    code = "guard_failed"


class StaleObject(Conflict):
    """Someone else changed the object between reading and writing it."""

    code = "stale"


class TooLarge(DomainError):
    """What was sent is larger than this installation accepts: a file over
    ATTACHMENTS_MAX_BYTES (HTTP 413)."""

    http_status = 413
    code = "too_large"
