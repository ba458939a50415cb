"""Environment variables of the routing commands and service, and the default request limit.

This module imports nothing, so the command line can name them in its options without
loading lxml and cryptography.
"""

from __future__ import annotations

SCHEMA_VARIABLE = "ECOS_MIGRATION_DUIS_SCHEMA"
TRUST_STORE_VARIABLE = "ECOS_MIGRATION_TRUST_STORE"
PARTIES_VARIABLE = "ECOS_MIGRATION_PARTIES"
# Overrides the largest request the service accepts, in bytes.
MAX_REQUEST_BYTES_VARIABLE = "ECOS_MIGRATION_MAX_REQUEST_BYTES"
# Largest request accepted by default, in bytes; larger ones are rejected as MALFORMED_XML.
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
