"""A believable demo desk: two customers, the provider's roles, tickets and changes in every
status, freezes. All through the service layer, so its history, approvals and logs are the
product's own. Running it twice changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from tickets import services
from tickets.management.demo_schedule import seed_schedule
from tickets.models import (
    Change,
    Component,
    ComponentVersion,
    Contact,
    Environment,
    Organization,
    Ticket,
    User,
)

PASSWORD = "demo"  # noqa: S105 - documented demo accounts, refused with DEBUG off

PROVIDER_USERS = [
    # username, first, last, roles
    ("agent", "Sam", "Rivera", {"is_support_agent": True}),
    ("qa", "Quinn", "Okafor", {"is_qa": True}),
    ("peer", "Pat", "Lindqvist", {}),
    ("ops", "Olivia", "Brandt", {"is_operations_manager": True}),
]

ORGS: dict[str, dict[str, Any]] = {
    "Acme Corp": {
        "slug": "acme",
        "timezone": "Europe/London",
        "user": ("alice", "Alice", "Martin"),
        "components": {
            "Billing service": ("2.3.0", "2.3.0"),
            "Customer portal": ("5.12.1", "5.11.4"),
            "Reporting API": ("3.0.2", "3.0.2"),
            "Single sign-on": ("1.8.0", "1.8.0"),
        },
        "contacts": [
            ("Dana Whitfield", "dana.whitfield@acme.example"),
            ("Ravi Patel", "ravi.patel@acme.example"),
            ("Meg O'Brien", "meg.obrien@acme.example"),
            ("Tomás Ruiz", "tomas.ruiz@acme.example"),
            ("Finance team", "finance@acme.example"),
        ],
    },
    "Globex": {
        "slug": "globex",
        "timezone": "America/New_York",
        "user": ("bob", "Bob", "Kowalski"),
        "components": {
            "Inventory sync": ("4.2.0", "4.1.7"),
            "Identity gateway": ("2.0.5", "2.0.5"),
            "Warehouse dashboard": ("1.14.0", "1.13.2"),
        },
        "contacts": [
            ("Hank Scorpio", "hank@globex.example"),
            ("Operations desk", "ops-desk@globex.example"),
            ("Lin Chen", "lin.chen@globex.example"),
            ("Store managers", "stores@globex.example"),
        ],
    },
}


class Command(BaseCommand):
    help = "Load the demo organisations, users, tickets and changes (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Run even with DEBUG off (never in production)."
        )

    def handle(self, *args: Any, force: bool, **options: Any) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates accounts with the password 'demo'; it refuses to run with "
                "DEBUG off. Pass --force if this really is a demo installation."
            )
        with transaction.atomic():
            created = self._seed()
        if created:
            self.stdout.write(self.style.SUCCESS("Demo data loaded. Log in as agent / demo."))
        else:
            self.stdout.write("Demo data already present; nothing changed.")

    # ------------------------------------------------------------------ building blocks

    def _seed(self) -> bool:
        if User.objects.filter(username="alice", organization__name="Acme Corp").exists():
            return False
        self.now = timezone.now()
        self.users: dict[str, User] = {}
        for username, first, last, roles in PROVIDER_USERS:
            self.users[username] = self._user(username, first, last, **roles)
        self.users["admin"] = self._user("admin", "Ada", "Admin", is_staff=True, is_superuser=True)
        self.orgs: dict[str, Organization] = {}
        self.components: dict[str, Component] = {}
        for name, spec in ORGS.items():
            org, _ = Organization.objects.get_or_create(
                name=name, defaults={"slug": spec["slug"], "timezone": spec["timezone"]}
            )
            self.orgs[spec["slug"]] = org
            username, first, last = spec["user"]
            self.users[username] = self._user(
                username,
                first,
                last,
                kind=User.Kind.CUSTOMER,
                organization=org,
                timezone=spec["timezone"],
            )
            for cname, (uat, prod) in spec["components"].items():
                comp, _ = Component.objects.get_or_create(organization=org, name=cname)
                self.components[cname] = comp
                for code, version in (("uat", uat), ("production", prod)):
                    ComponentVersion.objects.get_or_create(
                        component=comp,
                        environment=Environment.objects.get(code=code),
                        defaults={"version": version},
                    )
            for cname, email in spec["contacts"]:
                Contact.objects.get_or_create(
                    organization=org, email=email, defaults={"name": cname}
                )
        self._acme()
        self._globex()
        seed_schedule(self)  # freezes and a conflict, for the calendar
        return True

    def _user(self, username: str, first: str, last: str, **fields: Any) -> User:
        domain = (
            "globex.example"
            if username == "bob"
            else ("acme.example" if username == "alice" else "provider.example")
        )
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@{domain}",
                **fields,
            },
        )
        if created:
            user.set_password(PASSWORD)
            user.save()
        return user

    def _ticket(
        self,
        org: str,
        title: str,
        description: str,
        type_: str,
        priority: str = "normal",
        steps: tuple[str, ...] = (),
    ) -> Ticket:
        u = self.users
        reporter = u["alice"] if org == "acme" else u["bob"]
        ticket = services.ticket_create(
            by=reporter, title=title, description=description, type=type_, priority=priority
        )
        for step in steps:
            if step == "reply":
                services.ticket_comment(
                    ticket=ticket,
                    by=u["agent"],
                    body="Thanks for the report. Could you tell us which browser you use and "
                    "send a screenshot of the error?",
                )
            elif step == "customer_reply":
                services.ticket_comment(
                    ticket=ticket,
                    by=reporter,
                    body="Chrome 131 on Windows; the screenshot is attached to our internal wiki.",
                )
            elif step == "internal":
                services.ticket_comment(
                    ticket=ticket,
                    by=u["agent"],
                    public=False,
                    body="Reproduced on UAT. Looks like the rounding happens before VAT.",
                )
            elif step == "hold":
                services.ticket_transition(
                    ticket=ticket,
                    by=reporter,
                    name="hold",
                    comment="Deprioritised until the end of the quarter.",
                )
            else:
                services.ticket_transition(ticket=ticket, by=u["agent"], name=step)
        return ticket

    def _change(
        self,
        org: str,
        title: str,
        *,
        performer: str = "provider",
        outage: bool = False,
        components: dict[str, str],
        tickets: Sequence[Ticket] = (),
        complete: bool = True,  # type: ignore[assignment]
        env: str = "uat",
        **text: str,
    ) -> Change:
        u = self.users
        fields: dict[str, Any] = {
            "summary": text.get("summary", ""),
            "impact": text.get("impact", ""),
            "outage_expected": outage,
            "deployment_procedure": text.get("deployment", ""),
            "rollback_procedure": text.get("rollback", ""),
        }
        if outage:
            fields.update(
                outage_duration_minutes=int(text.get("duration", "30")),
                communication_audience="All end-user contacts of the organisation",
                communication_message=text.get(
                    "message", "The service will be unavailable during the maintenance window."
                ),
                communication_timing="When the window is agreed, a day before, and on completion",
            )
        author = (
            u["alice"]
            if performer == "customer" and org == "acme" and text.get("by_customer")
            else u["agent"]
        )
        change = services.change_create(
            by=author,
            organization=self.orgs[org],
            title=title,
            environment=env,
            performer=performer,
            **fields,
        )
        services.change_set_components(
            change=change,
            by=author,
            components=[(self.components[name], version) for name, version in components.items()],
        )
        if tickets:
            services.change_set_tickets(change=change, by=u["agent"], tickets=tickets)
        if not tickets:
            changelog = text.get("changelog") or "Changes:\n- " + fields["summary"]
            services.change_update(change=change, by=author, changelog=changelog)
        if complete:
            services.scenario_add(
                change=change,
                by=author,
                kind="progression",
                description=text.get("scenario", "The new behaviour works as described."),
            )
            services.scenario_add(
                change=change,
                by=author,
                kind="regression",
                description="Log in, open the dashboard and export last month's report.",
            )
        return change

    def _advance(self, change: Change, until: str) -> Change:
        """Take the change through the real transitions up to status `until`."""
        u = self.users
        customer = u["alice"] if change.organization.slug == "acme" else u["bob"]
        order = [
            "draft",
            "awaiting_approval",
            "approved",
            "to_be_released",
            "window",
            "in_testing",
            "rolled_back",
            "done",
        ]
        target = order.index(until)

        def t(name: str, by: User, **params: Any) -> None:
            services.change_transition(change=change, by=by, name=name, **params)

        if target >= 1:
            t("submit", u["agent"] if change.author.is_provider else customer)
            t("approve", u["qa"], role="qa", comment="Test evidence attached; looks good.")
        if target >= 2:
            t("approve", u["peer"], role="peer", comment="Procedure reviewed line by line.")
            t("approve", u["ops"], role="operations", comment="Window fits the ops calendar.")
        if target >= 3 and change.performer == "provider":
            t("business_approve", customer, comment="Approved for the agreed date.")
        if target >= 4:
            start = (self.now + timedelta(days=2)).replace(
                hour=21, minute=0, second=0, microsecond=0
            )
            if target >= 5:
                # A window must be proposed in the future; it is moved back below, once
                # performed, so the demo's history reads as yesterday's release.
                start = self.now + timedelta(minutes=30)
            services.change_propose_window(
                change=change, by=u["agent"], start=start, end=start + timedelta(hours=2)
            )
            if target >= 5:
                t("agree_window", customer, comment="Fine for us.")
                for item in change.checklist.all():
                    services.checklist_item_update(
                        item=item,
                        by=u["agent"] if change.performer == "provider" else customer,
                        state="not_applicable" if "Performance" in item.label else "done",
                        reason="No change to load or data volume."
                        if "Performance" in item.label
                        else "",
                    )
                t(
                    "perform",
                    u["agent"] if change.performer == "provider" else customer,
                    comment="Deployed following the procedure.",
                )
                past = self.now - timedelta(days=1, hours=3)
                Change.objects.filter(pk=change.pk).update(
                    window_start=past, window_end=past + timedelta(hours=2)
                )
        if target == 6:
            t("roll_back", u["agent"], comment="Exports timed out after the upgrade; rolled back.")
        if target == 7:
            for s in change.scenarios.all():
                services.scenario_record_result(
                    scenario=s, by=customer, result="passed", note="Checked on UAT."
                )
            for ticket in change.tickets.filter(status="in_testing"):
                services.ticket_transition(ticket=ticket, by=customer, name="accept")
            t("close", customer, resolution="successful", comment="All good, thank you.")
        change.refresh_from_db()
        return change

    # ------------------------------------------------------------------ the stories

    def _acme(self) -> None:
        u = self.users
        self._ticket(
            "acme",
            "Invoice PDF shows the wrong VAT total",
            "On invoices with more than 20 lines the VAT total is off by a few cents.",
            "bug",
            "high",
        )
        self._ticket(
            "acme",
            "How do we add a second billing contact?",
            "Our finance team wants two people to receive the monthly invoice.",
            "question",
            steps=("reply",),
        )
        self._ticket(
            "acme",
            "Export of the monthly report times out",
            "The CSV export of the monthly report stops after about 60 seconds.",
            "bug",
            "high",
            steps=("reply", "customer_reply", "needs_work"),
        )
        self._ticket(
            "acme",
            "Single sign-on: support Azure AD groups",
            "We would like access rights to follow our Azure AD groups.",
            "feature",
            steps=("needs_work", "start", "internal"),
        )
        self._ticket(
            "acme",
            "Dark mode for the customer portal",
            "Several users asked for a dark theme.",
            "feature",
            "low",
            steps=("needs_work", "hold"),
        )
        ready = [
            self._ticket(
                "acme",
                "Rounding error in VAT on long invoices",
                "VAT is rounded per line instead of on the total.",
                "bug",
                "high",
                steps=("needs_work", "start", "ready_for_release"),
            ),
            self._ticket(
                "acme",
                "Add the PO number to invoice e-mails",
                "Procurement needs the purchase order number in the e-mail subject.",
                "feature",
                steps=("needs_work", "start", "ready_for_release"),
            ),
        ]
        tested = [
            self._ticket(
                "acme",
                "Portal login page slow on first visit",
                "The login page takes 6 seconds to load the first time.",
                "bug",
                steps=("needs_work", "start", "ready_for_release"),
            ),
        ]
        self._ticket(
            "acme",
            "Upgrade the reporting API to 3.1",
            "Please schedule the upgrade to 3.1; we need the new filters.",
            "change_request",
            steps=("reply",),
        )
        self._ticket(
            "acme",
            "Spelling mistake on the payment page",
            "'Recieve' should be 'Receive'.",
            "bug",
            "low",
            steps=("needs_work", "start", "ready_for_release"),
        )

        common: dict[str, Any] = {
            "deployment": "1. Announce the start in #acme-changes.\n2. Deploy the new image with "
            "the release pipeline.\n3. Run the database migrations.\n4. Smoke-test the login "
            "and the invoice list.",
            "rollback": "1. Redeploy the previous image tag from the release pipeline.\n2. "
            "Restore the database snapshot taken before step 3.\n3. Confirm the smoke tests.",
        }
        self._change(
            "acme",
            "Upgrade the reporting API to 3.1",
            components={"Reporting API": "3.1.0"},
            complete=False,
            summary="Move the reporting API to 3.1 for the new date filters.",
            **common,
        )
        ch = self._change(
            "acme",
            "Billing service 2.4: VAT rounding and PO numbers",
            components={"Billing service": "2.4.0"},
            tickets=ready,
            summary="Release billing 2.4, which rounds VAT on the invoice total and adds the "
            "purchase order number to invoice e-mails.",
            impact="No outage. Invoices issued after the release show the corrected VAT total.",
            scenario="Create an invoice with 25 lines and check the VAT total against the "
            "spreadsheet.",
            **common,
        )
        self._advance(ch, "awaiting_approval")
        ch = self._change(
            "acme",
            "Customer portal 5.13 with faster login",
            components={"Customer portal": "5.13.0"},
            tickets=tested,
            summary="Portal 5.13 caches the login page assets and upgrades the UI library.",
            impact="A 15 minute outage of the customer portal while the new version starts.",
            outage=True,
            duration="15",
            message="The customer portal will be unavailable for about 15 minutes.",
            scenario="Open the login page in a private window: it loads in under 2 seconds.",
            **common,
        )
        self._advance(ch, "in_testing")
        ch = self._change(
            "acme",
            "Single sign-on 1.9 certificate rotation",
            components={"Single sign-on": "1.9.0"},
            summary="Rotate the SAML signing certificate before it expires and release SSO 1.9.",
            impact="Users stay logged in; new logins use the new certificate.",
            scenario="Log in through Azure AD and through the password form.",
            **common,
        )
        self._advance(ch, "approved")
        ch = self._change(
            "acme",
            "Reporting API 3.0.3 hotfix for CSV exports",
            components={"Reporting API": "3.0.3"},
            summary="Raise the export timeout and stream CSV rows instead of buffering them.",
            impact="No outage.",
            scenario="Export 12 months of data as CSV.",
            **common,
        )
        self._advance(ch, "to_be_released")
        services.change_propose_window(
            change=ch,
            by=u["agent"],
            start=(self.now + timedelta(days=4)).replace(
                hour=20, minute=0, second=0, microsecond=0
            ),
            end=(self.now + timedelta(days=4)).replace(hour=21, minute=0, second=0, microsecond=0),
        )
        ch = self._change(
            "acme",
            "Billing service 2.3.1 currency formatting",
            components={"Billing service": "2.3.1"},
            tickets=[
                self._ticket(
                    "acme",
                    "Euro amounts show the symbol before the number",
                    "German customers expect '12,50 €'.",
                    "bug",
                    steps=("needs_work", "start", "ready_for_release"),
                )
            ],
            summary="Format amounts with the customer's locale.",
            impact="No outage.",
            **common,
        )
        self._advance(ch, "done")
        ch = self._change(
            "acme",
            "Customer portal 5.12.2 search index",
            components={"Customer portal": "5.12.2"},
            summary="Rebuild the search index with the new analyser.",
            impact="Search is slower for 10 minutes while the index rebuilds.",
            **common,
        )
        self._advance(ch, "rolled_back")
        ch = self._change(
            "acme",
            "Move reports to the new storage bucket",
            components={"Reporting API": "3.0.2"},
            summary="Copy archived reports to the new bucket.",
            impact="No outage.",
            **common,
        )
        services.change_transition(
            change=ch, by=u["alice"], name="cancel", comment="We keep the current storage for now."
        )
        ch = self._change(
            "acme",
            "Acme-hosted SSO proxy configuration update",
            performer="customer",
            components={"Single sign-on": "1.8.1"},
            summary="Acme's infrastructure team updates the SSO proxy configuration themselves.",
            impact="No outage expected; sessions are kept.",
            scenario="Log in through the proxy from the office network.",
            **common,
        )
        self._advance(ch, "approved")

    def _globex(self) -> None:
        self._ticket(
            "globex",
            "Inventory counts lag behind by an hour",
            "The dashboard shows stock levels from an hour ago.",
            "bug",
            "urgent",
            steps=("reply", "customer_reply"),
        )
        self._ticket(
            "globex",
            "Request: nightly sync at 02:00 instead of 04:00",
            "Our stores open earlier in winter.",
            "change_request",
        )
        ready = self._ticket(
            "globex",
            "Warehouse dashboard crashes on empty filters",
            "Clearing every filter shows an error page.",
            "bug",
            steps=("needs_work", "start", "ready_for_release"),
        )
        common: dict[str, Any] = {
            "deployment": "1. Pause the sync scheduler.\n2. Deploy the new version.\n3. Resume "
            "the scheduler and watch the first run.",
            "rollback": "1. Pause the scheduler.\n2. Redeploy the previous version.\n3. Resume.",
        }
        ch = self._change(
            "globex",
            "Inventory sync 4.3 with incremental updates",
            components={"Inventory sync": "4.3.0"},
            outage=True,
            duration="45",
            summary="Switch the inventory sync from full to incremental updates.",
            impact="Stock levels are frozen for up to 45 minutes during the switch.",
            message="Stock levels will not update for up to 45 minutes.",
            **common,
        )
        self._advance(ch, "awaiting_approval")
        ch = self._change(
            "globex",
            "Warehouse dashboard 1.14.1 filter fix",
            components={"Warehouse dashboard": "1.14.1"},
            tickets=[ready],
            summary="Fix the crash when every filter is cleared.",
            impact="No outage.",
            **common,
        )
        self._advance(ch, "in_testing")
