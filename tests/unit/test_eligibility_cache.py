"""The import's eligibility cache returns what the rule returns on the full facts."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from ecos_migration.domain.device import (
    CommsStatus,
    Credential,
    DeviceType,
    Generation,
    MigrationState,
    SmiStatus,
)
from ecos_migration.domain.eligibility import DeviceFacts, EligibilityPolicy, evaluate_device
from ecos_migration.inventory.eligibility_cache import EligibilityCache
from ecos_migration.store.devices import DeviceRecord

ON = date(2023, 7, 1)
POLICY = EligibilityPolicy(recently_commissioned_days=14, recent_change_of_supplier_days=28)
# Dates on both sides of each cut-off, on the snapshot date, and far before it.
OFFSETS = (None, 0, 1, 13, 14, 15, 27, 28, 29, 400)


def _day(offset: int | None) -> date | None:
    return None if offset is None else ON - timedelta(days=offset)


def test_cache_agrees_with_rule() -> None:
    cache = EligibilityCache(ON, POLICY)
    checked = 0
    for (
        generation,
        device_type,
        status,
        credential,
        comms,
        hub,
        commissioned,
        changed,
    ) in itertools.product(
        Generation,
        (DeviceType.ESME, DeviceType.GPF, DeviceType.CHF),
        (SmiStatus.COMMISSIONED, SmiStatus.INSTALLED_NOT_COMMISSIONED),
        (Credential.TCOS, Credential.UNKNOWN),
        CommsStatus,
        (None, SmiStatus.COMMISSIONED),
        OFFSETS,
        OFFSETS,
    ):
        record = DeviceRecord(
            "00DB1234567890A2",
            device_type,
            generation,
            status,
            commissioned_on=_day(commissioned),
            last_change_of_supplier_on=_day(changed),
            comms_status=comms,
            credential=credential,
        )
        facts = DeviceFacts(
            generation=generation,
            device_type=device_type,
            smi_status=status,
            credential=credential,
            comms_status=comms,
            migration_state=MigrationState.NOT_STARTED,
            hub_status=hub,
            commissioned_on=_day(commissioned),
            last_change_of_supplier_on=_day(changed),
        )
        expected = evaluate_device(facts, ON, POLICY)
        assert cache.evaluate(cache.key(record, hub)) == expected, facts
        checked += 1
    assert checked == 9600


def test_cache_key_drops_old_dates() -> None:
    cache = EligibilityCache(ON, POLICY)
    old = DeviceRecord(
        "00DB1234567890A2",
        DeviceType.ESME,
        Generation.SMETS2,
        SmiStatus.COMMISSIONED,
        commissioned_on=date(2020, 1, 1),
        last_change_of_supplier_on=date(2021, 1, 1),
    )
    older = old._replace(commissioned_on=date(2019, 5, 5), last_change_of_supplier_on=None)
    recent = old._replace(commissioned_on=ON - timedelta(days=3))
    assert cache.key(old, None) == cache.key(older, None)
    assert cache.key(recent, None) != cache.key(old, None)
