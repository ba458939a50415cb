"""Device-level eligibility of the devices of one import, evaluated once per compact key.

A fleet has millions of devices but few distinct combinations of the facts the rule reads,
once dates that cannot start a transient condition on the snapshot date are left out. The
rule is a pure function of those facts and the date, so one result serves every device
with an equal key.
"""

from __future__ import annotations

from datetime import date, timedelta

from ecos_migration.domain.device import (
    CommsStatus,
    Credential,
    DeviceType,
    Generation,
    MigrationState,
    SmiStatus,
)
from ecos_migration.domain.eligibility import (
    DeviceEligibility,
    DeviceFacts,
    EligibilityPolicy,
    evaluate_device,
)
from ecos_migration.store.devices import DeviceRecord

# Generation, device type, SMI status, credential, communications status, hub status, and
# the commissioning and change-of-supplier dates that can still start a transient condition.
FactsKey = tuple[
    Generation,
    DeviceType,
    SmiStatus,
    Credential,
    CommsStatus,
    SmiStatus | None,
    date | None,
    date | None,
]

# Entries of the cache, a bound on its memory. When full it is emptied and fills again from
# the rows that follow.
MAX_CACHED_RESULTS = 200_000


def _days_before(on: date, days: int) -> date:
    """Return ``on`` minus ``days`` days, or the earliest date when that is out of range."""
    try:
        return on - timedelta(days=days)
    except OverflowError:
        return date.min


class EligibilityCache:
    """Results of ``evaluate_device`` on date ``on`` for devices not yet migrated.

    ``results`` maps a ``FactsKey`` to its result; callers look a key up there first and
    call ``evaluate`` when it is missing.
    """

    def __init__(self, on: date, policy: EligibilityPolicy) -> None:
        self.on = on
        self.policy = policy
        self.results: dict[FactsKey, DeviceEligibility] = {}
        # RECENTLY_COMMISSIONED holds on ``on`` only for a date after this cut-off, and
        # RECENT_CHANGE_OF_SUPPLIER only for a date after the second one.
        self.commissioned_cutoff = _days_before(on, policy.recently_commissioned_days)
        self.change_cutoff = _days_before(on, policy.recent_change_of_supplier_days)

    def key(self, record: DeviceRecord, hub: SmiStatus | None) -> FactsKey:
        """Return the facts of ``record`` that decide its eligibility on ``on``.

        ``hub`` is the SMI status of a GPF's communications hub. A date on or before its
        cut-off is replaced by ``None``: it starts no transient condition on ``on``, so the
        rule gives the same result without it, and the key repeats across more devices.
        """
        commissioned = record.commissioned_on
        if commissioned is not None and commissioned <= self.commissioned_cutoff:
            commissioned = None
        changed = record.last_change_of_supplier_on
        if changed is not None and changed <= self.change_cutoff:
            changed = None
        return (
            record.generation,
            record.device_type,
            record.smi_status,
            record.credential,
            record.comms_status,
            hub,
            commissioned,
            changed,
        )

    def evaluate(self, key: FactsKey) -> DeviceEligibility:
        """Return the result for ``key``, evaluating the rule on a cache miss."""
        found = self.results.get(key)
        if found is not None:
            return found
        generation, device_type, smi_status, credential, comms, hub, commissioned, changed = key
        facts = DeviceFacts(
            generation=generation,
            device_type=device_type,
            smi_status=smi_status,
            credential=credential,
            comms_status=comms,
            migration_state=MigrationState.NOT_STARTED,
            hub_status=hub,
            commissioned_on=commissioned,
            last_change_of_supplier_on=changed,
        )
        found = evaluate_device(facts, self.on, self.policy)
        if len(self.results) >= MAX_CACHED_RESULTS:
            self.results.clear()
        self.results[key] = found
        return found
