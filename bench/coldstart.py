"""How long each function's cold start spends importing its handler, against importing its third-party packages.

Why this way: in Lambda the import of `functions.<name>.handler` is paid on every cold start, and only the part
above the bare cost of the libraries it needs is ours to cut. So each function is imported the way Lambda does
it and compared, in the same run, with a fresh interpreter importing just the third-party packages that handler
pulls in (its top-level names: `aws_lambda_powertools`, `sqlalchemy`, `pydantic`, …).

- Layers: the deployed ones (layers/build/) hold aarch64 wheels that cannot load here, so the same
  `layers/build.py` builds x86_64 ones (same pins, same Python 3.12 `compileall --invalidation-mode
  unchecked-hash`) into .local/bench-layers-x86_64/, reused while requirements.txt is unchanged (the models
  layer, `shared/`, is rebuilt every run). boto3, which the runtime provides, goes to a separate "runtime"
  directory after the layers on sys.path, compiled normally (the runtime image's .pyc are valid).
- Assets: per function, a task directory (`functions/__init__.py` + `functions/<name>/`, no .pyc, as
  `infra/packaging.py` ships it) and an /opt/python merging its layers (api, scheduler, migrate: deps + models;
  worker, media: + media), every mtime set to 1980-01-01 as the CDK zip does, so only the unchecked-hash .pyc are
  valid and the function's own modules compile on every cold start (`-B`: /var/task is read-only in Lambda).
- Each measurement is a fresh `python3.12 -I -S -B` with sys.path = [task, /opt/python, runtime] + stdlib and the
  environment Lambda gives (region, POWERTOOLS_*, dummy CONVEYOR_* values; no database is touched on import),
  timing the import with `time.perf_counter` inside the child. Handler and baseline alternate, ROUNDS each;
  medians. The API must not import Pillow, PyAV or Alembic: a FAIL line and exit status 1 if it does.
- unzipped_mb: the function's code plus its layers as Lambda unpacks them (10^6 bytes), from layers/build/
  (arm64, what deploys) when built, else from the x86_64 build.

The first run builds the x86_64 layers (downloads ~60 MB of wheels: 1-2 minutes); later runs take ~1 minute.
Last line: {"bench": "coldstart", "functions": {name: {"import_s", "deps_import_s", "ratio", "all_deps_import_s",
"ratio_all_deps", "unzipped_mb"}}, "worst_ratio", "worst_ratio_all_deps"}.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROUNDS = int(os.environ.get("BENCH_COLDSTART_ROUNDS", "7"))
GOAL_RATIO = 1.25
CACHE = ROOT / ".local" / "bench-layers-x86_64"
DEPLOYED_LAYERS = ROOT / "layers" / "build"
BUILD_SCRIPT = ROOT / "layers" / "build.py"
REQUIREMENTS = ROOT / "requirements.txt"
LAYER_NAMES = ("deps", "media", "models")
# Which layers each function carries (infra/stack.py: base_layers / media_layers).
FUNCTION_LAYERS: dict[str, tuple[str, ...]] = {
    "api": ("deps", "models"),
    "worker": ("deps", "models", "media"),
    "scheduler": ("deps", "models"),
    "media": ("deps", "models", "media"),
    "migrate": ("deps", "models"),
}
FORBIDDEN: dict[str, tuple[str, ...]] = {"api": ("PIL", "av", "alembic")}
OWN_PACKAGES = {"functions", "shared"}
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z: the timestamp the CDK writes into asset zips

CHILD = """
import json, sys, time
sys.path[:0] = json.loads(sys.argv[1])
names = json.loads(sys.argv[2])
before = set(sys.modules)
failed = []
started = time.perf_counter()
for name in names:
    try:
        __import__(name)
    except ImportError:
        if len(sys.argv) < 4:
            raise
        failed.append(name)
elapsed = time.perf_counter() - started
new = [m for m in sys.modules if m not in before]
top = {}
for module in new:
    head = module.partition(".")[0]
    mod = sys.modules.get(head)
    if head not in top and mod is not None:
        top[head] = getattr(mod, "__file__", None) or next(iter(getattr(mod, "__path__", None) or []), None)
