"""Build Conveyor's three Lambda layers into layers/build/ without Docker (`python layers/build.py [layer ...]`).

- deps:   requirements.txt minus the media libraries, as manylinux2014_aarch64 CPython 3.12 wheels
- media:  Pillow and PyAV (only the worker and media functions carry them; they are large)
- models: the `shared/` package

pip resolves wheels for the Lambda platform (`--platform --implementation --python-version --only-binary`), so
nothing compiles here. The result is byte-compiled with Python 3.12 using `--invalidation-mode unchecked-hash`:
the CDK zips assets with 1980 timestamps, which makes ordinary .pyc files stale in Lambda (cold start 1.2 s
instead of 0.45 s). Without a python3.12 the layers still work, only slower to import; the script warns.

`--arch x86_64 --out DIR` builds the same layers for x86_64 elsewhere (bench/coldstart.py imports them on this
machine, which cannot load aarch64 extension modules); the default, arm64 into layers/build/, is what deploys.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "layers" / "build"
REQUIREMENTS = ROOT / "requirements.txt"
MEDIA_PACKAGES = {"pillow", "av"}
# Provided by the Lambda runtime; the layer does not need to carry them (boto3 is pinned for the laptop only).
RUNTIME_PROVIDED = {"boto3"}
# The functions run on arm64 (infra/functions.py) on Amazon Linux 2023 (glibc 2.34): manylinux2014 wheels, and the
# newer manylinux_2_28 / _2_34 tags some projects publish exclusively (Pillow 13, PyAV 18).
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
ARCHES = {"arm64": "aarch64", "x86_64": "x86_64"}  # Lambda's architecture name → the wheel platform suffix
PYTHON_VERSION = "3.12"
# $PYTHON312 first, then a pyenv install, then PATH (a pyenv shim on PATH may exist without a usable 3.12).
PYTHON312_CANDIDATES = (os.environ.get("PYTHON312", ""), "/root/.pyenv/versions/3.12.1/bin/python3.12", "python3.12")
LAYERS = ("deps", "media", "models")


def requirement_name(line: str) -> str:
    """The normalized project name of a requirements line ('pillow==13.*' → 'pillow')."""
    return re.split(r"[<>=!~\[;\s]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")


def requirement_lines(path: Path = REQUIREMENTS) -> list[str]:
    """Requirement lines of requirements.txt, comments and blanks dropped."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def split_requirements(lines: list[str]) -> tuple[list[str], list[str]]:
    """(deps, media): the media libraries go to their own layer; runtime-provided packages to neither."""
    deps = [x for x in lines if requirement_name(x) not in MEDIA_PACKAGES | RUNTIME_PROVIDED]
    media = [x for x in lines if requirement_name(x) in MEDIA_PACKAGES]
    return deps, media


def python312() -> str | None:
    """A Python 3.12 interpreter for byte-compiling (the runtime's version), if this machine has one."""
    for candidate in filter(None, PYTHON312_CANDIDATES):
        found = shutil.which(candidate)
        if not found:
            continue
        probe = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            [found, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return found
    return None


def platforms(arch: str = "arm64") -> tuple[str, ...]:
    """The wheel platform tags for a Lambda architecture (arm64 gives PLATFORMS)."""
    if arch not in ARCHES:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {tuple(ARCHES)}")
    return tuple(tag.replace("aarch64", ARCHES[arch]) for tag in PLATFORMS)


def pip_install(requirements: list[str], target: Path, platform_tags: tuple[str, ...] = PLATFORMS) -> None:
    """Install wheels for the Lambda platform into target (no sdists: nothing may compile for the wrong CPU)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(requirements) + "\n")
        req_file = handle.name
    try:
        subprocess.run(  # noqa: S603 (fixed argv, no shell)
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
                *(arg for platform in platform_tags for arg in ("--platform", platform)),
                "--implementation",
                "cp",
                "--python-version",
                PYTHON_VERSION,
                "--only-binary=:all:",
                "--target",
                str(target),
                "-r",
                req_file,
            ],
            check=True,
        )
    finally:
        os.unlink(req_file)


def compile_tree(directory: Path) -> None:
    """Byte-compile with Python 3.12 and hash-checked-unchecked .pyc, valid whatever the zip timestamps say."""
    interpreter = python312()
    if interpreter is None:
        print(f"warning: no python3.12 found; {directory} is not byte-compiled (slower cold starts)", file=sys.stderr)
        return
    subprocess.run(  # noqa: S603 (fixed argv, no shell)
        [interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(directory)],
        check=True,
    )


def prune(directory: Path) -> None:
    """Drop what Lambda never needs: tests shipped inside packages are left alone (imports may use them)."""
    for pattern in ("**/__pycache__/*.cpython-311.pyc", "bin"):
        for path in directory.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def build(layer: str, *, arch: str = "arm64", build_dir: Path = BUILD) -> Path:
    """Build one layer from scratch into <build_dir>/<layer>/python (default layers/build/) and return its directory."""
    out = build_dir / layer
    shutil.rmtree(out, ignore_errors=True)
    target = out / "python"
    target.mkdir(parents=True)
    deps, media = split_requirements(requirement_lines())
    if layer == "deps":
        pip_install(deps, target, platforms(arch))
    elif layer == "media":
        pip_install(media, target, platforms(arch))
    elif layer == "models":
        shutil.copytree(ROOT / "shared", target / "shared", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
    prune(target)
    compile_tree(target)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("layers", nargs="*", metavar="LAYER", help=f"any of {', '.join(LAYERS)} (default: all)")
    parser.add_argument(
        "--arch", choices=tuple(ARCHES), default="arm64", help="Lambda architecture of the wheels (default: arm64)"
    )
    parser.add_argument(
        "--out", type=Path, default=BUILD, help=f"build directory (default: {BUILD.relative_to(ROOT)}/)"
    )
    args = parser.parse_args(argv)
    build_dir = args.out.resolve()
    for layer in args.layers or LAYERS:
        out = build(layer, arch=args.arch, build_dir=build_dir)
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
        print(f"{layer}: {shown} ({size / 1e6:.1f} MB unzipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
