"""Components of a customer's platform."""

from __future__ import annotations

from django.db import transaction

from ..errors import InvalidInput, PermissionRefused
from ..models import (
    Component,
    ComponentVersion,
    Organization,
    User,
)
from ..selectors import (
    organizations_visible_to,
)
from .changes import _environment
from .common import _required_text


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
