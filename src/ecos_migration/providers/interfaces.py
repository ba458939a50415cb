"""What the engine needs from the TCoS and ECoS Service Providers and from reading devices.

Every call takes and returns a batch. Every instruction carries a stable attempt id: a
provider that receives an attempt id again returns the result it gave the first time and does
nothing twice, so the engine can replay a step after a crash without migrating a device twice
or losing an outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ecos_migration.domain.device import Credential


@dataclass(frozen=True, slots=True)
class Instruction:
    """One device's migration attempt as sent to a provider.

    ``model`` is the device's Device Model as ``TYPE/MANUFACTURER/MODEL/FIRMWARE``.
    """

    attempt_id: str
    device_id: str
    model: str


@dataclass(frozen=True, slots=True)
class StepResult:
    """The answer to one instruction: success, or the code of the error kind that occurred."""

    attempt_id: str
    error_code: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the step succeeded."""
        return self.error_code is None


class TcosServiceProvider(Protocol):
    """The Transitional CoS Service Provider: it reviews and performs the replacement."""

    def instruct(self, batch: Sequence[Instruction]) -> list[StepResult]:
        """Accept (or reject) the instruction to migrate each device."""
        ...

    def review(self, batch: Sequence[Instruction]) -> list[StepResult]:
        """Review whether migration can start for each device."""
        ...

    def replace(self, batch: Sequence[Instruction]) -> list[StepResult]:
        """Send each device the signed command that replaces the TCoS certificate with the
        ECoS certificate, and return its answer (``NO_RESPONSE`` when the answer was lost)."""
        ...


class EcosServiceProvider(Protocol):
    """The ECoS Service Provider: it reconciles its records with the TCoS Service Provider's."""

    def reconcile(self, batch: Sequence[Instruction]) -> list[StepResult]:
        """Reconcile the records of each migrated device."""
        ...


class CredentialReader(Protocol):
    """Reads which CoS certificate devices hold."""

    def read(self, device_ids: Sequence[str]) -> Mapping[str, Credential]:
        """Return the credential each device has now."""
        ...
