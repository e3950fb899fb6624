"""`python -m local` (`make dev`): run Conveyor on a laptop until Ctrl-C or SIGTERM, then stop everything cleanly."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from local.postgres import AlreadyRunningError
from local.stack import DEFAULT_STATE_DIR, Stack, StackConfig, StackInfo

RUNNING_LINE = "Conveyor is running"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface the API listens on (default %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="API port (default %(default)s)")
    parser.add_argument("--tick", type=float, default=60.0, metavar="SECONDS", help="scheduler interval (default 60)")
    parser.add_argument("--no-scheduler", action="store_true", help="do not call the scheduler function")
    parser.add_argument("--aws-endpoint", metavar="URL", help="use this AWS emulator instead of starting moto")
    parser.add_argument(
        "--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="embedded Postgres and the admin key (default .local)"
    )
    args = parser.parse_args(argv)
    if args.tick <= 0:
        parser.error("--tick must be positive")
    return args


def configure_logging() -> None:
    """Our lines to stderr, short; the handlers' Powertools JSON goes to stdout as in Lambda."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    quiet = ("moto", "werkzeug", "botocore", "boto3", "urllib3", "s3transfer", "pgserver", "alembic.runtime.plugins")
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)


def banner(info: StackInfo) -> str:
    """Start-up lines as `Label: value`, parseable by the e2e fixture; the running line comes last."""
    rows = [
        ("API", info.api_url),
        ("Docs", f"{info.api_url}/v1/docs"),
        ("OpenAPI", f"{info.api_url}/v1/openapi.json"),
        ("AWS endpoint", info.aws_endpoint),
        ("Database", info.database),
        ("Media bucket", info.bucket),
        ("Jobs queue", info.jobs_queue_url),
        ("Media queue", info.media_queue_url),
        ("Admin API key", info.admin_key),
    ]
    lines = [f"  {label + ':':<15}{value}" for label, value in rows]
    return "\n".join(["", *lines, "", f"{RUNNING_LINE} (Ctrl-C to stop)"])


WAKE_S = 0.2  # how often the main thread looks for a signal delivered to another thread


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # prompt output through pipes and tee
    # The signals received. A list, not a threading.Event: a handler runs in the main thread between bytecodes, maybe
    # while that thread is inside Event.wait() holding the Event's (non-reentrant) lock, and set() would deadlock.
    signalled: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if signalled:
            logging.getLogger("local").warning("already stopping (send SIGKILL to abandon; the next start cleans up)")
        signalled.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    database_url = os.environ.get("DATABASE_URL") or None
    stack = Stack(
        StackConfig(
            host=args.host,
            port=args.port,
            tick_s=args.tick,
            scheduler=not args.no_scheduler,
            aws_endpoint=args.aws_endpoint,
            state_dir=args.state_dir,
            database_url=database_url,
        )
    )
    try:
        info = stack.start()
    except (OSError, AlreadyRunningError) as error:
        logging.getLogger("local").error("could not start: %s", error)
        return 1
    try:
        if not signalled:  # a signal during start-up stops right after it
            print(banner(info), flush=True)
            # Wake up now and then: Linux may deliver SIGTERM to a busy poller thread, and Python runs signal
            # handlers only in the main thread, which a wait without a timeout would never leave (the stack then
            # ignored the signal: an intermittent e2e failure).
            while not signalled:
                time.sleep(WAKE_S)
        print("stopping...", flush=True)
    finally:
        stack.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
