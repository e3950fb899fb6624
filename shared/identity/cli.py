"""Operator commands: `python -m shared.identity.cli create-admin --email X`.

Creates (or promotes) the admin and prints a new admin API key once: it is stored only as a keyed hash, so it
cannot be shown again. Runs wherever DATABASE_URL (or the RDS secret settings) point.
"""

from __future__ import annotations

import argparse
import sys

from shared.identity.admin import ensure_admin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.identity.cli", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-admin", help="create or promote an admin and print a new API key once")
    create.add_argument("--email", required=True)
    args = parser.parse_args(argv)

    if args.command == "create-admin":
        key = ensure_admin(args.email.strip())
        sys.stdout.write(f"Admin {args.email.strip()} ready. API key (shown once, store it now):\n{key}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
