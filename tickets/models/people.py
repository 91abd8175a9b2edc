"""Organisations, the people with a login, and the platform they run: environments,
components and their versions, end-user contacts."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone

TIMEZONE_CHOICES = [(tz, tz) for tz in sorted(zoneinfo.available_timezones())]


class Organization(models.Model):
    """An enterprise customer of the provider."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", choices=TIMEZONE_CHOICES)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "organisation"

    def __str__(self) -> str:
        return self.name


class UserRole(models.TextChoices):
    """What a person is to the process (WORKFLOW.md, "People and roles"). Stored as the
    user's kind and role flags; this names them."""

    SUPPORT_AGENT = "support_agent", "support agent"  # triages, writes and performs changes
    QA = "qa", "QA"  # gives the QA approval
    OPERATIONS_MANAGEMENT = "operations_management", "operations management"  # Operations
    ENGINEER = "engineer", "engineer"  # provider staff with no role flag: gives Peer approvals
    CUSTOMER = "customer", "customer"  # a member of one enterprise customer


class User(AbstractUser):
    """A person with a login: provider staff, or a member of one customer organisation."""

    class Kind(models.TextChoices):
        PROVIDER = "provider", "Provider staff"  # the platform's support team
        CUSTOMER = "customer", "Customer user"  # member of one enterprise customer

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PROVIDER)
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        help_text="Required for customer users; empty for provider staff.",
    )
    is_support_agent = models.BooleanField("support agent", default=False)
    is_qa = models.BooleanField("QA", default=False)
    is_operations_manager = models.BooleanField("operations management", default=False)
    timezone = models.CharField(max_length=64, default="UTC", choices=TIMEZONE_CHOICES)

    class Meta:
        constraints = [
            # A customer user without an organisation would see nothing (or, worse, be
            # mistaken for staff); a provider user with one would be scoped by mistake.
            models.CheckConstraint(
                condition=(Q(kind="customer", organization__isnull=False))
                | Q(kind="provider", organization__isnull=True),
                name="user_kind_matches_organization",
            ),
            models.CheckConstraint(
                condition=Q(kind="provider")
                | Q(is_support_agent=False, is_qa=False, is_operations_manager=False),
                name="user_provider_roles_only_for_provider",
            ),
        ]

    @property
    def is_provider(self) -> bool:
        return self.kind == self.Kind.PROVIDER

    @property
    def is_customer(self) -> bool:
        return self.kind == self.Kind.CUSTOMER

    @property
    def roles(self) -> list[UserRole]:
        """The user's roles, as `UserRole` values: the one vocabulary the pages, the API
        and the admin speak of people in."""
        if self.is_customer:
            return [UserRole.CUSTOMER]
        roles = [
            role
            for role, held in (
                (UserRole.SUPPORT_AGENT, self.is_support_agent),
                (UserRole.QA, self.is_qa),
                (UserRole.OPERATIONS_MANAGEMENT, self.is_operations_manager),
            )
            if held
        ]
        return roles or [UserRole.ENGINEER]

    @property
    def role_names(self) -> list[str]:
        return [UserRole(r).label for r in self.roles]


class Environment(models.Model):
    """Where a component runs: UAT (where customers test) or production."""

    code = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name


class Component(models.Model):
    """A part of a customer's platform that changes release."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="components"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["organization__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="component_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.organization})"


class ComponentVersion(models.Model):
    """The version of a component currently running on an environment."""

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="versions")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="+")
    version = models.CharField(max_length=100)
    updated = models.DateTimeField(default=timezone.now)
    released_by = models.ForeignKey(
        "Change", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["component", "environment__position"]
        constraints = [
            models.UniqueConstraint(
                fields=["component", "environment"], name="component_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.component.name} {self.version} on {self.environment}"


class Contact(models.Model):
    """An end user of the customer's platform: receives outage communications, no login."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "email"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "email"], name="contact_unique_email")
        ]
        verbose_name = "end-user contact"

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email
