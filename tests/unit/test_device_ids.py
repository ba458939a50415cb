"""Device identifiers and Device Model keys."""

import pytest

from ecos_migration.domain.device import (
    DeviceModelKey,
    DeviceType,
    canonical_device_id,
    duis_device_id,
)
from ecos_migration.domain.upgrades import can_upgrade, upgrade_targets


@pytest.mark.parametrize(
    "text",
    [
        "00-DB-12-34-56-78-90-A0",
        "00db1234567890a0",
        " 00DB1234567890A0 ",
        "00-db-12-34-56-78-90-a0",
    ],
)
def test_eui64_spellings_accepted(text: str) -> None:
    assert canonical_device_id(text) == "00DB1234567890A0"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "00DB1234567890A",
        "00DB1234567890A0FF",
        "00DB1234567890AG",
        "00:DB:12:34:56:78:90:A0",
        "0-0DB1234567890A0",
    ],
)
def test_eui64_invalid_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="expected 16 hex digits"):
        canonical_device_id(text)


def test_duis_form() -> None:
    assert duis_device_id("00DB1234567890A0") == "00-DB-12-34-56-78-90-A0"


def test_model_key_round_trip() -> None:
    key = DeviceModelKey.parse("ESME/AB01/010A030B/0002012F")
    assert key == DeviceModelKey(DeviceType.ESME, "AB01", "010A030B", "0002012F")
    assert str(key) == "ESME/AB01/010A030B/0002012F"


@pytest.mark.parametrize("text", ["ESME/AB01/010A030B", "ESME//010A030B/1", "TOASTER/A/B/C"])
def test_model_key_invalid(text: str) -> None:
    with pytest.raises(ValueError, match=r"TYPE/MANUFACTURER/MODEL/FIRMWARE|device type"):
        DeviceModelKey.parse(text)


def test_default_upgrade_rule() -> None:
    old = DeviceModelKey.parse("ESME/AB01/M1/0001")
    new = DeviceModelKey.parse("ESME/AB01/M1/0002")
    other_model = DeviceModelKey.parse("ESME/AB01/M2/0002")
    other_type = DeviceModelKey.parse("GSME/AB01/M1/0002")
    assert can_upgrade(old, new, None)
    assert not can_upgrade(old, old, None)
    assert not can_upgrade(old, other_model, None)
    assert not can_upgrade(old, other_type, None)
    assert upgrade_targets(old, [old, new, other_model, other_type], None) == [new]


def test_upgrade_list_replaces_default() -> None:
    old = DeviceModelKey.parse("ESME/AB01/M1/0001")
    new = DeviceModelKey.parse("ESME/AB01/M1/0002")
    newer = DeviceModelKey.parse("ESME/AB01/M1/0003")
    allowed = frozenset({(old, newer)})
    assert can_upgrade(old, newer, allowed)
    assert not can_upgrade(old, new, allowed)
