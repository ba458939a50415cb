"""Configuration: the policies DCC may change without a release, validated when loaded.

The packaged ``data/default-config.toml`` documents every key. A file given with
``--config`` or ``ECOS_MIGRATION_CONFIG`` overrides keys of the default one by one.
"""

from __future__ import annotations

import os
import tomllib
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from ecos_migration.domain.device import DeviceType
from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.errors import ConfigurationError
from ecos_migration.limits import MAX_DAILY_CAPACITY

CONFIG_VARIABLE = "ECOS_MIGRATION_CONFIG"

# The hard limit on proving devices per Device Model across all proving steps.
MAX_PROVING_DEVICES = 300

# Incident categories, 1 most severe.
INCIDENT_CATEGORIES = frozenset(range(1, 6))

# Numbers are strict so that TOML booleans (a subclass of int in Python) and strings are
# rejected. StrictFloat still accepts integers, so ``success_rate = 1`` is valid.


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EligibilitySettings(_Section):
    in_scope_device_types: list[DeviceType]
    recently_commissioned_days: StrictInt = Field(ge=0)
    recent_change_of_supplier_days: StrictInt = Field(ge=0)

    def policy(self) -> EligibilityPolicy:
        """Return the eligibility policy these settings describe."""
        return EligibilityPolicy(
            in_scope_device_types=frozenset(self.in_scope_device_types),
            recently_commissioned_days=self.recently_commissioned_days,
            recent_change_of_supplier_days=self.recent_change_of_supplier_days,
        )


class PeriodExtension(_Section):
    new_end_date: date
    granted_by: str
    granted_on: date


class PeriodSettings(_Section):
    live_date: date
    end_date: date
    supplier_cutoff_days_before_end: StrictInt = Field(ge=0)
    hub_cutoff_days_after_live: StrictInt = Field(ge=0)
    extensions: list[PeriodExtension] = []

    @model_validator(mode="after")
    def _check_dates(self) -> PeriodSettings:
        if self.end_date <= self.live_date:
            raise ValueError(
                f"period.end_date {self.end_date} must be after period.live_date {self.live_date}"
            )
        end = self.end_date
        for index, extension in enumerate(self.extensions):
            key = f"period.extensions[{index}]"
            if extension.new_end_date <= end:
                raise ValueError(
                    f"{key}.new_end_date {extension.new_end_date} must be later than the "
                    f"period end in force before it, {end}"
                )
            if extension.granted_on > end:
                raise ValueError(
                    f"{key}.granted_on {extension.granted_on} is after the period end in "
                    f"force before it, {end}: an extension is granted before the period ends"
                )
            end = extension.new_end_date
        return self

    @property
    def effective_end_date(self) -> date:
        """The period end after the latest extension, if any."""
        if not self.extensions:
            return self.end_date
        return self.extensions[-1].new_end_date

    @property
    def supplier_cutoff_date(self) -> date:
        """The first day on which suppliers may no longer install TCoS devices."""
        return self.effective_end_date - timedelta(days=self.supplier_cutoff_days_before_end)

    @property
    def hub_cutoff_date(self) -> date:
        """The first day on which DCC may no longer deliver hubs whose GPF holds TCoS."""
        return self.live_date + timedelta(days=self.hub_cutoff_days_after_live)


class ProvingSettings(_Section):
    steps: list[StrictInt]
    success_rate: StrictFloat = Field(ge=0.0, le=1.0)

    @field_validator("steps")
    @classmethod
    def _check_steps(cls, steps: list[int]) -> list[int]:
        if not steps:
            raise ValueError("the proving plan needs at least one step")
        if any(size < 1 for size in steps):
            raise ValueError(f"every proving step needs at least 1 device, got {steps}")
        if sum(steps) > MAX_PROVING_DEVICES:
            raise ValueError(
                f"the proving steps {steps} add up to {sum(steps)} devices; "
                f"a Device Model may use at most {MAX_PROVING_DEVICES} proving devices"
            )
        return steps


class SuspensionSettings(_Section):
    failure_rate: StrictFloat = Field(ge=0.0, le=1.0)
    window_attempts: StrictInt = Field(ge=1)
    min_attempts: StrictInt = Field(ge=1)
    incident_category: StrictInt = Field(ge=1, le=5)
    proving_incident_category: StrictInt = Field(ge=1, le=5)

    @model_validator(mode="after")
    def _check_window(self) -> SuspensionSettings:
        if self.window_attempts < self.min_attempts:
            raise ValueError(
                f"suspension.window_attempts {self.window_attempts} is smaller than "
                f"suspension.min_attempts {self.min_attempts}: the window must hold at least "
                "the minimum number of attempts"
            )
        return self


class CapacitySettings(_Section):
    daily: StrictInt = Field(ge=1, le=MAX_DAILY_CAPACITY)


class IncidentSettings(_Section):
    # TOML keys are strings, so the keys are converted to int rather than strict.
    target_resolution_hours: dict[int, StrictFloat]

    @field_validator("target_resolution_hours")
    @classmethod
    def _check_categories(cls, hours: dict[int, float]) -> dict[int, float]:
        unknown = sorted(set(hours) - INCIDENT_CATEGORIES)
        if unknown:
            raise ValueError(f"incident categories {unknown} are not valid: categories are 1 to 5")
        missing = sorted(INCIDENT_CATEGORIES - set(hours))
        if missing:
            raise ValueError(f"target resolution hours are missing for categories {missing}")
        if any(value <= 0 for value in hours.values()):
            raise ValueError("every target resolution time must be more than 0 hours")
        return hours


class Settings(_Section):
    """Every policy of the product."""

    eligibility: EligibilitySettings
    period: PeriodSettings
    proving: ProvingSettings
    suspension: SuspensionSettings
    capacity: CapacitySettings
    incidents: IncidentSettings


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigurationError(f"configuration file {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: invalid TOML: {exc}") from exc


def default_config_text() -> str:
    """Return the packaged default configuration, comments included."""
    return resources.files("ecos_migration").joinpath("data/default-config.toml").read_text()


def _describe(error: ErrorDetails) -> str:
    key = ".".join(str(part) for part in error["loc"])
    value = error.get("input")
    # A section-level error has the whole section as its input, and its message names the
    # keys and values itself.
    if isinstance(value, dict | list | BaseModel):
        return f"{key}: {error['msg']}"
    return f"{key}: {error['msg']} (value {value!r})"


def load_settings(path: Path | None = None) -> Settings:
    """Load the default configuration, overridden by ``path`` or ``ECOS_MIGRATION_CONFIG``."""
    raw = tomllib.loads(default_config_text())
    chosen = path or (
        Path(os.environ[CONFIG_VARIABLE]) if os.environ.get(CONFIG_VARIABLE) else None
    )
    source = "the default configuration"
    if chosen is not None:
        raw = _merge(raw, _read_toml(chosen))
        source = str(chosen)
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise ConfigurationError(f"{source}: invalid configuration: {problems}") from exc
