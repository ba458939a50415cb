"""The simulated TCoS and ECoS Service Providers and the devices they talk to.

Outcomes are drawn from the scenario with a keyed hash of (seed, attempt id, step, fault),
never from a shared random stream, so the same seed gives the same outcome for an attempt
whatever the batch sizes or the point at which a run was interrupted.

Every replacement command is really signed by the TCoS key (ECDSA P-256 with SHA-256) and
really verified by the device against its own trust anchor: a device accepts only a command
signed with the key of the certificate it trusts.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from operator import attrgetter
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ecos_migration.domain.device import Credential
from ecos_migration.providers.interfaces import Instruction, StepResult
from ecos_migration.providers.simulated.pki import Party
from ecos_migration.providers.simulated.scenario import FailureProfile, Scenario
from ecos_migration.providers.simulated.state import SimulatorState

logger = logging.getLogger(__name__)

_SIGNATURE = ec.ECDSA(hashes.SHA256())
_UNIT = float(1 << 53)
_DIGEST_SIZE = 8

# The faults of the steps that change nothing on the device, in the order they are drawn.
_INSTRUCT_FAULTS = (("instruction_rejected", "INSTRUCTION_REJECTED"),)
_REVIEW_FAULTS = (
    ("review_cos_in_flight", "REVIEW_COS_IN_FLIGHT"),
    ("review_refused", "REVIEW_REFUSED"),
)


def _draw_key(seed: int) -> bytes:
    return seed.to_bytes(8, "big", signed=False)


def draw(seed: int, attempt_id: str, step: str, fault: str) -> float:
    """Return a number in [0, 1) fixed by the seed, the attempt, the step and the fault.

    This is the definition of every draw; ``SimulatedParties`` computes the same values
    from a copy of a hasher already keyed with the seed.
    """
    digest = hashlib.blake2b(
        f"{attempt_id}|{step}|{fault}".encode(),
        digest_size=_DIGEST_SIZE,
        key=_draw_key(seed),
    ).digest()
    return (int.from_bytes(digest, "big") >> 11) / _UNIT


@lru_cache(maxsize=16)
def _public_key(anchor: bytes) -> ec.EllipticCurvePublicKey:
    key = serialization.load_der_public_key(anchor)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("a trust anchor does not hold an EC public key")
    return key


def replacement_command(instruction: Instruction, new_certificate: bytes) -> bytes:
    """Return the bytes of the command replacing a device's CoS certificate.

    It names the attempt and the device and carries the new certificate, so a signature
    over it cannot be replayed to another device.
    """
    return b"|".join(
        (
            b"REPLACE_COS_CERTIFICATE",
            instruction.attempt_id.encode(),
            instruction.device_id.encode(),
            new_certificate,
        )
    )


def sign_command(party: Party, command: bytes) -> bytes:
    """Sign a command with the party's key (ECDSA P-256, SHA-256)."""
    return party.private_key.sign(command, _SIGNATURE)


def device_accepts(anchor: bytes, command: bytes, signature: bytes) -> bool:
    """Return whether a device trusting ``anchor`` accepts a command with ``signature``."""
    try:
        _public_key(anchor).verify(signature, command, _SIGNATURE)
    except InvalidSignature:
        return False
    return True


def _cumulative(
    profile: FailureProfile, faults: Sequence[tuple[str, str]]
) -> tuple[tuple[float, str], ...]:
    """Return each fault's upper bound on the draw, summed in the order the faults are drawn."""
    bounds: list[tuple[float, str]] = []
    threshold = 0.0
    for attribute, error_code in faults:
        threshold += getattr(profile, attribute)
        bounds.append((threshold, error_code))
    return tuple(bounds)


