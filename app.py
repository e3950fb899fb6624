"""CDK app: reads the stage from context and instantiates Conveyor's stacks (`make synth`).

The stacks themselves are the subject of issue 6 (infrastructure as code) and are not written yet; until
then this entry point says so instead of synthesizing an incomplete deployment.
"""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from infra.app import build_app
    except ImportError:
        print("Conveyor's CDK stacks are not written yet (issue 6); nothing to synthesize.", file=sys.stderr)
        return 1
    build_app().synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
