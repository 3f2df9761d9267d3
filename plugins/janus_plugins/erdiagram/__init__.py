"""The built-in diagram reader: Mermaid erDiagram."""

from __future__ import annotations

from janus_core import hookimpl
from janus_core.sdk.contracts import DiagramReader


def _detect(text: str) -> bool:
    """Mermaid's own test: after front matter, directives and comments, the text starts with erDiagram."""
    from janus_plugins.erdiagram.lexer import prepare

    return prepare(text.removeprefix("\ufeff")).detected()


def _read(text: str, path: str):
    from janus_plugins.erdiagram.parser import parse_erdiagram

    return parse_erdiagram(text, path)


@hookimpl
def register_diagram_readers(register):
    register(DiagramReader(name="erdiagram", suffixes=(".mermaid", ".mmd"), detect=_detect, read=_read,
                           description="Mermaid erDiagram: entities, attributes, relationships, %% details"))
