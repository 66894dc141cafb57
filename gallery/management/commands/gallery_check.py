from __future__ import annotations

from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from gallery.integrity import integrity_check, integrity_repair


class Command(BaseCommand):
    help = "Report where the database and the file storage disagree; --repair fixes it."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--repair", action="store_true", help="Fix what is found.")
        parser.add_argument(
            "--grace",
            type=int,
            default=3600,
            metavar="SECONDS",
            help="Leave alone what changed this recently (uploads in flight). Default 3600.",
        )

    def handle(self, *args: Any, repair: bool, grace: int, **options: Any) -> None:
        report = integrity_check(grace=timedelta(seconds=grace))
        for line in report.lines():
            self.stdout.write(line)
        if not report.problems:
            self.stdout.write(self.style.SUCCESS("gallery_check: clean"))
            return
        if not repair:
            raise CommandError(
                f"gallery_check: {report.problems} problem(s); run with --repair to fix them"
            )
        for line in integrity_repair(report):
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"gallery_check: repaired {report.problems}"))
