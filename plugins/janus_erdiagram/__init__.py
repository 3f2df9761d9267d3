"""The built-in diagram reader: Mermaid erDiagram."""

from __future__ import annotations

import re

from janus_core import hookimpl
from janus_core.interfaces import DiagramReader


def _detect(text: str) -> bool:
    body = re.sub(r"^\s*---.*?\n---\s*\n", "", text, flags=re.S)
    lines = [ln.strip() for ln in body.splitlines() if ln.strip() and not ln.strip().startswith("%%")]
    return bool(lines) and lines[0].startswith("erDiagram")


def _read(text: str, path: str):
    from janus_core.mermaid import parse_erdiagram

    return parse_erdiagram(text, path)


@hookimpl
def register_diagram_readers(register):
    register(DiagramReader(name="erdiagram", suffixes=(".mermaid", ".mmd"), detect=_detect, read=_read,
                           description="Mermaid erDiagram: entities, attributes, relationships, %% details"))
