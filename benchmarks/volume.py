"""A desk at volume, for benchmarks (issue 13): what `manage.py seed_volume --tickets N` writes.

Per 100,000 tickets, spread over two years and a few hundred organisations of very
different sizes: about 300,000 comments, 20,000 changes (components, test scenarios,
checklists, approvals, section edits and transition logs, attached tickets of their own
organisation), 100,000 action notices to provider staff, notices to customers and outage
communications to end-user contacts. Statuses follow the transitions of WORKFLOW.md: each
row's log is a path the state machines allow, ending in the row's status (a done ticket
was released by a change and accepted; a change in testing has its approvals, its window
agreed and its checklist done).

Unlike `seed_demo`, nothing goes through the services: a million tickets through them
would take hours. The rows are written with PostgreSQL's COPY (psycopg 3), one transaction
per slice of time, with primary keys assigned here so rows can point at each other. The
guarantee that the rows are ones the domain could have written is the test
(tests/benchmarks/test_seed_volume.py), which reads a small seed back through the models,
selectors and pages.

The demo accounts of `seed_demo` are included (agent, qa, peer, ops, admin; alice of Acme
Corp, the largest organisation; bob of Globex), every account with the password 'demo':
so, like `seed_demo`, it refuses to run with DEBUG off unless --force. It also refuses a
database that already has tickets unless --add.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.core.management.base import CommandError
from django.db import connection, models, transaction
from django.utils import timezone

from approvals.models import Approval
from notifications.models import Delivery, Notification
from tickets.models import (
    Change,
    ChangeComponent,
    ChecklistItem,
    ChecklistTemplateItem,
    Component,
    ComponentVersion,
    Contact,
    Environment,
    Organization,
    SectionEdit,
    TestScenario,
    Ticket,
    TicketComment,
    TransitionLog,
    User,
)

PASSWORD = "demo"  # noqa: S105 - documented benchmark accounts, refused with DEBUG off
DAY = timedelta(days=1)
HISTORY = 730 * DAY  # two years
SLICE_TICKETS = 5000  # tickets per transaction (and per slice of time)
RECENT = 60 * DAY  # older rows are mostly settled (done, cancelled, or left waiting)

# Per ticket: the proportions of the measurement.
CHANGES_PER_TICKET = 0.2
STAFF_NOTICES_PER_TICKET = 1.0
COMMENT_COUNTS = ([0, 1, 2, 3, 4, 5, 6, 8, 12], [10, 14, 20, 18, 14, 10, 7, 5, 2])  # mean ~3

T_WFS, T_WFC, T_TODO, T_PROG = "waiting_for_support", "waiting_for_customer", "to_do", "in_progress"
T_TBR, T_TEST, T_DONE, T_HOLD = "to_be_released", "in_testing", "done", "on_hold"
C_DRAFT, C_AWAIT, C_BIZ, C_TBR = (
    "draft",
    "awaiting_approval",
    "to_be_reviewed_by_business",
    ("to_be_released"),
)
C_TEST, C_RB, C_DONE, C_CANC = "in_testing", "rolled_back", "done", "cancelled"
EDITABLE = (C_DRAFT, C_AWAIT, C_BIZ, C_TBR)
PERFORMED = (C_TEST, C_RB, C_DONE)

# Statuses of changes by age: (statuses, weights).
CHANGE_RECENT = (
    [C_DRAFT, C_AWAIT, C_BIZ, C_TBR, C_TEST, C_RB, C_DONE, C_CANC],
    [14, 14, 8, 12, 12, 3, 30, 7],
)
CHANGE_OLD = ([C_DONE, C_CANC, C_TEST, C_RB, C_DRAFT], [84, 12, 1, 1, 2])
# Statuses of tickets no change holds (a ticket reaches DONE only through a change).
LOOSE_RECENT = ([T_WFS, T_WFC, T_TODO, T_PROG, T_TBR, T_HOLD], [22, 30, 16, 14, 6, 12])
LOOSE_OLD = ([T_WFC, T_HOLD, T_WFS, T_TODO], [72, 20, 4, 4])
# Share of bug, feature and change-request tickets that end up in a change.
ATTACHED_SHARE = 0.85

ORG_WORDS = [
    "Acme",
    "Northwind",
    "Contoso",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Tyrell",
    "Soylent",
    "Hooli",
    "Vandelay",
    "Cyberdyne",
    "Gringotts",
    "Monarch",
    "Oscorp",
    "Wonka",
    "Aperture",
    "Massive",
    "Dynamic",
    "Pied",
    "Piper",
    "Prestige",
    "Gekko",
    "Duff",
    "Sterling",
    "Cooper",
    "Rekall",
    "Veridian",
    "Nakatomi",
    "Oceanic",
    "Blue",
    "Sun",
    "Ollivander",
    "Zorg",
]
ORG_SUFFIXES = ["Ltd", "GmbH", "SA", "Inc", "BV", "plc", "AB", "Group", "Holdings", "Corp"]
ORG_ZONES = ["Europe/London", "Europe/Paris", "Europe/Berlin", "America/New_York",
             "America/Chicago", "Asia/Singapore", "Australia/Sydney", "UTC"]  # fmt: skip
COMPONENTS = [
    "Billing service", "Customer portal", "Reporting API", "Single sign-on",
    "Inventory sync", "Identity gateway", "Warehouse dashboard", "Payments gateway",
    "Search index", "Notification service", "Data warehouse", "Mobile app backend",
    "Order pipeline", "Document store", "Audit trail", "Pricing engine",
]  # fmt: skip
SUBJECTS = [
    "Invoice PDF", "Invoice e-mail", "Monthly report", "CSV export", "Login page",
    "Password reset", "Dashboard", "Order list", "Payment page", "Stock levels",
    "User roles", "API token", "Nightly sync", "Search", "Invoice totals", "Audit log",
    "Single sign-on", "Webhook delivery", "Data import", "Mobile app",
]  # fmt: skip
PROBLEMS = [
    "shows the wrong total", "times out", "is slow on first visit", "fails with an error",
    "shows stale data", "misses the PO number", "rounds VAT per line", "is not translated",
    "logs users out", "sends duplicates", "needs a new filter", "should support groups",
    "needs an upgrade", "ignores the time zone", "crashes on empty filters",
]  # fmt: skip
SENTENCES = [
    "Thanks for the report; could you tell us which browser you use?",
    "Chrome on Windows; it happens for every user in the finance team.",
    "Reproduced on UAT. The rounding happens before VAT is added.",
    "We deployed a fix to UAT, could you check the invoice again?",
    "Still happening this morning, see the attached screenshot.",
    "This is on our roadmap for the next release of the billing service.",
    "Can you send us the request id from the error page?",
    "Works for us now, thank you.",
    "Internal: the export job hits the 60 s proxy timeout.",
    "The monthly invoice run is on Friday, we need this before then.",
]


class Progress:
    """A progress bar on a terminal; one line per tenth of the work otherwise."""

    def __init__(self, out: Any, total: int, width: int = 30) -> None:
        self.out, self.total, self.width = out, max(total, 1), width
        self.tty = hasattr(out, "isatty") and out.isatty()
        self.started = time.monotonic()
        self.done = 0
        self.rows = 0
        self.last_tenth = -1

    def advance(self, n: int, rows: int) -> None:
        self.done += n
        self.rows += rows
        share = min(self.done / self.total, 1.0)
        elapsed = time.monotonic() - self.started
        line = (
            f"[{'#' * round(share * self.width):<{self.width}}] {share:4.0%} "
            f"{self.done:,}/{self.total:,} tickets, {self.rows:,} rows, {elapsed:.1f} s"
        )
        if self.tty:
            self.out.write("\r" + line, ending="")
            self.out.flush()
        elif int(share * 10) > self.last_tenth:
            self.last_tenth = int(share * 10)
            self.out.write(line)

    def finish(self) -> None:
        if self.tty:
            self.out.write("")


class Table:
    """Rows for one model, written with COPY. Rows give `fields` (attnames) in order; any
    other concrete field gets its model default, so a column added later with a default
    needs no change here."""

    def __init__(self, model: type[models.Model], fields: Sequence[str]) -> None:
        self.model = model
        meta = model._meta
        # Generated columns (the search documents) are PostgreSQL's to compute.
        written = [f for f in meta.concrete_fields if not f.generated]
        by_attname = {f.attname: f for f in written}
        unknown = [f for f in fields if f not in by_attname]
        if unknown:
            raise CommandError(f"{meta.label} has no fields {unknown}: update seed_volume.")
        rest = [f for f in written if f.attname not in fields]
        self.columns = [str(by_attname[f].column) for f in fields] + [str(f.column) for f in rest]
        self.defaults = tuple(_default(f) for f in rest)
        self.rows: list[tuple[Any, ...]] = []
        self.written = 0
        self.next_id = 1

    def add(self, row: tuple[Any, ...]) -> None:
        self.rows.append(row)

    def new_id(self) -> int:
        pk = self.next_id
        self.next_id += 1
        return pk

    def flush(self) -> int:
        if not self.rows:
            return 0
        table = connection.ops.quote_name(str(self.model._meta.db_table))
        columns = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        defaults = self.defaults
        with connection.cursor() as cursor:
            raw = cursor.cursor  # psycopg 3's own cursor, under Django's wrapper
            with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                write = copy.write_row
                for row in self.rows:
                    write(row + defaults)
        n = len(self.rows)
        self.written += n
        self.rows = []
        return n


def _default(field: models.Field) -> Any:
    value = field.get_default()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    if end <= start:
        return start
    return start + (end - start) * rng.random()


class Seeder:
    def __init__(self, n_tickets: int, *, seed: int, out: Any) -> None:
        self.n = n_tickets
        self.rng = random.Random(seed)
        self.out = out
        self.now = timezone.now().replace(microsecond=0)
        self.begin = self.now - HISTORY
        self.password = make_password(PASSWORD)  # one hash for every account: it is slow

        self.orgs = Table(Organization, ["id", "name", "slug", "timezone", "created"])
        self.users = Table(
            User,
            [
                "id", "password", "username", "first_name", "last_name", "email", "is_staff",
                "is_superuser", "is_active", "date_joined", "kind", "organization_id",
                "is_support_agent", "is_qa", "is_operations_manager", "timezone",
            ],
        )  # fmt: skip
        self.components = Table(Component, ["id", "organization_id", "name", "description"])
        self.versions = Table(
            ComponentVersion, ["id", "component_id", "environment_id", "version", "updated"]
        )
        self.contacts = Table(Contact, ["id", "organization_id", "name", "email", "created"])
        self.tickets = Table(
            Ticket,
            [
                "id", "organization_id", "title", "description", "type", "priority", "status",
                "held_from", "reporter_id", "assignee_id", "change_id", "created", "updated",
            ],
        )  # fmt: skip
        self.comments = Table(
            TicketComment, ["id", "ticket_id", "author_id", "body", "public", "created"]
        )
        self.changes = Table(
            Change,
            [
                "id", "organization_id", "environment_id", "performer", "author_id",
                "reporter_id", "source_ticket_id", "title", "summary", "outage_expected",
                "outage_duration_minutes", "impact", "changelog", "deployment_procedure",
                "rollback_procedure", "communication_audience", "communication_message",
                "communication_timing", "window_start", "window_end", "window_proposed_by_id",
                "window_proposed_at", "window_agreed_by_id", "window_agreed_at", "status",
                "resolution", "approval_round", "created", "updated",
            ],
        )  # fmt: skip
        self.change_components = Table(
            ChangeComponent, ["id", "change_id", "component_id", "target_version"]
        )
        self.scenarios = Table(
            TestScenario,
            ["id", "change_id", "position", "kind", "description", "result", "result_by_id",
             "result_at", "note"],
        )  # fmt: skip
        # Newer schemas name the four standard checks of §2.3 item 9 on each item.
        self.standard = "standard" in {f.name for f in ChecklistItem._meta.get_fields()}
        self.checklist = Table(
            ChecklistItem,
            ["id", "change_id", "position", "label", "state", "reason", "by_id", "at"]
            + (["standard"] if self.standard else []),
        )
        self.logs = Table(
            TransitionLog,
            ["id", "ticket_id", "change_id", "actor_id", "at", "transition", "source", "target",
             "comment"],
        )  # fmt: skip
        self.edits = Table(
            SectionEdit,
            ["id", "change_id", "actor_id", "at", "section", "field", "old_value", "new_value"],
        )
        self.approvals = Table(
            Approval,
            ["id", "change_id", "round", "role", "decision", "by_id", "at", "comment",
             "dismissed_at", "dismissed_reason"],
        )  # fmt: skip
        self.notifications = Table(
            Notification,
            ["id", "kind", "change_id", "ticket_id", "actor_id", "subject", "body_text",
             "body_html", "window_start", "window_end", "created"],
        )  # fmt: skip
        self.deliveries = Table(
            Delivery,
            ["id", "notification_id", "recipient", "user_id", "contact_id", "state", "attempts",
             "next_attempt_at", "sent_at", "read_at", "created"],
        )  # fmt: skip
        # Dependency order; within one transaction the foreign keys are checked at commit
        # (Django declares them DEFERRABLE INITIALLY DEFERRED), so tickets and changes may
        # point at each other.
        self.tables = [
            self.orgs, self.users, self.components, self.versions, self.contacts,
            self.changes, self.tickets, self.comments, self.change_components,
            self.scenarios, self.checklist, self.logs, self.edits, self.approvals,
            self.notifications, self.deliveries,
        ]  # fmt: skip
        # Newer schemas keep which tickets a change released (the close reads them).
        self.released: Table | None = None
        try:
            released = apps.get_model("tickets", "ReleasedTicket")
        except LookupError:
            pass
        else:
            self.released = Table(released, ["id", "change_id", "ticket_id", "at"])
            self.tables.append(self.released)
        for table in self.tables:
            top = table.model.objects.aggregate(m=models.Max("id"))["m"]  # type: ignore[attr-defined]
            table.next_id = (top or 0) + 1

        self.envs = {e.code: e.pk for e in Environment.objects.all()}
        if not {"uat", "production"} <= self.envs.keys():
            raise CommandError("The environments 'uat' and 'production' are missing: migrate.")
        labels = list(
            ChecklistTemplateItem.objects.filter(organization__isnull=True)
            .order_by("position", "id")
            .values_list("label", flat=True)
        )
        if self.standard:
            # The four standard checks, and any other item of the global template.
            labels = [*STANDARD_CHECKS.values()] + [
                label for label in labels if label.casefold() not in STANDARD_CODES
            ]
        self.checklist_labels = labels or list(STANDARD_CHECKS.values())

    # ------------------------------------------------------------------ the run

    def run(self) -> dict[str, int]:
        n_orgs = max(2, min(600, round(self.n / 300)))
        # Organisation sizes fall off like a power law: Acme Corp (alice's) is the largest.
        weights = [1 / (i + 1) ** 0.8 for i in range(n_orgs)]
        self.cum_weights = list(_accumulate(weights))
        total_w = self.cum_weights[-1]
        progress = Progress(self.out, self.n)
        first_ids = {table: table.next_id for table in self.tables}
        # PostgreSQL checks each foreign key of each row as it is written, locking the row
        # it points at: half the time of a seed. A superuser can skip those checks
        # (replica mode) and check every key written afterwards, one anti-join per key.
        bulk_keys = self._may_skip_key_checks()
        if bulk_keys:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = replica")
        try:
            with transaction.atomic():
                self._people(n_orgs, [w / total_w for w in weights])
                rows = sum(t.flush() for t in self.tables)
            progress.advance(0, rows)

            n_slices = max(1, math.ceil(self.n / SLICE_TICKETS))
            made = 0
            for s in range(n_slices):
                # Equal numbers of tickets per slice over a growing desk: later slices are
                # shorter, so more tickets arrive per day as time goes on.
                t0 = self.begin + HISTORY * math.sqrt(s / n_slices)
                t1 = self.begin + HISTORY * math.sqrt((s + 1) / n_slices)
                n_t = round(self.n * (s + 1) / n_slices) - made
                made += n_t
                with transaction.atomic():
                    self._slice(t0, t1, n_t)
                    rows = sum(t.flush() for t in self.tables)
                progress.advance(n_t, rows)
        finally:
            if bulk_keys:
                with connection.cursor() as cursor:
                    cursor.execute("RESET session_replication_role")
        progress.finish()
        if bulk_keys:
            self._check_keys(first_ids)
        self._finish()
        return {
            "organisations": self.orgs.written,
            "users": self.users.written,
            "tickets": self.tickets.written,
            "comments": self.comments.written,
            "changes": self.changes.written,
            "transition logs": self.logs.written,
            "approvals": self.approvals.written,
            "notifications": self.notifications.written,
            "deliveries": self.deliveries.written,
            "staff notices": self.staff_notices,
        }

    def _may_skip_key_checks(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            row = cursor.fetchone()
        return bool(row and row[0])

    def _check_keys(self, first_ids: dict[Table, int]) -> None:
        """Every foreign key of every row written points at an existing row, as the
        checks skipped during the writes would have ensured."""
        q = connection.ops.quote_name
        broken = []
        with connection.cursor() as cursor:
            for table, first in first_ids.items():
                meta = table.model._meta
                for f in meta.concrete_fields:
                    if not isinstance(f, models.ForeignKey):
                        continue
                    target = f.target_field
                    cursor.execute(
                        f"SELECT count(*) FROM {q(meta.db_table)} c WHERE c.id >= %s "  # noqa: S608
                        f"AND c.{q(str(f.column))} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
                        f"{q(target.model._meta.db_table)} p WHERE p.{q(str(target.column))} = "
                        f"c.{q(str(f.column))})",
                        [first],
                    )
                    orphans = cursor.fetchone()[0]  # type: ignore[index]
                    if orphans:
                        broken.append(f"{meta.label}.{f.name}: {orphans}")
        if broken:
            raise CommandError(
                "seed_volume wrote rows pointing at nothing (a bug; drop this database): "
                + "; ".join(broken)
            )

    def _finish(self) -> None:
        """Move each table's id sequence past the ids written, and refresh the planner's
        statistics (and, outside a transaction, the visibility map) as autovacuum would
        have on a desk that grew over two years."""
        with connection.cursor() as cursor:
            for table in self.tables:
                name = table.model._meta.db_table
                top = f"SELECT COALESCE(MAX(id), 1) FROM {connection.ops.quote_name(name)}"  # noqa: S608
                cursor.execute(f"SELECT setval(pg_get_serial_sequence(%s, 'id'), ({top}))", [name])
            names = ", ".join(
                connection.ops.quote_name(t.model._meta.db_table) for t in self.tables
            )
            if connection.in_atomic_block:
                cursor.execute(f"ANALYZE {names}")
            else:
                cursor.execute(f"VACUUM (ANALYZE) {names}")

    # ------------------------------------------------------------------ people

    def _people(self, n_orgs: int, shares: list[float]) -> None:
        rng, now = self.rng, self.now
        self.org_ids: list[int] = []
        self.org_users: list[list[tuple[int, str]]] = []  # (id, email) per organisation
        self.org_components: list[list[int]] = []
        self.org_contacts: list[list[tuple[int, str]]] = []
        self.org_zone: list[str] = []
        self.component_names: dict[int, str] = {}
        known = {u.username: u for u in User.objects.filter(username__in=DEMO_USERNAMES)}

        def user(username: str, first: str, last: str, org: int | None, **roles: bool) -> int:
            if username in known:
                return known[username].pk
            pk = self.users.new_id()
            email = (
                ""
                if rng.random() < 0.08 and username not in DEMO_USERNAMES
                else (f"{username}@{'provider.example' if org is None else 'customer.example'}")
            )
            self.users.add(
                (
                    pk, self.password, username, first, last, email,
                    roles.get("is_staff", False), roles.get("is_superuser", False), True,
                    self.begin - 30 * DAY, "provider" if org is None else "customer", org,
                    roles.get("is_support_agent", False), roles.get("is_qa", False),
                    roles.get("is_operations_manager", False), "UTC",
                )
            )  # fmt: skip
            self.emails[pk] = email
            return pk

        self.emails: dict[int, str] = {u.pk: u.email for u in known.values()}
        # Provider staff: about half support agents; QA and operations managers.
        n_staff = max(8, min(300, 20 + self.n // 5000))
        self.agents = [user("agent", "Sam", "Rivera", None, is_support_agent=True)]
        self.qas = [user("qa", "Quinn", "Okafor", None, is_qa=True)]
        self.engineers = [user("peer", "Pat", "Lindqvist", None)]
        self.opses = [user("ops", "Olivia", "Brandt", None, is_operations_manager=True)]
        user("admin", "Ada", "Admin", None, is_staff=True, is_superuser=True)
        for i in range(n_staff - 4):
            kind = i % 10
            name = f"staff{self.users.next_id}"
            if kind < 5:
                self.agents.append(user(name, "Agent", str(i), None, is_support_agent=True))
            elif kind < 7:
                self.qas.append(user(name, "QA", str(i), None, is_qa=True))
            elif kind < 8:
                self.opses.append(user(name, "Ops", str(i), None, is_operations_manager=True))
            else:
                self.engineers.append(user(name, "Engineer", str(i), None))
        self.staff = self.agents + self.qas + self.engineers + self.opses

        demo_orgs = {o.slug: o for o in Organization.objects.filter(slug__in=["acme", "globex"])}
        for i in range(n_orgs):
            zone = rng.choice(ORG_ZONES)
            if i < 2 and ("acme", "globex")[i] in demo_orgs:
                org = demo_orgs[("acme", "globex")[i]].pk
            else:
                org = self.orgs.new_id()
                if i < 2 and not demo_orgs:
                    name, slug = ("Acme Corp", "acme") if i == 0 else ("Globex", "globex")
                else:
                    word = ORG_WORDS[i % len(ORG_WORDS)]
                    name = f"{word} {ORG_SUFFIXES[i % len(ORG_SUFFIXES)]} {org}"
                    slug = f"{word.lower()}-{org}"
                created = self.begin - rng.randint(1, 365) * DAY
                self.orgs.add((org, name, slug, zone, created))
            self.org_ids.append(org)
            self.org_zone.append(zone)
            expected = shares[i] * self.n
            users: list[tuple[int, str]] = []
            if i < 2:
                demo = ("alice", "Alice", "Martin") if i == 0 else ("bob", "Bob", "Kowalski")
                pk = user(*demo, org)
                users.append((pk, self.emails[pk]))
            wanted = max(1, min(40, round(expected / 100)))
            for _ in range(max(wanted - len(users), 1 if i < 2 else 0)):
                pk = user(f"customer{self.users.next_id}", "Customer", str(org), org)
                users.append((pk, self.emails[pk]))
            self.org_users.append(users)
            # A reused demo organisation keeps its components and gets a few more.
            existing = dict(Component.objects.filter(organization_id=org).values_list("pk", "name"))
            self.component_names.update(existing)
            comps = list(existing)
            for cname in rng.sample(COMPONENTS, rng.randint(3, 10)):
                if cname in existing.values():
                    continue
                cid = self.components.new_id()
                self.component_names[cid] = cname
                self.components.add((cid, org, cname, ""))
                comps.append(cid)
                major, minor = rng.randint(1, 6), rng.randint(0, 20)
                for code in ("uat", "production"):
                    self.versions.add(
                        (self.versions.new_id(), cid, self.envs[code], f"{major}.{minor}.0", now)
                    )
            self.org_components.append(comps)
            contacts = []
            for k in range(rng.randint(5, 5 + min(55, round(expected / 200)))):
                cid = self.contacts.new_id()
                email = f"user{k}.{cid}@org{org}.example"
                self.contacts.add((cid, org, f"End user {k}", email, self.begin))
                contacts.append((cid, email))
            self.org_contacts.append(contacts)
        self.staff_notices = 0

    # ------------------------------------------------------------------ one slice of time

    def _slice(self, t0: datetime, t1: datetime, n_t: int) -> None:
        rng = self.rng
        n_orgs = len(self.org_ids)
        org_idx = range(n_orgs)
        n_c = max(1 if self.n >= 5 else 0, round(n_t * CHANGES_PER_TICKET))

        # Tickets first (not yet written): [org, created, type].
        ticket_orgs = rng.choices(org_idx, cum_weights=self.cum_weights, k=n_t)
        tickets: list[dict[str, Any]] = []
        for o in ticket_orgs:
            r = rng.random()
            type_ = (
                "bug"
                if r < 0.35
                else "question"
                if r < 0.70
                else ("feature" if r < 0.90 else "change_request")
            )
            tickets.append(
                {
                    "org": o,
                    "created": _between(rng, t0, t1),
                    "type": type_,
                    "title": f"{rng.choice(SUBJECTS)} {rng.choice(PROBLEMS)}",
                    "change": None,
                }
            )
        pools: dict[int, list[dict[str, Any]]] = {}
        for t in tickets:
            if t["type"] != "question" and rng.random() < ATTACHED_SHARE:
                pools.setdefault(t["org"], []).append(t)

        changes: list[dict[str, Any]] = []
        change_orgs = rng.choices(org_idx, cum_weights=self.cum_weights, k=n_c)
        for o in change_orgs:
            created = _between(rng, t0, t1)
            performer = "customer" if rng.random() < 0.15 else "provider"
            statuses, weights = CHANGE_RECENT if self.now - created < RECENT else CHANGE_OLD
            status = rng.choices(statuses, weights)[0]
            if status == C_BIZ and performer == "customer":
                status = C_TBR
            change = {"org": o, "created": created, "performer": performer, "status": status}
            attached = []
            pool = pools.get(o, [])
            if status != C_CANC and pool:
                want = rng.choices([0, 1, 2, 3, 4, 6], [10, 20, 25, 20, 15, 10])[0]
                # The change request a change was raised from comes along first.
                pool.sort(key=lambda t: t["type"] != "change_request")
                attached, pools[o] = pool[:want], pool[want:]
            change["tickets"] = attached
            for t in attached:
                t["change"] = change
                t["created"] = min(t["created"], created - timedelta(hours=rng.randint(2, 400)))
            change["source"] = next((t for t in attached if t["type"] == "change_request"), None)
            changes.append(change)

        # Ids in order of creation, across organisations, as a live desk would give them.
        tickets.sort(key=lambda t: t["created"])
        for t in tickets:
            t["id"] = self.tickets.new_id()
        changes.sort(key=lambda c: c["created"])
        for c in changes:
            c["id"] = self.changes.new_id()
        for c in changes:
            self._change(c)
        for t in tickets:
            self._ticket(t)

    # ------------------------------------------------------------------ changes

    def _change(self, c: dict[str, Any]) -> None:
        rng, now = self.rng, self.now
        o, pk, status, performer = c["org"], c["id"], c["status"], c["performer"]
        customers = self.org_users[o]
        customer = rng.choice(customers)[0]
        by_customer = performer == "customer" and rng.random() < 0.3
        author = customer if by_customer else rng.choice(self.agents)
        reporter = author
        created = c["created"]
        outage = rng.random() < 0.25
        # When things happened: a change spends days to weeks on its way.
        clock = [created]

        def later(hours: float = 24.0) -> datetime:
            clock[0] = min(now, clock[0] + timedelta(hours=rng.expovariate(1 / hours)))
            return clock[0]

        def log(name: str, source: str, target: str, actor: int, comment: str = "") -> datetime:
            at = later()
            self.logs.add((self.logs.new_id(), None, pk, actor, at, name, source, target, comment))
            return at

        comps = rng.sample(
            self.org_components[o], min(len(self.org_components[o]), rng.randint(1, 3))
        )
        title_comp = self.component_names.get(comps[0], "Platform") if comps else "Platform"
        version = f"{rng.randint(1, 6)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
        title = f"{title_comp} {version}: {rng.choice(PROBLEMS)}"
        tickets = c["tickets"]
        complete = not (status == C_DRAFT and rng.random() < 0.2)
        changelog = (
            "\n".join(f"- SUP-{t['id']} {t['title']}" for t in tickets) or f"Changes:\n- {title}"
        )

        # Sections 2, 4, 5, 8 and 9 as the editor writes them.
        for cid in comps:
            self.change_components.add((self.change_components.new_id(), pk, cid, version))
        edits = [(2, "components", [], comps), (5, "changelog", "", changelog)]
        if tickets:
            edits.append((4, "tickets", [], sorted(t["id"] for t in tickets)))
        for section, field, old, new in edits:
            self.edits.add(
                (self.edits.new_id(), pk, author, later(0.05), section, field,
                 json.dumps(old), json.dumps(new))
            )  # fmt: skip
        scenario_ids = []
        if complete:
            for position, kind in enumerate(
                ["progression"] * rng.randint(1, 3) + ["regression"] * rng.randint(1, 2), start=1
            ):
                scenario_ids.append((self.scenarios.new_id(), position, kind))

        # The path through the state machine to `status`.
        approval_round = 1
        window = None
        window_proposed = window_agreed = None
        resolution = ""
        performer_user = customer if performer == "customer" else rng.choice(self.agents)
        # Drafts: one in ten was submitted and sent back; others were submitted.
        if status != C_DRAFT or rng.random() < 0.1:
            at = log("submit", C_DRAFT, C_AWAIT, author)
            self._notice(
                pk, None, "needs your approval", title, self._approvers(author), author, at
            )
            if rng.random() < 0.1 or status == C_DRAFT:
                # A rejected first round: an approval, the rejection, a new round.
                qa = rng.choice(self.qas)
                at = log("approve", C_AWAIT, C_AWAIT, qa, "Test evidence attached.")
                rejecter = rng.choice([p for p in self.engineers + self.agents if p != author])
                at2 = log(
                    "reject",
                    C_AWAIT,
                    C_DRAFT,
                    rejecter,
                    "The rollback procedure misses the database restore.",
                )
                self.approvals.add(
                    (self.approvals.new_id(), pk, 1, "qa", "approved", qa, at, "", at2,
                     "Rejected by the peer reviewer")
                )  # fmt: skip
                self.approvals.add(
                    (self.approvals.new_id(), pk, 1, "peer", "rejected", rejecter, at2,
                     "The rollback procedure misses the database restore.", at2,
                     "Rejected by the peer reviewer")
                )  # fmt: skip
                self._notice(pk, None, "was rejected", title, [author], rejecter, at2)
                approval_round = 2
                if status != C_DRAFT:
                    log("submit", C_DRAFT, C_AWAIT, author)
            if status == C_CANC:
                log(
                    "cancel",
                    C_AWAIT,
                    C_CANC,
                    rng.choice([author, customer]),
                    "Not needed any more.",
                )
            elif status != C_DRAFT:
                full = status != C_AWAIT
                given = 3 if full else rng.randint(0, 2)
                roles = [
                    ("qa", self.qas),
                    ("peer", self.engineers + self.agents),
                    ("operations", self.opses),
                ]
                used = {author}
                for i, (role, people) in enumerate(roles[:given]):
                    who = rng.choice(
                        [p for p in people if p not in used]
                        or [p for p in self.staff if p not in used]
                    )
                    used.add(who)
                    last = i == 2
                    target = C_AWAIT if not last else (C_BIZ if performer == "provider" else C_TBR)
                    at = log("approve", C_AWAIT, target, who, "Looks good.")
                    self.approvals.add(
                        (self.approvals.new_id(), pk, approval_round, role, "approved", who, at,
                         "Looks good.", None, "")
                    )  # fmt: skip
                if full and performer == "provider":
                    self._notice(pk, None, "needs your Business review", title,
                                 [u for u, _ in customers[:3]], who, clock[0])  # fmt: skip
                    if status != C_BIZ:
                        at = log(
                            "business_approve",
                            C_BIZ,
                            C_TBR,
                            customer,
                            "Approved for the agreed date.",
                        )
                        self.approvals.add(
                            (self.approvals.new_id(), pk, approval_round, "business", "approved",
                             customer, at, "", None, "")
                        )  # fmt: skip
                if full and status != C_BIZ:
                    if performer == "customer":
                        reporter = customer
                        self._notice(pk, None, "is approved and ready for you to release", title,
                                     [u for u, _ in customers[:3]], None, clock[0])  # fmt: skip
                    else:
                        self._notice(pk, None, "is approved and ready to release", title,
                                     [author], None, clock[0])  # fmt: skip
                    # The window: proposed, and agreed unless still waiting.
                    if status in PERFORMED or rng.random() < 0.7:
                        window_proposed = (rng.choice(self.agents), later())
                        if status in PERFORMED or rng.random() < 0.6:
                            at = log("agree_window", C_TBR, C_TBR, customer, "Fine for us.")
                            window_agreed = (customer, at)
                        # Performed changes had their window; the others mostly have one
                        # to come, this week or in the next three.
                        start = later(72).replace(minute=0, second=0)
                        if status in EDITABLE and rng.random() < 0.6:
                            start = (now + timedelta(hours=rng.randint(2, 24 * 21))).replace(
                                minute=0, second=0
                            )
                        window = (start, start + timedelta(hours=rng.choice([1, 2, 3])))
                        if window_agreed and outage:
                            self._outage(pk, o, "announcement", title, window, window_agreed[1])
                    if status in PERFORMED:
                        at = log(
                            "perform",
                            C_TBR,
                            C_TEST,
                            performer_user,
                            "Deployed following the procedure.",
                        )
                        perform_at = at
                        self._notice(pk, None, "is ready for you to test", title,
                                     [u for u, _ in customers[:3]], performer_user, at)  # fmt: skip
                        if outage:
                            self._outage(pk, o, "completion", title, window, at)
                        rolled = status == C_RB or (status == C_DONE and rng.random() < 0.08)
                        if rolled:
                            log(
                                "roll_back",
                                C_TEST,
                                C_RB,
                                rng.choice(self.agents),
                                "Exports timed out; rolled back.",
                            )
                        if status == C_DONE:
                            resolution = (
                                "rolled_back"
                                if rolled
                                else ("follow_up_release" if rng.random() < 0.05 else "successful")
                            )
                            log("close", C_RB if rolled else C_TEST, C_DONE, customer, "Thank you.")
                        c["resolution"] = resolution
                        c["perform_at"] = perform_at

        updated = clock[0]
        c["updated"] = updated
        c["customer"] = customer
        c["performer_user"] = performer_user

        # Scenarios and the checklist, as far as the change got.
        for sid, position, kind in scenario_ids:
            result, r_by, r_at = "not_run", None, None
            if status == C_DONE and resolution == "successful":
                result, r_by, r_at = "passed", customer, updated
            elif status in (C_TEST, C_RB, C_DONE):
                result = rng.choices(["not_run", "passed", "failed"], [3, 5, 1])[0]
                if result != "not_run":
                    r_by, r_at = customer, updated
            self.scenarios.add(
                (sid, pk, position, kind, f"{'Check' if kind == 'progression' else 'Still'}: "
                 f"{rng.choice(SUBJECTS).lower()} works after the release.", result, r_by, r_at, "")
            )  # fmt: skip
        for position, label in enumerate(self.checklist_labels, start=1):
            state, reason = "pending", ""
            c_by: int | None = None
            c_at: datetime | None = None
            performed = status in PERFORMED
            if performed or (status == C_TBR and rng.random() < 0.5):
                state = "not_applicable" if "Performance" in label else "done"
                reason = "No change to load or data volume." if state == "not_applicable" else ""
                c_by, c_at = performer_user, updated
            row: tuple[Any, ...] = (
                self.checklist.new_id(),
                pk,
                position,
                label,
                state,
                reason,
                c_by,
                c_at,
            )
            if self.standard:
                row += (STANDARD_CODES.get(label.casefold(), ""),)
            self.checklist.add(row)

        source = c["source"]
        self.changes.add(
            (
                pk, self.org_ids[o], self.envs["production" if rng.random() < 0.4 else "uat"],
                performer, author, reporter, source["id"] if source else None, title,
                f"Release {title_comp} {version}." if complete or rng.random() < 0.5 else "",
                outage if complete else None,
                rng.choice([15, 30, 45, 60, 120]) if outage else None,
                ("A short outage while the new version starts." if outage else "No outage.")
                if complete else "",
                changelog,
                "1. Announce the start.\n2. Deploy the new image.\n3. Run the migrations.\n"
                "4. Smoke-test the login and the invoice list." if complete else "",
                "1. Redeploy the previous image.\n2. Restore the database snapshot.\n"
                "3. Confirm the smoke tests." if complete else "",
                "All end-user contacts of the organisation" if outage else "",
                "The service will be unavailable during the maintenance window." if outage else "",
                "When the window is agreed, a day before, and on completion" if outage else "",
                window[0] if window else None, window[1] if window else None,
                window_proposed[0] if window_proposed else None,
                window_proposed[1] if window_proposed else None,
                window_agreed[0] if window_agreed else None,
                window_agreed[1] if window_agreed else None,
                status, resolution, approval_round, created, updated,
            )
        )  # fmt: skip

    def _approvers(self, author: int) -> list[int]:
        # Who can give one of the approvals; the notice goes to one QA, one operations
        # manager and one peer (the desk's rota), not to every engineer.
        rng = self.rng
        peers = [p for p in self.engineers + self.agents if p != author]
        return [rng.choice(self.qas), rng.choice(self.opses), rng.choice(peers or self.staff)]

    # ------------------------------------------------------------------ tickets

    def _ticket(self, t: dict[str, Any]) -> None:
        rng, now = self.rng, self.now
        o, pk, created = t["org"], t["id"], t["created"]
        customers = self.org_users[o]
        reporter = rng.choice(customers)[0] if rng.random() < 0.9 else rng.choice(self.agents)
        reporter_is_customer = reporter not in self.staff
        change = t["change"]
        title = t["title"]
        priority = rng.choices(["low", "normal", "high", "urgent"], [20, 55, 20, 5])[0]
        assignee = rng.choice(self.agents) if rng.random() < 0.3 else None
        held_from = ""

        # The path to the ticket's status: transitions (name, source, target, actor side).
        path: list[tuple[str, str, str]] = []
        if rng.random() < 0.5:
            path += [("reply", T_WFS, T_WFC), ("customer_reply", T_WFC, T_WFS)]
        if change is not None:
            path += [("needs_work", T_WFS, T_TODO), ("start", T_TODO, T_PROG),
                     ("ready_for_release", T_PROG, T_TBR), ("attach", T_TBR, T_TBR)]  # fmt: skip
            cstatus = change["status"]
            if cstatus in PERFORMED:
                path.append(("release", T_TBR, T_TEST))
                if cstatus == C_DONE and change.get("resolution") == "successful":
                    path.append(("accept", T_TEST, T_DONE))
                elif cstatus == C_DONE:
                    path.append(("send_back", T_TEST, T_WFS))
                elif rng.random() < 0.4:
                    path.append(("accept", T_TEST, T_DONE))
            status = path[-1][2]
        else:
            statuses, weights = LOOSE_RECENT if now - created < RECENT else LOOSE_OLD
            status = rng.choices(statuses, weights)[0]
            target = status
            if status == T_HOLD:
                target = rng.choice([T_WFS, T_WFC, T_TODO, T_PROG])
                held_from = target
            steps = {
                T_WFS: [],
                T_WFC: [("reply", T_WFS, T_WFC)],
                T_TODO: [("needs_work", T_WFS, T_TODO)],
                T_PROG: [("needs_work", T_WFS, T_TODO), ("start", T_TODO, T_PROG)],
                T_TBR: [
                    ("needs_work", T_WFS, T_TODO),
                    ("start", T_TODO, T_PROG),
                    ("ready_for_release", T_PROG, T_TBR),
                ],
            }[target]
            path += steps
            if status == T_HOLD:
                path.append(("hold", target, T_HOLD))
        if any(name == "start" for name, _, _ in path):
            assignee = assignee or rng.choice(self.agents)

        # When: a ticket in a change moves with it; the others settle within weeks.
        if change is not None:
            end = change.get("perform_at") or change["updated"]
            if path[-1][0] in ("accept", "send_back"):
                end = min(now, change["updated"] + timedelta(hours=rng.randint(1, 72)))
        elif now - created < RECENT:
            end = _between(rng, created, now)
        else:
            end = min(now, created + timedelta(days=rng.expovariate(1 / 10)))
        end = max(end, created)
        times = sorted(_between(rng, created, end) for _ in path)
        staff_actor = assignee or rng.choice(self.agents)
        customer = reporter if reporter_is_customer else customers[0][0]
        for (name, source, target), at in zip(path, times, strict=True):
            if name in ("customer_reply", "accept", "send_back"):
                actor, comment = customer, ""
            elif name == "release":
                actor, comment = change["performer_user"], f"CHG-{change['id']} performed."
            elif name == "hold":
                actor, comment = rng.choice([customer, staff_actor]), "Deprioritised for now."
            else:
                actor, comment = staff_actor, ""
            self.logs.add((self.logs.new_id(), pk, None, actor, at, name, source, target, comment))
            if name == "release" and self.released is not None:
                self.released.add((self.released.new_id(), change["id"], pk, at))
            if name in ("customer_reply", "send_back") and assignee:
                self._notice(None, pk, "waits on support", title, [assignee], customer, at)
            elif name in ("reply", "release") and reporter_is_customer:
                headline = "waits for your reply" if name == "reply" else "is ready for you to test"
                self._notice(None, pk, headline, title, [reporter], actor, at)

        # Comments between creation and the last move, from both sides.
        n_comments = rng.choices(*COMMENT_COUNTS)[0]
        last = end
        for at in sorted(_between(rng, created, end) for _ in range(n_comments)):
            if rng.random() < 0.5:
                author, public = customer, True
            else:
                author, public = staff_actor, rng.random() < 0.8
            body = rng.choice(SENTENCES)
            if rng.random() < 0.1:
                body += " It concerns invoice INV-" + str(rng.randint(10000, 99999)) + "."
            self.comments.add((self.comments.new_id(), pk, author, body, public, at))
            last = max(last, at)

        # Staff notices beyond those of the path: the desk's reminders about its queue.
        if assignee and rng.random() < self._extra_notice_rate:
            self._notice(None, pk, "waits on support", title, [assignee], customer, last)

        description = f"{title}. {rng.choice(SENTENCES)}" + (
            " Seen on invoice INV-" + str(rng.randint(10000, 99999)) + "."
            if rng.random() < 0.15
            else ""
        )
        self.tickets.add(
            (
                pk, self.org_ids[o], title, description, t["type"], priority, status, held_from,
                reporter, assignee, change["id"] if change else None, created, last,
            )
        )  # fmt: skip

    @property
    def _extra_notice_rate(self) -> float:
        # Keeps the staff notices near STAFF_NOTICES_PER_TICKET whatever the paths gave.
        written = self.tickets.written + len(self.tickets.rows) + 1
        behind = STAFF_NOTICES_PER_TICKET * written - self.staff_notices
        return 1.0 if behind > 0 else 0.0

    # ------------------------------------------------------------------ notices

    def _notice(
        self,
        change: int | None,
        ticket: int | None,
        headline: str,
        title: str,
        users: Iterable[int],
        actor: int | None,
        at: datetime,
    ) -> None:
        recipients = [u for u in dict.fromkeys(users) if u != actor]
        if not recipients:
            return
        nid = self.notifications.new_id()
        key = f"CHG-{change}" if change else f"SUP-{ticket}"
        subject = f"{key} {headline}: {title}"[:300]
        text = f"{key} {title}\n\n{headline.capitalize()}.\n"
        self.notifications.add(
            (nid, "action", change, ticket, actor, subject, text, f"<p>{text}</p>", None, None, at)
        )
        read_at = at + timedelta(hours=self.rng.randint(1, 48)) if self.now - at > 3 * DAY else None
        for user in recipients:
            email = self.emails.get(user, "")
            state, sent = ("sent", at) if email else ("skipped", None)
            self.deliveries.add(
                (self.deliveries.new_id(), nid, email, user, None, state, 1 if email else 0,
                 at, sent, read_at, at)
            )  # fmt: skip
            if user in self._staff_set:
                self.staff_notices += 1

    @property
    def _staff_set(self) -> set[int]:
        if not hasattr(self, "_staff_cache"):
            self._staff_cache = set(self.staff)
        return self._staff_cache

    def _outage(
        self, change: int, o: int, kind: str, title: str, window: Any, at: datetime
    ) -> None:
        nid = self.notifications.new_id()
        subject = f"{'Planned maintenance' if kind == 'announcement' else 'Completed'}: {title}"
        text = f"{subject}\n\nThe service will be unavailable during the maintenance window.\n"
        self.notifications.add(
            (nid, kind, change, None, None, subject, text, f"<p>{text}</p>",
             window[0] if window else None, window[1] if window else None, at)
        )  # fmt: skip
        for cid, email in self.org_contacts[o]:
            self.deliveries.add(
                (self.deliveries.new_id(), nid, email, None, cid, "sent", 1, at, at, None, at)
            )


DEMO_USERNAMES = ("agent", "qa", "peer", "ops", "admin", "alice", "bob")
STANDARD_CHECKS = {
    "unit": "Unit tests",
    "regression": "Regression testing",
    "progression": "Progression testing",
    "performance": "Performance testing",
}
STANDARD_CODES = {label.casefold(): code for code, label in STANDARD_CHECKS.items()}


def _accumulate(values: Iterable[float]) -> Iterable[float]:
    total = 0.0
    for v in values:
        total += v
        yield total


if __name__ == "__main__":  # pragma: no cover
    sys.exit("Run it through manage.py: manage.py seed_volume --tickets 100000")
