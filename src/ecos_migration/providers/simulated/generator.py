"""Generating a realistic simulated fleet: premises, Device Models, suppliers and evidence.

The generator is seeded, so the same seed and size give the same fleet. It builds premises
of a communications hub (CHF), an electricity meter and, for most, a gas meter behind a GPF;
some premises are SMETS1. A few devices are not commissioned, or have failed
communications, or changed supplier or were commissioned just before the live date.

One ESME model (``DEFECT_MODEL``) carries a firmware defect: its devices reject the
replacement command. ``FIXED_MODEL`` is its fixed firmware, to which ``upgrade_snapshot``
moves part of its devices.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from ecos_migration.domain.device import (
    CommsStatus,
    Credential,
    DeviceModelKey,
    DeviceType,
    Generation,
    SmiStatus,
)
from ecos_migration.domain.evidence import Evidence, EvidenceKind, EvidenceSource
from ecos_migration.store.devices import DeviceRecord

DEFECT_MODEL = DeviceModelKey(DeviceType.ESME, "DF01", "E470", "0001")
FIXED_MODEL = DeviceModelKey(DeviceType.ESME, "DF01", "E470", "0002")

_MANUFACTURERS = ("AB01", "C2E4", "1B07", "5A3F", "77D0", "E011")


@dataclass(frozen=True)
class GeneratedFleet:
    """A generated inventory with the evidence suppliers hold for it."""

    devices: list[DeviceRecord]
    evidence_keys: list[tuple[DeviceModelKey, EvidenceKind, date]]
    late_evidence_keys: list[tuple[DeviceModelKey, EvidenceKind, date]]
    models: list[DeviceModelKey]


def _models(rng: random.Random) -> dict[DeviceType, list[DeviceModelKey]]:
    def make(device_type: DeviceType, count: int, prefix: str) -> list[DeviceModelKey]:
        return [
            DeviceModelKey(
                device_type,
                _MANUFACTURERS[n % len(_MANUFACTURERS)],
                f"{prefix}{n:02d}",
                f"{rng.randrange(1, 0xFFFF):08X}",
            )
            for n in range(count)
        ]

    return {
        DeviceType.ESME: [*make(DeviceType.ESME, 12, "E"), DEFECT_MODEL],
        DeviceType.GSME: make(DeviceType.GSME, 10, "G"),
        DeviceType.GPF: make(DeviceType.GPF, 6, "P"),
        DeviceType.CHF: make(DeviceType.CHF, 4, "H"),
    }


def _smets1_models() -> list[DeviceModelKey]:
    return [
        DeviceModelKey(DeviceType.ESME, "S1A0", "S1E", "0100"),
        DeviceModelKey(DeviceType.GSME, "S1A0", "S1G", "0100"),
        DeviceModelKey(DeviceType.ESME, "S1B0", "S1E", "0200"),
        DeviceModelKey(DeviceType.GSME, "S1B0", "S1G", "0200"),
    ]


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def next(self) -> str:
        while True:
            value = f"{self.rng.getrandbits(64):016X}"
            if value not in self.used:
                self.used.add(value)
                return value


def generate_fleet(devices: int, seed: int, live_date: date) -> GeneratedFleet:
    """Generate about ``devices`` devices whose inventory is as of ``live_date``."""
    rng = random.Random(seed)
    models = _models(rng)
    smets1 = _smets1_models()
    suppliers = [f"SUP{n:02d}" for n in range(1, 21)]
    ids = _Ids(rng)
    records: list[DeviceRecord] = []

    def weighted(choices: list[DeviceModelKey]) -> DeviceModelKey:
        # The defect model is kept small so its proving and suspension show in a demo.
        weights = [0.3 if key == DEFECT_MODEL else 1.0 for key in choices]
        return rng.choices(choices, weights)[0]

    def commissioned() -> date:
        if rng.random() < 0.02:
            return live_date - timedelta(days=rng.randrange(0, 14))
        return live_date - timedelta(days=rng.randrange(30, 1800))

    def status(default: SmiStatus) -> SmiStatus:
        value = rng.random()
        if value < 0.02:
            return SmiStatus.INSTALLED_NOT_COMMISSIONED
        if value < 0.03:
            return SmiStatus.DECOMMISSIONED
        return default

    def meter(
        device_type: DeviceType, key: DeviceModelKey, supplier: str, hub: str | None
    ) -> DeviceRecord:
        change = live_date - timedelta(days=rng.randrange(0, 40)) if rng.random() < 0.05 else None
        return DeviceRecord(
            id=ids.next(),
            device_type=device_type,
            generation=Generation.SMETS2,
            smi_status=status(SmiStatus.COMMISSIONED),
            model_key=key,
            chf_id=hub,
            supplier_id=supplier,
            mpxn=str(rng.randrange(10**12, 10**13)),
            commissioned_on=commissioned(),
            last_change_of_supplier_on=change,
            comms_status=CommsStatus.FAILED if rng.random() < 0.015 else CommsStatus.OK,
            credential=Credential.UNKNOWN if rng.random() < 0.005 else Credential.TCOS,
        )

    while len(records) < devices:
        supplier = rng.choice(suppliers)
        if rng.random() < 0.08:
            for device_type, key in (
                (DeviceType.ESME, rng.choice(smets1[0::2])),
                (DeviceType.GSME, rng.choice(smets1[1::2])),
            ):
                records.append(
                    DeviceRecord(
                        id=ids.next(),
                        device_type=device_type,
                        generation=Generation.SMETS1,
                        smi_status=SmiStatus.COMMISSIONED,
                        model_key=key,
                        supplier_id=supplier,
                        commissioned_on=live_date - timedelta(days=rng.randrange(400, 3000)),
                        credential=Credential.NOT_APPLICABLE,
                    )
                )
            continue
        hub = DeviceRecord(
            id=ids.next(),
            device_type=DeviceType.CHF,
            generation=Generation.SMETS2,
            smi_status=status(SmiStatus.COMMISSIONED),
            model_key=rng.choice(models[DeviceType.CHF]),
            supplier_id=supplier,
            commissioned_on=commissioned(),
            credential=Credential.NOT_APPLICABLE,
        )
        records.append(hub)
        records.append(meter(DeviceType.ESME, weighted(models[DeviceType.ESME]), supplier, hub.id))
        if rng.random() < 0.7:
            records.append(
                meter(DeviceType.GPF, rng.choice(models[DeviceType.GPF]), supplier, hub.id)
            )
            records.append(
                meter(DeviceType.GSME, rng.choice(models[DeviceType.GSME]), supplier, hub.id)
            )

    in_scope_models = [*models[DeviceType.ESME], *models[DeviceType.GSME], *models[DeviceType.GPF]]
    evidence: list[tuple[DeviceModelKey, EvidenceKind, date]] = []
    late: list[tuple[DeviceModelKey, EvidenceKind, date]] = []
    for index, key in enumerate(in_scope_models):
        # TCoS to TCoS transfers were done before go-live on most models.
        if index % 7 != 6:
            evidence.append(
                (key, EvidenceKind.CERTIFICATE_REPLACEMENT_TCOS_TO_TCOS, date(2022, 3, 1))
            )
        # SRV 6.23 evidence: most models have it, a few only later in the period.
        if index % 5 == 4:
            late.append((key, EvidenceKind.SRV_6_23_SUCCESS, live_date + timedelta(days=90)))
        else:
            late.append((key, EvidenceKind.SRV_6_23_SUCCESS, live_date + timedelta(days=10)))
    late.append((FIXED_MODEL, EvidenceKind.SRV_6_23_SUCCESS, live_date + timedelta(days=140)))
    return GeneratedFleet(records, evidence, late, [*in_scope_models, *models[DeviceType.CHF]])


def evidence_rows(
    fleet: GeneratedFleet,
    keys: list[tuple[DeviceModelKey, EvidenceKind, date]],
    model_ids: dict[DeviceModelKey, int],
    until: date | None = None,
    since: date | None = None,
) -> list[Evidence]:
    """Return imported evidence for ``keys`` dated in [since, until], on a device of each model."""
    first_device: dict[DeviceModelKey, str] = {}
    for record in fleet.devices:
        if record.model_key is not None and record.model_key not in first_device:
            first_device[record.model_key] = record.id
    rows: list[Evidence] = []
    for key, kind, on in keys:
        if until is not None and on > until:
            continue
        if since is not None and on < since:
            continue
        if key not in model_ids:
            continue
        rows.append(
            Evidence(
                device_id=first_device.get(key, "0000000000000000"),
                kind=kind,
                occurred_on=on,
                source=EvidenceSource.IMPORTED,
                model_id=model_ids[key],
                reference=f"supplier evidence {on.isoformat()}",
            )
        )
    return rows


def upgrade_snapshot(fleet: GeneratedFleet, share: float, seed: int) -> list[DeviceRecord]:
    """Return a snapshot moving ``share`` of the defect model's devices to the fixed firmware."""
    rng = random.Random(seed + 1)
    return [
        record._replace(model_key=FIXED_MODEL)
        for record in fleet.devices
        if record.model_key == DEFECT_MODEL and rng.random() < share
    ]


DEMO_SCENARIO = f"""\
# Failure profiles of the demo fleet. Every value is a probability from 0 to 1.
[default]
instruction_rejected = 0.002
review_cos_in_flight = 0.004
review_refused = 0.002
comms_failure = 0.006
command_rejected = 0.001
error_response = 0.003
lost_answer = 0.004
reconciliation_mismatch = 0.002

# The firmware defect: most devices of this model reject the replacement command.
[[model]]
model = "{DEFECT_MODEL}"
command_rejected = 0.9
"""