print(json.dumps({"s": elapsed, "modules": new, "top": list(top.items()), "failed": failed}))
"""


def python312() -> str:
    """The runtime's interpreter (layers/build.py's search), or exit: timing another version would mislead."""
    from layers.build import python312 as find

    found = find()
    if found is None:
        sys.exit("bench/coldstart.py needs a Python 3.12 (the Lambda runtime's version): set $PYTHON312")
    return found


def fingerprint(*texts: str) -> str:
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]


def ensure_layers(py312: str) -> None:
    """x86_64 deps and media layers (reused while requirements.txt is unchanged), models always fresh, runtime boto3."""
    stamp = CACHE / "stamp"
    wanted = fingerprint(REQUIREMENTS.read_text(), BUILD_SCRIPT.read_text())
    fresh = stamp.is_file() and stamp.read_text() == wanted
    layers = ["models"] if fresh else list(LAYER_NAMES)
    if not fresh:
        print("building x86_64 layers into .local/bench-layers-x86_64/ (first run: downloads wheels, 1-2 minutes)")
        shutil.rmtree(CACHE / "runtime", ignore_errors=True)
    subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--arch", "x86_64", "--out", str(CACHE), *layers],
        check=True,
        stdout=subprocess.DEVNULL if fresh else None,
    )
    runtime = CACHE / "runtime"
    if not runtime.is_dir():
        from layers.build import RUNTIME_PROVIDED, platforms, requirement_lines, requirement_name

        provided = [x for x in requirement_lines() if requirement_name(x) in RUNTIME_PROVIDED]
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
        tags = [arg for tag in platforms("x86_64") for arg in ("--platform", tag)]
        target = ["--implementation", "cp", "--python-version", "3.12", "--only-binary=:all:", "--target", str(runtime)]
        subprocess.run([*pip, *tags, *target, *provided], check=True)
        subprocess.run([py312, "-m", "compileall", "-q", "-j", "0", str(runtime)], check=True)
    stamp.write_text(wanted)


def link_or_copy(src: str, dst: str) -> None:
    """Hard-link (fast, no extra space); a later layer replaces an earlier one's file, as Lambda merges /opt."""
    if os.path.lexists(dst):
        os.unlink(dst)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def set_zip_times(directory: Path) -> None:
    for path in [directory, *directory.rglob("*")]:
        os.utime(path, (ZIP_EPOCH, ZIP_EPOCH), follow_symlinks=False)


def assemble(name: str, work: Path) -> tuple[Path, Path]:
    """(task, opt_python) for function `name`, as Lambda unpacks its asset and layers."""
    task = work / name / "task"
    (task / "functions").mkdir(parents=True)
    shutil.copy2(ROOT / "functions" / "__init__.py", task / "functions" / "__init__.py")
    no_bytecode = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    shutil.copytree(ROOT / "functions" / name, task / "functions" / name, ignore=no_bytecode)
    opt = work / name / "opt" / "python"
    opt.mkdir(parents=True)
    for layer in FUNCTION_LAYERS[name]:
        shutil.copytree(CACHE / layer / "python", opt, copy_function=link_or_copy, dirs_exist_ok=True)
    set_zip_times(task)
    set_zip_times(opt)
    return task, opt


def tree_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file() and not p.is_symlink())


def unzipped_mb(name: str, task: Path) -> tuple[float, str]:
    """Code + layers, from the deployed (arm64) layers when they are built, else the x86_64 ones."""
    deployed = all((DEPLOYED_LAYERS / layer / "python").is_dir() for layer in FUNCTION_LAYERS[name])
    base = DEPLOYED_LAYERS if deployed else CACHE
    total = tree_bytes(task) + sum(tree_bytes(base / layer) for layer in FUNCTION_LAYERS[name])
    return total / 1e6, "arm64" if deployed else "x86_64"


def lambda_env(name: str, task: Path) -> dict[str, str]:
    """What Lambda sets that an import may read; dummy resource names (nothing is called at import)."""
    account = "123456789012"
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(task),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_LAMBDA_FUNCTION_NAME": f"conveyor-bench-{name}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "POWERTOOLS_SERVICE_NAME": name,
        "POWERTOOLS_METRICS_NAMESPACE": "Conveyor",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "CONVEYOR_STAGE": "bench",
        "CONVEYOR_DATABASE_SECRET_ARN": f"arn:aws:secretsmanager:us-east-1:{account}:secret:conveyor-bench-db",
        "CONVEYOR_DATABASE_HOST": "proxy.bench.invalid",
        "CONVEYOR_MEDIA_BUCKET": "conveyor-bench-media",
        "CONVEYOR_JOBS_QUEUE_URL": f"https://sqs.us-east-1.amazonaws.com/{account}/conveyor-bench-jobs",
        "CONVEYOR_MEDIA_QUEUE_URL": f"https://sqs.us-east-1.amazonaws.com/{account}/conveyor-bench-media",
        "CONVEYOR_KMS_KEY_ID": "00000000-0000-0000-0000-000000000000",
        "CONVEYOR_EMAIL_SENDER": "bench@example.com",
        "CONVEYOR_APP_URL": "https://app.example.com",
        "CONVEYOR_TRANSLATION_PROVIDER": "amazon",
        "CONVEYOR_CORS_ORIGIN": "https://app.example.com",
        "CONVEYOR_KEY_PEPPER_SECRET_ARN": f"arn:aws:secretsmanager:us-east-1:{account}:secret:conveyor-bench-pepper",
    }


