"""`manage.py seed_volume --tickets 100000`: a desk at volume, for benchmarks (issue 13).

The seeder itself is `benchmarks/volume.py` (its docstring says what it writes and how);
this command is how it is run, from a checkout of the repository. Like `seed_demo` it
refuses to run with DEBUG off unless --force (every account's password is 'demo'), and it
refuses a database that already has tickets unless --add.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from tickets.models import Change, Organization, Ticket


class Command(BaseCommand):
    help = (
        "Bulk-load a desk's volume for benchmarks: N tickets over two years with comments, "
        "changes, approvals, logs and notices in the issue's proportions (COPY, fast)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, default=100_000, help="Default 100000.")
        parser.add_argument("--seed", type=int, default=13, help="Random seed (default 13).")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off (accounts with the password 'demo': never in "
            "production).",
        )
        parser.add_argument(
            "--add",
            action="store_true",
            help="Add to a database that already has tickets (demo accounts are reused).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_volume creates accounts with the password 'demo'; it refuses to run "
                "with DEBUG off. Pass --force if this really is a benchmark database."
            )
        if connection.vendor != "postgresql":
            raise CommandError("seed_volume writes with PostgreSQL's COPY; use PostgreSQL.")
        n = options["tickets"]
        if n < 1:
            raise CommandError("--tickets must be at least 1.")
        if not options["add"] and (
            Ticket.objects.exists() or Change.objects.exists() or Organization.objects.exists()
        ):
            raise CommandError(
                "This database already has organisations, tickets or changes; seed_volume "
                "expects an empty (migrated) one. Pass --add to add to what is there."
            )
        started = time.monotonic()
        # From a checkout's benchmarks/ folder: benchmark tooling, not the installed app.
        from benchmarks.volume import Seeder

        seeder = Seeder(n, seed=options["seed"], out=self.stdout)
        counts = seeder.run()
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{label} {count:,}" for label, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Seeded in {elapsed:.1f} s: {summary}."))
        self.stdout.write("Log in as agent, qa, peer, ops, alice or bob; password: demo.")
