"""The DUIS XML schema: compiled once per process, with imports read from its own folder only."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

from lxml import etree

from ecos_migration.errors import ConfigurationError
from ecos_migration.routing.codes import RejectedRequestError, RouteReason
from ecos_migration.routing.environment import SCHEMA_VARIABLE

_XS = "{http://www.w3.org/2001/XMLSchema}"

logger = logging.getLogger(__name__)


class _LocalFolderResolver(etree.Resolver):
    """Resolve every URL the schema names (imports, DTDs) to a file of the schema's folder.

    Only the last path segment of a URL is used, so ``http://www.w3.org/2001/XMLSchema.dtd``
    is read from the folder too and nothing is fetched from the network.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    # The signature is lxml's; lxml-stubs 0.5 leaves out ``context`` and the helpers used below.
    def resolve(  # type: ignore[override]
        self, system_url: str | None, public_id: str | None, context: Any
    ) -> Any:
        resolver: Any = self
        name = Path(unquote(urlparse(system_url or "").path)).name
        candidate = self.folder / name
        if name and candidate.is_file():
            return resolver.resolve_filename(str(candidate), context)
        logger.warning(
            "The DUIS schema names %s, which is not in its folder; it is left empty.",
            system_url,
            extra={"url": system_url},
        )
        return resolver.resolve_string("", context)


@functools.lru_cache(maxsize=4)
def load_schema(path: Path) -> etree.XMLSchema:
    """Compile the DUIS XML schema at ``path`` once per process.

    Import locations contain spaces in the official files; they are percent-encoded here so
    libxml2 resolves them relative to the main file. Raises ``ConfigurationError`` if the
    schema cannot be read or compiled.
    """
    if not path.is_file():
        raise ConfigurationError(
            f"DUIS schema {path} not found: give the path of 'DUIS Schema V5.4.xsd' "
            f"with --schema or {SCHEMA_VARIABLE}"
        )
    parser = etree.XMLParser(no_network=True, load_dtd=True, resolve_entities=True)
    parser.resolvers.add(_LocalFolderResolver(path.parent))
    try:
        document = etree.fromstring(path.read_bytes(), parser, base_url=path.resolve().as_uri())
        for element in document.iter(f"{_XS}import", f"{_XS}include"):
            location = element.get("schemaLocation")
            if location:
                element.set("schemaLocation", quote(location))
        return etree.XMLSchema(document)
    except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise ConfigurationError(f"DUIS schema {path} does not compile: {exc}") from exc


def require_schema_path(path: Path | None) -> Path:
    """Return the configured schema path, or raise ``ConfigurationError`` saying how to set it."""
    if path is None:
        raise ConfigurationError(
            "no DUIS schema configured: give the path of the official DUIS XML schema "
            f"('DUIS Schema V5.4.xsd') with --schema or {SCHEMA_VARIABLE}"
        )
    return path


def validate(schema: etree.XMLSchema, root: etree._Element) -> None:
    """Raise ``RejectedRequestError`` with SCHEMA_INVALID unless ``root`` is valid."""
    if schema.validate(root):
        return
    error_log: Any = schema.error_log
    error = error_log.last_error
    where = f"line {error.line}: " if error is not None else ""
    message = error.message if error is not None else "invalid"
    raise RejectedRequestError(RouteReason.SCHEMA_INVALID, f"{where}{message}")
