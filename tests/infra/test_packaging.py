"""Packaging without Docker: which requirements go to which layer, and what a function's asset holds."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("aws_cdk")

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_

from infra.packaging import function_code

pytestmark = pytest.mark.xdist_group("infra")

ROOT = Path(__file__).resolve().parents[2]


def _build_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("layers_build", ROOT / "layers" / "build.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["layers_build"] = module
    spec.loader.exec_module(module)
    return module


def test_media_libraries_get_their_own_layer_and_boto3_none() -> None:
    build = _build_module()
    deps, media = build.split_requirements(
        ["aws-lambda-powertools==3.37.0", "Pillow==13.*", "av==18.*", "boto3==1.*", "python-dateutil<3"]
    )
    assert deps == ["aws-lambda-powertools==3.37.0", "python-dateutil<3"]
    assert media == ["Pillow==13.*", "av==18.*"]


def test_the_real_requirements_split_cleanly() -> None:
    build = _build_module()
    deps, media = build.split_requirements(build.requirement_lines())
    assert {build.requirement_name(x) for x in media} == {"pillow", "av"}
    assert "sqlalchemy" in {build.requirement_name(x) for x in deps}


def test_a_function_asset_holds_only_its_own_folder(tmp_path: Path) -> None:
    """Given the scheduler's asset, when staged (a copy, no bundling), then it holds functions/__init__.py and
    functions/scheduler/** only — no other function, no shared/, no .venv."""
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "PackagingProbe")
    lambda_.Function(
        stack,
        "Probe",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="functions.scheduler.handler.handler",
        code=function_code("scheduler"),
    )
    app.synth()
    (asset,) = [p for p in tmp_path.iterdir() if p.name.startswith("asset.")]
    files = {p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file()}
    assert "functions/__init__.py" in files
    assert "functions/scheduler/handler.py" in files
    assert all(f == "functions/__init__.py" or f.startswith("functions/scheduler/") for f in files), files
