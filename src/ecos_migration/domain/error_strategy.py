"""The error handling and retry strategy: error kinds as data, and the retry decision."""

from __future__ import annotations

import enum
import os
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ecos_migration.errors import ConfigurationError

ERROR_STRATEGY_VARIABLE = "ECOS_MIGRATION_ERROR_STRATEGY"


class Step(enum.StrEnum):
    """The four steps of migrating one device, in order."""

    INSTRUCT = "INSTRUCT"
    REVIEW = "REVIEW"
    REPLACE = "REPLACE"
    RECONCILE = "RECONCILE"


class Actor(enum.StrEnum):
    """The party that must act on an error."""

    DCC = "DCC"
    SUPPLIER = "SUPPLIER"
    TCOS_SERVICE_PROVIDER = "TCOS_SERVICE_PROVIDER"
    ECOS_SERVICE_PROVIDER = "ECOS_SERVICE_PROVIDER"


class ErrorKind(BaseModel):
    """One kind of error, with how it is retried and who must act."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    step: Step
    description: str = Field(min_length=1)
    retried: bool
    max_attempts: int = Field(ge=1)
    retry_wait_days: int = Field(ge=0)
    actor: Actor
    action: str = Field(min_length=1)


class _StrategyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error: list[ErrorKind]


@dataclass(frozen=True)
class RetryDecision:
    """The outcome of a failed attempt: another attempt from ``retry_on``, or a Failed Migration."""

    retry: bool
    retry_on: date | None

    @property
    def failed_migration(self) -> bool:
        """Whether the device's attempts have run out."""
        return not self.retry


@dataclass(frozen=True)
class ErrorStrategy:
    """Every error kind, by code."""

    kinds: dict[str, ErrorKind]

    def kind(self, code: str) -> ErrorKind:
        """Return the error kind with ``code``; an unlisted code is a configuration error."""
        try:
            return self.kinds[code]
        except KeyError:
            raise ConfigurationError(
                f"error code {code!r} is not in the error strategy: add an [[error]] entry for it"
            ) from None

    def decide(self, code: str, attempts_made: int, failed_on: date) -> RetryDecision:
        """Decide whether a device whose attempt number ``attempts_made`` failed with ``code``
        is attempted again, and from which day."""
        kind = self.kind(code)
        if not kind.retried or attempts_made >= kind.max_attempts:
            return RetryDecision(retry=False, retry_on=None)
        return RetryDecision(retry=True, retry_on=failed_on + timedelta(days=kind.retry_wait_days))


def default_error_strategy_text() -> str:
    """Return the packaged default error strategy, comments included."""
    return resources.files("ecos_migration").joinpath("data/error-strategy.toml").read_text()


def parse_error_strategy(text: str, source: str) -> ErrorStrategy:
    """Parse and validate an error strategy in TOML; ``source`` names it in errors."""
    try:
        raw = tomllib.loads(text)
        parsed = _StrategyFile.model_validate(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source}: invalid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigurationError(f"{source}: invalid error strategy: {problems}") from exc
    kinds: dict[str, ErrorKind] = {}
    for kind in parsed.error:
        if kind.code in kinds:
            raise ConfigurationError(f"{source}: error code {kind.code!r} is listed twice")
        kinds[kind.code] = kind
    return ErrorStrategy(kinds)


def load_error_strategy(path: Path | None = None) -> ErrorStrategy:
    """Load ``path``, else ``ECOS_MIGRATION_ERROR_STRATEGY``, else the packaged default."""
    chosen = path or (
        Path(os.environ[ERROR_STRATEGY_VARIABLE])
        if os.environ.get(ERROR_STRATEGY_VARIABLE)
        else None
    )
    if chosen is None:
        return parse_error_strategy(default_error_strategy_text(), "the default error strategy")
    try:
        text = chosen.read_text()
    except FileNotFoundError:
        raise ConfigurationError(f"error strategy file {chosen} not found") from None
    return parse_error_strategy(text, str(chosen))
