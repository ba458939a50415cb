"""Reason text on the public Non-Migratable list names no device or supplier."""

import pytest

from ecos_migration.reporting.public import (
    DEVICE_PLACEHOLDER,
    SUPPLIER_PLACEHOLDER,
    redact_reason,
)


@pytest.mark.parametrize(
    "device_id", ["37730EDFAFBD67F9", "37730edfafbd67f9", "37-73-0E-DF-AF-BD-67-F9"]
)
def test_device_ids_redacted(device_id: str) -> None:
    text = redact_reason(f"firmware defect seen on device {device_id} during proving", [])
    assert device_id not in text
    assert DEVICE_PLACEHOLDER in text


def test_supplier_ids_redacted() -> None:
    text = redact_reason("reported by SUP08 and SUP080 on the same day", ["SUP08", "SUP080"])
    assert "SUP08" not in text
    assert text == f"reported by {SUPPLIER_PLACEHOLDER} and {SUPPLIER_PLACEHOLDER} on the same day"


def test_other_words_kept() -> None:
    text = redact_reason("rejects the replacement command on firmware 0002012F", ["SUP08"])
    assert text == "rejects the replacement command on firmware 0002012F"
