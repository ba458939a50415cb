"""Validation of one inventory row into a ``DeviceRecord``, shared by the CSV and DUIS readers.

Each field is checked on its own, so a row reports every invalid field at once.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import NamedTuple, TypeVar

from ecos_migration.domain.device import (
    CommsStatus,
    Credential,
    DeviceModelKey,
    DeviceType,
    Generation,
    SmiStatus,
)
from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.inventory.problems import Problem
from ecos_migration.store.devices import DeviceRecord

_T = TypeVar("_T")

_EUI64 = re.compile(r"^[0-9A-Fa-f]{2}(?:-?[0-9A-Fa-f]{2}){7}$")
_HEX_DIGITS = string.hexdigits
_ISO_DAY_FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

DEVICE_TYPES = {member.value: member for member in DeviceType}
GENERATIONS = {member.value: member for member in Generation}
SMI_STATUSES = {member.value: member for member in SmiStatus}
COMMS_STATUSES = {member.value: member for member in CommsStatus}
# Credentials an inventory may state; NOT_APPLICABLE is derived, never given.
CREDENTIALS = {c.value: c for c in (Credential.TCOS, Credential.ECOS, Credential.UNKNOWN)}

# Device types whose SMETS2 devices need manufacturer, model, firmware and supplier.
TYPES_NEEDING_MODEL = frozenset({DeviceType.ESME, DeviceType.GSME, DeviceType.GPF})

# Column widths of the store, so an over-long value is reported instead of failing the load.
MAX_LENGTHS = {
    "manufacturer": 64,
    "model": 64,
    "firmware_version": 64,
    "supplier_id": 32,
    "mpxn": 32,
}
_MAX_MANUFACTURER = MAX_LENGTHS["manufacturer"]
_MAX_MODEL = MAX_LENGTHS["model"]
_MAX_FIRMWARE = MAX_LENGTHS["firmware_version"]
_MAX_SUPPLIER = MAX_LENGTHS["supplier_id"]
_MAX_MPXN = MAX_LENGTHS["mpxn"]

# A supplier id names the supplier's report folder, so it must be safe as a file name.
# It contains only ASCII letters, digits, "-", "_" and ".", and starts with a letter or
# digit, which excludes "." and ".." and hidden names. It fits its column.
_SUPPLIER_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{_MAX_SUPPLIER - 1}}}")
SUPPLIER_ID_FORM = (
    "expected ASCII letters, digits, '-', '_' and '.', starting with a letter or digit, "
    f"at most {_MAX_SUPPLIER} characters"
)


def _one_of(values: Mapping[str, object]) -> str:
    return "expected one of " + ", ".join(values)


@dataclass
class RowCheck:
    """Collects the problems of one row while its fields are validated."""

    file: str
    location: str
    problems: list[Problem] = field(default_factory=list)

    def add(self, column: str | None, value: str | None, expected: str) -> None:
        """Record one invalid field."""
        self.problems.append(Problem(self.file, self.location, column, value, expected))

    def device_id(self, column: str, value: str, *, required: bool) -> str | None:
        """Return the canonical EUI-64 in ``value``, or ``None`` when empty or invalid."""
        if not value:
            if required:
                self.add(column, value, "a device id is required (EUI-64, 16 hex digits)")
            return None
        if _EUI64.match(value) is None:
            self.add(
                column,
                value,
                "expected an EUI-64: 16 hex digits, optionally with hyphens between byte "
                "pairs (00-DB-12-34-56-78-90-A0)",
            )
            return None
        return value.replace("-", "").upper()

    def choice(self, column: str, value: str, values: Mapping[str, _T]) -> _T | None:
        """Return the member ``value`` names, or ``None`` after recording a problem."""
        member = values.get(value)
        if member is None:
            self.add(column, value, _one_of(values))
        return member

    def day(self, column: str, value: str) -> date | None:
        """Return the ISO date in ``value``, ``None`` when empty or invalid."""
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            if _ISO_DAY_FORM.fullmatch(value):
                self.add(column, value, "not a real calendar date (YYYY-MM-DD)")
            else:
                self.add(column, value, "expected an ISO date YYYY-MM-DD")
            return None

    def supplier_id(self, column: str, value: str) -> str | None:
        """Return the supplier id in ``value``, ``None`` when empty or invalid."""
        if not value:
            return None
        if _SUPPLIER_ID.fullmatch(value) is None:
            self.add(column, value, SUPPLIER_ID_FORM)
            return None
        return value

    def text(self, column: str, value: str) -> str | None:
        """Return ``value`` or ``None`` when empty, after checking its length."""
        if not value:
            return None
        limit = MAX_LENGTHS.get(column)
        if limit is not None and len(value) > limit:
            self.add(column, value, f"at most {limit} characters")
        return value


def build_record(
    check: RowCheck,
    values: Mapping[str, str],
    policy: EligibilityPolicy,
    *,
    not_carried: frozenset[str] = frozenset(),
    on: date | None = None,
) -> DeviceRecord | None:
    """Validate the inventory fields in ``values`` and return the record, or ``None``.

    ``values`` maps the CSV column names to stripped text; an empty string means the field
    is empty. ``not_carried`` names the fields the source format does not carry at all, so
    they are not required. ``on`` is the snapshot date: a device commissioned later is
    invalid (no check when ``None``). Problems go to ``check``.
    """
    device_id = check.device_id("device_id", values["device_id"], required=True)
    device_type = check.choice("device_type", values["device_type"], DEVICE_TYPES)
    generation = check.choice("generation", values["generation"], GENERATIONS)
    smi_status = check.choice("smi_status", values["smi_status"], SMI_STATUSES)
    chf_id = check.device_id("chf_id", values["chf_id"], required=False)
    manufacturer = check.text("manufacturer", values["manufacturer"])
    model = check.text("model", values["model"])
    firmware = check.text("firmware_version", values["firmware_version"])
    supplier_text = values["supplier_id"]
    supplier_id = check.supplier_id("supplier_id", supplier_text)
    mpxn = check.text("mpxn", values["mpxn"])
    commissioned_on = check.day("commissioned_on", values["commissioned_on"])
    if on is not None and commissioned_on is not None and commissioned_on > on:
        check.add(
            "commissioned_on",
            values["commissioned_on"],
            f"the date is later than the snapshot date {on.isoformat()}: "
            "a device cannot be commissioned in the future",
        )
    changed_on = check.day("last_change_of_supplier_on", values["last_change_of_supplier_on"])
    comms_text = values["comms_status"]
    comms = check.choice("comms_status", comms_text, COMMS_STATUSES) if comms_text else None
    credential_text = values["cos_credential"]
    credential = (
        check.choice("cos_credential", credential_text, CREDENTIALS) if credential_text else None
    )

    needs_model = generation is Generation.SMETS2 and device_type in TYPES_NEEDING_MODEL
    if needs_model:
        for column, value in (
            ("manufacturer", manufacturer),
            ("model", model),
            ("firmware_version", firmware),
            ("supplier_id", supplier_text),
        ):
            if not value and column not in not_carried:
                check.add(column, "", f"required for a SMETS2 {device_type}")
    model_parts = (manufacturer, model, firmware)
    if not needs_model and any(model_parts) and not all(model_parts):
        check.add(
            "firmware_version" if manufacturer and model else "model",
            "",
            "manufacturer, model and firmware_version are given together or not at all",
        )
    gpf_without_hub = device_type is DeviceType.GPF and not values["chf_id"]
    if gpf_without_hub and "chf_id" not in not_carried:
        check.add("chf_id", "", "required for a GPF: the device id of its communications hub")

    if check.problems:
        return None
    assert device_id is not None and device_type is not None
    assert generation is not None and smi_status is not None
    if credential is None:
        in_scope = generation is Generation.SMETS2 and device_type in policy.in_scope_device_types
        credential = Credential.UNKNOWN if in_scope else Credential.NOT_APPLICABLE
    model_key = (
        DeviceModelKey(device_type, manufacturer, model, firmware)
        if manufacturer and model and firmware
        else None
    )
    return DeviceRecord(
        id=device_id,
        device_type=device_type,
        generation=generation,
        smi_status=smi_status,
        model_key=model_key,
        chf_id=chf_id,
        supplier_id=supplier_id,
        mpxn=mpxn,
        commissioned_on=commissioned_on,
        last_change_of_supplier_on=changed_on,
        comms_status=comms or CommsStatus.OK,
        credential=credential,
    )


# Parsed ISO dates by their text; inventories repeat a few thousand dates across millions
# of rows. Bounded, so a file of many distinct dates cannot grow it without end.
_DAYS: dict[str, date] = {}
_MAX_CACHED_DAYS = 100_000


def _cached_day(value: str) -> date | None:
    """Return the ISO date in ``value``, or ``None`` when it is not one (nothing recorded)."""
    day = _DAYS.get(value)
    if day is not None:
        return day
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    if len(_DAYS) < _MAX_CACHED_DAYS:
        _DAYS[value] = day
    return day


_MODEL_KEYS: dict[tuple[DeviceType, str, str, str], DeviceModelKey] = {}
_MAX_CACHED_MODEL_KEYS = 10_000


def _model_key(
    device_type: DeviceType, manufacturer: str, model: str, firmware: str
) -> DeviceModelKey:
    """Return the shared key object of a Device Model, since a fleet has a few hundred models."""
    parts = (device_type, manufacturer, model, firmware)
    key = _MODEL_KEYS.get(parts)
    if key is None:
        key = DeviceModelKey(*parts)
        if len(_MODEL_KEYS) < _MAX_CACHED_MODEL_KEYS:
            _MODEL_KEYS[parts] = key
    return key


# Supplier ids already matched against ``_SUPPLIER_ID``; a fleet has a few dozen suppliers.
_VALID_SUPPLIER_IDS: set[str] = set()
_MAX_CACHED_SUPPLIER_IDS = 10_000


def _is_supplier_id(value: str) -> bool:
    if value in _VALID_SUPPLIER_IDS:
        return True
    if _SUPPLIER_ID.fullmatch(value) is None:
        return False
    if len(_VALID_SUPPLIER_IDS) < _MAX_CACHED_SUPPLIER_IDS:
        _VALID_SUPPLIER_IDS.add(value)
    return True


def _canonical_eui64(value: str) -> str | None:
    """Return the EUI-64 in ``value`` as 16 upper-case hex digits, or ``None`` if invalid.

    Accepts what ``_EUI64`` accepts. The plain 16-digit form, nearly every id of an
    inventory, is checked without the regular expression: a string of 16 characters is an
    EUI-64 exactly when stripping every hex digit from both ends leaves nothing.
    """
    if len(value) == 16:
        return value.upper() if not value.strip(_HEX_DIGITS) else None
    if _EUI64.match(value) is None:
        return None
    return value.replace("-", "").upper()


def quick_record(
    values: tuple[str, ...], policy: EligibilityPolicy, on: date | None = None
) -> DeviceRecord | None:
    """Return the record of an inventory row that passes every check, else ``None``.

    ``values`` contains the stripped fields in ``INVENTORY_COLUMNS`` order. This applies the
    checks of ``build_record`` in one pass with dictionary lookups and no problem
    collection, because nearly every row of a large file is valid. ``None`` only means
    "not certainly valid": the caller then runs ``build_record``, which is the one source
    of the error messages. So both functions accept the same rows and build the same
    record; a unit test compares them.
    """
    (
        id_text,
        type_text,
        generation_text,
        status_text,
        manufacturer,
        model,
        firmware,
        chf_text,
        supplier_id,
        mpxn,
        commissioned_text,
        changed_text,
        comms_text,
        credential_text,
    ) = values
    device_type = DEVICE_TYPES.get(type_text)
    generation = GENERATIONS.get(generation_text)
    smi_status = SMI_STATUSES.get(status_text)
    if device_type is None or generation is None or smi_status is None:
        return None
    device_id = _canonical_eui64(id_text)
    if device_id is None:
        return None
    chf_id = None
    if chf_text:
        chf_id = _canonical_eui64(chf_text)
        if chf_id is None:
            return None
    elif device_type is DeviceType.GPF:
        return None
    if (
        len(manufacturer) > _MAX_MANUFACTURER
        or len(model) > _MAX_MODEL
        or len(firmware) > _MAX_FIRMWARE
        or len(mpxn) > _MAX_MPXN
    ):
        return None
    if supplier_id and supplier_id not in _VALID_SUPPLIER_IDS and not _is_supplier_id(supplier_id):
        return None
    commissioned_on = changed_on = None
    if commissioned_text:
        commissioned_on = _DAYS.get(commissioned_text) or _cached_day(commissioned_text)
        if commissioned_on is None:
            return None
        if on is not None and commissioned_on > on:
            return None
    if changed_text:
        changed_on = _DAYS.get(changed_text) or _cached_day(changed_text)
        if changed_on is None:
            return None
    comms = CommsStatus.OK
    if comms_text:
        found_comms = COMMS_STATUSES.get(comms_text)
        if found_comms is None:
            return None
        comms = found_comms
    has_model = bool(manufacturer and model and firmware)
    if generation is Generation.SMETS2 and device_type in TYPES_NEEDING_MODEL:
        if not (has_model and supplier_id):
            return None
    elif not has_model and (manufacturer or model or firmware):
        return None
    if credential_text:
        credential = CREDENTIALS.get(credential_text)
        if credential is None:
            return None
    elif generation is Generation.SMETS2 and device_type in policy.in_scope_device_types:
        credential = Credential.UNKNOWN
    else:
        credential = Credential.NOT_APPLICABLE
    model_key = None
    if has_model:
        model_key = _MODEL_KEYS.get((device_type, manufacturer, model, firmware))
        if model_key is None:
            model_key = _model_key(device_type, manufacturer, model, firmware)
    return _new_record(
        (
            device_id,
            device_type,
            generation,
            smi_status,
            model_key,
            chf_id,
            supplier_id or None,
            mpxn or None,
            commissioned_on,
            changed_on,
            comms,
            credential,
        )
    )


# Build a ``DeviceRecord`` from a tuple of all its fields in order, through ``tuple.__new__``
# in C: the named tuple's own ``__new__`` is a Python function, and this path runs once per
# valid row.
_new_record: Callable[[tuple[object, ...]], DeviceRecord] = partial(tuple.__new__, DeviceRecord)


class ParsedRow(NamedTuple):
    """One row (or DUIS Device element) of an input file after validation.

    ``record`` is ``None`` exactly when ``problems`` is not empty. ``values`` are the
    original field values as read, named by ``names`` in the same order; ``raw`` pairs
    them for the rejects file when the row is rejected. ``absent`` names device columns
    this row does not carry although its format can, so a known device keeps its stored
    value for them.

    A named tuple, as ``DeviceRecord``: one is built per row, and a tuple is built
    several times faster than a frozen dataclass. The fields are kept as the reader's
    sequence rather than a dictionary, which would be built for every valid row and
    used only for the few rejected ones.
    """

    location: str
    line: int
    record: DeviceRecord | None
    problems: list[Problem]
    values: Sequence[str]
    names: Sequence[str]
    absent: frozenset[str] = frozenset()

    @property
    def raw(self) -> dict[str, str]:
        """The original field values by column (or element) name.

        A row with more fields than names keeps only the named ones; one with fewer lacks
        the names past its last field.
        """
        return dict(zip(self.names, self.values, strict=False))


# Build a ``ParsedRow`` from a tuple of all its fields in order; see ``_new_record``.
new_parsed_row: Callable[[tuple[object, ...]], ParsedRow] = partial(tuple.__new__, ParsedRow)