class _Thresholds(NamedTuple):
    """A Device Model's fault probabilities as upper bounds on each step's draw.

    Each bound is the running sum of the probabilities in the order the faults are drawn,
    so a draw below it, and not below the bound before, gives that fault. A step whose last
    bound is 0 can give no fault, so its draw is skipped.
    """

    instruct: tuple[tuple[float, str], ...]
    review: tuple[tuple[float, str], ...]
    comms_failure: float
    command_rejected: float
    error_response: float
    lost_answer: float
    reconciliation_mismatch: float

    @classmethod
    def of(cls, profile: FailureProfile) -> _Thresholds:
        command_rejected = profile.comms_failure + profile.command_rejected
        error_response = command_rejected + profile.error_response
        return cls(
            instruct=_cumulative(profile, _INSTRUCT_FAULTS),
            review=_cumulative(profile, _REVIEW_FAULTS),
            comms_failure=profile.comms_failure,
            command_rejected=command_rejected,
            error_response=error_response,
            lost_answer=error_response + profile.lost_answer,
            reconciliation_mismatch=profile.reconciliation_mismatch,
        )


class SimulatedParties:
    """The TCoS Service Provider, the ECoS Service Provider and the credential reader.

    One object plays all three because they share the simulated fleet; the engine sees each
    through its own interface. ``fail_before`` lets tests interrupt a call at a chosen step,
    as a crash would, before the call has any effect.
    """

    def __init__(self, state: SimulatorState, scenario: Scenario, seed: int) -> None:
        self.state = state
        self._scenario = scenario
        self.seed = seed
        self.tcos_anchor = state.pki.tcos.public_key_der()
        self.ecos_anchor = state.pki.ecos.public_key_der()
        self.ecos_certificate = state.pki.ecos.certificate_der()
        self.signer: Party = state.pki.tcos
        self.fail_before: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        # Copied for each draw, so the key block is hashed once per seed, not once per draw.
        self._keyed_hasher = hashlib.blake2b(digest_size=_DIGEST_SIZE, key=_draw_key(seed))
        self._thresholds: dict[str, _Thresholds] = {}

    @property
    def scenario(self) -> Scenario:
        """The failure profiles; fixed for the object's life, because their bounds are cached."""
        return self._scenario

    def _enter(self, step: str) -> None:
        count = self.calls.get(step, 0) + 1
        self.calls[step] = count
        if self.fail_before.get(step) == count:
            raise SimulatedCrashError(f"simulated crash before {step} call {count}")

    def _draw(self, attempt_id: str, step_and_fault: str) -> float:
        """Return ``draw(self.seed, attempt_id, step, fault)``; pass ``"|STEP|fault"``."""
        hasher = self._keyed_hasher.copy()
        hasher.update((attempt_id + step_and_fault).encode())
        return (int.from_bytes(hasher.digest(), "big") >> 11) / _UNIT

    def _thresholds_of(self, model: str) -> _Thresholds:
        thresholds = self._thresholds.get(model)
        if thresholds is None:
            thresholds = _Thresholds.of(self._scenario.profile(model))
            self._thresholds[model] = thresholds
        return thresholds

    def _simple_step(
        self,
        step: str,
        batch: Sequence[Instruction],
        bounds_of: Callable[[_Thresholds], tuple[tuple[float, str], ...]],
    ) -> list[StepResult]:
        """Answer a step whose faults are drawn in order and change nothing on the device."""
        self._enter(step)
        step_and_fault = f"|{step}|fault"
        with self.state.transaction():
            known = self.state.results(step, [i.attempt_id for i in batch])
            new: list[tuple[str, str | None]] = []
            for instruction in batch:
                attempt_id = instruction.attempt_id
                if attempt_id in known:
                    continue
                bounds = bounds_of(self._thresholds_of(instruction.model))
                code: str | None = None
                if bounds[-1][0] > 0.0:
                    value = self._draw(attempt_id, step_and_fault)
                    for bound, error_code in bounds:
                        if value < bound:
                            code = error_code
                            break
                new.append((attempt_id, code))
            self.state.remember(step, new)
        known.update(new)
        return [StepResult(i.attempt_id, known[i.attempt_id]) for i in batch]

    def instruct(self, batch: Sequence[Instruction]) -> list[StepResult]:
        """Accept the instruction, or reject it (INSTRUCTION_REJECTED)."""
        return self._simple_step("INSTRUCT", batch, attrgetter("instruct"))

    def review(self, batch: Sequence[Instruction]) -> list[StepResult]:
        """Start the migration, or refuse (REVIEW_COS_IN_FLIGHT, REVIEW_REFUSED)."""
        return self._simple_step("REVIEW", batch, attrgetter("review"))

    def _replace_one(
        self, instruction: Instruction, anchor: bytes | None, signature: bytes, command: bytes
    ) -> tuple[str | None, bool]:
        """Return (error code, whether the device now trusts the ECoS certificate)."""
        thresholds = self._thresholds_of(instruction.model)
        # With every bound at 0 no draw gives a fault, so 1.0 replaces the skipped draw.
        value = 1.0
        if thresholds.lost_answer > 0.0:
            value = self._draw(instruction.attempt_id, "|REPLACE|fault")
        if anchor is None or value < thresholds.comms_failure:
            return "COMMS_FAILURE", False
        # The device checks the signature before anything else it does with the command.
        if not device_accepts(anchor, command, signature):
            return "COMMAND_REJECTED", False
        if value < thresholds.command_rejected:
            return "COMMAND_REJECTED", False
        if value < thresholds.error_response:
            return "ERROR_RESPONSE", False
        if value < thresholds.lost_answer:
            reached = self._draw(instruction.attempt_id, "|REPLACE|reached") < 0.5
            return "NO_RESPONSE", reached
        return None, True

    def replace(self, batch: Sequence[Instruction]) -> list[StepResult]:
        """Sign each replacement command with the TCoS key and let each device verify it."""
        self._enter("REPLACE")
        with self.state.transaction():
            known = self.state.results("REPLACE", [i.attempt_id for i in batch])
            todo = [i for i in batch if i.attempt_id not in known]
            anchors = self.state.anchors([i.device_id for i in todo])
            new: list[tuple[str, str | None]] = []
            changed: dict[str, bytes] = {}
            for instruction in todo:
                command = replacement_command(instruction, self.ecos_certificate)
                signature = sign_command(self.signer, command)
                code, now_ecos = self._replace_one(
                    instruction, anchors.get(instruction.device_id), signature, command
                )
                if now_ecos:
                    changed[instruction.device_id] = self.ecos_anchor
                new.append((instruction.attempt_id, code))
            self.state.set_anchors(changed)
            self.state.remember("REPLACE", new)
        known.update(new)
        return [StepResult(i.attempt_id, known[i.attempt_id]) for i in batch]

    def reconcile(self, batch: Sequence[Instruction]) -> list[StepResult]:
        """Reconcile records; a device that does not trust the ECoS key never reconciles."""
        self._enter("RECONCILE")
        with self.state.transaction():
            known = self.state.results("RECONCILE", [i.attempt_id for i in batch])
            todo = [i for i in batch if i.attempt_id not in known]
            anchors = self.state.anchors([i.device_id for i in todo])
            new: list[tuple[str, str | None]] = []
            for instruction in todo:
                mismatch = anchors.get(instruction.device_id) != self.ecos_anchor
                if not mismatch:
                    bound = self._thresholds_of(instruction.model).reconciliation_mismatch
                    mismatch = (
                        bound > 0.0
                        and self._draw(instruction.attempt_id, "|RECONCILE|fault") < bound
                    )
                new.append(
                    (instruction.attempt_id, "RECONCILIATION_MISMATCH" if mismatch else None)
                )
            self.state.remember("RECONCILE", new)
        known.update(new)
        return [StepResult(i.attempt_id, known[i.attempt_id]) for i in batch]

    def read(self, device_ids: Sequence[str]) -> Mapping[str, Credential]:
        """Read which certificate each device trusts."""
        self._enter("READ")
        anchors = self.state.anchors(device_ids)
        return {device_id: self.credential_of(anchors.get(device_id)) for device_id in device_ids}

    def credential_of(self, anchor: bytes | None) -> Credential:
        """Return the credential a trust anchor stands for."""
        if anchor == self.tcos_anchor:
            return Credential.TCOS
        if anchor == self.ecos_anchor:
            return Credential.ECOS
        return Credential.UNKNOWN


class SimulatedCrashError(RuntimeError):
    """Raised by a provider call that a test chose to interrupt, as a crash would."""
