"""Function and layer assets, without Docker.

Each function's asset is the repository root filtered down to `functions/__init__.py` + `functions/<name>/**`,
so the handler string is `functions.<name>.handler.handler`, the module path the laptop stack and tests use.
Layers come from `layers/build/<layer>/` (built by `make layers`, see layers/build.py). When a layer has not been
built, a placeholder directory stands in so `make synth` works offline; such a synth must not be deployed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
LAYERS_BUILD = ROOT / "layers" / "build"
LAYER_NAMES = ("deps", "media", "models")
PLACEHOLDER_NOTE = "Placeholder: run `make layers` before `cdk deploy`; this layer was not built.\n"


def function_code(name: str) -> lambda_.Code:
    """The asset of functions/<name>: only that folder and the package marker (no tests, no .venv, no layers)."""
    if not (ROOT / "functions" / name / "handler.py").is_file():
        raise FileNotFoundError(f"functions/{name}/handler.py does not exist")
    return lambda_.Code.from_asset(
        str(ROOT),
        exclude=[
            "*",
            ".*",  # `*` does not match dot-entries: without this the whole .venv is walked
            "!functions",
            "!functions/__init__.py",
            f"!functions/{name}",
            f"!functions/{name}/**",
            "**/__pycache__",
            "**/*.pyc",
            "**/.*",
        ],
    )


def layer_dir(name: str) -> tuple[Path, bool]:
    """(directory, built): the built layer, or a placeholder holding only a note (created on demand)."""
    built = LAYERS_BUILD / name
    if (built / "python").is_dir():
        return built, True
    placeholder = LAYERS_BUILD / ".placeholder" / name
    (placeholder / "python").mkdir(parents=True, exist_ok=True)
    (placeholder / "python" / "PLACEHOLDER.txt").write_text(PLACEHOLDER_NOTE)
    return placeholder, False


def layer_code(name: str) -> lambda_.Code:
    """The asset of layer `name` (deps, media or models); warns on stderr when it is a placeholder."""
    directory, built = layer_dir(name)
    if not built:
        print(f"warning: layer {name!r} not built (make layers); synthesizing with a placeholder", file=sys.stderr)
    return lambda_.Code.from_asset(str(directory))
