"""Hardened XML parsing for everything uploaded or deployed.

SpiffWorkflow parses with lxml's default parser; we parse first, with no DTD, no entity
resolution, no network and a size limit, and hand SpiffWorkflow the finished tree.
"""
from __future__ import annotations

import codecs

from lxml import etree

MAX_BYTES = 2 * 1024 * 1024


class UnsafeXml(Exception):
    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(message)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=True,
    )


def _declares_dtd(content: bytes) -> bool:
    text = content
    for bom, encoding in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                          (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if content.startswith(bom):
            text = content.decode(encoding, errors="replace").encode("utf-8")
            break
    return b"<!DOCTYPE" in text or b"<!ENTITY" in text


def parse(content: bytes) -> etree._Element:
    """Parse XML or raise UnsafeXml with a message for a person (and a line when known)."""
    if len(content) > MAX_BYTES:
        raise UnsafeXml(f"filen er større enn {MAX_BYTES // 1024} KiB")
    if _declares_dtd(content):
        # Entity tricks (XXE, billion laughs) all need a DOCTYPE; BPMN and DMN never do.
        raise UnsafeXml("filen inneholder en DOCTYPE/ENTITY-deklarasjon, som ikke er tillatt")
    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError as error:
        line = error.lineno if error.lineno else None
        raise UnsafeXml(f"ugyldig XML: {error.msg}", line=line) from None
    if root.getroottree().docinfo.doctype:
        raise UnsafeXml("filen inneholder en DOCTYPE, som ikke er tillatt")
    return root
