"""CDK app entry point: `cdk synth -c stage=dev|prod` (through cdk.json) or `make synth` (offline, into cdk.out/).

The stage comes from context; everything stage-specific is in infra/config.py and the stack in infra/stack.py.
"""

from __future__ import annotations

import sys

from infra.app import build_app


def main() -> int:
    build_app().synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
