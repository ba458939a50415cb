"""Allowed firmware upgrades between Device Models, when a list replaces the default rule."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, delete, insert, select

from ecos_migration.domain.device import DeviceModelKey, DeviceType
from ecos_migration.domain.upgrades import AllowedUpgrades
from ecos_migration.store.models import ensure_models
from ecos_migration.store.schema import device_model, model_upgrade
from ecos_migration.store.settings import get_setting, set_setting

_SOURCE_SETTING = "upgrades_source"


def allowed_upgrades(connection: Connection) -> AllowedUpgrades:
    """Return the stored list of allowed upgrades, or ``None`` when the default rule applies."""
    if get_setting(connection, _SOURCE_SETTING) is None:
        return None
    source = device_model.alias("source")
    target = device_model.alias("target")
    rows = connection.execute(
        select(
            source.c.device_type,
            source.c.manufacturer,
            source.c.model,
            source.c.firmware_version,
            target.c.device_type,
            target.c.manufacturer,
            target.c.model,
            target.c.firmware_version,
        )
        .select_from(model_upgrade)
        .join(source, source.c.id == model_upgrade.c.from_model_id)
        .join(target, target.c.id == model_upgrade.c.to_model_id)
    )
    return frozenset(
        (
            DeviceModelKey(DeviceType(row[0]), row[1], row[2], row[3]),
            DeviceModelKey(DeviceType(row[4]), row[5], row[6], row[7]),
        )
        for row in rows
    )


def replace_allowed_upgrades(
    connection: Connection, pairs: Iterable[tuple[DeviceModelKey, DeviceModelKey]], source: str
) -> int:
    """Replace the default rule with ``pairs``; ``source`` (a file name) is kept for display."""
    unique_pairs = list(dict.fromkeys(pairs))
    ids = ensure_models(connection, {key for pair in unique_pairs for key in pair})
    connection.execute(delete(model_upgrade))
    if unique_pairs:
        connection.execute(
            insert(model_upgrade),
            [{"from_model_id": ids[a], "to_model_id": ids[b]} for a, b in unique_pairs],
        )
    set_setting(connection, _SOURCE_SETTING, source)
    return len(unique_pairs)
