"""Instance settings: runtime switches an admin flips without a redeploy (one row, id 'singleton').

A missing row means "the environment defaults" (`CONVEYOR_SIGNUP_ENABLED`, default true, the same as the
column's default), so a fresh database behaves like one whose row was created with defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.db import session
from shared.db.models import InstanceSettings

SINGLETON = "singleton"


@dataclass(frozen=True)
class InstanceConfig:
    """The effective settings: the row's values, or the environment defaults where there is no row."""

    signup_enabled: bool
    team_invites_enabled: bool | None


def _effective(row: InstanceSettings | None) -> InstanceConfig:
    if row is None:
        return InstanceConfig(signup_enabled=get_settings().signup_enabled, team_invites_enabled=None)
    return InstanceConfig(signup_enabled=row.signup_enabled, team_invites_enabled=row.team_invites_enabled)


def read(s: Session) -> InstanceConfig:
    """The effective settings inside a caller's transaction (sign-up checks it in the same unit of work)."""
    return _effective(s.get(InstanceSettings, SINGLETON))


def get_instance_settings() -> InstanceConfig:
    with session() as s:
        return read(s)


def update_instance_settings(
    *, signup_enabled: bool | None = None, team_invites_enabled: bool | None = None
) -> InstanceConfig:
    """Write the given switches (others keep their value); creates the row on first use, race-free (upsert)."""
    values: dict[str, object] = {}
    if signup_enabled is not None:
        values["signup_enabled"] = signup_enabled
    if team_invites_enabled is not None:
        values["team_invites_enabled"] = team_invites_enabled
    # A new row is seeded from the environment defaults, so writing one switch does not silently flip another.
    seed = {"signup_enabled": _effective(None).signup_enabled} | values
    with session() as s:
        s.execute(
            insert(InstanceSettings)
            .values(id=SINGLETON, **seed)
            .on_conflict_do_update(index_elements=[InstanceSettings.id], set_={**values, "updated_at": func.now()})
        )
        s.expire_all()
        return read(s)