def child_import(
    py312: str, paths: list[Path], modules: list[str], env: dict[str, str], cwd: Path, *, tolerant: bool = False
) -> dict:
    """Import `modules` in a fresh interpreter; its elapsed seconds, new modules and their top-level origins."""
    argv = [py312, "-I", "-S", "-B", "-c", CHILD, json.dumps([str(p) for p in paths]), json.dumps(modules)]
    done = subprocess.run(
        [*argv, "tolerant"] if tolerant else argv,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"import of {modules} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def third_party(top: list[list[str | None]], roots: list[Path]) -> list[str]:
    """Top-level names loaded from the layers or the runtime directory, minus Conveyor's own packages."""
    keep = []
    for head, where in top:
        if head in OWN_PACKAGES or where is None:
            continue
        if any(Path(where).is_relative_to(root) for root in roots):
            keep.append(head)
    return keep


def main() -> int:
    py312 = python312()
    ensure_layers(py312)
    runtime = CACHE / "runtime"
    results: dict[str, dict[str, float]] = {}
    failures: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="coldstart-", dir=CACHE))
    try:
        for name in FUNCTION_LAYERS:
            task, opt = assemble(name, work)
            paths = [task, opt, runtime]
            env = lambda_env(name, task)
            handler = f"functions.{name}.handler"
            probe = child_import(py312, paths, [handler], env, task)
            deps = third_party(probe["top"], [opt, runtime])
            # Informational: every third-party module the handler loaded (submodules too), so that
            # import_s - all_deps_s is what Conveyor's own modules cost.
            all_deps = [m for m in probe["modules"] if m.partition(".")[0] in deps]
            loaded = {m.partition(".")[0] for m in probe["modules"]}
            for bad in FORBIDDEN.get(name, ()):
                if bad in loaded:
                    chain = [m for m in probe["modules"] if m.partition(".")[0] in {bad, "shared", "functions"}]
                    failures.append(f"FAIL: {name} imports {bad!r} (own modules loaded before it: {chain[:12]} …)")
            handler_s: list[float] = []
            deps_s: list[float] = []
            all_deps_s: list[float] = []
            for _ in range(ROUNDS):
                deps_s.append(child_import(py312, paths, deps, env, task)["s"])
                handler_s.append(child_import(py312, paths, [handler], env, task)["s"])
                all_deps_s.append(child_import(py312, paths, all_deps, env, task, tolerant=True)["s"])
            h, d, a = statistics.median(handler_s), statistics.median(deps_s), statistics.median(all_deps_s)
            size, arch = unzipped_mb(name, task)
            results[name] = {
                "import_s": round(h, 3),
                "deps_import_s": round(d, 3),
                "ratio": round(h / d, 2),
                # Against every third-party module the handler loads (submodules too): what our own code adds.
                "all_deps_import_s": round(a, 3),
                "ratio_all_deps": round(h / a, 2),
                "unzipped_mb": round(size, 1),
            }
            print(
                f"{name}: import {h:.3f} s (min {min(handler_s):.3f}), third-party only {d:.3f} s"
                f" (min {min(deps_s):.3f}), ratio {h / d:.2f}; {len(probe['modules'])} modules;"
                f" unzipped {size:.1f} MB ({arch}); third-party: {', '.join(deps)}"
            )
            print(
                f"  every third-party module it loads ({len(all_deps)}): {a:.3f} s, so Conveyor's own modules"
                f" ~{h - a:.3f} s and third-party submodules beyond the top-level imports ~{a - d:.3f} s"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    worst = max(r["ratio"] for r in results.values())
    print(f"worst ratio {worst:.2f} (goal <= {GOAL_RATIO}); medians of {ROUNDS} alternating rounds, python3.12")
    for line in failures:
        print(line)
    print(json.dumps({"bench": "coldstart", "functions": results, "worst_ratio": worst}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
