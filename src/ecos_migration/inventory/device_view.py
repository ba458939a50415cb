"""What ``device show`` prints: a device's facts, Device Model, eligibility, evidence, events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection

from ecos_migration.domain.device import canonical_device_id
from ecos_migration.domain.eligibility import EligibilityPolicy, evaluate_device, primary_reason
from ecos_migration.domain.models import model_condition
from ecos_migration.errors import InputError, NotFoundError
from ecos_migration.store.devices import get_device
from ecos_migration.store.events import device_events
from ecos_migration.store.evidence import evidence_for_device
from ecos_migration.store.inventory import get_device_facts
from ecos_migration.store.models import ModelRecord, get_model_by_id


def _json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass(frozen=True, slots=True)
class DeviceView:
    """Everything ``device show`` prints about one device."""

    facts: dict[str, Any]
    model: ModelRecord | None
    on: date
    reason: str | None
    reason_description: str | None
    eligible_again_on: date | None
    evidence: list[dict[str, Any]]
    events: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """Return the view in the JSON form of ``device show --json``."""
        return {
            "device": {key: _json_value(value) for key, value in self.facts.items()},
            "model": str(self.model.key) if self.model else None,
            "model_state": self.model.state.value if self.model else None,
            "eligibility": {
                "on": self.on.isoformat(),
                "eligible": self.reason is None,
                "reason": self.reason,
                "description": self.reason_description,
                "eligible_again_on": _json_value(self.eligible_again_on),
            },
            "evidence": [{k: _json_value(v) for k, v in item.items()} for item in self.evidence],
            "events": [{k: _json_value(v) for k, v in item.items()} for item in self.events],
        }


def show_device(
    connection: Connection, text: str, on: date, policy: EligibilityPolicy
) -> DeviceView:
    """Return the view of the device ``text`` names (either EUI-64 spelling) on ``on``."""
    try:
        device_id = canonical_device_id(text)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    row = get_device(connection, device_id)
    facts = get_device_facts(connection, device_id)
    if row is None or facts is None:
        raise NotFoundError(f"device {device_id} is not in the inventory")
    model = get_model_by_id(connection, row["model_id"]) if row["model_id"] else None
    device_result = evaluate_device(facts, on, policy)
    condition = model_condition(model.state) if model else None
    reason = (
        primary_reason(device_result.reason, condition)
        if condition is not None
        else device_result.reason
    )
    # The date only holds when the primary reason is the passing device-level one.
    again = device_result.until if reason is device_result.reason else None
    facts_out = dict(row)
    facts_out["hub_status"] = facts.hub_status.value if facts.hub_status else None
    return DeviceView(
        facts=facts_out,
        model=model,
        on=on,
        reason=reason.value if reason else None,
        reason_description=reason.description if reason else None,
        eligible_again_on=again,
        evidence=[
            {
                "kind": item.kind.value,
                "occurred_on": item.occurred_on,
                "source": item.source.value,
                "reference": item.reference,
                "model_id": item.model_id,
            }
            for item in evidence_for_device(connection, device_id)
        ],
        events=[
            {key: value for key, value in event.items() if key != "device_id"}
            for event in device_events(connection, device_id)
        ],
    )
