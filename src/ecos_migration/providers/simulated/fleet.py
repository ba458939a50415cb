"""Keeping the simulated fleet in step with the inventory, and the truth check."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from ecos_migration.domain.device import Credential
from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.providers.simulated.parties import SimulatedParties
from ecos_migration.store.attempts import in_scope_credentials


def sync_fleet(engine: Engine, parties: SimulatedParties, policy: EligibilityPolicy) -> int:
    """Add every in-scope device of the inventory that the simulator does not know yet.

    A new simulated device trusts the certificate its record names; a device recorded
    UNKNOWN is given the TCoS certificate, as every device held one before the migration.
    Return how many devices were added.
    """
    types = [t.value for t in policy.in_scope_device_types]
    added = 0
    with engine.connect() as connection:
        for batch in in_scope_credentials(connection, types):
            anchors = {
                device_id: (
                    parties.ecos_anchor
                    if credential == Credential.ECOS.value
                    else parties.tcos_anchor
                )
                for device_id, credential in batch
            }
            added += parties.state.add_devices(anchors)
    return added


@dataclass(frozen=True, slots=True)
class TruthMismatch:
    """A device whose recorded credential differs from the certificate it really trusts."""

    device_id: str
    recorded: str
    actual: str


def truth_check(
    engine: Engine, parties: SimulatedParties, policy: EligibilityPolicy
) -> list[TruthMismatch]:
    """Compare each in-scope device's recorded credential with its simulated trust anchor.

    Devices recorded UNKNOWN are skipped: the product does not claim to know them.
    """
    anchors = parties.state.all_anchors()
    types = [t.value for t in policy.in_scope_device_types]
    mismatches: list[TruthMismatch] = []
    with engine.connect() as connection:
        for batch in in_scope_credentials(connection, types):
            for device_id, recorded in batch:
                if recorded == Credential.UNKNOWN.value:
                    continue
                actual = parties.credential_of(anchors.get(device_id))
                if actual.value != recorded:
                    mismatches.append(TruthMismatch(device_id, recorded, actual.value))
    return mismatches
