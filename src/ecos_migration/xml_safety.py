"""Detection of DOCTYPE and entity declarations in XML, which no DUIS message carries.

Entity declarations, and so XML external entity and entity expansion attacks, need a
DOCTYPE. The router and the DSPInventory reader reject any document that declares one,
so a hostile file is refused whatever the parser settings are.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_UTF16_DOCTYPE = ("<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be"))

UNSAFE_XML_MESSAGE = "declares a DOCTYPE or entities, which are not accepted"


def bytes_declare_dtd(data: bytes) -> bool:
    """Return whether ``data`` contains a DOCTYPE or ENTITY declaration.

    The scan reads ASCII-compatible encodings and the UTF-16 spelling of ``<!DOCTYPE``.
    It also matches those words inside a comment or CDATA section, which rejects a few
    harmless documents rather than let one declaration through.
    """
    return _DECLARATION.search(data) is not None or any(marker in data for marker in _UTF16_DOCTYPE)


def tree_declares_dtd(element: etree._Element) -> bool:
    """Return whether the document of a parsed ``element`` declares a DOCTYPE.

    This reads what the parser found, so it covers encodings that ``bytes_declare_dtd``
    does not read.
    """
    # lxml-stubs does not type DocInfo's doctype and internalDTD, so it is read untyped.
    docinfo: Any = element.getroottree().docinfo
    return bool(docinfo.doctype) or docinfo.internalDTD is not None
