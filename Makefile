# Conveyor: `make dev` runs the whole system on this machine; `make test` lints and runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: dev test lint format bench fuzz layers synth clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

dev: $(STAMP)
	$(PY) -m local $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

test: lint
	$(VENV)/bin/pytest -n 2 --dist loadgroup

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The schemathesis test of `make test` with a bigger budget, against its own laptop stack: `make fuzz FUZZ_SECONDS=900`.
fuzz: $(STAMP)
	CONVEYOR_FUZZ_SECONDS=$(or $(FUZZ_SECONDS),600) CONVEYOR_FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),30) \
		$(VENV)/bin/pytest -q -s -p no:cacheprovider tests/e2e/test_schemathesis.py

bench: $(STAMP)
	@for script in bench/[!_]*.py; do [ -e "$$script" ] || continue; echo "== $$script"; $(PY) $$script || exit 1; done

# Build the Lambda layers (dependencies, media, models) into layers/build/ for deployment, without Docker.
layers: $(STAMP)
	$(PY) layers/build.py

# Synthesize the CDK app offline into cdk.out/ (no AWS credentials, no Docker): `make synth STAGE=prod`.
synth: $(STAMP)
	CDK_OUTDIR=cdk.out CDK_CONTEXT_JSON='{"stage": "$(or $(STAGE),dev)"}' $(PY) app.py

clean:
	rm -rf .local cdk.out .pytest_cache .ruff_cache
