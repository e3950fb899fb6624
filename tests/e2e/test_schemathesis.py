"""Schemathesis against the laptop stack: the OpenAPI and the API agree, and no input makes the API fail.

A bounded run of schemathesis' own engine (the one `schemathesis run` drives) over `GET /v1/openapi.json`: the
coverage, fuzzing and stateful phases, every check, a fixed seed and a time budget. It fails on any check's failure
— a server error, a response that breaks its schema, an undocumented status, an invalid request accepted — and
prints each one with the request that shows it.

`CONVEYOR_FUZZ_SECONDS` and `CONVEYOR_FUZZ_EXAMPLES` make the same test a longer run (`make fuzz`).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events

from tests.e2e.harness import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # the session's one stack, on one worker

SEED = 42
BUDGET_S = float(os.environ.get("CONVEYOR_FUZZ_SECONDS", "75"))
MAX_EXAMPLES = int(os.environ.get("CONVEYOR_FUZZ_EXAMPLES", "5"))


@dataclass
class Tally:
    operations: set[str] = field(default_factory=set)
    requests: int = 0
    by_check: Counter[str] = field(default_factory=Counter)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)  # (check, operation) -> first example
    errors: list[str] = field(default_factory=list)

    def record(self, recorder) -> None:  # type: ignore[no-untyped-def]
        self.operations.add(recorder.label)
        self.requests += len(recorder.interactions)
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.status != Status.FAILURE:
                    continue
                self.by_check[check.name] += 1
                key = (check.name, recorder.label)
                if key not in self.failures:
                    self.failures[key] = _describe(recorder, case_id, check)

    def report(self) -> str:
        lines = [
            f"{len(self.operations)} operations, {self.requests} requests, failures by check: {dict(self.by_check)}"
        ]
        lines += [
            f"- {check} on {operation}: {example}" for (check, operation), example in sorted(self.failures.items())
        ]
        lines += [f"- error: {error}" for error in self.errors]
        return "\n".join(lines)


def _describe(recorder, case_id: str, check) -> str:  # type: ignore[no-untyped-def]
    case = recorder.cases[case_id].value
    interaction = recorder.interactions.get(case_id)
    status = interaction.response.status_code if interaction and interaction.response else None
    title = check.failure_info.failure.title if check.failure_info else ""
    request = f"{case.method} {case.formatted_path} query={case.query} body={str(case.body)[:200]!r}"
    return f"{title} [{status}] {request}"


@pytest.fixture(scope="module")
def member_token(local_stack: RunningStack) -> str:
    """A second, ordinary user (signed in with a password), with data of its own in the database."""
    admin = {"Authorization": f"Bearer {local_stack.admin_key}"}
    email, password = "fuzz-peer@example.com", "a long enough password 1"
    created = requests.post(
        f"{local_stack.api_url}/v1/admin/users",
        json={"email": email, "name": "peer", "password": password, "verified": True},
        headers=admin,
        timeout=10,
    )
    assert created.status_code in (201, 409), created.text
    login = requests.post(
        f"{local_stack.api_url}/v1/auth/login", json={"email": email, "password": password}, timeout=10
    )
    assert login.status_code == 200, login.text
    token = login.json()["token"]
    project = requests.post(
        f"{local_stack.api_url}/v1/projects",
        json={"name": "peer's"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert project.status_code == 201, project.text
    return token


#: Who fuzzes, and the share of the budget each gets: the admin reaches every route; the member (a session token)
#: meets the admin routes' 403 and a member's paths through every other route, among the admin's data.
CALLERS = {"admin": 0.6, "member": 0.4}


@pytest.mark.parametrize("caller", list(CALLERS))
def test_schemathesis_finds_no_failure(local_stack: RunningStack, member_token: str, caller: str) -> None:
    token = local_stack.admin_key if caller == "admin" else member_token
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "max-time": BUDGET_S * CALLERS[caller],
            "headers": {"Authorization": f"Bearer {token}"},
            "generation": {"max-examples": MAX_EXAMPLES},
            "phases": {
                "examples": {"enabled": False},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True},
            },
            "checks": {
                # A schema-valid request may still break a domain rule no JSON Schema states (an opaque cursor we
                # did not issue, a cron that never fires, a state transition): 402, 409 and 422 in the contract.
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "3xx", "401", "402", "403", "404", "409", "422", "429", "5xx"]
                },
            },
            "operations": [
                {
                    # The laptop stack has no payment provider secret: the webhook answers its documented 503
                    # `webhooks_not_configured` (tests/integration/test_payments.py covers it with a secret).
                    "include-name": "POST /v1/payments/webhook",
                    "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}},
                }
            ],
            "request-timeout": 30,
        }
    )
    schema = schemathesis.openapi.from_url(f"{local_stack.api_url}/v1/openapi.json", config=config)

    tally = Tally()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            tally.record(event.recorder)
        elif isinstance(event, events.NonFatalError):
            tally.errors.append(f"{event.label}: {event.info.title}")
        elif isinstance(event, events.FatalError):
            pytest.fail(f"schemathesis stopped: {event.exception!r}")
    logged = [line for line in local_stack.output.lines if "Traceback" in line or "unhandled error" in line]
    print(tally.report())

    assert tally.requests > 0
    assert not tally.failures, tally.report() + "\n" + "\n".join(logged[-20:])
    assert not tally.errors, tally.report()
