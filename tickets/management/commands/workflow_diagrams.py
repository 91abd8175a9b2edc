from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tickets.diagrams import render_into


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = "Regenerate the workflow diagrams and tables in README.md from the state machines."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Fail if README.md is stale.")
        parser.add_argument("--readme", default=str(Path(settings.BASE_DIR) / "README.md"))

    def handle(self, *args: Any, check: bool, readme: str, **options: Any) -> None:
        path = Path(readme)
        current = path.read_text(encoding="utf-8")
        try:
            fresh = render_into(current)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if check:
            if fresh != current:
                raise CommandError(
                    "README.md's workflow diagrams are stale: run `manage.py workflow_diagrams`."
                )
            self.stdout.write("README.md's workflow diagrams are up to date.")
            return
        path.write_text(fresh, encoding="utf-8")
        self.stdout.write(f"Wrote the workflow diagrams into {path}.")
