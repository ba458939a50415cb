"""Failure profiles of the simulated fleet, per Device Model, read from a scenario file.

A scenario is TOML. ``[default]`` gives the profile of every Device Model not listed; each
``[[model]]`` table names one Device Model (``TYPE/MANUFACTURER/MODEL/FIRMWARE``) and
overrides keys of the default. Every value is a probability from 0 to 1, drawn once per
attempt and step:

    instruction_rejected     the TCoS Service Provider rejects the instruction
    review_cos_in_flight     the review refuses because a change of supplier is in flight
    review_refused           the review refuses for another reason
    comms_failure            the device cannot be reached; nothing is sent
    command_rejected         the device rejects a correctly signed command (firmware defect)
    error_response           the device answers with an error and keeps its certificate
    lost_answer              the answer is lost; half of these commands reached the device
    reconciliation_mismatch  the ECoS and TCoS Service Providers' records disagree

The replacement faults (comms_failure, command_rejected, error_response, lost_answer) are
exclusive and drawn in that order, so together they may add up to at most 1.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ecos_migration.domain.device import DeviceModelKey
from ecos_migration.errors import ConfigurationError

# Strict: TOML's true and false are no probabilities. NaN and infinity are refused by name.
_Probability = Field(default=0.0, ge=0.0, le=1.0, strict=True, allow_inf_nan=False)


class FailureProfile(BaseModel):
    """The probability of each fault for the devices of one Device Model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instruction_rejected: float = _Probability
    review_cos_in_flight: float = _Probability
    review_refused: float = _Probability
    comms_failure: float = _Probability
    command_rejected: float = _Probability
    error_response: float = _Probability
    lost_answer: float = _Probability
    reconciliation_mismatch: float = _Probability

    @model_validator(mode="after")
    def _check_exclusive(self) -> FailureProfile:
        replace_faults = (
            self.comms_failure + self.command_rejected + self.error_response + self.lost_answer
        )
        if replace_faults > 1.0:
            raise ValueError(
                "comms_failure + command_rejected + error_response + lost_answer add up to "
                f"{replace_faults:.3f}; they are exclusive, so keep their sum at most 1"
            )
        if self.review_cos_in_flight + self.review_refused > 1.0:
            raise ValueError("review_cos_in_flight + review_refused must add up to at most 1")
        return self


class _ModelEntry(FailureProfile):
    model: str


class _ScenarioFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: dict[str, Any] = {}
    model: list[dict[str, Any]] = []


@dataclass(frozen=True)
class Scenario:
    """The failure profile of every Device Model, by its ``TYPE/MANUFACTURER/MODEL/FIRMWARE``."""

    default: FailureProfile = field(default_factory=FailureProfile)
    models: dict[str, FailureProfile] = field(default_factory=dict)

    def profile(self, model: str) -> FailureProfile:
        """Return the profile of ``model``, or the default one."""
        return self.models.get(model, self.default)


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}"
        for error in exc.errors()
    )


def parse_scenario(text: str, source: str) -> Scenario:
    """Parse and validate a scenario in TOML; ``source`` names it in errors."""
    try:
        raw = _ScenarioFile.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source}: invalid TOML: {exc}") from exc
    except ValidationError as exc:
        raise ConfigurationError(f"{source}: invalid scenario: {_problems(exc)}") from exc
    try:
        default = FailureProfile.model_validate(raw.default)
    except ValidationError as exc:
        raise ConfigurationError(f"{source}: invalid default profile: {_problems(exc)}") from exc
    models: dict[str, FailureProfile] = {}
    for index, entry in enumerate(raw.model, start=1):
        merged = {**raw.default, **entry}
        try:
            parsed = _ModelEntry.model_validate(merged)
            key = str(DeviceModelKey.parse(parsed.model))
        except ValidationError as exc:
            raise ConfigurationError(
                f"{source}: invalid model entry number {index}: {_problems(exc)}"
            ) from exc
        except ValueError as exc:
            raise ConfigurationError(f"{source}: model entry number {index}: {exc}") from exc
        if key in models:
            raise ConfigurationError(f"{source}: Device Model {key} is listed twice")
        models[key] = FailureProfile.model_validate(parsed.model_dump(exclude={"model"}))
    return Scenario(default=default, models=models)


def load_scenario(path: Path | None) -> tuple[Scenario, str]:
    """Load a scenario file; without one, no fault happens. Return it with its text."""
    if path is None:
        return Scenario(), ""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"scenario file {path} not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            f"scenario file {path} is not UTF-8 text (byte {exc.start}): "
            "write it as a TOML file in UTF-8"
        ) from None
    return parse_scenario(text, str(path)), text
