"""The batch form of the selection key gives the same keys as ``selection_key``."""

from __future__ import annotations

import pytest

from ecos_migration.store.devices import selection_key, selection_keys


@pytest.mark.parametrize("seed", [0, 1, 7, 2**63 - 1, 2**64 - 1])
def test_selection_keys_match(seed: int) -> None:
    key_of = selection_keys(seed)
    ids = [f"{n * 16:016X}" for n in range(1, 200)]
    assert [key_of(device_id) for device_id in ids] == [selection_key(seed, i) for i in ids]
