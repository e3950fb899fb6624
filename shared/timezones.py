"""IANA time-zone names: the one check every area uses (users, schedules, automations)."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from shared.errors import InvalidInput


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(name: str) -> str:
    if name not in _timezones():
        raise InvalidInput(
            "Unknown time zone: use an IANA name such as Europe/Paris.",
            code="invalid_timezone",
            details={"field": "timezone", "value": name},
        )
    return name
