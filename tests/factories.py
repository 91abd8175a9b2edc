"""factory_boy factories for the whole suite, in one place."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from approvals.models import Approval, ApprovalRole, Decision
from notifications.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from notifications.webhooks.signing import new_secret
from tickets.models import (
    Change,
    ChangeComponent,
    ChangeStatus,
    ChecklistItem,
    ChecklistState,
    Component,
    ComponentVersion,
    Contact,
    Environment,
    Organization,
    Performer,
    StandardCheck,
    TestScenario,
    Ticket,
    TicketComment,
    User,
)

# A year whose dates are always in the future and within the window range the services
# accept (tickets.services.window_problems): for dates typed into forms.
NEXT_YEAR = timezone.now().year + 1


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Customer {n}")
    slug = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "-"))
    timezone = "Europe/Paris"


class UserFactory(factory.django.DjangoModelFactory[User]):
    """A provider user; pass the role flags you need."""

    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@provider.example")
    kind = User.Kind.PROVIDER
    password = factory.django.Password("demo")


class CustomerUserFactory(UserFactory):
    username = factory.Sequence(lambda n: f"customer{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@customer.example")
    kind = User.Kind.CUSTOMER
    organization = factory.SubFactory(OrganizationFactory)


def environment(code: str = "uat") -> Environment:
    # get_or_create: transactional tests flush the rows the data migration made.
    names = {"uat": ("UAT", 1), "production": ("Production", 2)}
    name, position = names.get(code, (code, 9))
    return Environment.objects.get_or_create(
        code=code, defaults={"name": name, "position": position}
    )[0]


class ComponentFactory(factory.django.DjangoModelFactory[Component]):
    class Meta:
        model = Component

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"component-{n}")


class ComponentVersionFactory(factory.django.DjangoModelFactory[ComponentVersion]):
    class Meta:
        model = ComponentVersion

    component = factory.SubFactory(ComponentFactory)
    environment = factory.LazyFunction(environment)
    version = "1.0.0"


class ContactFactory(factory.django.DjangoModelFactory[Contact]):
    class Meta:
        model = Contact

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"End user {n}")
    email = factory.Sequence(lambda n: f"user{n}@enduser.example")


class WebhookEndpointFactory(factory.django.DjangoModelFactory[WebhookEndpoint]):
    """An endpoint of `organization` (None: a provider's global one) owned by `owner`,
    written straight to the table: the URL is not checked (subscriptions.webhook_create
    checks it)."""

    class Meta:
        model = WebhookEndpoint

    organization = factory.SubFactory(OrganizationFactory)
    owner = factory.SubFactory(
        CustomerUserFactory, organization=factory.SelfAttribute("..organization")
    )
    url = factory.Sequence(lambda n: f"https://hooks{n}.receiver.example/changeprocess")
    secret = factory.LazyFunction(new_secret)


class WebhookDeliveryFactory(factory.django.DjangoModelFactory[WebhookDelivery]):
    """One event of `object_key` for `endpoint`, with the event written alongside."""

    class Meta:
        model = WebhookDelivery

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    object_key = factory.Sequence(lambda n: f"CHG-{n + 1}")
    event = factory.LazyAttribute(
        lambda d: WebhookEvent.objects.create(
            type="change.updated",
            object_key=d.object_key,
            organization_id=d.endpoint.organization_id or OrganizationFactory().pk,
            payload={"type": "change.updated", "timestamp": None, "data": {}},
        )
    )


class TicketFactory(factory.django.DjangoModelFactory[Ticket]):
    class Meta:
        model = Ticket

    organization = factory.SubFactory(OrganizationFactory)
    title = factory.Sequence(lambda n: f"Ticket {n}")
    description = "Steps to reproduce: open the page."
    reporter = factory.SubFactory(
        CustomerUserFactory, organization=factory.SelfAttribute("..organization")
    )


class TicketCommentFactory(factory.django.DjangoModelFactory[TicketComment]):
    class Meta:
        model = TicketComment

    ticket = factory.SubFactory(TicketFactory)
    author = factory.SelfAttribute("ticket.reporter")
    body = "A comment."


class ChangeFactory(factory.django.DjangoModelFactory[Change]):
    """A change with every section complete (components, scenarios and the default
    checklist included), in the `status` given."""

    class Meta:
        model = Change
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    environment = factory.LazyFunction(environment)
    performer = Performer.PROVIDER
    author = factory.SubFactory(UserFactory, is_support_agent=True)
    reporter = factory.SelfAttribute("author")
    title = factory.Sequence(lambda n: f"Upgrade the billing service #{n}")
    summary = "Upgrade the billing service to 2.4 to fix rounding."
    outage_expected = False
    impact = "No outage; invoices are rounded correctly afterwards."
    changelog = "Bug fixes:\n- rounding of VAT"
    deployment_procedure = "1. Deploy the image. 2. Run migrations."
    rollback_procedure = "1. Redeploy the previous image."

    @factory.post_generation
    def sections(obj: Change, create: bool, extracted: Any, **kwargs: Any) -> None:
        if not create or extracted is False:
            return
        component = ComponentFactory(organization=obj.organization)
        ChangeComponent.objects.create(change=obj, component=component, target_version="2.4.0")
        TestScenario.objects.create(
            change=obj, position=1, kind="progression", description="Invoice totals are rounded."
        )
        TestScenario.objects.create(
            change=obj, position=2, kind="regression", description="Old invoices still open."
        )
        for i, check in enumerate(StandardCheck, 1):
            ChecklistItem.objects.create(
                change=obj, position=i, label=check.label, standard=check.value
            )


def propose_window(change: Change, by: User, *, agreed_by: User | None = None) -> Change:
    """Set a window without the service (fixture shortcut)."""
    start = timezone.now() + timedelta(days=3)
    Change.objects.filter(pk=change.pk).update(
        window_start=start,
        window_end=start + timedelta(hours=2),
        window_proposed_by=by,
        window_proposed_at=timezone.now(),
        window_agreed_by=agreed_by,
        window_agreed_at=timezone.now() if agreed_by else None,
    )
    change.refresh_from_db()
    return change


def complete_checklist(change: Change, by: User) -> None:
    change.checklist.update(state=ChecklistState.DONE, by=by, at=timezone.now())


def approve_all(change: Change, *, qa: User, peer: User, ops: User) -> None:
    for role, user in (
        (ApprovalRole.QA, qa),
        (ApprovalRole.PEER, peer),
        (ApprovalRole.OPERATIONS, ops),
    ):
        Approval.objects.create(
            change=change,
            round=change.approval_round,
            role=role,
            decision=Decision.APPROVED,
            by=user,
        )


__all__ = [
    "NEXT_YEAR",
    "ChangeFactory",
    "ChangeStatus",
    "ComponentFactory",
    "ComponentVersionFactory",
    "ContactFactory",
    "CustomerUserFactory",
    "OrganizationFactory",
    "TicketCommentFactory",
    "TicketFactory",
    "UserFactory",
    "approve_all",
    "complete_checklist",
    "environment",
    "propose_window",
]
