"""The endpoints of API.md. Each one fetches through the selectors (another organisation's
object is a 404), checks the shape of the body with a serializer, calls one service (or a
few, in one transaction, when one request edits several sections), and shows the result.
Refusals are the services' DomainErrors, turned into HTTP answers by `errors.py`."""

from .base import ApiViewSet, WorkflowViewSet, check_if_match, etag
from .changes import ChangeViewSet
from .directory import ComponentViewSet, MeView, NotFoundView, OrganizationViewSet
from .tickets import TicketViewSet

__all__ = [
    "ApiViewSet",
    "ChangeViewSet",
    "ComponentViewSet",
    "MeView",
    "NotFoundView",
    "OrganizationViewSet",
    "TicketViewSet",
    "WorkflowViewSet",
    "check_if_match",
    "etag",
]
