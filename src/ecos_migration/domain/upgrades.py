"""Firmware upgrade paths between Device Models."""

from __future__ import annotations

from collections.abc import Iterable

from ecos_migration.domain.device import DeviceModelKey

# Allowed upgrades as (from, to) pairs; ``None`` means the default rule applies.
AllowedUpgrades = frozenset[tuple[DeviceModelKey, DeviceModelKey]] | None


def can_upgrade(source: DeviceModelKey, target: DeviceModelKey, allowed: AllowedUpgrades) -> bool:
    """Return whether a device of ``source`` can be moved to ``target`` by a firmware upgrade.

    By default any other firmware version of the same device type, manufacturer and model
    qualifies; a list of allowed upgrades replaces that default.
    """
    if allowed is None:
        return source.is_firmware_sibling(target)
    return (source, target) in allowed


def upgrade_targets(
    source: DeviceModelKey, models: Iterable[DeviceModelKey], allowed: AllowedUpgrades
) -> list[DeviceModelKey]:
    """Return the models among ``models`` that ``source`` can be upgraded to, sorted."""
    return sorted(target for target in models if can_upgrade(source, target, allowed))
