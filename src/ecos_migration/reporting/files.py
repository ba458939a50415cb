"""Writing a report folder so that a crash never leaves a half-written report set in place."""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ecos_migration.errors import InputError

logger = logging.getLogger(__name__)

# A file in every report folder this product writes; only such a folder is ever replaced.
MARKER = ".ecos-migration-report"


def _check_replaceable(target: Path) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise InputError(f"{target} exists and is not a folder: choose another --out folder")
    if any(target.iterdir()) and not (target / MARKER).exists():
        raise InputError(
            f"{target} is not empty and was not written by ecos-migration: "
            "choose an empty or new --out folder"
        )


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield a staging folder beside ``target``; on success it replaces ``target`` by rename.

    On an error the staging folder is removed and ``target`` is left as it was. A rename
    within one file system is atomic, so readers see either the old report set or the new one.
    """
    _check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    )
    staging.chmod(0o755)
    try:
        yield staging
        (staging / MARKER).write_text("Written by ecos-migration; replaced on the next run.\n")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(target)
    logger.info("Wrote the report folder %s.", target, extra={"report_folder": str(target)})
