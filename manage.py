#!/usr/bin/env python
"""Django's command-line utility for SmallImage."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    # site/ holds the settings but cannot be a package (the standard library
    # owns the name "site"), so it goes on sys.path instead.
    sys.path.insert(0, str(Path(__file__).resolve().parent / "site"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
